/**
 * `scan` as a newcomer meets it, one process per run: time windows whatever the machine's zone,
 * folders with nothing to scan, missing paths, `--all`'s exit code, and what the state does between
 * runs (files skipped as already scanned, other settings, a state path that cannot be created).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EXIT } from "../exit-codes.js";
import { type CliRun, REPO, runCli } from "../test-helpers/cli.js";

const SAMPLE = join(REPO, "testdata", "sample");
/** The sample's theft: four findings, the laptop's calls from 03:10 UTC. */
const SAMPLE_FINDINGS = 4;
/** Kills a run that hangs (the state-folder spin this file guards against); a safety net, not a speed check. */
const HANG_GUARD_MS = 90_000;

const root = mkdtempSync(join(tmpdir(), "firstcall-scan-input-"));
after(() => rmSync(root, { recursive: true, force: true }));

function firstcall(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  return runCli(args, {
    env: { FIRSTCALL_STATE: join(root, "unused-default.sqlite"), ...env },
    timeoutMs: HANG_GUARD_MS,
  });
}

const lines = (text: string) => text.split("\n").filter(Boolean);

function folder(name: string): string {
  const path = join(root, name);
  mkdirSync(path, { recursive: true });
  return path;
}

describe("--since / --until", () => {
  test("a time without a zone is UTC: the same findings with TZ=America/New_York as with TZ=UTC", () => {
    const args = ["scan", SAMPLE, "--state", ":memory:", "-q", "--format", "jsonl", "--since", "2026-11-01 03:00"];
    const utc = firstcall(args, { TZ: "UTC" });
    const newYork = firstcall(args, { TZ: "America/New_York" });
    assert.equal(utc.status, EXIT.findings, utc.stderr);
    assert.equal(lines(utc.stdout).length, SAMPLE_FINDINGS);
    assert.equal(newYork.status, EXIT.findings, newYork.stderr);
    assert.equal(newYork.stdout, utc.stdout);
  });

  test("a date is midnight UTC; a window after the theft has no finding", () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "-q", "--format", "jsonl", "--since", "2026-11-02"], {
      TZ: "Asia/Tokyo",
    });
    assert.equal(r.status, EXIT.ok, r.stderr);
    assert.equal(r.stdout, "");
  });

  test('free text ("Jan 1 2024") is a usage error naming the flag and the accepted forms', () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "--since", "Jan 1 2024"]);
    assert.equal(r.status, EXIT.usage, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /--since: not a time: "Jan 1 2024"; use an ISO-8601 time .*without a zone it is UTC/);
  });

  test("an inverted window is a usage error", () => {
    const r = firstcall(["scan", SAMPLE, "--state", ":memory:", "--since", "2026-11-02", "--until", "2026-11-01"]);
    assert.equal(r.status, EXIT.usage, r.stderr);
    assert.match(r.stderr, /--since 2026-11-02T00:00:00\.000Z is not before --until 2026-11-01T00:00:00\.000Z/);
  });

  test("--help says a time without a zone is UTC and shows the state file in use and FIRSTCALL_STATE", () => {
    const state = join(root, "from-env", "state.sqlite");
    const r = firstcall(["scan", "--help"], { FIRSTCALL_STATE: state });
    assert.equal(r.status, EXIT.ok, r.stderr);
    assert.match(r.stdout, /without a zone it is UTC/);
    assert.ok(r.stdout.includes(`State file in use without --state: ${state} (from FIRSTCALL_STATE)`), r.stdout);
  });
});

describe("nothing scanned is not 'no findings'", () => {
  test("an empty folder: one line saying so, nothing on stdout, exit 3", () => {
    const empty = folder("empty");
    const r = firstcall(["scan", empty, "--state", ":memory:"]);
    assert.equal(r.status, EXIT.input, r.stderr);
    assert.equal(r.stdout, "", "no 'No findings.'");
    assert.deepEqual(lines(r.stderr), [
      `firstcall: ${empty}: no CloudTrail log found: the folder is empty; nothing was scanned`,
    ]);
  });

  test("a folder with no CloudTrail (docs/): says why, exit 3", () => {
    const r = firstcall(["scan", "docs/", "--state", ":memory:"]);
    assert.equal(r.status, EXIT.input, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^firstcall: docs\/: no CloudTrail log found: \d+ files ignored, not named like log files .*; nothing was scanned\n$/,
    );
  });

  test("a folder of JSON that is not CloudTrail: says so, exit 3", () => {
    const other = folder("other-json");
    writeFileSync(join(other, "package.json"), JSON.stringify({ name: "x", version: "1.0.0" }));
    const r = firstcall(["scan", other, "--state", ":memory:"]);
    assert.equal(r.status, EXIT.input, r.stderr);
    assert.equal(r.stdout, "");
    assert.deepEqual(lines(r.stderr), [
      `firstcall: ${other}: no CloudTrail log found: 1 file is not CloudTrail; nothing was scanned`,
    ]);
  });

  test("several paths, one without logs: it is named in a warning, the exit code is the findings'", () => {
    const empty = folder("empty-beside-sample");
    const r = firstcall(["scan", SAMPLE, empty, "--state", ":memory:", "--format", "jsonl"]);
    assert.equal(r.status, EXIT.findings, r.stderr);
    assert.equal(lines(r.stdout).length, SAMPLE_FINDINGS);
    assert.ok(
      r.stderr.includes(`firstcall: warning: ${empty}: no CloudTrail log found: the folder is empty\n`),
      r.stderr,
    );
  });

  test("a symlinked folder is followed (not counted as ignored), and a link loop ends", () => {
    const linked = folder("linked");
    symlinkSync(join(SAMPLE, "AWSLogs"), join(linked, "AWSLogs"));
    symlinkSync(".", join(linked, "self"));
    const r = firstcall(["scan", linked, "--state", ":memory:", "--format", "jsonl"]);
    assert.equal(r.status, EXIT.findings, r.stderr);
    assert.equal(lines(r.stdout).length, SAMPLE_FINDINGS);
    assert.doesNotMatch(r.stderr, /non-log files ignored/);
  });
});

