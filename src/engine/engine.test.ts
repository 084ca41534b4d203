/**
 * Scenario tests of the detection semantics (docs/ARCHITECTURE.md §3), each edge case positive and
 * negative, run through the real pipeline with an in-memory store.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ACCOUNT, at, call, ec2Issuance, eventId, userCall } from "../test-helpers/records.js";
import { brief, scanRecords, scratchDirs } from "../test-helpers/scan.js";

/** Folders made by these tests, removed when the file's tests are done. */
const scratchDir = scratchDirs();

const I = "i-0123456789abcdef0";
const K1 = "ASIAKEYV2AAAAAAAAAA1";
const K2 = "ASIAKEYV1AAAAAAAAAA2";
const HOME = "52.95.255.121";
const THIEF = "67.178.52.232";

function mismatches<T extends { rule: string }>(findings: T[]): T[] {
  return findings.filter((f) => f.rule === "credential-ip-mismatch");
}

describe("first call wins", () => {
  test("Netflix's worked example: a later call from another address is a finding", async () => {
    const { findings, exitCode, summary } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(2), { name: "DescribeInstances" }),
      call(I, K1, HOME, at(3), { name: "DescribeVolumes" }),
      call(I, K1, THIEF, at(4), { name: "GetCallerIdentity", source: "sts.amazonaws.com" }),
      call(I, K1, THIEF, at(5), { name: "ListBuckets", source: "s3.amazonaws.com" }),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    const f = m[0];
    assert.ok(f);
    assert.deepEqual(brief(f), { rule: "credential-ip-mismatch", severity: "high", ip: THIEF, session: I, count: 2 });
    assert.deepEqual(f.expectedIps, [HOME]);
    assert.equal(f.time, at(4));
    assert.equal(f.event.name, "GetCallerIdentity");
    assert.equal(f.principal.kind, "ec2-instance");
    assert.equal(f.principal.instanceId, I);
    assert.equal(f.covered, true);
    assert.deepEqual(f.evidence.eventNames, ["GetCallerIdentity", "ListBuckets"]);
    assert.match(
      f.reason,
      new RegExp(`first used from ${HOME.replaceAll(".", "\\.")} and then from ${THIEF.replaceAll(".", "\\.")}`),
    );
    assert.equal(exitCode, 1);
    assert.equal(summary.coverage.ratio, 1);
  });

  test("calls from the home address only: no finding", async () => {
    const { findings, exitCode } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      ...Array.from({ length: 20 }, (_, i) => call(I, K1, HOME, at(1 + i))),
    ]);
    assert.deepEqual(findings, []);
    assert.equal(exitCode, 0);
  });

  test("keyed by session, not key: the thief using the instance's other (IMDSv1) key is caught", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      ec2Issuance(I, K2, at(0)),
      call(I, K1, HOME, at(1)),
      call(I, K2, THIEF, at(2), { delivery: "1.0" }),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.principal.accessKeyId, K2);
  });

  test("one finding per credential and address, however many calls", async () => {
    const records = [ec2Issuance(I, K1, at(0)), call(I, K1, HOME, at(1))];
    for (let i = 0; i < 50; i++) records.push(call(I, K1, THIEF, at(2 + i)));
    const m = mismatches((await scanRecords(records)).findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.evidence.count, 50);
    assert.equal(m[0]?.evidence.eventIds.length, 5);
    assert.equal(m[0]?.evidence.lastSeen, at(51));
  });

  test("earliest eventTime wins, not first read: records out of order in the file", async () => {
    const { findings } = await scanRecords([
      call(I, K1, THIEF, at(9)),
      call(I, K1, HOME, at(2)),
      ec2Issuance(I, K1, at(0)),
    ]);
    assert.equal(mismatches(findings)[0]?.sourceIp, THIEF);
  });

  test("a session name that only looks like an instance id on another role is not that instance", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1)),
      call(I, "ASIAOTHERROLEKEY0001", THIEF, at(2), { role: "attacker-role" }),
    ]);
    assert.equal(mismatches(findings).length, 0);
  });
});

