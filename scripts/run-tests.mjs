#!/usr/bin/env node
// Node 20's `--test` takes no globs, so collect the test files here and hand them over explicitly.
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: src test)
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const roots = process.argv.slice(2);
const files = [];
function walk(path) {
  if (!existsSync(path)) return;
  if (statSync(path).isFile()) {
    files.push(path);
    return;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const child = join(path, name);
    if (statSync(child).isDirectory()) walk(child);
    else if (/\.test\.ts$/.test(name)) files.push(child);
  }
}
for (const root of roots.length ? roots : ["src", "test"]) walk(root);
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", ...files], {
  stdio: "inherit",
});
// Tests on the larger shared data sets run only when they sit beside the checkout (as in CI); say
// so plainly at the end, where it is seen, rather than leave a SKIP line somewhere in the output.
const sharedDatasets = resolve(fileURLToPath(new URL("..", import.meta.url)), "..", "shared", "datasets");
const usingShared = files.filter((f) => /shared\W+datasets/.test(readFileSync(f, "utf8")));
if (!existsSync(sharedDatasets) && usingShared.length > 0) {
  console.error(
    `run-tests: NOTE: ${sharedDatasets} is absent, so the shared data-set tests were skipped (in ${usingShared.join(", ")}); put the data sets there to run them.`,
  );
}
process.exit(result.status ?? 1);
