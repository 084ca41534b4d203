/**
 * The engine's state. Calls are kept as *observations*: per credential and address, the first and
 * last call, a count and a few samples. Decisions are computed from observations, never from the
 * order calls arrived in, which is what makes findings independent of the order files are read.
 *
 * Everything keyed by a string from the logs is a `Map` (or `Set`), never a plain object: a log can
 * carry `constructor` or `__proto__` as an endpoint id or instance id, and a plain object would
 * answer with `Object.prototype`'s members. Stores keep the state through `encodeSession` /
 * `encodeFleet` (compact: a binary layout for sessions, deflated JSON with the maps as entry lists
 * for the rest).
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { CredentialKind } from "../findings/finding.js";
import type { EngineEvent } from "./event.js";
import {
  BINARY_SESSION_MARK,
  DEFLATED_SESSION_MARK,
  decodeSessionBinary,
  deflateSessionBinary,
  encodeSessionBinary,
  inflateSessionBinary,
} from "./session-binary.js";

/** The first call of an observation, kept whole enough to explain a finding. */
export interface EventBrief {
  readonly id: string;
  readonly time: number;
  readonly timeIso: string;
  readonly name: string;
  readonly source: string;
  readonly region: string;
  readonly account: string;
  readonly ip: string;
  readonly userAgent?: string;
  readonly vpcEndpointId?: string;
  readonly vpcEndpointAccountId?: string;
  readonly errorCode?: string;
  readonly accessKeyId?: string;
}

/** Calls of one credential from one address (and, for endpoint traffic, one endpoint and service). */
export interface Observation {
  first: EventBrief;
  last: number;
  lastIso: string;
  count: number;
  /** Up to MAX_SAMPLES earliest [time, eventId] pairs. */
  samples: [number, string][];
  names: string[];
  accessKeys: string[];
  userAgents: string[];
  /**
   * Set once this address was accepted by an address change of the instance (the change's time):
   * the decision stands when the change itself has since expired from the fleet knowledge.
   */
  learnedAt?: number;
  /** Set once this address was accepted as the instance's other IP family. */
  otherFamily?: boolean;
  /**
   * Set once this address was accepted as the home of a session that had used only VPC endpoints
   * before it, on corroboration (known egress, other instances' home, own networks, address change):
   * the decision stands when the corroborating knowledge has since expired.
   */
  corroboratedHome?: boolean;
  /** Set once this address was accepted as the account's egress that many sessions moved to (NAT replacement). */
  egressMove?: boolean;
}

export const MAX_SAMPLES = 5;
const MAX_NAMES = 10;
const MAX_KEYS = 10;
const MAX_AGENTS = 5;

/** One continuous issuance chain of a session: refreshed before its TTL ran out. */
export interface Lifetime {
  start: number;
  validUntil: number;
  /** Whether an issuance was seen (false: bound from its first call with --bind-uncovered). */
  covered: boolean;
  /** Direct calls (no VPC endpoint), by source address. */
  direct: Map<string, Observation>;
  /** Endpoint calls, by `vpce|address|eventSource`. */
  endpoint: Map<string, Observation>;
}

export interface SessionState {
  /** Session ARN (instance and task credentials) or `ak:<accessKeyId>` (credentials shared by name). */
  key: string;
  kind: CredentialKind;
  arn: string;
  roleArn?: string;
  sessionName: string;
  instanceId?: string;
  account: string;
  lifetimes: Lifetime[];
  /**
   * Addresses of this session's open `address` findings as last evaluated: when an evaluation no
   * longer finds one (later evidence explains it), its finding is retracted (`retraction.ts`).
   */
  openAddresses?: string[];
  /** The most recent issuances `[accessKeyId, time]` (capped): tells a credential issued after a start. */
  issued?: [string, number][];
}

