/**
 * Address sets as CIDR lists for IAM `aws:SourceIp` conditions: the exact smallest cover of a set
 * of addresses and networks (no address added), and, when a policy must shrink to fit IAM's size
 * limit, a widening step that merges the two neighbouring blocks costing the fewest added addresses.
 * IPv4 and IPv6 are kept apart (a block never spans families). Parsing is ipaddr.js's.
 */
import ipaddr from "ipaddr.js";

export type Family = 4 | 6;

/** An inclusive range of addresses of one family, as integers. */
interface Range {
  readonly family: Family;
  readonly start: bigint;
  readonly end: bigint;
}

/** One CIDR block: its family, first address and prefix length. */
export interface Cidr {
  readonly family: Family;
  readonly base: bigint;
  readonly prefix: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

function toBigInt(bytes: number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/**
 * Parses an address or CIDR (IPv4-mapped IPv6 counts as IPv4); the base is masked to the prefix.
 *
 * @example parseCidr("10.1.2.3/8") // { family: 4, base: 167772160n, prefix: 8 }
 * @throws Error when the text is neither an address nor a CIDR.
 */
export function parseCidr(text: string): Cidr {
  const t = text.trim();
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    if (t.includes("/")) [addr, prefix] = ipaddr.parseCIDR(t);
    else {
      addr = ipaddr.parse(t);
      prefix = addr.kind() === "ipv4" ? 32 : 128;
    }
  } catch {
    throw new Error(`not an IP address or CIDR: ${JSON.stringify(text)}`);
  }
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    prefix = Math.max(0, prefix - 96);
  }
  const family: Family = addr.kind() === "ipv4" ? 4 : 6;
  const bits = BITS[family];
  const value = toBigInt(addr.toByteArray());
  const size = 1n << BigInt(bits - prefix);
  return { family, base: value - (value % size), prefix };
}

/** The number of addresses in a block. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(BITS[c.family] - c.prefix);
}

/** Text form: `a.b.c.d/n` or the compact IPv6 form `x::y/n`. */
export function formatCidr(c: Cidr): string {
  const bytes: number[] = [];
  let v = c.base;
  for (let i = 0; i < BITS[c.family] / 8; i++) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  const addr = ipaddr.fromByteArray(bytes);
  return `${addr.toString()}/${c.prefix}`;
}

/** Whether `inner` lies wholly inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    inner.base >= outer.base &&
    inner.base + cidrSize(inner) - 1n <= outer.base + cidrSize(outer) - 1n
  );
}

function toRange(c: Cidr): Range {
  return { family: c.family, start: c.base, end: c.base + cidrSize(c) - 1n };
}

/** Sorted, merged (overlapping or adjacent joined) ranges. */
function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) =>
    a.family !== b.family ? a.family - b.family : a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
  );
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === r.family && r.start <= last.end + 1n) {
      if (r.end > last.end) out[out.length - 1] = { ...last, end: r.end };
    } else out.push(r);
  }
  return out;
}

/** The fewest CIDR blocks covering exactly one range (the classic range-to-CIDR split). */
function rangeToCidrs(r: Range): Cidr[] {
  const bits = BITS[r.family];
  const out: Cidr[] = [];
  let start = r.start;
  while (start <= r.end) {
    let prefix = bits;
    // Grow the block while it stays aligned on `start` and inside the range.
    while (prefix > 0) {
      const size = 1n << BigInt(bits - prefix + 1);
      if (start % size !== 0n || start + size - 1n > r.end) break;
      prefix--;
    }
    out.push({ family: r.family, base: start, prefix });
    start += 1n << BigInt(bits - prefix);
  }
  return out;
}

/**
 * The smallest list of CIDR blocks that covers exactly the given blocks (no address added):
 * overlapping and adjacent blocks are merged, sorted IPv4 first.
 *
 * @example exactCover(["10.0.0.0/25", "10.0.0.128/25", "10.0.0.5"]).map(formatCidr) // ["10.0.0.0/24"]
 */
export function exactCover(blocks: Iterable<string | Cidr>): Cidr[] {
  const ranges = [...blocks].map((b) => toRange(typeof b === "string" ? parseCidr(b) : b));
  return mergeRanges(ranges).flatMap(rangeToCidrs);
}

/** The smallest single block that contains both (same family). */
export function supernet(a: Cidr, b: Cidr): Cidr {
  const bits = BITS[a.family];
  let prefix = Math.min(a.prefix, b.prefix);
  while (prefix > 0) {
    const size = 1n << BigInt(bits - prefix);
    if (a.base - (a.base % size) === b.base - (b.base % size)) break;
    prefix--;
  }
  const size = 1n << BigInt(bits - prefix);
  return { family: a.family, base: a.base - (a.base % size), prefix };
}

/** One widening step: which blocks were merged into which, and how many addresses it added. */
export interface Widening {
  readonly merged: readonly string[];
  readonly into: string;
  readonly addedAddresses: bigint;
}

/**
 * Widens a cover by one step: of each pair of neighbouring blocks of one family, the pair whose
 * common supernet adds the fewest addresses not already covered is replaced by that supernet
 * (and whatever else it swallows). Undefined when no two blocks of one family remain.
 */
export function widenOnce(cover: readonly Cidr[]): { cover: Cidr[]; step: Widening } | undefined {
  let best: { i: number; net: Cidr; added: bigint } | undefined;
  for (let i = 0; i + 1 < cover.length; i++) {
    const a = cover[i] as Cidr;
    const b = cover[i + 1] as Cidr;
    if (a.family !== b.family) continue;
    const net = supernet(a, b);
    const inside = cover.filter((c) => cidrContains(net, c)).reduce((n, c) => n + cidrSize(c), 0n);
    const added = cidrSize(net) - inside;
    if (!best || added < best.added) best = { i, net, added };
  }
  if (!best) return undefined;
  const { net, added } = best;
  const swallowed = cover.filter((c) => cidrContains(net, c));
  const rest = cover.filter((c) => !cidrContains(net, c));
  return {
    cover: exactCover([...rest, net]),
    step: { merged: swallowed.map(formatCidr), into: formatCidr(net), addedAddresses: added },
  };
}
