/**
 * The simulated address plan. Every address is synthetic and comes from ranges reserved for tests
 * and documentation, so nothing the simulator writes points at a real host:
 *
 * - 198.18.0.0/15 (RFC 2544, benchmarking) plays AWS's public EC2 space. Each region gets a /18:
 *   one /24 per account for its NAT gateways and Elastic IPs, four /24s for other people's AWS
 *   accounts (where an "inside AWS" thief calls from), four for Lambda's egress, and the rest is the
 *   pool auto-assigned public addresses are drawn from.
 * - 192.0.2.0/24 (TEST-NET-1) is the fleet owner's office and CI runners.
 * - 198.51.100.0/24 and 203.0.113.0/24 (TEST-NET-2/3) are outside AWS: where thieves call from.
 * - 2001:db8::/32 (IPv6 documentation) holds the regions' IPv6 EC2 ranges and the VPCs' /56 blocks.
 * - 10.0.0.0/8 are the fleet's private addresses; 172.31.0.0/16 a thief's own VPC.
 */
import type { Rng } from "./prng.js";

export const SIM_REGIONS = [
  "us-east-1",
  "eu-west-1",
  "us-west-2",
  "ap-southeast-2",
  "eu-central-1",
  "ap-northeast-1",
  "us-east-2",
  "sa-east-1",
] as const;
export const MAX_ACCOUNTS = 16;

const AWS_V4_BASE = ((198 << 24) | (18 << 16)) >>> 0;
const REGION_BLOCK = 1 << 14; // a /18 per region
const OTHER_ACCOUNTS_FIRST_24 = 16;
const LAMBDA_FIRST_24 = 20;
const PUBLIC_POOL_FIRST_24 = 24;
const PUBLIC_POOL_SIZE = (64 - PUBLIC_POOL_FIRST_24) * 256;
/** A step coprime with every pool size used here, so stepping visits each slot once before repeating. */
const STRIDE = 7919;

export function v4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Walks a block of `size` addresses from `first` in a scrambled order, skipping .0 and .255. */
class Pool {
  private k = 0;
  constructor(
    private readonly first: number,
    private readonly size: number,
    private readonly start: number,
  ) {}
  next(): string {
    for (;;) {
      const offset = (this.start + this.k * STRIDE) % this.size;
      this.k++;
      const n = (this.first + offset) >>> 0;
      const last = n & 255;
      if (last !== 0 && last !== 255) return v4(n);
    }
  }
}

/** The region's /18 of simulated EC2 space, as a CIDR. */
export function regionV4Cidr(regionIndex: number): string {
  return `${v4(AWS_V4_BASE + regionIndex * REGION_BLOCK)}/18`;
}

/** The account's NAT and Elastic IP /24 in a region (listed in the owner's `ownNetworks`). */
export function accountEgressCidr(accountIndex: number, regionIndex: number): string {
  return `${v4(AWS_V4_BASE + regionIndex * REGION_BLOCK + accountIndex * 256)}/24`;
}

export function regionV6Cidr(regionIndex: number): string {
  return `2001:db8:${((0x10 + regionIndex) << 8).toString(16)}::/40`;
}

function vpcV6Hextet(accountIndex: number, regionIndex: number): string {
  return (((0x10 + regionIndex) << 8) | accountIndex).toString(16);
}

export function vpcV6Cidr(accountIndex: number, regionIndex: number): string {
  return `2001:db8:${vpcV6Hextet(accountIndex, regionIndex)}::/56`;
}

export const OFFICE_CIDR = "192.0.2.0/24";
export const OUTSIDE_CIDRS = ["203.0.113.0/24", "198.51.100.0/24"] as const;
export const THIEF_VPC_CIDR = "172.31.0.0/16";

/**
 * Hands out addresses for one simulation. Pools are per region (and per account where the space is
 * the account's), each starting at a seeded offset.
 *
 * @example
 * const plan = new AddressPlan(rng, 3, 2);
 * plan.publicIp(0);          // an auto-assigned public address in region 0
 * plan.natIp(1, 0);          // account 1's NAT gateway address in region 0
 */
export class AddressPlan {
  private readonly publicPools: Pool[] = [];
  private readonly eipPools: Pool[][] = [];
  private readonly otherAwsPools: Pool[] = [];
  private readonly lambdaPools: Pool[] = [];
  private readonly privatePools: Pool[][] = [];
  private readonly outsidePool: Pool;
  private readonly thiefPrivatePool: Pool;
  private readonly officePool: Pool;

