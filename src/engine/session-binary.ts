/**
 * A session document as compact binary (state schema 4). A checkpoint writes every session changed
 * since the last one, and on the engine's thread `JSON.stringify` + deflate of those documents was a
 * large share of a checkpoint; this encoding costs a fraction of that and is smaller as well:
 *
 * - every string is written once per document and referred to by its index afterwards (a session's
 *   ARN, addresses, keys, user agents and API names repeat across its observations);
 * - event ids in the canonical UUID form take 16 bytes, access key ids `ASIA…`/`AKIA…` (16 base-32
 *   characters) 10 bytes;
 * - times are varints relative to the document's first time, in seconds when whole (CloudTrail's
 *   `eventTime` has whole seconds), and an ISO text that is CloudTrail's own rendering of its time is
 *   left out (recomputed, as in the JSON form).
 *
 * The first byte, {@link BINARY_SESSION_MARK}, can never begin a raw deflate stream (its block type
 * bits are 11, reserved), so a store can hold documents of both forms and `decodeSession` tells them
 * apart. `encodeSessionBinary` answers `undefined` for anything outside what it models (a field it
 * does not know, a time that is not a safe integer): the caller then keeps the JSON form, so no
 * value is ever silently changed by this encoding.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { EventBrief, Lifetime, Observation, SessionState } from "./state.js";

/** First byte of a binary session document: BFINAL 1, BTYPE 11 (reserved), never valid deflate. */
export const BINARY_SESSION_MARK = 0x07;
/** Layout version, the second byte. */
const VERSION = 1;

/**
 * Strings every document may refer to without writing them. Part of the format: append only (an
 * index, once written, must keep naming the same string); a change of meaning needs a new VERSION.
 */
const STATIC_STRINGS: readonly string[] = [
  "ec2-instance",
  "ecs-task",
  "lambda",
  "service-role",
  "assumed-role",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "eu-west-1",
  "eu-west-2",
  "eu-central-1",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-northeast-1",
  "ec2.amazonaws.com",
  "s3.amazonaws.com",
  "sts.amazonaws.com",
  "ssm.amazonaws.com",
  "logs.amazonaws.com",
  "dynamodb.amazonaws.com",
  "sqs.amazonaws.com",
  "kms.amazonaws.com",
  "secretsmanager.amazonaws.com",
  "monitoring.amazonaws.com",
  "iam.amazonaws.com",
  "lambda.amazonaws.com",
  "GetCallerIdentity",
  "GetObject",
  "PutObject",
  "DescribeInstances",
  "UpdateInstanceInformation",
  "AccessDenied",
];

/** String tags: 0 new text, 1 new UUID, 2 new access key id; n ≥ 3 is string n − 3 of the table. */
const TAG_TEXT = 0;
const TAG_UUID = 1;
const TAG_KEY = 2;
const TAG_REF = 3;

const SESSION_KEYS = new Set([
  "key",
  "kind",
  "arn",
  "roleArn",
  "sessionName",
  "instanceId",
  "account",
  "lifetimes",
  "openAddresses",
  "issued",
]);
const LIFETIME_KEYS = new Set(["start", "validUntil", "covered", "direct", "endpoint"]);
const OBSERVATION_KEYS = new Set([
  "first",
  "last",
  "lastIso",
  "count",
  "samples",
  "names",
  "accessKeys",
  "userAgents",
  "learnedAt",
  "otherFamily",
  "corroboratedHome",
  "egressMove",
]);
const BRIEF_KEYS = new Set([
  "id",
  "time",
  "timeIso",
  "name",
  "source",
  "region",
  "account",
  "ip",
  "userAgent",
  "vpcEndpointId",
  "vpcEndpointAccountId",
  "errorCode",
  "accessKeyId",
]);
/** Optional fields of a brief, in the order `briefOf` writes them (and the bits that mark them). */
const BRIEF_OPTIONAL = ["userAgent", "vpcEndpointId", "vpcEndpointAccountId", "errorCode", "accessKeyId"] as const;

