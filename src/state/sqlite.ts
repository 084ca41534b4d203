/**
 * The default store: one SQLite file (better-sqlite3), one transaction per checkpoint.
 *
 * - Private: the file and a folder created for it are owner-only (0600 / 0700): they hold ARNs, key
 *   ids and addresses.
 * - Marked: `PRAGMA application_id` says the file is firstcall's; another application's database is
 *   refused rather than written into, and a state of another schema version is refused with what to do.
 * - One writer, many readers: a writer holds an exclusive lock on a companion file (`<state>.lock`,
 *   itself a tiny SQLite file locked with `locking_mode = EXCLUSIVE`) for its whole life, so a second
 *   scan on the same state waits (`lockTimeoutMs`) or is refused; the lock is the operating system's
 *   and dies with the process, so a killed scan never leaves it behind. The state itself is in WAL
 *   mode with normal locking, so read-only connections (`readOnly`: `firstcall serve`) read the last
 *   committed checkpoint while a scan writes. (An exclusive lock on the state file itself, as before,
 *   would keep every reader out: in WAL mode it keeps the WAL index in the writer's private memory.)
 * - Compact: sessions are deflated binary documents (`encodeSessionCompact`) in a table without row
 *   ids keyed by the session key (no second copy of the key in an index), on 16 KB pages (a
 *   document of up to ~4 KB stays on its page instead of spilling to a mostly empty overflow page,
 *   and rows of ~1 KB waste less of a page); fleet knowledge and findings are deflated documents;
 *   only the indexes the store queries by; freed pages are returned (`auto_vacuum`).
 */
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { StoredFinding } from "../engine/engine.js";
import { BINARY_SESSION_MARK, deflateSessionBinary } from "../engine/session-binary.js";
import {
  decodeDocument,
  decodeFleet,
  decodeSession,
  emptyFleet,
  encodeDocument,
  encodeFleet,
  encodeSessionCompact,
  type FleetState,
  type SessionState,
} from "../engine/state.js";
import { StateError } from "../errors.js";
import {
  type DeliveryState,
  type OutboxRow,
  type OutboxSettlement,
  type OutboxStore,
  outboxRowOf,
} from "../findings/delivery/outbox.js";
import { exportSqlite, importSqlite, outboxCounts, pruneSqlite, statusCounts } from "./sqlite-transfer.js";
import {
  type FindingStatus,
  type ImportOptions,
  type ImportResult,
  type PruneCut,
  type PruneResult,
  type ScannedObject,
  type StateCommit,
  type StateInfo,
  type StateRecord,
  type StateStore,
  validateFindingStatus,
} from "./store.js";
import { streamPositionFromSchema2 } from "./stream-position.js";

/** "fcst" — firstcall state. */
export const APPLICATION_ID = 0x66637374;
/**
 * 6: sessions in a table without row ids, their documents deflated binary; 5: the outbox; 4: finding
 * statuses; 3: the stream position is binary (`stream-position.ts`). Session documents were written
 * binary (`session-binary.ts`) from schema 5 (read in every form: `decodeSession` tells them apart by
 * their first byte). Each older version is migrated when a writer opens the file; a reader reads a
 * schema 4 or 5 file as it is.
 */
export const SCHEMA_VERSION = 6;

/**
 * Page size of a new state file (SQLite's default is 4 KB): see the module comment. A file created
 * with smaller pages is rebuilt with these when it is migrated to schema 6 (`migrateFromSchema5`).
 */
const PAGE_SIZE = 16384;

/**
 * Schema 6: sessions keyed by their key without row ids (a row-id table needs a second B-tree, its
 * key's autoindex, that repeats every key).
 */
const SESSIONS_TABLE = (name: string) =>
  `CREATE TABLE ${name} (key TEXT PRIMARY KEY, valid_until INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID`;

/**
 * Schema 4: what people decided about findings (`FindingStatus`). Tables of their own, so a status
 * written beside a running scan (serve's connection, see {@link SqliteOpenOptions.statusWrites}) and
 * the scan's checkpoints never write the same rows: a checkpoint rewrites findings, never these.
 * `finding_statuses` holds the latest status of each finding that is not open; the history keeps
 * every change (the audit trail: who, when, why), `seq` in the order they were made.
 */
const STATUS_SCHEMA = `
CREATE TABLE finding_statuses (id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
  at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE finding_status_history (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX finding_status_history_id ON finding_status_history (id, seq);
`;

/**
 * Schema 5: the delivery outbox (src/findings/delivery/outbox.ts): one row per (finding id,
 * destination key) owed, delivered, skipped or rejected. `generation` goes up each time the row is
 * due again (a retraction, a raised severity), so a mark made for what was sent never covers a newer
 * version. `seq` orders the rows (oldest first); the partial index finds the due ones.
 */
