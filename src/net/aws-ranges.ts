/**
 * AWS's published address ranges, kept compact: only what firstcall asks of them — "is this address
 * AWS's?" (classification) and "is it in the region's EC2 ranges?" — as sorted, merged intervals of
 * numbers (IPv4 in a Float64Array, IPv6 as bigint pairs), searched by bisection. The real
 * ip-ranges.json has some 10,000 prefixes; merged, they are a few thousand intervals and a lookup is
 * a handful of comparisons.
 *
 * Two file formats are read: AWS's own `ip-ranges.json` (as `--ip-ranges`, or the cached copy of
 * `firstcall ip-ranges update`), and the compact snapshot shipped with the package
 * ({@link SNAPSHOT_SCHEMA}, written by `npm run ip-ranges:snapshot`).
 */
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { UsageError } from "../errors.js";
import { cidrProblem } from "./ip.js";

export const SNAPSHOT_SCHEMA = "firstcall.aws-ip-ranges/v1";

/** Sorted, non-overlapping, non-adjacent closed intervals of one address family. */
class IntervalSet4 {
  constructor(private readonly bounds: Float64Array) {}
  has(n: number): boolean {
    // bounds = [start0, end0, start1, end1, …]; find the last start ≤ n.
    let lo = 0;
    let hi = this.bounds.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.bounds[2 * mid] as number) <= n) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && n <= (this.bounds[2 * hi + 1] as number);
  }
  get intervals(): number {
    return this.bounds.length / 2;
  }
}

class IntervalSet6 {
  constructor(
    private readonly starts: readonly bigint[],
    private readonly ends: readonly bigint[],
  ) {}
  has(n: bigint): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.starts[mid] as bigint) <= n) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && n <= (this.ends[hi] as bigint);
  }
  get intervals(): number {
    return this.starts.length;
  }
}

function v4Number(a: ipaddr.IPv4): number {
  const [b0, b1, b2, b3] = a.octets as [number, number, number, number];
  return ((b0 * 256 + b1) * 256 + b2) * 256 + b3;
}

function v6Number(a: ipaddr.IPv6): bigint {
  let n = 0n;
  for (const part of a.parts) n = (n << 16n) | BigInt(part);
  return n;
}

/** An address as a number of its family, or undefined when it is not a literal address. */
function addressNumber(ip: string): { v4: number } | { v6: bigint } | undefined {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip); // an IPv4-mapped IPv6 address becomes IPv4
  } catch {
    return undefined;
  }
  return addr.kind() === "ipv4" ? { v4: v4Number(addr as ipaddr.IPv4) } : { v6: v6Number(addr as ipaddr.IPv6) };
}

const V4_PREFIX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const V6_PREFIX = /^([0-9a-f:]+)\/(\d{1,3})$/i;

/**
 * The plain forms AWS writes (`3.5.140.0/22`, `2600:1f18::/33`) parsed without ipaddr.js, which
 * costs some 40 µs per prefix here — seconds for AWS's whole file on every scan. Anything else
 * (leading zeros, embedded IPv4, out-of-range values) answers undefined and goes the careful way.
 */
