/**
 * Differential tests of the IAM evaluator against hand-worked examples from AWS's IAM User Guide
 * (condition operators, `…IfExists`, `Null`, negated operators on absent keys, multiple values = OR,
 * multiple keys = AND, set operators on multivalued keys, NotIpAddress with IPv6, policy variables).
 * Each case states the expected outcome and the documentation's reasoning for it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ContextValue,
  evaluateCondition,
  evaluatePolicy,
  type PolicyDocument,
  parsePolicy,
  type RequestContext,
  wildcardMatch,
} from "./iam-eval.js";

function ctx(
  keys: Record<string, string | string[] | "?unknown" | "?opaque">,
  action = "s3:GetObject",
): RequestContext {
  const map = new Map<string, ContextValue>();
  for (const [k, v] of Object.entries(keys)) {
    if (v === "?unknown") map.set(k.toLowerCase(), { kind: "unknown" });
    else if (v === "?opaque") map.set(k.toLowerCase(), { kind: "opaque" });
    else map.set(k.toLowerCase(), { kind: "present", values: Array.isArray(v) ? v : [v] });
  }
  return { action, keys: map };
}

test("an absent key makes a positive operator false and a negated one true (Condition operators, 'Important')", () => {
  // "If the key that you specify in a policy condition is not present in the request context, the
  // values do not match and the condition is false. If the policy condition requires that the key is
  // not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
  assert.equal(evaluateCondition({ StringEquals: { "aws:SourceVpce": "vpce-1" } }, ctx({})), false);
  assert.equal(evaluateCondition({ StringLike: { "aws:SourceVpce": "vpce-*" } }, ctx({})), false);
  assert.equal(evaluateCondition({ StringNotEquals: { "aws:SourceVpce": "vpce-1" } }, ctx({})), true);
  assert.equal(evaluateCondition({ StringNotLike: { "aws:SourceVpce": "vpce-*" } }, ctx({})), true);
  assert.equal(evaluateCondition({ ArnNotLike: { "aws:PrincipalArn": "arn:aws:iam::*:role/x" } }, ctx({})), true);
  assert.equal(evaluateCondition({ NotIpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, ctx({})), true);
  assert.equal(evaluateCondition({ IpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, ctx({})), false);
  assert.equal(evaluateCondition({ Bool: { "aws:ViaAWSService": "false" } }, ctx({})), false);
});

test("…IfExists: true when the key is absent, the base operator when present (the ec2:InstanceType example)", () => {
  // The guide's example: StringLikeIfExists ec2:InstanceType [t1.*, t2.*, m3.*] — "if the key is not
  // present, evaluate the condition element as true"; present, it must match one of the patterns.
  const cond = { StringLikeIfExists: { "ec2:InstanceType": ["t1.*", "t2.*", "m3.*"] } };
  assert.equal(evaluateCondition(cond, ctx({})), true, "absent: true");
  assert.equal(evaluateCondition(cond, ctx({ "ec2:InstanceType": "t2.micro" })), true, "t2.micro matches t2.*");
  assert.equal(evaluateCondition(cond, ctx({ "ec2:InstanceType": "m5.large" })), false, "m5.large matches none");
  // BoolIfExists aws:ViaAWSService false (the deny-by-IP example): absent → true, "true" → false.
  assert.equal(evaluateCondition({ BoolIfExists: { "aws:ViaAWSService": "false" } }, ctx({})), true);
  assert.equal(
    evaluateCondition({ BoolIfExists: { "aws:ViaAWSService": "false" } }, ctx({ "aws:ViaAWSService": "true" })),
    false,
  );
  // A negated operator with IfExists is true on an absent key too: IfExists cannot make it false.
  assert.equal(evaluateCondition({ StringNotEqualsIfExists: { "aws:SourceVpce": "vpce-1" } }, ctx({})), true);
});

test("Null tests presence: true means the key must be absent (the aws:TokenIssueTime example)", () => {
  // "Null": {"aws:TokenIssueTime": "true"} holds for long-term credentials, which have no such key.
  assert.equal(evaluateCondition({ Null: { "aws:TokenIssueTime": "true" } }, ctx({})), true);
  assert.equal(
    evaluateCondition(
      { Null: { "aws:TokenIssueTime": "true" } },
      ctx({ "aws:TokenIssueTime": "2026-11-01T00:00:00Z" }),
    ),
    false,
  );
  assert.equal(
    evaluateCondition(
      { Null: { "aws:TokenIssueTime": "false" } },
      ctx({ "aws:TokenIssueTime": "2026-11-01T00:00:00Z" }),
    ),
    true,
  );
  // A key present with an unrecorded value: presence is still decided.
  assert.equal(
    evaluateCondition({ Null: { "ec2:SourceInstanceARN": "false" } }, ctx({ "ec2:SourceInstanceARN": "?opaque" })),
    true,
  );
});

test("several values of one key are ORed; several keys, and several operators, are ANDed", () => {
  // "If a single condition operator includes multiple values for a context key, those values are
  // evaluated using a logical OR." … "If your policy has multiple condition operators or multiple
  // keys attached to a single condition operator, the conditions are evaluated using a logical AND."
  const ips = { IpAddress: { "aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"] } };
  assert.equal(evaluateCondition(ips, ctx({ "aws:SourceIp": "203.0.113.5" })), true, "in the second range: OR");
  assert.equal(evaluateCondition(ips, ctx({ "aws:SourceIp": "198.51.100.5" })), false, "in neither");
  const keys = { StringEquals: { "aws:PrincipalTag/department": "finance", "aws:PrincipalTag/role": "audit" } };
  assert.equal(
    evaluateCondition(keys, ctx({ "aws:PrincipalTag/department": "finance", "aws:PrincipalTag/role": "audit" })),
    true,
  );
  assert.equal(
    evaluateCondition(keys, ctx({ "aws:PrincipalTag/department": "finance", "aws:PrincipalTag/role": "dev" })),
    false,
    "AND",
  );
  // A negated operator with several values: NOR — true only when the value matches none of them.
  const notIn = { StringNotEquals: { "aws:SourceVpce": ["vpce-1", "vpce-2"] } };
  assert.equal(evaluateCondition(notIn, ctx({ "aws:SourceVpce": "vpce-2" })), false);
  assert.equal(evaluateCondition(notIn, ctx({ "aws:SourceVpce": "vpce-3" })), true);
  // Key names are case-insensitive.
  assert.equal(
    evaluateCondition({ IpAddress: { "AWS:SOURCEIP": "192.0.2.0/24" } }, ctx({ "aws:SourceIp": "192.0.2.1" })),
    true,
  );
});

test("set operators on a multivalued key (aws:TagKeys examples of the multivalued-keys page)", () => {
  // ForAllValues: every value in the request must match one of the policy's; true when the key is absent.
  const all = { "ForAllValues:StringEquals": { "aws:TagKeys": ["key1", "key2"] } };
  assert.equal(evaluateCondition(all, ctx({ "aws:TagKeys": ["key1"] })), true);
  assert.equal(evaluateCondition(all, ctx({ "aws:TagKeys": ["key1", "key3"] })), false, "key3 is not listed");
  assert.equal(evaluateCondition(all, ctx({})), true, "absent: ForAllValues is true");
  // ForAnyValue: at least one value must match; false when the key is absent.
  const any = { "ForAnyValue:StringEquals": { "aws:TagKeys": ["key1", "key2"] } };
  assert.equal(evaluateCondition(any, ctx({ "aws:TagKeys": ["key1", "key3"] })), true);
  assert.equal(evaluateCondition(any, ctx({ "aws:TagKeys": ["key3"] })), false);
  assert.equal(evaluateCondition(any, ctx({})), false, "absent: ForAnyValue is false");
  // The Titus-style ForAnyValue:StringNotEquals on a key a public call lacks is false: a Deny fails open.
  assert.equal(evaluateCondition({ "ForAnyValue:StringNotEquals": { "aws:SourceVpce": "vpce-1" } }, ctx({})), false);
});

test("NotIpAddress with IPv6 ranges (the 2001:DB8:1234:5678::/64 example)", () => {
  const cond = { NotIpAddress: { "aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"] } };
  assert.equal(evaluateCondition(cond, ctx({ "aws:SourceIp": "2001:db8:1234:5678::1" })), false, "inside the /64");
  assert.equal(evaluateCondition(cond, ctx({ "aws:SourceIp": "2001:db8:1234:5679::1" })), true, "next /64");
  assert.equal(evaluateCondition(cond, ctx({ "aws:SourceIp": "203.0.113.9" })), false, "the IPv4 range");
  assert.equal(
    evaluateCondition({ NotIpAddress: { "aws:SourceIp": "2001:DB8::/32" } }, ctx({ "aws:SourceIp": "192.0.2.1" })),
    true,
    "other family: no match",
  );
});

const denyByIp: PolicyDocument = {
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        NotIpAddress: { "aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"] },
        Bool: { "aws:ViaAWSService": "false" },
      },
    },
  ],
};

test("the guide's 'deny access to AWS based on the source IP' policy", () => {
  // Outside the ranges, made directly: both conditions hold → denied.
  assert.equal(
    evaluatePolicy(denyByIp, ctx({ "aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": "false" })).decision,
    "denied",
  );
  // Inside a range: NotIpAddress is false → the Deny does not apply.
  assert.equal(
    evaluatePolicy(denyByIp, ctx({ "aws:SourceIp": "192.0.2.7", "aws:ViaAWSService": "false" })).decision,
    "not-denied",
  );
  // Made by a service on the caller's behalf: Bool is false → not denied, wherever it came from.
  assert.equal(
    evaluatePolicy(denyByIp, ctx({ "aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": "true" })).decision,
    "not-denied",
  );
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
const sourceVpcVariable = "${aws:SourceVpc}";
const sameVpcScp: PolicyDocument = {
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        StringNotEquals: { "aws:ec2InstanceSourceVPC": sourceVpcVariable },
        Null: { "ec2:SourceInstanceARN": "false" },
        BoolIfExists: { "aws:ViaAWSService": "false" },
      },
    },
  ],
};

test("the guide's aws:Ec2InstanceSourceVpc SCP: denied unless through an endpoint in the credential's own VPC", () => {
  const instance = {
    "ec2:SourceInstanceARN": "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
    "aws:ec2InstanceSourceVPC": "vpc-1",
  };
  // Through an endpoint of the same VPC: the variable resolves to vpc-1, StringNotEquals is false.
  assert.equal(
    evaluatePolicy(sameVpcScp, ctx({ ...instance, "aws:SourceVpc": "vpc-1", "aws:ViaAWSService": "false" })).decision,
    "not-denied",
  );
  // Through an endpoint of another VPC: denied.
  assert.equal(
    evaluatePolicy(sameVpcScp, ctx({ ...instance, "aws:SourceVpc": "vpc-2", "aws:ViaAWSService": "false" })).decision,
    "denied",
  );
  // From a public address: aws:SourceVpc is absent, the variable matches nothing, the negated
  // operator is true: denied ("denies access … unless the request arrives through a VPC endpoint").
  assert.equal(
    evaluatePolicy(sameVpcScp, ctx({ ...instance, "aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": "false" }))
      .decision,
    "denied",
  );
  // Not an instance credential: Null ec2:SourceInstanceARN false is false: not denied.
  assert.equal(
    evaluatePolicy(sameVpcScp, ctx({ "aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": "false" })).decision,
    "not-denied",
  );
  // The credential's VPC not recorded: the verdict is unknown, never "not denied".
  assert.equal(
    evaluatePolicy(
      sameVpcScp,
      ctx({
        "ec2:SourceInstanceARN": "?opaque",
        "aws:ec2InstanceSourceVPC": "?unknown",
        "aws:SourceVpc": "vpc-1",
        "aws:ViaAWSService": "false",
      }),
    ).decision,
    "unknown",
  );
  // An unknown verdict names what is missing: the credential's VPC, and the endpoint's VPC used as a
  // variable when only its presence is recorded (ec2:SourceInstanceARN under Null decides: present).
  const missing = evaluatePolicy(
    sameVpcScp,
    ctx({
      "ec2:SourceInstanceARN": "?opaque",
      "aws:ec2InstanceSourceVPC": "?unknown",
      "aws:SourceVpc": "?opaque",
      "aws:ViaAWSService": "false",
    }),
  );
  assert.equal(missing.decision, "unknown");
  assert.deepEqual(missing.unknownKeys, ["aws:ec2InstanceSourceVPC", "aws:SourceVpc"]);
  assert.equal(evaluatePolicy(sameVpcScp, ctx({ ...instance, "aws:SourceVpc": "vpc-2" })).unknownKeys, undefined);
});

test("unknown keys: false AND unknown is false, true AND unknown is unknown; explicit deny wins over Allow", () => {
  const policy: PolicyDocument = {
    Statement: [
      { Effect: "Allow", Action: "*", Resource: "*" },
      {
        Sid: "D",
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: { NotIpAddress: { "aws:SourceIp": "192.0.2.0/24" }, Bool: { "aws:ViaAWSService": "false" } },
      },
    ],
  };
  assert.equal(
    evaluatePolicy(policy, ctx({ "aws:SourceIp": "192.0.2.1", "aws:ViaAWSService": "?unknown" })).decision,
    "not-denied",
  );
  const u = evaluatePolicy(policy, ctx({ "aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": "?unknown" }));
  assert.deepEqual([u.decision, u.statements], ["unknown", ["D"]]);
  const d = evaluatePolicy(policy, ctx({ "aws:SourceIp": "198.51.100.1", "aws:ViaAWSService": "false" }));
  assert.deepEqual([d.decision, d.allowed], ["denied", true], "the Allow applies too; the explicit deny wins");
});

test("Action and NotAction use IAM wildcards, case-insensitively; Resource other than * is unknown without an ARN", () => {
  assert.ok(wildcardMatch("s3:Get*", "S3:GETOBJECT", true));
  assert.ok(wildcardMatch("ec2:Describe?nstances", "ec2:DescribeInstances", true));
  assert.ok(!wildcardMatch("s3:Get*", "s3:PutObject", true));
  const p: PolicyDocument = {
    Statement: [{ Effect: "Deny", NotAction: ["sts:GetCallerIdentity", "s3:*"], Resource: "*" }],
  };
  assert.equal(evaluatePolicy(p, ctx({}, "s3:PutObject")).decision, "not-denied");
  assert.equal(evaluatePolicy(p, ctx({}, "ec2:RunInstances")).decision, "denied");
  const r: PolicyDocument = { Statement: [{ Effect: "Deny", Action: "*", Resource: "arn:aws:s3:::secret/*" }] };
  assert.equal(evaluatePolicy(r, ctx({})).decision, "unknown");
});

test("parsePolicy names the file and the problem", () => {
  assert.throws(() => parsePolicy([], "p.json"), /p\.json: not a JSON policy object/);
  assert.throws(
    () => parsePolicy({ Statement: [{ Effect: "Deny", Resource: "*" }] }, "p.json"),
    /Statement\[0\]: needs exactly one of Action and NotAction/,
  );
  assert.throws(
    () =>
      parsePolicy({ Statement: { Effect: "Deny", Action: "*", Condition: { NumericLessThan: { k: "1" } } } }, "p.json"),
    /operator NumericLessThan is not supported/,
  );
  assert.throws(
    () => parsePolicy({ Statement: { Effect: "Allow", Principal: "*", Action: "*" } }, "p.json"),
    /Principal/,
  );
  assert.equal(parsePolicy({ Statement: { Effect: "Deny", Action: "*" } }, "p.json").Statement.length, 1);
});
