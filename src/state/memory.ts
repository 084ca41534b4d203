/** A store that lives and dies with the process (`--state :memory:`, tests). */
import type { StoredFinding } from "../engine/engine.js";
import { emptyFleet, type FleetState, type SessionState } from "../engine/state.js";
import type { ScannedObject, StateCommit, StateStore } from "./store.js";

export class MemoryStore implements StateStore {
  readonly location = ":memory:";
  private readonly sessions = new Map<string, string>();
  private readonly findings = new Map<string, string>();
  private readonly objects = new Map<string, ScannedObject>();
  private fleet = JSON.stringify(emptyFleet());

  // Values are kept serialised, as a real store would: the engine must never share objects with it.
  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    for (const k of keys) {
      const v = this.sessions.get(k);
      if (v) out.set(k, JSON.parse(v));
    }
    return out;
  }

  async loadFleet(): Promise<FleetState> {
    return JSON.parse(this.fleet);
  }

  async loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>> {
    const out = new Map<string, StoredFinding>();
    for (const id of ids) {
      const v = this.findings.get(id);
      if (v) out.set(id, JSON.parse(v));
    }
    return out;
  }

  async allFindings(): Promise<StoredFinding[]> {
    return [...this.findings.values()]
      .map((v) => JSON.parse(v) as StoredFinding)
      .sort((a, b) =>
        a.finding.time < b.finding.time
          ? -1
          : a.finding.time > b.finding.time
            ? 1
            : a.finding.id < b.finding.id
              ? -1
              : 1,
      );
  }

  async wasScanned(o: { id: string; size: number; mtimeMs: number }): Promise<boolean> {
    const s = this.objects.get(o.id);
    return s !== undefined && s.size === o.size && s.mtimeMs === o.mtimeMs;
  }

  async sessionCount(): Promise<number> {
    return this.sessions.size;
  }

  async commit(batch: StateCommit): Promise<void> {
    for (const s of batch.sessions) this.sessions.set(s.key, JSON.stringify(s));
    for (const k of batch.deletedSessions) this.sessions.delete(k);
    for (const f of batch.findings) this.findings.set(f.finding.id, JSON.stringify(f));
    for (const o of batch.objects) this.objects.set(o.id, o);
    this.fleet = JSON.stringify(batch.fleet);
  }

  async close(): Promise<void> {}
}
