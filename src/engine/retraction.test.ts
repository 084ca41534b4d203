/**
 * Retraction (docs/ARCHITECTURE.md §3): an address change delivered after the calls it explains
 * withdraws the finding those calls made — and only that finding. Real scans over real folders, with
 * real SQLite state files where state carries across runs.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import type { Finding } from "../findings/finding.js";
import { jsonlFormat } from "../findings/formats/jsonl.js";
import { textFormat } from "../findings/formats/text.js";
import { FileSink } from "../findings/sinks/file.js";
import { runScan } from "../pipeline/scan.js";
import { openStore } from "../state/open.js";
import { runCli } from "../test-helpers/cli.js";
import { at, call, ec2Issuance, userCall } from "../test-helpers/records.js";
import { scratchDirs, writeLogFiles } from "../test-helpers/scan.js";

const scratchDir = scratchDirs();

const I = "i-0aaaaaaaaaaaaaa01";
const OTHER = "i-0bbbbbbbbbbbbbb02";
const K1 = "ASIARETRACT000000001";
const HOME = "54.10.0.1";
const EIP = "3.80.9.9";
const THIEF = "203.0.113.66";
const ASSOCIATE_ID = "11111111-2222-4333-8444-555555555555";

/** The instance's calls: from its home, then from a new address one hour later. */
function calls(newAddress = EIP): CloudTrailRecord[] {
  return [
    ec2Issuance(I, K1, at(0)),
    call(I, K1, HOME, at(1)),
    call(I, K1, HOME, at(20)),
    call(I, K1, newAddress, at(60), { name: "DescribeVolumes" }),
    call(I, K1, newAddress, at(61)),
  ];
}

/** An AssociateAddress of `instanceId` at `minute` (its eventTime), delivered in its own file. */
function associate(instanceId: string, minute: number): CloudTrailRecord {
  const r = userCall("AssociateAddress", at(minute), { instanceId, allocationId: "eipalloc-0123" });
  return { ...r, eventID: ASSOCIATE_ID };
}

function folder(records: CloudTrailRecord[]): string {
  const dir = scratchDir();
  writeLogFiles(dir, [records]);
  return dir;
}

function mismatches(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.rule === "credential-ip-mismatch");
}

/** The union by id of successive outputs: the last version of each finding. */
function unionById(...outputs: readonly Finding[][]): Map<string, Finding> {
  return new Map(outputs.flat().map((f) => [f.id, f]));
}

