/**
 * The detection engine: pure logic over in-memory state. It knows nothing about files, stores, CLIs
 * or HTTP: the pipeline loads the state a batch needs, feeds events (in time order, see
 * `compareEvents`), calls `evaluate()` and `merge()` and saves what changed.
 *
 * @example
 * const engine = new Engine({ config, inventory, bindUncovered: false }, { sessions, fleet });
 * for (const e of events.sort(compareEvents)) engine.process(e);
 * const current = engine.evaluate();
 * const changed = engine.merge(current, await store.loadFindings([...current.keys()]));
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/config.js";
import {
  FINDING_SCHEMA,
  type Finding,
  type FindingPrincipal,
  type NetworkClass,
  type Severity,
  statusOf,
} from "../findings/finding.js";
import type { NetworkInventory } from "../net/inventory.js";
import { CidrSet, ipFamily } from "../net/ip.js";
import { expireAddresses, learnAddresses, recordEgressUse, touchInstance } from "./addresses.js";
import { evaluateLifetime, type Mismatch, voucherOf, vouchOf } from "./bindings.js";
import { type Caller, type EngineEvent, isAwsSource } from "./event.js";
import { type ChangeEvidence, indexSuspect, pruneSuspects, retract } from "./retraction.js";
import { credentialIpMismatch, eventRules } from "./rules/index.js";
import { type EventRule, type RuleHit, roleMatches } from "./rules/rule.js";
import { noteIssued } from "./slow-start.js";
import {
  byFirstCall,
  capMapSize,
  type FleetState,
  type Lifetime,
  mergeObservation,
  newObservation,
  type Observation,
  observe,
  pushCapped,
  type SessionState,
} from "./state.js";

/** Bounds of the fleet knowledge kept for endpoints, interfaces and homes (see `FleetState`). */
const MAX_ENIS_PER_ADDRESS = 4;
const MAX_PRIVATE_ADDRESSES = 200_000;
const MAX_ENDPOINTS = 20_000;
const MAX_ACCOUNTS = 10_000;
const MAX_HOME_ADDRESSES = 100_000;
const MAX_CHANGES_PER_KEY = 64;

export interface EngineOptions {
  readonly config: Config;
  readonly inventory: NetworkInventory;
  /** Bind credentials whose issuance was not seen (the scan began mid-life) to their first call. */
  readonly bindUncovered: boolean;
  /**
   * A session whose every lifetime ended more than this long before a call's time is forgotten when
   * that call arrives (and by `expire`). Expiry by event time, not by when checkpoints happen, keeps
   * the results independent of checkpoint timing. Default: never.
   */
  readonly retentionMs?: number;
}

export interface EngineState {
  readonly sessions: Map<string, SessionState>;
  fleet: FleetState;
}

/** Counters for the summary. */
export interface EngineStats {
  events: number;
  issuances: number;
  addressChanges: number;
  /** Calls made with instance credentials (known from their issuance or from the record itself). */
  instanceEvents: number;
  /** …of which the issuance was seen and still valid at the call's time. */
  coveredInstanceEvents: number;
  /** Calls AWS made on your behalf (service name as source, or invokedBy): never bind, never alert. */
  awsOnBehalf: number;
  /** Role-session calls whose sourceIPAddress is neither an IP address nor AWS: judged as addresses. */
  malformedSource: number;
  /** Calls skipped by the allowlists (addresses, roles, accounts). */
  allowlisted: number;
  /** Role-session calls whose credential was not tracked (issuance not seen, not bound). */
  untracked: number;
}

/** A finding with the evidence the engine aggregated for it. */
export interface StoredFinding {
  readonly finding: Finding;
  readonly obs: Observation;
  /** The session (or, for untracked credentials, the caller ARN) the finding is about. */
  readonly session: string;
  /**
   * `binding`: computed from the session's observations, replaced whenever the session is evaluated
   * again; `rule`: a per-call rule's aggregate, to which later calls are added.
   */
  readonly origin: "binding" | "rule";
}

/** A finding after merging with its stored version. */
export interface MergedFinding {
  readonly stored: StoredFinding;
  /** New, or its rendering differs from the stored version. */
  readonly changed: boolean;
}

interface RuleAggregate {
  rule: EventRule;
  principal: FindingPrincipal;
  principalKey: string;
  covered: boolean;
  hit: RuleHit;
  obs: Observation;
}

const KIND_SEVERITY: Record<string, Severity> = {
  "ec2-instance": "high",
  "ecs-task": "high",
  lambda: "medium",
  "service-role": "medium",
  "assumed-role": "medium",
};

