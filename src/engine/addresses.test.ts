/**
 * Address knowledge learned from the logs (docs/ARCHITECTURE.md §3, "Binding rules"): each attack
 * next to its legitimate look-alike, run through the real pipeline with an in-memory store.
 * - IPv6 of dual-stack instances (RunInstances, CreateNetworkInterface, AssignIpv6Addresses, subnet
 *   IPv6 blocks) and the other address family "inside AWS";
 * - a NAT gateway replaced: many sessions of an account moving to its new, known egress address;
 * - address changes made with the very credential being judged.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import type { Finding } from "../findings/finding.js";
import { runScan } from "../pipeline/scan.js";
import { ACCOUNT, at, call, ec2Issuance, userCall } from "../test-helpers/records.js";
import { scanRecords, scratchDirs, writeLogFiles } from "../test-helpers/scan.js";
import { toEngineEvent } from "./event.js";

const scratchDir = scratchDirs();

const I = "i-0aaaaaaaaaaaaaaa1";
const K = "ASIAADDRKEYAAAAAAAA1";
const HOME = "52.95.10.20";
const THIEF = "67.178.52.232";
const OTHER_ACCOUNT = "444455556666";

function mismatches(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.rule === "credential-ip-mismatch");
}
function ips(findings: readonly Finding[]): string[] {
  return mismatches(findings)
    .map((f) => f.sourceIp)
    .sort();
}

/** AWS's ip-ranges.json with us-east-1's EC2 ranges (IPv4 and IPv6), written to a scratch folder. */
function ipRangesFile(): string {
  const path = join(scratchDir(), "ip-ranges.json");
  writeFileSync(
    path,
    JSON.stringify({
      syncToken: "1",
      createDate: "2026-11-01-00-00-00",
      prefixes: [{ ip_prefix: "52.95.0.0/16", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" }],
      ipv6_prefixes: [
        { ipv6_prefix: "2600:1f18::/36", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
      ],
    }),
  );
  return path;
}

/** RunInstances as CloudTrail logs it: the instance, its subnet/VPC and its interface's IPv6 addresses. */
function runInstances(
  instanceId: string,
  time: string,
  o: { ipv6?: string[]; prefixes?: string[]; eni?: string; subnet?: string; vpc?: string } = {},
): CloudTrailRecord {
  const ni: Record<string, unknown> = {
    networkInterfaceId: o.eni ?? `eni-${instanceId.slice(2)}`,
    ...(o.subnet ? { subnetId: o.subnet } : {}),
    ...(o.vpc ? { vpcId: o.vpc } : {}),
    ...(o.ipv6 ? { ipv6AddressesSet: { items: o.ipv6.map((ipv6Address) => ({ ipv6Address })) } } : {}),
    ...(o.prefixes ? { ipv6PrefixSet: { items: o.prefixes.map((ipv6Prefix) => ({ ipv6Prefix })) } } : {}),
  };
  return userCall(
    "RunInstances",
    time,
    { instancesSet: { items: [{ minCount: 1, maxCount: 1 }] } },
    {
      instancesSet: {
        items: [
          {
            instanceId,
            ...(o.subnet ? { subnetId: o.subnet } : {}),
            ...(o.vpc ? { vpcId: o.vpc } : {}),
            networkInterfaceSet: { items: [ni] },
          },
        ],
      },
    },
  );
}

/** A record of another account (the same builders, re-addressed). */
function inAccount(r: CloudTrailRecord, account: string): CloudTrailRecord {
  return { ...r, recipientAccountId: account, userIdentity: { ...r.userIdentity, accountId: account } };
}

describe("IPv6 of dual-stack instances", () => {
  const OWN_V6 = "2600:1f18:4a1:2b00::10";
  const THIEF_V6 = "2600:1f18:99:1::66"; // an EC2 instance of anyone, in the same region's EC2 range

  test("attack: a call from an IPv6 address that merely lies in the region's EC2 ranges is a finding", async () => {
    const { findings } = await scanRecords(
      [
        runInstances(I, at(-2), { ipv6: [OWN_V6] }),
        ec2Issuance(I, K, at(0)),
        call(I, K, HOME, at(1)),
        call(I, K, THIEF_V6, at(3)),
      ],
      { ipRangesPath: ipRangesFile() },
    );
    const m = mismatches(findings);
    assert.deepEqual(
      m.map((f) => [f.sourceIp, f.network, f.severity]),
      [[THIEF_V6, "aws", "high"]],
    );
  });

  test("look-alike: the instance's own IPv6 address from RunInstances is expected, however written", async () => {
    const { findings } = await scanRecords(
      [
        runInstances(I, at(-2), { ipv6: [OWN_V6] }),
        ec2Issuance(I, K, at(0)),
        call(I, K, HOME, at(1)),
        call(I, K, "2600:1f18:04a1:2b00:0:0:0:10", at(3)),
        call(I, K, HOME, at(4)),
      ],
      { ipRangesPath: ipRangesFile() },
    );
    assert.deepEqual(mismatches(findings), []);
  });

  test("without ip-ranges.json or config the instance's own IPv6 is expected and another is not", async () => {
    const { findings } = await scanRecords([
      runInstances(I, at(-2), { ipv6: [OWN_V6] }),
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, OWN_V6, at(3)),
      call(I, K, THIEF_V6, at(4)),
    ]);
    assert.deepEqual(ips(findings), [THIEF_V6]);
  });

  test("another instance's IPv6 address is not this instance's", async () => {
    const OTHER = "i-0bbbbbbbbbbbbbbb2";
    const { findings } = await scanRecords([
      runInstances(I, at(-3), { ipv6: [OWN_V6] }),
      runInstances(OTHER, at(-2), { ipv6: [THIEF_V6] }),
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, THIEF_V6, at(3)),
    ]);
    assert.deepEqual(ips(findings), [THIEF_V6]);
  });

  test("prefixes: AssignIpv6Addresses on the instance's interface (any list shape) covers its prefix only", async () => {
    const eni = "eni-0ccccccccccccccc3";
    const { findings } = await scanRecords([
      runInstances(I, at(-5), { eni }),
      userCall(
        "AssignIpv6Addresses",
        at(-4),
        { networkInterfaceId: eni, ipv6PrefixCount: 1 },
        { networkInterfaceId: eni, assignedIpv6PrefixSet: { items: ["2600:1f18:4a1:2b00:7::/80"] } },
      ),
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, "2600:1f18:4a1:2b00:7::abcd", at(40)), // a pod's address in the delegated prefix
      call(I, K, "2600:1f18:4a1:2b00:8::1", at(41)), // outside it
    ]);
    assert.deepEqual(ips(findings), ["2600:1f18:4a1:2b00:8::1"]);
  });

  test("subnet IPv6 block: AssociateSubnetCidrBlock for the instance's subnet (from RunInstances)", async () => {
    const subnet = "subnet-0ddddddddddddddd4";
    const records = [
      runInstances(I, at(-5), { subnet, vpc: "vpc-0eeeeeeeeeeeeeee5" }),
      userCall(
        "AssociateSubnetCidrBlock",
        at(-10),
        { subnetId: subnet, ipv6CidrBlock: "2600:1f18:4a1:2b01::/64" },
        {
          subnetId: subnet,
          ipv6CidrBlockAssociation: {
            associationId: "subnet-cidr-assoc-1",
            ipv6CidrBlock: "2600:1f18:4a1:2b01::/64",
            ipv6CidrBlockState: { state: "associating" },
          },
        },
      ),
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, "2600:1f18:4a1:2b01::42", at(40)),
      call(I, K, "2600:1f18:4a1:2b02::42", at(41)), // the next subnet's block: not this instance's
    ];
    const { findings } = await scanRecords(records);
    assert.deepEqual(ips(findings), ["2600:1f18:4a1:2b02::42"]);
    const reversed = await scanRecords([...records].reverse());
    assert.deepEqual(ips(reversed.findings), ["2600:1f18:4a1:2b02::42"], "the order records are read in is irrelevant");
  });

  test("an interface created with IPv6 and attached later counts for its instance", async () => {
    const eni = "eni-0fffffffffffffff6";
    const { findings } = await scanRecords([
      userCall(
        "CreateNetworkInterface",
        at(-20),
        { subnetId: "subnet-1", ipv6AddressCount: 1 },
        {
          networkInterface: {
            networkInterfaceId: eni,
            subnetId: "subnet-1",
            vpcId: "vpc-1",
            ipv6AddressesSet: { items: [{ ipv6Address: OWN_V6 }] },
          },
        },
      ),
      userCall("AttachNetworkInterface", at(-10), { networkInterfaceId: eni, instanceId: I, deviceIndex: 1 }),
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, OWN_V6, at(60)), // long after the attachment's learning window
    ]);
    assert.deepEqual(mismatches(findings), []);
  });

  test("home on the instance's own IPv6: IPv4 from the account's NAT gateway is expected, another EC2 address is not", async () => {
    const { findings } = await scanRecords(
      [
        runInstances(I, at(-3), { ipv6: [OWN_V6], vpc: "vpc-1" }),
        userCall(
          "CreateNatGateway",
          at(-60),
          { subnetId: "subnet-pub", allocationId: "eipalloc-9" },
          { natGateway: { vpcId: "vpc-1", natGatewayAddressSet: { items: [{ publicIp: "3.80.9.9" }] } } },
        ),
        ec2Issuance(I, K, at(0)),
        call(I, K, OWN_V6, at(1)),
        call(I, K, "3.80.9.9", at(40)),
        call(I, K, "52.95.77.77", at(41)), // in the region's EC2 range, nobody's egress we know
      ],
      { ipRangesPath: ipRangesFile() },
    );
    assert.deepEqual(ips(findings), ["52.95.77.77"]);
  });

  test("configured ownNetworks still admit the other family once (a second is a finding)", async () => {
    const { findings } = await scanRecords(
      [
        ec2Issuance(I, K, at(0)),
        call(I, K, HOME, at(1)),
        call(I, K, "2600:1f18:4a1:2b00::1", at(2)),
        call(I, K, "2600:1f18:4a1:2b00::2", at(3)),
      ],
      { yaml: "ownNetworks: ['2600:1f18:4a1::/48']" },
    );
    assert.deepEqual(
      mismatches(findings).map((f) => [f.sourceIp, f.severity]),
      // High, not low: the home lies outside your networks while this address is inside them.
      [["2600:1f18:4a1:2b00::2", "high"]],
    );
  });
});