describe("evidence that arrives later", () => {
  test("AssociateAddress delivered in a later scan, with an earlier eventTime: the finding, then its retraction", async () => {
    const state = join(scratchDir(), "state.sqlite");
    const first = await runScan({ paths: [folder(calls())], statePath: state });
    const [finding] = mismatches(first.findings);
    assert.ok(finding, "the new address is a finding while nothing explains it");
    assert.equal(finding.sourceIp, EIP);
    assert.equal(finding.status, "open");
    assert.equal(first.exitCode, 1);

    const second = await runScan({ paths: [folder([associate(I, 58)])], statePath: state });
    assert.equal(second.findings.length, 1, "printed once, as a retraction");
    const retraction = second.findings[0] as Finding;
    assert.equal(retraction.id, finding.id, "same id");
    assert.equal(retraction.status, "retracted");
    assert.equal(retraction.retractedAt, new Date(Date.parse(at(58))).toISOString());
    assert.match(retraction.retractionReason ?? "", /AssociateAddress 11111111-2222-4333-8444-555555555555/);
    assert.match(retraction.retractionReason ?? "", new RegExp(at(58)));
    assert.equal(second.exitCode, 0, "a retraction never fails the run");
    assert.equal(second.summary.findings.total, 0);
    assert.equal(second.summary.findings.retracted, 1);

    // One batch with the evidence in time: no finding at all; the union of the two runs says the same.
    const once = await runScan({ paths: [folder([...calls(), associate(I, 58)])], statePath: ":memory:" });
    assert.deepEqual(mismatches(once.findings), []);
    assert.deepEqual(
      [...unionById(first.findings, second.findings).values()].filter((f) => f.status === "open"),
      mismatches(once.findings),
    );

    // A third scan reads nothing new and prints nothing again.
    const third = await runScan({ paths: [folder([])], statePath: state });
    assert.deepEqual(third.findings, []);
  });

  test("a change by interface only, whose instance a later scan names, retracts the finding it explains", async () => {
    const eni = "eni-0retract00000001";
    const byInterface = userCall("AssociateAddress", at(58), {
      networkInterfaceId: eni,
      allocationId: "eipalloc-0123",
    });
    const state = join(scratchDir(), "state.sqlite");
    const first = await runScan({ paths: [folder([...calls(), byInterface])], statePath: state });
    const [finding] = mismatches(first.findings);
    assert.ok(finding, "while the interface's instance is unknown, the change explains nothing");
    assert.equal(finding.status, "open");

    const attach = userCall("AttachNetworkInterface", at(-90), {
      instanceId: I,
      networkInterfaceId: eni,
      deviceIndex: 1,
    });
    const second = await runScan({ paths: [folder([attach])], statePath: state });
    assert.equal(second.findings.length, 1);
    assert.equal(second.findings[0]?.id, finding.id);
    assert.equal(second.findings[0]?.status, "retracted");
    assert.match(second.findings[0]?.retractionReason ?? "", new RegExp(`address change of ${eni} at`));

    // Look-alike: the interface belongs to another instance: nothing is retracted.
    const state2 = join(scratchDir(), "state.sqlite");
    await runScan({ paths: [folder([...calls(), byInterface])], statePath: state2 });
    const elsewhere = userCall("AttachNetworkInterface", at(-90), {
      instanceId: OTHER,
      networkInterfaceId: eni,
      deviceIndex: 1,
    });
    const other = await runScan({ paths: [folder([elsewhere])], statePath: state2 });
    assert.deepEqual(other.findings, []);
  });

  test("an AssociateAddress of another instance retracts nothing", async () => {
    const state = join(scratchDir(), "state.sqlite");
    const first = await runScan({ paths: [folder(calls())], statePath: state });
    assert.equal(mismatches(first.findings).length, 1);
    const second = await runScan({ paths: [folder([associate(OTHER, 58)])], statePath: state });
    assert.deepEqual(second.findings, []);
    assert.equal(second.summary.findings.retracted, 0);
    const store = openStore(state);
    const stored = mismatches((await store.allFindings()).map((f) => f.finding));
    await store.close();
    assert.deepEqual(
      stored.map((f) => [f.sourceIp, f.status]),
      [[EIP, "open"]],
    );
  });

  test("a real theft stays open: an address change of the instance long before the thief's call explains nothing", async () => {
    const state = join(scratchDir(), "state.sqlite");
    const first = await runScan({ paths: [folder(calls(THIEF))], statePath: state });
    const [finding] = mismatches(first.findings);
    assert.equal(finding?.sourceIp, THIEF);
    // The instance was given an address 50 minutes before the thief's first call: outside the window.
    const second = await runScan({ paths: [folder([associate(I, 10)])], statePath: state });
    assert.deepEqual(second.findings, []);
    // An address change after the thief's first call explains nothing either.
    const third = await runScan({ paths: [folder([associate(I, 60.5)])], statePath: state });
    assert.deepEqual(third.findings, []);
    const store = openStore(state);
    const stored = mismatches((await store.allFindings()).map((f) => f.finding));
    await store.close();
    assert.deepEqual(
      stored.map((f) => [f.id, f.status]),
      [[finding?.id, "open"]],
    );
  });

  test("in one scan across checkpoints: the finding, then its retraction; exit code and summary count what stands", async () => {
    const dir = scratchDir();
    // Delivered in two files; checkpoint after each, releasing every event at once (no reorder wait).
    writeLogFiles(dir, [calls(), [associate(I, 58)]]);
    const output = join(scratchDir(), "findings.jsonl");
    const sink = new FileSink(output, jsonlFormat);
    let result: Awaited<ReturnType<typeof runScan>>;
    try {
      result = await runScan({
        paths: [dir],
        statePath: ":memory:",
        latenessMs: 0,
        minBuffered: 0,
        checkpointObjects: 1,
        sink,
      });
    } finally {
      sink.close();
    }
    const lines = readFileSync(output, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Finding);
    assert.deepEqual(
      lines.map((f) => [f.sourceIp, f.status]),
      [
        [EIP, "open"],
        [EIP, "retracted"],
      ],
    );
    assert.equal(lines[0]?.id, lines[1]?.id);
    assert.deepEqual(result.findings, lines);
    assert.equal(result.exitCode, 0);
    assert.equal(result.summary.findings.total, 0);
    assert.equal(result.summary.findings.retracted, 1);
  });

  test("a late call that moves the home retracts the finding on the address that turns out to be the home", async () => {
    const state = join(scratchDir(), "state.sqlite");
    const [issuance, early, , late] = calls();
    // First scan: the instance's later address is read first and taken for the home; the home's call
    // at minute 1 arrives in the next scan, so the roles swap.
    const first = await runScan({
      paths: [folder([issuance as CloudTrailRecord, late as CloudTrailRecord, call(I, K1, HOME, at(70))])],
      statePath: state,
    });
    assert.deepEqual(
      mismatches(first.findings).map((f) => f.sourceIp),
      [HOME],
    );
    const second = await runScan({ paths: [folder([early as CloudTrailRecord])], statePath: state });
    assert.deepEqual(
      mismatches(second.findings).map((f) => [f.sourceIp, f.status]),
      [
        [EIP, "open"],
        [HOME, "retracted"],
      ],
    );
    assert.match(second.findings.find((f) => f.status === "retracted")?.retractionReason ?? "", /first address/);
  });
});