/**
 * A per-call rule's severity on an instance credential. An instance's own calls leave from AWS
 * addresses (its public address, a NAT gateway, an Elastic IP) or from your networks, so a call from
 * an address shown to be outside both means the credential has left the fleet: high, even when the
 * instance's own calls are not in the logs and there is no home to compare with. Without
 * `--ip-ranges` an address cannot be shown to be outside AWS; a desktop or attack tool's agent is
 * evidence enough there, so the foreign-agent rule is high unless the address is known to be AWS's or
 * yours. IMDSv1 delivery (one finding per session) keeps its severity: it says how, not where.
 */
export function perCallSeverity(
  rule: Pick<EventRule, "id" | "scope" | "defaultSeverity">,
  network: NetworkClass,
): Severity {
  if (rule.scope !== "address") return rule.defaultSeverity;
  if (network === "outside-aws") return "high";
  if (network === "unknown" && rule.id === "instance-credential-foreign-agent") return "high";
  return rule.defaultSeverity;
}

/** Stable finding id: the same credential, rule, address and discriminator always give the same id. */
export function findingId(rule: string, principalKey: string, sourceIp: string, discriminator: string): string {
  return createHash("sha256")
    .update(`${rule}\n${principalKey}\n${sourceIp}\n${discriminator}`)
    .digest("hex")
    .slice(0, 32);
}

export class Engine {
  readonly stats: EngineStats = {
    events: 0,
    issuances: 0,
    addressChanges: 0,
    instanceEvents: 0,
    coveredInstanceEvents: 0,
    awsOnBehalf: 0,
    malformedSource: 0,
    allowlisted: 0,
    untracked: 0,
  };
  private readonly dirty = new Set<string>();
  private readonly expiredKeys = new Set<string>();
  private readonly ruleAggregates = new Map<string, RuleAggregate>();
  /** Retraction (`retraction.ts`): address changes of this batch per instance, to name them. */
  private readonly batchChanges = new Map<string, ChangeEvidence[]>();
  /** Sessions with open findings whose instance changed address in this batch: evaluate them again. */
  private readonly recheck = new Set<string>();
  /** Finding id → session of `address` findings that this batch's evaluation no longer produces. */
  private readonly retractable = new Map<string, string>();
  private readonly rules: EventRule[];
  private readonly allowCidrs: CidrSet;
  private readonly ttlMs: number;

  constructor(
    private readonly options: EngineOptions,
    readonly state: EngineState,
  ) {
    this.rules = eventRules(options.config);
    this.allowCidrs = new CidrSet(options.config.allow.cidrs);
    this.ttlMs = options.config.sessionTtlHours * 3_600_000;
  }

  /** Keys of sessions changed since construction (the pipeline saves these). */
  get dirtySessions(): ReadonlySet<string> {
    return this.dirty;
  }

  /** Sessions whose binding decision waits for more of the stream (the pipeline loads them on resume). */
  get heldSessionKeys(): IterableIterator<string> {
    return this.state.fleet.heldMoves.keys();
  }

  /** Finding ids the rule aggregates of this batch touch (the pipeline loads their stored versions). */
  get ruleFindingIds(): string[] {
    return [...this.ruleAggregates.keys()];
  }

  /** Session keys an event may touch: the pipeline loads these from the store before `process`. */
  static sessionKeysOf(e: EngineEvent, into: Set<string>): void {
    if (e.issuance) {
      into.add(e.issuance.sessionArn);
      into.add(accessKeySessionKey(e.issuance.accessKeyId));
    }
    if (e.caller) {
      into.add(e.caller.arn);
      if (e.caller.accessKeyId) into.add(accessKeySessionKey(e.caller.accessKeyId));
    }
  }

  /** Forgets what the last checkpoint committed: changed sessions and this batch's rule aggregates. */
  endBatch(): void {
    this.dirty.clear();
    this.ruleAggregates.clear();
    this.batchChanges.clear();
    this.recheck.clear();
    this.retractable.clear();
  }

  /**
   * Sessions to evaluate again because their instance changed address in this batch and they have
   * open findings: the pipeline loads those not in memory and hands them to `recheckSessions`.
   */
  get sessionsToRecheck(): string[] {
    return [...this.recheck].filter((k) => !this.state.sessions.has(k)).sort();
  }

  /** Marks the sessions to recheck dirty, adding those the pipeline loaded from the store. */
  recheckSessions(loaded: ReadonlyMap<string, SessionState>): void {
    for (const key of this.recheck) {
      const fromStore = loaded.get(key);
      if (fromStore && !this.state.sessions.has(key)) this.state.sessions.set(key, fromStore);
      if (this.state.sessions.has(key)) this.dirty.add(key);
    }
  }

  /** Ids of stored findings this batch's evaluation no longer produces (the pipeline loads them). */
  get retractableIds(): string[] {
    return [...this.retractable.keys()];
  }