/** Thrown inside the encoder for a value it does not model; `encodeSessionBinary` answers undefined. */
class Unmodelled extends Error {}

const HEX = "0123456789abcdef";
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32.length; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE[HEX.charCodeAt(i)] = i;

/** The largest relative time written: far beyond any real span, and its zig-zag doubled stays exact. */
const MAX_RELATIVE = 2 ** 50;

/** Index of each static string. */
const STATIC_INDEX = new Map(STATIC_STRINGS.map((text, i) => [text, i]));

/** One growing buffer for every document (encoding is synchronous); each result is a copy of its bytes. */
let scratch = new Uint8Array(4096);

class Writer {
  private buf = scratch;
  pos = 0;
  /** Strings of this document so far, numbered after the static ones. */
  private readonly table = new Map<string, number>();
  base = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    scratch = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** A non-negative safe integer, 7 bits a byte. */
  uint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  count(n: unknown): void {
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new Unmodelled("count");
    this.uint(n);
  }

  /** A time (ms) relative to the base: zig-zag, in seconds when whole (low bit 0) else ms (low bit 1). */
  time(t: unknown): void {
    if (typeof t !== "number" || !Number.isSafeInteger(t)) throw new Unmodelled("time");
    const v = t - this.base;
    if (Math.abs(v) > MAX_RELATIVE) throw new Unmodelled("time range");
    if (v % 1000 === 0) this.uint(zigzag(v / 1000) * 2);
    else this.uint(zigzag(v) * 2 + 1);
  }

  string(s: unknown): void {
    if (typeof s !== "string") throw new Unmodelled("string");
    const fixed = STATIC_INDEX.get(s);
    if (fixed !== undefined) {
      this.uint(fixed + TAG_REF);
      return;
    }
    const known = this.table.get(s);
    if (known !== undefined) {
      this.uint(STATIC_STRINGS.length + known + TAG_REF);
      return;
    }
    this.table.set(s, this.table.size);
    if (s.length === 36 && writeUuid(this, s)) return;
    if (s.length === 20 && writeAccessKey(this, s)) return;
    this.uint(TAG_TEXT);
    const bytes = Buffer.byteLength(s, "utf8");
    this.uint(bytes);
    this.room(bytes);
    if (bytes === s.length && s.length < 64) {
      // Short ASCII: a loop beats the native call's overhead.
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
    } else {
      Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.length).write(s, this.pos, bytes, "utf8");
      this.pos += bytes;
    }
  }

  raw(bytes: ArrayLike<number>): void {
    this.room(bytes.length);
    for (let i = 0; i < bytes.length; i++) this.buf[this.pos++] = bytes[i] as number;
  }

  /** A copy: the scratch buffer is reused by the next document. */
  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

const scratch16 = new Uint8Array(16);

/** A lowercase canonical UUID as 16 bytes (false: not one, nothing written). */
function writeUuid(w: Writer, s: string): boolean {
  let j = 0;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (s.charCodeAt(i) !== 45) return false;
      i++;
      continue;
    }
    const hi = HEX_VALUE[s.charCodeAt(i) & 0x7f] ?? -1;
    const lo = HEX_VALUE[s.charCodeAt(i + 1) & 0x7f] ?? -1;
    if (hi < 0 || lo < 0 || s.charCodeAt(i) > 0x7f || s.charCodeAt(i + 1) > 0x7f) return false;
    scratch16[j++] = (hi << 4) | lo;
    i += 2;
  }
  w.uint(TAG_UUID);
  w.raw(scratch16);
  return true;
}

const scratch10 = new Uint8Array(10);

