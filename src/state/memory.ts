/** A store that lives and dies with the process (`--state :memory:`, tests). Same semantics as SQLite. */
import type { StoredFinding } from "../engine/engine.js";
import {
  decodeDocument,
  decodeFleet,
  decodeSession,
  emptyFleet,
  encodeDocument,
  encodeFleet,
  encodeSession,
  type FleetState,
  type SessionState,
} from "../engine/state.js";
import type {
  DeliveryState,
  OutboxRow,
  OutboxSettlement,
  OutboxStore,
  OutboxTask,
} from "../findings/delivery/outbox.js";
import {
  type FindingStatus,
  type ScannedObject,
  type StateCommit,
  type StateStore,
  validateFindingStatus,
} from "./store.js";

export class MemoryStore implements StateStore {
  readonly location = ":memory:";
  // Values are kept encoded, as a real store keeps them: the engine must never share objects with it.
  private readonly sessions = new Map<string, { validUntil: number; data: Buffer }>();
  private readonly findings = new Map<string, { time: string; data: Buffer }>();
  private readonly objects = new Map<string, ScannedObject>();
  private readonly outputs = new Map<string, number>();
  private fleet = encodeFleet(emptyFleet());
  private pending: Uint8Array | undefined;
  private settings: string | undefined;
  private readonly statuses = new Map<string, FindingStatus>();
  private readonly statusHistory: FindingStatus[] = [];
  private readonly deliveries = new MemoryOutbox(this.findings, this.statuses);
  readonly outbox: OutboxStore = this.deliveries;

  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    for (const k of keys) {
      const v = this.sessions.get(k);
      if (v) out.set(k, decodeSession(v.data));
    }
    return out;
  }

  async loadFleet(): Promise<FleetState> {
    return decodeFleet(this.fleet);
  }

  async loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>> {
    const out = new Map<string, StoredFinding>();
    for (const id of ids) {
      const v = this.findings.get(id);
      if (v) out.set(id, decodeDocument<StoredFinding>(v.data));
    }
    return out;
  }

  async loadPending(): Promise<Uint8Array | undefined> {
    return this.pending;
  }

  async allFindings(): Promise<StoredFinding[]> {
    return [...this.findings]
      .sort(([ia, a], [ib, b]) => (a.time < b.time ? -1 : a.time > b.time ? 1 : ia < ib ? -1 : ia > ib ? 1 : 0))
      .map(([, v]) => decodeDocument<StoredFinding>(v.data));
  }

  async scannedObject(id: string): Promise<ScannedObject | undefined> {
    return this.objects.get(id);
  }

  async sessionCount(): Promise<number> {
    return this.sessions.size;
  }

  async settingsFingerprint(): Promise<string | undefined> {
    return this.settings;
  }

  async outputBytes(path: string): Promise<number | undefined> {
    return this.outputs.get(path);
  }

  async commit(batch: StateCommit): Promise<void> {
    // All or nothing, as a transaction: every document is encoded before anything changes, so a
    // document that cannot be encoded fails the commit without leaving half of it behind.
    const sessions = batch.sessions.map((s) => ({
      key: s.key,
      validUntil: Math.max(0, ...s.lifetimes.map((l) => l.validUntil)),
      data: encodeSession(s),
    }));
    const findings = batch.findings.map((f) => ({ id: f.finding.id, time: f.finding.time, data: encodeDocument(f) }));
    const fleet = encodeFleet(batch.fleet);
    for (const s of sessions) this.sessions.set(s.key, { validUntil: s.validUntil, data: s.data });
    for (const k of batch.deletedSessions) this.sessions.delete(k);
    const prune = batch.pruneSessionsBefore;
    if (prune !== undefined) for (const [k, v] of this.sessions) if (v.validUntil < prune) this.sessions.delete(k);
    for (const f of findings) this.findings.set(f.id, { time: f.time, data: f.data });
    for (const o of batch.objects) this.objects.set(o.id, o);
    this.fleet = fleet;
    this.pending = batch.pending;
    for (const o of batch.outputs ?? []) this.outputs.set(o.path, o.bytes);
    if (batch.settingsFingerprint !== undefined) this.settings = batch.settingsFingerprint;
    this.deliveries.enqueue(batch.outbox ?? []);
  }

  async findingStatuses(ids?: readonly string[]): Promise<Map<string, FindingStatus>> {
    if (ids === undefined) return new Map(this.statuses);
    const out = new Map<string, FindingStatus>();
    for (const id of ids) {
      const s = this.statuses.get(id);
      if (s) out.set(id, s);
    }
    return out;
  }

  async setFindingStatus(status: FindingStatus): Promise<void> {
    validateFindingStatus(status);
    // A copy: the caller's object must not change what is stored.
    const kept = { id: status.id, status: status.status, reason: status.reason, actor: status.actor, at: status.at };
    this.statusHistory.push(kept);
    if (kept.status === "open") this.statuses.delete(kept.id);
    else this.statuses.set(kept.id, kept);
  }

  async findingStatusHistory(id: string): Promise<FindingStatus[]> {
    return this.statusHistory.filter((s) => s.id === id);
  }

  async close(): Promise<void> {}
}

