/**
 * VPC endpoints and private addresses (docs/ARCHITECTURE.md §3, binding rules): the attacks an
 * informed thief would try, each next to the legitimate pattern it imitates. Hand-made CloudTrail
 * with known ground truth, run through the real pipeline (in-memory store) unless the point is the
 * order events reach the engine in, where the engine is driven directly.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { defaultConfig, parseConfig } from "../config/config.js";
import type { Finding } from "../findings/finding.js";
import { NetworkInventory } from "../net/inventory.js";
import { ACCOUNT, at, call, ec2Issuance, userCall } from "../test-helpers/records.js";
import { scanRecords } from "../test-helpers/scan.js";
import { evaluateLifetime } from "./bindings.js";
import { Engine } from "./engine.js";
import { compareEvents, type EngineEvent, toEngineEvent } from "./event.js";
import { decodeFleet, emptyFleet, encodeFleet } from "./state.js";

const THIEF_ACCOUNT = "999988887777";
const ORG_ACCOUNT = "444455556666";
const FLEET_VPCE = "vpce-0f1ee7000000000001";
const THIEF_VPCE = "vpce-0bad0000000000001";
const SHARED_VPCE = "vpce-05a4ed0000000000001";
const THIEF_IP = "67.178.52.232";
const NAT = "52.95.255.121";

function mismatches(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.rule === "credential-ip-mismatch");
}

/** Instance `n` of a small fleet: its id, key and private address. */
function member(n: number): { id: string; key: string; priv: string } {
  const hex = n.toString(16).padStart(4, "0");
  return { id: `i-0aaaaaaaaaaaa${hex}`, key: `ASIAFLEET${hex}0000000`, priv: `10.0.1.${10 + n}` };
}

/** An S3 read through an endpoint. */
function viaEndpoint(
  m: { id: string; key: string },
  ip: string,
  minute: number,
  vpce: string,
  vpceAccount?: string,
): CloudTrailRecord {
  return call(m.id, m.key, ip, at(minute), {
    source: "s3.amazonaws.com",
    name: "GetObject",
    vpce,
    ...(vpceAccount ? { vpceAccount } : {}),
  });
}

/** Three instances whose credentials a thief uses through his own endpoint after they called from home. */
function stolenThroughThiefEndpoint(vpceAccount: string | undefined): CloudTrailRecord[] {
  const records: CloudTrailRecord[] = [];
  for (const n of [1, 2, 3]) {
    const m = member(n);
    records.push(ec2Issuance(m.id, m.key, at(0)), call(m.id, m.key, NAT, at(1)));
    records.push(viaEndpoint(m, m.priv, 2, FLEET_VPCE, ACCOUNT));
    // The thief calls services the instance never used, so no "change of endpoint" gives him away.
    for (const [minute, source, name] of [
      [30, "sts.amazonaws.com", "GetCallerIdentity"],
      [31, "secretsmanager.amazonaws.com", "ListSecrets"],
    ] as const) {
      records.push(
        call(m.id, m.key, `172.31.7.${n}`, at(minute), {
          source,
          name,
          vpce: THIEF_VPCE,
          ...(vpceAccount ? { vpceAccount } : {}),
        }),
      );
    }
  }
  return records;
}

