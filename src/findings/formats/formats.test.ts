import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ALL_ATTACKS, ATTACKS, terminalHazards } from "../../test-helpers/terminal.js";
import type { Finding } from "../finding.js";
import { jsonFormat } from "./json.js";
import { jsonlFormat } from "./jsonl.js";
import { textFormat, textFormatWith } from "./text.js";

/** A finding whose every string field carries the attacks (as a forged or hostile log could make it). */
function hostileFinding(n: number): Finding {
  const a = (field: string) => `${field}${n}:${ALL_ATTACKS}`;
  return {
    schema: "firstcall.finding/v1",
    id: a("id"),
    rule: a("rule"),
    severity: "high",
    time: a("time"),
    account: a("account"),
    region: a("region"),
    principal: {
      arn: a("arn"),
      roleArn: a("role"),
      sessionName: a("session"),
      accessKeyId: a("key"),
      kind: "assumed-role",
    },
    sourceIp: a("ip"),
    expectedIps: [a("home"), ATTACKS.c1Csi as string],
    network: "unknown",
    covered: true,
    event: {
      id: a("eventid"),
      name: a("name"),
      source: a("source"),
      userAgent: a("ua"),
      vpcEndpointId: a("vpce"),
      errorCode: a("error"),
    },
    evidence: {
      count: 2,
      firstSeen: a("first"),
      lastSeen: a("last"),
      eventIds: [a("e1")],
      eventNames: [a("n1")],
      accessKeyIds: [a("k1")],
      userAgents: [a("u1")],
    },
    reason: a("reason"),
  } as Finding;
}

