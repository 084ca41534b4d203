/**
 * Pipeline properties: order invariance, state carried across runs, bad input, exit codes, time window.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import type { Finding } from "../findings/finding.js";
import { openStore } from "../state/open.js";
import { generator } from "../test-helpers/json-writer.js";
import { at, call, ec2Issuance, userCall } from "../test-helpers/records.js";
import { scratchDirs, tempDir, writeLogFiles } from "../test-helpers/scan.js";
import { runScan } from "./scan.js";

/** Folders made by these tests, removed when the file's tests are done. */
const scratchDir = scratchDirs();

/** A small seeded PRNG so that generated log sets and shuffles are reproducible. */
const prng = generator;

function shuffle<T>(list: T[], rnd: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * A fleet of instances over a few hours: hourly rotation with two keys, calls from home, endpoint
 * traffic, address changes, and thefts (before and after the instance's first call).
 */
function generateLogSet(seed: number): CloudTrailRecord[] {
  const rnd = prng(seed);
  const records: CloudTrailRecord[] = [];
  for (let n = 0; n < 12; n++) {
    const id = `i-${(0x1000000 + n).toString(16).padStart(17, "0")}`;
    const home = `54.0.${n}.${1 + Math.floor(rnd() * 200)}`;
    const start = Math.floor(rnd() * 30);
    for (let h = 0; h < 4; h++) {
      records.push(ec2Issuance(id, `ASIA${String(n).padStart(2, "0")}H${h}V2XXXXXXXXXXX`, at(start + h * 60)));
      records.push(ec2Issuance(id, `ASIA${String(n).padStart(2, "0")}H${h}V1XXXXXXXXXXX`, at(start + h * 60)));
      for (let c = 0; c < 6; c++) {
        const t = at(start + h * 60 + 1 + Math.floor(rnd() * 55));
        records.push(call(id, `ASIA${String(n).padStart(2, "0")}H${h}V2XXXXXXXXXXX`, home, t));
      }
      records.push(
        call(id, `ASIA${String(n).padStart(2, "0")}H${h}V2XXXXXXXXXXX`, `10.0.${n}.5`, at(start + h * 60 + 30), {
          source: "s3.amazonaws.com",
          name: "GetObject",
          vpce: "vpce-0fleet0000000001",
        }),
      );
    }
    if (n % 4 === 1) {
      records.push(userCall("AssociateAddress", at(start + 100), { instanceId: id, allocationId: `eipalloc-${n}` }));
      records.push(call(id, `ASIA${String(n).padStart(2, "0")}H1V2XXXXXXXXXXX`, `3.80.0.${n}`, at(start + 105)));
    }
    if (n % 3 === 0) {
      const key = `ASIA${String(n).padStart(2, "0")}H2V1XXXXXXXXXXX`;
      records.push(
        call(id, key, `203.0.113.${n}`, at(start + 150), {
          name: "GetCallerIdentity",
          source: "sts.amazonaws.com",
          delivery: "1.0",
        }),
      );
      records.push(
        call(id, key, `203.0.113.${n}`, at(start + 151), {
          name: "ListBuckets",
          source: "s3.amazonaws.com",
          delivery: "1.0",
        }),
      );
    }
    // A thief who calls before the instance does: his address becomes the home.
    if (n === 5) records.push(call(id, "ASIA05H0V1XXXXXXXXXXX", "198.51.100.66", at(start)));
  }
  return records;
}

function splitIntoFiles(records: CloudTrailRecord[], rnd: () => number, files: number): CloudTrailRecord[][] {
  const groups: CloudTrailRecord[][] = Array.from({ length: files }, () => []);
  for (const r of records) groups[Math.floor(rnd() * files)]?.push(r);
  return groups.map((g) => shuffle(g, rnd));
}

/** Findings as comparable data: everything, sorted by id. */
function canonical(findings: Finding[]): string {
  return JSON.stringify([...findings].sort((a, b) => (a.id < b.id ? -1 : 1)));
}

async function scanGroups(groups: CloudTrailRecord[][], statePath = ":memory:"): Promise<Finding[]> {
  const dir = tempDir();
  try {
    writeLogFiles(dir, groups);
    return (await runScan({ paths: [dir], statePath })).findings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("order invariance", () => {
  test("the same findings whatever order files and records are read in (10 shuffles)", async () => {
    const records = generateLogSet(7);
    const reference = canonical(await scanGroups([records]));
    const parsed = JSON.parse(reference) as Finding[];
    assert.ok(parsed.filter((f) => f.rule === "credential-ip-mismatch").length >= 4, "the log set has thefts to find");
    assert.ok(parsed.some((f) => f.rule === "instance-credential-recon"));
    for (let s = 1; s <= 10; s++) {
      const rnd = prng(1000 + s);
      const groups = splitIntoFiles(shuffle(records, rnd), rnd, 2 + Math.floor(rnd() * 8));
      assert.equal(canonical(await scanGroups(groups)), reference, `shuffle ${s}`);
    }
  });
});

describe("state carried across runs", () => {
  test("two runs over the two halves of a log set give the same findings as one run", async () => {
    const records = generateLogSet(11).sort((a, b) => (String(a.eventTime) < String(b.eventTime) ? -1 : 1));
    const once = canonical(await scanGroups([records]));
    const dir = scratchDir();
    const state = join(dir, "state.sqlite");
    const half = Math.floor(records.length / 2);
    const first = await scanGroups([records.slice(0, half)], state);
    const second = await scanGroups([records.slice(half)], state);
    // Each finding is printed once, by the run that first decides it…
    const printed = [...first, ...second].map((f) => f.id);
    assert.equal(new Set(printed).size, printed.length, "no finding printed twice");
    assert.deepEqual(new Set(printed), new Set((JSON.parse(once) as Finding[]).map((f) => f.id)));
    // …and the state ends with exactly the findings of one run over everything, evidence included.
    const store = openStore(state);
    const stored = (await store.allFindings()).map((f) => f.finding);
    await store.close();
    assert.equal(canonical(stored), once);
  });

  test("a late file with an earlier call moves the home, as if read in order", async () => {
    const I = "i-0aaaaaaaaaaaaaaa1";
    const inOrder = [
      ec2Issuance(I, "ASIALATE000000000001", at(0)),
      call(I, "ASIALATE000000000001", "54.1.1.1", at(1)),
      call(I, "ASIALATE000000000001", "54.2.2.2", at(5)),
    ];
    const once = canonical(await scanGroups([inOrder]));
    const dir = scratchDir();
    const state = join(dir, "state.sqlite");
    const a = await scanGroups([[inOrder[0] as CloudTrailRecord, inOrder[2] as CloudTrailRecord]], state);
    assert.deepEqual(
      a.filter((f) => f.rule === "credential-ip-mismatch"),
      [],
    );
    const b = await scanGroups([[inOrder[1] as CloudTrailRecord]], state);
    assert.equal(canonical(b), once);
  });

  test("a second scan of the same files reads nothing again and reports nothing new", async () => {
    const dir = scratchDir();
    writeLogFiles(dir, [generateLogSet(3)]);
    const state = join(scratchDir(), "state.sqlite");
    const first = await runScan({ paths: [dir], statePath: state });
    assert.ok(first.findings.length > 0);
    const second = await runScan({ paths: [dir], statePath: state });
    assert.equal(second.summary.objects.alreadyScanned, 1);
    assert.deepEqual(second.findings, []);
    const rescan = await runScan({ paths: [dir], statePath: state, rescan: true });
    assert.equal(rescan.summary.objects.read, 1);
  });
});

describe("bad input never stops the scan", () => {
  const theft = () => [
    ec2Issuance("i-0bbbbbbbbbbbbbbb1", "ASIABAD0000000000001", at(0)),
    call("i-0bbbbbbbbbbbbbbb1", "ASIABAD0000000000001", "54.1.1.1", at(1)),
    call("i-0bbbbbbbbbbbbbbb1", "ASIABAD0000000000001", "6.6.6.6", at(2)),
  ];

  test("corrupt, truncated, binary, empty, non-CloudTrail and unreadable files are each reported; findings still come out", async () => {
    const dir = scratchDir();
    writeLogFiles(dir, [theft()]);
    const good = gzipSync(JSON.stringify({ Records: theft() }));
    writeFileSync(
      join(dir, "corrupt.json.gz"),
      Buffer.concat([good.subarray(0, 10), Buffer.from("garbage-garbage-garbage")]),
    );
    writeFileSync(join(dir, "truncated.json"), JSON.stringify({ Records: theft() }).slice(0, -40));
    writeFileSync(join(dir, "binary.json"), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 1, 2, 3]));
    writeFileSync(join(dir, "empty.json"), "");
    writeFileSync(join(dir, "other.json"), JSON.stringify({ name: "package", version: "1.0.0" }));
    symlinkSync(join(dir, "does-not-exist.json"), join(dir, "dangling.json"));
    const digestDir = join(dir, "AWSLogs", "111122223333", "CloudTrail-Digest", "us-east-1", "2026", "11", "01");
    mkdirSync(digestDir, { recursive: true });
    writeFileSync(
      join(digestDir, "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T000000Z.json.gz"),
      gzipSync("{}"),
    );

    const { findings, summary, exitCode } = await runScan({ paths: [dir], statePath: ":memory:" });
    assert.equal(findings.filter((f) => f.rule === "credential-ip-mismatch").length, 1);
    assert.equal(exitCode, 1, "a high finding wins over unreadable input");
    const codes = Object.fromEntries(summary.problems.map((p) => [p.object.split("/").pop(), p.code]));
    assert.equal(codes["corrupt.json.gz"], "E_GZIP");
    assert.equal(codes["truncated.json"], "E_JSON");
    assert.equal(codes["binary.json"], "E_BINARY");
    assert.equal(codes["empty.json"], "E_EMPTY");
    assert.equal(codes["dangling.json"], "E_READ");
    for (const p of summary.problems) assert.ok(p.message.includes(p.object), `message names the file: ${p.message}`);
    assert.deepEqual(summary.skipped.map((s) => s.object.split("/").pop()).sort(), [
      "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T000000Z.json.gz",
      "other.json",
    ]);
    assert.equal(summary.objects.partial, 1, "the truncated file was partly read");
    assert.equal(summary.objects.failed, 4);

    const quiet = await runScan({ paths: [dir], statePath: ":memory:", failOn: "none" });
    assert.equal(quiet.exitCode, 3, "no failing finding: unreadable input gives 3");
  });

  test("a truncated file keeps its complete records: the theft in it is still found", async () => {
    const dir = scratchDir();
    const records = [...theft(), call("i-0bbbbbbbbbbbbbbb1", "ASIABAD0000000000001", "6.6.6.6", at(3))];
    writeFileSync(join(dir, "cut.json"), JSON.stringify({ Records: records }).slice(0, -100));
    const { findings, summary } = await runScan({ paths: [dir], statePath: ":memory:" });
    assert.equal(findings.filter((f) => f.rule === "credential-ip-mismatch").length, 1);
    assert.equal(summary.records.total, 3);
    assert.match(summary.problems[0]?.message ?? "", /3 complete records before it were kept/);
  });
});

describe("counts, time window and exit codes", () => {
  test("duplicate eventIDs across files are counted once", async () => {
    const records = [
      ec2Issuance("i-0ccccccccccccccc1", "ASIADUP0000000000001", at(0)),
      call("i-0ccccccccccccccc1", "ASIADUP0000000000001", "54.1.1.1", at(1)),
      call("i-0ccccccccccccccc1", "ASIADUP0000000000001", "6.6.6.6", at(2)),
    ];
    const dir = scratchDir();
    writeLogFiles(dir, [records, records]);
    const { findings, summary } = await runScan({ paths: [dir], statePath: ":memory:" });
    assert.equal(summary.records.total, 6);
    assert.equal(summary.records.duplicates, 3);
    assert.equal(findings[0]?.evidence.count, 1);
  });

  test("--since/--until filter on event time", async () => {
    const I = "i-0ddddddddddddddd1";
    const records = [
      ec2Issuance(I, "ASIAWIN0000000000001", at(0)),
      call(I, "ASIAWIN0000000000001", "54.1.1.1", at(1)),
      call(I, "ASIAWIN0000000000001", "6.6.6.6", at(30)),
    ];
    const dir = scratchDir();
    writeLogFiles(dir, [records]);
    const cut = await runScan({ paths: [dir], statePath: ":memory:", until: new Date(at(10)) });
    assert.deepEqual(cut.findings, []);
    assert.equal(cut.summary.records.outsideTimeWindow, 1);
    const all = await runScan({ paths: [dir], statePath: ":memory:", since: new Date(at(0)) });
    assert.equal(all.findings.length, 1);
  });

  test("--fail-on sets which severities make exit code 1", async () => {
    const I = "i-0eeeeeeeeeeeeeee1";
    const dir = scratchDir();
    writeLogFiles(dir, [
      [
        ec2Issuance(I, "ASIAFAIL000000000001", at(0)),
        call(I, "ASIAFAIL000000000001", "54.1.1.1", at(1), { delivery: "1.0" }),
      ],
    ]);
    assert.equal((await runScan({ paths: [dir], statePath: ":memory:" })).exitCode, 0, "only a low finding");
    assert.equal((await runScan({ paths: [dir], statePath: ":memory:", failOn: "low" })).exitCode, 1);
  });
});