describe("attacker-owned VPC endpoints", () => {
  test("attack: three stolen credentials through one endpoint of a foreign account are all flagged", async () => {
    const { findings } = await scanRecords(stolenThroughThiefEndpoint(THIEF_ACCOUNT));
    const m = mismatches(findings);
    assert.deepEqual(m.map((f) => f.principal.instanceId).sort(), [member(1).id, member(2).id, member(3).id].sort());
    for (const f of m) {
      assert.equal(f.event.vpcEndpointId, THIEF_VPCE);
      assert.match(f.reason, new RegExp(`not known to be yours \\(owner ${THIEF_ACCOUNT}\\)`));
    }
  });

  test("attack: the stolen sessions cannot vouch for each other when the owner is not logged", async () => {
    // Before the fix, each of the three counted the other two as "the fleet" and all were accepted.
    const { findings } = await scanRecords(stolenThroughThiefEndpoint(undefined));
    const m = mismatches(findings);
    assert.equal(m.length, 3);
    for (const f of m)
      assert.match(f.reason, /through VPC endpoint vpce-0bad0000000000001, which is not known to be yours/);
  });

  test("attack: a foreign endpoint stays foreign however many instances reach it first", async () => {
    // Vouching is only for endpoints whose owner is not logged: a named foreign owner needs evidence.
    const records: CloudTrailRecord[] = [];
    for (const n of [1, 2, 3, 4]) {
      const m = member(n);
      records.push(ec2Issuance(m.id, m.key, at(0)), viaEndpoint(m, m.priv, 1, THIEF_VPCE, THIEF_ACCOUNT));
    }
    assert.equal(mismatches((await scanRecords(records)).findings).length, 4);
  });

  test("attack: a role the thief assumes in his own account does not make his account the fleet's", async () => {
    const m = member(1);
    const assumeOwn = call(m.id, m.key, THIEF_IP, at(20), {
      source: "sts.amazonaws.com",
      name: "AssumeRole",
      requestParameters: { roleArn: `arn:aws:iam::${THIEF_ACCOUNT}:role/loot`, roleSessionName: "x" },
      responseElements: {
        credentials: {
          accessKeyId: "ASIATHIEFOWNROLE0001",
          sessionToken: "FAKE",
          expiration: "Nov 1, 2026 6:00:00 AM",
        },
        assumedRoleUser: { arn: `arn:aws:sts::${THIEF_ACCOUNT}:assumed-role/loot/x` },
      },
    });
    const { findings } = await scanRecords([
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      assumeOwn,
      call(m.id, m.key, "172.31.7.1", at(30), {
        source: "sts.amazonaws.com",
        name: "GetCallerIdentity",
        vpce: THIEF_VPCE,
        vpceAccount: THIEF_ACCOUNT,
      }),
    ]);
    assert.ok(mismatches(findings).some((f) => f.event.vpcEndpointId === THIEF_VPCE));
  });

  test("look-alike: the fleet's endpoint in its own account, used by many instances, is quiet", async () => {
    const records: CloudTrailRecord[] = [];
    for (const n of [1, 2, 3, 4, 5]) {
      const m = member(n);
      records.push(ec2Issuance(m.id, m.key, at(0)), call(m.id, m.key, NAT, at(1)));
      for (const minute of [2, 20, 40]) records.push(viaEndpoint(m, m.priv, minute, FLEET_VPCE, ACCOUNT));
    }
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("look-alike: an endpoint without owner field that instances reach first is the fleet's", async () => {
    const records: CloudTrailRecord[] = [];
    for (const n of [1, 2, 3]) {
      const m = member(n);
      records.push(ec2Issuance(m.id, m.key, at(0)), viaEndpoint(m, m.priv, 1, FLEET_VPCE));
      records.push(call(m.id, m.key, NAT, at(5)));
    }
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("look-alike: another account of the organisation listed in config accounts is yours", async () => {
    const m = member(1);
    const records = [
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      viaEndpoint(m, m.priv, 2, SHARED_VPCE, ORG_ACCOUNT),
    ];
    assert.deepEqual((await scanRecords(records, { yaml: `accounts: ["${ACCOUNT}", "${ORG_ACCOUNT}"]` })).findings, []);
    assert.equal(mismatches((await scanRecords(records)).findings).length, 1, "without it: no positive evidence");
  });

  test("look-alike: an account the trail is about (its events are in the logs) is yours", async () => {
    const m = member(1);
    const other = member(9);
    const records = [
      ec2Issuance(other.id, other.key, at(0), { account: ORG_ACCOUNT }),
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      viaEndpoint(m, m.priv, 2, SHARED_VPCE, ORG_ACCOUNT),
    ];
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("look-alike: a shared-services endpoint created by CreateVpcEndpoint in the logs (real nested form)", async () => {
    const m = member(1);
    const create = userCall(
      "CreateVpcEndpoint",
      at(-60),
      { CreateVpcEndpointRequest: { VpcId: "vpc-1", ServiceName: "com.amazonaws.us-east-1.s3" } },
      {
        CreateVpcEndpointResponse: {
          xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/",
          vpcEndpoint: { vpcEndpointId: SHARED_VPCE, ownerId: ORG_ACCOUNT, vpcEndpointType: "Interface" },
          requestId: "9b1f7a10-0000-4000-8000-000000000001",
        },
      },
    );
    const records = [
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      viaEndpoint(m, m.priv, 2, SHARED_VPCE, ORG_ACCOUNT),
    ];
    assert.deepEqual((await scanRecords([create, ...records])).findings, []);
  });

  test("CreateVpcEndpoint is read in its nested and flat response forms", () => {
    const forms: Record<string, unknown>[] = [
      { CreateVpcEndpointResponse: { vpcEndpoint: { vpcEndpointId: "vpce-0nested" } } },
      { vpcEndpoint: { vpcEndpointId: "vpce-0flat" } },
      { CreateVpcEndpointResponse: { vpcEndpointId: "vpce-0wrappedflat" } },
    ];
    const ids = forms.map(
      (resp) => toEngineEvent(userCall("CreateVpcEndpoint", at(0), {}, resp))?.addressChange?.createdEndpoints,
    );
    assert.deepEqual(ids, [["vpce-0nested"], ["vpce-0flat"], ["vpce-0wrappedflat"]]);
  });
});

describe("endpoint-only instances", () => {
  /** An instance that reaches S3 only through the fleet's endpoint, every ten minutes for two hours. */
  function endpointOnly(n: number, from = 1): CloudTrailRecord[] {
    const m = member(n);
    const records = [ec2Issuance(m.id, m.key, at(0))];
    for (let minute = from; minute <= 120; minute += 10)
      records.push(viaEndpoint(m, m.priv, minute, FLEET_VPCE, ACCOUNT));
    return records;
  }

  test("attack: the first public call of an endpoint-only instance is reported, not made its home", async () => {
    const m = member(1);
    const { findings } = await scanRecords([
      ...endpointOnly(1),
      call(m.id, m.key, THIEF_IP, at(60), { name: "ListBuckets", source: "s3.amazonaws.com" }),
      call(m.id, m.key, THIEF_IP, at(61), { name: "GetCallerIdentity", source: "sts.amazonaws.com" }),
    ]);
    const found = mismatches(findings);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.sourceIp, THIEF_IP);
    assert.equal(found[0]?.severity, "high");
    assert.equal(found[0]?.evidence.count, 2);
    assert.deepEqual(found[0]?.expectedIps, [m.priv]);
    assert.match(found[0]?.reason ?? "", /otherwise reached AWS only through your VPC endpoints/);
  });

  test("attack: a thief using three endpoint-only credentials from one address is flagged on each", async () => {
    // The three stolen sessions share the thief's address as "home": they may not vouch for it.
    const records: CloudTrailRecord[] = [];
    for (const n of [1, 2, 3]) {
      const m = member(n);
      records.push(...endpointOnly(n), call(m.id, m.key, THIEF_IP, at(60 + n)));
    }
    const found = mismatches((await scanRecords(records)).findings);
    assert.equal(found.length, 3);
    assert.ok(found.every((f) => f.sourceIp === THIEF_IP));
  });

  test("look-alike: an endpoint user that also calls through a NAT gateway other instances use is quiet", async () => {
    const m = member(1);
    const records = [...endpointOnly(1), call(m.id, m.key, NAT, at(60)), call(m.id, m.key, NAT, at(90))];
    for (const n of [2, 3]) {
      const other = member(n);
      records.push(ec2Issuance(other.id, other.key, at(0)), call(other.id, other.key, NAT, at(2)));
    }
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("look-alike: the public address is one of your configured networks", async () => {
    const m = member(1);
    const records = [...endpointOnly(1), call(m.id, m.key, NAT, at(60))];
    assert.deepEqual((await scanRecords(records, { yaml: `ownNetworks: ["${NAT}/32"]` })).findings, []);
  });

  test("look-alike: an Elastic IP associated with the instance shortly before its first public call", async () => {
    const m = member(1);
    const records = [
      ...endpointOnly(1),
      userCall("AssociateAddress", at(55), { instanceId: m.id, allocationId: "eipalloc-0123" }),
      call(m.id, m.key, "54.10.20.30", at(60)),
    ];
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("look-alike: a public instance using a gateway endpoint and its own address from the start is quiet", async () => {
    const m = member(1);
    const records = [
      ec2Issuance(m.id, m.key, at(0)),
      viaEndpoint(m, m.priv, 1, FLEET_VPCE, ACCOUNT),
      call(m.id, m.key, "3.91.10.20", at(4)),
      viaEndpoint(m, m.priv, 50, FLEET_VPCE, ACCOUNT),
      call(m.id, m.key, "3.91.10.20", at(60)),
    ];
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("a known egress address of the account (fleet.egress) corroborates the home; another account's does not", () => {
    const m = member(1);
    const engine = new Engine(
      { config: defaultConfig(), inventory: NetworkInventory.load([]), bindUncovered: false },
      { sessions: new Map(), fleet: emptyFleet() },
    );
    const events = [...endpointOnly(1), call(m.id, m.key, NAT, at(60))]
      .map(toEngineEvent)
      .filter((e): e is EngineEvent => e !== undefined)
      .sort(compareEvents);
    for (const e of events) engine.process(e);
    const session = engine.state.sessions.get(`arn:aws:sts::${ACCOUNT}:assumed-role/web-server/${m.id}`);
    assert.ok(session);
    const lifetime = session.lifetimes[0];
    assert.ok(lifetime);
    const ctx = (egress: [string, string][]) => {
      const fleet = engine.state.fleet;
      fleet.egress = new Map(egress);
      return { config: defaultConfig(), inventory: NetworkInventory.load([]), fleet };
    };
    const judged = (egress: [string, string][]) => evaluateLifetime(ctx(egress), structuredClone(session), lifetime);
    assert.deepEqual(
      judged([[NAT, ORG_ACCOUNT]]).map((x) => x.cause),
      ["endpoint-only"],
    );
    assert.deepEqual(judged([[NAT, ACCOUNT]]), []);
  });
});

describe("evidence keyed by network interface", () => {
  const ENI = "eni-0c0ffee0000000001";
  const NEW = "54.10.20.30";
  const m = member(1);
  const launch = userCall(
    "RunInstances",
    at(-120),
    {},
    {
      instancesSet: {
        items: [
          { instanceId: m.id, networkInterfaceSet: { items: [{ networkInterfaceId: ENI, privateIpAddress: m.priv }] } },
        ],
      },
    },
  );
  /** AssociateAddress naming only the interface, by a role of another account whose other calls are not here. */
  function associateByEni(minute: number): CloudTrailRecord {
    const r = userCall("AssociateAddress", at(minute), { networkInterfaceId: ENI, allocationId: "eipalloc-0abc" });
    r.userIdentity = {
      type: "AssumedRole",
      arn: `arn:aws:sts::${ORG_ACCOUNT}:assumed-role/network-automation/run-42`,
      accountId: ORG_ACCOUNT,
      accessKeyId: "ASIANETAUTOMATION001",
      invokedBy: "cloudformation.amazonaws.com",
    };
    return r;
  }

  test("look-alike: AssociateAddress by interface only, then the instance calls from the new address: quiet", async () => {
    const records = [
      launch,
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      associateByEni(10),
      call(m.id, m.key, NEW, at(12)),
    ];
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("attack: another address with no such event is a finding", async () => {
    const records = [
      launch,
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      associateByEni(10),
      call(m.id, m.key, NEW, at(12)),
      call(m.id, m.key, THIEF_IP, at(14)),
    ];
    assert.deepEqual(
      mismatches((await scanRecords(records)).findings).map((f) => f.sourceIp),
      [THIEF_IP],
    );
    const noChange = [
      launch,
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      call(m.id, m.key, NEW, at(12)),
    ];
    assert.equal(mismatches((await scanRecords(noChange)).findings).length, 1);
  });

  test("an interface created, associated, and attached later still gives the instance its address", async () => {
    // CreateNetworkInterface → AssociateAddress (interface only) → AttachNetworkInterface: the change
    // waits under the interface until its instance is known.
    const create = userCall(
      "CreateNetworkInterface",
      at(-30),
      { subnetId: "subnet-1" },
      { networkInterface: { networkInterfaceId: ENI, privateIpAddress: "10.0.3.3", status: "pending" } },
    );
    const attach = userCall("AttachNetworkInterface", at(11), {
      networkInterfaceId: ENI,
      instanceId: m.id,
      deviceIndex: 1,
    });
    const records = [
      create,
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      associateByEni(10),
      attach,
      call(m.id, m.key, NEW, at(12)),
      // Two changes (the association and the attachment): two new addresses are learned.
      call(m.id, m.key, "3.80.1.1", at(13)),
    ];
    assert.deepEqual((await scanRecords(records)).findings, []);
  });

  test("the interface's instance learned after the association (a late batch) still applies", () => {
    const engine = new Engine(
      { config: defaultConfig(), inventory: NetworkInventory.load([]), bindUncovered: false },
      { sessions: new Map(), fleet: emptyFleet() },
    );
    const records = [
      ec2Issuance(m.id, m.key, at(0)),
      call(m.id, m.key, NAT, at(1)),
      associateByEni(10),
      call(m.id, m.key, NEW, at(12)),
    ];
    // The launch (with the interface) reaches the engine last, as from a file delivered late.
    for (const r of [...records, launch]) {
      const e = toEngineEvent(r);
      if (e) engine.process(e);
    }
    const causes = [...engine.evaluate().values()].map((f) => f.finding.sourceIp);
    assert.deepEqual(causes, []);
    assert.deepEqual(engine.state.fleet.addressChanges.get(m.id), [Date.parse(at(10))]);
    assert.equal(engine.state.fleet.pendingEniChanges.size, 0);
  });
});

describe("EKS pods behind interface endpoints", () => {
  const NODE_ENI = "eni-0e4500000000000001";
  const POD_ENI = "eni-0e4500000000000002";
  const node = member(1);
  const launch = userCall(
    "RunInstances",
    at(-60),
    {},
    {
      instancesSet: {
        items: [
          {
            instanceId: node.id,
            privateIpAddress: node.priv,
            networkInterfaceSet: {
              items: [
                {
                  networkInterfaceId: NODE_ENI,
                  privateIpAddress: node.priv,
                  privateIpAddressesSet: { item: [{ privateIpAddress: node.priv, primary: true }] },
                },
              ],
            },
          },
        ],
      },
    },
  );
  /** The VPC CNI (aws-node) asking for secondary addresses, as CloudTrail renders it. */
  const assign = userCall(
    "AssignPrivateIpAddresses",
    at(-50),
    { networkInterfaceId: NODE_ENI, privateIpAddressesSet: {}, secondaryPrivateIpAddressCount: 2 },
    {
      _return: true,
      networkInterfaceId: NODE_ENI,
      assignedPrivateIpAddressesSet: {
        assignedPrivateIpAddressSetType: {
          items: [{ privateIpAddress: "10.0.1.101" }, { privateIpAddress: "10.0.1.102" }],
        },
      },
    },
  );
  /** A second interface for more pods: created with secondary addresses, then attached to the node. */
  const podEni = [
    userCall(
      "CreateNetworkInterface",
      at(-40),
      { subnetId: "subnet-1", secondaryPrivateIpAddressCount: 1 },
      {
        networkInterface: {
          networkInterfaceId: POD_ENI,
          privateIpAddress: "10.0.2.5",
          privateIpAddressesSet: {
            item: [
              { privateIpAddress: "10.0.2.5", primary: true },
              { privateIpAddress: "10.0.2.6", primary: false },
            ],
          },
        },
      },
    ),
    userCall("AttachNetworkInterface", at(-39), { networkInterfaceId: POD_ENI, instanceId: node.id, deviceIndex: 1 }),
  ];
  /** Prefix delegation: a /28 for the node's pods. */
  const prefix = userCall(
    "AssignPrivateIpAddresses",
    at(-45),
    { networkInterfaceId: NODE_ENI, ipv4PrefixCount: 1 },
    { _return: true, networkInterfaceId: NODE_ENI, assignedIpv4PrefixSet: { items: [{ ipv4Prefix: "10.0.5.16/28" }] } },
  );
  const base = [launch, assign, prefix, ...podEni, ec2Issuance(node.id, node.key, at(0))];
  const sts = (ip: string, minute: number) =>
    call(node.id, node.key, ip, at(minute), {
      source: "sts.amazonaws.com",
      name: "GetCallerIdentity",
      vpce: FLEET_VPCE,
      vpceAccount: ACCOUNT,
      userAgent: "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64",
    });

  test("look-alike: pods on the node's secondary addresses, second interface and prefix are quiet", async () => {
    const records = [
      ...base,
      sts(node.priv, 1),
      sts("10.0.1.101", 2),
      sts("10.0.1.102", 3),
      sts("10.0.2.6", 4),
      sts("10.0.5.20", 5),
    ];
    const found = mismatches((await scanRecords(records)).findings);
    assert.deepEqual(found, []);
  });

  test("attack: a private address not assigned to the node is still a second-private-address finding", async () => {
    const records = [...base, sts(node.priv, 1), sts("10.0.1.101", 2), sts("10.0.1.199", 3), sts("10.0.5.40", 4)];
    const found = mismatches((await scanRecords(records)).findings);
    assert.deepEqual(found.map((f) => f.sourceIp).sort(), ["10.0.1.199", "10.0.5.40"]);
    for (const f of found) assert.match(f.reason, /second private address/);
  });

  test("another instance's secondary address is not this node's", async () => {
    const other = member(2);
    const otherEni = "eni-0e4500000000000009";
    const records = [
      ...base,
      userCall("AttachNetworkInterface", at(-30), {
        networkInterfaceId: otherEni,
        instanceId: other.id,
        deviceIndex: 1,
      }),
      userCall(
        "AssignPrivateIpAddresses",
        at(-29),
        { networkInterfaceId: otherEni, privateIpAddressesSet: { items: [{ privateIpAddress: "10.0.1.150" }] } },
        { _return: true },
      ),
      sts(node.priv, 1),
      sts("10.0.1.150", 2),
    ];
    assert.deepEqual(
      mismatches((await scanRecords(records)).findings).map((f) => f.sourceIp),
      ["10.0.1.150"],
    );
  });
});

describe("fleet knowledge", () => {
  test("the new fleet fields survive encoding, and a state without them still loads", () => {
    const fleet = emptyFleet();
    fleet.endpointVouchers.set("vpce-1", ["i-1"]);
    fleet.pendingEniChanges.set("eni-1", [5]);
    fleet.privateAddressEnis.set("10.0.0.1", ["eni-1"]);
    fleet.accounts.add(ACCOUNT);
    fleet.egress.set(NAT, ACCOUNT);
    fleet.homeVouchers.set(`${ACCOUNT}|${NAT}`, { users: ["i-1"], last: 7 });
    assert.deepEqual(decodeFleet(encodeFleet(fleet)), fleet);
    const old = encodeFleet({ ...emptyFleet(), watermark: 3 });
    assert.equal(decodeFleet(old).watermark, 3);
  });

  test("vouchers and home addresses stay bounded by the threshold", async () => {
    const records: CloudTrailRecord[] = [];
    for (let n = 1; n <= 12; n++) {
      const m = member(n);
      // Odd members reach the endpoint first, even ones the NAT gateway.
      const first = n % 2 === 1 ? 1 : 3;
      records.push(
        ec2Issuance(m.id, m.key, at(0)),
        viaEndpoint(m, m.priv, first, FLEET_VPCE),
        call(m.id, m.key, NAT, at(4 - first)),
      );
    }
    const config = parseConfig("fleetEndpointThreshold: 3");
    const engine = new Engine(
      { config, inventory: NetworkInventory.load([]), bindUncovered: false },
      { sessions: new Map(), fleet: emptyFleet() },
    );
    for (const e of records
      .map(toEngineEvent)
      .filter((e): e is EngineEvent => e !== undefined)
      .sort(compareEvents))
      engine.process(e);
    engine.evaluate();
    assert.equal(engine.state.fleet.endpointVouchers.get(FLEET_VPCE)?.length, 4);
    assert.equal(engine.state.fleet.homeVouchers.get(`${ACCOUNT}|${NAT}`)?.users.length, 4);
  });
});