/** What the fleet as a whole has taught the engine: endpoints, interfaces, address changes. */
export interface FleetState {
  /**
   * Per endpoint, the instance (or task) sessions that vouch for it: sessions whose first path in a
   * lifetime was this endpoint (capped: only the count up to a threshold matters). Sessions that merely
   * used it do not count, so stolen credentials cannot vouch for their thief's endpoint.
   */
  endpointVouchers: Map<string, string[]>;
  /** Endpoints created by CreateVpcEndpoint in the logs (so: in your accounts). */
  createdEndpoints: Set<string>;
  eniOwners: Map<string, string>;
  /** Times of successful address changes per instance (AssociateAddress, StartInstances, …). */
  addressChanges: Map<string, number[]>;
  /** Times of address changes that named an interface whose instance was not known yet, per interface. */
  pendingEniChanges: Map<string, number[]>;
  /**
   * Private addresses (and /28 prefixes) assigned to interfaces, from RunInstances,
   * CreateNetworkInterface and AssignPrivateIpAddresses: address → interfaces (capped; private
   * address space is reused across VPCs, hence several). With `eniOwners` they give an instance's
   * secondary addresses (EKS pods behind the VPC CNI).
   */
  privateAddressEnis: Map<string, string[]>;
  /** Accounts the trail is about: recipient accounts of events and accounts of issued sessions. */
  accounts: Set<string>;
  /**
   * Public egress addresses of your accounts known from the logs (NAT gateways, Elastic IPs):
   * address → account id.
   */
  egress: Map<string, string>;
  /**
   * `account|address` → instance (or task) sessions whose first call of a lifetime was direct from this
   * address (capped), and the event time of their latest call from it (expires a credential lifetime
   * after that).
   */
  homeVouchers: Map<string, HomeVouchers>;
  /** Latest event time seen so far (drives expiry of old state, never the wall clock). */
  watermark: number;
  /**
   * Instance id → `[session key, end of its last lifetime]` of live sessions with open `address`
   * findings: an address change of the instance read later re-evaluates them (retraction). Bounded
   * by the live sessions with findings; entries go with their sessions' expiry.
   */
  suspectSessions: Map<string, [string, number][]>;
  /** Times of StartInstances per instance, kept a session TTL: a slow first call after a start. */
  starts: Map<string, number[]>;
  /** Per egress address: when it was last learned (for expiry) and its VPC when known (NAT gateways). */
  egressInfo: Map<string, EgressInfo>;
  /** Elastic IP allocation id → its address (AllocateAddress, CreateNatGateway), to resolve AssociateAddress. */
  allocations: Map<string, Learned<string>>;
  /** Per known egress address: sessions of its account that called from it, with their first call there. */
  egressUsers: Map<string, [string, number][]>;
  /** Sessions with a move to a known egress that waits for the end of its window: key → when to decide. */
  heldMoves: Map<string, number>;
  /** IPv6 addresses and prefixes per instance, subnet or VPC (per interface until its instance is known). */
  ipv6Blocks: Map<string, Learned<string[]>>;
  /** Instance, interface or subnet → the subnet and VPC ids it is placed in. */
  placement: Map<string, Learned<string[]>>;
  /** Who made each address change, per instance: a session's own change never vouches for its new address. */
  addressChangeMakers: Map<string, ChangeMaker[]>;
}

/** A piece of fleet knowledge and the latest event time that taught or used it (drives its expiry). */
export interface Learned<T> {
  value: T;
  seen: number;
}

export interface EgressInfo {
  seen: number;
  vpcId?: string;
}

/** The maker of an address change: its time, the role session that made it (if any) and its address. */
export interface ChangeMaker {
  readonly time: number;
  readonly ip: string;
  readonly arn?: string;
  readonly accessKeyId?: string;
}

export interface HomeVouchers {
  users: string[];
  last: number;
}

export function emptyFleet(): FleetState {
  return {
    endpointVouchers: new Map(),
    createdEndpoints: new Set(),
    eniOwners: new Map(),
    addressChanges: new Map(),
    pendingEniChanges: new Map(),
    privateAddressEnis: new Map(),
    accounts: new Set(),
    egress: new Map(),
    homeVouchers: new Map(),
    watermark: 0,
    suspectSessions: new Map(),
    starts: new Map(),
    egressInfo: new Map(),
    allocations: new Map(),
    egressUsers: new Map(),
    heldMoves: new Map(),
    ipv6Blocks: new Map(),
    placement: new Map(),
    addressChangeMakers: new Map(),
  };
}

/*
 * Encoding. State is written at every checkpoint, so it is kept small: JSON with the maps as entry
 * lists, deflated with a dictionary of the strings CloudTrail repeats (ARN prefixes, service names,
 * user agents). A session of an instance with one address encodes to a few hundred bytes.
 */