  constructor(
    private readonly rng: Rng,
    readonly accounts: number,
    readonly regions: number,
  ) {
    if (accounts > MAX_ACCOUNTS) throw new RangeError(`at most ${MAX_ACCOUNTS} accounts`);
    if (regions > SIM_REGIONS.length) throw new RangeError(`at most ${SIM_REGIONS.length} regions`);
    for (let r = 0; r < regions; r++) {
      const base = AWS_V4_BASE + r * REGION_BLOCK;
      this.publicPools.push(new Pool(base + PUBLIC_POOL_FIRST_24 * 256, PUBLIC_POOL_SIZE, rng.int(PUBLIC_POOL_SIZE)));
      this.otherAwsPools.push(new Pool(base + OTHER_ACCOUNTS_FIRST_24 * 256, 4 * 256, rng.int(1024)));
      this.lambdaPools.push(new Pool(base + LAMBDA_FIRST_24 * 256, 4 * 256, rng.int(1024)));
      const eips: Pool[] = [];
      const privates: Pool[] = [];
      for (let a = 0; a < accounts; a++) {
        // .1–.15 are NAT gateways (natIp), the rest of the /24 is the Elastic IP pool.
        eips.push(new Pool(base + a * 256 + 16, 240, rng.int(240)));
        privates.push(new Pool(((10 << 24) | ((a * 8 + r) << 16)) >>> 0, 65536, rng.int(65536)));
      }
      this.eipPools.push(eips);
      this.privatePools.push(privates);
    }
    // Outside AWS: the two TEST-NETs back to back are not contiguous, so draw from each in turn.
    this.outsidePool = new Pool(((203 << 24) | (0 << 16) | (113 << 8)) >>> 0, 256, rng.int(256));
    this.outsidePool2 = new Pool(((198 << 24) | (51 << 16) | (100 << 8)) >>> 0, 256, rng.int(256));
    this.thiefPrivatePool = new Pool(((172 << 24) | (31 << 16)) >>> 0, 65536, rng.int(65536));
    this.officePool = new Pool(((192 << 24) | (2 << 8)) >>> 0, 100, rng.int(100));
  }

  private readonly outsidePool2: Pool;
  private outsideTurn = 0;

  publicIp(region: number): string {
    return (this.publicPools[region] as Pool).next();
  }
  elasticIp(account: number, region: number): string {
    return ((this.eipPools[region] ?? [])[account] as Pool).next();
  }
  /** NAT gateway `n` (0–14) of the account's VPC in the region. */
  natIp(account: number, region: number, n: number): string {
    return v4(AWS_V4_BASE + region * REGION_BLOCK + account * 256 + 1 + (n % 15));
  }
  privateIp(account: number, region: number): string {
    return ((this.privatePools[region] ?? [])[account] as Pool).next();
  }
  /** An address in AWS's EC2 space that belongs to someone else's account. */
  otherAwsIp(region: number): string {
    return (this.otherAwsPools[region] as Pool).next();
  }
  lambdaIp(region: number): string {
    return (this.lambdaPools[region] as Pool).next();
  }
  outsideIp(): string {
    return (this.outsideTurn++ % 2 === 0 ? this.outsidePool : this.outsidePool2).next();
  }
  thiefPrivateIp(): string {
    return this.thiefPrivatePool.next();
  }
  officeIp(): string {
    return this.officePool.next();
  }
  /** A global-unicast address in the account's VPC /56 in the region, in canonical (RFC 5952) form. */
  ipv6(account: number, region: number): string {
    const g = () => (1 + this.rng.int(0xffff)).toString(16);
    return `2001:db8:${vpcV6Hextet(account, region)}:${(1 + this.rng.int(255)).toString(16)}:${g()}:${g()}:${g()}:${g()}`;
  }
}

/** AWS's `ip-ranges.json` shape, with synthetic prefixes covering the simulated regions. */
export interface IpRangesFile {
  syncToken: string;
  createDate: string;
  prefixes: { ip_prefix: string; region: string; service: string; network_border_group: string }[];
  ipv6_prefixes: { ipv6_prefix: string; region: string; service: string; network_border_group: string }[];
}

/**
 * Builds the synthetic ip-ranges.json: for every simulated region an `AMAZON` and an `EC2` entry for
 * its /18 and IPv6 /40, plus S3 and a global CloudFront-like entry so that the file has the variety
 * of the real one. The "other AWS account" thieves' addresses lie inside the regions' EC2 ranges.
 */
export function buildIpRanges(regions: readonly string[], createdAt: Date): IpRangesFile {
  const prefixes: IpRangesFile["prefixes"] = [];
  const ipv6: IpRangesFile["ipv6_prefixes"] = [];
  regions.forEach((region, r) => {
    for (const service of ["AMAZON", "EC2"]) {
      prefixes.push({ ip_prefix: regionV4Cidr(r), region, service, network_border_group: region });
      ipv6.push({ ipv6_prefix: regionV6Cidr(r), region, service, network_border_group: region });
    }
    const s3 = `${v4(((198 << 24) | (19 << 16) | (r << 12)) >>> 0)}/20`;
    for (const service of ["AMAZON", "S3"]) {
      prefixes.push({ ip_prefix: s3, region, service, network_border_group: region });
    }
  });
  prefixes.push({ ip_prefix: "198.19.240.0/20", region: "GLOBAL", service: "AMAZON", network_border_group: "GLOBAL" });
  prefixes.push({
    ip_prefix: "198.19.240.0/20",
    region: "GLOBAL",
    service: "CLOUDFRONT",
    network_border_group: "GLOBAL",
  });
  const p = (n: number) => String(n).padStart(2, "0");
  const d = createdAt;
  return {
    syncToken: String(Math.floor(d.getTime() / 1000)),
    createDate: `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`,
    prefixes,
    ipv6_prefixes: ipv6,
  };
}
