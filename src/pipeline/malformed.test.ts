/**
 * Malformed fields are reported, not guessed: a record whose time is not a time, or a role call
 * without a session ARN, is counted by reason and makes the scan exit 3; a `sourceIPAddress` that is
 * neither an address nor AWS is judged like an address (never excused as "AWS on your behalf"),
 * while AWS's own service names and `AWS Internal` still are.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { scanRecords } from "../test-helpers/scan.js";

const I = "i-0abcdef0123456789";
const KEY = "ASIAMALFORMED0000001";

describe("malformed fields", () => {
  test("an eventTime that is not a time is counted and reported (exit 3), never dropped silently", async () => {
    const bad = call(I, KEY, "198.51.100.9", at(20));
    bad.eventTime = "2026-11-01T00:20:00Z junk";
    const { summary, exitCode } = await scanRecords([ec2Issuance(I, KEY, at(0)), call(I, KEY, "54.0.0.1", at(1)), bad]);
    assert.equal(summary.records.malformed["bad-time"], 1);
    assert.ok(summary.problems.some((p) => p.code === "E_RECORD" && /not a time/.test(p.message)));
    assert.equal(exitCode, 3);
  });

  test("a role call without a session ARN is counted and reported", async () => {
    const bad = call(I, KEY, "54.0.0.1", at(2));
    (bad.userIdentity as Record<string, unknown>).arn = 42;
    const { summary, exitCode } = await scanRecords([ec2Issuance(I, KEY, at(0)), call(I, KEY, "54.0.0.1", at(1)), bad]);
    assert.equal(summary.records.malformed["bad-identity"], 1);
    assert.equal(exitCode, 3);
  });

  test("a non-string or non-address sourceIPAddress is judged as an address: the theft is still found", async () => {
    const thief = call(I, KEY, "x", at(10)) as Record<string, unknown>;
    thief.sourceIPAddress = ["198.51.100.9"];
    const named = call(I, KEY, "evil.example.com", at(11));
    const { findings, summary } = await scanRecords([
      ec2Issuance(I, KEY, at(0)),
      call(I, KEY, "54.0.0.1", at(1)),
      thief as never,
      named,
    ]);
    const mismatches = findings.filter((f) => f.rule === "credential-ip-mismatch").map((f) => f.sourceIp);
    assert.deepEqual(mismatches.sort(), ['["198.51.100.9"]', "evil.example.com"]);
    assert.equal(summary.engine.malformedSource, 2);
    assert.equal(summary.engine.awsOnBehalf, 0);
  });

  test("the look-alike: AWS service names and AWS Internal are calls on your behalf, never findings", async () => {
    const { findings, summary } = await scanRecords([
      ec2Issuance(I, KEY, at(0)),
      call(I, KEY, "54.0.0.1", at(1)),
      call(I, KEY, "cloudformation.amazonaws.com", at(2)),
      call(I, KEY, "AWS Internal", at(3)),
      call(I, KEY, "s3.cn-north-1.amazonaws.com.cn", at(4)),
    ]);
    assert.deepEqual(findings, []);
    assert.equal(summary.engine.awsOnBehalf, 3);
    assert.equal(summary.engine.malformedSource, 0);
  });
});