  /**
   * The retractions of this batch: stored open `address` findings that the evaluation no longer
   * produces, retracted with the evidence that explains them named, in a stable order.
   */
  retractions(previous: ReadonlyMap<string, StoredFinding>): MergedFinding[] {
    const out: MergedFinding[] = [];
    for (const [id, key] of this.retractable) {
      const prev = previous.get(id);
      const s = this.state.sessions.get(key);
      if (!prev || !s || prev.origin !== "binding" || statusOf(prev.finding) !== "open") continue;
      const changes = (s.instanceId && this.batchChanges.get(s.instanceId)) || [];
      out.push({ stored: retract(prev, s, changes, this.state.fleet.watermark), changed: true });
    }
    out.sort((a, b) => compareFindings(a.stored.finding, b.stored.finding));
    return out;
  }

  /** The live session under `key` at event time `t`: one that ended long before `t` is forgotten. */
  private session(key: string, t: number): SessionState | undefined {
    const s = this.state.sessions.get(key);
    const retention = this.options.retentionMs;
    if (!s || retention === undefined) return s;
    if (endOf(s) >= t - retention) return s;
    this.state.sessions.delete(key);
    this.dirty.delete(key);
    this.expiredKeys.add(key);
    return undefined;
  }

  process(e: EngineEvent): void {
    this.stats.events++;
    if (e.time > this.state.fleet.watermark) this.state.fleet.watermark = e.time;
    if (this.options.config.allow.accounts.includes(e.account)) {
      this.stats.allowlisted++;
      return;
    }
    this.learnAccount(e.account);
    if (e.issuance) this.onIssuance(e);
    if (e.addressChange) this.onAddressChange(e);
    if (e.caller) this.onCall(e, e.caller);
  }

  /**
   * Accounts the trail is about (recipients of its events, owners of its issued sessions): their
   * endpoints are yours. A thief's endpoint account is never a recipient of your trail's events.
   */
  private learnAccount(account: string | undefined): void {
    const accounts = this.state.fleet.accounts;
    if (!account || accounts.has(account) || accounts.size >= MAX_ACCOUNTS) return;
    accounts.add(account);
  }

  private onIssuance(e: EngineEvent): void {
    const i = e.issuance;
    if (!i) return;
    this.stats.issuances++;
    // A role a person or a thief assumed may be in any account (his own, too): only roles AWS services
    // issue credentials for (instance profiles, tasks, functions) are the fleet's.
    if (i.kind !== "assumed-role") this.learnAccount(accountOf(i.roleArn));
    const byArn = i.kind === "ec2-instance" || i.kind === "ecs-task";
    const key = byArn ? i.sessionArn : accessKeySessionKey(i.accessKeyId);
    let s = this.session(key, e.time);
    if (!s) {
      s = {
        key,
        kind: i.kind,
        arn: i.sessionArn,
        roleArn: i.roleArn,
        sessionName: i.sessionName,
        ...(i.instanceId ? { instanceId: i.instanceId } : {}),
        account: accountOf(i.roleArn) ?? e.account,
        lifetimes: [],
      };
      this.state.sessions.set(key, s);
    }
    this.extendLifetime(s, e.time, true);
    noteIssued(s, i.accessKeyId, e.time);
    if (s.instanceId) touchInstance(this.state.fleet, s.instanceId, e.time);
    this.dirty.add(key);
  }

  /** Adds an issuance (or, for uncovered sessions, a call) at time t to the session's lifetimes. */
  private extendLifetime(s: SessionState, t: number, covered: boolean): Lifetime {
    let l = s.lifetimes.find((x) => x.start <= t && t <= x.validUntil);
    if (!l && covered) l = s.lifetimes.find((x) => t < x.start && t + this.ttlMs >= x.start);
    if (!l) {
      l = { start: t, validUntil: t + this.ttlMs, covered, direct: new Map(), endpoint: new Map() };
      s.lifetimes.push(l);
    }
    if (t < l.start) l.start = t;
    if (t + this.ttlMs > l.validUntil) l.validUntil = t + this.ttlMs;
    if (covered) l.covered = true;
    mergeOverlapping(s);
    return s.lifetimes.find((x) => x.start <= t && t <= x.validUntil) as Lifetime;
  }