const OUTBOX_SCHEMA = `
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, finding_id TEXT NOT NULL, destination TEXT NOT NULL,
  generation INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, message TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (finding_id, destination));
CREATE INDEX outbox_due ON outbox (destination, seq) WHERE state = 'pending';
`;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
${SESSIONS_TABLE("sessions")};
CREATE TABLE findings (id TEXT PRIMARY KEY, time TEXT NOT NULL, data BLOB NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE objects (id TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, records INTEGER NOT NULL,
  status TEXT NOT NULL, scanned_at TEXT NOT NULL, etag TEXT) WITHOUT ROWID;
${STATUS_SCHEMA}${OUTBOX_SCHEMA}`;

/**
 * Lets a reader fetch the findings a checkpoint changed without reading the whole table. Created by
 * every writer (IF NOT EXISTS), so states written before it existed get it too; no schema change:
 * an index is invisible to the queries of older versions.
 */
const FINDINGS_UPDATED_INDEX = "CREATE INDEX IF NOT EXISTS findings_updated_at ON findings (updated_at)";

/** Where a reader stands in the findings table: the last commit time it has seen (`updated_at`). */
export interface FindingsMark {
  readonly updatedAt: string;
}

/** A stored finding with the commit time that last wrote it. */
export interface FindingRow {
  readonly stored: StoredFinding;
  readonly updatedAt: string;
}

export interface SqliteOpenOptions {
  /** How long to wait for another process's lock on the file; 0 refuses at once. */
  readonly lockTimeoutMs?: number;
  /** Called once when the file is locked by someone else and we are about to wait. */
  readonly onWait?: (message: string) => void;
  /**
   * Open an existing state to read only: no lock is taken (a scan may write meanwhile; each query
   * sees the last committed checkpoint) and `commit` is refused.
   */
  readonly readOnly?: boolean;
  /**
   * With `readOnly`: the connection may also write finding statuses (`setFindingStatus`), still
   * without the writer's lock, so `firstcall serve` can record an acknowledgement while a scan runs.
   * It is an ordinary (not `readonly`) connection: in WAL mode SQLite lets it write one small
   * transaction between the scan's checkpoints (each waits up to 5 s for the other), and the statuses
   * live in their own tables, which a checkpoint never writes. It never changes the schema: a state of
   * schema 3 has no statuses until a writer (a scan, `state init`) migrates it.
   */
  readonly statusWrites?: boolean;
}

/** One row of the status tables. */
interface StatusRow {
  id: string;
  status: FindingStatus["status"];
  reason: string;
  actor: string;
  at: string;
}

/** A status change with its place in the history, for readers that follow the changes. */
export interface FindingStatusChange extends FindingStatus {
  readonly seq: number;
}

export class SqliteStore implements StateStore {
  private readonly db: Database.Database;
  /** The writer's lock (see the module comment); none for a read-only store. */
  private readonly lockHolder: Database.Database | undefined;
  readonly readOnly: boolean;
  /** A read-only store that may write finding statuses ({@link SqliteOpenOptions.statusWrites}). */
  readonly statusWrites: boolean;

  /**
   * Opens (creating if needed) a state file and takes its lock.
   * @throws StateError naming the file when it cannot be created or opened, is locked, is not a
   *   firstcall state file, or has another schema version.
   * @example const store = SqliteStore.open("~/.local/state/firstcall/state.sqlite", { lockTimeoutMs: 0 })
   */
  static open(path: string, options: SqliteOpenOptions = {}): SqliteStore {
    return new SqliteStore(path, options);
  }

  private constructor(
    readonly location: string,
    options: SqliteOpenOptions,
  ) {
    const memory = location === ":memory:";
    this.readOnly = options.readOnly === true && !memory;
    this.statusWrites = this.readOnly && options.statusWrites === true;
    if (this.readOnly) {
      this.lockHolder = undefined;
      this.db = openReadOnly(location, this.statusWrites);
      try {
        this.checkSchema();
      } catch (e) {
        this.db.close();
        throw asStateError(e, location);
      }
      return;
    }
    if (!memory) createPrivately(location);
    this.lockHolder = memory ? undefined : lock(location, options);
    let db: Database.Database;
    try {
      db = new Database(location);
    } catch (e) {
      this.lockHolder?.close();
      throw new StateError("E_STATE", `${location}: cannot open the state file: ${(e as Error).message}`, { cause: e });
    }
    this.db = db;
    try {
      if (!memory) useWal(db);
      this.prepareSchema();
      db.exec(FINDINGS_UPDATED_INDEX);
    } catch (e) {
      db.close();
      this.lockHolder?.close();
      throw asStateError(e, location);
    }
  }

  /** Checks an existing file without changing it (read-only stores). */
  private checkSchema(): void {
    const appId = this.db.pragma("application_id", { simple: true }) as number;
    const tables = this.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
      n: number;
    };
    if (appId === 0 && tables.n === 0)
      throw new StateError(
        "E_STATE",
        `${this.location}: holds no state yet: run firstcall scan with this --state first`,
      );
    this.prepareSchema();
  }

  private prepareSchema(): void {
    const db = this.db;
    const appId = db.pragma("application_id", { simple: true }) as number;
    const version = db.pragma("user_version", { simple: true }) as number;
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (r) => r.name,
    );
    if (appId === 0 && tables.length === 0 && !this.readOnly) {
      db.transaction(() => {
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        db.exec(SCHEMA);
      })();
      return;
    }
    if (appId === 0 && tables.includes("meta") && tables.includes("sessions") && tables.includes("objects")) {
      throw new StateError(
        "E_STATE_VERSION",
        `${this.location}: written by firstcall 0.1 (state schema 1); this version keeps state as schema ${SCHEMA_VERSION} and cannot read it. Move the file aside (or delete it) and scan again: findings are recomputed from the logs.`,
      );
    }
    if (appId !== APPLICATION_ID) {
      throw new StateError(
        "E_STATE_FOREIGN",
        `${this.location}: not a firstcall state file (another application's SQLite database); refusing to write into it. Choose another --state path.`,
      );
    }
    if (this.readOnly && version === 3) {
      // Older than statuses: readable as it is (no statuses) until a writer migrates it.
      addEtagColumn(db);
      return;
    }
    // Older than the outbox (4) or than the sessions without row ids (5): read as they are.
    if (this.readOnly && (version === 4 || version === 5)) return;
    if (this.readOnly && version === 2) {
      throw new StateError(
        "E_STATE_VERSION",
        `${this.location}: state schema 2, which a reader cannot upgrade; run firstcall state init --state ${this.location} (or a scan) first.`,
      );
    }
    if (version === 2) {
      this.migrateFromSchema2();
      this.migrateFromSchema3();
      this.migrateFromSchema4();
      this.migrateFromSchema5();
      return;
    }
    if (version === 3) {
      addEtagColumn(db);
      this.migrateFromSchema3();
      this.migrateFromSchema4();
      this.migrateFromSchema5();
      return;
    }
    if (version === 4) {
      addEtagColumn(db);
      this.migrateFromSchema4();
      this.migrateFromSchema5();
      return;
    }
    if (version === 5) {
      addEtagColumn(db);
      this.migrateFromSchema5();
      return;
    }
    if (version !== SCHEMA_VERSION) {
      throw new StateError(
        "E_STATE_VERSION",
        `${this.location}: state schema ${version}, this firstcall reads schema ${SCHEMA_VERSION}${version > SCHEMA_VERSION ? " (written by a newer firstcall: upgrade)" : ""}.`,
      );
    }
    addEtagColumn(db);
  }

  /**
   * Schema 2 → 3 (then 3 → 4 follows), in one transaction: the stream position kept eventIDs as strings in a deflated JSON
   * document; schema 3 keeps 12-byte keys in a binary one (stream-position.ts). Nothing else changed.
   */
  private migrateFromSchema2(): void {
    const db = this.db;
    db.transaction(() => {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'pending'").get() as { value: Buffer } | undefined;
      if (row) {
        let converted: Buffer;
        try {
          converted = streamPositionFromSchema2(row.value);
        } catch (e) {
          throw new StateError(
            "E_STATE_SCHEMA",
            `${this.location}: a state of schema 2 whose stream position cannot be read (${(e as Error).message}); move the file aside and scan again.`,
            { cause: e },
          );
        }
        db.prepare("UPDATE meta SET value = ? WHERE key = 'pending'").run(converted);
      }
      db.pragma("user_version = 3");
    })();
  }

  /** Schema 3 → 4, in one transaction: the finding status tables. Nothing else changed. */
  private migrateFromSchema3(): void {
    const db = this.db;
    db.transaction(() => {
      db.exec(STATUS_SCHEMA);
      db.pragma("user_version = 4");
    })();
  }

  /** Schema 4 → 5, in one transaction: the delivery outbox. Nothing else changed. */
  private migrateFromSchema4(): void {
    const db = this.db;
    db.transaction(() => {
      db.exec(OUTBOX_SCHEMA);
      db.pragma("user_version = 5");
    })();
  }

  /**
   * Schema 5 → 6, in one transaction: the sessions move to a table without row ids, each binary
   * document deflated as it is (`deflateSessionBinary` of its bytes: nothing is decoded and
   * re-encoded, so nothing can change); a document in the JSON form (a session the binary layout does
   * not model) is copied as it is. Then, outside the transaction, a file of smaller pages is rebuilt
   * with {@link PAGE_SIZE} ({@link rebuildWithPageSize}).
   */
  private migrateFromSchema5(): void {
    const db = this.db;
    db.function("firstcall_compact_session", { deterministic: true }, (data: unknown, key: unknown) =>
      data instanceof Uint8Array && data[0] === BINARY_SESSION_MARK ? deflateSessionBinary(data, String(key)) : data,
    );
    db.transaction(() => {
      db.exec(`${SESSIONS_TABLE("sessions_6")};
        INSERT INTO sessions_6 (key, valid_until, data)
          SELECT key, valid_until, firstcall_compact_session(data, key) FROM sessions;
        DROP TABLE sessions;
        ALTER TABLE sessions_6 RENAME TO sessions;`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    this.rebuildWithPageSize();
  }

  /**
   * Rebuilds the file with {@link PAGE_SIZE} pages when it has smaller ones (a file created before
   * schema 6). SQLite changes the page size of a WAL file only through VACUUM out of WAL mode, which
   * needs the file to itself: when a reader holds it (or anything else fails) the file keeps its
   * pages, still correct, only less compact.
   */
  private rebuildWithPageSize(): void {
    const db = this.db;
    if (this.location === ":memory:" || (db.pragma("page_size", { simple: true }) as number) >= PAGE_SIZE) return;
    try {
      db.pragma("journal_mode = DELETE");
      db.pragma(`page_size = ${PAGE_SIZE}`);
      db.exec("VACUUM");
    } catch {
      // Kept as it is: see above.
    } finally {
      db.pragma("journal_mode = WAL");
    }
  }

  /** Whether this file has the status tables (schema 4; a reader may be open on a schema 3 file). */
  private hasStatuses(): boolean {
    return (
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'finding_statuses'").get() !==
      undefined
    );
  }

  async findingStatuses(ids?: readonly string[]): Promise<Map<string, FindingStatus>> {
    const out = new Map<string, FindingStatus>();
    if (!this.hasStatuses()) return out;
    const put = (r: StatusRow) =>
      out.set(r.id, { id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at });
    if (ids === undefined) {
      for (const r of this.db
        .prepare("SELECT id, status, reason, actor, at FROM finding_statuses")
        .all() as StatusRow[])
        put(r);
      return out;
    }
    const stmt = this.db.prepare(
      "SELECT id, status, reason, actor, at FROM finding_statuses WHERE id IN (SELECT value FROM json_each(?))",
    );
    for (let i = 0; i < ids.length; i += 5000) {
      for (const r of stmt.all(JSON.stringify(ids.slice(i, i + 5000))) as StatusRow[]) put(r);
    }
    return out;
  }

  async setFindingStatus(status: FindingStatus): Promise<void> {
    validateFindingStatus(status);
    if (this.readOnly && !this.statusWrites)
      throw new StateError("E_STATE", `${this.location}: opened read-only; cannot set a finding's status`);
    if (!this.hasStatuses())
      throw new StateError(
        "E_STATE_VERSION",
        `${this.location}: state schema 3 keeps no finding statuses; upgrade it with firstcall state init --state ${this.location} when no scan is running, or let the next scan do it`,
      );
    const db = this.db;
    const row = [status.id, status.status, status.reason, status.actor, status.at];
    try {
      // IMMEDIATE: take the write lock before reading anything, so a scan committing meanwhile makes
      // this wait (busy_timeout) rather than fail on a stale snapshot.
      db.transaction(() => {
        db.prepare("INSERT INTO finding_status_history (id, status, reason, actor, at) VALUES (?, ?, ?, ?, ?)").run(
          ...row,
        );
        if (status.status === "open") db.prepare("DELETE FROM finding_statuses WHERE id = ?").run(status.id);
        else
          db.prepare(
            "INSERT INTO finding_statuses (id, status, reason, actor, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, reason = excluded.reason, actor = excluded.actor, at = excluded.at",
          ).run(...row);
      }).immediate();
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
        throw new StateError(
          "E_STATE_LOCKED",
          `${this.location}: the state stayed busy (a scan's checkpoint) for 5 s; the status was not set, try again`,
          { cause: e },
        );
      if (code.startsWith("SQLITE_READONLY"))
        throw new StateError(
          "E_STATE",
          `${this.location}: cannot write the finding status (the file or its folder is not writable by this user)`,
          { cause: e },
        );
      throw new StateError("E_STATE", `${this.location}: cannot set the finding status: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async findingStatusHistory(id: string): Promise<FindingStatus[]> {
    if (!this.hasStatuses()) return [];
    const rows = this.db
      .prepare("SELECT id, status, reason, actor, at FROM finding_status_history WHERE id = ? ORDER BY seq")
      .all(id) as StatusRow[];
    return rows.map((r) => ({ id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at }));
  }

  /**
   * Status changes made after history position `seq` (0: all), oldest first: lets a reader (serve's
   * event stream) pass on changes another process made. Empty on a schema 3 file.
   * @example const changes = store.statusChangesSince(lastSeq)
   */
  statusChangesSince(seq: number): FindingStatusChange[] {
    if (!this.hasStatuses()) return [];
    const rows = this.db
      .prepare("SELECT seq, id, status, reason, actor, at FROM finding_status_history WHERE seq > ? ORDER BY seq")
      .all(seq) as (StatusRow & { seq: number })[];
    return rows.map((r) => ({ seq: r.seq, id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at }));
  }

  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    const stmt = this.db.prepare("SELECT key, data FROM sessions WHERE key IN (SELECT value FROM json_each(?))");
    for (let i = 0; i < keys.length; i += 5000) {
      const rows = stmt.all(JSON.stringify(keys.slice(i, i + 5000))) as { key: string; data: Buffer }[];
      for (const r of rows) out.set(r.key, decodeSession(r.data, r.key));
    }
    return out;
  }

  /**
   * Every stored session, one at a time (for readers of the learned state such as `policy generate`;
   * the scan itself never walks them all).
   */
  *allSessions(): Generator<SessionState> {
    for (const r of this.db.prepare("SELECT key, data FROM sessions ORDER BY key").iterate() as Iterable<{
      key: string;
      data: Buffer;
    }>) {
      yield decodeSession(r.data, r.key);
    }
  }

  async loadFleet(): Promise<FleetState> {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'fleet'").get() as { value: Buffer } | undefined;
    return row ? decodeFleet(row.value) : emptyFleet();
  }

  async loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>> {
    const out = new Map<string, StoredFinding>();
    const stmt = this.db.prepare("SELECT id, data FROM findings WHERE id IN (SELECT value FROM json_each(?))");
    for (let i = 0; i < ids.length; i += 5000) {
      for (const r of stmt.all(JSON.stringify(ids.slice(i, i + 5000))) as { id: string; data: Buffer }[]) {
        out.set(r.id, decodeDocument<StoredFinding>(r.data));
      }
    }
    return out;
  }

  async loadPending(): Promise<Uint8Array | undefined> {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'pending'").get() as { value: Buffer } | undefined;
    return row?.value;
  }

  async allFindings(): Promise<StoredFinding[]> {
    const rows = this.db.prepare("SELECT data FROM findings ORDER BY time, id").all() as { data: Buffer }[];
    return rows.map((r) => decodeDocument<StoredFinding>(r.data));
  }

  async scannedObject(id: string): Promise<ScannedObject | undefined> {
    const row = this.db.prepare("SELECT size, mtime_ms, records, status, etag FROM objects WHERE id = ?").get(id) as
      | { size: number; mtime_ms: number; records: number; status: "complete" | "partial"; etag: string | null }
      | undefined;
    return (
      row && {
        id,
        size: row.size,
        mtimeMs: row.mtime_ms,
        ...(row.etag !== null ? { etag: row.etag } : {}),
        records: row.records,
        status: row.status,
      }
    );
  }

  async sessionCount(): Promise<number> {
    return (this.db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
  }

  async settingsFingerprint(): Promise<string | undefined> {
    // A meta row, not a column: states written before it existed read as "unknown", no schema change.
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'settings'").get() as
      | { value: Buffer | string }
      | undefined;
    return row === undefined ? undefined : String(row.value);
  }

  async outputBytes(path: string): Promise<number | undefined> {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(`output:${path}`) as
      | { value: Buffer | number }
      | undefined;
    return row === undefined ? undefined : Number(row.value);
  }

  /**
   * A number that changes whenever another connection commits (SQLite's `data_version`): a reader
   * polls it to learn, without reading any table, that a scan has committed a checkpoint.
   * @example if (store.dataVersion() !== last) refresh()
   */
  dataVersion(): number {
    return this.db.pragma("data_version", { simple: true }) as number;
  }

  /**
   * Findings written by commits at or after `mark` (every finding without one), oldest commit first,
   * and the mark to pass next time. Rows of the mark's own commit come again: callers skip the
   * versions they already have (same id and `updatedAt`).
   * @example const { rows, mark } = store.findingsChangedSince(previousMark)
   */
  findingsChangedSince(mark: FindingsMark | undefined): { rows: FindingRow[]; mark: FindingsMark | undefined } {
    const rows = (
      mark === undefined
        ? this.db.prepare("SELECT data, updated_at FROM findings ORDER BY updated_at, time, id").all()
        : this.db
            .prepare("SELECT data, updated_at FROM findings WHERE updated_at >= ? ORDER BY updated_at, time, id")
            .all(mark.updatedAt)
    ) as { data: Buffer; updated_at: string }[];
    const out = rows.map((r) => ({ stored: decodeDocument<StoredFinding>(r.data), updatedAt: r.updated_at }));
    const last = out.at(-1);
    return { rows: out, mark: last ? { updatedAt: last.updatedAt } : mark };
  }

  /** Sessions whose credential lifetime ends at or after `time` (ms): the live ones at that event time. */
  async liveSessionCount(time: number): Promise<number> {
    return (
      this.db.prepare("SELECT count(*) AS n FROM sessions WHERE valid_until >= ?").get(Math.floor(time)) as {
        n: number;
      }
    ).n;
  }

  /** Scanned objects by status, and the time of the latest one. */
  async objectCounts(): Promise<{ complete: number; partial: number; lastScannedAt?: string }> {
    const rows = this.db
      .prepare("SELECT status, count(*) AS n, max(scanned_at) AS last FROM objects GROUP BY status")
      .all() as {
      status: string;
      n: number;
      last: string;
    }[];
    let last: string | undefined;
    for (const r of rows) if (last === undefined || r.last > last) last = r.last;
    return {
      complete: rows.find((r) => r.status === "complete")?.n ?? 0,
      partial: rows.find((r) => r.status === "partial")?.n ?? 0,
      ...(last !== undefined ? { lastScannedAt: last } : {}),
    };
  }

  async commit(batch: StateCommit): Promise<void> {
    if (this.readOnly)
      throw new StateError("E_STATE", `${this.location}: opened read-only; this command does not write the state`);
    const now = new Date().toISOString();
    const db = this.db;
    const putSession = db.prepare(
      "INSERT INTO sessions (key, valid_until, data) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET valid_until = excluded.valid_until, data = excluded.data",
    );
    const deleteSession = db.prepare("DELETE FROM sessions WHERE key = ?");
    const putFinding = db.prepare(
      "INSERT INTO findings (id, time, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET time = excluded.time, data = excluded.data, updated_at = excluded.updated_at",
    );
    const putObject = db.prepare(
      "INSERT INTO objects (id, size, mtime_ms, records, status, scanned_at, etag) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, records = excluded.records, status = excluded.status, scanned_at = excluded.scanned_at, etag = excluded.etag",
    );
    const putMeta = db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    db.transaction(() => {
      for (const s of batch.sessions) {
        const validUntil = Math.max(0, ...s.lifetimes.map((l) => l.validUntil));
        putSession.run(s.key, validUntil, encodeSessionCompact(s));
      }
      for (const k of batch.deletedSessions) deleteSession.run(k);
      if (batch.pruneSessionsBefore !== undefined && Number.isFinite(batch.pruneSessionsBefore)) {
        db.prepare("DELETE FROM sessions WHERE valid_until < ?").run(Math.floor(batch.pruneSessionsBefore));
      }
      for (const f of batch.findings) putFinding.run(f.finding.id, f.finding.time, encodeDocument(f), now);
      for (const o of batch.objects) putObject.run(o.id, o.size, o.mtimeMs, o.records, o.status, now, o.etag ?? null);
      putMeta.run("fleet", encodeFleet(batch.fleet));
      putMeta.run("pending", batch.pending);
      for (const o of batch.outputs ?? []) putMeta.run(`output:${o.path}`, o.bytes);
      if (batch.settingsFingerprint !== undefined) putMeta.run("settings", batch.settingsFingerprint);
      if (batch.outbox?.length) {
        const putRow = db.prepare(
          `INSERT INTO outbox (finding_id, destination, generation, state, attempts, message, created_at, updated_at)
           VALUES (?, ?, 1, 'pending', 0, NULL, ?, ?)
           ON CONFLICT(finding_id, destination) DO UPDATE SET generation = generation + 1, state = 'pending',
             attempts = 0, message = NULL, updated_at = excluded.updated_at`,
        );
        for (const t of batch.outbox) putRow.run(t.findingId, t.destination, now, now);
      }
    })();
  }

  /** The delivery outbox: the writer's only (a reader never delivers). */
  get outbox(): OutboxStore | undefined {
    return this.readOnly ? undefined : this;
  }

  /**
   * Due rows, oldest first, with the finding as stored and its suppression reason. One writer per
   * file, so nothing needs claiming: the process delivering is the one that holds the lock.
   */
  async claimDeliveries(destinations: readonly string[], limit: number): Promise<OutboxRow[]> {
    const rows = this.db
      .prepare(
        `SELECT o.finding_id, o.destination, o.generation, f.data, s.reason AS suppressed
         FROM outbox o LEFT JOIN findings f ON f.id = o.finding_id
         LEFT JOIN finding_statuses s ON s.id = o.finding_id AND s.status = 'suppressed'
         WHERE o.state = 'pending' AND o.destination IN (SELECT value FROM json_each(?))
         ORDER BY o.seq LIMIT ?`,
      )
      .all(JSON.stringify(destinations), limit) as {
      finding_id: string;
      destination: string;
      generation: number;
      data: Buffer | null;
      suppressed: string | null;
    }[];
    return rows.map(outboxRowOf);
  }

  async settleDeliveries(settlements: readonly OutboxSettlement[]): Promise<void> {
    const now = new Date().toISOString();
    const db = this.db;
    const settle = db.prepare(
      `UPDATE outbox SET attempts = attempts + ?,
         state = CASE WHEN generation = ? THEN ? ELSE state END,
         message = CASE WHEN generation = ? THEN ? ELSE message END, updated_at = ?
       WHERE finding_id = ? AND destination = ?`,
    );
    db.transaction(() => {
      for (const s of settlements)
        settle.run(s.attempts, s.generation, s.state, s.generation, s.message ?? null, now, s.findingId, s.destination);
    })();
  }

  async deliveryCounts(destinations: readonly string[]): Promise<Map<string, Record<DeliveryState, number>>> {
    const out = new Map<string, Record<DeliveryState, number>>();
    for (const d of destinations) out.set(d, { pending: 0, delivered: 0, skipped: 0, rejected: 0 });
    const rows = this.db
      .prepare(
        "SELECT destination, state, count(*) AS n FROM outbox WHERE destination IN (SELECT value FROM json_each(?)) GROUP BY destination, state",
      )
      .all(JSON.stringify(destinations)) as { destination: string; state: DeliveryState; n: number }[];
    for (const r of rows) {
      const counts = out.get(r.destination);
      if (counts) counts[r.state] = r.n;
    }
    return out;
  }

  /** Every record, from one read transaction (`state export`; sqlite-transfer.ts). */
  exportRecords(): AsyncIterable<StateRecord> {
    return exportSqlite(this.db);
  }

  /** Writes a dump's records in one transaction (`state import`; sqlite-transfer.ts). */
  async importRecords(records: AsyncIterable<StateRecord>, options: ImportOptions): Promise<ImportResult> {
    if (this.readOnly) throw new StateError("E_STATE", `${this.location}: opened read-only; cannot import into it`);
    return importSqlite(this.db, this.location, records, options);
  }

  /** Drops what is older than the cut, in one transaction (`state prune`; sqlite-transfer.ts). */
  async prune(cut: PruneCut): Promise<PruneResult> {
    if (this.readOnly && !cut.dryRun)
      throw new StateError("E_STATE", `${this.location}: opened read-only; cannot prune it`);
    return pruneSqlite(this.db, cut);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
    if (this.lockHolder?.open) this.lockHolder.close();
  }
}

/** Creates the folder (0700) and the file (0600) when missing, with a clear error when it cannot. */
function createPrivately(path: string): void {
  if (existsSync(path)) return;
  makeFolders(path, dirname(path));
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EEXIST" && existsSync(path)) return; // created by a concurrent run
    throw new StateError("E_STATE", `${path}: cannot create the state file: ${err.message}`, { cause: e });
  }
}

/**
 * `mkdir -p`, one level at a time. Node's own `mkdirSync(…, { recursive: true })` retries forever
 * when the file system answers ENOENT to a folder whose parent exists (`/proc/nope`): that spun at
 * full CPU instead of failing.
 */
function makeFolders(statePath: string, dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EEXIST" && existsSync(d)) continue; // created by a concurrent run
      throw new StateError(
        "E_STATE",
        `${statePath}: cannot create the state file: cannot create its folder ${d}: ${err.code ?? err.message}; choose another --state (or set FIRSTCALL_STATE)`,
        { cause: e },
      );
    }
  }
}

/** The companion file whose exclusive lock makes a process the state's one writer. */
export function lockPathOf(statePath: string): string {
  return `${statePath}.lock`;
}

/**
 * Takes the writer's lock for the store's life, waiting up to the timeout: an exclusive SQLite lock
 * on the companion file, kept by `locking_mode = EXCLUSIVE` until the connection closes (or the
 * process dies). The companion file is never deleted: removing a lock file others may be waiting on
 * would let two writers lock two different files.
 */
function lock(location: string, options: SqliteOpenOptions): Database.Database {
  const path = lockPathOf(location);
  createPrivately(path);
  let holder: Database.Database;
  try {
    holder = new Database(path);
    holder.pragma("locking_mode = EXCLUSIVE");
    holder.pragma("busy_timeout = 0");
  } catch (e) {
    throw new StateError("E_STATE", `${path}: cannot open the state's lock file: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const deadline = Date.now() + (options.lockTimeoutMs ?? 0);
  let told = false;
  for (;;) {
    try {
      holder.exec("BEGIN EXCLUSIVE; COMMIT;");
      return holder;
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      if (!code.startsWith("SQLITE_BUSY") && !code.startsWith("SQLITE_LOCKED")) {
        holder.close();
        throw e;
      }
      if (Date.now() >= deadline) {
        holder.close();
        throw new StateError(
          "E_STATE_LOCKED",
          `${location}: the state is in use by another firstcall process${options.lockTimeoutMs ? ` (waited ${Math.round(options.lockTimeoutMs / 1000)} s)` : ""}; wait for it to finish, run with --lock-timeout SECONDS to wait, or use another --state.`,
        );
      }
      if (!told) {
        options.onWait?.(`${location}: in use by another firstcall process; waiting for it…`);
        told = true;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

/**
 * The writer's settings on the state file, once it holds the lock. Readers may be connected, so a
 * short busy timeout covers their brief locks (WAL recovery, a checkpoint's reset).
 */
function useWal(db: Database.Database): void {
  db.pragma("busy_timeout = 5000");
  // Pages freed by a smaller stream position or expired sessions go back to the file system, and
  // the page size of schema 6 (both take effect only on a new, empty file, so before WAL writes its
  // header; a no-op otherwise).
  // The page size first: once auto_vacuum is set, SQLite keeps the default page size.
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma("auto_vacuum = FULL");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
}

/**
 * S3 objects are identified by their ETag (`objects.etag`). A state written before it existed gains
 * the column, empty for the files it holds: a nullable column added in place, so the schema version
 * stays and older firstcall versions still read the file (they ignore the column).
 */
function addEtagColumn(db: Database.Database): void {
  const columns = (db.prepare("PRAGMA table_info(objects)").all() as { name: string }[]).map((c) => c.name);
  if (!columns.includes("etag")) db.exec("ALTER TABLE objects ADD COLUMN etag TEXT");
}

/**
 * What `firstcall state inspect` shows of a SQLite state, read without taking the scan's lock (a
 * scan holding the file makes this fail with E_STATE_LOCKED).
 * @example const info = sqliteInfo("state.sqlite")
 */
export function sqliteInfo(path: string): StateInfo {
  if (!existsSync(path)) throw new StateError("E_STATE", `${path}: no state file`);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new StateError("E_STATE", `${path}: cannot open the state file: ${(e as Error).message}`, { cause: e });
  }
  try {
    const appId = db.pragma("application_id", { simple: true }) as number;
    const version = db.pragma("user_version", { simple: true }) as number;
    const base = { kind: "sqlite" as const, location: path, expectedSchemaVersion: SCHEMA_VERSION };
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    if (appId === 0 && tables.n === 0) return { ...base, schemaVersion: 0 };
    if (appId !== APPLICATION_ID) {
      throw new StateError("E_STATE_FOREIGN", `${path}: not a firstcall state file (another application's database)`);
    }
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const findingTimes = db.prepare("SELECT min(time) AS oldest, max(time) AS newest FROM findings").get() as {
      oldest: string | null;
      newest: string | null;
    };
    const scanTimes = db.prepare("SELECT min(scanned_at) AS oldest, max(scanned_at) AS newest FROM objects").get() as {
      oldest: string | null;
      newest: string | null;
    };
    let bytes = 0;
    for (const f of [path, `${path}-wal`]) if (existsSync(f)) bytes += statSync(f).size;
    const has = (table: string) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    // A schema 3 or 4 file (not migrated until a writer opens it) has no statuses or outbox yet.
    const byValue = (sql: string) =>
      Object.fromEntries((db.prepare(sql).all() as { k: string; n: number }[]).map((r) => [r.k, r.n]));
    return {
      ...base,
      schemaVersion: version,
      bytes,
      sessions: count("sessions"),
      findings: count("findings"),
      objects: count("objects"),
      ...(has("finding_statuses")
        ? { statuses: statusCounts(byValue("SELECT status AS k, count(*) AS n FROM finding_statuses GROUP BY status")) }
        : {}),
      ...(has("outbox")
        ? { outbox: outboxCounts(byValue("SELECT state AS k, count(*) AS n FROM outbox GROUP BY state")) }
        : {}),
      ...(findingTimes.oldest
        ? { findingTimes: { oldest: findingTimes.oldest, newest: findingTimes.newest ?? "" } }
        : {}),
      ...(scanTimes.oldest ? { scanTimes: { oldest: scanTimes.oldest, newest: scanTimes.newest ?? "" } } : {}),
    };
  } catch (e) {
    if (e instanceof StateError) throw e;
    const code = (e as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      throw new StateError("E_STATE_LOCKED", `${path}: in use by a running scan; inspect it when the scan ends`);
    }
    throw new StateError("E_STATE", `${path}: cannot read the state: ${(e as Error).message}`, { cause: e });
  } finally {
    db.close();
  }
}

/**
 * A read-only connection to an existing state. SQLite's `readonly` flag: nothing is written, but the
 * WAL index (`-shm`) is shared with a running scan so its committed checkpoints are visible. With
 * `statusWrites` an ordinary connection (the store still refuses every write but a finding status).
 */
function openReadOnly(location: string, statusWrites: boolean): Database.Database {
  if (!existsSync(location))
    throw new StateError("E_STATE", `${location}: no state file: run firstcall scan with this --state first`);
  let db: Database.Database;
  try {
    db = new Database(location, { readonly: !statusWrites, fileMustExist: true });
  } catch (e) {
    throw new StateError("E_STATE", `${location}: cannot open the state file: ${(e as Error).message}`, { cause: e });
  }
  // A scan opening or checkpointing holds brief locks; wait for them rather than fail.
  db.pragma("busy_timeout = 5000");
  return db;
}

/** Any error met while opening, as a StateError naming the file. */
function asStateError(e: unknown, location: string): StateError {
  if (e instanceof StateError) return e;
  const code = (e as { code?: string }).code ?? "";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return new StateError(
      "E_STATE_LOCKED",
      `${location}: the state file is locked by another process (an older firstcall keeps readers out while it scans): ${(e as Error).message}`,
      { cause: e },
    );
  return new StateError("E_STATE", `${location}: cannot use as a state file: ${(e as Error).message}`, { cause: e });
}
