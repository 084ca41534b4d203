import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { parseConfig } from "../config/config.js";
import { CidrSet } from "../net/ip.js";
import { parseAttackList } from "./attacks.js";
import { Rng } from "./prng.js";
import { type SimulateResult, simulate } from "./simulate.js";
import { ATTACK_KINDS, readFleet, readTruth } from "./truth.js";

interface Rec {
  eventID: string;
  eventTime: string;
  eventName: string;
  eventSource: string;
  awsRegion: string;
  recipientAccountId: string;
  sourceIPAddress: string;
  userAgent: string;
  vpcEndpointId?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, unknown> | null;
  userIdentity: {
    type: string;
    arn?: string;
    accessKeyId?: string;
    invokedBy?: string;
    sessionContext?: { ec2RoleDelivery?: string };
  };
}

const root = mkdtempSync(join(tmpdir(), "firstcall-sim-"));
const small = { instances: 30, hours: 2, accounts: 3, regions: 2, perKind: 1, seed: 11 } as const;

function readAll(dir: string, files: readonly string[]): { file: string; records: Rec[] }[] {
  return files.map((file) => ({
    file,
    records: (JSON.parse(gunzipSync(readFileSync(join(dir, file))).toString("utf8")) as { Records: Rec[] }).Records,
  }));
}

function digest(dir: string, files: readonly string[]): string {
  const h = createHash("sha256");
  for (const f of files) {
    h.update(f);
    h.update(readFileSync(join(dir, f)));
  }
  for (const f of ["truth.jsonl", "fleet.jsonl", "firstcall.yaml", "ip-ranges.json"])
    h.update(readFileSync(join(dir, f)));
  return h.digest("hex");
}

