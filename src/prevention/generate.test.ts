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

test("roles: a pattern selects by name; by default only roles instance credentials used", () => {
  const other = "arn:aws:iam::111122223333:role/admin";
  const calls = [call("198.51.100.1", {}, 1), call("192.0.2.1", { roleArn: other, instanceEvidence: undefined }, 2)];
  assert.deepEqual(
    generatePolicies({ calls, trail, flagged: none }).roles.map((r) => r.name),
    ["app-web"],
  );
  assert.deepEqual(
    generatePolicies({ calls, trail, flagged: none, anyRole: true }).roles.map((r) => r.name),
    ["admin", "app-web"],
  );
  assert.deepEqual(generatePolicies({ calls, trail, flagged: none, roles: ["adm*"], anyRole: true }).managed.cidrs, [
    "192.0.2.1/32",
  ]);
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
  assert.deepEqual(
    g2.leftOut.map((l) => [l.reason, l.source]),
    [
      ["suspect-session", "185.220.101.42"],
      ["flagged", "52.1.1.1"],
    ],
  );
});
