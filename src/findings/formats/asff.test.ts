import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AwsSecurityFinding } from "@aws-sdk/client-securityhub";
import { asffProblems } from "../../test-helpers/asff-limits.js";
import { findingCorpus } from "../../test-helpers/finding-corpus.js";
import { ALL_ATTACKS, terminalHazards } from "../../test-helpers/terminal.js";
import type { Finding } from "../finding.js";
import { asffFinding, asffFormat, asffFormatWith } from "./asff.js";

const corpus = await findingCorpus();
const byLabel = (label: string) => {
  const c = corpus.find((x) => x.label === label);
  assert.ok(c, label);
  return c.finding;
};

describe("ASFF", () => {
  test("every finding of the corpus meets Security Hub's required attributes and limits", (t) => {
    t.diagnostic(`${corpus.length} findings checked`);
    const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
    for (const { label, finding } of corpus) {
      // Where the finding has no usable account or Region, the importing ones must be given (--asff-*).
      const needsOptions = !finding.account || !REGION.test(finding.region);
      const options = needsOptions ? { productAccount: "444455556666", productRegion: "eu-west-1" } : {};
      assert.deepEqual(asffProblems(asffFinding(finding, options)), [], label);
    }
  });

  test("a capture whose Region is no AWS Region (anonymised: us-north-2r) needs --asff-region", () => {
    const f = byLabel("stratus-red-team imdsv1-credential");
    assert.equal(f.region, "us-north-2r");
    assert.match(asffProblems(asffFinding(f)).join("\n"), /ProductArn: .*us-north-2r.* \[custom\]/);
    assert.deepEqual(asffProblems(asffFinding(f, { productRegion: "us-east-1" })), []);
  });

  test("the checker itself catches broken findings", () => {
    const good = asffFinding(byLabel("sample credential-ip-mismatch"));
    const broken: AwsSecurityFinding = {
      ...good,
      Title: "x".repeat(257),
      Description: "",
      Id: "i".repeat(513),
      CreatedAt: "2026-11-01 03:10:00",
      Types: ["Threats/Bad"],
      Resources: [],
      AwsAccountId: "1234",
      ProductArn: "arn:aws:securityhub:us-east-1::product/firstcall/firstcall",
    };
    const problems = asffProblems(broken).join("\n");
    for (const what of [
      "Title",
      "Description",
      "Id:",
      "CreatedAt",
      "Types[0]",
      "Resources:",
      "AwsAccountId",
      "ProductArn",
    ])
      assert.ok(problems.includes(what), `${what} in\n${problems}`);
  });

  test("the mapping: stable Id, custom ProductArn, Types, severity, resources, the call", () => {
    const f = byLabel("sample credential-ip-mismatch");
    const a = asffFinding(f);
    assert.equal(a.Id, `firstcall/${f.id}`);
    assert.equal(a.ProductArn, `arn:aws:securityhub:${f.region}:${f.account}:product/${f.account}/default`);
    assert.equal(a.GeneratorId, "firstcall/credential-ip-mismatch");
    assert.equal(a.AwsAccountId, f.account);
    assert.deepEqual(a.Severity, { Label: "HIGH", Original: "high" });
    assert.ok(a.Types?.includes("TTPs/Credential Access/T1552.005 Cloud Instance Metadata API"));
    assert.ok(a.Types?.includes("TTPs/Initial Access/T1078.004 Cloud Accounts"));
    assert.ok(a.Types?.some((t) => t.startsWith("Unusual Behaviors/User/")));
    assert.deepEqual(
      a.Resources?.map((r) => [r.Type, r.Id]),
      [
        ["AwsIamAccessKey", f.principal.accessKeyId],
        ["AwsIamRole", f.principal.roleArn],
        ["AwsEc2Instance", `arn:aws:ec2:${f.region}:${f.account}:instance/${f.principal.instanceId}`],
      ],
    );
    assert.equal(a.Resources?.[0]?.Details?.AwsIamAccessKey?.SessionContext?.SessionIssuer?.Arn, f.principal.roleArn);
    assert.equal(a.Action?.AwsApiCallAction?.RemoteIpDetails?.IpAddressV4, f.sourceIp);
    assert.equal(a.Action?.AwsApiCallAction?.Api, f.event.name);
    assert.equal(a.CreatedAt, new Date(f.time).toISOString());
    assert.equal(a.FirstObservedAt, new Date(f.evidence.firstSeen).toISOString());
    assert.equal(a.LastObservedAt, new Date(f.evidence.lastSeen).toISOString());
    assert.equal(a.RecordState, "ACTIVE");
    assert.deepEqual(asffFinding(f), a, "the same finding gives the same ASFF");
  });

  test("the importing Region and account can be given; bad ones are usage errors", () => {
    const f = byLabel("sample credential-ip-mismatch");
    const a = asffFinding(f, { productRegion: "eu-central-1", productAccount: "999988887777" });
    assert.equal(a.ProductArn, "arn:aws:securityhub:eu-central-1:999988887777:product/999988887777/default");
    assert.equal(a.AwsAccountId, f.account, "the finding's account stays the credential's");
    assert.throws(() => asffFormatWith({ productRegion: "Mars" }), /--asff-region: not an AWS Region/);
    assert.throws(() => asffFormatWith({ productAccount: "12" }), /--asff-account: not a 12-digit/);
  });

  test("a retracted finding: same Id, archived, suppressed, updated later than the open one", () => {
    const retracted = corpus.find((c) => c.label === "retracted")?.finding as Finding;
    const open = corpus.find((c) => c.label.startsWith("before retraction") && c.finding.id === retracted.id)?.finding;
    assert.ok(open);
    const [a, b] = [asffFinding(open), asffFinding(retracted)];
    assert.equal(a.Id, b.Id);
    assert.equal(b.RecordState, "ARCHIVED");
    assert.equal(b.Workflow?.Status, "SUPPRESSED");
    assert.ok(Date.parse(b.UpdatedAt as string) > Date.parse(a.UpdatedAt as string));
    assert.equal(b.ProductFields?.["firstcall/retractionReason"], retracted.retractionReason);
  });

  test("long and hostile text is cut to the limits and stays data", () => {
    const base = byLabel("sample credential-ip-mismatch");
    const hostile: Finding = {
      ...base,
      reason: `${ALL_ATTACKS}${"r".repeat(3000)}`,
      principal: { ...base.principal, instanceId: `${ALL_ATTACKS}${"i".repeat(400)}` },
      event: { ...base.event, userAgent: `${"u".repeat(5000)}😀` },
    };
    const out = asffFormat.render([hostile]);
    assert.deepEqual(terminalHazards(out, { allowLineFeed: true }), []);
    const [a] = JSON.parse(out) as AwsSecurityFinding[];
    assert.ok(a);
    assert.deepEqual(asffProblems(a), []);
    assert.equal(a.Description?.length, 1024);
    assert.ok(a.Description?.startsWith(ALL_ATTACKS));
    assert.equal(asffFormat.render([]), "[]\n");
    assert.equal(asffFormat.document, true);
  });
});