/** `ASIA`/`AKIA` and 16 base-32 characters as a prefix byte and 10 bytes (false: not one). */
function writeAccessKey(w: Writer, s: string): boolean {
  const prefix = s.startsWith("ASIA") ? 0 : s.startsWith("AKIA") ? 1 : -1;
  if (prefix < 0) return false;
  // 16 characters × 5 bits = 80 bits: two groups of 8 characters into 5 bytes each.
  for (let g = 0; g < 2; g++) {
    let hi = 0; // the first 20 bits
    let lo = 0; // the last 20 bits
    for (let i = 0; i < 8; i++) {
      const c = s.charCodeAt(4 + g * 8 + i);
      const v = c < 128 ? (BASE32_VALUE[c] as number) : -1;
      if (v < 0) return false;
      if (i < 4) hi = hi * 32 + v;
      else lo = lo * 32 + v;
    }
    const o = g * 5;
    scratch10[o] = hi >>> 12;
    scratch10[o + 1] = (hi >>> 4) & 0xff;
    scratch10[o + 2] = ((hi & 0x0f) << 4) | (lo >>> 16);
    scratch10[o + 3] = (lo >>> 8) & 0xff;
    scratch10[o + 4] = lo & 0xff;
  }
  w.uint(TAG_KEY);
  w.byte(prefix);
  w.raw(scratch10);
  return true;
}

function checkKeys(o: object, allowed: ReadonlySet<string>): void {
  for (const k in o) if (!allowed.has(k)) throw new Unmodelled(k);
}

function cloudTrailIso(time: number): string | undefined {
  if (!Number.isFinite(time) || time % 1000 !== 0) return undefined;
  const d = new Date(time);
  return Number.isNaN(d.getTime()) ? undefined : `${d.toISOString().slice(0, 19)}Z`;
}

function stringList(w: Writer, list: unknown): void {
  if (!Array.isArray(list)) throw new Unmodelled("list");
  w.uint(list.length);
  for (const s of list) w.string(s);
}

function optionalBoolean(value: unknown, bit: number): number {
  if (value === undefined) return 0;
  if (typeof value !== "boolean") throw new Unmodelled("boolean");
  return value ? 3 << bit : 1 << bit;
}

/**
 * The key an observation is filed under, as the engine builds it from its first call: the address
 * for a direct call, `endpoint|address|service` for an endpoint call.
 */
function derivedKey(first: EventBrief, endpoint: boolean): string {
  return endpoint ? `${first.vpcEndpointId}|${first.ip}|${first.source}` : first.ip;
}

function writeObservation(w: Writer, key: string, o: Observation, endpoint: boolean): void {
  checkKeys(o, OBSERVATION_KEYS);
  const first = o.first;
  checkKeys(first, BRIEF_KEYS);
  // Left out only when recomputing gives the same string (never an absent one).
  const firstIso = first.timeIso !== undefined && first.timeIso === cloudTrailIso(first.time);
  const lastIso = o.lastIso !== undefined && o.lastIso === cloudTrailIso(o.last);
  const head = o.samples[0];
  const sampled = head !== undefined && head[0] === first.time && head[1] === first.id;
  let flags =
    (firstIso ? 0 : 1) |
    (lastIso ? 0 : 2) |
    (sampled ? 4 : 0) |
    (o.learnedAt !== undefined ? 8 : 0) |
    optionalBoolean(o.otherFamily, 4) |
    optionalBoolean(o.corroboratedHome, 6) |
    optionalBoolean(o.egressMove, 8);
  for (let i = 0; i < BRIEF_OPTIONAL.length; i++)
    if (first[BRIEF_OPTIONAL[i] as keyof EventBrief] !== undefined) flags |= 1 << (10 + i);
  const keyDerived = typeof first.ip === "string" && key === derivedKey(first, endpoint);
  if (keyDerived) flags |= 1 << 15;
  w.uint(flags);
  w.string(first.id);
  w.time(first.time);
  if (!firstIso) w.string(first.timeIso);
  w.string(first.name);
  w.string(first.source);
  w.string(first.region);
  w.string(first.account);
  w.string(first.ip);
  for (const f of BRIEF_OPTIONAL) if (first[f] !== undefined) w.string(first[f]);
  w.time(o.last);
  if (!lastIso) w.string(o.lastIso);
  w.count(o.count);
  if (!Array.isArray(o.samples)) throw new Unmodelled("samples");
  w.uint(o.samples.length - (sampled ? 1 : 0));
  for (let i = sampled ? 1 : 0; i < o.samples.length; i++) {
    const s = o.samples[i] as [number, string];
    if (!Array.isArray(s) || s.length !== 2) throw new Unmodelled("sample");
    w.time(s[0]);
    w.string(s[1]);
  }
  stringList(w, o.names);
  stringList(w, o.accessKeys);
  stringList(w, o.userAgents);
  if (o.learnedAt !== undefined) w.time(o.learnedAt);
  if (!keyDerived) w.string(key);
}

