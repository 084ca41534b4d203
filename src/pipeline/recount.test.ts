/**
 * Evidence counts are by distinct record, whatever is read again: a damaged object read again once
 * repaired, or `--rescan`, never inflates `evidence.count` and never prints a finding twice.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { openStore } from "../state/open.js";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { tempDir } from "../test-helpers/scan.js";
import { runScan } from "./scan.js";

const I = "i-0fedcba9876543210";
const KEY = "ASIARECOUNT000000001";

function records(): CloudTrailRecord[] {
  const out = [ec2Issuance(I, KEY, at(0)), call(I, KEY, "54.0.0.1", at(1))];
  for (let m = 10; m < 20; m++) out.push(call(I, KEY, "198.51.100.9", at(m)));
  return out;
}

async function storedCount(state: string): Promise<number | undefined> {
  const store = openStore(state);
  try {
    const all = await store.allFindings();
    return all.find((f) => f.finding.rule === "credential-ip-mismatch")?.finding.evidence.count;
  } finally {
    await store.close();
  }
}

describe("counts by distinct record", () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a truncated object read again once repaired adds only the records it lacked", async () => {
    const logs = join(dir, "repaired");
    const state = join(dir, "repaired.sqlite");
    const file = join(logs, "111122223333_CloudTrail_us-east-1_20261101T0020Z_a.json");
    const text = JSON.stringify({ Records: records() });
    rmSync(logs, { recursive: true, force: true });
    mkdirSync(logs, { recursive: true });
    // Cut inside the ninth theft call: eight complete theft calls are kept.
    const cut = text.lastIndexOf('{"eventVersion"', text.lastIndexOf('{"eventVersion"') - 1);
    writeFileSync(file, text.slice(0, cut + 40));
    const first = await runScan({ paths: [logs], statePath: state });
    assert.equal(first.summary.objects.partial, 1);
    assert.equal(first.findings.filter((f) => f.rule === "credential-ip-mismatch").length, 1);
    const partialCount = await storedCount(state);
    assert.ok(partialCount !== undefined && partialCount < 10);

    writeFileSync(file, text);
    const second = await runScan({ paths: [logs], statePath: state });
    assert.ok(second.summary.records.alreadyCounted > 0, "the records counted before were skipped");
    assert.deepEqual(second.findings, [], "nothing printed again");
    assert.equal(await storedCount(state), 10, "each theft call counted once");
  });

  test("--rescan judges afresh: the same counts, nothing printed again", async () => {
    const logs = join(dir, "rescan");
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, "a.json.gz"), gzipSync(JSON.stringify({ Records: records() })));
    const state = join(dir, "rescan.sqlite");
    const first = await runScan({ paths: [logs], statePath: state });
    assert.equal(first.findings.filter((f) => f.rule === "credential-ip-mismatch").length, 1);
    assert.equal(await storedCount(state), 10);
    const again = await runScan({ paths: [logs], statePath: state, rescan: true });
    assert.deepEqual(again.findings, [], "nothing printed again");
    assert.equal(await storedCount(state), 10, "counts not inflated");
  });
});