function parsePrefixFast(
  cidr: string,
): { family: 4; start: number; end: number } | { family: 6; start: bigint; end: bigint } | undefined {
  const m4 = V4_PREFIX.exec(cidr);
  if (m4) {
    let n = 0;
    for (let i = 1; i <= 5; i++) {
      const part = m4[i] as string;
      if (part.length > 1 && part.charCodeAt(0) === 48) return undefined; // a leading zero
      if (i < 5) {
        const v = Number(part);
        if (v > 255) return undefined;
        n = n * 256 + v;
      }
    }
    const bits = Number(m4[5]);
    if (bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const start = Math.floor(n / size) * size;
    return { family: 4, start, end: start + size - 1 };
  }
  const m6 = V6_PREFIX.exec(cidr);
  if (!m6) return undefined;
  const bits = Number(m6[2]);
  if (bits > 128) return undefined;
  const text = m6[1] as string;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let n = 0n;
  for (const g of [...head, ...Array<string>(missing).fill("0"), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  // IPv4-mapped prefixes belong to the IPv4 family: leave them to the careful path.
  if (n >> 32n === 0xffffn) return undefined;
  const host = BigInt(128 - bits);
  const start = (n >> host) << host;
  return { family: 6, start, end: start + (1n << host) - 1n };
}

/** Collects prefixes of both families and builds the merged interval sets. */
export class PrefixSetBuilder {
  private readonly v4: [number, number][] = [];
  private readonly v6: [bigint, bigint][] = [];

  /** @throws Error naming the prefix when it is not a CIDR. */
  add(cidr: string): void {
    const fast = parsePrefixFast(cidr);
    if (fast) {
      if (fast.family === 4) this.v4.push([fast.start, fast.end]);
      else this.v6.push([fast.start, fast.end]);
      return;
    }
    const problem = cidrProblem(cidr);
    if (problem || !cidr.includes("/"))
      throw new Error(`not an IP address or CIDR: ${JSON.stringify(cidr)} (${problem ?? "no prefix length"})`);
    const [addr, bits] = ipaddr.parseCIDR(cidr.trim());
    if (addr.kind() === "ipv4") {
      const size = 2 ** (32 - bits);
      const start = Math.floor(v4Number(addr as ipaddr.IPv4) / size) * size;
      this.v4.push([start, start + size - 1]);
    } else {
      const v6 = addr as ipaddr.IPv6;
      if (v6.isIPv4MappedAddress()) {
        const b = Math.max(0, bits - 96);
        const size = 2 ** (32 - b);
        const start = Math.floor(v4Number(v6.toIPv4Address()) / size) * size;
        this.v4.push([start, start + size - 1]);
        return;
      }
      const hostBits = BigInt(128 - bits);
      const start = (v6Number(v6) >> hostBits) << hostBits;
      this.v6.push([start, start + (1n << hostBits) - 1n]);
    }
  }

  build(): PrefixSet {
    return new PrefixSet(merge4(this.v4), merge6(this.v6));
  }
}

function merge4(list: [number, number][]): IntervalSet4 {
  list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: number[] = [];
  for (const [s, e] of list) {
    const last = out.length - 1;
    if (last > 0 && s <= (out[last] as number) + 1) out[last] = Math.max(out[last] as number, e);
    else out.push(s, e);
  }
  return new IntervalSet4(Float64Array.from(out));
}

function merge6(list: [bigint, bigint][]): IntervalSet6 {
  list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const starts: bigint[] = [];
  const ends: bigint[] = [];
  for (const [s, e] of list) {
    const last = ends.length - 1;
    if (last >= 0 && s <= (ends[last] as bigint) + 1n) {
      if (e > (ends[last] as bigint)) ends[last] = e;
    } else {
      starts.push(s);
      ends.push(e);
    }
  }
  return new IntervalSet6(starts, ends);
}

/** A merged set of prefixes of both families with a membership test. */
export class PrefixSet {
  constructor(
    private readonly v4: IntervalSet4,
    private readonly v6: IntervalSet6,
  ) {}

  has(ip: string): boolean {
    const n = addressNumber(ip);
    if (!n) return false;
    return "v4" in n ? this.v4.has(n.v4) : this.v6.has(n.v6);
  }

  /** Number of merged intervals (for tests and the memory note in the docs). */
  get intervals(): number {
    return this.v4.intervals + this.v6.intervals;
  }
}

/** What the scan keeps of AWS's ranges. */
export interface AwsRanges {
  /** Every AWS address (`AMAZON`, which includes the service ranges, and `EC2`). */
  readonly all: PrefixSet;
  /** EC2 ranges per region: where instances' public addresses come from. */
  readonly ec2ByRegion: ReadonlyMap<string, PrefixSet>;
  readonly syncToken?: string;
  /** AWS's `createDate`, `YYYY-MM-DD-hh-mm-ss` (UTC). */
  readonly createDate?: string;
}

const ipRangesSchema = z.object({
  syncToken: z.string().optional(),
  createDate: z.string().optional(),
  prefixes: z.array(z.object({ ip_prefix: z.string(), region: z.string(), service: z.string() })),
  ipv6_prefixes: z.array(z.object({ ipv6_prefix: z.string(), region: z.string(), service: z.string() })).default([]),
});

const snapshotSchema = z.object({
  schema: z.literal(SNAPSHOT_SCHEMA),
  syncToken: z.string().optional(),
  createDate: z.string().optional(),
  /** AMAZON and EC2 prefixes of every region, merged. */
  amazon: z.array(z.string()),
  /** EC2 prefixes per region, merged. */
  ec2: z.record(z.string(), z.array(z.string())),
});

export type IpRangesSnapshot = z.infer<typeof snapshotSchema>;

/** The entries firstcall uses from AWS's file: AMAZON (everything) and EC2 (per region). */
interface RangeEntry {
  readonly cidr: string;
  readonly region: string;
  readonly service: string;
}

function entriesOf(data: z.infer<typeof ipRangesSchema>): RangeEntry[] {
  return [
    ...data.prefixes.map((p) => ({ cidr: p.ip_prefix, region: p.region, service: p.service })),
    ...data.ipv6_prefixes.map((p) => ({ cidr: p.ipv6_prefix, region: p.region, service: p.service })),
  ].filter((e) => e.service === "AMAZON" || e.service === "EC2");
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError("E_CONFIG", `${source}: not JSON: ${(e as Error).message}`);
  }
}

function build(
  amazon: Iterable<string>,
  ec2: Iterable<[string, Iterable<string>]>,
  meta: { syncToken?: string | undefined; createDate?: string | undefined },
  source: string,
): AwsRanges {
  try {
    const all = new PrefixSetBuilder();
    for (const c of amazon) all.add(c);
    const ec2ByRegion = new Map<string, PrefixSet>();
    for (const [region, cidrs] of ec2) {
      const b = new PrefixSetBuilder();
      for (const c of cidrs) {
        b.add(c);
        all.add(c);
      }
      ec2ByRegion.set(region, b.build());
    }
    return {
      all: all.build(),
      ec2ByRegion,
      ...(meta.syncToken ? { syncToken: meta.syncToken } : {}),
      ...(meta.createDate ? { createDate: meta.createDate } : {}),
    };
  } catch (e) {
    throw new UsageError("E_CONFIG", `${source}: ${(e as Error).message}`);
  }
}

/** Parses AWS's ip-ranges.json text; errors name the file (code E_CONFIG). */
export function parseIpRanges(text: string, source: string): AwsRanges {
  const json = parseJson(text, source);
  if (json && typeof json === "object" && (json as { schema?: unknown }).schema === SNAPSHOT_SCHEMA)
    return parseSnapshot(json, source);
  const parsed = ipRangesSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError("E_CONFIG", `${source}: not an AWS ip-ranges.json file (${parsed.error.issues[0]?.message})`);
  }
  const entries = entriesOf(parsed.data);
  const ec2 = new Map<string, string[]>();
  for (const e of entries) {
    if (e.service !== "EC2") continue;
    const list = ec2.get(e.region) ?? [];
    ec2.set(e.region, list);
    list.push(e.cidr);
  }
  return build(
    entries.filter((e) => e.service === "AMAZON").map((e) => e.cidr),
    ec2,
    parsed.data,
    source,
  );
}

function parseSnapshot(json: unknown, source: string): AwsRanges {
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(
      "E_CONFIG",
      `${source}: not a firstcall ip-ranges snapshot (${parsed.error.issues[0]?.message})`,
    );
  }
  return build(parsed.data.amazon, Object.entries(parsed.data.ec2), parsed.data, source);
}