function writeObservations(w: Writer, map: unknown, endpoint: boolean): void {
  if (!(map instanceof Map)) throw new Unmodelled("map");
  w.uint(map.size);
  for (const [k, o] of map as Map<string, Observation>) writeObservation(w, k, o, endpoint);
}

function writeLifetime(w: Writer, l: Lifetime): void {
  checkKeys(l, LIFETIME_KEYS);
  if (typeof l.covered !== "boolean") throw new Unmodelled("covered");
  w.time(l.start);
  w.time(l.validUntil);
  w.byte(l.covered ? 1 : 0);
  writeObservations(w, l.direct, false);
  writeObservations(w, l.endpoint, true);
}

const SESSION_ARN = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([^/]+)\/([^/]+)$/;

/**
 * The role ARN and session name a session key (an assumed-role session ARN) implies, so that a
 * document leaves them out when they are these (a role with a path has a role ARN that differs, and
 * is then written).
 */
function namesOf(key: string): { roleArn: string; sessionName: string } | undefined {
  const m = SESSION_ARN.exec(key);
  if (!m) return undefined;
  return { roleArn: `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`, sessionName: m[4] as string };
}

/**
 * A session as binary bytes, or `undefined` when it holds anything this layout does not model (the
 * caller then writes the JSON form).
 *
 * @example const bytes = encodeSessionBinary(session) ?? jsonForm(session)
 */
export function encodeSessionBinary(s: SessionState): Buffer | undefined {
  try {
    checkKeys(s, SESSION_KEYS);
    const w = new Writer();
    w.byte(BINARY_SESSION_MARK);
    w.byte(VERSION);
    const base = s.lifetimes[0]?.start ?? 0;
    w.time(base); // relative to 0: the base itself
    w.base = base;
    if (typeof s.key !== "string") throw new Unmodelled("key");
    const names = namesOf(s.key);
    const nameDerived = names !== undefined && s.sessionName === names.sessionName;
    const roleDerived = names !== undefined && s.roleArn === names.roleArn;
    const instanceDerived = s.instanceId !== undefined && s.instanceId === s.sessionName;
    const flags =
      (s.roleArn !== undefined ? 1 : 0) |
      (s.instanceId !== undefined ? 2 : 0) |
      (s.openAddresses !== undefined ? 4 : 0) |
      (s.issued !== undefined ? 8 : 0) |
      (s.arn === s.key ? 16 : 0) |
      (nameDerived ? 32 : 0) |
      (roleDerived ? 64 : 0) |
      (instanceDerived ? 128 : 0);
    w.uint(flags);
    w.string(s.key);
    w.string(s.kind);
    if (s.arn !== s.key) w.string(s.arn);
    if (s.roleArn !== undefined && !roleDerived) w.string(s.roleArn);
    if (!nameDerived) w.string(s.sessionName);
    if (s.instanceId !== undefined && !instanceDerived) w.string(s.instanceId);
    w.string(s.account);
    if (!Array.isArray(s.lifetimes)) throw new Unmodelled("lifetimes");
    w.uint(s.lifetimes.length);
    for (const l of s.lifetimes) writeLifetime(w, l);
    if (s.openAddresses !== undefined) stringList(w, s.openAddresses);
    if (s.issued !== undefined) {
      if (!Array.isArray(s.issued)) throw new Unmodelled("issued");
      w.uint(s.issued.length);
      for (const pair of s.issued) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new Unmodelled("issued pair");
        w.string(pair[0]);
        w.time(pair[1]);
      }
    }
    return w.result();
  } catch (e) {
    if (e instanceof Unmodelled) return undefined;
    throw e;
  }
}

