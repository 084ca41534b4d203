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
import type { EngineEvent } from "../engine/event.js";
import type { FleetState, SessionState } from "../engine/state.js";

/** A log object that was scanned, so a later scan of the same tree can skip it. */
export interface ScannedObject {
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  /**
   * An S3 object's ETag (without quotes). When the object has one it identifies the object with the
   * size (S3's LastModified says when it was written, not what it holds); files have none.
   */
  readonly etag?: string;
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

/** What a checkpoint of a shared store starts from (see {@link SharedCheckpoints.begin}). */
export interface CheckpointStart {
  /** The fleet knowledge as committed by every worker so far (locked for this checkpoint). */
  readonly fleet: FleetState;
}

/** The events a checkpoint of a shared store must process (see {@link SharedCheckpoints.exchange}). */
export interface CheckpointEvents {
  /** Events of every worker that all running workers have read past, not processed before (any order). */
  readonly events: EngineEvent[];
  /** No worker is running any more and every staged event is in `events`: the input has ended. */
  readonly ended: boolean;
}

/**
 * A store several workers write at once (PostgreSQL, DynamoDB). A checkpoint is `begin` → `exchange` and loads
 * on the same transaction → `commit` (or `rollback`). `begin` takes the state's checkpoint lock, so
 * the checkpoints of all workers are serialised; each processes the events that every worker has
 * read past, in event order, on what the others committed before it.
 */
export interface SharedCheckpoints {
  /** This worker's name: its stream position and output files are its own. */
  readonly worker: string;
  begin(): Promise<CheckpointStart>;
  /**
   * Stages the events this worker read since its last checkpoint (an event id already staged is
   * dropped: a re-delivered object or a duplicate record counts once), records how far this worker
   * has read (`readPosition`, ms; +∞ when its input has ended), and takes the staged events of all
   * workers older than the oldest running worker's read position minus `latenessMs`.
   */
  exchange(events: readonly EngineEvent[], readPosition: number, latenessMs: number): Promise<CheckpointEvents>;
  rollback(): Promise<void>;
}

/** What `firstcall state inspect` shows. */
export interface StateInfo {
  readonly kind: "sqlite" | "postgres" | "dynamodb";
  readonly location: string;
  /** 0: not initialised. */
  readonly schemaVersion: number;
  /** The version this firstcall reads and writes. */
  readonly expectedSchemaVersion: number;
  readonly bytes?: number;
  readonly sessions?: number;
  readonly findings?: number;
  readonly objects?: number;
  /** Event times of the oldest and newest stored finding. */
  readonly findingTimes?: { readonly oldest: string; readonly newest: string };
  /** When the first and last stored object was scanned. */
  readonly scanTimes?: { readonly oldest: string; readonly newest: string };
  /** Shared stores: each worker's processed position. */
  readonly workers?: readonly {
    readonly worker: string;
    readonly watermark: string | null;
    readonly finished: boolean;
    readonly updatedAt: string;
  }[];
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
  /** The stored records of many objects at once (stores where a look-up is a round trip). */
  scannedObjects?(ids: readonly string[]): Promise<Map<string, ScannedObject>>;
  sessionCount(): Promise<number>;
  /** The fingerprint of the settings the scanned objects were judged with, if one was committed. */
  settingsFingerprint(): Promise<string | undefined>;
  /** Committed length of an output file, if this state delivered findings to it. */
  outputBytes(path: string): Promise<number | undefined>;
  /** Set when other processes write the same state at the same time (PostgreSQL, DynamoDB). */
  readonly shared?: SharedCheckpoints;
  /** Writes a checkpoint atomically: all of it or nothing. */
  commit(batch: StateCommit): Promise<void>;
  close(): Promise<void>;
}

/**
 * Whether `ref` is the same object as the stored one: same ETag and size for an S3 object, same size
 * and modification time for a file.
 *
 * @example sameObject(await store.scannedObject(ref.id), ref) // true: skip it
 */
export function sameObject(
  stored: ScannedObject | undefined,
  ref: { readonly size: number; readonly mtimeMs: number; readonly etag?: string },
): boolean {
  if (stored === undefined || stored.size !== ref.size) return false;
  if (ref.etag !== undefined || stored.etag !== undefined) return stored.etag === ref.etag;
  return stored.mtimeMs === ref.mtimeMs;
}