  private onAddressChange(e: EngineEvent): void {
    const c = e.addressChange;
    if (!c) return;
    this.stats.addressChanges++;
    const fleet = this.state.fleet;
    const isChange = e.name !== "RunInstances" && e.name !== "CreateVpcEndpoint" && e.name !== "CreateNetworkInterface";
    for (const [eni, instance] of c.eniOwners) this.learnEniOwner(eni, instance);
    const instances = new Set(c.instanceIds);
    for (const eni of c.networkInterfaceIds) {
      const owner = fleet.eniOwners.get(eni);
      if (owner) instances.add(owner);
      // The interface's instance may be learned later (an attachment or launch read afterwards, or in
      // a later batch): the change waits under the interface and moves to the instance then.
      else if (isChange) addTime(fleet.pendingEniChanges, eni, e.time);
    }
    if (isChange) {
      for (const id of instances) addTime(fleet.addressChanges, id, e.time);
      this.noteChangeForRetraction(e, instances);
    }
    for (const vpce of c.createdEndpoints) fleet.createdEndpoints.add(vpce);
    for (const [eni, address] of c.privateAddresses) {
      const enis = fleet.privateAddressEnis.get(address) ?? [];
      if (!enis.includes(eni)) {
        enis.push(eni);
        if (enis.length > MAX_ENIS_PER_ADDRESS) enis.shift();
      }
      // Re-inserted so the size cap drops the addresses assigned longest ago first.
      fleet.privateAddressEnis.delete(address);
      fleet.privateAddressEnis.set(address, enis);
    }
    capMapSize(fleet.privateAddressEnis, MAX_PRIVATE_ADDRESSES);
    learnAddresses(fleet, e, instances);
  }

  /** Records which instance an interface belongs to, and applies the changes that waited for it. */
  private learnEniOwner(eni: string, instance: string): void {
    const fleet = this.state.fleet;
    fleet.eniOwners.set(eni, instance);
    const pending = fleet.pendingEniChanges.get(eni);
    if (!pending) return;
    fleet.pendingEniChanges.delete(eni);
    for (const t of pending) {
      addTime(fleet.addressChanges, instance, t);
      // A change that waited under the interface may explain an open finding of the instance.
      const change = { time: t, timeIso: new Date(t).toISOString(), name: `an address change of ${eni}`, id: "" };
      this.noteSuspectChange(instance, change);
    }
  }

  /** Retraction and slow starts: remember the change, and recheck the instance's suspect sessions. */
  private noteChangeForRetraction(e: EngineEvent, instances: ReadonlySet<string>): void {
    const fleet = this.state.fleet;
    for (const id of instances) {
      if (e.name === "StartInstances") {
        const starts = fleet.starts.get(id) ?? [];
        if (!starts.includes(e.time)) starts.push(e.time);
        fleet.starts.set(
          id,
          starts.sort((a, b) => a - b),
        );
      }
      this.noteSuspectChange(id, { time: e.time, timeIso: e.timeIso, name: e.name, id: e.id });
    }
  }

  /** Only instances with open findings can see one retracted: the others cost nothing here. */
  private noteSuspectChange(instance: string, change: ChangeEvidence): void {
    const suspects = this.state.fleet.suspectSessions.get(instance);
    if (!suspects) return;
    const changes = this.batchChanges.get(instance) ?? [];
    changes.push(change);
    this.batchChanges.set(instance, changes);
    for (const [key] of suspects) this.recheck.add(key);
  }

  private onCall(e: EngineEvent, c: Caller): void {
    const sessions = this.state.sessions;
    let s = (c.accessKeyId && this.session(accessKeySessionKey(c.accessKeyId), e.time)) || this.session(c.arn, e.time);
    const isInstance = s ? s.kind === "ec2-instance" : c.instanceHint;
    let lifetime = s && lifetimeAt(s, e.time);
    if (isInstance) {
      this.stats.instanceEvents++;
      if (lifetime?.covered) this.stats.coveredInstanceEvents++;
    }
    if (c.invokedBy || isAwsSource(e.sourceIp)) {
      this.stats.awsOnBehalf++;
      return;
    }
    if (ipFamily(e.sourceIp) === undefined) this.stats.malformedSource++;
    const { config } = this.options;
    if (this.allowCidrs.has(e.sourceIp) || roleMatches(config.allow.roles, s?.roleArn ?? c.roleArn)) {
      this.stats.allowlisted++;
      return;
    }
    if (isInstance) this.applyEventRules(e, c, s, lifetime?.covered ?? false);

    if (!s || !lifetime) {
      if (!this.options.bindUncovered) {
        this.stats.untracked++;
        return;
      }
      const key = isInstance ? c.arn : c.accessKeyId ? accessKeySessionKey(c.accessKeyId) : undefined;
      if (!key) {
        this.stats.untracked++;
        return;
      }
      s = this.session(key, e.time) ?? {
        key,
        kind: isInstance ? "ec2-instance" : "assumed-role",
        arn: c.arn,
        ...(c.roleArn ? { roleArn: c.roleArn } : {}),
        sessionName: c.sessionName,
        ...(isInstance ? { instanceId: c.sessionName } : {}),
        account: accountOf(c.arn) ?? e.account,
        lifetimes: [],
      };
      sessions.set(key, s);
      lifetime = this.extendLifetime(s, e.time, false);
    } else if (!lifetime.covered) {
      lifetime = this.extendLifetime(s, e.time, false);
    }
    if (!config.bindKinds.includes(s.kind)) return;
    if (e.vpcEndpointId) {
      const k = `${e.vpcEndpointId}|${e.sourceIp}|${e.source}`;
      let obs = lifetime.endpoint.get(k);
      if (!obs) {
        obs = newObservation(e);
        lifetime.endpoint.set(k, obs);
      }
      observe(obs, e);
    } else {
      let obs = lifetime.direct.get(e.sourceIp);
      if (!obs) {
        obs = newObservation(e);
        lifetime.direct.set(e.sourceIp, obs);
      }
      observe(obs, e);
      recordEgressUse(this.state.fleet, s, e);
    }
    this.dirty.add(s.key);
  }

