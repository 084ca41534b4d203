import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Finding } from "../findings/finding.js";
import { FLEET_SCHEMA, type FleetSession, type Incident, TRUTH_SCHEMA } from "../simulate/truth.js";
import { evaluate, parseFindings } from "./eval.js";
import { formatDuration, formatEvalText } from "./format.js";

const ACCT = "111122223333";
const arnOf = (session: string, role = "web") => `arn:aws:sts::${ACCT}:assumed-role/${role}/${session}`;

function incident(over: Partial<Incident> & Pick<Incident, "id" | "kind">): Incident {
  return {
    schema: TRUTH_SCHEMA,
    account: ACCT,
    region: "us-east-1",
    session: {
      kind: "ec2-instance",
      arn: arnOf("i-0aaa"),
      roleArn: `arn:aws:iam::${ACCT}:role/web`,
      sessionName: "i-0aaa",
      accessKeyId: "ASIAAAAA",
      matchBy: "arn",
    },
    attacker: { addresses: ["203.0.113.9"], userAgent: "aws-cli/2 Linux", network: "outside-aws" },
    match: "session-and-address",
    firstMaliciousEvent: { id: "e1", time: "2024-06-03T19:00:00Z", name: "GetObject", source: "s3.amazonaws.com" },
    lastMaliciousTime: "2024-06-03T19:10:00Z",
    maliciousEvents: 3,
    detectableBy: ["credential-ip-mismatch"],
    notDetectableBy: [],
    note: "",
    ...over,
  };
}

function finding(over: {
  id: string;
  arn: string;
  sourceIp: string;
  time: string;
  rule?: string;
  key?: string;
  vpce?: string;
  expected?: string[];
}): Finding {
  return {
    schema: "firstcall.finding/v1",
    id: over.id,
    rule: over.rule ?? "credential-ip-mismatch",
    severity: "high",
    time: over.time,
    account: ACCT,
    region: "us-east-1",
    principal: { arn: over.arn, kind: "ec2-instance", ...(over.key ? { accessKeyId: over.key } : {}) },
    sourceIp: over.sourceIp,
    expectedIps: over.expected ?? ["198.18.0.10"],
    network: "outside-aws",
    covered: true,
    event: {
      id: `ev-${over.id}`,
      name: "GetObject",
      source: "s3.amazonaws.com",
      ...(over.vpce ? { vpcEndpointId: over.vpce } : {}),
    },
    evidence: {
      count: 1,
      firstSeen: over.time,
      lastSeen: over.time,
      eventIds: [],
      eventNames: [],
      accessKeyIds: over.key ? [over.key] : [],
      userAgents: [],
    },
    reason: "",
  };
}

const fleetLine = (key: string, traits: string[], matchBy: "arn" | "accessKeyId" = "arn"): FleetSession => ({
  schema: FLEET_SCHEMA,
  key,
  matchBy,
  kind: "ec2-instance",
  account: ACCT,
  region: "us-east-1",
  traits,
});

