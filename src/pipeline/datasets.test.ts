/**
 * Real public CloudTrail: vendored fixtures (testdata/, with their licences) with exact expected
 * findings, and the larger shared data sets when they sit beside the project (as in CI).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runScan } from "./scan.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const testdata = join(root, "testdata");

describe("vendored real logs", () => {
  test("Stratus Red Team ec2-steal-instance-credentials: recon and IMDSv1 on the stolen session, no address mismatch", async () => {
    const { findings, summary } = await runScan({ paths: [join(testdata, "stratus-red-team")], statePath: ":memory:" });
    assert.equal(summary.records.total, 45);
    assert.equal(summary.objects.ignored, 1, "SOURCE.md is not a log");
    // The instance's own calls are absent and the anonymised thief address equals the operator's:
    // there is no second address to compare, so the binding rule cannot fire (a documented limit).
    // The attack tool's agent from an address not known to be AWS's or yours is high on its own.
    const got = findings.map((f) => [
      f.rule,
      f.severity,
      f.sourceIp,
      f.principal.sessionName,
      f.evidence.count,
      f.event.name,
    ]);
    assert.deepEqual(got, [
      ["imdsv1-credential", "low", "18.236.253.47", "i-786a3A8B5C0d92eF4", 2, "GetCallerIdentity"],
      ["instance-credential-foreign-agent", "high", "18.236.253.47", "i-786a3A8B5C0d92eF4", 2, "GetCallerIdentity"],
      ["instance-credential-recon", "medium", "18.236.253.47", "i-786a3A8B5C0d92eF4", 1, "GetCallerIdentity"],
    ]);
    assert.equal(summary.coverage.instanceEvents, 2);
    assert.equal(summary.coverage.covered, 0, "the capture has no issuance for this session");
  });

  test("OTRF SSRF → IMDSv1 → S3 exfiltration: the thief's macOS CLI, his ListBuckets and IMDSv1", async () => {
    const { findings, summary } = await runScan({ paths: [join(testdata, "otrf")], statePath: ":memory:" });
    assert.equal(summary.records.total, 103);
    assert.equal(summary.records.timestampFallbacks, 103, "this capture has @timestamp instead of eventTime");
    const got = findings.map((f) => [f.rule, f.severity, f.principal.instanceId, f.evidence.count, f.covered]);
    assert.deepEqual(got, [
      ["imdsv1-credential", "low", "i-0317f6c6b66ae9c40", 11, true],
      ["instance-credential-foreign-agent", "high", "i-0317f6c6b66ae9c40", 11, true],
      ["instance-credential-recon", "medium", "i-0317f6c6b66ae9c40", 2, true],
    ]);
    assert.equal(findings[1]?.evidence.userAgents[0], "[aws-cli/1.18.136 Python/3.8.5 Darwin/19.5.0 botocore/1.17.59]");
    assert.equal(summary.engine.issuances, 5);
  });
});

const shared = join(root, "..", "shared", "datasets");
describe("shared data sets (present beside the project in CI)", {
  skip: existsSync(shared) ? false : "../shared/datasets is not beside this checkout",
}, () => {
  test("SANS SEC504 S3 ransomware lab: a noisy negative set with duplicates across region folders", async () => {
    const { findings, summary, exitCode } = await runScan({
      paths: [join(shared, "sans504-s3-ransomware")],
      statePath: ":memory:",
    });
    assert.equal(summary.objects.read, 3872);
    assert.equal(summary.records.total, 30477);
    assert.equal(summary.records.unique, 23981);
    assert.equal(summary.records.duplicates, 6496);
    assert.deepEqual(findings, []);
    assert.equal(exitCode, 0);
  });
});