describe("simulate", () => {
  let a: SimulateResult;
  let files: { file: string; records: Rec[] }[];
  let records: Rec[];

  before(async () => {
    a = await simulate({ outDir: join(root, "a"), ...small });
    files = readAll(a.outDir, a.files);
    records = files.flatMap((f) => f.records);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("the same seed writes the same bytes; another seed does not", async () => {
    const b = await simulate({ outDir: join(root, "b"), ...small });
    assert.deepEqual(b.files, a.files);
    assert.equal(digest(b.outDir, b.files), digest(a.outDir, a.files));
    const c = await simulate({ outDir: join(root, "c"), ...small, seed: 12 });
    assert.notEqual(digest(c.outDir, c.files), digest(a.outDir, a.files));
  });

  test("refuses to overwrite a simulation without force", async () => {
    await assert.rejects(simulate({ outDir: a.outDir, ...small }), /already holds a simulation/);
  });

  test("files follow CloudTrail's S3 layout, one account and region each", () => {
    const layout =
      /^AWSLogs\/(\d{12})\/CloudTrail\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8})T(\d{4})Z_[A-Za-z0-9]{16}\.json\.gz$/;
    for (const { file, records: recs } of files) {
      const m = layout.exec(file.replaceAll("\\", "/"));
      assert.ok(m, file);
      const [, acct, region, y, mo, d, acct2, region2, stamp] = m;
      assert.equal(acct, acct2);
      assert.equal(region, region2);
      assert.equal(`${y}${mo}${d}`, stamp);
      assert.ok(recs.length > 0);
      for (const r of recs) {
        assert.equal(r.recipientAccountId, acct);
        assert.equal(r.awsRegion, region);
      }
    }
  });

  test("an organisation trail puts the organisation id above the account", async () => {
    const org = await simulate({ outDir: join(root, "org"), ...small, organizationTrail: true, attacks: "none" });
    assert.match(org.organizationId ?? "", /^o-[a-z0-9]{10}$/);
    for (const f of org.files) assert.ok(f.replaceAll("\\", "/").startsWith(`AWSLogs/${org.organizationId}/`), f);
  });

  test("delivery has CloudTrail's quirks: unordered records, late files, duplicate events", () => {
    const ids = new Map<string, number>();
    for (const r of records) ids.set(r.eventID, (ids.get(r.eventID) ?? 0) + 1);
    assert.ok(
      [...ids.values()].some((n) => n > 1),
      "some event is delivered twice",
    );
    assert.equal(ids.size, a.events);
    assert.ok(
      files.some(({ records: rs }) => rs.some((r, i) => i > 0 && r.eventTime < (rs[i - 1] as Rec).eventTime)),
      "records inside a file are not sorted",
    );
    const late = files.filter(({ file, records: rs }) => {
      const m = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_/.exec(file);
      assert.ok(m);
      const stamp = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00Z`);
      const newest = Math.max(...rs.map((r) => Date.parse(r.eventTime)));
      assert.ok(stamp >= newest - 5 * 60_000, `${file} is not delivered before its events`);
      return stamp - newest > 5 * 60_000;
    });
    assert.ok(late.length > 0, "some files are delivered late");
  });

  test("EC2 issues two keys per instance and rotates them", () => {
    const issued = new Map<string, Set<string>>();
    for (const r of records) {
      if (r.eventName !== "AssumeRole" || r.userIdentity.invokedBy !== "ec2.amazonaws.com") continue;
      assert.equal(r.sourceIPAddress, "ec2.amazonaws.com");
      assert.equal(r.userIdentity.type, "AWSService");
      const name = r.requestParameters?.roleSessionName as string;
      assert.match(name, /^i-[0-9a-f]{17}$/);
      const at = `${name}@${r.eventTime}`;
      const keys = issued.get(at) ?? new Set();
      keys.add((r.responseElements?.credentials as { accessKeyId?: string } | undefined)?.accessKeyId ?? "");
      issued.set(at, keys);
    }
    assert.ok(issued.size > small.instances, "rotations on top of the launch issuances");
    for (const [at, keys] of issued) assert.equal(keys.size, 2, `${at}: one key per IMDS version`);
  });

  test("benign instance calls come after their issuance, through IMDSv2, with server user agents", () => {
    const truth = readTruth(join(a.outDir, "truth.jsonl"));
    const stolenKeys = new Set(truth.map((i) => i.session.accessKeyId));
    const thiefAgents = new Set(truth.map((i) => i.attacker.userAgent));
    const issuedAt = new Map<string, string>();
    for (const r of records) {
      if (r.eventName === "AssumeRole" && r.userIdentity.invokedBy === "ec2.amazonaws.com") {
        const key = (r.responseElements?.credentials as { accessKeyId?: string } | undefined)?.accessKeyId ?? "";
        issuedAt.set(key, r.eventTime);
      }
    }
    let checked = 0;
    for (const r of records) {
      const delivery = r.userIdentity.sessionContext?.ec2RoleDelivery;
      if (!delivery || thiefAgents.has(r.userAgent)) continue;
      checked++;
      const key = r.userIdentity.accessKeyId ?? "";
      const at = issuedAt.get(key);
      assert.ok(at && at <= r.eventTime, `${r.eventID} uses a key issued before the call`);
      if (!stolenKeys.has(key)) assert.equal(delivery, "2.0");
      if (r.userIdentity.invokedBy) continue;
      assert.doesNotMatch(r.userAgent, /Darwin|macos|Windows|Mozilla/i, r.userAgent);
      const action = `${r.eventSource.replace(".amazonaws.com", "")}:${r.eventName}`;
      if (action === "sts:GetCallerIdentity") assert.match(r.userIdentity.arn ?? "", /eks-nodegroup/);
    }
    assert.ok(checked > 1000);
  });

  test("the fleet exercises the tricky benign paths", () => {
    const names = new Set(records.map((r) => r.eventName));
    for (const n of [
      "RunInstances",
      "AssumeRole",
      "GetCallerIdentity",
      "CreateVpcEndpoint",
      "ConsoleLogin",
      "Decrypt",
    ]) {
      assert.ok(names.has(n), n);
    }
    assert.ok(
      records.some((r) => r.vpcEndpointId && /^10\./.test(r.sourceIPAddress)),
      "VPC endpoint traffic",
    );
    assert.ok(
      records.some((r) => r.sourceIPAddress.includes(":")),
      "IPv6",
    );
    assert.ok(
      records.some((r) => r.userIdentity.invokedBy === "AWS Internal"),
      "AWS Internal",
    );
    const invokers = new Set(records.map((r) => r.userIdentity.invokedBy));
    for (const s of [
      "ecs-tasks.amazonaws.com",
      "lambda.amazonaws.com",
      "autoscaling.amazonaws.com",
      "config.amazonaws.com",
    ]) {
      assert.ok(invokers.has(s), s);
    }
    const fleet = readFleet(join(a.outDir, "fleet.jsonl"));
    const traits = new Set(fleet.flatMap((f) => f.traits));
    for (const t of ["eks-node", "dual-stack", "ecs-task", "lambda", "ci-deploy", "victim"])
      assert.ok(traits.has(t), t);
  });

  test("lifecycle events come before the instance's first call from its new address", async () => {
    const big = await simulate({
      outDir: join(root, "life"),
      instances: 150,
      hours: 3,
      accounts: 1,
      regions: 1,
      attacks: "none",
    });
    const recs = readAll(big.outDir, big.files).flatMap((f) => f.records);
    const fleet = readFleet(join(big.outDir, "fleet.jsonl"));
    const changed = fleet.filter((f) =>
      f.traits.some((t) => ["eip-associate", "eni-eip", "secondary-ip-eip", "eni-attach"].includes(t)),
    );
    assert.ok(changed.length > 0);
    for (const s of changed) {
      const calls = recs
        .filter((r) => r.userIdentity.arn === s.key && !r.vpcEndpointId && /^\d+\./.test(r.sourceIPAddress))
        .sort((x, y) => (x.eventTime < y.eventTime ? -1 : 1));
      const addresses = [...new Set(calls.map((c) => c.sourceIPAddress))];
      assert.equal(addresses.length, 2, `${s.key}: one address before and one after`);
      const firstNew = calls.find((c) => c.sourceIPAddress === addresses[1]) as Rec;
      const instanceId = s.key.split("/").at(-1) as string;
      const eniOf = (r: Rec) => (r.requestParameters?.networkInterfaceId as string | undefined) ?? "-none-";
      const launch = JSON.stringify(
        recs.find((r) => r.eventName === "RunInstances" && JSON.stringify(r.responseElements).includes(instanceId))
          ?.responseElements,
      );
      const change = recs
        .filter(
          (r) =>
            ["AssociateAddress", "AttachNetworkInterface", "AssignPrivateIpAddresses"].includes(r.eventName) &&
            r.eventTime <= firstNew.eventTime &&
            (JSON.stringify(r.requestParameters).includes(instanceId) || launch.includes(eniOf(r))),
        )
        .sort((x, y) => (x.eventTime < y.eventTime ? -1 : 1))
        .at(-1);
      assert.ok(change, `${s.key}: an address change event`);
      const gap = Date.parse(firstNew.eventTime) - Date.parse(change.eventTime);
      assert.ok(gap > 0 && gap <= 30 * 60_000, `${s.key}: new address ${gap / 1000}s after ${change.eventName}`);
    }
  });

  test("the truth names real events, one incident per requested kind", () => {
    const truth = readTruth(join(a.outDir, "truth.jsonl"));
    assert.deepEqual([...new Set(truth.map((i) => i.kind))].sort(), [...ATTACK_KINDS].sort());
    const byId = new Map(records.map((r) => [r.eventID, r] as const));
    for (const i of truth) {
      const first = byId.get(i.firstMaliciousEvent.id);
      assert.ok(first, `${i.id}: first malicious event is in the logs`);
      assert.equal(first.eventTime, i.firstMaliciousEvent.time);
      assert.equal(first.userIdentity.arn, i.session.arn);
      assert.equal(first.userIdentity.accessKeyId, i.session.accessKeyId);
      assert.ok(i.attacker.addresses.includes(first.sourceIPAddress));
      const mine = records.filter(
        (r) => r.userIdentity.accessKeyId === i.session.accessKeyId && r.userAgent === i.attacker.userAgent,
      );
      assert.equal(new Set(mine.map((r) => r.eventID)).size, i.maliciousEvents);
      assert.ok(mine.every((r) => r.eventTime >= i.firstMaliciousEvent.time));
    }
    const first = truth.find((i) => i.kind === "attacker-first");
    assert.ok(first);
    const instanceCalls = records.filter(
      (r) => r.userIdentity.arn === first.session.arn && !first.attacker.addresses.includes(r.sourceIPAddress),
    );
    assert.ok(
      instanceCalls.every((r) => r.eventTime > first.firstMaliciousEvent.time),
      "the thief called first",
    );
  });

  test("config and ip-ranges describe the fleet", () => {
    const config = parseConfig(readFileSync(join(a.outDir, "firstcall.yaml"), "utf8"), "firstcall.yaml");
    assert.deepEqual(config.accounts, [...a.accounts]);
    const ranges = JSON.parse(readFileSync(join(a.outDir, "ip-ranges.json"), "utf8")) as {
      prefixes: { ip_prefix: string; service: string }[];
      ipv6_prefixes: { ipv6_prefix: string; service: string }[];
    };
    const ec2 = new CidrSet([
      ...ranges.prefixes.filter((p) => p.service === "EC2").map((p) => p.ip_prefix),
      ...ranges.ipv6_prefixes.filter((p) => p.service === "EC2").map((p) => p.ipv6_prefix),
    ]);
    const own = new CidrSet(config.ownNetworks);
    for (const i of readTruth(join(a.outDir, "truth.jsonl"))) {
      for (const ip of i.attacker.addresses) {
        if (i.attacker.network === "outside-aws")
          assert.ok(!ec2.has(ip) && !own.has(ip), `${i.id}: ${ip} is outside AWS`);
        if (i.attacker.network === "aws")
          assert.ok(ec2.has(ip) && !own.has(ip), `${i.id}: ${ip} is someone else's EC2 address`);
      }
    }
    const thiefAgents = new Set(readTruth(join(a.outDir, "truth.jsonl")).map((i) => i.attacker.userAgent));
    const instanceAddresses = records
      .filter(
        (r) =>
          r.userIdentity.sessionContext?.ec2RoleDelivery === "2.0" &&
          !r.vpcEndpointId &&
          !r.userIdentity.invokedBy &&
          !thiefAgents.has(r.userAgent),
      )
      .map((r) => r.sourceIPAddress);
    for (const ip of new Set(instanceAddresses)) assert.ok(ec2.has(ip), `${ip} lies in the EC2 ranges`);
  });
});