describe("AWS acting on your behalf", () => {
  test("service-name and AWS Internal sources never bind and never alert", async () => {
    const { findings, summary } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, "AWS Internal", at(1)),
      call(I, K1, "kms.amazonaws.com", at(2), { name: "Decrypt", source: "kms.amazonaws.com" }),
      call(I, K1, HOME, at(3)),
      call(I, K1, "rds.amazonaws.com", at(4)),
    ]);
    assert.deepEqual(findings, []);
    assert.equal(summary.engine.awsOnBehalf, 3);
  });

  test("invokedBy calls carry a real address but never bind or alert", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, "3.4.5.6", at(1), { invokedBy: "cloudformation.amazonaws.com" }),
      call(I, K1, HOME, at(2)),
      call(I, K1, "3.4.5.7", at(3), { invokedBy: "athena.amazonaws.com" }),
    ]);
    assert.deepEqual(findings, []);
  });
});

describe("VPC endpoints", () => {
  const VPCE = "vpce-0aaa1111bbbb2222c";
  const PRIV = "10.0.1.25";

  test("your endpoint (owner = your account) with the instance's private address: no finding", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1)),
      call(I, K1, PRIV, at(2), { source: "s3.amazonaws.com", name: "GetObject", vpce: VPCE, vpceAccount: ACCOUNT }),
      call(I, K1, PRIV, at(3), { source: "s3.amazonaws.com", name: "PutObject", vpce: VPCE, vpceAccount: ACCOUNT }),
    ]);
    assert.deepEqual(findings, []);
  });

  test("a thief's own endpoint (owned by another account) is a finding even as the session's only path", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1)),
      call(I, K1, "172.31.9.9", at(2), {
        source: "s3.amazonaws.com",
        name: "ListBuckets",
        vpce: "vpce-0thief000000000001",
        vpceAccount: "999988887777",
      }),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.event.vpcEndpointId, "vpce-0thief000000000001");
    assert.match(m[0]?.reason ?? "", /not known to be yours/);
  });

  test("an endpoint without owner field is unknown until configured, created in the logs, or used by the fleet", async () => {
    const records = [ec2Issuance(I, K1, at(0)), call(I, K1, PRIV, at(2), { source: "s3.amazonaws.com", vpce: VPCE })];
    assert.equal(mismatches((await scanRecords(records)).findings).length, 1);
    assert.equal(mismatches((await scanRecords(records, { yaml: `vpcEndpoints: [${VPCE}]` })).findings).length, 0);
    const created = userCall(
      "CreateVpcEndpoint",
      at(-60),
      { vpcId: "vpc-1" },
      { CreateVpcEndpointResponse: { vpcEndpoint: { vpcEndpointId: VPCE } } },
    );
    created.responseElements = { vpcEndpoint: { vpcEndpointId: VPCE } };
    assert.equal(mismatches((await scanRecords([created, ...records])).findings).length, 0);
    const fleet = [];
    for (const n of ["i-0000000000000000a", "i-0000000000000000b"]) {
      fleet.push(
        ec2Issuance(n, `ASIA${n.slice(-4)}0000000000001`, at(0)),
        call(n, `ASIA${n.slice(-4)}0000000000001`, "10.0.2.2", at(5), { source: "s3.amazonaws.com", vpce: VPCE }),
      );
    }
    assert.equal(
      mismatches((await scanRecords([...fleet, ...records])).findings).filter((f) => f.principal.instanceId === I)
        .length,
      0,
    );
  });

  test("a second private address through your endpoint is a finding", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, PRIV, at(1), { source: "s3.amazonaws.com", vpce: VPCE, vpceAccount: ACCOUNT }),
      call(I, K1, "10.0.7.7", at(2), { source: "s3.amazonaws.com", vpce: VPCE, vpceAccount: ACCOUNT }),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.sourceIp, "10.0.7.7");
    assert.deepEqual(m[0]?.expectedIps, [PRIV]);
  });

  test("a change of endpoint for the same service is a finding; another service's endpoint is not", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, PRIV, at(1), { source: "s3.amazonaws.com", vpce: VPCE, vpceAccount: ACCOUNT }),
      call(I, K1, PRIV, at(2), { source: "kms.amazonaws.com", vpce: "vpce-0kms000000000001", vpceAccount: ACCOUNT }),
      call(I, K1, PRIV, at(3), { source: "s3.amazonaws.com", vpce: "vpce-0other00000000001", vpceAccount: ACCOUNT }),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.event.vpcEndpointId, "vpce-0other00000000001");
    assert.match(m[0]?.reason ?? "", /another endpoint/);
  });

  test("private addresses without an endpoint are ordinary addresses", async () => {
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, "10.0.1.25", at(1)),
      call(I, K1, "10.9.9.9", at(2)),
    ]);
    assert.equal(mismatches(findings)[0]?.sourceIp, "10.9.9.9");
  });
});