interface MemoryRow {
  generation: number;
  state: DeliveryState;
  attempts: number;
  message?: string;
}

/** The outbox of a {@link MemoryStore}: rows in insertion order, keyed by finding id and destination. */
class MemoryOutbox implements OutboxStore {
  // Map order is insertion order: the oldest row first, as the other stores give them.
  private readonly rows = new Map<string, MemoryRow>();

  constructor(
    private readonly findings: ReadonlyMap<string, { data: Buffer }>,
    private readonly statuses: ReadonlyMap<string, FindingStatus>,
  ) {}

  enqueue(tasks: readonly OutboxTask[]): void {
    for (const t of tasks) {
      const k = `${t.findingId}\u0000${t.destination}`;
      const row = this.rows.get(k);
      if (row) {
        row.generation++;
        row.state = "pending";
        row.attempts = 0;
        delete row.message;
      } else this.rows.set(k, { generation: 1, state: "pending", attempts: 0 });
    }
  }

  async claimDeliveries(destinations: readonly string[], limit: number): Promise<OutboxRow[]> {
    const wanted = new Set(destinations);
    const out: OutboxRow[] = [];
    for (const [k, row] of this.rows) {
      if (out.length >= limit) break;
      const [findingId, destination] = k.split("\u0000") as [string, string];
      if (row.state !== "pending" || !wanted.has(destination)) continue;
      const f = this.findings.get(findingId);
      const status = this.statuses.get(findingId);
      out.push({
        findingId,
        destination,
        generation: row.generation,
        ...(f ? { stored: decodeDocument<StoredFinding>(f.data) } : {}),
        ...(status?.status === "suppressed" ? { suppressed: status.reason } : {}),
      });
    }
    return out;
  }

  async settleDeliveries(settlements: readonly OutboxSettlement[]): Promise<void> {
    for (const s of settlements) {
      const row = this.rows.get(`${s.findingId}\u0000${s.destination}`);
      if (!row) continue;
      row.attempts += s.attempts;
      if (row.generation !== s.generation) continue;
      row.state = s.state;
      if (s.message !== undefined) row.message = s.message;
    }
  }

  async deliveryCounts(destinations: readonly string[]): Promise<Map<string, Record<DeliveryState, number>>> {
    const out = new Map<string, Record<DeliveryState, number>>();
    for (const d of destinations) out.set(d, { pending: 0, delivered: 0, skipped: 0, rejected: 0 });
    for (const [k, row] of this.rows) {
      const counts = out.get(k.split("\u0000")[1] as string);
      if (counts) counts[row.state]++;
    }
    return out;
  }
}
