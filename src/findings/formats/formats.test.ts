import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ALL_ATTACKS, ATTACKS, terminalHazards } from "../../test-helpers/terminal.js";
import type { Finding } from "../finding.js";
import { jsonlFormat } from "./jsonl.js";
import { textFormat } from "./text.js";

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
