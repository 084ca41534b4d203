/**
 * What the scan knows about addresses: your own egress networks (config `ownNetworks`) and AWS's
 * published ranges (`ip-ranges.json`). Mismatching addresses are classified with it, which sets
 * severity, and it decides whether an address of the other IP family may be a second path.
 */
import { UsageError } from "../errors.js";
import type { NetworkClass } from "../findings/finding.js";
import type { AwsRanges } from "./aws-ranges.js";
import { CidrSet } from "./ip.js";
import { type IpRangesInfo, type IpRangesLookup, loadAwsRanges } from "./ip-ranges-source.js";

export { parseIpRanges } from "./aws-ranges.js";

export class NetworkInventory {
  private readonly classCache = new Map<string, NetworkClass>();

  constructor(
    private readonly own: CidrSet,
    private readonly aws?: AwsRanges,
    /** Which copy of AWS's ranges this is (for the summary). */
    readonly rangesInfo: IpRangesInfo = { source: aws ? "file" : "none" },
  ) {}

  /**
   * Own networks plus AWS's ranges: `ipRangesPath` when given, else (with `lookup`) the cached copy or
   * the shipped snapshot (see ip-ranges-source.ts), else none.
   *
   * @example NetworkInventory.load(["203.0.113.0/24"], "ip-ranges.json")
   */
  static load(ownNetworks: readonly string[], ipRangesPath?: string, lookup?: IpRangesLookup): NetworkInventory {
    let own: CidrSet;
    try {
      own = new CidrSet(ownNetworks);
    } catch (e) {
      throw new UsageError("E_CONFIG", `ownNetworks: ${(e as Error).message}`);
    }
    const { ranges, info } = loadAwsRanges(ipRangesPath, lookup);
    return new NetworkInventory(own, ranges, info);
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