class Reader {
  pos = 2;
  base = 0;
  /** Strings of this document so far, numbered after the static ones. */
  private readonly table: string[] = [];

  constructor(private readonly data: Uint8Array) {}

  private fail(what: string): never {
    throw new Error(`binary session document: ${what} at byte ${this.pos} of ${this.data.length}`);
  }

  byte(): number {
    if (this.pos >= this.data.length) this.fail("truncated");
    return this.data[this.pos++] as number;
  }

  uint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) this.fail("varint too long");
    }
  }

  time(): number {
    const z = this.uint();
    const v = z % 2 === 0 ? unzigzag(z / 2) * 1000 : unzigzag((z - 1) / 2);
    return this.base + v;
  }

  string(): string {
    const tag = this.uint();
    if (tag >= TAG_REF) {
      const i = tag - TAG_REF;
      const s = i < STATIC_STRINGS.length ? STATIC_STRINGS[i] : this.table[i - STATIC_STRINGS.length];
      if (s === undefined) this.fail("unknown string reference");
      return s;
    }
    let s: string;
    if (tag === TAG_UUID) s = this.uuid();
    else if (tag === TAG_KEY) s = this.accessKey();
    else {
      const n = this.uint();
      if (this.pos + n > this.data.length) this.fail("truncated string");
      s = Buffer.from(this.data.buffer, this.data.byteOffset + this.pos, n).toString("utf8");
      this.pos += n;
    }
    this.table.push(s);
    return s;
  }

  private uuid(): string {
    if (this.pos + 16 > this.data.length) this.fail("truncated id");
    let s = "";
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
      const b = this.data[this.pos++] as number;
      s += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
    }
    return s;
  }

  private accessKey(): string {
    const prefix = this.byte();
    if (prefix > 1) this.fail("unknown key prefix");
    if (this.pos + 10 > this.data.length) this.fail("truncated key");
    let s = prefix === 0 ? "ASIA" : "AKIA";
    for (let g = 0; g < 2; g++) {
      const d = this.data;
      const o = this.pos + g * 5;
      const hi = ((d[o] as number) << 12) | ((d[o + 1] as number) << 4) | ((d[o + 2] as number) >> 4);
      const lo = (((d[o + 2] as number) & 0x0f) << 16) | ((d[o + 3] as number) << 8) | (d[o + 4] as number);
      for (let i = 3; i >= 0; i--) s += BASE32.charAt((hi >>> (i * 5)) & 31);
      for (let i = 3; i >= 0; i--) s += BASE32.charAt((lo >>> (i * 5)) & 31);
    }
    this.pos += 10;
    return s;
  }

  strings(): string[] {
    const n = this.uint();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.string());
    return out;
  }

  end(): void {
    if (this.pos !== this.data.length) this.fail("trailing bytes");
  }
}

function readObservation(r: Reader, endpoint: boolean): [string, Observation] {
  const flags = r.uint();
  const id = r.string();
  const time = r.time();
  const timeIso = flags & 1 ? r.string() : (cloudTrailIso(time) as string);
  // Key order as `briefOf` builds a brief.
  const first: Record<string, unknown> = {
    id,
    time,
    timeIso,
    name: r.string(),
    source: r.string(),
    region: r.string(),
    account: r.string(),
    ip: r.string(),
  };
  for (let i = 0; i < BRIEF_OPTIONAL.length; i++)
    if (flags & (1 << (10 + i))) first[BRIEF_OPTIONAL[i] as string] = r.string();
  const last = r.time();
  const lastIso = flags & 2 ? r.string() : (cloudTrailIso(last) as string);
  const count = r.uint();
  const samples: [number, string][] = flags & 4 ? [[time, id]] : [];
  const n = r.uint();
  for (let i = 0; i < n; i++) {
    const t = r.time();
    samples.push([t, r.string()]);
  }
  const obs: Observation = {
    first: first as unknown as EventBrief,
    last,
    lastIso,
    count,
    samples,
    names: r.strings(),
    accessKeys: r.strings(),
    userAgents: r.strings(),
  };
  if (flags & 8) obs.learnedAt = r.time();
  if (flags & (1 << 4)) obs.otherFamily = (flags & (1 << 5)) !== 0;
  if (flags & (1 << 6)) obs.corroboratedHome = (flags & (1 << 7)) !== 0;
  if (flags & (1 << 8)) obs.egressMove = (flags & (1 << 9)) !== 0;
  const key = flags & (1 << 15) ? derivedKey(obs.first, endpoint) : r.string();
  return [key, obs];
}

