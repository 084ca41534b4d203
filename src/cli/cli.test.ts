/**
 * The CLI as a scheduler sees it: one process per case (`node --import tsx src/cli/main.ts …`), its
 * exit code, stdout and stderr. Each exit code of the table is produced here except 70 (internal
 * error), which no input should be able to trigger; its mapping is tested in failure.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { EXIT } from "../exit-codes.js";
import { SqliteStore } from "../state/sqlite.js";
import { CLI_MAIN, type CliRun, REPO, runCli } from "../test-helpers/cli.js";
import { ALL_ATTACKS, terminalHazards } from "../test-helpers/terminal.js";

const SAMPLE = join(REPO, "testdata", "sample");
/** The attack strings, less NUL: a command-line argument cannot hold one. */
const ARGV_ATTACKS = ALL_ATTACKS.replaceAll("\0", "");
/** Kills a run that hangs (a regression that reads a FIFO); a safety net, not a speed check. */
const HANG_GUARD_MS = 120_000;

const root = mkdtempSync(join(tmpdir(), "firstcall-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));

function firstcall(args: readonly string[], options: { stdout?: number; env?: NodeJS.ProcessEnv } = {}): CliRun {
  return runCli(args, { ...options, timeoutMs: HANG_GUARD_MS });
}

/** A FIFO with no writer: reading it would block, so a run that returns never read it. */
function fifo(name: string): string {
  const path = join(root, name);
  execFileSync("mkfifo", [path]);
  return path;
}

function assertOneLine(stderr: string): void {
  assert.equal(stderr.split("\n").length, 2, `one line on stderr, got: ${JSON.stringify(stderr)}`);
  assert.ok(!/^\s+at /m.test(stderr), "no stack trace");
}

describe("exit codes at the command line", () => {
  test("0: no finding at or above --fail-on, everything read", () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "--fail-on", "none", "-q"]);
    assert.equal(r.status, EXIT.ok, r.stderr);
    assert.match(r.stdout, /credential-ip-mismatch/);
  });

  test("1: a finding at or above --fail-on", () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "-q", "--format", "jsonl"]);
    assert.equal(r.status, EXIT.findings, r.stderr);
    assert.ok(r.stdout.split("\n").filter(Boolean).length >= 1);
  });

  test("2: a bad CIDR in allow.cidrs stops the run before any log or state is touched", () => {
    const config = join(root, "bad-cidr.yaml");
    writeFileSync(config, 'allow:\n  cidrs: ["198.51.100.7/32", "10.0.0.0/33"]\n');
    const state = join(root, "never-created", "state.sqlite");
    const r = firstcall(["scan", fifo("logs-bad-cidr.json"), "--config", config, "--state", state]);
    assert.equal(r.status, EXIT.usage, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /allow\.cidrs\[1\]: not an IP address or CIDR: "10\.0\.0\.0\/33"/);
    assert.ok(!existsSync(state), "the state file was not created");
  });

  test("2: a bad --ip-ranges file stops the run before any log or state is touched", () => {
    const ranges = join(root, "ip-ranges.json");
    writeFileSync(
      ranges,
      JSON.stringify({ prefixes: [{ ip_prefix: "3.0.0.0/99", region: "us-east-1", service: "EC2" }] }),
    );
    const state = join(root, "never-created-2", "state.sqlite");
    const r = firstcall(["scan", fifo("logs-bad-ranges.json"), "--ip-ranges", ranges, "--state", state]);
    assert.equal(r.status, EXIT.usage, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /ip-ranges\.json: not an IP address or CIDR: "3\.0\.0\.0\/99"/);
    assert.ok(!existsSync(state));
  });

  test("2: an unknown option, echoed back escaped", () => {
    const r = firstcall(["scan", SAMPLE, `--x${ARGV_ATTACKS}`]);
    assert.equal(r.status, EXIT.usage);
    assert.match(r.stderr, /unknown option/);
    assert.deepEqual(terminalHazards(r.stderr, { allowLineFeed: true }), []);
  });

  test("3: some input unreadable, no failing finding", () => {
    const dir = join(root, "unreadable");
    mkdirSync(dir);
    writeFileSync(join(dir, "cut.json"), '{"Records": [{"eventTime": "2026-');
    const r = firstcall(["scan", dir, "--state", ":memory:"]);
    assert.equal(r.status, EXIT.input, r.stderr);
    assert.match(r.stderr, /error \[E_JSON\]/);
  });

  test("4: the state file is not a SQLite database", () => {
    const state = join(root, "text.sqlite");
    writeFileSync(state, "this is a text file, not a state file\n".repeat(200));
    const r = firstcall(["scan", SAMPLE, "--state", state, "-q"]);
    assert.equal(r.status, EXIT.state, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /text\.sqlite: cannot use as a state file/);
  });

  test("4: a state file written by a newer firstcall", () => {
    const state = join(root, "newer.sqlite");
    SqliteStore.open(state).close();
    const db = new Database(state);
    db.pragma("user_version = 99");
    db.close();
    const r = firstcall(["scan", SAMPLE, "--state", state, "-q"]);
    assert.equal(r.status, EXIT.state, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /state schema 99.*newer firstcall/);
  });

  test("4: a state file damaged inside (SQLITE_CORRUPT in the middle of the scan), one line, no stack", async () => {
    const state = join(root, "corrupt.sqlite");
    await SqliteStore.open(state).close();
    const db = new Database(state);
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const pages = (
      db.prepare("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'objects'").all() as { rootpage: number }[]
    ).map((p) => p.rootpage);
    db.close();
    assert.ok(pages.length > 0 && !existsSync(`${state}-wal`), "the state is checkpointed into one file");
    const fd = openSync(state, "r+");
    for (const page of pages) writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
    closeSync(fd);
    const r = firstcall(["scan", SAMPLE, "--state", state, "-q"]);
    assert.equal(r.status, EXIT.state, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /malformed/);
    assert.ok(!r.stderr.includes("SqliteError:"), "not a raw error dump");
  });

  test("5: standard output on a full disk (/dev/full)", (t) => {
    if (!existsSync("/dev/full")) {
      t.diagnostic("no /dev/full on this system: the disk-full case was skipped");
      return;
    }
    const full = openSync("/dev/full", "w");
    try {
      const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "-q"], { stdout: full });
      assert.equal(r.status, EXIT.output, r.stderr);
      assertOneLine(r.stderr);
      assert.match(r.stderr, /^firstcall: cannot write standard output: ENOSPC/);
    } finally {
      closeSync(full);
    }
  });

  test("5: standard output is a pipe whose reader has gone (EPIPE), no crash, no stack", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, "scan", SAMPLE, "--state", ":memory:", "-q"], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FIRSTCALL_DEBUG: "" },
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const guard = setTimeout(() => child.kill(), HANG_GUARD_MS);
    const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    clearTimeout(guard);
    assert.equal(status, EXIT.output, stderr);
    assertOneLine(stderr);
    assert.match(stderr, /^firstcall: cannot write standard output: EPIPE/);
  });
});

describe("stderr is escaped", () => {
  test("an error message naming a hostile path has no raw control character and forges no line", () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "--config", join(root, `cfg${ARGV_ATTACKS}.yaml`)]);
    assert.equal(r.status, EXIT.usage);
    assertOneLine(r.stderr);
    assert.deepEqual(terminalHazards(r.stderr, { allowLineFeed: true }), []);
    assert.match(r.stderr, /cannot read configuration/);
  });
});
