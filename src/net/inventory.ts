/**
 * What the scan knows about addresses: your own egress networks (config `ownNetworks`) and AWS's
 * published ranges (`ip-ranges.json`). Mismatching addresses are classified with it, which sets
 * severity, and it decides whether an address of the other IP family may be a second path.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { UsageError } from "../errors.js";
import type { NetworkClass } from "../findings/finding.js";
import { CidrSet } from "./ip.js";

const ipRangesSchema = z.object({
  syncToken: z.string().optional(),
  createDate: z.string().optional(),
  prefixes: z.array(z.object({ ip_prefix: z.string(), region: z.string(), service: z.string() })),
  ipv6_prefixes: z.array(z.object({ ipv6_prefix: z.string(), region: z.string(), service: z.string() })).default([]),
});

interface AwsRanges {
  readonly all: CidrSet;
  /** EC2 ranges per region: where instances' addresses come from. */
  readonly ec2ByRegion: Map<string, CidrSet>;
  readonly createDate?: string;
}

/** Parses AWS's ip-ranges.json text; errors name the file. */
export function parseIpRanges(text: string, source: string): AwsRanges {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError("E_CONFIG", `${source}: not JSON: ${(e as Error).message}`);
  }
  const parsed = ipRangesSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError("E_CONFIG", `${source}: not an AWS ip-ranges.json file (${parsed.error.issues[0]?.message})`);
  }
  const all = new CidrSet();
  const ec2ByRegion = new Map<string, CidrSet>();
  const entries = [
    ...parsed.data.prefixes.map((p) => ({ cidr: p.ip_prefix, region: p.region, service: p.service })),
    ...parsed.data.ipv6_prefixes.map((p) => ({ cidr: p.ipv6_prefix, region: p.region, service: p.service })),
  ];
  try {
    for (const e of entries) {
      if (e.service === "AMAZON") all.add(e.cidr);
      if (e.service === "EC2") {
        const set = ec2ByRegion.get(e.region) ?? new CidrSet();
        ec2ByRegion.set(e.region, set);
        set.add(e.cidr);
        all.add(e.cidr);
      }
    }
  } catch (e) {
    throw new UsageError("E_CONFIG", `${source}: ${(e as Error).message}`);
  }
  return { all, ec2ByRegion, ...(parsed.data.createDate ? { createDate: parsed.data.createDate } : {}) };
}

export class NetworkInventory {
  private readonly classCache = new Map<string, NetworkClass>();

  constructor(
    private readonly own: CidrSet,
    private readonly aws?: AwsRanges,
  ) {}

  /** @example NetworkInventory.load(["203.0.113.0/24"], "ip-ranges.json") */
  static load(ownNetworks: readonly string[], ipRangesPath?: string): NetworkInventory {
    let own: CidrSet;
    try {
      own = new CidrSet(ownNetworks);
    } catch (e) {
      throw new UsageError("E_CONFIG", `ownNetworks: ${(e as Error).message}`);
    }
    let aws: AwsRanges | undefined;
    if (ipRangesPath) {
      let text: string;
      try {
        text = readFileSync(ipRangesPath, "utf8");
      } catch (e) {
        throw new UsageError("E_CONFIG", `${ipRangesPath}: cannot read: ${(e as Error).message}`);
      }
      aws = parseIpRanges(text, ipRangesPath);
    }
    return new NetworkInventory(own, aws);
  }

  isOwn(ip: string): boolean {
    return this.own.has(ip);
  }

  /** True when the address is in AWS's EC2 ranges for the region (false without ip-ranges.json). */
  isAwsEc2In(ip: string, region: string): boolean {
    return this.aws?.ec2ByRegion.get(region)?.has(ip) ?? false;
  }

  classify(ip: string): NetworkClass {
    let c = this.classCache.get(ip);
    if (c === undefined) {
      if (this.own.has(ip)) c = "own-network";
      else if (!this.aws) c = "unknown";
      else c = this.aws.all.has(ip) ? "aws" : "outside-aws";
      this.classCache.set(ip, c);
    }
    return c;
  }
}