  private applyEventRules(e: EngineEvent, c: Caller, s: SessionState | undefined, covered: boolean): void {
    const principalKey = s?.key ?? c.arn;
    for (const rule of this.rules) {
      const hit = rule.check(e, c);
      if (!hit) continue;
      const ip = rule.scope === "session" ? "" : e.sourceIp;
      const id = findingId(rule.id, principalKey, ip, hit.discriminator ?? "");
      let agg = this.ruleAggregates.get(id);
      if (!agg) {
        agg = { rule, principal: principalOf(s, c), principalKey, covered, hit, obs: newObservation(e) };
        this.ruleAggregates.set(id, agg);
      }
      observe(agg.obs, e);
      if (agg.obs.first.id === e.id) agg.hit = hit;
      if (covered) agg.covered = true;
    }
  }

  /**
   * Evaluates every session touched by this batch and collects every per-call rule hit. The result
   * still has to be merged with the findings stored earlier (`merge`), which the pipeline loads by id.
   */
  evaluate(final = false): Map<string, StoredFinding> {
    const current = new Map<string, StoredFinding>();
    const fleet = this.state.fleet;
    // Sessions whose move to a known egress waited for its window: decided once it has passed.
    for (const [key, decideAt] of fleet.heldMoves) {
      if (!this.state.sessions.has(key) || (!final && decideAt > fleet.watermark)) continue;
      fleet.heldMoves.delete(key);
      this.dirty.add(key);
    }
    // Vouches first, so every session of the batch is judged with all of the batch's vouchers.
    this.collectVouches();
    for (const key of [...this.dirty].sort()) {
      const s = this.state.sessions.get(key);
      if (!s) continue;
      const openAddresses = new Set<string>();
      for (const l of s.lifetimes) {
        for (const m of evaluateLifetime({ ...this.options, fleet, final }, s, l)) {
          if (m.cause === "address" || m.cause === "endpoint-only") openAddresses.add(m.obs.first.ip);
          const f = this.mismatchFinding(s, l, m);
          const existing = current.get(f.finding.id);
          if (existing) {
            mergeObservation(existing.obs, f.obs);
            current.set(f.finding.id, { ...existing, finding: this.rerender(existing) });
          } else current.set(f.finding.id, f);
        }
      }
      this.noteOpenAddresses(s, openAddresses);
    }
    for (const [id, agg] of this.ruleAggregates) {
      current.set(id, {
        finding: this.ruleFinding(id, agg, agg.obs),
        obs: agg.obs,
        session: agg.principalKey,
        origin: "rule",
      });
    }
    return current;
  }

  /** Records what the touched sessions vouch for: endpoints and home addresses (`vouchOf`). */
  private collectVouches(): void {
    const fleet = this.state.fleet;
    const cap = this.options.config.fleetEndpointThreshold + 1;
    const learnMs = this.options.config.learnWindowMinutes * 60_000;
    for (const key of this.dirty) {
      const s = this.state.sessions.get(key);
      const voucher = s && voucherOf(s);
      if (!s || voucher === undefined) continue;
      for (const l of s.lifetimes) {
        const v = vouchOf(fleet, s, l, learnMs);
        for (const vpce of v.endpoints) pushCapped(fleet.endpointVouchers, vpce, voucher, cap);
        if (v.home !== undefined) {
          const homeKey = `${s.account}|${v.home}`;
          const entry = fleet.homeVouchers.get(homeKey) ?? { users: [], last: 0 };
          if (entry.users.length < cap && !entry.users.includes(voucher)) entry.users.push(voucher);
          entry.last = Math.max(entry.last, v.homeLast ?? 0);
          fleet.homeVouchers.delete(homeKey);
          fleet.homeVouchers.set(homeKey, entry);
        }
      }
    }
    capMapSize(fleet.endpointVouchers, MAX_ENDPOINTS);
    capMapSize(fleet.homeVouchers, MAX_HOME_ADDRESSES);
  }

