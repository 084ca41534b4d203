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
import type { ScannedObject, StateCommit, StateStore } from "./store.js";

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
  }

  async close(): Promise<void> {}
}