describe("learning new addresses", () => {
  const NEW = "54.10.20.30";
  const eni = "eni-0abc0abc0abc0abc0";
  const cases: [string, ReturnType<typeof userCall>[]][] = [
    [
      "AssociateAddress (instance)",
      [userCall("AssociateAddress", at(10), { instanceId: I, allocationId: "eipalloc-1" })],
    ],
    [
      "AssociateAddress (interface of the instance)",
      [
        userCall("AttachNetworkInterface", at(-30), { networkInterfaceId: eni, instanceId: I, deviceIndex: 1 }),
        userCall("AssociateAddress", at(10), { networkInterfaceId: eni, allocationId: "eipalloc-1" }),
      ],
    ],
    [
      "AttachNetworkInterface",
      [userCall("AttachNetworkInterface", at(10), { networkInterfaceId: eni, instanceId: I, deviceIndex: 1 })],
    ],
    [
      "AssignPrivateIpAddresses (interface from RunInstances)",
      [
        userCall(
          "RunInstances",
          at(-5),
          {},
          {
            instancesSet: { items: [{ instanceId: I, networkInterfaceSet: { items: [{ networkInterfaceId: eni }] } }] },
          },
        ),
        userCall("AssignPrivateIpAddresses", at(10), { networkInterfaceId: eni, secondaryPrivateIpAddressCount: 1 }),
      ],
    ],
    ["StartInstances", [userCall("StartInstances", at(10), { instancesSet: { items: [{ instanceId: I }] } })]],
  ];
  for (const [name, changes] of cases) {
    test(`${name}, by anyone: the next new address within the window is learned`, async () => {
      const base = [ec2Issuance(I, K1, at(0)), call(I, K1, HOME, at(1))];
      const learned = await scanRecords([...base, ...changes, call(I, K1, NEW, at(12))]);
      assert.deepEqual(mismatches(learned.findings), []);
      const late = await scanRecords([...base, ...changes, call(I, K1, NEW, at(10 + 31))]);
      assert.equal(mismatches(late.findings).length, 1, "outside the 30-minute window it is a finding");
      const second = await scanRecords([...base, ...changes, call(I, K1, NEW, at(12)), call(I, K1, THIEF, at(13))]);
      assert.deepEqual(
        mismatches(second.findings).map((f) => f.sourceIp),
        [THIEF],
        "one new address per change",
      );
    });
  }

  test("a failed AssociateAddress teaches nothing", async () => {
    const failed = userCall("AssociateAddress", at(10), { instanceId: I });
    failed.errorCode = "UnauthorizedOperation";
    const { findings } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1)),
      failed,
      call(I, K1, NEW, at(12)),
    ]);
    assert.equal(mismatches(findings).length, 1);
  });
});

