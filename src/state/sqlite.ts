/**
 * The default store: one SQLite file (better-sqlite3), written in one transaction per batch.
 * Rows hold JSON documents; the columns beside them are what the store queries by.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { StoredFinding } from "../engine/engine.js";
import { emptyFleet, type FleetState, type SessionState } from "../engine/state.js";
import { StateError } from "../errors.js";
import type { StateCommit, StateStore } from "./store.js";

const SCHEMA_VERSION = "1";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, instance_id TEXT, valid_until INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS findings (id TEXT PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL, time TEXT NOT NULL,
  data TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS findings_time ON findings (time, id);
CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, records INTEGER NOT NULL,
  scanned_at TEXT NOT NULL);
`;

export class SqliteStore implements StateStore {
  private readonly db: Database.Database;

  /**
   * Opens (creating if needed) a state file.
   * @throws UsageError E_STATE naming the file when it cannot be opened or is not a firstcall state file.
   * @example const store = SqliteStore.open("~/.local/state/firstcall/state.sqlite")
   */
  static open(path: string): SqliteStore {
    return new SqliteStore(path);
  }

  private constructor(readonly location: string) {
    try {
      if (location !== ":memory:") mkdirSync(dirname(location), { recursive: true });
      this.db = new Database(location);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("busy_timeout = 5000");
      this.db.exec(SCHEMA);
      const version = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
        | { value: string }
        | undefined;
      if (!version) this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(SCHEMA_VERSION);
      else if (version.value !== SCHEMA_VERSION) {
        throw new Error(`state schema version ${version.value}, this firstcall reads version ${SCHEMA_VERSION}`);
      }
    } catch (e) {
      throw new StateError("E_STATE", `${location}: cannot use as a state file: ${(e as Error).message}`, { cause: e });
    }
  }

  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    const stmt = this.db.prepare("SELECT key, data FROM sessions WHERE key IN (SELECT value FROM json_each(?))");
    for (let i = 0; i < keys.length; i += 5000) {
      const rows = stmt.all(JSON.stringify(keys.slice(i, i + 5000))) as { key: string; data: string }[];
      for (const r of rows) out.set(r.key, JSON.parse(r.data));
    }
    return out;
  }

  async loadFleet(): Promise<FleetState> {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'fleet'").get() as { value: string } | undefined;
    return row ? JSON.parse(row.value) : emptyFleet();
  }

  async loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>> {
    const out = new Map<string, StoredFinding>();
    const stmt = this.db.prepare("SELECT id, data FROM findings WHERE id IN (SELECT value FROM json_each(?))");
    for (let i = 0; i < ids.length; i += 5000) {
      const rows = stmt.all(JSON.stringify(ids.slice(i, i + 5000))) as { id: string; data: string }[];
      for (const r of rows) out.set(r.id, JSON.parse(r.data));
    }
    return out;
  }

  async allFindings(): Promise<StoredFinding[]> {
    const rows = this.db.prepare("SELECT data FROM findings ORDER BY time, id").all() as { data: string }[];
    return rows.map((r) => JSON.parse(r.data));
  }

  async wasScanned(o: { id: string; size: number; mtimeMs: number }): Promise<boolean> {
    const row = this.db.prepare("SELECT size, mtime_ms FROM objects WHERE id = ?").get(o.id) as
      | { size: number; mtime_ms: number }
      | undefined;
    return row !== undefined && row.size === o.size && row.mtime_ms === o.mtimeMs;
  }

  async sessionCount(): Promise<number> {
    return (this.db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
  }

  async commit(batch: StateCommit): Promise<void> {
    const now = new Date().toISOString();
    const putSession = this.db.prepare(
      "INSERT INTO sessions (key, instance_id, valid_until, data) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET instance_id = excluded.instance_id, valid_until = excluded.valid_until, data = excluded.data",
    );
    const deleteSession = this.db.prepare("DELETE FROM sessions WHERE key = ?");
    const putFinding = this.db.prepare(
      "INSERT INTO findings (id, rule, severity, time, data, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, time = excluded.time, data = excluded.data, updated_at = excluded.updated_at",
    );
    const putObject = this.db.prepare(
      "INSERT INTO objects (id, size, mtime_ms, records, scanned_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, records = excluded.records, scanned_at = excluded.scanned_at",
    );
    const putFleet = this.db.prepare(
      "INSERT INTO meta (key, value) VALUES ('fleet', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
    this.db.transaction(() => {
      for (const s of batch.sessions) {
        const validUntil = Math.max(0, ...s.lifetimes.map((l) => l.validUntil));
        putSession.run(s.key, s.instanceId ?? null, validUntil, JSON.stringify(s));
      }
      for (const k of batch.deletedSessions) deleteSession.run(k);
      for (const f of batch.findings) {
        putFinding.run(f.finding.id, f.finding.rule, f.finding.severity, f.finding.time, JSON.stringify(f), now);
      }
      for (const o of batch.objects) putObject.run(o.id, o.size, o.mtimeMs, o.records, now);
      putFleet.run(JSON.stringify(batch.fleet));
    })();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
