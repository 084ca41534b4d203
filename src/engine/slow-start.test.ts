/**
 * Slow starts (docs/ARCHITECTURE.md §3): a StartInstances explains the instance's first new address
 * however late its first call comes, when that call uses the credential issued after the start —
 * and never a second address, a thief's call with a credential from before the stop, or a new
 * address next to one the instance still uses.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { at, call, ec2Issuance, userCall } from "../test-helpers/records.js";
import { scanRecords } from "../test-helpers/scan.js";

const I = "i-0cccccccccccccc03";
const BEFORE = "ASIASLOWSTART0000001"; // issued before the stop
const AFTER = "ASIASLOWSTART0000002"; // issued as the instance boots after the start
const HOME = "54.20.0.1";
const NEW = "54.30.0.7"; // the public address the instance gets on start
const THIEF = "198.51.100.23";
const START = 90; // minutes

/** Runs from HOME, stopped at minute 60, started at START, new credential 30 s later. */
function stopStart(): CloudTrailRecord[] {
  return [
    ec2Issuance(I, BEFORE, at(0)),
    call(I, BEFORE, HOME, at(1)),
    call(I, BEFORE, HOME, at(55)),
    userCall("StopInstances", at(60), { instancesSet: { items: [{ instanceId: I }] } }),
    userCall("StartInstances", at(START), { instancesSet: { items: [{ instanceId: I }] } }),
    ec2Issuance(I, AFTER, at(START + 0.5)),
  ];
}

async function mismatchedAddresses(records: CloudTrailRecord[]): Promise<string[]> {
  const { findings } = await scanRecords(records);
  return findings.filter((f) => f.rule === "credential-ip-mismatch").map((f) => f.sourceIp);
}

describe("slow starts", () => {
  test("the first call after a start comes two hours later (a cron job): its new address is the instance's", async () => {
    assert.deepEqual(
      await mismatchedAddresses([
        ...stopStart(),
        call(I, AFTER, NEW, at(START + 120)),
        call(I, AFTER, NEW, at(START + 125)),
      ]),
      [],
    );
  });

  test("a call within the window after the start is still learned, whatever the credential", async () => {
    assert.deepEqual(await mismatchedAddresses([...stopStart(), call(I, BEFORE, NEW, at(START + 3))]), []);
  });

  test("attack: an address long after the start, after the instance's first calls from its new home, is a finding", async () => {
    assert.deepEqual(
      await mismatchedAddresses([
        ...stopStart(),
        call(I, AFTER, NEW, at(START + 2)),
        call(I, AFTER, THIEF, at(START + 150)),
      ]),
      [THIEF],
    );
    // The same when the instance itself was slow: the start explains one address, its first.
    assert.deepEqual(
      await mismatchedAddresses([
        ...stopStart(),
        call(I, AFTER, NEW, at(START + 120)),
        call(I, AFTER, THIEF, at(START + 150)),
      ]),
      [THIEF],
    );
  });

  test("attack: a credential stolen before the stop, used first after a slow start, is a finding", async () => {
    assert.deepEqual(await mismatchedAddresses([...stopStart(), call(I, BEFORE, THIEF, at(START + 60))]), [THIEF]);
  });

  test("attack: the instance kept its address (an Elastic IP): a new address after the start is a finding", async () => {
    assert.deepEqual(
      await mismatchedAddresses([
        ...stopStart(),
        call(I, AFTER, HOME, at(START + 5)),
        call(I, AFTER, THIEF, at(START + 90)),
      ]),
      [THIEF],
    );
  });

  test("without a start, a new credential explains nothing: an address an hour after the rotation is a finding", async () => {
    assert.deepEqual(
      await mismatchedAddresses([
        ec2Issuance(I, BEFORE, at(0)),
        call(I, BEFORE, HOME, at(1)),
        ec2Issuance(I, AFTER, at(60)),
        call(I, AFTER, THIEF, at(120)),
      ]),
      [THIEF],
    );
  });

  test("the result does not depend on the order records are read in", async () => {
    const records = [...stopStart(), call(I, AFTER, NEW, at(START + 120)), call(I, AFTER, THIEF, at(START + 150))];
    assert.deepEqual(await mismatchedAddresses([...records].reverse()), [THIEF]);
  });
});
