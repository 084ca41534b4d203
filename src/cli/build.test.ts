/**
 * What `npm run build` puts in dist/: the program, not the tests' helpers. tsconfig.build.json excludes
 * tests and src/test-helpers/, but tsc still compiles an excluded file that a built file imports, so
 * the check is that no built file imports one.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const isTestOnly = (path: string): boolean =>
  path.endsWith(".test.ts") || relative(SRC, path).startsWith(`test-helpers/`);

describe("the build", () => {
  test("tsconfig.build.json leaves out tests and src/test-helpers/", () => {
    const config = JSON.parse(readFileSync(join(SRC, "..", "tsconfig.build.json"), "utf8")) as { exclude: string[] };
    assert.ok(config.exclude.includes("src/**/*.test.ts"));
    assert.ok(config.exclude.includes("src/test-helpers/**"));
  });

  test("no built source file imports a test or a test helper (tsc would compile it into dist/)", () => {
    const built = sourceFiles(SRC).filter((path) => !isTestOnly(path));
    assert.ok(built.length > 50, "found the sources");
    const offenders = built.filter((path) =>
      /\b(?:from|import)\s*\(?\s*["'][^"']*(?:test-helpers\/|\.test\.js["'])/.test(readFileSync(path, "utf8")),
    );
    assert.deepEqual(
      offenders.map((path) => relative(SRC, path)),
      [],
    );
  });
});
