/**
 * Findings to check an exchange format against: every finding of the sample scan (testdata/sample,
 * one per rule), of the public attack captures in testdata/ (Stratus Red Team, OTRF), a retraction
 * made by a real two-scan run, and findings of the other credential kinds and address forms
 * (ECS task, Lambda, no access key, IPv6, a service name as the source).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Finding } from "../findings/finding.js";
import { runScan } from "../pipeline/scan.js";
import { at, call, ec2Issuance, userCall } from "./records.js";
import { tempDir, writeLogFiles } from "./scan.js";

export interface CorpusFinding {
  /** Where the finding comes from, for failure messages. */
  readonly label: string;
  readonly finding: Finding;
}

const REPO = new URL("../../", import.meta.url).pathname;

/** Every finding of a scan of `path` (a throw-away state). */
async function scanned(label: string, path: string): Promise<CorpusFinding[]> {
  const result = await runScan({ paths: [join(REPO, path)], statePath: ":memory:" });
  return result.findings.map((finding) => ({ label: `${label} ${finding.rule}`, finding }));
}

/** A finding and then its retraction: an AssociateAddress delivered after the calls it explains. */
async function retraction(): Promise<CorpusFinding[]> {
  const dir = tempDir();
  try {
    const instance = "i-0aaaaaaaaaaaaaa01";
    const key = "ASIARETRACT000000001";
    const logs = (name: string) => {
      const path = join(dir, name);
      mkdirSync(path, { recursive: true });
      return path;
    };
    writeLogFiles(logs("first"), [
      [
        ec2Issuance(instance, key, at(0)),
        call(instance, key, "54.10.0.1", at(1)),
        call(instance, key, "3.80.9.9", at(60), { name: "DescribeVolumes" }),
      ],
    ]);
    const state = join(dir, "state.sqlite");
    const first = await runScan({ paths: [logs("first")], statePath: state });
    writeLogFiles(logs("second"), [
      [userCall("AssociateAddress", at(58), { instanceId: instance, allocationId: "eipalloc-1" })],
    ]);
    const second = await runScan({ paths: [logs("second")], statePath: state });
    const retracted = second.findings.filter((f) => f.status === "retracted");
    if (retracted.length === 0) throw new Error("the retraction scenario made no retracted finding");
    return [
      ...first.findings.map((finding) => ({ label: `before retraction ${finding.rule}`, finding })),
      ...retracted.map((finding) => ({ label: "retracted", finding })),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Variations of a real finding: other credential kinds, no access key, IPv6, a service as the source. */
function variations(base: Finding): CorpusFinding[] {
  const p = base.principal;
  const vary = (label: string, change: Partial<Finding>): CorpusFinding => ({
    label,
    finding: { ...base, id: `${base.id}-${label.replace(/\W+/g, "-")}`, ...change },
  });
  return [
    vary("ecs task", {
      principal: {
        arn: `${p.roleArn ?? p.arn}/5f1c2a3b4d5e6f70`,
        roleArn: p.roleArn,
        sessionName: "5f1c2a3b4d5e6f70",
        accessKeyId: "ASIAECSTASK000000001",
        kind: "ecs-task",
      },
    }),
    vary("lambda without access key", {
      principal: {
        arn: "arn:aws:sts::111122223333:assumed-role/thumbnailer-role/thumbnailer",
        roleArn: "arn:aws:iam::111122223333:role/thumbnailer-role",
        sessionName: "thumbnailer",
        kind: "lambda",
      },
    }),
    vary("ipv6 source, no expected address", { sourceIp: "2001:db8::66", expectedIps: [] }),
    vary("service name as source", {
      sourceIp: "ec2.amazonaws.com",
      expectedIps: ["2001:db8::1", "54.10.0.1"],
      severity: "info",
    }),
    vary("empty account and region", { account: "", region: "" }),
  ];
}

/**
 * The corpus, in a fixed order.
 *
 * @example
 * for (const { label, finding } of await findingCorpus()) assert.ok(validate(toOcsf(finding)), label);
 */
export async function findingCorpus(): Promise<CorpusFinding[]> {
  const sample = await scanned("sample", "testdata/sample");
  const base = sample.find((c) => c.finding.rule === "credential-ip-mismatch")?.finding;
  if (!base) throw new Error("testdata/sample has no credential-ip-mismatch finding");
  return [
    ...sample,
    ...(await scanned("stratus-red-team", "testdata/stratus-red-team")),
    ...(await scanned("otrf", "testdata/otrf")),
    ...(await retraction()),
    ...variations(base),
  ];
}
