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
import { FirstcallError } from "../errors.js";
import type { OutboxStore, OutboxTask } from "../findings/delivery/outbox.js";

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
  /**
   * Deliveries owed for these findings: one outbox row per (finding id, destination), written in
   * this same transaction (src/findings/delivery/outbox.ts). An existing row is due again.
   */
  readonly outbox?: readonly OutboxTask[];
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
   * workers older than the oldest running worker's read position minus `holdMs` (default
   * `latenessMs`; 0 for live runs, whose checkpoints process all that every running worker has read,
   * as a single live process releases its whole buffer). Processed ids are kept `latenessMs`.
   */
  exchange(
    events: readonly EngineEvent[],
    readPosition: number,
    latenessMs: number,
    holdMs?: number,
  ): Promise<CheckpointEvents>;
  rollback(): Promise<void>;
}

/**
 * The release rule of a shared store's exchange (docs/ARCHITECTURE.md §1 "Shared state"): how far
 * staged events may be processed, given the workers still running. With none running the input has
 * ended (+∞); while one of them has read nothing yet it holds everything back (−∞); otherwise the
 * oldest running read position minus `holdMs` (the lateness, or less for live checkpoints).
 *
 * @param running workers not finished; `withoutPosition` of them have read nothing yet
 * @param oldest the oldest read position among the running workers that have one
 * @example exchangeCut(2, 0, Date.parse("2026-11-01T00:10:00Z"), 900_000) // 15 minutes before the slower one
 */
export function exchangeCut(
  running: number,
  withoutPosition: number,
  oldest: number | undefined,
  holdMs: number,
): number {
  if (running === 0) return Number.POSITIVE_INFINITY;
  if (withoutPosition > 0 || oldest === undefined) return Number.NEGATIVE_INFINITY;
  return oldest - holdMs;
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
  /** Findings that are not open, per status (a store that keeps statuses). */
  readonly statuses?: { readonly acknowledged: number; readonly suppressed: number };
  /** Outbox rows per state (a store with an outbox): `pending` is what is still owed. */
  readonly outbox?: {
    readonly pending: number;
    readonly delivered: number;
    readonly skipped: number;
    readonly rejected: number;
  };
  /** Shared stores: each worker's processed position. */
  readonly workers?: readonly {
    readonly worker: string;
    readonly watermark: string | null;
    readonly finished: boolean;
    readonly updatedAt: string;
  }[];
}

/** What a person decided about a finding (`firstcall serve`, `firstcall findings ack`). */
export type FindingStatusValue = "open" | "acknowledged" | "suppressed";

/**
 * The status of a finding as a person set it: acknowledged (seen, being handled) or suppressed (not a
 * threat; sinks do not alert it again). A finding without one is open. Stores keep the latest per
 * finding and, where they can, every change (who, when, why) as an audit trail.
 */
export interface FindingStatus {
  /** The finding's id. */
  readonly id: string;
  readonly status: FindingStatusValue;
  /** Why: required for `acknowledged` and `suppressed` (free text, at most {@link MAX_STATUS_REASON} characters). */
  readonly reason: string;
  /** Who: the API token's name, `cli`, or what the user gave (at most {@link MAX_STATUS_ACTOR} characters). */
  readonly actor: string;
  /** ISO-8601 time it was set. */
  readonly at: string;
}

/** Longest reason kept: a paragraph, not a document (it is shown in tables and sent nowhere). */
export const MAX_STATUS_REASON = 1000;
/** Longest actor name kept. */
export const MAX_STATUS_ACTOR = 200;
export const FINDING_STATUS_VALUES: readonly FindingStatusValue[] = ["open", "acknowledged", "suppressed"];

/** Why a finding status was refused: `E_STATUS` (a bad value; the message says which). */
export class FindingStatusError extends FirstcallError<"E_STATUS"> {
  constructor(message: string) {
    super("E_STATUS", message);
  }
}

/**
 * Checks a status before a store keeps it, so every store refuses the same things: an unknown
 * status, an empty id, a missing reason for `acknowledged`/`suppressed`, an over-long reason or actor,
 * a time that is not ISO-8601. Control characters other than line breaks and tabs are refused in the
 * reason (it is shown in terminals), as are all of them in the actor.
 * @throws FindingStatusError
 * @example validateFindingStatus({ id, status: "suppressed", reason: "pentest", actor: "cli", at: new Date().toISOString() })
 */