describe("evaluate", () => {
  const incidents = [
    incident({ id: "inc-1", kind: "outside-aws" }),
    incident({
      id: "inc-2",
      kind: "attacker-first",
      session: { ...incident({ id: "x", kind: "outside-aws" }).session, arn: arnOf("i-0bbb") },
      match: "session",
    }),
    incident({
      id: "inc-3",
      kind: "lambda-theft",
      session: {
        kind: "lambda",
        arn: arnOf("fn", "lambda-fn"),
        roleArn: "",
        sessionName: "fn",
        accessKeyId: "ASIALAMBDA",
        matchBy: "accessKeyId",
      },
      attacker: { addresses: ["198.51.100.4"], userAgent: "x", network: "outside-aws" },
    }),
    incident({
      id: "inc-4",
      kind: "attacker-vpc-endpoint",
      session: { ...incident({ id: "x", kind: "outside-aws" }).session, arn: arnOf("i-0ccc") },
      attacker: {
        addresses: ["172.31.0.5"],
        userAgent: "x",
        network: "thief-vpc-endpoint",
        vpcEndpointId: "vpce-thief",
      },
    }),
    incident({
      id: "inc-5",
      kind: "ssrf-replay",
      session: { ...incident({ id: "x", kind: "outside-aws" }).session, arn: arnOf("i-0ddd") },
      attacker: { addresses: ["198.18.0.20"], userAgent: "Go-http-client/1.1", network: "instance" },
      detectableBy: [],
      notDetectableBy: ["credential-ip-mismatch"],
    }),
    incident({
      id: "inc-6",
      kind: "outside-aws",
      session: { ...incident({ id: "x", kind: "outside-aws" }).session, arn: arnOf("i-0eee") },
      detectableBy: ["credential-ip-mismatch", "imdsv1-credential"],
    }),
  ];
  const findings = [
    // inc-1: the thief's address, 90 s after his first call.
    finding({ id: "f1", arn: arnOf("i-0aaa"), sourceIp: "203.0.113.9", time: "2024-06-03T19:01:30Z" }),
    // Same session, another address: not inc-1's thief — a false positive.
    finding({ id: "f2", arn: arnOf("i-0aaa"), sourceIp: "198.18.0.99", time: "2024-06-03T19:02:00Z" }),
    // inc-2: the instance's own address, which any finding on the session may name.
    finding({ id: "f3", arn: arnOf("i-0bbb"), sourceIp: "198.18.0.11", time: "2024-06-03T19:03:00Z" }),
    // inc-3 by access key, although the ARN is shared with other environments.
    finding({
      id: "f4",
      arn: arnOf("fn", "lambda-fn"),
      sourceIp: "198.51.100.4",
      key: "ASIALAMBDA",
      time: "2024-06-03T19:00:00Z",
    }),
    // Another environment of the same function: a false positive.
    finding({
      id: "f5",
      arn: arnOf("fn", "lambda-fn"),
      sourceIp: "198.51.100.4",
      key: "ASIAOTHER",
      time: "2024-06-03T19:00:00Z",
    }),
    // inc-4 by the thief's endpoint.
    finding({
      id: "f6",
      arn: arnOf("i-0ccc"),
      sourceIp: "vpce-thief",
      vpce: "vpce-thief",
      time: "2024-06-03T19:00:10Z",
    }),
    // A dual-stack instance of the fleet.
    finding({ id: "f7", arn: arnOf("i-0fff"), sourceIp: "2001:db8::1", time: "2024-06-03T20:00:00Z" }),
    // inc-6: only one of its two expected rules fired.
    finding({ id: "f8", arn: arnOf("i-0eee"), sourceIp: "203.0.113.9", time: "2024-06-03T19:00:00Z" }),
  ];
  const fleet = [
    fleetLine(arnOf("i-0fff"), ["dual-stack"]),
    fleetLine(arnOf("i-0aaa"), ["victim"]),
    fleetLine("ASIAOTHER", ["lambda"], "accessKeyId"),
  ];
  const report = evaluate(incidents, findings, fleet);
  const byId = new Map(report.incidents.map((r) => [r.id, r] as const));

  test("matches by session and address, by session alone, by access key and by endpoint", () => {
    assert.deepEqual(byId.get("inc-1")?.findingIds, ["f1"]);
    assert.deepEqual(byId.get("inc-2")?.findingIds, ["f3"]);
    assert.deepEqual(byId.get("inc-3")?.findingIds, ["f4"]);
    assert.deepEqual(byId.get("inc-4")?.findingIds, ["f6"]);
    assert.equal(byId.get("inc-5")?.detected, false);
  });

  test("delay runs from the first malicious call to the detecting finding's event", () => {
    assert.equal(byId.get("inc-1")?.delaySeconds, 90);
    assert.equal(byId.get("inc-2")?.delaySeconds, 180);
    assert.equal(byId.get("inc-5")?.delaySeconds, null);
  });

  test("recall counts only incidents some rule can see; expected misses are listed apart", () => {
    assert.equal(report.total.incidents, 6);
    assert.equal(report.total.detectable, 5);
    assert.equal(report.total.detected, 5);
    assert.equal(report.total.recall, 1);
    const ssrf = report.kinds.find((k) => k.kind === "ssrf-replay");
    assert.equal(ssrf?.recall, null);
    assert.equal(ssrf?.expectedMisses, 1);
    assert.deepEqual(byId.get("inc-6")?.rulesMissing, ["imdsv1-credential"]);
  });

  test("false positives, precision and their causes", () => {
    assert.equal(report.findings.total, 8);
    assert.equal(report.findings.falsePositives, 3);
    assert.equal(report.findings.precision, 5 / 8);
    const causes = Object.fromEntries(report.falsePositivesByCause.map((g) => [g.cause, g.count]));
    assert.deepEqual(causes, {
      "credential-ip-mismatch: attacked session, finding outside the incident's addresses": 1,
      "credential-ip-mismatch: other IP family (dual-stack)": 1,
      "credential-ip-mismatch: ec2-instance, no tricky behaviour": 1,
    });
    const rule = report.rules.find((r) => r.rule === "credential-ip-mismatch");
    assert.equal(rule?.falsePositives, 3);
  });

  test("a miss is reported as one", () => {
    const r = evaluate([incident({ id: "inc-9", kind: "outside-aws" })], []);
    assert.equal(r.total.missed, 1);
    assert.equal(r.total.recall, 0);
    assert.match(formatEvalText(r), /missed:\n {2}inc-9/);
  });

  test("the text report has a row per kind and a total", () => {
    const text = formatEvalText(report);
    assert.match(text, /^kind\s+incidents\s+detectable/m);
    assert.match(text, /^outside-aws\s+2\s+2\s+2\s+0\s+0\s+1\.000\s+2\s+0s\s+1m30s\s+1m30s$/m);
    assert.match(text, /^total\s+6\s+5\s+5\s+0\s+1\s+1\.000/m);
    assert.match(text, /precision: 0\.625/);
    assert.match(text, /labelled undetectable: inc-5/);
  });
});

describe("parseFindings", () => {
  test("keeps findings, skips the summary line, rejects broken JSON", () => {
    const f = finding({ id: "f1", arn: arnOf("i-1"), sourceIp: "203.0.113.1", time: "2024-06-03T19:00:00Z" });
    const text = `${JSON.stringify(f)}\n\n${JSON.stringify({ schema: "firstcall.summary/v1", findings: {} })}\n`;
    assert.deepEqual(
      parseFindings(text, "x").map((x) => x.id),
      ["f1"],
    );
    assert.throws(() => parseFindings("{not json", "bad.jsonl"), /bad\.jsonl:1: not JSON/);
  });
});

describe("formatDuration", () => {
  test("seconds, minutes, hours", () => {
    assert.equal(formatDuration(null), "-");
    assert.equal(formatDuration(42), "42s");
    assert.equal(formatDuration(185), "3m05s");
    assert.equal(formatDuration(3720), "1h02m");
  });
});
