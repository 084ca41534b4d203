/**
 * Writes testdata/sample/: a small, hand-designed day of CloudTrail in the S3 layout, used by the
 * README's quick start. Three instances; one has its credentials stolen and used from a laptop.
 * Run: node --import tsx scripts/make-sample.ts
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { CloudTrailRecord } from "../src/cloudtrail/record.js";
import { ACCOUNT, at, call, ec2Issuance, userCall } from "../src/test-helpers/records.js";

const out = join("testdata", "sample");
rmSync(out, { recursive: true, force: true });
const records: CloudTrailRecord[] = [];
const fleet = [
  { id: "i-0a1b2c3d4e5f60001", home: "54.210.10.11" },
  { id: "i-0a1b2c3d4e5f60002", home: "54.210.10.12" },
  { id: "i-0a1b2c3d4e5f60003", home: "3.91.200.7" },
];
for (const [n, inst] of fleet.entries()) {
  for (let h = 0; h < 6; h++) {
    const v2 = `ASIASAMPLE${n}${h}V2000000`.slice(0, 20);
    const v1 = `ASIASAMPLE${n}${h}V1000000`.slice(0, 20);
    records.push(ec2Issuance(inst.id, v2, at(h * 60 + n)), ec2Issuance(inst.id, v1, at(h * 60 + n)));
    for (let c = 0; c < 8; c++) {
      records.push(
        call(inst.id, v2, inst.home, at(h * 60 + n + 1 + c * 7), {
          userAgent: "amazon-ssm-agent/3.3.987.0",
          name: "UpdateInstanceInformation",
          source: "ssm.amazonaws.com",
        }),
      );
    }
    records.push(
      call(inst.id, v2, `10.0.1.${10 + n}`, at(h * 60 + 20 + n), {
        source: "s3.amazonaws.com",
        name: "GetObject",
        vpce: "vpce-0sample000000001",
        vpceAccount: ACCOUNT,
      }),
    );
    records.push(call(inst.id, v2, "AWS Internal", at(h * 60 + 25), { source: "kms.amazonaws.com", name: "Decrypt" }));
  }
}
// Instance 2 gets an Elastic IP at 02:00 from an operator: its new address is learned.
records.push(userCall("AssociateAddress", at(120), { instanceId: fleet[1]?.id, allocationId: "eipalloc-0sample" }));
records.push(call(fleet[1]?.id ?? "", "ASIASAMPLE12V2000000", "34.200.1.99", at(125)));
// Instance 3's credentials are copied off the box and used from a laptop at 03:10.
const thief = "185.220.101.42";
const laptop =
  "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source prompt/off";
records.push(
  call(fleet[2]?.id ?? "", "ASIASAMPLE23V1000000", thief, at(190), {
    name: "GetCallerIdentity",
    source: "sts.amazonaws.com",
    userAgent: laptop,
    delivery: "1.0",
  }),
);
records.push(
  call(fleet[2]?.id ?? "", "ASIASAMPLE23V1000000", thief, at(191), {
    name: "ListBuckets",
    source: "s3.amazonaws.com",
    userAgent: laptop,
    delivery: "1.0",
  }),
);
records.push(
  call(fleet[2]?.id ?? "", "ASIASAMPLE23V1000000", thief, at(193), {
    name: "GetObject",
    source: "s3.amazonaws.com",
    userAgent: laptop,
    delivery: "1.0",
  }),
);

// Deliver as CloudTrail does: one file per ~5 minutes, records unordered inside.
const byFile = new Map<string, CloudTrailRecord[]>();
for (const r of records) {
  const t = new Date(Date.parse(String(r.eventTime)) + 5 * 60_000);
  t.setUTCMinutes(t.getUTCMinutes() - (t.getUTCMinutes() % 5), 0, 0);
  const stamp = t.toISOString().replace(/[-:]/g, "").slice(0, 13);
  const list = byFile.get(stamp) ?? [];
  list.push(r);
  byFile.set(stamp, list);
}
const dir = join(out, "AWSLogs", ACCOUNT, "CloudTrail", "us-east-1", "2026", "11", "01");
mkdirSync(dir, { recursive: true });
let i = 0;
for (const [stamp, list] of [...byFile].sort()) {
  list.reverse();
  const name = `${ACCOUNT}_CloudTrail_us-east-1_${stamp}Z_sample${String(i++).padStart(10, "0")}.json.gz`;
  writeFileSync(join(dir, name), gzipSync(JSON.stringify({ Records: list })));
}
const digestDir = join(out, "AWSLogs", ACCOUNT, "CloudTrail-Digest", "us-east-1", "2026", "11", "01");
mkdirSync(digestDir, { recursive: true });
writeFileSync(
  join(digestDir, `${ACCOUNT}_CloudTrail-Digest_us-east-1_sample_us-east-1_20261101T010000Z.json.gz`),
  gzipSync(
    JSON.stringify({
      awsAccountId: ACCOUNT,
      digestStartTime: "2026-11-01T00:00:00Z",
      digestEndTime: "2026-11-01T01:00:00Z",
      logFiles: [],
      digestS3Object: "x",
    }),
  ),
);
writeFileSync(
  join(out, "README.md"),
  "Synthetic sample written by scripts/make-sample.ts (no real account): three instances over six hours, one Elastic IP association, and one instance credential stolen and used from a laptop at 03:10.\n",
);
console.log(`wrote ${byFile.size} log files, ${records.length} records to ${out}`);
