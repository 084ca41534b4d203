import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyFleet } from "../engine/state.js";
import type { Finding } from "../findings/finding.js";
import type { ApiCall, TrailKnowledge } from "./calls.js";
import { contextOf } from "./calls.js";
import { generatePolicies, policySize } from "./generate.js";
import { evaluatePolicy, parsePolicy } from "./iam-eval.js";

const ROLE = "arn:aws:iam::111122223333:role/app-web";

function call(source: string, extra: Partial<ApiCall> = {}, n = 0): ApiCall {
  return {
    eventId: `e-${source}-${n}-${extra.vpcEndpointId ?? ""}`,
    time: Date.parse("2026-11-01T00:00:00Z") + n * 1000,
    timeIso: "2026-11-01T00:00:00Z",
    account: "111122223333",
    region: "us-east-1",
    roleArn: extra.roleArn ?? ROLE,
    roleName: (extra.roleArn ?? ROLE).split("/").at(-1) ?? "",
    sessionArn: `arn:aws:sts::111122223333:assumed-role/app-web/i-0000000${n % 10}`,
    sessionName: `i-0000000${n % 10}`,
    action: "s3:GetObject",
    source,
    ...(/^[0-9a-f:.]+$/i.test(source) ? { ip: source } : {}),
    instanceEvidence: "yes",
    ...extra,
  };
}

const trail: TrailKnowledge = { instanceSessions: new Set(), endpointVpcs: new Map([["vpce-1", "vpc-1"]]) };
const none = () => undefined;

test("addresses: exact cover, ownNetworks and learned IPv6 subnets allowed as wholes (said so), flagged calls left out", () => {
  const fleet = emptyFleet();
  fleet.ipv6Blocks.set("subnet-1", { value: ["2001:db8:1:2::/64"], seen: 0 });
  fleet.egress.set("198.51.100.200", "111122223333");
  const flagged = (arn: string, source: string): Finding | undefined =>
    source === "185.220.101.42"
      ? ({ rule: "credential-ip-mismatch", id: "f1", principal: { arn } } as unknown as Finding)
      : undefined;
  const g = generatePolicies({
    calls: [
      call("198.51.100.10", {}, 1),
      call("198.51.100.11", {}, 2),
      call("203.0.113.77", {}, 3),
      call("2001:db8:1:2::abc", {}, 4),
      call("10.0.1.5", { vpcEndpointId: "vpce-1" }, 5),
      call("185.220.101.42", {}, 6),
      call("kms.amazonaws.com", { invokedBy: "kms.amazonaws.com" }, 7),
    ],
    trail,
    flagged,
    fleet,
    ownNetworks: ["203.0.113.0/24"],
  });
  assert.deepEqual(g.managed.cidrs, ["198.51.100.10/31", "203.0.113.0/24", "2001:db8:1:2::/64"]);
  assert.deepEqual(
    g.generalisations.map((x) => [x.address, x.network, x.why]),
    [
      ["2001:db8:1:2::abc", "2001:db8:1:2::/64", "ipv6-subnet"],
      ["203.0.113.77", "203.0.113.0/24", "ownNetworks"],
    ],
  );
  assert.deepEqual(g.endpoints, [{ id: "vpce-1", calls: 1, vpc: "vpc-1" }]);
  assert.deepEqual(g.vpcs, ["vpc-1"]);
  assert.deepEqual(g.unusedEgress, ["198.51.100.200"]);
  assert.deepEqual(
    g.leftOut.map((l) => [l.reason, l.source, l.calls]),
    [["flagged", "185.220.101.42", 1]],
  );
  const statements = g.managed.policy.Statement.map((s) => s.Sid);
  assert.deepEqual(statements, [
    "DenyPublicPathFromOtherAddresses",
    "DenyEndpointPathThroughOtherEndpoints",
    "DenyEndpointPathFromOtherVpcs",
  ]);
  // The generated policy itself: the thief denied, the fleet's paths not.
  const doc = parsePolicy(JSON.parse(JSON.stringify(g.managed.policy)), "generated");
  const verdict = (c: ApiCall) => evaluatePolicy(doc, contextOf(c, trail)).decision;
  assert.equal(verdict(call("185.220.101.42")), "denied");
  assert.equal(verdict(call("198.51.100.11")), "not-denied");
  assert.equal(verdict(call("203.0.113.200")), "not-denied", "the configured network as a whole");
  assert.equal(verdict(call("10.9.9.9", { vpcEndpointId: "vpce-1" })), "not-denied");
  assert.equal(verdict(call("10.0.1.5", { vpcEndpointId: "vpce-evil" })), "denied");
  assert.equal(verdict(call("kms.amazonaws.com", { invokedBy: "kms.amazonaws.com" })), "not-denied");
});

