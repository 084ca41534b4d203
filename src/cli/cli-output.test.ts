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
import { EXIT } from "../exit-codes.js";
import { CLI_MAIN, type CliRun, REPO, runCli } from "../test-helpers/cli.js";

const TESTDATA = join(REPO, "testdata");
const SAMPLE = join(TESTDATA, "sample");
const HANG_GUARD_MS = 120_000;

const root = mkdtempSync(join(tmpdir(), "firstcall-cli-output-"));
after(() => rmSync(root, { recursive: true, force: true }));

function firstcall(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  return runCli(args, { env, timeoutMs: HANG_GUARD_MS });
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

/** Runs the CLI with stdout and stderr on a terminal (a pseudo-terminal from util-linux `script`). */
function onTerminal(args: readonly string[]): CliRun | undefined {
  const which = spawnSync("sh", ["-c", "command -v script"], { encoding: "utf8" });
  if (which.status !== 0) return undefined;
  const quoted = [process.execPath, "--import", "tsx", CLI_MAIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  const r = spawnSync("script", ["-qec", `${quoted.join(" ")} >/dev/null`, "/dev/null"], {
    cwd: REPO,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FIRSTCALL_DEBUG: "" },
    timeout: HANG_GUARD_MS,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

describe("progress", () => {
  // Without -q, which also turns the default progress off (it asks for a quiet stderr).
  const args = ["scan", SAMPLE, "--state", ":memory:", "--format", "jsonl", "--fail-on", "none"];

  test("on a terminal by default: objects, events/s and ETA on stderr", (t) => {
    const r = onTerminal(args);
    if (!r) return t.skip("util-linux script is not installed: no pseudo-terminal");
    assert.equal(r.status, EXIT.ok, r.stdout);
    assert.match(r.stdout, /scan \[.*\] \d+\/67 objects \| \d+ events\/s \| \d+ findings \| ETA/);
  });

  test("--no-progress on a terminal: none", (t) => {
    const r = onTerminal([...args, "--no-progress"]);
    if (!r) return t.skip("util-linux script is not installed: no pseudo-terminal");
    assert.equal(r.status, EXIT.ok, r.stdout);
    assert.ok(!/objects \|/.test(r.stdout), r.stdout);
  });

  test("never on a pipe, unless asked with --progress", () => {
    const piped = firstcall(args);
    assert.ok(!/objects \|/.test(piped.stderr), piped.stderr);
    assert.match(piped.stderr, /^files: /m, "the summary is there");
    const asked = firstcall([...args, "--progress"]);
    assert.match(asked.stderr, /\d+\/67 objects/);
  });
});

describe("one output vocabulary", () => {
  const scan = ["scan", SAMPLE, "--state", ":memory:", "-q"];
  const severities = (jsonl: string) =>
    jsonl
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { severity: string }).severity);

  test("scan --format json is one array holding what jsonl prints line by line", () => {
    const json = firstcall([...scan, "--format", "json"]);
    const jsonl = firstcall([...scan, "--format", "jsonl"]);
    assert.equal(json.status, EXIT.findings, json.stderr);
    const array = JSON.parse(json.stdout) as { id: string }[];
    const lines = jsonl.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string });
    assert.deepEqual(array, lines);
  });

  test("the old -f spelling still works", () => {
    assert.equal(firstcall([...scan, "-f", "jsonl"]).stdout, firstcall([...scan, "--format", "jsonl"]).stdout);
  });

  test("--format json cannot be appended to --output: a usage error pointing to jsonl", () => {
    const r = firstcall([...scan, "--format", "json", "--output", join(root, "never.json")]);
    assert.equal(r.status, EXIT.usage);
    assert.match(r.stderr, /use --format jsonl/);
  });

  test("every command names the formats it can produce when given another", () => {
    for (const [args, valid] of [
      [["eval", "--truth", "t.jsonl", "f.jsonl", "--format", "jsonl"], "text, json"],
      [["simulate", "--out", join(root, "sim"), "--format", "jsonl"], "text, json"],
      [["trailblazer", "catalog", "--format", "jsonl"], "text, json"],
      [["trailblazer", "map", "run.jsonl", "logs", "--format", "jsonl"], "text, json"],
      [["explain", "0123456789ab", "--format", "jsonl"], "text, json"],
      [["scan", SAMPLE, "--format", "yaml"], "text, json, jsonl, ocsf, asff, csv, html"],
    ] as const) {
      const r = firstcall(args);
      assert.equal(r.status, EXIT.usage, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`Allowed choices are ${valid}\\.`), args.join(" "));
    }
  });

  test("simulate --format json prints what was written as one object", () => {
    const out = join(root, "sim-json");
    const r = firstcall([
      "simulate",
      "--out",
      out,
      "--instances",
      "1",
      "--hours",
      "1",
      "--accounts",
      "1",
      "--regions",
      "1",
      "--attacks",
      "none",
      "-q",
      "--format",
      "json",
    ]);
    assert.equal(r.status, EXIT.ok, r.stderr);
    const report = JSON.parse(r.stdout) as { outDir: string; events: number; incidents: number };
    assert.ok(report.events > 0);
    assert.equal(report.incidents, 0);
    assert.match(report.outDir, /sim-json$/);
  });

  test("trailblazer catalog --format json (and the old --json) print the catalog as JSON", () => {
    const r = firstcall(["trailblazer", "catalog", "--services", "sts", "--format", "json"]);
    assert.equal(r.status, EXIT.ok, r.stderr);
    assert.deepEqual(Object.keys((JSON.parse(r.stdout) as { services: object }).services), ["sts"]);
    assert.equal(firstcall(["trailblazer", "catalog", "--services", "sts", "--json"]).stdout, r.stdout);
  });

  test("--min-severity filters what is printed; the exit code considers only what is printed", () => {
    const all = firstcall([...scan, "--format", "jsonl"]);
    assert.deepEqual(new Set(severities(all.stdout)), new Set(["high", "medium", "low"]));
    const high = firstcall([...scan, "--format", "jsonl", "--min-severity", "high"]);
    assert.equal(high.status, EXIT.findings);
    assert.deepEqual(new Set(severities(high.stdout)), new Set(["high"]));
    // --fail-on low with only medium and above printed: fails on what is printed (medium, high).
    const medium = firstcall([...scan, "--format", "jsonl", "--min-severity", "medium", "--fail-on", "low"]);
    assert.equal(medium.status, EXIT.findings);
    assert.ok(!severities(medium.stdout).includes("low"));
    // Only the low IMDSv1 finding would fail the run, and it is not printed: exit 0.
    const lowOnly = firstcall([
      "scan",
      join(TESTDATA, "stratus-red-team"),
      "--state",
      ":memory:",
      "-q",
      "--format",
      "jsonl",
      "--fail-on",
      "low",
      "--min-severity",
      "high",
    ]);
    assert.equal(lowOnly.status, EXIT.findings, "the high foreign-agent finding is printed");
    const none = firstcall([...scan, "--min-severity", "high", "--fail-on", "none"]);
    assert.equal(none.status, EXIT.ok);
  });
});

