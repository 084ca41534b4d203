/**
 * The severity of per-call findings on an instance credential whose home call is not in the logs
 * (docs/ARCHITECTURE.md §3 Severity): high when the address is shown to be outside your networks and
 * outside AWS, and for a desktop or attack tool's agent unless the address is known to be AWS's or yours.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { call } from "../test-helpers/records.js";
import { scanRecords, tempDir } from "../test-helpers/scan.js";

const dir = tempDir("firstcall-severity-");
after(() => rmSync(dir, { recursive: true, force: true }));

const ipRanges = join(dir, "ip-ranges.json");
writeFileSync(
  ipRanges,
  JSON.stringify({ prefixes: [{ ip_prefix: "52.95.0.0/16", region: "us-east-1", service: "EC2" }] }),
);

const I = "i-0fedcba9876543210";
const KEY = "ASIAKEYUNCOVEREDAAA1";
const AWS_ADDRESS = "52.95.1.10";
const OUTSIDE = "198.51.100.44";
const OWN = "203.0.113.9";
const MACOS_CLI = "aws-cli/2.13.0 Python/3.11.4 Darwin/22.5.0 exe/x86_64 prompt/off";
const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 3, minute)).toISOString().replace(".000Z", "Z");

/** Calls with the instance credential from one address only, no issuance and no home call. */
function onlyFrom(ip: string, userAgent?: string) {
  return [
    call(I, KEY, ip, at(1), {
      name: "GetCallerIdentity",
      source: "sts.amazonaws.com",
      ...(userAgent ? { userAgent } : {}),
    }),
    call(I, KEY, ip, at(2), { name: "ListBuckets", source: "s3.amazonaws.com", ...(userAgent ? { userAgent } : {}) }),
  ];
}

async function severities(records: ReturnType<typeof onlyFrom>, withRanges: boolean): Promise<Record<string, string>> {
  const { findings } = await scanRecords(records, {
    yaml: `ownNetworks: ["${OWN}/32"]`,
    ...(withRanges ? { ipRangesPath: ipRanges } : {}),
  });
  return Object.fromEntries(findings.map((f) => [f.rule, f.severity]));
}

describe("per-call findings when the home call is not in the logs", () => {
  test("outside your networks and outside AWS (--ip-ranges): recon and foreign agent are high", async () => {
    assert.deepEqual(await severities(onlyFrom(OUTSIDE, MACOS_CLI), true), {
      "instance-credential-foreign-agent": "high",
      "instance-credential-recon": "high",
    });
    assert.deepEqual(await severities(onlyFrom(OUTSIDE), true), { "instance-credential-recon": "high" });
  });

  test("an AWS address or your own network: the rules' own severity (medium)", async () => {
    for (const ip of [AWS_ADDRESS, OWN]) {
      assert.deepEqual(await severities(onlyFrom(ip, MACOS_CLI), true), {
        "instance-credential-foreign-agent": "medium",
        "instance-credential-recon": "medium",
      });
    }
  });

  test("without --ip-ranges: a desktop agent is high, a server's recon stays medium", async () => {
    assert.deepEqual(await severities(onlyFrom(OUTSIDE, MACOS_CLI), false), {
      "instance-credential-foreign-agent": "high",
      "instance-credential-recon": "medium",
    });
    assert.deepEqual(await severities(onlyFrom(OUTSIDE), false), { "instance-credential-recon": "medium" });
  });
});