  /**
   * Merges this batch's findings with their stored versions and returns the ones that are new or
   * changed, in a stable order. Bindings already hold every call of their session, so their findings
   * replace the stored ones; per-call rule findings add this batch's calls to the stored evidence.
   */
  merge(current: ReadonlyMap<string, StoredFinding>, previous: ReadonlyMap<string, StoredFinding>): MergedFinding[] {
    const out: MergedFinding[] = [];
    for (const [id, f] of current) {
      const prev = previous.get(id);
      let next = f;
      const agg = this.ruleAggregates.get(id);
      if (agg && prev) {
        const obs = structuredClone(agg.obs);
        mergeObservation(obs, prev.obs);
        next = { ...f, finding: this.ruleFinding(id, agg, obs), obs };
      }
      out.push({ stored: next, changed: !prev || JSON.stringify(prev.finding) !== JSON.stringify(next.finding) });
    }
    out.sort((a, b) => compareFindings(a.stored.finding, b.stored.finding));
    return out;
  }

  /** Retraction: addresses whose finding this evaluation no longer produces become candidates. */
  private noteOpenAddresses(s: SessionState, produced: ReadonlySet<string>): void {
    const open = new Set(produced);
    // A session with a move held for its window is undecided, not explained: its findings stay open
    // until the move is decided (then it is evaluated again, and retracted only if accepted).
    const held = this.state.fleet.heldMoves.has(s.key);
    for (const ip of s.openAddresses ?? []) {
      if (open.has(ip)) continue;
      if (held) open.add(ip);
      else this.retractable.set(findingId(credentialIpMismatch.id, s.key, ip, ""), s.key);
    }
    if (open.size > 0) s.openAddresses = [...open].sort();
    else delete s.openAddresses;
    indexSuspect(this.state.fleet, s, endOf(s));
  }

  /** Drops lifetimes (and sessions) whose validity ended long before the watermark; returns dropped keys. */
  expire(retentionMs: number): string[] {
    const horizon = this.state.fleet.watermark - retentionMs;
    const dropped = [...this.expiredKeys];
    this.expiredKeys.clear();
    // Whole sessions only: a live session keeps its older lifetimes, so what a finding shows (its
    // expected addresses) never depends on when a checkpoint happened.
    for (const [key, s] of this.state.sessions) if (endOf(s) < horizon) dropped.push(key);
    for (const key of dropped) {
      this.state.sessions.delete(key);
      this.dirty.delete(key);
    }
    pruneSuspects(this.state.fleet, horizon, dropped);
    // A start is kept one session TTL: a first call later than that is judged without it.
    for (const [id, starts] of this.state.fleet.starts) {
      const recent = starts.filter((t) => t >= this.state.fleet.watermark - this.ttlMs);
      if (recent.length) this.state.fleet.starts.set(id, recent);
      else this.state.fleet.starts.delete(id);
    }
    // Address changes are kept at least one learning window, so a call they explain still finds them.
    const changesHorizon =
      this.state.fleet.watermark - Math.max(retentionMs, this.options.config.learnWindowMinutes * 60_000);
    const fleet = this.state.fleet;
    for (const changes of [fleet.addressChanges, fleet.pendingEniChanges]) {
      for (const [id, times] of changes) {
        const recent = times.filter((t) => t >= changesHorizon);
        if (recent.length) changes.set(id, recent);
        else changes.delete(id);
      }
    }
    // A home address is confirmed by the latest call of a session whose home it is; one no session
    // has called from for a whole credential lifetime is forgotten.
    const homesHorizon = fleet.watermark - Math.max(retentionMs, this.ttlMs);
    for (const [key, entry] of fleet.homeVouchers) if (entry.last < homesHorizon) fleet.homeVouchers.delete(key);
    // Address knowledge lives as long as the instances using it: a credential lifetime past its last use.
    expireAddresses(fleet, fleet.watermark - retentionMs - this.ttlMs, changesHorizon, this.state.sessions);
    return dropped;
  }