describe("text format with hostile fields", () => {
  const findings = [hostileFinding(1), hostileFinding(2)];
  const out = textFormat.render(findings);

  test("no raw control, bidirectional or separator character reaches the output", () => {
    assert.deepEqual(terminalHazards(out, { allowLineFeed: true }), []);
    assert.ok(out.includes("\\x1b[2J"), "the escape sequence is shown, escaped");
    assert.ok(out.includes("\\u202e"), "the override is shown, escaped");
  });

  test("an embedded newline cannot forge a line: one table row and three lines per finding", () => {
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.length, 1 + findings.length + 1 + 3 * findings.length);
    assert.ok(!lines.some((l) => l.startsWith("2. [fake]")), "no forged numbered line");
    assert.match(lines[4] ?? "", /^1\. \[rule1:/);
    assert.match(lines[7] ?? "", /^2\. \[rule2:/);
  });

  test("columns are aligned on the escaped text", () => {
    const [header, row1, row2] = out.split("\n");
    const sourceIpColumn = (header ?? "").indexOf("SOURCE IP");
    assert.ok(sourceIpColumn > 0);
    assert.equal((row1 ?? "").indexOf("ip1:"), sourceIpColumn);
    assert.equal((row2 ?? "").indexOf("ip2:"), sourceIpColumn);
  });
});

describe("jsonl format with hostile fields", () => {
  const findings = [hostileFinding(1), hostileFinding(2)];
  const out = jsonlFormat.render(findings);

  test("valid JSON that parses to the same finding, one per line", () => {
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    for (const [i, line] of lines.entries()) assert.deepEqual(JSON.parse(line), findings[i]);
  });

  test("no raw ESC, C1, bidirectional or separator character: cat on a terminal is safe", () => {
    assert.deepEqual(terminalHazards(out, { allowLineFeed: true }), []);
    assert.ok(!out.includes("\x1b"));
    assert.ok(out.includes("\\u001b[2J"), "ESC as JSON.stringify writes it");
    assert.ok(out.includes("\\u202e"), "U+202E escaped too (JSON.stringify alone leaves it raw)");
  });
});

/** A plain finding with the given severity, time and principal. */
function plainFinding(
  id: string,
  severity: Finding["severity"],
  time: string,
  principal: Partial<Finding["principal"]> = {},
): Finding {
  return {
    schema: "firstcall.finding/v1",
    id,
    rule: "credential-ip-mismatch",
    severity,
    time,
    account: "111122223333",
    region: "eu-west-1",
    principal: { arn: `arn:aws:sts::111122223333:assumed-role/r/${id}`, kind: "ec2-instance", ...principal },
    sourceIp: "198.51.100.1",
    expectedIps: ["52.95.1.1"],
    network: "unknown",
    covered: true,
    event: { id: `e-${id}`, name: "GetCallerIdentity", source: "sts.amazonaws.com" },
    evidence: {
      count: 1,
      firstSeen: time,
      lastSeen: time,
      eventIds: [`e-${id}`],
      eventNames: ["GetCallerIdentity"],
      accessKeyIds: [],
      userAgents: [],
    },
    reason: `reason ${id}`,
  };
}

describe("text format for people", () => {
  test("rows sorted by severity, then time, then id, whatever the input order", () => {
    const findings = [
      plainFinding("a1", "low", "2026-11-01T01:00:00Z"),
      plainFinding("b2", "high", "2026-11-01T03:00:00Z"),
      plainFinding("c3", "medium", "2026-11-01T00:00:00Z"),
      plainFinding("d4", "high", "2026-11-01T02:00:00Z"),
      plainFinding("a0", "high", "2026-11-01T02:00:00Z"),
    ];
    const order = (out: string) => [...out.matchAll(/^\d+\. \[[^\]]+\] reason (\w+)$/gm)].map((m) => m[1]);
    const expected = ["a0", "d4", "b2", "c3", "a1"];
    assert.deepEqual(order(textFormat.render(findings)), expected);
    assert.deepEqual(order(textFormat.render([...findings].reverse())), expected);
  });

  test("account and region columns; ECS tasks by role and short task id, Lambda by function name", () => {
    const out = textFormat.render([
      plainFinding("f1", "high", "2026-11-01T00:00:00Z", {
        kind: "ecs-task",
        roleArn: "arn:aws:iam::111122223333:role/orders-task",
        sessionName: "5f1c2a3b4d5e6f708192a3b4c5d6e7f8",
      }),
      plainFinding("f2", "medium", "2026-11-01T00:00:00Z", {
        kind: "lambda",
        roleArn: "arn:aws:iam::111122223333:role/thumbnailer-role",
        sessionName: "thumbnailer",
      }),
      plainFinding("f3", "low", "2026-11-01T00:00:00Z", { instanceId: "i-0abc", sessionName: "i-0abc" }),
    ]);
    const [header, ecs, lambda, instance] = out.split("\n");
    assert.match(header ?? "", /^SEV +FIRST SEEN +ACCOUNT +REGION +RULE +CREDENTIAL /);
    assert.match(
      ecs ?? "",
      /^HIGH +2026-11-01T00:00:00Z +111122223333 +eu-west-1 +credential-ip-mismatch +ecs orders-task\/5f1c2a3b /,
    );
    assert.match(lambda ?? "", / lambda thumbnailer /);
    assert.match(instance ?? "", / i-0abc /);
    assert.match(out, /^ {3}id f1 \(firstcall explain f1\)$/m);
  });
});

describe("json format", () => {
  test("one array that parses to the findings; an empty run is []", () => {
    const findings = [hostileFinding(1), hostileFinding(2)];
    const out = jsonFormat.render(findings);
    assert.deepEqual(JSON.parse(out), findings);
    assert.deepEqual(terminalHazards(out, { allowLineFeed: true }), []);
    assert.equal(jsonFormat.render([]), "[]\n");
    assert.equal(jsonFormat.document, true);
  });
});

describe("text format, verbose", () => {
  test("each finding's evidence under its reason, escaped", () => {
    const findings = [hostileFinding(1)];
    const out = textFormatWith({ verbose: true }).render(findings);
    assert.deepEqual(terminalHazards(out, { allowLineFeed: true }), []);
    assert.match(out, /^ {3}calls 2 from ip1:.*first first1:.*last last1:/m);
    assert.match(out, /^ {3}events e11:/m);
    assert.match(out, /^ {3}agent u11:/m);
    const plain = textFormat.render(findings);
    assert.equal(out.split("\n").length - plain.split("\n").length, 4, "four evidence lines for one agent");
  });
});
