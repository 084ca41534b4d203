/**
 * The generated CLI reference (docs/cli.md): it documents every command the program has, each from the
 * same spec its flags are built from, and the committed file is what `npm run docs:cli` writes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { COMMAND_SPECS, programCommands, renderCliReference } from "./docs.js";
import { buildProgram } from "./main.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** A command's name below the program, e.g. `trailblazer replay run`. */
function pathOf(cmd: ReturnType<typeof programCommands>[number]): string {
  const names: string[] = [];
  for (let c: typeof cmd | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

describe("docs/cli.md", () => {
  test("is what the generator writes (option tables and the exit-code table)", () => {
    const committed = readFileSync(join(REPO, "docs", "cli.md"), "utf8");
    assert.equal(committed, renderCliReference(), "run npm run docs:cli");
    for (const code of [0, 1, 2, 3, 4, 5, 70]) assert.match(committed, new RegExp(`^\\| ${code} +\\| `, "m"));
  });

  test("npm run docs:cli's script writes exactly the committed file", () => {
    const dir = mkdtempSync(join(tmpdir(), "firstcall-docs-"));
    try {
      const out = join(dir, "cli.md");
      execFileSync(process.execPath, ["--import", "tsx", join(REPO, "scripts", "gen-cli-docs.ts"), out], {
        cwd: REPO,
        stdio: ["ignore", "ignore", "pipe"],
      });
      assert.equal(
        readFileSync(out, "utf8"),
        readFileSync(join(REPO, "docs", "cli.md"), "utf8"),
        "run npm run docs:cli",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("documents every command of the program, and no command that is gone", () => {
    const committed = readFileSync(join(REPO, "docs", "cli.md"), "utf8");
    const commands = programCommands(buildProgram());
    assert.ok(commands.length >= 10, "scan, simulate, eval, trailblazer and its subcommands");
    for (const cmd of commands) {
      assert.match(committed, new RegExp(`^## firstcall ${pathOf(cmd)}( |$)`, "m"), pathOf(cmd));
    }
    const leaves = new Set(commands.filter((c) => c.commands.length === 0).map(pathOf));
    assert.deepEqual(COMMAND_SPECS.map((s) => s.name).sort(), [...leaves].sort());
  });

  test("each command's flags are the ones its spec documents (hidden ones included)", () => {
    for (const cmd of programCommands(buildProgram()).filter((c) => c.commands.length === 0)) {
      const spec = COMMAND_SPECS.find((s) => s.name === pathOf(cmd));
      assert.ok(spec, pathOf(cmd));
      assert.deepEqual(
        cmd.options.map((o) => o.flags),
        spec.options.map((o) => o.flags),
        pathOf(cmd),
      );
      const documented = spec.options.filter((o) => !o.hidden).map((o) => o.flags);
      const section = renderCliReference().split(`## firstcall ${spec.name}`)[1]?.split("\n## ")[0] ?? "";
      for (const flags of documented) assert.ok(section.includes(`\`${flags}\``), `${spec.name}: ${flags}`);
      for (const hidden of spec.options.filter((o) => o.hidden)) {
        assert.ok(!section.includes(`\`${hidden.flags}\``), `${spec.name}: ${hidden.flags} is hidden`);
      }
    }
  });
});