describe("time to live (event time)", () => {
  test("a credential not refreshed for longer than the TTL is forgotten; the next issuance starts afresh", async () => {
    const { findings, summary } = await scanRecords([
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1)),
      call(I, K1, THIEF, at(9 * 60)), // 9 h later, no refresh: not covered, not judged
      ec2Issuance(I, K2, at(10 * 60)),
      call(I, K2, "54.1.1.1", at(10 * 60 + 1)), // new lifetime: a new first call
      call(I, K2, "54.1.1.1", at(10 * 60 + 2)),
    ]);
    assert.deepEqual(mismatches(findings), []);
    assert.equal(summary.coverage.instanceEvents, 4);
    assert.equal(summary.coverage.covered, 3);
  });

  test("refreshed credentials keep their home across rotations", async () => {
    const records = [ec2Issuance(I, K1, at(0)), call(I, K1, HOME, at(1))];
    for (let h = 1; h <= 12; h++)
      records.push(ec2Issuance(I, `ASIAROTATED0000000${String(h).padStart(2, "0")}`, at(h * 60)));
    records.push(call(I, "ASIAROTATED000000012", THIEF, at(12 * 60 + 5)));
    const m = mismatches((await scanRecords(records)).findings);
    assert.equal(m.length, 1);
    assert.deepEqual(m[0]?.expectedIps, [HOME]);
  });
});

describe("coverage and --bind-uncovered", () => {
  const records = () => [call(I, K1, HOME, at(1)), call(I, K1, THIEF, at(2))];
  test("without the issuance, instance calls are counted as uncovered and not judged", async () => {
    const { findings, summary } = await scanRecords(records());
    assert.deepEqual(mismatches(findings), []);
    assert.equal(summary.coverage.instanceEvents, 2);
    assert.equal(summary.coverage.covered, 0);
    assert.equal(summary.coverage.ratio, 0);
  });
  test("with --bind-uncovered they bind to their first call, and the finding says it was uncovered", async () => {
    const { findings } = await scanRecords(records(), { bindUncovered: true });
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.covered, false);
  });
});