const DICTIONARY = Buffer.from(
  [
    '{"key":"arn:aws:sts::","kind":"ec2-instance","arn":"arn:aws:sts::","roleArn":"arn:aws:iam::',
    ':assumed-role/","sessionName":"i-0","instanceId":"i-0","account":"","lifetimes":[{"start":',
    ',"validUntil":,"covered":true,"direct":[["',
    '",{"first":{"id":"","time":,"timeIso":"2026-11-01T00:00:00Z","name":"","source":"ec2.amazonaws.com","region":"us-east-1","account":"","ip":"',
    '","userAgent":"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.173.0","accessKeyId":"ASIA',
    '"},"last":,"lastIso":"","count":,"samples":[[,""]],"names":["DescribeInstances","GetObject","PutObject"],"accessKeys":["ASIA"],"userAgents":["aws-cli/2 Python/3 Linux/6 exec-env/EC2 Boto3/1 Botocore/1"]}]],"endpoint":[]}]}',
    "s3.amazonaws.com sts.amazonaws.com ssm.amazonaws.com logs.amazonaws.com eu-west-1 us-west-2 ap-southeast-2",
  ].join(""),
);

type Encoded<T> = T extends Map<infer K, infer V> ? [K, V][] : T extends Set<infer V> ? V[] : T;

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()];
  if (value instanceof Set) return [...value];
  return value;
}

function pack(value: unknown): Buffer {
  return deflateRawSync(JSON.stringify(value, replacer), { dictionary: DICTIONARY, level: 6 });
}

function unpack<T>(data: Uint8Array): T {
  return JSON.parse(inflateRawSync(data, { dictionary: DICTIONARY }).toString("utf8")) as T;
}

/** CloudTrail's own way of writing an event time (`eventTime`): whole seconds, `Z`. */
function cloudTrailIso(time: number): string | undefined {
  if (!Number.isFinite(time) || time % 1000 !== 0) return undefined;
  const d = new Date(time);
  return Number.isNaN(d.getTime()) ? undefined : `${d.toISOString().slice(0, 19)}Z`;
}

/**
 * An observation as a session document stores it, without what can be recomputed: the first sample
 * is always the first call (`[first.time, first.id]`: samples are the earliest calls, and the first
 * call is the earliest), and a time written as CloudTrail writes it is its number again.
 */
type StoredObservation = Omit<Observation, "first" | "lastIso"> & {
  first: Omit<EventBrief, "timeIso"> & { timeIso?: string };
  lastIso?: string;
  /** Set (false) when the samples do not start with the first call, so they are stored whole. */
  firstSampled?: false;
};

function startsWithFirst(samples: readonly [number, string][], first: { time: number; id: string }): boolean {
  const head = samples[0];
  return head !== undefined && head[0] === first.time && head[1] === first.id;
}

function storedObservation(o: Observation): StoredObservation {
  const { timeIso, ...first } = o.first;
  const { lastIso, ...rest } = o;
  const sampled = startsWithFirst(o.samples, first);
  return {
    ...rest,
    first: timeIso === cloudTrailIso(first.time) ? first : { ...first, timeIso },
    ...(lastIso === cloudTrailIso(o.last) ? {} : { lastIso }),
    samples: sampled ? o.samples.slice(1) : o.samples,
    ...(sampled ? {} : { firstSampled: false as const }),
  };
}

function restoredObservation(o: StoredObservation): Observation {
  const { id, time, ...brief } = o.first;
  const first: EventBrief = { id, time, timeIso: cloudTrailIso(time) as string, ...brief };
  const { first: _first, last, lastIso, count, samples: stored, firstSampled, ...more } = o;
  // Stored whole: marked, or written before this form (state schema 2: the first call is in its samples).
  const samples: [number, string][] =
    firstSampled === false || startsWithFirst(stored, first) ? stored : [[first.time, first.id], ...stored];
  return { first, last, lastIso: lastIso ?? (cloudTrailIso(last) as string), count, samples, ...more };
}

/**
 * A session as stored: compact bytes. The binary layout of `session-binary.ts` (state schema 4),
 * or, for a session holding something that layout does not model, deflated JSON of the observations
 * without what can be recomputed (the form of schemas 2 and 3, which `decodeSession` still reads).
 */
export function encodeSession(s: SessionState): Buffer {
  return encodeSessionBinary(s) ?? encodeSessionJson(s);
}

/**
 * A session as the SQLite store keeps it from state schema 6: the binary layout deflated
 * (`deflateSessionBinary`; the binary form itself when that is not smaller), or the deflated JSON
 * form for a session the binary layout does not model. Only the SQLite store writes it: its schema
 * version keeps an older firstcall from reading documents it does not know, whereas the shared
 * stores' documents are read by every worker's version.
 */
export function encodeSessionCompact(s: SessionState): Buffer {
  const binary = encodeSessionBinary(s);
  return binary ? deflateSessionBinary(binary, s.key) : encodeSessionJson(s);
}