describe("NAT gateway replacement", () => {
  const OLD_NAT = "3.80.1.1";
  const NEW_NAT = "3.80.9.9";
  const VPC = "vpc-0123abcd0123abcd0";
  const fleet = ["i-0100000000000000a", "i-0200000000000000b", "i-0300000000000000c"];
  const keyOf = (i: number) => `ASIANATKEY${String(i).padStart(10, "0")}`;
  const createNat = (account = ACCOUNT) =>
    inAccount(
      userCall(
        "CreateNatGateway",
        at(55),
        { subnetId: "subnet-pub", allocationId: "eipalloc-0new" },
        {
          // As CloudTrail logs it: wrapped, and while pending without the public address (resolved
          // through the allocation seen in AllocateAddress).
          CreateNatGatewayResponse: {
            natGateway: {
              natGatewayId: "nat-0new",
              subnetId: "subnet-pub",
              vpcId: VPC,
              state: "pending",
              natGatewayAddressSet: { item: { allocationId: "eipalloc-0new", networkInterfaceId: "eni-nat" } },
            },
          },
        },
      ),
      account,
    );
  const allocate = (account = ACCOUNT) =>
    inAccount(
      userCall("AllocateAddress", at(50), { domain: "vpc" }, { publicIp: NEW_NAT, allocationId: "eipalloc-0new" }),
      account,
    );
  /** Every instance calls from the old NAT, then from the new one a few minutes after the switch. */
  function fleetMoving(members = fleet): CloudTrailRecord[] {
    return members.flatMap((id, i) => [
      runInstances(id, at(-5), { vpc: VPC }),
      ec2Issuance(id, keyOf(i), at(0)),
      call(id, keyOf(i), OLD_NAT, at(2 + i)),
      call(id, keyOf(i), NEW_NAT, at(62 + i)),
      call(id, keyOf(i), NEW_NAT, at(80 + i)),
    ]);
  }

  test("look-alike: the fleet moving together to the account's new NAT gateway is expected", async () => {
    const { findings } = await scanRecords([allocate(), createNat(), ...fleetMoving()]);
    assert.deepEqual(mismatches(findings), []);
  });

  test("the same, streamed in small files with a checkpoint after each, gives the same result", async () => {
    const dir = scratchDir();
    const records = [allocate(), createNat(), ...fleetMoving()].sort((a, b) =>
      String(a.eventTime).localeCompare(String(b.eventTime)),
    );
    writeLogFiles(
      dir,
      records.map((r) => [r]),
    );
    const result = await runScan({
      statePath: ":memory:",
      paths: [dir],
      minBuffered: 0,
      latenessMs: 60_000,
      checkpointObjects: 1,
    });
    assert.deepEqual(mismatches(result.findings), []);
  });

  test("a finding on a move that is held for its window is not retracted while undecided", async () => {
    const [id] = fleet;
    const state = join(scratchDir(), "state.sqlite");
    const first = scratchDir();
    // Scan 1: the instance moves to an address no log ties to its account yet: a finding.
    writeLogFiles(first, [fleetMoving([id as string]).filter((r) => r.eventTime !== at(80))]);
    const before = await runScan({ statePath: state, paths: [first] });
    assert.deepEqual(ips(before.findings), [NEW_NAT]);
    // Scan 2: the NAT gateway's records arrive, then more calls from the new address; checkpoints
    // fall inside the move's window (30 minutes after 62), and no other instance moves.
    const second = scratchDir();
    writeLogFiles(second, [
      [allocate(), createNat()],
      [call(id as string, keyOf(0), NEW_NAT, at(64))],
      [call(id as string, keyOf(0), NEW_NAT, at(70))],
    ]);
    const after = await runScan({
      statePath: state,
      paths: [second],
      minBuffered: 0,
      latenessMs: 60_000,
      checkpointObjects: 1,
    });
    assert.deepEqual(
      after.findings.filter((f) => f.status === "retracted"),
      [],
      "held is undecided, not explained: no retraction printed (then reopened) while the window runs",
    );
    assert.equal(after.summary.findings.retracted, 0);
  });

  test("attack: one credential moving alone to the account's egress address is a finding", async () => {
    const { findings } = await scanRecords([allocate(), createNat(), ...fleetMoving(fleet.slice(0, 1))]);
    assert.deepEqual(ips(findings), [NEW_NAT]);
  });

  test("attack: the fleet moving to an address no log says is the account's is a finding per instance", async () => {
    const { findings } = await scanRecords(fleetMoving());
    assert.deepEqual(ips(findings), [NEW_NAT, NEW_NAT, NEW_NAT]);
  });

  test("attack: moving to another account's NAT gateway is a finding per instance", async () => {
    const { findings } = await scanRecords([allocate(OTHER_ACCOUNT), createNat(OTHER_ACCOUNT), ...fleetMoving()]);
    assert.deepEqual(ips(findings), [NEW_NAT, NEW_NAT, NEW_NAT]);
  });

  test("attack: a credential moving to a thief while the fleet moves to the new NAT is still a finding", async () => {
    const records = fleetMoving();
    const stolen = records.findIndex((r) => r.sourceIPAddress === NEW_NAT);
    records[stolen] = { ...(records[stolen] as CloudTrailRecord), sourceIPAddress: THIEF };
    const { findings } = await scanRecords([allocate(), createNat(), ...records]);
    assert.deepEqual(ips(findings), [THIEF]);
  });
});