  private mismatchFinding(s: SessionState, l: Lifetime, m: Mismatch): StoredFinding {
    const ip = m.obs.first.ip;
    const id = findingId(credentialIpMismatch.id, s.key, ip, m.discriminator);
    const network = this.options.inventory.classify(ip);
    let severity: Severity = KIND_SEVERITY[s.kind] ?? credentialIpMismatch.defaultSeverity;
    if (network === "own-network" && !m.homeSuspicious && m.cause === "address") severity = "low";
    const principal = principalOfSession(s, m.obs.first.accessKeyId);
    const who = describePrincipal(principal);
    let reason: string;
    switch (m.cause) {
      case "address":
        reason = m.homeSuspicious
          ? `${who} was first used from ${m.home} outside your networks, then from your network address ${ip}: someone else probably used it first.`
          : `${who} was first used from ${m.home} and then from ${ip} (${networkText(network)}): it has left its holder; revoke its sessions and find the leak.`;
        break;
      case "unknown-endpoint":
        reason = `${who} was used through VPC endpoint ${m.obs.first.vpcEndpointId}, which is not known to be yours (owner ${m.obs.first.vpcEndpointAccountId ?? "not logged"}): a thief's own endpoint hides his address.`;
        break;
      case "endpoint-change":
        reason = `${who} called ${m.obs.first.source} through endpoint ${m.obs.first.vpcEndpointId} after using another endpoint for it: check whether both endpoints are yours.`;
        break;
      case "endpoint-only":
        reason = `${who} was used directly from ${ip} (${networkText(network)}) by a holder that otherwise reached AWS only through your VPC endpoints${m.expected.length ? ` (from ${m.expected.join(", ")})` : ""}, and nothing in the logs or your configuration says ${ip} is your egress: someone else has the credential.`;
        break;
      case "second-private-address":
        reason = `${who} was used through your VPC endpoint from a second private address ${ip} (expected ${m.expected.join(", ")}): another host in your network has the credential.`;
        break;
    }
    const finding = render({
      id,
      rule: credentialIpMismatch.id,
      severity,
      principal,
      sourceIp: ip,
      expectedIps: m.expected,
      network,
      covered: l.covered,
      obs: m.obs,
      reason,
    });
    return { finding, obs: m.obs, session: s.key, origin: "binding" };
  }

  private rerender(f: StoredFinding): Finding {
    return render({
      id: f.finding.id,
      rule: f.finding.rule,
      severity: f.finding.severity,
      principal: f.finding.principal,
      sourceIp: f.finding.sourceIp,
      expectedIps: f.finding.expectedIps,
      network: f.finding.network,
      covered: f.finding.covered,
      obs: f.obs,
      reason: f.finding.reason,
    });
  }

  private ruleFinding(id: string, agg: RuleAggregate, obs: Observation): Finding {
    const network = this.options.inventory.classify(obs.first.ip);
    const s = this.state.sessions.get(agg.principalKey);
    const expected = s ? homesOf(s) : [];
    return render({
      id,
      rule: agg.rule.id,
      severity: perCallSeverity(agg.rule, network),
      principal: agg.principal,
      sourceIp: obs.first.ip,
      expectedIps: expected,
      network,
      covered: agg.covered,
      obs,
      reason: `${describePrincipal(agg.principal)} ${agg.hit.detail}.`,
    });
  }
}

function render(d: {
  id: string;
  rule: string;
  severity: Severity;
  principal: FindingPrincipal;
  sourceIp: string;
  expectedIps: readonly string[];
  network: NetworkClass;
  covered: boolean;
  obs: Observation;
  reason: string;
}): Finding {
  const first = d.obs.first;
  return {
    schema: FINDING_SCHEMA,
    id: d.id,
    rule: d.rule,
    severity: d.severity,
    time: first.timeIso,
    account: first.account,
    region: first.region,
    principal: d.principal,
    sourceIp: d.sourceIp,
    expectedIps: [...d.expectedIps],
    network: d.network,
    covered: d.covered,
    event: {
      id: first.id,
      name: first.name,
      source: first.source,
      ...(first.userAgent ? { userAgent: first.userAgent } : {}),
      ...(first.vpcEndpointId ? { vpcEndpointId: first.vpcEndpointId } : {}),
      ...(first.errorCode ? { errorCode: first.errorCode } : {}),
    },
    evidence: {
      count: d.obs.count,
      firstSeen: first.timeIso,
      lastSeen: d.obs.lastIso,
      eventIds: d.obs.samples.map((s) => s[1]),
      eventNames: [...d.obs.names],
      accessKeyIds: [...d.obs.accessKeys],
      userAgents: [...d.obs.userAgents],
    },
    reason: d.reason,
    status: "open",
  };
}

/** Findings in a stable order: time, rule, id. */
export function compareFindings(a: Finding, b: Finding): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.id < b.id ? -1 : 1;
}

/** When the session's last lifetime ends. */
function endOf(s: SessionState): number {
  const lifetimes = s.lifetimes;
  let end = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < lifetimes.length; i++) {
    const until = (lifetimes[i] as Lifetime).validUntil;
    if (until > end) end = until;
  }
  return end;
}

