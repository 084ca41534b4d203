/**
 * The default store: one SQLite file (better-sqlite3), one transaction per checkpoint.
 *
 * - Private: the file and a folder created for it are owner-only (0600 / 0700): they hold ARNs, key
 *   ids and addresses.
 * - Marked: `PRAGMA application_id` says the file is firstcall's; another application's database is
 *   refused rather than written into, and a state of another schema version is refused with what to do.
 * - One writer: the connection takes SQLite's exclusive lock for its whole life (`locking_mode =
 *   EXCLUSIVE`), so a second scan on the same file waits (`lockTimeoutMs`) or is refused; the lock is
 *   the operating system's and dies with the process, so a killed scan never leaves it behind.
 * - Compact: sessions, fleet knowledge and findings are stored as deflated documents
 *   (`encodeSession` …), in row-id tables (their documents can pass 1 KB, which a table without row
 *   ids would spill to a mostly empty overflow page); only the indexes the store queries by; freed
 *   pages are returned (`auto_vacuum`).
 */
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
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
import { StateError } from "../errors.js";
import type { ScannedObject, StateCommit, StateStore } from "./store.js";
import { streamPositionFromSchema2 } from "./stream-position.js";

/** "fcst" — firstcall state. */
export const APPLICATION_ID = 0x66637374;
export const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE sessions (key TEXT PRIMARY KEY, valid_until INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE findings (id TEXT PRIMARY KEY, time TEXT NOT NULL, data BLOB NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE objects (id TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, records INTEGER NOT NULL,
  status TEXT NOT NULL, scanned_at TEXT NOT NULL) WITHOUT ROWID;
`;

export interface SqliteOpenOptions {
  /** How long to wait for another process's lock on the file; 0 refuses at once. */
  readonly lockTimeoutMs?: number;
  /** Called once when the file is locked by someone else and we are about to wait. */
  readonly onWait?: (message: string) => void;
}

export class SqliteStore implements StateStore {
  private readonly db: Database.Database;

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
    if (!memory) createPrivately(location);
    let db: Database.Database;
    try {
      db = new Database(location);
    } catch (e) {
      throw new StateError("E_STATE", `${location}: cannot open the state file: ${(e as Error).message}`, { cause: e });
    }
    this.db = db;
    try {
      if (!memory) lock(db, location, options);
      this.prepareSchema();
    } catch (e) {
      db.close();
      if (e instanceof StateError) throw e;
      const message = (e as Error).message;
      throw new StateError("E_STATE", `${location}: cannot use as a state file: ${message}`, { cause: e });
    }
  }

  private prepareSchema(): void {
    const db = this.db;
    const appId = db.pragma("application_id", { simple: true }) as number;
    const version = db.pragma("user_version", { simple: true }) as number;
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (r) => r.name,
    );
    if (appId === 0 && tables.length === 0) {
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
    if (version === 2) {
      this.migrateFromSchema2();
      return;
    }
    if (version !== SCHEMA_VERSION) {
      throw new StateError(
        "E_STATE_VERSION",
        `${this.location}: state schema ${version}, this firstcall reads schema ${SCHEMA_VERSION}${version > SCHEMA_VERSION ? " (written by a newer firstcall: upgrade)" : ""}.`,
      );
    }
  }

  /**
   * Schema 2 → 3, in one transaction: the stream position kept eventIDs as strings in a deflated JSON
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
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    const stmt = this.db.prepare("SELECT key, data FROM sessions WHERE key IN (SELECT value FROM json_each(?))");
    for (let i = 0; i < keys.length; i += 5000) {
      const rows = stmt.all(JSON.stringify(keys.slice(i, i + 5000))) as { key: string; data: Buffer }[];
      for (const r of rows) out.set(r.key, decodeSession(r.data));
    }
    return out;
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
    const row = this.db.prepare("SELECT size, mtime_ms, records, status FROM objects WHERE id = ?").get(id) as
      | { size: number; mtime_ms: number; records: number; status: "complete" | "partial" }
      | undefined;
    return row && { id, size: row.size, mtimeMs: row.mtime_ms, records: row.records, status: row.status };
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

  async commit(batch: StateCommit): Promise<void> {
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
      "INSERT INTO objects (id, size, mtime_ms, records, status, scanned_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, records = excluded.records, status = excluded.status, scanned_at = excluded.scanned_at",
    );
    const putMeta = db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    db.transaction(() => {
      for (const s of batch.sessions) {
        const validUntil = Math.max(0, ...s.lifetimes.map((l) => l.validUntil));
        putSession.run(s.key, validUntil, encodeSession(s));
      }
      for (const k of batch.deletedSessions) deleteSession.run(k);
      if (batch.pruneSessionsBefore !== undefined && Number.isFinite(batch.pruneSessionsBefore)) {
        db.prepare("DELETE FROM sessions WHERE valid_until < ?").run(Math.floor(batch.pruneSessionsBefore));
      }
      for (const f of batch.findings) putFinding.run(f.finding.id, f.finding.time, encodeDocument(f), now);
      for (const o of batch.objects) putObject.run(o.id, o.size, o.mtimeMs, o.records, o.status, now);
      putMeta.run("fleet", encodeFleet(batch.fleet));
      putMeta.run("pending", batch.pending);
      for (const o of batch.outputs ?? []) putMeta.run(`output:${o.path}`, o.bytes);
      if (batch.settingsFingerprint !== undefined) putMeta.run("settings", batch.settingsFingerprint);
    })();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
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

/** Takes the exclusive lock for the connection's life, waiting up to the timeout. */
function lock(db: Database.Database, location: string, options: SqliteOpenOptions): void {
  db.pragma("locking_mode = EXCLUSIVE");
  db.pragma("busy_timeout = 0");
  const deadline = Date.now() + (options.lockTimeoutMs ?? 0);
  let told = false;
  for (;;) {
    try {
      // Pages freed by a smaller stream position or expired sessions go back to the file system
      // (takes effect only on a new, empty file, so before WAL writes its header; a no-op otherwise).
      db.pragma("auto_vacuum = FULL");
      db.pragma("journal_mode = WAL");
      db.exec("BEGIN EXCLUSIVE; COMMIT;");
      break;
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      if (!code.startsWith("SQLITE_BUSY") && !code.startsWith("SQLITE_LOCKED")) throw e;
      if (Date.now() >= deadline) {
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
  db.pragma("synchronous = NORMAL");
}
