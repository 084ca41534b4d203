import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parseConfig } from "../../config/config.js";
import { allRules } from "../../engine/rules/index.js";
import { findingCorpus } from "../../test-helpers/finding-corpus.js";
import { ALL_ATTACKS, terminalHazards } from "../../test-helpers/terminal.js";
import type { Finding } from "../finding.js";
import { DETECTION_FINDING_SCHEMA_PATH } from "../ocsf/json-schema.js";
import { PRODUCT } from "./finding-facts.js";
import { ocsfDetectionFinding, ocsfFormat } from "./ocsf.js";

/** The committed schema, compiled by ajv in strict mode (strictRequired off: `anyOf` lists required names only). */
function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  addFormats.default(ajv);
  return ajv.compile(JSON.parse(readFileSync(DETECTION_FINDING_SCHEMA_PATH, "utf8")));
}

const corpus = await findingCorpus();
const validate = validator();

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON walked by attribute name in assertions
type Json = { [key: string]: any };

describe("OCSF Detection Finding", () => {
  test("every finding of the corpus validates against the generated OCSF 1.8.0 schema", (t) => {
    t.diagnostic(`${corpus.length} findings validated with ajv against ${DETECTION_FINDING_SCHEMA_PATH}`);
    for (const { label, finding } of corpus) {
      const event = ocsfDetectionFinding(finding);
      assert.ok(validate(event), `${label}: ${JSON.stringify(validate.errors, null, 1)}`);
    }
  });

  test("the corpus holds every rule, a retraction, and the events' JSON lines parse back to them", () => {
    const rules = new Set(corpus.map((c) => c.finding.rule));
    for (const rule of allRules(parseConfig(""))) assert.ok(rules.has(rule.id), `no finding of ${rule.id}`);
    assert.ok(corpus.some((c) => c.finding.status === "retracted"));
    const lines = ocsfFormat
      .render(corpus.map((c) => c.finding))
      .trimEnd()
      .split("\n");
    assert.equal(lines.length, corpus.length);
    for (const [i, line] of lines.entries()) {
      const event = JSON.parse(line);
      assert.ok(validate(event), `line ${i + 1}`);
      assert.deepEqual(
        event,
        JSON.parse(JSON.stringify(ocsfDetectionFinding((corpus[i] as { finding: Finding }).finding))),
      );
    }
  });

  test("the mapping: class, ids, times in ms, credential as resource, addresses as observables, ATT&CK", () => {
    const c = corpus.find((x) => x.label === "sample credential-ip-mismatch");
    assert.ok(c);
    const f = c.finding;
    const e = ocsfDetectionFinding(f) as Json;
    assert.equal(e.class_uid, 2004);
    assert.equal(e.category_uid, 2);
    assert.equal(e.type_uid, 200401);
    assert.equal(e.activity_id, 1);
    assert.equal(e.severity_id, 4, "high → 4 High");
    assert.equal(e.finding_info.uid, f.id);
    assert.equal(e.time, Date.parse(f.time));
    assert.equal(e.start_time, Date.parse(f.evidence.firstSeen));
    assert.equal(e.end_time, Date.parse(f.evidence.lastSeen));
    assert.deepEqual(e.metadata.product, { name: "firstcall", vendor_name: "firstcall", version: PRODUCT.version });
    assert.equal(e.metadata.version, "1.8.0");
    assert.deepEqual(e.metadata.profiles, ["cloud"]);
    assert.deepEqual(e.cloud, {
      provider: "AWS",
      account: { uid: f.account, type_id: 10, type: "AWS Account" },
      region: f.region,
    });
    const key = e.resources.find((r: Json) => r.type === "AwsIamAccessKey");
    assert.equal(key.uid, f.principal.accessKeyId);
    assert.ok(e.resources.some((r: Json) => r.type === "AwsStsRoleSession" && r.uid === f.principal.arn));
    assert.ok(e.resources.some((r: Json) => r.type === "AwsEc2Instance" && r.uid === f.principal.instanceId));
    const ipObservables = e.observables.filter((o: Json) => o.type_id === 2);
    assert.deepEqual(
      ipObservables.map((o: Json) => [o.name, o.value]),
      [
        ["evidences[0].src_endpoint.ip", f.sourceIp],
        ...f.expectedIps.map((ip, i) => [`evidences[${i + 1}].src_endpoint.ip`, ip]),
      ],
    );
    // Each observable names the attribute that holds its value.
    for (const o of e.observables) {
      const value = o.name
        .split(/\.|\[(\d+)\]\.?/)
        .filter(Boolean)
        .reduce((v: Json, k: string) => v?.[k], e);
      assert.equal(value, o.value, o.name);
    }
    const attacks = e.finding_info.attacks.map(
      (a: Json) => `${a.sub_technique.uid} ${a.sub_technique.name} / ${a.tactic.uid} ${a.tactic.name}`,
    );
    assert.deepEqual(attacks, [
      "T1552.005 Cloud Instance Metadata API / TA0006 Credential Access",
      "T1078.004 Cloud Accounts / TA0005 Defense Evasion",
      "T1078.004 Cloud Accounts / TA0003 Persistence",
      "T1078.004 Cloud Accounts / TA0004 Privilege Escalation",
      "T1078.004 Cloud Accounts / TA0001 Initial Access",
    ]);
    assert.equal(e.finding_info.attacks[0].technique.uid, "T1552");
    assert.equal(e.finding_info.attacks[1].technique.name, "Valid Accounts");
  });

  test("severity ids: info 1, low 2, medium 3, high 4", () => {
    const base = corpus[0]?.finding as Finding;
    const ids = (["info", "low", "medium", "high"] as const).map(
      (severity) => (ocsfDetectionFinding({ ...base, severity }) as Json).severity_id,
    );
    assert.deepEqual(ids, [1, 2, 3, 4]);
  });

  test("a retracted finding is the same finding closed, with the reason", () => {
    const retracted = corpus.find((c) => c.finding.status === "retracted")?.finding as Finding;
    const e = ocsfDetectionFinding(retracted) as Json;
    assert.equal(e.activity_id, 3);
    assert.equal(e.type_uid, 200403);
    assert.equal(e.status_id, 3);
    assert.equal(e.status, "Suppressed");
    assert.equal(e.status_detail, retracted.retractionReason);
    assert.equal(e.is_alert, false);
    assert.equal(e.finding_info.uid, retracted.id);
    assert.equal(e.finding_info.modified_time, Date.parse(retracted.retractedAt as string));
  });

  test("hostile strings stay data: the line parses back, and nothing a terminal acts on is raw", () => {
    const base = corpus[0]?.finding as Finding;
    const hostile: Finding = { ...base, reason: ALL_ATTACKS, event: { ...base.event, userAgent: ALL_ATTACKS } };
    const out = ocsfFormat.render([hostile]);
    assert.deepEqual(terminalHazards(out, { allowLineFeed: true }), []);
    const event = JSON.parse(out) as Json;
    assert.equal(event.message, ALL_ATTACKS);
    assert.equal(event.evidences[0].http_request.user_agent, ALL_ATTACKS);
    assert.ok(validate(event));
  });
});