export function validateFindingStatus(s: FindingStatus): void {
  if (!FINDING_STATUS_VALUES.includes(s.status))
    throw new FindingStatusError(`status must be one of ${FINDING_STATUS_VALUES.join(", ")}`);
  if (typeof s.id !== "string" || s.id.length === 0 || s.id.length > 200)
    throw new FindingStatusError("a finding id is required (at most 200 characters)");
  if (typeof s.reason !== "string" || s.reason.length > MAX_STATUS_REASON)
    throw new FindingStatusError(`the reason is at most ${MAX_STATUS_REASON} characters`);
  if (s.status !== "open" && s.reason.trim() === "")
    throw new FindingStatusError(`a reason is required to mark a finding ${s.status}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s.reason))
    throw new FindingStatusError("the reason holds control characters");
  if (typeof s.actor !== "string" || s.actor.trim() === "" || s.actor.length > MAX_STATUS_ACTOR)
    throw new FindingStatusError(`an actor is required (at most ${MAX_STATUS_ACTOR} characters)`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
  if (/[\u0000-\u001f\u007f]/.test(s.actor)) throw new FindingStatusError("the actor holds control characters");
  if (typeof s.at !== "string" || !/^\d{4}-\d\d-\d\dT/.test(s.at) || Number.isNaN(Date.parse(s.at)))
    throw new FindingStatusError("the time must be ISO-8601");
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
  /** The delivery outbox; a store without one cannot deliver to `--to` destinations. */
  readonly outbox?: OutboxStore;
  /** Writes a checkpoint atomically: all of it or nothing. */
  commit(batch: StateCommit): Promise<void>;
  /**
   * The statuses set on findings: of the given ids (those that have one), or with no ids every finding
   * that is not open. Optional: a store without statuses treats every finding as open.
   */
  findingStatuses?(ids?: readonly string[]): Promise<Map<string, FindingStatus>>;
  /**
   * Sets a finding's status (`open` clears it), after {@link validateFindingStatus}; also appends it to
   * the finding's history. Never touches the findings themselves, so it may run beside a scan's checkpoints.
   * @throws FindingStatusError for a bad value; StateError when the store cannot write.
   * @example await store.setFindingStatus?.({ id, status: "suppressed", reason: "red team SEC-123", actor: "cli", at: new Date().toISOString() })
   */
  setFindingStatus?(status: FindingStatus): Promise<void>;
  /** Every status change of one finding, oldest first (the audit trail). */
  findingStatusHistory?(id: string): Promise<FindingStatus[]>;
  /** Every record of the state, from one consistent snapshot (`firstcall state export`; state-dump.ts). */
  exportRecords?(): AsyncIterable<StateRecord>;
  /** Writes a dump's records in one transaction (`firstcall state import`; state-dump.ts). */
  importRecords?(records: AsyncIterable<StateRecord>, options: ImportOptions): Promise<ImportResult>;
  /** Drops what is older than a cut, in one transaction (`firstcall state prune`). */
  prune?(cut: PruneCut): Promise<PruneResult>;
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

/**
 * One record of a state, independent of the store that holds it: what `firstcall state export` writes
 * (one JSON line each, see state-dump.ts) and `state import` reads. Documents (`doc`) are the JSON the
 * stores deflate (`encodeSession`, `encodeFleet`, `encodeDocument`), so a dump does not depend on the
 * deflate dictionary; a stream position is its binary encoding (stream-position.ts, `FCP1`) in base64.
 * A single-process store (SQLite) has one stream, named `default`; a shared store has one per worker.
 */
export type StateRecord =
  | { readonly type: "fleet"; readonly doc: unknown }
  | { readonly type: "settings"; readonly fingerprint: string }
  | {
      readonly type: "stream";
      readonly worker: string;
      /** `encodeStreamPosition` bytes, base64; null before the worker's first checkpoint. */
      readonly position: string | null;
      /** How far the worker has read (ms), as its last checkpoint said; null: unknown or finished. */
      readonly readPosition: number | null;
      readonly finished: boolean;
    }
  | { readonly type: "output"; readonly worker: string; readonly path: string; readonly bytes: number }
  | { readonly type: "session"; readonly key: string; readonly validUntil: number; readonly doc: unknown }
  | {
      readonly type: "finding";
      readonly id: string;
      readonly time: string;
      /** ISO time of the commit that last wrote it (milliseconds). */
      readonly updatedAt: string;
      /** The worker that committed it (shared stores), else null. */
      readonly worker: string | null;
      readonly doc: unknown;
    }
  | {
      readonly type: "object";
      readonly id: string;
      readonly size: number;
      readonly mtimeMs: number;
      readonly etag: string | null;
      readonly records: number;
      readonly status: "complete" | "partial";
      readonly scannedAt: string;
      readonly worker: string | null;
    }
  | {
      /** The latest status of a finding that is not open (`finding_statuses`). */
      readonly type: "status";
      readonly id: string;
      readonly status: FindingStatusValue;
      readonly reason: string;
      readonly actor: string;
      readonly at: string;
    }
  | {
      /** One change of a finding's status (the audit trail), in the dump in the order the changes were made. */
      readonly type: "history";
      readonly id: string;
      readonly status: FindingStatusValue;
      readonly reason: string;
      readonly actor: string;
      readonly at: string;
    }
  | {
      /**
       * A delivery of a finding to a destination (the outbox, src/findings/delivery/outbox.ts), in the
       * dump oldest first. A claim (a live worker sending it) is not carried: it belongs to a process.
       */
      readonly type: "outbox";
      readonly findingId: string;
      /** The destination key (kind and hash; never a URL). */
      readonly destination: string;
      readonly generation: number;
      readonly state: "pending" | "delivered" | "skipped" | "rejected";
      readonly attempts: number;
      readonly message: string | null;
      /** ISO times the row was made and last changed (milliseconds). */
      readonly createdAt: string;
      readonly updatedAt: string;
    }
  | {
      /** An event a shared store staged (read by a worker); `processed` ones are kept one lateness for de-duplication. */
      readonly type: "event";
      readonly id: string;
      readonly time: number;
      readonly processed: boolean;
      readonly event: unknown;
    };

export type StateRecordType = StateRecord["type"];

/** Records per type. */
export type RecordCounts = Record<StateRecordType, number>;

export interface ImportOptions {
  /** The target holds data: replace it (in the same transaction) instead of refusing. */
  readonly replace: boolean;
}

export interface ImportResult {
  /** Records the store received, per type. */
  readonly read: RecordCounts;
  /** Rows it holds afterwards, per type, counted in the import's transaction before it commits. */
  readonly stored: RecordCounts;
  /** Rows the target held before (and `replace` removed), per type. */
  readonly replaced: RecordCounts;
  /** What the store could not hold as such and how it kept it (e.g. several workers' positions merged into one). */
  readonly notes: readonly string[];
}

export interface PruneCut {
  /** Drop findings whose time, sessions whose validity, objects whose modification time, and processed staged events before this (ms). */
  readonly before: number;
  /** Count only; change nothing. */
  readonly dryRun: boolean;
}

export interface PruneResult {
  readonly findings: number;
  readonly sessions: number;
  readonly objects: number;
  /** Processed staged events (shared stores). */
  readonly events: number;
  /** Latest statuses and status changes (audit trail) of the pruned findings: they go with their finding. */
  readonly statuses: number;
  readonly statusHistory: number;
  /** Outbox rows dropped: those of pruned findings, and delivered/skipped/rejected ones last changed before the cut. */
  readonly outbox: number;
  /**
   * Findings older than the cut that were kept because a delivery of theirs is still owed (a pending
   * outbox row): pruning them would silently drop that delivery.
   */
  readonly keptPending: number;
}

/** Zero of every record type, in the dump's order. */
export function emptyCounts(): RecordCounts {
  return {
    fleet: 0,
    settings: 0,
    stream: 0,
    output: 0,
    session: 0,
    finding: 0,
    status: 0,
    history: 0,
    outbox: 0,
    object: 0,
    event: 0,
  };
}