describe("address changes made with the credential being judged", () => {
  const NEW = "54.10.20.30";
  const associate = { instanceId: I, allocationId: "eipalloc-1" };
  const ADMIN_KEY = "ASIAADMINKEYAAAAAAA9";

  test("look-alike: an admin role associating the instance's Elastic IP teaches its new address", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call("alice", ADMIN_KEY, "198.51.100.10", at(10), {
        role: "admin",
        delivery: null,
        name: "AssociateAddress",
        requestParameters: associate,
        responseElements: { _return: true, associationId: "eipassoc-1" },
      }),
      call(I, K, NEW, at(12)),
    ]);
    assert.deepEqual(mismatches(findings), []);
  });

  test("attack: AssociateAddress made with the stolen instance credential from the thief's address", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, THIEF, at(10), {
        name: "AssociateAddress",
        requestParameters: associate,
        responseElements: { _return: true, associationId: "eipassoc-1" },
      }),
      call(I, K, THIEF, at(11)),
    ]);
    assert.deepEqual(ips(findings), [THIEF]);
  });

  test("attack: StartInstances with the stolen credential legitimizes neither the thief nor his next address", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, THIEF, at(10), {
        name: "StartInstances",
        requestParameters: { instancesSet: { items: [{ instanceId: I }] } },
      }),
      call(I, K, "67.178.52.233", at(11)),
    ]);
    assert.deepEqual(ips(findings), [THIEF, "67.178.52.233"]);
  });

  test("attack: a change made by another principal from the very address it would teach does not vouch", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call("helper", ADMIN_KEY, THIEF, at(10), {
        role: "admin",
        delivery: null,
        name: "AssociateAddress",
        requestParameters: associate,
      }),
      call(I, K, THIEF, at(11)),
    ]);
    assert.deepEqual(ips(findings), [THIEF]);
  });

  test("look-alike: the instance associating its own Elastic IP from its home address", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1)),
      call(I, K, HOME, at(10), {
        name: "AssociateAddress",
        requestParameters: associate,
        responseElements: { _return: true, associationId: "eipassoc-1" },
      }),
      call(I, K, NEW, at(11)),
    ]);
    assert.deepEqual(mismatches(findings), []);
  });
});