/** The first of the session's lifetimes that covers `t` (a loop: this runs for every call). */
function lifetimeAt(s: SessionState, t: number): Lifetime | undefined {
  const lifetimes = s.lifetimes;
  for (let i = 0; i < lifetimes.length; i++) {
    const l = lifetimes[i] as Lifetime;
    if (l.start <= t && t <= l.validUntil) return l;
  }
  return undefined;
}

/**
 * `ak:<accessKeyId>`, the session key of credentials known by key id, from a small cache: every call
 * looks its key up (twice: to load sessions, then to process), and building the string each time
 * cost an allocation and a hash per lookup. The cache is keyed by a slice of its own value, so it
 * never keeps alive the text an id was read from.
 */
export function accessKeySessionKey(accessKeyId: string): string {
  let key = accessKeySessionKeys.get(accessKeyId);
  if (key === undefined) {
    key = `ak:${accessKeyId}`;
    if (accessKeySessionKeys.size >= MAX_CACHED_ACCESS_KEYS) accessKeySessionKeys.clear();
    accessKeySessionKeys.set(key.slice(3), key);
  }
  return key;
}

const accessKeySessionKeys = new Map<string, string>();
const MAX_CACHED_ACCESS_KEYS = 65_536;

/** Adds a change time to a per-key list (sorted, capped to the latest ones). */
function addTime(map: Map<string, number[]>, key: string, t: number): void {
  const times = map.get(key) ?? [];
  if (!times.includes(t)) {
    times.push(t);
    times.sort((a, b) => a - b);
    if (times.length > MAX_CHANGES_PER_KEY) times.splice(0, times.length - MAX_CHANGES_PER_KEY);
  }
  map.set(key, times);
}

function mergeOverlapping(s: SessionState): void {
  s.lifetimes.sort((a, b) => a.start - b.start);
  for (let i = 0; i + 1 < s.lifetimes.length; ) {
    const a = s.lifetimes[i] as Lifetime;
    const b = s.lifetimes[i + 1] as Lifetime;
    if (b.start <= a.validUntil) {
      a.validUntil = Math.max(a.validUntil, b.validUntil);
      a.covered ||= b.covered;
      for (const [k, o] of b.direct) {
        const mine = a.direct.get(k);
        if (mine) mergeObservation(mine, o);
        else a.direct.set(k, o);
      }
      for (const [k, o] of b.endpoint) {
        const mine = a.endpoint.get(k);
        if (mine) mergeObservation(mine, o);
        else a.endpoint.set(k, o);
      }
      s.lifetimes.splice(i + 1, 1);
    } else i++;
  }
}

function homesOf(s: SessionState): string[] {
  const out: string[] = [];
  for (const l of s.lifetimes) {
    const first = byFirstCall(l.direct.values())[0];
    if (first && !out.includes(first.first.ip)) out.push(first.first.ip);
  }
  return out;
}

function accountOf(arn: string): string | undefined {
  return /^arn:[^:]+:[^:]+::(\d{12}):/.exec(arn)?.[1];
}

function principalOfSession(s: SessionState, accessKeyId: string | undefined): FindingPrincipal {
  return {
    arn: s.arn,
    ...(s.roleArn ? { roleArn: s.roleArn } : {}),
    sessionName: s.sessionName,
    ...(accessKeyId ? { accessKeyId } : {}),
    kind: s.kind,
    ...(s.instanceId ? { instanceId: s.instanceId } : {}),
  };
}

function principalOf(s: SessionState | undefined, c: Caller): FindingPrincipal {
  if (s) return principalOfSession(s, c.accessKeyId);
  return {
    arn: c.arn,
    ...(c.roleArn ? { roleArn: c.roleArn } : {}),
    sessionName: c.sessionName,
    ...(c.accessKeyId ? { accessKeyId: c.accessKeyId } : {}),
    kind: "ec2-instance",
    ...(c.instanceHint && /^i-/i.test(c.sessionName) ? { instanceId: c.sessionName } : {}),
  };
}

const KIND_TEXT: Record<string, string> = {
  "ec2-instance": "Instance credential",
  "ecs-task": "ECS task credential",
  lambda: "Lambda credential",
  "service-role": "Service role credential",
  "assumed-role": "Role session credential",
};

function describePrincipal(p: FindingPrincipal): string {
  return `${KIND_TEXT[p.kind] ?? "Credential"} ${p.arn}${p.accessKeyId ? ` (${p.accessKeyId})` : ""}`;
}

function networkText(n: NetworkClass): string {
  switch (n) {
    case "own-network":
      return "inside your networks";
    case "aws":
      return "inside AWS, not known to be yours";
    case "outside-aws":
      return "outside AWS";
    default:
      return "not classified: give --ip-ranges and ownNetworks to classify it";
  }
}