/** The deflated JSON form of a session (state schemas 2 and 3; the fallback of `encodeSession`). */
export function encodeSessionJson(s: SessionState): Buffer {
  return pack({
    ...s,
    lifetimes: s.lifetimes.map((l) => ({
      ...l,
      direct: [...l.direct].map(([k, o]) => [k, storedObservation(o)]),
      endpoint: [...l.endpoint].map(([k, o]) => [k, storedObservation(o)]),
    })),
  });
}

/**
 * Reads every form of a session document: binary (first byte `BINARY_SESSION_MARK`), deflated binary
 * (`DEFLATED_SESSION_MARK`) or deflated JSON (neither mark can begin a raw deflate stream).
 * @param key the key the document is stored under: needed to read the deflated binary form (it is
 *   part of its dictionary), and checked against the document's own when given
 * @throws Error for a deflated binary document without its key, or whose key is another
 */
export function decodeSession(data: Uint8Array, key?: string): SessionState {
  let s: SessionState;
  if (data[0] === BINARY_SESSION_MARK) s = decodeSessionBinary(data);
  else if (data[0] === DEFLATED_SESSION_MARK) {
    if (key === undefined) throw new Error("deflated session document: read without its key");
    s = decodeSessionBinary(inflateSessionBinary(data, key));
  } else s = decodeSessionJson(data);
  if (key !== undefined && s.key !== key)
    throw new Error(`session document of ${JSON.stringify(s.key)} stored under ${JSON.stringify(key)}`);
  return s;
}

function decodeSessionJson(data: Uint8Array): SessionState {
  const raw = unpack<Omit<SessionState, "lifetimes"> & { lifetimes: Encoded<Lifetime>[] }>(data);
  const observations = (list: unknown) =>
    new Map((list as [string, StoredObservation][]).map(([k, o]) => [k, restoredObservation(o)]));
  return {
    ...raw,
    lifetimes: raw.lifetimes.map((l) => ({
      ...l,
      direct: observations(l.direct),
      endpoint: observations(l.endpoint),
    })),
  };
}

export function encodeFleet(f: FleetState): Buffer {
  return pack(f);
}

export function decodeFleet(data: Uint8Array): FleetState {
  // Fields added later are optional here, so a state written before them still loads (empty).
  // `endpointUsers` of older states counted every user, suspect ones too: it is not carried over.
  const raw = unpack<{
    endpointVouchers?: [string, string[]][];
    createdEndpoints: string[];
    eniOwners: [string, string][];
    addressChanges: [string, number[]][];
    pendingEniChanges?: [string, number[]][];
    privateAddressEnis?: [string, string[]][];
    accounts?: string[];
    egress?: [string, string][];
    homeVouchers?: [string, HomeVouchers][];
    watermark: number;
    suspectSessions?: [string, [string, number][]][];
    starts?: [string, number[]][];
    egressInfo?: [string, EgressInfo][];
    allocations?: [string, Learned<string>][];
    egressUsers?: [string, [string, number][]][];
    heldMoves?: [string, number][];
    ipv6Blocks?: [string, Learned<string[]>][];
    placement?: [string, Learned<string[]>][];
    addressChangeMakers?: [string, ChangeMaker[]][];
  }>(data);
  return {
    endpointVouchers: new Map(raw.endpointVouchers ?? []),
    createdEndpoints: new Set(raw.createdEndpoints),
    eniOwners: new Map(raw.eniOwners),
    addressChanges: new Map(raw.addressChanges),
    pendingEniChanges: new Map(raw.pendingEniChanges ?? []),
    privateAddressEnis: new Map(raw.privateAddressEnis ?? []),
    accounts: new Set(raw.accounts ?? []),
    egress: new Map(raw.egress ?? []),
    homeVouchers: new Map(raw.homeVouchers ?? []),
    watermark: raw.watermark,
    // Absent in a state written before retraction and slow starts: empty is the right start.
    suspectSessions: new Map(raw.suspectSessions ?? []),
    starts: new Map(raw.starts ?? []),
    egressInfo: new Map(raw.egressInfo ?? []),
    allocations: new Map(raw.allocations ?? []),
    egressUsers: new Map(raw.egressUsers ?? []),
    heldMoves: new Map(raw.heldMoves ?? []),
    ipv6Blocks: new Map(raw.ipv6Blocks ?? []),
    placement: new Map(raw.placement ?? []),
    addressChangeMakers: new Map(raw.addressChangeMakers ?? []),
  };
}

/** A finding with its aggregated evidence, as stored: compact bytes. */
export function encodeDocument(value: unknown): Buffer {
  return pack(value);
}