test("a policy over the size limit is widened, fewest added addresses first, and each merge is reported", () => {
  const calls = Array.from({ length: 40 }, (_, i) => call(`198.51.100.${i * 3}`, {}, i));
  const unlimited = generatePolicies({ calls, trail, flagged: none });
  assert.equal(unlimited.managed.widenings.length, 0);
  assert.equal(unlimited.managed.cidrs.length, 40);
  const limit = policySize(unlimited.managed.policy) - 200;
  const g = generatePolicies({ calls, trail, flagged: none, managedLimit: limit });
  assert.ok(g.managed.fits, `${g.managed.size} <= ${limit}`);
  assert.ok(g.managed.widenings.length > 0);
  assert.ok(g.managed.cidrs.length < 40);
  // Every address used is still allowed; the added ones are counted.
  const doc = parsePolicy(JSON.parse(JSON.stringify(g.managed.policy)), "fitted");
  for (const c of calls) assert.equal(evaluatePolicy(doc, contextOf(c, trail)).decision, "not-denied", c.source);
  for (const w of g.managed.widenings) assert.ok(w.addedAddresses > 0n);
  // A limit nothing can reach: reported as not fitting rather than widened to everything.
  const tiny = generatePolicies({ calls, trail, flagged: none, managedLimit: 100 });
  assert.equal(tiny.managed.fits, false);
});

test("roles: by default every workload role (EC2, ECS task, Lambda), never a service role, person or pipeline", () => {
  const arn = (name: string) => `arn:aws:iam::111122223333:role/${name}`;
  const session = (role: string, name: string) => `arn:aws:sts::111122223333:assumed-role/${role}/${name}`;
  const of = (role: string, name: string, source: string, n: number, extra: Partial<ApiCall> = {}) =>
    call(source, { roleArn: arn(role), sessionArn: session(role, name), instanceEvidence: undefined, ...extra }, n);
  const calls = [
    call("198.51.100.1", {}, 1),
    of("admin", "alice", "192.0.2.1", 2),
    of("ecs-task-api", "0f3c", "198.51.100.2", 3),
    of("fn-export", "fn-export", "198.51.100.3", 4),
    // Config's service role: the service calls from its own network, where aws:ViaAWSService is false.
    of("AWSConfigRole", "AWSConfig-Describe", "config.amazonaws.com", 5, { invokedBy: "config.amazonaws.com" }),
  ];
  const workloads: TrailKnowledge = {
    ...trail,
    workloadSessions: new Map([
      [session("ecs-task-api", "0f3c"), "ecs-task"],
      [session("fn-export", "fn-export"), "lambda"],
    ]),
  };
  assert.deepEqual(
    generatePolicies({ calls, trail: workloads, flagged: none }).roles.map((r) => r.name),
    ["app-web", "ecs-task-api", "fn-export"],
  );
  const g = generatePolicies({ calls, trail: workloads, flagged: none });
  assert.deepEqual(g.managed.cidrs, ["198.51.100.1/32", "198.51.100.2/32"], "the people's office is not learned");
  // The function's role has statements of its own (see the Lambda test).
  assert.deepEqual(g.lambdaRoles, [arn("fn-export")]);
  assert.deepEqual(g.lambdaAddresses, [{ address: "198.51.100.3", calls: 1 }]);
  assert.deepEqual(
    generatePolicies({ calls, trail: workloads, flagged: none, anyRole: true }).roles.map((r) => r.name),
    ["AWSConfigRole", "admin", "app-web", "ecs-task-api", "fn-export"],
  );
  assert.deepEqual(
    generatePolicies({ calls, trail: workloads, flagged: none, roles: ["adm*"], anyRole: true }).managed.cidrs,
    ["192.0.2.1/32"],
  );
});

