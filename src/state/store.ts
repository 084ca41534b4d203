/**
 * Where the engine's state lives between checkpoints and runs (and, later, between workers). The
 * engine keeps its working set in memory; the pipeline talks to a store in batches — one load of the
 * sessions an object needs, one commit per checkpoint in one transaction — never one round trip per
 * event.
 *
 * A checkpoint commits together: the sessions and fleet knowledge changed since the last one, the
 * findings (new ones were written and flushed to the output just before), the stream's position
 * (watermark and the ids already processed), and the objects all of whose events these include. An
 * object counts as scanned only once its checkpoint is committed, which is what lets a killed scan
 * resume exactly.
 */
import type { StoredFinding } from "../engine/engine.js";
import type { FleetState, SessionState } from "../engine/state.js";

/** A log object that was scanned, so a later scan of the same tree can skip it. */
export interface ScannedObject {
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Records consumed (for a partial object: the complete records before the damage). */
  readonly records: number;
  /** `partial`: damaged; read as far as it could be. Re-read only when it changes, skipping `records`. */
  readonly status: "complete" | "partial";
}

export interface StateCommit {
  readonly sessions: readonly SessionState[];
  readonly deletedSessions: readonly string[];
  /** Also delete every stored session whose validity ended before this time (ms), loaded or not. */
  readonly pruneSessionsBefore?: number;
  readonly fleet: FleetState;
  /** New or changed findings. New ones were delivered (written and flushed) before this commit. */
  readonly findings: readonly StoredFinding[];
  readonly objects: readonly ScannedObject[];
  /** The stream's position: watermark and processed record keys (`encodeStreamPosition`), for an exact resume. */
  readonly pending: Uint8Array;
  /** Bytes of each output file that hold delivered findings (for exactly-once file output). */
  readonly outputs?: readonly { readonly path: string; readonly bytes: number }[];
  /** Replaces the fingerprint of the settings the scanned objects were judged with (settings-fingerprint.ts). */
  readonly settingsFingerprint?: string;
}

export interface StateStore {
  /** A human-readable location (`:memory:` or a path), for messages. */
  readonly location: string;
  loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>>;
  loadFleet(): Promise<FleetState>;
  loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>>;
  /** The stream's position committed by the last checkpoint, if any. */
  loadPending(): Promise<Uint8Array | undefined>;
  /** Every stored finding, in time order. */
  allFindings(): Promise<StoredFinding[]>;
  /** The stored record of an object, if it was scanned before. */
  scannedObject(id: string): Promise<ScannedObject | undefined>;
  sessionCount(): Promise<number>;
  /** The fingerprint of the settings the scanned objects were judged with, if one was committed. */
  settingsFingerprint(): Promise<string | undefined>;
  /** Committed length of an output file, if this state delivered findings to it. */
  outputBytes(path: string): Promise<number | undefined>;
  /** Writes a checkpoint atomically: all of it or nothing. */
  commit(batch: StateCommit): Promise<void>;
  close(): Promise<void>;
}

/** Whether `ref` is the same object as the stored one (same size and modification time). */
export function sameObject(stored: ScannedObject | undefined, ref: { size: number; mtimeMs: number }): boolean {
  return stored !== undefined && stored.size === ref.size && stored.mtimeMs === ref.mtimeMs;
}
