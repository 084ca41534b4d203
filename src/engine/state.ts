/**
 * The engine's state, as plain JSON-serialisable data so that any store (memory, SQLite, …) can keep
 * it. Calls are kept as *observations*: per credential and address, the first and last call, a count
 * and a few samples. Decisions are computed from observations, never from the order calls arrived
 * in, which is what makes findings independent of the order files are read.
 */
import type { CredentialKind } from "../findings/finding.js";
import type { EngineEvent } from "./event.js";

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
  direct: Record<string, Observation>;
  /** Endpoint calls, by `vpce|address|eventSource`. */
  endpoint: Record<string, Observation>;
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
  accessKeys: string[];
  lifetimes: Lifetime[];
}

/** What the fleet as a whole has taught the engine: endpoints, interfaces, address changes. */
export interface FleetState {
  /** Instances seen calling through each endpoint (capped: only the count up to a threshold matters). */
  endpointUsers: Record<string, string[]>;
  /** Endpoints created by CreateVpcEndpoint in the logs (so: in your accounts). */
  createdEndpoints: string[];
  eniOwners: Record<string, string>;
  /** Times of successful address changes per instance (AssociateAddress, StartInstances, …). */
  addressChanges: Record<string, number[]>;
  /** Latest event time seen so far (drives expiry of old state, never the wall clock). */
  watermark: number;
}

export function emptyFleet(): FleetState {
  return { endpointUsers: {}, createdEndpoints: [], eniOwners: {}, addressChanges: {}, watermark: 0 };
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
  const brief = briefOf(e);
  if (earlier(brief, obs.first)) obs.first = brief;
  insertSample(obs.samples, [e.time, e.id]);
  addCapped(obs.names, e.name, MAX_NAMES);
  addCapped(obs.accessKeys, e.caller?.accessKeyId, MAX_KEYS);
  addCapped(obs.userAgents, e.userAgent, MAX_AGENTS);
}

function insertSample(samples: [number, string][], s: [number, string]): void {
  if (samples.some((x) => x[1] === s[1])) return;
  samples.push(s);
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
  for (const s of b.samples) insertSample(a.samples, s);
  for (const n of b.names) addCapped(a.names, n, MAX_NAMES);
  for (const k of b.accessKeys) addCapped(a.accessKeys, k, MAX_KEYS);
  for (const u of b.userAgents) addCapped(a.userAgents, u, MAX_AGENTS);
}

/** Observations ordered by their first call (time, then event id): the order "first call wins" uses. */
export function byFirstCall(list: Iterable<Observation>): Observation[] {
  return [...list].sort((a, b) => a.first.time - b.first.time || (a.first.id < b.first.id ? -1 : 1));
}