test("a credential with findings teaches only corroborated paths, or its home when its flagged side is not the fleet's", () => {
  const finding = (arn: string, sourceIp: string, expectedIps: string[]) =>
    ({
      rule: "credential-ip-mismatch",
      id: `f-${sourceIp}`,
      principal: { arn },
      sourceIp,
      expectedIps,
    }) as unknown as Finding;
  const victim = (source: string, n: number) => ({
    ...call(source, {}, n),
    sessionArn: "arn:aws:sts::111122223333:assumed-role/app-web/i-victim",
  });
  const clean = (source: string, n: number) => ({
    ...call(source, {}, n),
    sessionArn: "arn:aws:sts::111122223333:assumed-role/app-web/i-clean",
  });
  const victimArn = "arn:aws:sts::111122223333:assumed-role/app-web/i-victim";
  // The thief called second: his address is flagged, the instance's home is kept on detection's word.
  const later = [finding(victimArn, "185.220.101.42", ["54.210.10.11"])];
  const g1 = generatePolicies({
    calls: [victim("54.210.10.11", 1), victim("185.220.101.42", 2), clean("54.210.10.99", 3)],
    trail,
    flagged: (arn, src) => later.find((f) => f.principal.arn === arn && f.sourceIp === src),
    openFindings: later,
  });
  assert.deepEqual(g1.managed.cidrs, ["54.210.10.11/32", "54.210.10.99/32"]);
  // The thief called first (his address is the home); the instance's own address, flagged, is the
  // NAT gateway a clean instance also uses: the home is left out, the NAT address kept.
  const first = [finding(victimArn, "52.1.1.1", ["185.220.101.42"])];
  const g2 = generatePolicies({
    calls: [victim("185.220.101.42", 1), victim("52.1.1.1", 2), clean("52.1.1.1", 3)],
    trail,
    flagged: (arn, src) => first.find((f) => f.principal.arn === arn && f.sourceIp === src),
    openFindings: first,
  });
  assert.deepEqual(g2.managed.cidrs, ["52.1.1.1/32"]);
  // The flagged NAT address is the fleet's: learned (not listed as left out), the thief's home not.
  assert.deepEqual(
    g2.leftOut.map((l) => [l.reason, l.source]),
    [["suspect-session", "185.220.101.42"]],
  );
});

/** Thief-first and its look-alikes: which side of a credential with findings teaches the policy. */
test("thief first on an instance with its own address: the side that outlived a key rotation is the holder's", () => {
  const victimArn = "arn:aws:sts::111122223333:assumed-role/app-web/i-victim";
  const at = (source: string, n: number, key: string, sessionArn = victimArn) => ({
    ...call(source, { accessKeyId: key }, n),
    sessionArn,
    eventId: `e-${sessionArn}-${n}`,
  });
  const finding = (sourceIp: string, expectedIps: string[]) =>
    ({
      rule: "credential-ip-mismatch",
      id: `f-${sourceIp}`,
      principal: { arn: victimArn, kind: "ec2-instance" },
      sourceIp,
      expectedIps,
      evidence: { accessKeyIds: ["ASIAKEY1"] },
    }) as unknown as Finding;
  const run = (calls: ApiCall[], findings: Finding[]) =>
    generatePolicies({
      calls,
      trail,
      flagged: (arn, src) => findings.find((f) => f.principal.arn === arn && f.sourceIp === src),
      openFindings: findings,
    });
  const judge = (g: ReturnType<typeof generatePolicies>, c: ApiCall) =>
    evaluatePolicy(parsePolicy(JSON.parse(JSON.stringify(g.managed.policy)), "g"), contextOf(c, trail)).decision;

  // Attack: the thief's copied key is used from 185.220.101.42 before the instance calls; detection
  // took his address for the home and flagged the instance's own public address 54.210.10.50, which
  // no other session shares. The instance keeps calling with the next key after the rotation.
  const thief = [at("185.220.101.42", 1, "ASIAKEY1"), at("185.220.101.42", 2, "ASIAKEY1")];
  const holder = [
    at("54.210.10.50", 3, "ASIAKEY1"),
    at("54.210.10.50", 4, "ASIAKEY2"),
    at("54.210.10.50", 5, "ASIAKEY2"),
  ];
  const first = [finding("54.210.10.50", ["185.220.101.42"])];
  const g = run([...thief, ...holder], first);
  assert.deepEqual(g.managed.cidrs, ["54.210.10.50/32"]);
  for (const c of thief) assert.equal(judge(g, c), "denied");
  for (const c of holder) assert.equal(judge(g, c), "not-denied");
  assert.deepEqual(
    g.leftOut.map((l) => [l.reason, l.source]),
    [["suspect-session", "185.220.101.42"]],
  );
  // The holder also calls through a VPC endpoint nobody else uses (neither home nor flagged): that
  // path outlived the rotation on the holder's side, so it is kept too.
  const viaEndpoint = [
    { ...at("10.0.7.7", 9, "ASIAKEY1"), vpcEndpointId: "vpce-9" },
    { ...at("10.0.7.7", 10, "ASIAKEY2"), vpcEndpointId: "vpce-9" },
  ];
  const gEndpoint = run([...thief, ...holder, ...viaEndpoint], first);
  assert.deepEqual(
    gEndpoint.endpoints.map((e) => e.id),
    ["vpce-9"],
  );
  assert.deepEqual(gEndpoint.managed.cidrs, ["54.210.10.50/32"]);

  // Look-alike: a new instance whose first call comes from a NAT address nothing else has used yet
  // (one key, no finding on it): a clean credential teaches its path.
  const fresh = at("52.9.9.9", 6, "ASIAKEY9", "arn:aws:sts::111122223333:assumed-role/app-web/i-fresh");
  const g2 = run([...thief, ...holder, fresh], first);
  assert.deepEqual(g2.managed.cidrs, ["52.9.9.9/32", "54.210.10.50/32"]);
  assert.equal(judge(g2, fresh), "not-denied");

  // Look-alike: the thief called later and kept re-copying the keys (his side outlived a rotation
  // too): detection's home, which also outlived it, is the holder's; the flagged side stays out.
  const later = [finding("185.220.101.42", ["54.210.10.50"])];
  const persistent = [at("185.220.101.42", 7, "ASIAKEY1"), at("185.220.101.42", 8, "ASIAKEY2")];
  const g3 = run([...holder, ...persistent], later);
  assert.deepEqual(g3.managed.cidrs, ["54.210.10.50/32"]);
  for (const c of persistent) assert.equal(judge(g3, c), "denied");

  // No rotation in the logs (a short-lived credential): detection's home, as before.
  const short = [at("54.210.10.50", 3, "ASIAKEY1"), at("185.220.101.42", 4, "ASIAKEY1")];
  assert.deepEqual(run(short, later).managed.cidrs, ["54.210.10.50/32"]);
});