describe("parseAttackList", () => {
  test("all, none, kinds with and without counts", () => {
    assert.equal(parseAttackList("all", 2).length, ATTACK_KINDS.length);
    assert.deepEqual(parseAttackList("none", 2), []);
    assert.deepEqual(parseAttackList("recon:5, lambda-theft", 2), [
      { kind: "recon", count: 5 },
      { kind: "lambda-theft", count: 2 },
    ]);
  });
  test("rejects unknown kinds and bad counts", () => {
    assert.throws(() => parseAttackList("teleport", 1), /unknown attack kind/);
    assert.throws(() => parseAttackList("recon:-1", 1), /bad count/);
  });
});

describe("Rng", () => {
  test("is deterministic per seed, and forks do not disturb the parent", () => {
    const x = new Rng(7);
    const y = new Rng(7);
    const seq = Array.from({ length: 5 }, () => x.u32());
    assert.deepEqual(
      Array.from({ length: 5 }, () => y.u32()),
      seq,
    );
    const p = new Rng(1);
    const q = new Rng(1);
    p.fork("a").u32();
    assert.equal(p.u32(), q.u32());
    assert.notEqual(new Rng(1).u32(), new Rng(2).u32());
  });
  test("draws are in range and roughly uniform", () => {
    const rng = new Rng(3);
    const buckets = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) {
      const k = rng.int(4);
      buckets[k] = (buckets[k] ?? 0) + 1;
    }
    for (const b of buckets) assert.ok(b > 9000 && b < 11000, String(b));
    const mean = Array.from({ length: 20_000 }, () => rng.poisson(3)).reduce((s, v) => s + v, 0) / 20_000;
    assert.ok(Math.abs(mean - 3) < 0.1, String(mean));
    assert.match(rng.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(rng.hex(17), /^[0-9a-f]{17}$/);
  });
});
