/**
 * Address helpers over ipaddr.js. CloudTrail's `sourceIPAddress` is an IPv4 or IPv6 address, or a
 * service name (`ec2.amazonaws.com`, `AWS Internal`): only literal addresses ever bind or alert.
 */
import ipaddr from "ipaddr.js";

export type IpFamily = 4 | 6;

/** The family of a literal address, or undefined when the string is not one (a service name). */
export function ipFamily(s: string): IpFamily | undefined {
  // Called for every call read: the common dotted quad is recognised without ipaddr.js's parser
  // (`isDottedQuad` accepts exactly what `isValidFourPartDecimal` does), the rest is remembered.
  if (isDottedQuad(s)) return 4;
  const known = otherFamilies.get(s);
  if (known !== undefined) return known === 0 ? undefined : known;
  let family: IpFamily | undefined;
  if (s.includes(":") && ipaddr.IPv6.isValid(s)) family = ipaddr.IPv6.parse(s).isIPv4MappedAddress() ? 4 : 6;
  if (otherFamilies.size >= MAX_REMEMBERED_FAMILIES) otherFamilies.clear();
  // A copy as the key: `s` may be a slice of a whole log object's text, which the map would keep alive.
  otherFamilies.set(` ${s}`.slice(1), family ?? 0);
  return family;
}

/** Families of strings that are not dotted quads (IPv6 addresses, service names), 0 for none. */
const otherFamilies = new Map<string, IpFamily | 0>();
const MAX_REMEMBERED_FAMILIES = 65_536;

/**
 * True for an IPv4 address in four-part decimal: four numbers 0–255 without leading zeros, separated
 * by dots (exactly what `ipaddr.IPv4.isValidFourPartDecimal` accepts, without building an address).
 */
export function isDottedQuad(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let i = 0;
  for (;;) {
    const start = i;
    let value = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || value > 255 || (digits > 1 && s.charCodeAt(start) === 48)) return false;
    parts++;
    if (i === n) return parts === 4;
    if (parts === 4 || s.charCodeAt(i) !== 46) return false;
    i++;
  }
}

/**
 * Why a configured address or CIDR is not acceptable, or undefined when it is. Accepted: an IPv4
 * address in dotted four-part decimal (no leading zeros: `010.0.0.1` would be read as octal by some
 * tools) or an IPv6 address without zone, each with an optional decimal prefix length in range.
 *
 * @example
 * cidrProblem("10.0.0.0/8")   // undefined
 * cidrProblem("10.0.0.0/33")  // "prefix length 33 is above 32"
 */
export function cidrProblem(entry: string): string | undefined {
  const text = entry.trim();
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const prefix = slash < 0 ? undefined : text.slice(slash + 1);
  let max: number;
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) max = 32;
  else if (address.includes(":") && !address.includes("%") && ipaddr.IPv6.isValid(address)) max = 128;
  else return "not an IPv4 or IPv6 address";
  if (prefix === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix)) return `prefix length ${JSON.stringify(prefix)} is not a number`;
  if (Number(prefix) > max) return `prefix length ${prefix} is above ${max}`;
  return undefined;
}

/** A parsed CIDR list with a membership test. Bare addresses count as /32 or /128. */
export class CidrSet {
  private readonly v4: [ipaddr.IPv4, number][] = [];
  private readonly v6: [ipaddr.IPv6, number][] = [];

  /** @throws Error naming the first entry that is not an address or CIDR. */
  constructor(entries: Iterable<string> = []) {
    for (const e of entries) this.add(e);
  }

  add(entry: string): void {
    const text = entry.trim();
    const problem = cidrProblem(text);
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined;
    try {
      if (!problem)
        range = text.includes("/") ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), text.includes(":") ? 128 : 32];
    } catch {
      // reported below
    }
    if (!range) throw new Error(`not an IP address or CIDR: ${JSON.stringify(entry)}${problem ? ` (${problem})` : ""}`);
    const [addr, bits] = range;
    if (addr.kind() === "ipv4") this.v4.push([addr as ipaddr.IPv4, bits]);
    else {
      const v6 = addr as ipaddr.IPv6;
      if (v6.isIPv4MappedAddress()) this.v4.push([v6.toIPv4Address(), Math.max(0, bits - 96)]);
      else this.v6.push([v6, bits]);
    }
  }

  get size(): number {
    return this.v4.length + this.v6.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      addr = ipaddr.process(ip);
    } catch {
      return false;
    }
    if (addr.kind() === "ipv4") {
      const a = addr as ipaddr.IPv4;
      return this.v4.some(([net, bits]) => a.match(net, bits));
    }
    const a = addr as ipaddr.IPv6;
    return this.v6.some(([net, bits]) => a.match(net, bits));
  }
}