describe("readable text output and explain", () => {
  test("rows sorted by severity then time, with account and region columns", () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "-q"]);
    const lines = r.stdout.split("\n");
    assert.match(lines[0] ?? "", /^SEV +FIRST SEEN +ACCOUNT +REGION +RULE +CREDENTIAL +SOURCE IP/);
    const rows = lines.slice(1, lines.indexOf(""));
    const rank: Record<string, number> = { HIGH: 3, MED: 2, LOW: 1, INFO: 0 };
    const keys = rows.map((row) => {
      const [sev, time, account, region] = row.split(/ +/);
      assert.equal(account, "111122223333");
      assert.equal(region, "us-east-1");
      return [rank[sev ?? ""] ?? -1, time ?? ""] as const;
    });
    const sorted = [...keys].sort((a, b) => b[0] - a[0] || a[1].localeCompare(b[1]));
    assert.deepEqual(keys, sorted);
    assert.ok(rows.length >= 4);
  });

  test("explain prints the home, the offending calls and what was looked for; json too; unknown id is a usage error", () => {
    const state = join(root, "explain.sqlite");
    const scan = firstcall(["scan", SAMPLE, "--state", state, "-q", "--format", "jsonl"]);
    const mismatch = scan.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; rule: string; evidence: { eventIds: string[] } })
      .find((f) => f.rule === "credential-ip-mismatch");
    assert.ok(mismatch, scan.stderr);
    const r = firstcall(["explain", mismatch.id.slice(0, 12), "--state", state]);
    assert.equal(r.status, EXIT.ok, r.stderr);
    assert.match(r.stdout, new RegExp(`^finding ${mismatch.id}: HIGH credential-ip-mismatch`));
    assert.match(r.stdout, /^ {2}3\.91\.200\.7, bound at 2026-11-01T\d\d:\d\d:\d\dZ by \S+ \(event /m);
    assert.match(r.stdout, /^offending calls from 185\.220\.101\.42/m);
    for (const id of mismatch.evidence.eventIds) assert.ok(r.stdout.includes(id), id);
    assert.match(r.stdout, /^looked for and not found\n {2}- an address change of instance i-0a1b2c3d4e5f60003/m);
    assert.match(r.stdout, /- the other IP family: 185\.220\.101\.42 is IPv4 like the home 3\.91\.200\.7/);
    const json = firstcall(["explain", mismatch.id, "--state", state, "--format", "json"]);
    const parsed = JSON.parse(json.stdout) as { home: { address: string }; finding: { id: string } };
    assert.equal(parsed.finding.id, mismatch.id);
    assert.equal(parsed.home.address, "3.91.200.7");
    const unknown = firstcall(["explain", "ffffffffffff", "--state", state]);
    assert.equal(unknown.status, EXIT.usage);
    assert.match(unknown.stderr, /no finding ffffffffffff in the state/);
    const noState = firstcall(["explain", "ffffffffffff", "--state", join(root, "absent.sqlite")]);
    assert.equal(noState.status, EXIT.state);
  });
});
