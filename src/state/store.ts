/**
 * Where the engine's state lives between runs (and, later, between workers). The engine keeps its
 * working set in memory; the pipeline talks to a store in batches — one load of the sessions a batch
 * needs, one commit in one transaction — never one round trip per event.
 */
import type { StoredFinding } from "../engine/engine.js";
import type { FleetState, SessionState } from "../engine/state.js";

/** A log object that was scanned, so a later scan of the same tree can skip it. */
export interface ScannedObject {
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly records: number;
}

export interface StateCommit {
  readonly sessions: readonly SessionState[];
  readonly deletedSessions: readonly string[];
  readonly fleet: FleetState;
  readonly findings: readonly StoredFinding[];
  readonly objects: readonly ScannedObject[];
}

export interface StateStore {
  /** A human-readable location (`:memory:` or a path), for messages. */
  readonly location: string;
  loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>>;
  loadFleet(): Promise<FleetState>;
  loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>>;
  /** Every stored finding, in time order. */
  allFindings(): Promise<StoredFinding[]>;
  /** Whether this object (same id, size and modification time) was fully scanned before. */
  wasScanned(object: ScannedObject | { id: string; size: number; mtimeMs: number }): Promise<boolean>;
  sessionCount(): Promise<number>;
  /** Writes a batch atomically: all of it or nothing. */
  commit(batch: StateCommit): Promise<void>;
  close(): Promise<void>;
}