describe("other credential kinds", () => {
  test("ECS task credentials are bound by session like instances", async () => {
    const task = "3f1c2a9b8e7d4c6a9b0e1f2a3b4c5d6e";
    const { findings } = await scanRecords([
      ec2Issuance(task, "ASIATASK000000000001", at(0), { role: "task-role", service: "ecs-tasks.amazonaws.com" }),
      call(task, "ASIATASK000000000001", "10.1.1.1", at(1), { role: "task-role", delivery: null }),
      call(task, "ASIATASK000000000001", THIEF, at(2), { role: "task-role", delivery: null }),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.principal.kind, "ecs-task");
    assert.equal(m[0]?.severity, "high");
  });

  test("Lambda sessions share a name across environments: bound per access key", async () => {
    const fn = "orders-handler";
    const opts = { role: "lambda-role", delivery: null } as const;
    const lam = { role: "lambda-role", service: "lambda.amazonaws.com" };
    const { findings } = await scanRecords([
      ec2Issuance(fn, "ASIALAMBDAENV0000001", at(0), lam),
      ec2Issuance(fn, "ASIALAMBDAENV0000002", at(0), lam),
      call(fn, "ASIALAMBDAENV0000001", "3.3.3.1", at(1), opts),
      call(fn, "ASIALAMBDAENV0000002", "3.3.3.2", at(1), opts),
      call(fn, "ASIALAMBDAENV0000002", THIEF, at(5), opts),
    ]);
    const m = mismatches(findings);
    assert.equal(m.length, 1);
    assert.equal(m[0]?.principal.kind, "lambda");
    assert.equal(m[0]?.principal.accessKeyId, "ASIALAMBDAENV0000002");
    assert.equal(m[0]?.severity, "medium");
  });

  test("bindKinds can switch a kind off", async () => {
    const lam = { role: "lambda-role", service: "lambda.amazonaws.com" };
    const records = [
      ec2Issuance("fn", "ASIALAMBDAENV0000001", at(0), lam),
      call("fn", "ASIALAMBDAENV0000001", "3.3.3.1", at(1), { role: "lambda-role", delivery: null }),
      call("fn", "ASIALAMBDAENV0000001", THIEF, at(2), { role: "lambda-role", delivery: null }),
    ];
    assert.equal(mismatches((await scanRecords(records, { yaml: "bindKinds: [ec2-instance]" })).findings).length, 0);
  });
});

describe("allowlists, networks and severity", () => {
  const records = () => [ec2Issuance(I, K1, at(0)), call(I, K1, HOME, at(1)), call(I, K1, THIEF, at(2))];
  test("allow.cidrs: calls from there never bind and never alert", async () => {
    assert.deepEqual(
      mismatches((await scanRecords(records(), { yaml: "allow: { cidrs: ['67.178.0.0/16'] }" })).findings),
      [],
    );
  });
  test("allow.roles and allow.accounts", async () => {
    assert.deepEqual((await scanRecords(records(), { yaml: "allow: { roles: ['web-*'] }" })).findings, []);
    assert.deepEqual((await scanRecords(records(), { yaml: `allow: { accounts: ['${ACCOUNT}'] }` })).findings, []);
  });
  test("a mismatch inside your own networks is low; the thief's first call from outside makes it high", async () => {
    const own = await scanRecords(records(), { yaml: "ownNetworks: ['52.95.0.0/16', '67.178.52.0/24']" });
    assert.equal(mismatches(own.findings)[0]?.severity, "low");
    assert.equal(mismatches(own.findings)[0]?.network, "own-network");
    const thiefFirst = await scanRecords(
      [ec2Issuance(I, K1, at(0)), call(I, K1, THIEF, at(1)), call(I, K1, HOME, at(2))],
      { yaml: "ownNetworks: ['52.95.0.0/16']" },
    );
    const m = mismatches(thiefFirst.findings)[0];
    assert.equal(m?.sourceIp, HOME);
    assert.equal(m?.severity, "high");
    assert.match(m?.reason ?? "", /someone else probably used it first/);
  });
  test("ip-ranges.json classifies addresses; the instance's IPv6 address from RunInstances is admitted", async () => {
    const dir = scratchDir();
    const ranges = join(dir, "ip-ranges.json");
    writeFileSync(
      ranges,
      JSON.stringify({
        syncToken: "1",
        createDate: "2026-11-01-00-00-00",
        prefixes: [
          { ip_prefix: "52.95.0.0/16", region: "us-east-1", service: "AMAZON", network_border_group: "us-east-1" },
          { ip_prefix: "52.95.0.0/16", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
        ],
        ipv6_prefixes: [
          { ipv6_prefix: "2600:1f18::/36", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
        ],
      }),
    );
    const { findings } = await scanRecords(
      [
        userCall(
          "RunInstances",
          at(-1),
          {},
          {
            instancesSet: {
              items: [
                {
                  instanceId: I,
                  networkInterfaceSet: {
                    items: [{ ipv6AddressesSet: { items: [{ ipv6Address: "2600:1f18:234::10" }] } }],
                  },
                },
              ],
            },
          },
        ),
        ec2Issuance(I, K1, at(0)),
        call(I, K1, HOME, at(1)),
        call(I, K1, "2600:1f18:0234::10", at(2)),
        call(I, K1, "2a01:4f8::1", at(3)),
        call(I, K1, THIEF, at(4)),
        call(I, K1, "52.95.7.7", at(5)),
      ],
      { ipRangesPath: ranges },
    );
    const m = mismatches(findings);
    assert.deepEqual(
      m.map((f) => [f.sourceIp, f.network]),
      [
        ["2a01:4f8::1", "outside-aws"],
        [THIEF, "outside-aws"],
        ["52.95.7.7", "aws"],
      ],
    );
  });
});

describe("rules on instance credentials", () => {
  test("instance-credential-recon: GetCallerIdentity and listed calls, even denied ones; allowlisted agents pass", async () => {
    const records = [
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1), { name: "GetCallerIdentity", source: "sts.amazonaws.com" }),
      call(I, K1, HOME, at(2), { name: "ListUsers", source: "iam.amazonaws.com", errorCode: "AccessDenied" }),
      call(I, K1, HOME, at(3), { name: "DescribeInstances" }),
    ];
    const { findings } = await scanRecords(records);
    const recon = findings.filter((f) => f.rule === "instance-credential-recon");
    assert.equal(recon.length, 1);
    assert.equal(recon[0]?.evidence.count, 2);
    assert.equal(recon[0]?.severity, "medium");
    const allowed = await scanRecords(records, { yaml: "recon: { allowUserAgents: ['aws-sdk-java/'] }" });
    assert.equal(allowed.findings.filter((f) => f.rule === "instance-credential-recon").length, 0);
    const extra = await scanRecords(
      [ec2Issuance(I, K1, at(0)), call(I, K1, HOME, at(3), { name: "DescribeInstances" })],
      {
        yaml: "recon: { extraCalls: ['ec2:DescribeInstances'] }",
      },
    );
    assert.equal(extra.findings.filter((f) => f.rule === "instance-credential-recon").length, 1);
  });

  test("imdsv1-credential: one finding per session, not per call", async () => {
    const records = [ec2Issuance(I, K2, at(0))];
    for (let i = 0; i < 10; i++)
      records.push(call(I, K2, i % 2 ? HOME : "52.95.255.122", at(1 + i), { delivery: "1.0" }));
    const v1 = (await scanRecords(records)).findings.filter((f) => f.rule === "imdsv1-credential");
    assert.equal(v1.length, 1);
    assert.equal(v1[0]?.severity, "low");
    assert.equal(v1[0]?.evidence.count, 10);
    const v2 = await scanRecords([ec2Issuance(I, K1, at(0)), call(I, K1, HOME, at(1))]);
    assert.equal(v2.findings.length, 0);
  });

  test("instance-credential-foreign-agent: desktop CLIs, browsers and attack tools; Linux servers pass", async () => {
    const agents = {
      "aws-cli/2.13.0 Python/3.11.4 Darwin/22.5.0 exe/x86_64 prompt/off": "macos",
      "[aws-cli/1.18.136 Python/3.8.5 Darwin/19.5.0 botocore/1.17.59]": "macos",
      "aws-cli/2.15.0 Python/3.11.6 Windows/10 exe/AMD64 prompt/off": "windows",
      "aws-sdk-js/3.400.0 ua/2.0 os/macos#14.1 lang/js md/nodejs#20.9.0": "macos",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36": "browser",
      "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.5.0-kali3-amd64 md/arch#x86_64": "offensive-tool",
      "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240": "offensive-tool",
    };
    const records = [ec2Issuance(I, K1, at(0))];
    let n = 1;
    for (const ua of Object.keys(agents)) records.push(call(I, K1, HOME, at(n++), { userAgent: ua }));
    for (const ua of [
      "amazon-ssm-agent/3.3.40.0",
      "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0-1.amzn2023 exe/x86_64.amzn.2023",
      "Boto3/1.34.0 Python/3.11 Linux/5.10 Botocore/1.34.0",
    ]) {
      records.push(call(I, K1, HOME, at(n++), { userAgent: ua }));
    }
    const foreign = (await scanRecords(records)).findings.filter((f) => f.rule === "instance-credential-foreign-agent");
    // One finding per credential, address and kind of agent; every agent is in the evidence.
    assert.equal(foreign.length, new Set(Object.values(agents)).size);
    assert.deepEqual(foreign.flatMap((f) => f.evidence.userAgents).sort(), Object.keys(agents).sort());
  });
});

describe("finding ids", () => {
  test("are stable across runs and differ per address", async () => {
    const records = () => [
      ec2Issuance(I, K1, at(0)),
      call(I, K1, HOME, at(1)),
      call(I, K1, THIEF, at(2)),
      call(I, K1, "9.9.9.9", at(3)),
    ];
    const a = mismatches((await scanRecords(records())).findings).map((f) => f.id);
    const b = mismatches((await scanRecords(records())).findings).map((f) => f.id);
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, 2);
    assert.match(a[0] ?? "", /^[0-9a-f]{32}$/);
    void eventId;
  });
});