function readObservations(r: Reader, endpoint: boolean): Map<string, Observation> {
  const n = r.uint();
  const map = new Map<string, Observation>();
  for (let i = 0; i < n; i++) {
    const [k, o] = readObservation(r, endpoint);
    map.set(k, o);
  }
  return map;
}

/**
 * Reads a document written by {@link encodeSessionBinary}.
 * @throws Error naming the byte where a damaged document stops making sense.
 * @example const s = decodeSessionBinary(bytes) // bytes[0] === BINARY_SESSION_MARK
 */
export function decodeSessionBinary(data: Uint8Array): SessionState {
  const r = new Reader(data);
  if (data[0] !== BINARY_SESSION_MARK) throw new Error("binary session document: no mark");
  if (data[1] !== VERSION)
    throw new Error(`binary session document: layout ${data[1]}, this firstcall reads ${VERSION}`);
  r.base = r.time();
  const flags = r.uint();
  const key = r.string();
  const kind = r.string() as SessionState["kind"];
  const arn = flags & 16 ? key : r.string();
  const s: Partial<SessionState> & Record<string, unknown> = { key, kind, arn };
  const names = flags & (32 | 64) ? namesOf(key) : undefined;
  if ((flags & (32 | 64)) !== 0 && names === undefined) throw new Error("binary session document: names not derivable");
  if (flags & 1) s.roleArn = flags & 64 ? names?.roleArn : r.string();
  s.sessionName = flags & 32 ? (names?.sessionName as string) : r.string();
  if (flags & 2) s.instanceId = flags & 128 ? s.sessionName : r.string();
  s.account = r.string();
  const lifetimes: Lifetime[] = [];
  const n = r.uint();
  for (let i = 0; i < n; i++) {
    const start = r.time();
    const validUntil = r.time();
    const flag = r.byte();
    if (flag > 1) throw new Error(`binary session document: covered flag ${flag}`);
    const covered = flag === 1;
    const direct = readObservations(r, false);
    const endpoint = readObservations(r, true);
    lifetimes.push({ start, validUntil, covered, direct, endpoint });
  }
  s.lifetimes = lifetimes;
  if (flags & 4) s.openAddresses = r.strings();
  if (flags & 8) {
    const m = r.uint();
    const issued: [string, number][] = [];
    for (let i = 0; i < m; i++) {
      const k = r.string();
      issued.push([k, r.time()]);
    }
    s.issued = issued;
  }
  r.end();
  return s as SessionState;
}

/**
 * First byte of a deflated binary session document (state schema 6 of the SQLite store): BFINAL 1,
 * BTYPE 11 like {@link BINARY_SESSION_MARK}, so it can never begin a raw deflate stream (the JSON
 * form) and differs from the uncompressed binary form. Then 4 bytes, the FNV-1a hash of the
 * session's key, and the raw deflate of a whole binary document (its own mark and layout byte
 * included) with a preset dictionary of {@link DEFLATE_DICTIONARY} and that key: the key is what the
 * store files the row under, so the document repeats it in a few bytes. Inflated with another key,
 * the document would name that key instead, so the hash is checked first: a row read with another
 * key is an error, never a different session.
 */
export const DEFLATED_SESSION_MARK = 0x0f;

/**
 * Texts a binary document writes verbatim again and again: the user agents of the AWS SDKs and agents
 * that run on instances (each observation keeps its distinct user agents, and they are the longest
 * strings of a document) and API names outside the static table. Part of the format: it may never
 * change; another dictionary needs another mark.
 */