describe("a missing path", () => {
  test("alone: its error is the only line, exit 3", () => {
    const missing = join(root, "no-such-folder");
    const r = firstcall(["scan", missing, "--state", ":memory:"]);
    assert.equal(r.status, EXIT.input, r.stderr);
    assert.equal(r.stdout, "");
    assert.deepEqual(lines(r.stderr), [`firstcall: ${missing}: no such file or directory`]);
  });

  test("beside logs that were read: its error comes first, before the summary", () => {
    const missing = join(root, "also-missing");
    const r = firstcall(["scan", missing, SAMPLE, "--state", ":memory:", "--fail-on", "none"]);
    assert.equal(r.status, EXIT.input, r.stderr);
    assert.equal(lines(r.stderr)[0], `firstcall: ${missing}: no such file or directory`);
    assert.match(r.stderr, /^files: /m, "the summary follows");
  });
});

describe("state between runs", () => {
  test("--all: the exit code follows --fail-on over the findings printed", () => {
    const state = join(root, "all.sqlite");
    const first = firstcall(["scan", SAMPLE, "--state", state, "-q", "--format", "jsonl"]);
    assert.equal(first.status, EXIT.findings, first.stderr);
    const all = firstcall(["scan", SAMPLE, "--state", state, "-q", "--format", "jsonl", "--all"]);
    assert.equal(lines(all.stdout).length, SAMPLE_FINDINGS);
    assert.equal(all.status, EXIT.findings, "a stored high finding is printed: exit 1");
    const none = firstcall(["scan", SAMPLE, "--state", state, "-q", "--format", "jsonl", "--all", "--fail-on", "none"]);
    assert.equal(lines(none.stdout).length, SAMPLE_FINDINGS);
    assert.equal(none.status, EXIT.ok);
  });

  test("a second run of the same scan says its files were skipped as already scanned, and how to see everything", () => {
    const state = join(root, "second-run.sqlite");
    const first = firstcall(["scan", SAMPLE, "--state", state, "--format", "jsonl"]);
    assert.equal(first.status, EXIT.findings, first.stderr);
    assert.doesNotMatch(first.stderr, /already scanned in/);
    const second = firstcall(["scan", SAMPLE, "--state", state]);
    assert.equal(second.status, EXIT.ok, second.stderr);
    assert.equal(second.stdout, "No findings.\n");
    assert.match(
      second.stderr,
      new RegExp(
        `firstcall: \\d+ files skipped as already scanned in ${state.replaceAll(/[.*+?^${}()|[\]\\/]/g, "\\$&")}; --all shows the stored findings, --rescan reads them again, or use another --state\\n`,
      ),
    );
  });

  test("other settings than the state was built with: a warning saying what to do; --rescan takes the new ones", () => {
    const state = join(root, "settings.sqlite");
    const config = join(root, "networks.yaml");
    writeFileSync(config, 'ownNetworks: ["203.0.113.0/24"]\n');
    const changed = /warning: the configuration, --ip-ranges or --bind-uncovered differ .* --rescan .* fresh --state/;
    const scan = (...extra: string[]) =>
      firstcall(["scan", SAMPLE, "--state", state, "-q", "--fail-on", "none", ...extra]);

    const first = scan();
    assert.doesNotMatch(first.stderr, changed);
    const sameDefaultsSpelledOut = join(root, "defaults.yaml");
    writeFileSync(sameDefaultsSpelledOut, "sessionTtlHours: 8\n");
    assert.doesNotMatch(scan("--config", sameDefaultsSpelledOut).stderr, changed, "a default written out is no change");
    assert.match(scan("--config", config).stderr, changed);
    assert.match(scan("--bind-uncovered").stderr, changed);
    assert.match(scan("--config", config).stderr, changed, "still: the files were judged with the old settings");
    assert.doesNotMatch(scan("--config", config, "--rescan").stderr, changed);
    assert.doesNotMatch(scan("--config", config).stderr, changed, "after --rescan the state has the new settings");
    assert.match(scan().stderr, changed);
  });

  test("a state path whose folder cannot be created: a state error at once, not a spin", (t) => {
    const parentIsFile = join(root, "a-file");
    writeFileSync(parentIsFile, "");
    const cases = [join(parentIsFile, "sub", "state.sqlite")];
    if (existsSync("/proc/self")) cases.push("/proc/nope/x.sqlite");
    else t.diagnostic("no /proc: the /proc/nope case was skipped");
    for (const state of cases) {
      const r = firstcall(["scan", SAMPLE, "--state", state, "-q"]);
      assert.equal(r.status, EXIT.state, `${state}: ${r.stderr}`);
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /cannot create the state file: cannot create its folder .*; choose another --state/);
    }
  });
});
