/**
 * What a scan says about its inputs and its state beyond findings: the CloudTrail objects found per
 * path (nothing scanned is exit 3, not "clean"), the settings a state was built with, and the text
 * a person reads about them.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseConfig } from "../config/config.js";
import { EXIT } from "../exit-codes.js";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { tempDir, writeLogFiles } from "../test-helpers/scan.js";
import { ATTACKS, terminalHazards } from "../test-helpers/terminal.js";
import { runScan, type ScanNotice, type ScanOptions } from "./scan.js";
import { renderAlreadyScannedHint, renderNothingScanned, renderPathsWithoutLogs } from "./summary-text.js";

const root = tempDir("firstcall-scan-inputs-");
after(() => rmSync(root, { recursive: true, force: true }));

function folder(...parts: string[]): string {
  const path = join(root, ...parts);
  mkdirSync(path, { recursive: true });
  return path;
}

const I = "i-0aaaaaaaaaaaaaaa1";
const KEY = "ASIAINPUTS0000000001";
/** A clean instance: issuance and its own calls, no finding. */
const cleanRecords = () => [ec2Issuance(I, KEY, at(0)), call(I, KEY, "54.1.1.1", at(1))];

describe("CloudTrail found per path", () => {
  test("nothing found (empty folder, other files, non-CloudTrail JSON) is exit 3 with each path's counts", async () => {
    const empty = folder("empty");
    const other = folder("other");
    writeFileSync(join(other, "README.md"), "# not a log\n");
    writeFileSync(join(other, "package.json"), '{"name":"x"}');
    const { summary, exitCode, findings } = await runScan({ paths: [empty, other], statePath: ":memory:" });
    assert.equal(exitCode, EXIT.input);
    assert.deepEqual(findings, []);
    assert.equal(summary.objects.cloudTrail, 0);
    assert.deepEqual(summary.paths, [
      { path: empty, cloudTrail: 0, listed: 0, notCloudTrail: 0, unreadable: 0, ignored: 0, listingProblems: 0 },
      { path: other, cloudTrail: 0, listed: 1, notCloudTrail: 1, unreadable: 0, ignored: 1, listingProblems: 0 },
    ]);
    assert.equal(
      renderNothingScanned(summary),
      `firstcall: ${empty}: no CloudTrail log found: the folder is empty; nothing was scanned\n` +
        `firstcall: ${other}: no CloudTrail log found: 1 file is not CloudTrail, 1 file ignored, not named like log files (*.json, *.json.gz, *.jsonl, *.gz, *.log); nothing was scanned\n`,
    );
  });

  test("logs in one path and none in another: the exit code is the findings', the empty path is named", async () => {
    const logs = folder("logs");
    writeLogFiles(logs, [cleanRecords()]);
    const empty = folder("empty-2");
    const { summary, exitCode } = await runScan({ paths: [logs, empty], statePath: ":memory:" });
    assert.equal(exitCode, EXIT.ok);
    assert.equal(summary.objects.cloudTrail, 1);
    assert.equal(summary.paths[0]?.cloudTrail, 1);
    assert.equal(
      renderPathsWithoutLogs(summary),
      `firstcall: warning: ${empty}: no CloudTrail log found: the folder is empty\n`,
    );
  });

  test("a missing path is told before reading and is not repeated when nothing was scanned", async () => {
    const missing = join(root, "missing");
    const notices: ScanNotice[] = [];
    const { summary, exitCode } = await runScan({
      paths: [missing],
      statePath: ":memory:",
      onNotice: (n) => notices.push(n),
    });
    assert.equal(exitCode, EXIT.input);
    assert.equal(notices.length, 1);
    const told = notices[0];
    assert.ok(told?.kind === "path-problem");
    assert.equal(told.problem.message, `${missing}: no such file or directory`);
    assert.equal(renderNothingScanned(summary, new Set([told.problem.message])), "");
  });

  test("hostile path names reach the terminal escaped", async () => {
    const evil = folder(`evil-${ATTACKS.clearScreen}${ATTACKS.newlineForgery}${ATTACKS.rightToLeftOverride}`);
    const { summary } = await runScan({ paths: [evil], statePath: ":memory:" });
    const text = renderNothingScanned(summary) + renderPathsWithoutLogs(summary);
    assert.deepEqual(terminalHazards(text, { allowLineFeed: true }), []);
    assert.ok(!text.split("\n").some((l) => l.startsWith("2. [fake]")), "no forged line");
  });
});

describe("the state between runs", () => {
  test("a second run that reads nothing new says its files were skipped as already scanned", async () => {
    const logs = folder("twice");
    writeLogFiles(logs, [cleanRecords(), cleanRecords()]);
    const state = join(root, "twice.sqlite");
    const first = await runScan({ paths: [logs], statePath: state });
    assert.equal(renderAlreadyScannedHint(first.summary), "");
    const second = await runScan({ paths: [logs], statePath: state });
    assert.equal(second.exitCode, EXIT.ok, "skipped files were found before: not 'nothing scanned'");
    assert.equal(second.summary.objects.cloudTrail, 2);
    assert.equal(
      renderAlreadyScannedHint(second.summary),
      `firstcall: 2 files skipped as already scanned in ${state}; --all shows the stored findings, --rescan reads them again, or use another --state\n`,
    );
  });

  test("other settings than the state's are told and reported until --rescan takes them", async () => {
    const logs = folder("settings");
    writeLogFiles(logs, [cleanRecords()]);
    const ranges = join(root, "ip-ranges.json");
    writeFileSync(
      ranges,
      JSON.stringify({ prefixes: [{ ip_prefix: "3.0.0.0/8", region: "us-east-1", service: "EC2" }] }),
    );
    const state = join(root, "settings.sqlite");
    const scan = async (extra: Partial<ScanOptions> = {}) => {
      const notices: ScanNotice[] = [];
      const { summary } = await runScan({
        paths: [logs],
        statePath: state,
        onNotice: (n) => notices.push(n),
        ...extra,
      });
      assert.equal(
        notices.some((n) => n.kind === "settings-changed" && n.state === state),
        summary.settingsChanged,
        "the notice and the summary agree",
      );
      return summary.settingsChanged;
    };
    assert.equal(await scan(), false, "a new state takes the settings");
    assert.equal(await scan({ config: parseConfig("sessionTtlHours: 8\n") }), false, "a default spelled out");
    assert.equal(await scan({ config: parseConfig('ownNetworks: ["203.0.113.0/24"]\n') }), true);
    assert.equal(await scan({ ipRangesPath: ranges }), true);
    assert.equal(await scan({ bindUncovered: true }), true);
    assert.equal(await scan({ ipRangesPath: ranges, rescan: true }), false);
    assert.equal(await scan({ ipRangesPath: ranges }), false, "--rescan stored the new settings");
    writeFileSync(
      ranges,
      JSON.stringify({ prefixes: [{ ip_prefix: "3.0.0.0/9", region: "us-east-1", service: "EC2" }] }),
    );
    assert.equal(await scan({ ipRangesPath: ranges }), true, "a newer ip-ranges file at the same path");
  });
});