describe("address knowledge extracted from EC2 records", () => {
  const networkOf = (r: CloudTrailRecord) => toEngineEvent(r)?.addressChange?.network;

  test("RunInstances: per instance its IPv6 addresses, prefixes, subnet and VPC", () => {
    const n = networkOf(
      runInstances(I, at(0), {
        ipv6: ["2600:1f18::1"],
        prefixes: ["2600:1f18:0:1::/80"],
        subnet: "subnet-1",
        vpc: "vpc-1",
      }),
    );
    assert.deepEqual(n?.ipv6, [
      [I, "2600:1f18::1"],
      [I, "2600:1f18:0:1::/80"],
    ]);
    assert.deepEqual(n?.placement, [
      [I, "subnet-1"],
      [I, "vpc-1"],
    ]);
  });

  test("CreateNatGateway with the public address, bare shape; AllocateAddress; AssociateAddress by address", () => {
    const nat = networkOf(
      userCall(
        "CreateNatGateway",
        at(0),
        { subnetId: "subnet-pub", allocationId: "eipalloc-1" },
        { natGateway: { vpcId: "vpc-1", natGatewayAddressSet: { items: [{ publicIp: "3.80.9.9" }] } } },
      ),
    );
    assert.deepEqual(nat?.egress, [{ address: "3.80.9.9", allocationId: "eipalloc-1", vpcId: "vpc-1" }]);
    const allocate = networkOf(
      userCall("AllocateAddress", at(0), {}, { publicIp: "3.80.1.2", allocationId: "eipalloc-2" }),
    );
    assert.deepEqual(allocate?.egress, [{ address: "3.80.1.2", allocationId: "eipalloc-2" }]);
    const associate = networkOf(userCall("AssociateAddress", at(0), { instanceId: I, publicIp: "3.80.1.3" }));
    assert.deepEqual(associate?.egress, [{ address: "3.80.1.3" }]);
  });

  test("only IPv6 literals are taken; malformed prefixes and other strings are not", () => {
    const n = networkOf(
      userCall(
        "AssignIpv6Addresses",
        at(0),
        { networkInterfaceId: "eni-1", ipv6Addresses: ["2600:1f18::5", "not-an-address", "10.0.0.1"] },
        { networkInterfaceId: "eni-1", assignedIpv6Addresses: ["2600:1f18::6", "2600:1f18::/129", "__proto__"] },
      ),
    );
    assert.deepEqual(n?.ipv6, [
      ["eni-1", "2600:1f18::5"],
      ["eni-1", "2600:1f18::6"],
    ]);
  });
});