export function decodeDocument<T>(data: Uint8Array): T {
  return unpack<T>(data);
}

export function briefOf(e: EngineEvent): EventBrief {
  return {
    id: e.id,
    time: e.time,
    timeIso: e.timeIso,
    name: e.name,
    source: e.source,
    region: e.region,
    account: e.account,
    ip: e.sourceIp,
    ...(e.userAgent ? { userAgent: e.userAgent } : {}),
    ...(e.vpcEndpointId ? { vpcEndpointId: e.vpcEndpointId } : {}),
    ...(e.vpcEndpointAccountId ? { vpcEndpointAccountId: e.vpcEndpointAccountId } : {}),
    ...(e.errorCode ? { errorCode: e.errorCode } : {}),
    ...(e.caller?.accessKeyId ? { accessKeyId: e.caller.accessKeyId } : {}),
  };
}

export function newObservation(e: EngineEvent): Observation {
  const obs: Observation = {
    first: briefOf(e),
    last: e.time,
    lastIso: e.timeIso,
    count: 0,
    samples: [],
    names: [],
    accessKeys: [],
    userAgents: [],
  };
  return obs;
}

function addCapped<T>(list: T[], value: T | undefined, cap: number): void {
  if (value !== undefined && list.length < cap && !list.includes(value)) list.push(value);
}

function earlier(a: EventBrief, b: EventBrief): boolean {
  return a.time < b.time || (a.time === b.time && a.id < b.id);
}

/** Adds one call to an observation; order of calls does not change the result (but for capped lists). */
export function observe(obs: Observation, e: EngineEvent): void {
  obs.count++;
  if (e.time > obs.last) {
    obs.last = e.time;
    obs.lastIso = e.timeIso;
  }
  if (e.time < obs.first.time || (e.time === obs.first.time && e.id < obs.first.id)) obs.first = briefOf(e);
  insertSample(obs.samples, e.time, e.id);
  addCapped(obs.names, e.name, MAX_NAMES);
  addCapped(obs.accessKeys, e.caller?.accessKeyId, MAX_KEYS);
  addCapped(obs.userAgents, e.userAgent, MAX_AGENTS);
}

function insertSample(samples: [number, string][], time: number, id: string): void {
  // Hot path: a full list and a later call (the usual case, calls mostly come in time order); the
  // sample's pair is only built once it is kept.
  const last = samples[samples.length - 1];
  if (samples.length >= MAX_SAMPLES && last !== undefined && (time > last[0] || (time === last[0] && id > last[1])))
    return;
  if (samples.some((x) => x[1] === id)) return;
  samples.push([time, id]);
  samples.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  if (samples.length > MAX_SAMPLES) samples.length = MAX_SAMPLES;
}

/** Folds `b` into `a` (used when two lifetimes turn out to be one, or a finding meets more calls). */
export function mergeObservation(a: Observation, b: Observation): void {
  a.count += b.count;
  if (b.last > a.last) {
    a.last = b.last;
    a.lastIso = b.lastIso;
  }
  if (earlier(b.first, a.first)) a.first = b.first;
  for (const s of b.samples) insertSample(a.samples, s[0], s[1]);
  for (const n of b.names) addCapped(a.names, n, MAX_NAMES);
  for (const k of b.accessKeys) addCapped(a.accessKeys, k, MAX_KEYS);
  for (const u of b.userAgents) addCapped(a.userAgents, u, MAX_AGENTS);
}

/** Observations ordered by their first call (time, then event id): the order "first call wins" uses. */
export function byFirstCall(list: Iterable<Observation>): Observation[] {
  return [...list].sort((a, b) => a.first.time - b.first.time || (a.first.id < b.first.id ? -1 : 1));
}

/**
 * Keeps a map of fleet knowledge to at most `max` entries by dropping the oldest insertions (a `Map`
 * iterates in insertion order; writers that refresh an entry delete and re-insert it).
 */
export function capMapSize<K, V>(map: Map<K, V>, max: number): void {
  if (map.size <= max) return;
  for (const key of map.keys()) {
    map.delete(key);
    if (map.size <= max) return;
  }
}

/** Adds `value` to the end of a capped list kept under `key` (dropping the oldest beyond `cap`). */
export function pushCapped<K, T>(map: Map<K, T[]>, key: K, value: T, cap: number): void {
  const list = map.get(key) ?? [];
  if (list.includes(value)) return;
  list.push(value);
  if (list.length > cap) list.splice(0, list.length - cap);
  map.set(key, list);
}