/**
 * Reduces AWS's ip-ranges.json to the snapshot shipped with the package: the AMAZON prefixes and the
 * EC2 prefixes per region, each list with the prefixes other prefixes of the same list contain
 * removed, sorted. Deterministic: the same input gives the same bytes.
 */
export function snapshotOf(text: string, source: string): IpRangesSnapshot {
  const json = parseJson(text, source);
  const parsed = ipRangesSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError("E_CONFIG", `${source}: not an AWS ip-ranges.json file (${parsed.error.issues[0]?.message})`);
  }
  const entries = entriesOf(parsed.data);
  const ec2 = new Map<string, string[]>();
  for (const e of entries.filter((x) => x.service === "EC2")) {
    const list = ec2.get(e.region) ?? [];
    ec2.set(e.region, list);
    list.push(e.cidr);
  }
  const ec2Cidrs = new Set(entries.filter((e) => e.service === "EC2").map((e) => e.cidr));
  // EC2 prefixes are also AMAZON prefixes in AWS's file; the loader adds EC2 to the AMAZON set, so
  // keep each once.
  const amazon = entries.filter((e) => e.service === "AMAZON" && !ec2Cidrs.has(e.cidr)).map((e) => e.cidr);
  // Checked like the loader checks them, so a bad file fails here and not in every user's scan.
  build(amazon, ec2, parsed.data, source);
  return {
    schema: SNAPSHOT_SCHEMA,
    ...(parsed.data.syncToken ? { syncToken: parsed.data.syncToken } : {}),
    ...(parsed.data.createDate ? { createDate: parsed.data.createDate } : {}),
    amazon: withoutContained(amazon),
    ec2: Object.fromEntries(
      [...ec2.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([r, l]) => [r, withoutContained(l)]),
    ),
  };
}

/** The prefixes of a list that no other prefix of the list contains, sorted by address; duplicates once. */
function withoutContained(cidrs: readonly string[]): string[] {
  const parsed = [...new Set(cidrs)].map((c) => {
    const [addr, bits] = ipaddr.parseCIDR(c);
    const family = addr.kind() === "ipv4" ? 4 : 6;
    const n = family === 4 ? BigInt(v4Number(addr as ipaddr.IPv4)) : v6Number(addr as ipaddr.IPv6);
    const width = family === 4 ? 32 : 128;
    const host = BigInt(width - bits);
    const start = (n >> host) << host;
    return { text: `${addr.toString()}/${bits}`, family, start, end: start + (1n << host) - 1n };
  });
  parsed.sort(
    (a, b) => a.family - b.family || (a.start < b.start ? -1 : a.start > b.start ? 1 : b.end > a.end ? 1 : -1),
  );
  const kept: typeof parsed = [];
  for (const p of parsed) {
    const last = kept[kept.length - 1];
    if (last && last.family === p.family && p.end <= last.end) continue;
    kept.push(p);
  }
  return kept.map((p) => p.text);
}

/** `2024-06-03-18-00-00` (AWS's createDate) as a Date, or undefined when it is not one. */
export function createDateOf(createDate: string | undefined): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$/.exec(createDate ?? "");
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
