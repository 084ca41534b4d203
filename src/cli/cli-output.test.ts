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

describe("errors are short", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown option", ["scan", SAMPLE, "--no-such-option"], /unknown option '--no-such-option'/],
    ["a value outside the choices", ["scan", SAMPLE, "--format", "yaml"], /argument 'yaml' is invalid/],
    ["a missing argument", ["scan"], /missing required argument 'path'/],
    ["a bad number", ["scan", SAMPLE, "--state", ":memory:", "--jobs", "many"], /--jobs: not a non-negative number/],
    ["an unknown command", ["scna", SAMPLE], /unknown command 'scna'/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what}: exit 2, the message and a pointer to --help, at most 3 lines, no help text`, () => {
      const r = firstcall(args);
      assert.equal(r.status, EXIT.usage, r.stderr);
      const lines = r.stderr.trimEnd().split("\n");
      assert.ok(lines.length <= 3, `at most 3 lines, got:\n${r.stderr}`);
      assert.match(lines[0] ?? "", /^firstcall: /);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /see 'firstcall( scan)? --help'/);
      assert.ok(!/Options:|Usage:/.test(r.stderr), "not the whole help");
      assert.equal(r.stdout, "");
    });
  }
});

describe("diagnostic logs", () => {
  test("--log-level debug writes JSON lines on stderr; stdout (the findings) is unchanged", () => {
    const args = ["scan", SAMPLE, "--state", ":memory:", "--format", "jsonl", "-q"];
    const plain = firstcall(args);
    const logged = firstcall([...args, "--log-level", "debug"]);
    assert.equal(logged.status, plain.status);
    assert.equal(plain.stderr, "", "silent by default");
    assert.equal(logged.stdout, plain.stdout);
    const lines = logged.stderr.trimEnd().split("\n");
    const entries = lines.map((l) => JSON.parse(l) as { level: number; msg: string; time: string });
    const messages = entries.map((e) => e.msg);
    for (const m of ["command started", "state opened", "inputs listed", "checkpoint committed"])
      assert.ok(messages.includes(m), `logs "${m}": ${messages.join(", ")}`);
    assert.ok(entries.every((e) => e.level >= 20 && typeof e.time === "string"));
    const checkpoint = entries.find((e) => e.msg === "checkpoint committed") as unknown as Record<string, unknown>;
    for (const k of ["objects", "findings", "events", "ms"]) assert.equal(typeof checkpoint[k], "number", k);
  });

  test("--debug before the command is the same as --log-level debug; an error is logged with its stack", () => {
    const r = firstcall(["--debug", "scan", SAMPLE, "--state", ":memory:", "--jobs", "many"]);
    assert.equal(r.status, EXIT.usage);
    const entries = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; err?: { stack?: string } });
    const failed = entries.find((e) => e.msg === "command failed");
    assert.match(failed?.err?.stack ?? "", /UsageError: --jobs/);
    assert.match(r.stderr, /^firstcall: --jobs: not a non-negative number: many$/m, "the message is still printed");
  });
});