describe("a start delivered later (slow start)", () => {
  test("StartInstances read in a later scan retracts the finding on the instance's slow first new address", async () => {
    const K2 = "ASIARETRACT000000002";
    const state = join(scratchDir(), "state.sqlite");
    const first = await runScan({
      paths: [
        folder([
          ec2Issuance(I, K1, at(0)),
          call(I, K1, HOME, at(1)),
          ec2Issuance(I, K2, at(90.5)),
          call(I, K2, EIP, at(200)), // the first call after the start, nearly two hours later
        ]),
      ],
      statePath: state,
    });
    assert.deepEqual(
      mismatches(first.findings).map((f) => [f.sourceIp, f.status]),
      [[EIP, "open"]],
    );
    const start = { ...userCall("StartInstances", at(90), { instancesSet: { items: [{ instanceId: I }] } }) };
    const second = await runScan({ paths: [folder([start])], statePath: state });
    assert.deepEqual(
      second.findings.map((f) => [f.sourceIp, f.status]),
      [[EIP, "retracted"]],
    );
    assert.match(
      second.findings[0]?.retractionReason ?? "",
      new RegExp(`^Explained by StartInstances ${start.eventID}`),
    );
  });
});

describe("the status in the SQLite state and at the command line", () => {
  const firstcall = (args: readonly string[]) => runCli(args);

  test("the retraction survives a restart; --output gets each version once; --all shows the status", () => {
    const work = scratchDir();
    const state = join(work, "state.sqlite");
    const output = join(work, "findings.jsonl");
    const common = ["--state", state, "--format", "jsonl", "--output", output, "--quiet"];
    const a = firstcall(["scan", folder(calls()), ...common]);
    assert.equal(a.status, 1, a.stderr);
    const b = firstcall(["scan", folder([associate(I, 58)]), ...common]);
    assert.equal(b.status, 0, b.stderr);
    const lines = readFileSync(output, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Finding);
    assert.deepEqual(
      lines.map((f) => f.status),
      ["open", "retracted"],
    );
    assert.equal(new Set(lines.map((f) => f.id)).size, 1);

    // A new process over the same state file: the stored status is the retracted one.
    const all = firstcall(["scan", folder([]), "--state", state, "--format", "jsonl", "--all", "--quiet"]);
    assert.equal(all.status, 0, all.stderr);
    const stored = all.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Finding);
    assert.deepEqual(
      stored.map((f) => [f.id, f.status, f.retractionReason?.startsWith("Explained by AssociateAddress")]),
      [[lines[0]?.id, "retracted", true]],
    );
    const text = firstcall(["scan", folder([]), "--state", state, "--all", "--quiet"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^RETRACTED ${lines[0]?.id} \\[credential-ip-mismatch\\] ${I} ${EIP}: Explained by AssociateAddress`,
        "m",
      ),
    );
    assert.ok(!text.stdout.includes("No findings."), "a retraction is shown, not 'no findings'");
  });

  test("the text format prints open findings in the table and retractions as their own lines", () => {
    const open = { ...sampleFinding(), id: "a".repeat(32) };
    const retracted = {
      ...sampleFinding(),
      id: "b".repeat(32),
      status: "retracted",
      retractedAt: "2026-11-01T00:58:00.000Z",
      retractionReason: "Explained by AssociateAddress x at y.\u001b[2J",
    } as Finding;
    const out = textFormat.render([open, retracted]);
    assert.equal(out.split("\n").filter((l) => l.includes("b".repeat(32))).length, 1);
    assert.match(
      out,
      /^RETRACTED b{32} \[credential-ip-mismatch\] i-0aaaaaaaaaaaaaa01 3\.80\.9\.9: Explained by AssociateAddress x at y\.\\x1b\[2J$/m,
    );
    assert.ok(out.startsWith("SEV"), "the open finding is in the table");
    assert.equal(textFormat.render([retracted]).split("\n").length, 2, "only the retraction line");
  });
});

function sampleFinding(): Finding {
  return {
    schema: "firstcall.finding/v1",
    id: "0".repeat(32),
    rule: "credential-ip-mismatch",
    severity: "high",
    time: "2026-11-01T01:00:00.000Z",
    account: "111122223333",
    region: "us-east-1",
    principal: { arn: `arn:aws:sts::111122223333:assumed-role/web/${I}`, kind: "ec2-instance", instanceId: I },
    sourceIp: EIP,
    expectedIps: [HOME],
    network: "unknown",
    covered: true,
    event: { id: "e1", name: "DescribeVolumes", source: "ec2.amazonaws.com" },
    evidence: {
      count: 1,
      firstSeen: "2026-11-01T01:00:00.000Z",
      lastSeen: "2026-11-01T01:00:00.000Z",
      eventIds: ["e1"],
      eventNames: ["DescribeVolumes"],
      accessKeyIds: [],
      userAgents: [],
    },
    reason: "r",
    status: "open",
  };
}