test("Lambda: one function's environments share a session name; a theft of one key taints only that key", () => {
  const role = "arn:aws:iam::111122223333:role/fn-export";
  const sessionArn = "arn:aws:sts::111122223333:assumed-role/fn-export/fn-export";
  const lambdaTrail: TrailKnowledge = { ...trail, workloadSessions: new Map([[sessionArn, "lambda"]]) };
  const env = (source: string, key: string, n: number) => ({
    ...call(source, { roleArn: role, instanceEvidence: undefined, accessKeyId: key }, n),
    sessionArn,
    eventId: `e-${key}-${n}`,
  });
  const stolen = {
    rule: "credential-ip-mismatch",
    id: "f-lambda",
    principal: { arn: sessionArn, kind: "lambda", accessKeyId: "ASIAENV1" },
    sourceIp: "203.0.113.66",
    expectedIps: ["198.18.20.5"],
    evidence: { accessKeyIds: ["ASIAENV1"] },
  } as unknown as Finding;
  const calls = [
    env("198.18.20.5", "ASIAENV1", 1),
    env("203.0.113.66", "ASIAENV1", 2),
    env("198.18.21.9", "ASIAENV2", 3),
  ];
  const g = generatePolicies({
    calls,
    trail: lambdaTrail,
    flagged: (arn, src) => (arn === sessionArn && src === "203.0.113.66" ? stolen : undefined),
    openFindings: [stolen],
  });
  // The other environment (its own key and address) is clean: its address is learned too.
  assert.deepEqual(
    g.lambdaAddresses.map((a) => a.address),
    ["198.18.20.5", "198.18.21.9"],
  );
  assert.deepEqual(
    g.leftOut.map((l) => [l.reason, l.source]),
    [["flagged", "203.0.113.66"]],
  );
  const doc = parsePolicy(JSON.parse(JSON.stringify(g.managed.policy)), "g");
  const verdict = (c: ApiCall) => evaluatePolicy(doc, contextOf(c, lambdaTrail));
  // The thief's copy of the keys carries lambda:SourceFunctionArn: denied by the function's statement.
  assert.deepEqual(verdict(calls[1] as ApiCall).statements, ["DenyLambdaCodePublicPathFromOtherAddresses"]);
  assert.equal(verdict(calls[2] as ApiCall).decision, "not-denied");
  // Lambda polling a queue for the function with its role, from Lambda's own network: AWS gives
  // that call aws:ViaAWSService false and Lambda's address (CloudTrail shows neither, so the
  // context is written out here), and no lambda:SourceFunctionArn. The function's statements need
  // the key and the others leave the function's role out: not denied. The same call by an instance
  // role is denied.
  const own = contextOf({ ...env("lambda.amazonaws.com", "ASIAENV3", 4), action: "sqs:ReceiveMessage" }, lambdaTrail);
  const lambdaOwn = { ...own, keys: new Map(own.keys) };
  lambdaOwn.keys.set("aws:viaawsservice", { kind: "present", values: ["false"] });
  lambdaOwn.keys.set("aws:sourceip", { kind: "present", values: ["52.94.1.1"] });
  lambdaOwn.keys.delete("aws:sourcevpce");
  lambdaOwn.keys.delete("aws:sourcevpc");
  lambdaOwn.keys.delete("aws:vpcsourceip");
  assert.equal(lambdaOwn.keys.has("lambda:sourcefunctionarn"), false);
  assert.equal(evaluatePolicy(doc, lambdaOwn).decision, "not-denied");
  lambdaOwn.keys.set("aws:principalarn", { kind: "present", values: [ROLE] });
  assert.equal(evaluatePolicy(doc, lambdaOwn).decision, "denied");
});
