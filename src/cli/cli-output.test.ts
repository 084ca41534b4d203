/**
 * What the CLI prints and how it exits, as a user at a terminal or a script sees it: one output
 * vocabulary (`--format`, `--min-severity`), short usage errors, diagnostic logs on stderr, progress
 * on a terminal only, readable text, `explain`, and the exit code of the real theft captures.
 * One process per case (`node --import tsx src/cli/main.ts …`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { EXIT } from "../exit-codes.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const TESTDATA = join(REPO, "testdata");
const SAMPLE = join(TESTDATA, "sample");
const HANG_GUARD_MS = 120_000;

const root = mkdtempSync(join(tmpdir(), "firstcall-cli-output-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function firstcall(args: readonly string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: REPO,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FIRSTCALL_DEBUG: "", ...env },
    timeout: HANG_GUARD_MS,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

describe("findings that matter exit non-zero", () => {
  for (const capture of ["stratus-red-team", "otrf"]) {
    test(`the real theft capture testdata/${capture} exits 1 with the default --fail-on`, () => {
      const r = firstcall(["scan", join(TESTDATA, capture), "--state", ":memory:", "-q"]);
      assert.equal(r.status, EXIT.findings, r.stderr);
      assert.match(r.stdout, /^HIGH .*instance-credential-foreign-agent/m);
    });
  }
});