const DEFLATE_DICTIONARY = Buffer.from(
  [
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.3 md/GOOS#linux md/GOARCH#amd64 api/s3#1.54.3",
    "aws-sdk-go/1.44.260 (go1.21.8; linux; amd64) amazon-ssm-agent/3.3.418.0",
    "aws-sdk-go/1.51.32 (go1.21.9; linux; amd64) amazon-vpc-cni-k8s/v1.18.1",
    "aws-iam-authenticator/0.6.20 (linux; amd64)",
    "aws-sdk-nodejs/2.1620.0 linux/v20.13.1 exec-env/AWS_EC2 promise",
    "Boto3/1.34.106 md/Botocore#1.34.106 ua/2.0 os/linux#6.8.0-1009-aws md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.106",
    "aws-sdk-java/1.12.701 Linux/6.1.94-99.176.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS java/17.0.11 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "aws-cli/2.15.0 Python/3.11.6 Linux/5.10.219-208.866.amzn2.x86_64 exec-env/EC2 botocore/2.4.5",
    "DescribeNetworkInterfaces GetAuthorizationToken CreateLogStream AssignPrivateIpAddresses ListBuckets",
    "GetParameter GetSecretValue PutMetricData PutLogEvents Decrypt",
  ].join(""),
);

/**
 * zlib settings of the deflated form. A document is a few KB at most, so a 4 KB window (with the
 * dictionary) sees all of it; the small window and memLevel make each call allocate and clear a
 * fraction of zlib's default state, which is most of the cost of deflating a small buffer.
 */
const DEFLATE_OPTIONS = { level: 6, windowBits: 12, memLevel: 4 } as const;

/** The mark and the key's hash. */
const DEFLATED_HEADER = 5;

/** FNV-1a (32 bits) of a key's UTF-16 code units: which key a deflated document was written for. */
function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function dictionaryFor(key: string): Buffer {
  return Buffer.concat([DEFLATE_DICTIONARY, Buffer.from(key, "utf8")]);
}

/**
 * A binary document deflated (the SQLite store's form from state schema 6). Answers the binary
 * document itself when deflating would not make it smaller (a tiny session), so the result is never
 * larger than its input.
 * @param key the session's key (the document's own), part of the preset dictionary
 * @example const stored = deflateSessionBinary(encodeSessionBinary(session), session.key)
 */
export function deflateSessionBinary(binary: Uint8Array, key: string): Buffer {
  if (binary[0] !== BINARY_SESSION_MARK) throw new Error("deflateSessionBinary: not a binary session document");
  const body = deflateRawSync(binary, { ...DEFLATE_OPTIONS, dictionary: dictionaryFor(key) });
  if (body.length + DEFLATED_HEADER >= binary.length) return Buffer.from(binary);
  const out = Buffer.allocUnsafe(body.length + DEFLATED_HEADER);
  out[0] = DEFLATED_SESSION_MARK;
  out.writeUInt32LE(fnv1a(key), 1);
  body.copy(out, DEFLATED_HEADER);
  return out;
}

/**
 * The binary document inside a deflated one ({@link DEFLATED_SESSION_MARK}).
 * @param key the key the row is filed under (the dictionary it was deflated with)
 * @throws Error when the bytes do not inflate to a binary document.
 * @example const s = decodeSessionBinary(inflateSessionBinary(stored, key))
 */
export function inflateSessionBinary(data: Uint8Array, key: string): Buffer {
  if (data[0] !== DEFLATED_SESSION_MARK) throw new Error("deflated session document: no mark");
  if (data.length < DEFLATED_HEADER) throw new Error("deflated session document: truncated");
  const stored = Buffer.from(data.buffer, data.byteOffset, data.length).readUInt32LE(1);
  if (stored !== fnv1a(key)) throw new Error("deflated session document: written for another key");
  let binary: Buffer;
  try {
    binary = inflateRawSync(data.subarray(DEFLATED_HEADER), { dictionary: dictionaryFor(key) });
  } catch (e) {
    throw new Error(`deflated session document: cannot inflate it (${(e as Error).message})`);
  }
  if (binary[0] !== BINARY_SESSION_MARK) throw new Error("deflated session document: holds no binary document");
  return binary;
}
