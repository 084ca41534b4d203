/**
 * The shared store: one PostgreSQL database that several workers (processes, hosts) scan into at once.
 *
 * - Schema: tables prefixed `firstcall_`, created and migrated only by `firstcall state init`
 *   (`migrate`): versioned migrations, applied under a session advisory lock so that two `init`s at
 *   once apply each migration once; a second run is a no-op. A scan refuses a database that is not
 *   initialised or not at this version, saying what to run: the scanning role needs no DDL rights, and
 *   a rolling upgrade of many workers never migrates from under the others.
 * - Documents: the same encodings as SQLite (`encodeSession`, `encodeFleet`, `encodeDocument` of
 *   src/engine/state.ts), in `bytea` columns.
 * - Concurrency (ARCHITECTURE.md §1, *Shared state*): a checkpoint is one transaction that first locks
 *   the fleet row (`SELECT … FOR UPDATE`), so checkpoints of all workers are serialised; inside it the
 *   worker stages the events it read (`firstcall_events`, one row per event id, so a re-delivered
 *   object or a duplicate record counts once), records how far it has read (`firstcall_streams`), and
 *   takes the staged events of every worker that all running workers have read past; it processes
 *   them in event order on the fleet knowledge and sessions as committed, and commits. Each worker
 *   holds a session advisory lock on its name, so two live processes can never share one.
 * - The location printed anywhere is the URL without its password.
 */
import pg from "pg";
import type { StoredFinding } from "../engine/engine.js";
import type { EngineEvent } from "../engine/event.js";
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
import {
  type DeliveryState,
  type OutboxRow,
  type OutboxSettlement,
  type OutboxStore,
  outboxRowOf,
} from "../findings/delivery/outbox.js";
import { log } from "../log.js";
import {
  exportPostgres,
  importPostgres,
  prunePostgres,
  type RetireResult,
  retirePostgresWorker,
} from "./postgres-transfer.js";
import { assertStateVersion } from "./schema-version.js";
import { outboxCounts, statusCounts } from "./sqlite-transfer.js";
import {
  type CheckpointEvents,
  type CheckpointStart,
  exchangeCut,
  type FindingStatus,
  type ImportOptions,
  type ImportResult,
  type PruneCut,
  type PruneResult,
  type ScannedObject,
  type SharedCheckpoints,
  type StateCommit,
  type StateInfo,
  type StateRecord,
  type StateStore,
  validateFindingStatus,
} from "./store.js";

/** The schema version this firstcall reads and writes (the number of migrations). */
export const PG_SCHEMA_VERSION = 4;

/**
 * SQL: outbox row `x` is claimed by a worker that is alive — some session holds that worker's
 * advisory lock (`$3`: the lock namespace). A killed worker's connection closes and its lock with it.
 */
const LIVE_CLAIM = `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = $3::bigint::oid AND l.objid = (x.claimed_key::bigint & 4294967295)::oid)`;

/** Advisory-lock namespace ("fcst"), so firstcall's locks never meet another application's. */
export const LOCK_SPACE = 0x66637374;
const MIGRATION_LOCK = 1;

/**
 * Migration `i` takes the schema from version `i` to `i + 1`. Append only; never edit one that
 * shipped. Each runs in its own transaction with the version row it writes.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE firstcall_meta (key text PRIMARY KEY, value bytea NOT NULL);
   CREATE TABLE firstcall_sessions (key text PRIMARY KEY, valid_until bigint NOT NULL, data bytea NOT NULL);
   CREATE INDEX firstcall_sessions_valid_until ON firstcall_sessions (valid_until);
   CREATE TABLE firstcall_findings (id text PRIMARY KEY, time text NOT NULL, data bytea NOT NULL,
     updated_at timestamptz NOT NULL, worker text NOT NULL);
   CREATE INDEX firstcall_findings_time ON firstcall_findings (time, id);
   CREATE TABLE firstcall_objects (id text PRIMARY KEY, size bigint NOT NULL, mtime_ms double precision NOT NULL,
     records integer NOT NULL, status text NOT NULL, scanned_at timestamptz NOT NULL, worker text NOT NULL);
   CREATE TABLE firstcall_events (id text PRIMARY KEY, time double precision NOT NULL, processed boolean NOT NULL,
     data bytea NOT NULL);
   CREATE INDEX firstcall_events_waiting ON firstcall_events (time) WHERE NOT processed;
   CREATE INDEX firstcall_events_processed ON firstcall_events (time) WHERE processed;
   CREATE TABLE firstcall_streams (worker text PRIMARY KEY, pending bytea, watermark double precision,
     finished boolean NOT NULL, updated_at timestamptz NOT NULL);`,
  // 2: what people decided about findings (serve's acknowledge/suppress), in tables of their own so that
  // setting a status never touches a row a checkpoint writes. The latest status of each finding that
  // is not open, and every change in order (the audit trail).
  `CREATE TABLE firstcall_finding_statuses (id text PRIMARY KEY, status text NOT NULL, reason text NOT NULL,
     actor text NOT NULL, at text NOT NULL);
   CREATE TABLE firstcall_finding_status_history (seq bigserial PRIMARY KEY, id text NOT NULL, status text NOT NULL,
     reason text NOT NULL, actor text NOT NULL, at text NOT NULL);
   CREATE INDEX firstcall_finding_status_history_id ON firstcall_finding_status_history (id, seq);`,
  // 3: the delivery outbox (src/findings/delivery/outbox.ts): one row per (finding id, destination key),
  // due again with a higher generation on a re-alert. A worker claims due rows (claimed_by, and the key
  // of its advisory lock, claimed_key) until it settles them; rows claimed by a worker whose lock no
  // session holds any more (it died) may be claimed by any other.
  `CREATE TABLE firstcall_outbox (id bigserial PRIMARY KEY, finding_id text NOT NULL, destination text NOT NULL,
     generation integer NOT NULL, state text NOT NULL, attempts integer NOT NULL, message text,
     claimed_by text, claimed_key integer, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
     UNIQUE (finding_id, destination));
   CREATE INDEX firstcall_outbox_due ON firstcall_outbox (destination, id) WHERE state = 'pending';`,
  // 4: an S3 object is identified by its ETag and size (`sameObject`), as in SQLite; without the column a
  // shared state never recognised an S3 object as already scanned.
  "ALTER TABLE firstcall_objects ADD COLUMN etag text;",
];

export interface PostgresOpenOptions {
  /** This worker's name: its stream position and object claims are kept under it. Default `default`. */
  readonly worker?: string;
  /**
   * Only to read (`scan --all`, `explain`): takes no worker name and does not register as a running
   * worker (which would hold back the other workers' processing).
   */
  readonly readOnly?: boolean;
  /**
   * A worker that lives for one batch (a Lambda invocation): it keeps no stream row, so it never holds
   * the others back and leaves nothing behind when it dies; its events are processed by the checkpoint
   * that stages them, or, while other (long-running) workers read, by the first checkpoint whose cut
   * passes them. No name lock either: it has no position or output file of its own to protect.
   */
  readonly ephemeral?: boolean;
}

/** Whether a `--state` value names a PostgreSQL database. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The URL with its password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "firstcall" });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw new StateError("E_STATE", `${redactUrl(url)}: cannot connect to PostgreSQL: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // A dropped connection must not become an unhandled 'error' event; the next query reports it.
  client.on("error", () => {});
  return client;
}

/** The schema version of the database at `client` (0: not initialised). */
async function schemaVersion(client: pg.Client): Promise<number> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('firstcall_schema') AS t");
  if (exists.rows[0]?.t == null) return 0;
  const r = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM firstcall_schema");
  return r.rows[0]?.v ?? 0;
}

/**
 * Creates or migrates the schema: `firstcall state init`. Safe to run twice and from several
 * processes at once (they queue on an advisory lock; each migration is applied once).
 * @returns the versions before and after.
 * @example const { from, to } = await migratePostgres("postgres://postgres@127.0.0.1/firstcall")
 */
export async function migratePostgres(url: string): Promise<{ from: number; to: number }> {
  const client = await connect(url);
  try {
    await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_SPACE, MIGRATION_LOCK]);
    try {
      await client.query(
        "CREATE TABLE IF NOT EXISTS firstcall_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)",
      );
      const from = await schemaVersion(client);
      if (from > PG_SCHEMA_VERSION) {
        throw new StateError(
          "E_STATE_VERSION",
          `${redactUrl(url)}: state schema ${from} was written by a newer firstcall (this one knows ${PG_SCHEMA_VERSION}): upgrade firstcall.`,
        );
      }
      for (let v = from; v < PG_SCHEMA_VERSION; v++) {
        await client.query("BEGIN");
        try {
          await client.query(MIGRATIONS[v] as string);
          if (v === 0) {
            await client.query("INSERT INTO firstcall_meta (key, value) VALUES ('fleet', $1)", [
              encodeFleet(emptyFleet()),
            ]);
          }
          await client.query("INSERT INTO firstcall_schema (version, applied_at) VALUES ($1, now())", [v + 1]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK");
          throw e;
        }
      }
      return { from, to: PG_SCHEMA_VERSION };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_SPACE, MIGRATION_LOCK]);
    }
  } catch (e) {
    if (e instanceof StateError) throw e;
    throw new StateError("E_STATE", `${redactUrl(url)}: cannot initialise the state: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    await client.end().catch(() => {});
  }
}

interface ObjectRow {
  id: string;
  size: string;
  mtime_ms: number;
  records: number;
  status: string;
  etag: string | null;
}

function objectOf(row: ObjectRow): ScannedObject {
  return {
    id: row.id,
    size: Number(row.size),
    mtimeMs: row.mtime_ms,
    ...(row.etag !== null ? { etag: row.etag } : {}),
    records: row.records,
    status: row.status as ScannedObject["status"],
  };
}

/** A hash of the worker name into the advisory lock's second key (collisions only make a name wait). */
export function workerLockKey(worker: string): number {
  let h = 0;
  for (const ch of worker) h = (Math.imul(h, 31) + (ch.codePointAt(0) ?? 0)) | 0;
  return h === MIGRATION_LOCK ? 2 : h;
}

export class PostgresStore implements StateStore, SharedCheckpoints {
  readonly location: string;
  readonly shared = this;
  private inTransaction = false;
  /** The outbox's own connection (opened on first use): see {@link PostgresStore.claimDeliveries}. */
  private outboxClient: Promise<pg.Client> | undefined;
  private queries = 0;
  /** Wall time spent waiting for the server's answers, and the part of it waiting for the checkpoint lock (ms). */
  private waitedMs = 0;
  private lockWaitMs = 0;

  private constructor(
    private readonly client: pg.Client,
    private readonly url: string,
    readonly worker: string,
  ) {
    this.location = redactUrl(url);
    // Counts round trips (the cost that matters for a remote database), for the debug log and tests.
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      this.queries++;
      const began = performance.now();
      const answer = query(...args);
      if (answer instanceof Promise) {
        // Timed for the bench's "share of time in the store"; the promise given back is the same.
        answer.then(
          () => {
            this.waitedMs += performance.now() - began;
          },
          () => {
            this.waitedMs += performance.now() - began;
          },
        );
      }
      return answer;
    };
  }

  /**
   * Connects, checks the schema version, and registers this worker (running).
   * @throws StateError when the server cannot be reached, the schema is missing or of another
   *   version (with the command to run), or another live process uses the same worker name.
   * @example const store = await PostgresStore.open("postgres://detector@db/firstcall", { worker: "host-a" })
   */
  static async open(url: string, options: PostgresOpenOptions = {}): Promise<PostgresStore> {
    const worker = options.worker ?? "default";
    const client = await connect(url);
    const store = new PostgresStore(client, url, worker);
    try {
      assertStateVersion(store.location, await schemaVersion(client), PG_SCHEMA_VERSION, "state schema");
      if (options.readOnly || options.ephemeral) return store;
      const locked = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [
        LOCK_SPACE,
        workerLockKey(worker),
      ]);
      if (!locked.rows[0]?.ok) {
        throw new StateError(
          "E_STATE_LOCKED",
          `${store.location}: worker "${worker}" is in use by another firstcall process; give each concurrent worker its own --worker name.`,
        );
      }
      // Running again: until its first checkpoint its position holds expiry back for the others.
      await client.query(
        `INSERT INTO firstcall_streams (worker, pending, watermark, finished, updated_at) VALUES ($1, NULL, NULL, false, now())
         ON CONFLICT (worker) DO UPDATE SET finished = false, updated_at = now()`,
        [worker],
      );
      return store;
    } catch (e) {
      await client.end().catch(() => {});
      if (e instanceof StateError) throw e;
      throw new StateError("E_STATE", `${store.location}: cannot use as a state: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    for (let i = 0; i < keys.length; i += 10_000) {
      const r = await this.client.query<{ key: string; data: Buffer }>(
        "SELECT key, data FROM firstcall_sessions WHERE key = ANY($1::text[])",
        [keys.slice(i, i + 10_000)],
      );
      for (const row of r.rows) out.set(row.key, decodeSession(row.data));
    }
    return out;
  }

  async loadFleet(): Promise<FleetState> {
    const r = await this.client.query<{ value: Buffer }>("SELECT value FROM firstcall_meta WHERE key = 'fleet'");
    const row = r.rows[0];
    return row ? decodeFleet(row.value) : emptyFleet();
  }

  async loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>> {
    const out = new Map<string, StoredFinding>();
    for (let i = 0; i < ids.length; i += 10_000) {
      const r = await this.client.query<{ id: string; data: Buffer }>(
        "SELECT id, data FROM firstcall_findings WHERE id = ANY($1::text[])",
        [ids.slice(i, i + 10_000)],
      );
      for (const row of r.rows) out.set(row.id, decodeDocument<StoredFinding>(row.data));
    }
    return out;
  }

  async loadPending(): Promise<Uint8Array | undefined> {
    const r = await this.client.query<{ pending: Buffer | null }>(
      "SELECT pending FROM firstcall_streams WHERE worker = $1",
      [this.worker],
    );
    return r.rows[0]?.pending ?? undefined;
  }

  async allFindings(): Promise<StoredFinding[]> {
    const r = await this.client.query<{ data: Buffer }>("SELECT data FROM firstcall_findings ORDER BY time, id");
    return r.rows.map((row) => decodeDocument<StoredFinding>(row.data));
  }

  async scannedObject(id: string): Promise<ScannedObject | undefined> {
    return (await this.scannedObjects([id])).get(id);
  }

  async scannedObjects(ids: readonly string[]): Promise<Map<string, ScannedObject>> {
    const out = new Map<string, ScannedObject>();
    for (let i = 0; i < ids.length; i += 10_000) {
      const r = await this.client.query<ObjectRow>(
        "SELECT id, size, mtime_ms, records, status, etag FROM firstcall_objects WHERE id = ANY($1::text[])",
        [ids.slice(i, i + 10_000)],
      );
      for (const row of r.rows) out.set(row.id, objectOf(row));
    }
    return out;
  }

  async sessionCount(): Promise<number> {
    const r = await this.client.query<{ n: string }>("SELECT count(*) AS n FROM firstcall_sessions");
    return Number(r.rows[0]?.n ?? 0);
  }

  async settingsFingerprint(): Promise<string | undefined> {
    const r = await this.client.query<{ value: Buffer }>("SELECT value FROM firstcall_meta WHERE key = 'settings'");
    return r.rows[0] ? r.rows[0].value.toString("utf8") : undefined;
  }

  async outputBytes(path: string): Promise<number | undefined> {
    // Output files are a worker's own: two hosts may both write ./findings.jsonl.
    const r = await this.client.query<{ value: Buffer }>("SELECT value FROM firstcall_meta WHERE key = $1", [
      this.outputKey(path),
    ]);
    return r.rows[0] ? Number(r.rows[0].value.toString("utf8")) : undefined;
  }

  private outputKey(path: string): string {
    return `output:${this.worker}:${path}`;
  }

  /**
   * Starts a checkpoint: one transaction that locks the fleet row, so no other worker's checkpoint
   * runs until this one commits or rolls back. Returns what this worker must rebuild its batch on.
   */
  async begin(): Promise<CheckpointStart> {
    if (this.inTransaction) throw new Error("checkpoint already started");
    await this.client.query("BEGIN");
    this.inTransaction = true;
    try {
      const began = performance.now();
      const r = await this.client.query<{ value: Buffer }>(
        "SELECT value FROM firstcall_meta WHERE key = 'fleet' FOR UPDATE",
      );
      this.lockWaitMs += performance.now() - began;
      const row = r.rows[0];
      if (!row) throw new StateError("E_STATE_SCHEMA", `${this.location}: the fleet row is missing; run state init`);
      return { fleet: decodeFleet(row.value) };
    } catch (e) {
      await this.rollback();
      throw e;
    }
  }

  async exchange(
    events: readonly EngineEvent[],
    readPosition: number,
    latenessMs: number,
    holdMs = latenessMs,
  ): Promise<CheckpointEvents> {
    const c = this.client;
    for (let i = 0; i < events.length; i += 5000) {
      const chunk = events.slice(i, i + 5000);
      await c.query(
        `INSERT INTO firstcall_events (id, time, processed, data)
         SELECT id, time, false, data FROM unnest($1::text[], $2::float8[], $3::bytea[]) AS t(id, time, data)
         ON CONFLICT (id) DO NOTHING`,
        [chunk.map((e) => e.id), chunk.map((e) => e.time), chunk.map((e) => Buffer.from(JSON.stringify(e)))],
      );
    }
    const finished = readPosition === Number.POSITIVE_INFINITY;
    await c.query("UPDATE firstcall_streams SET watermark = $2, finished = $3, updated_at = now() WHERE worker = $1", [
      this.worker,
      finished || !Number.isFinite(readPosition) ? null : readPosition,
      finished,
    ]);
    // A running worker that has read nothing yet (no position) holds everything back.
    const r = await c.query<{ running: string; unknown: string; oldest: number | null }>(
      `SELECT count(*) AS running, count(*) FILTER (WHERE watermark IS NULL) AS unknown, min(watermark) AS oldest
       FROM firstcall_streams WHERE NOT finished`,
    );
    const row = r.rows[0];
    const running = Number(row?.running ?? 0);
    const cut = exchangeCut(running, Number(row?.unknown ?? 0), row?.oldest ?? undefined, holdMs);
    if (cut === Number.NEGATIVE_INFINITY) return { events: [], ended: false };
    const taken = await c.query<{ data: Buffer }>(
      `UPDATE firstcall_events SET processed = true WHERE NOT processed AND time <= $1 RETURNING data`,
      [cut === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : cut],
    );
    // Processed ids are kept one lateness, as a single process keeps them: a duplicate within it counts
    // once. With no worker running (the cut is +∞, always so with only ephemeral workers) the cut is the
    // newest event processed, as in a single process at its end.
    if (Number.isFinite(cut)) {
      await c.query("DELETE FROM firstcall_events WHERE processed AND time < $1", [cut - latenessMs]);
    } else {
      // The input has ended: one process would keep the ids within a lateness of the newest event.
      // Without this, every event processed by the last checkpoint stayed staged until a later run
      // (measured: 91,064 of 94,089 events, 155 MB, left after a one-worker bench run).
      await c.query(
        `DELETE FROM firstcall_events WHERE processed
         AND time < (SELECT max(time) FROM firstcall_events WHERE processed) - $1`,
        [latenessMs],
      );
    }
    return {
      events: taken.rows.map((t) => JSON.parse(t.data.toString("utf8")) as EngineEvent),
      ended: running === 0,
    };
  }

  async rollback(): Promise<void> {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    await this.client.query("ROLLBACK").catch(() => {});
  }

  async commit(batch: StateCommit): Promise<void> {
    const c = this.client;
    const own = !this.inTransaction;
    if (own) {
      await c.query("BEGIN");
      this.inTransaction = true;
    }
    try {
      if (batch.sessions.length > 0) {
        const keys: string[] = [];
        const until: number[] = [];
        const data: Buffer[] = [];
        for (const s of batch.sessions) {
          keys.push(s.key);
          until.push(Math.max(0, ...s.lifetimes.map((l) => l.validUntil)));
          data.push(encodeSession(s));
        }
        await c.query(
          `INSERT INTO firstcall_sessions (key, valid_until, data)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
           ON CONFLICT (key) DO UPDATE SET valid_until = excluded.valid_until, data = excluded.data`,
          [keys, until, data],
        );
      }
      if (batch.deletedSessions.length > 0) {
        await c.query("DELETE FROM firstcall_sessions WHERE key = ANY($1::text[])", [batch.deletedSessions]);
      }
      if (batch.pruneSessionsBefore !== undefined && Number.isFinite(batch.pruneSessionsBefore)) {
        await c.query("DELETE FROM firstcall_sessions WHERE valid_until < $1", [Math.floor(batch.pruneSessionsBefore)]);
      }
      if (batch.findings.length > 0) {
        await c.query(
          `INSERT INTO firstcall_findings (id, time, data, updated_at, worker)
           SELECT id, time, data, now(), $4 FROM unnest($1::text[], $2::text[], $3::bytea[]) AS t(id, time, data)
           ON CONFLICT (id) DO UPDATE SET time = excluded.time, data = excluded.data, updated_at = now(), worker = excluded.worker`,
          [
            batch.findings.map((f) => f.finding.id),
            batch.findings.map((f) => f.finding.time),
            batch.findings.map((f) => encodeDocument(f)),
            this.worker,
          ],
        );
      }
      if (batch.objects.length > 0) {
        const o = batch.objects;
        await c.query(
          `INSERT INTO firstcall_objects (id, size, mtime_ms, records, status, scanned_at, worker, etag)
           SELECT id, size, mtime_ms, records, status, now(), $6, etag
           FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::int[], $5::text[], $7::text[])
             AS t(id, size, mtime_ms, records, status, etag)
           ON CONFLICT (id) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, records = excluded.records,
             status = excluded.status, scanned_at = excluded.scanned_at, worker = excluded.worker, etag = excluded.etag`,
          [
            o.map((x) => x.id),
            o.map((x) => x.size),
            o.map((x) => x.mtimeMs),
            o.map((x) => x.records),
            o.map((x) => x.status),
            this.worker,
            o.map((x) => x.etag ?? null),
          ],
        );
      }
      const meta: [string, Buffer][] = [["fleet", encodeFleet(batch.fleet)]];
      for (const o of batch.outputs ?? []) meta.push([this.outputKey(o.path), Buffer.from(String(o.bytes))]);
      if (batch.settingsFingerprint !== undefined) meta.push(["settings", Buffer.from(batch.settingsFingerprint)]);
      await c.query(
        `INSERT INTO firstcall_meta (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [meta.map((m) => m[0]), meta.map((m) => m[1])],
      );
      await c.query("UPDATE firstcall_streams SET pending = $2, updated_at = now() WHERE worker = $1", [
        this.worker,
        Buffer.from(batch.pending),
      ]);
      if (batch.outbox?.length) {
        await c.query(
          `INSERT INTO firstcall_outbox (finding_id, destination, generation, state, attempts, created_at, updated_at)
           SELECT f, d, 1, 'pending', 0, now(), now() FROM unnest($1::text[], $2::text[]) AS t(f, d)
           ON CONFLICT (finding_id, destination) DO UPDATE SET generation = firstcall_outbox.generation + 1,
             state = 'pending', attempts = 0, message = NULL, updated_at = now()`,
          [batch.outbox.map((t) => t.findingId), batch.outbox.map((t) => t.destination)],
        );
      }
      await c.query("COMMIT");
      this.inTransaction = false;
    } catch (e) {
      await this.rollback();
      throw new StateError("E_STATE", `${this.location}: checkpoint not committed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async findingStatuses(ids?: readonly string[]): Promise<Map<string, FindingStatus>> {
    const out = new Map<string, FindingStatus>();
    const put = (rows: FindingStatus[]) => {
      for (const r of rows) out.set(r.id, { id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at });
    };
    if (ids === undefined) {
      put(
        (await this.client.query<FindingStatus>("SELECT id, status, reason, actor, at FROM firstcall_finding_statuses"))
          .rows,
      );
      return out;
    }
    for (let i = 0; i < ids.length; i += 10_000) {
      const r = await this.client.query<FindingStatus>(
        "SELECT id, status, reason, actor, at FROM firstcall_finding_statuses WHERE id = ANY($1::text[])",
        [ids.slice(i, i + 10_000)],
      );
      put(r.rows);
    }
    return out;
  }

  /**
   * Sets a finding's status in one statement (the history row and the latest status together), so it
   * needs no transaction of its own and may run on a reader's connection beside running workers. During
   * this worker's own checkpoint it joins that transaction.
   */
  async setFindingStatus(status: FindingStatus): Promise<void> {
    validateFindingStatus(status);
    const row = [status.id, status.status, status.reason, status.actor, status.at];
    try {
      await this.client.query(
        status.status === "open"
          ? `WITH h AS (INSERT INTO firstcall_finding_status_history (id, status, reason, actor, at) VALUES ($1, $2, $3, $4, $5))
             DELETE FROM firstcall_finding_statuses WHERE id = $1`
          : `WITH h AS (INSERT INTO firstcall_finding_status_history (id, status, reason, actor, at) VALUES ($1, $2, $3, $4, $5))
             INSERT INTO firstcall_finding_statuses (id, status, reason, actor, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason, actor = excluded.actor, at = excluded.at`,
        row,
      );
    } catch (e) {
      throw new StateError("E_STATE", `${this.location}: cannot set the finding status: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  async findingStatusHistory(id: string): Promise<FindingStatus[]> {
    const r = await this.client.query<FindingStatus>(
      "SELECT id, status, reason, actor, at FROM firstcall_finding_status_history WHERE id = $1 ORDER BY seq",
      [id],
    );
    return r.rows.map((x) => ({ id: x.id, status: x.status, reason: x.reason, actor: x.actor, at: x.at }));
  }

  /** Every record, from one snapshot (`state export`; postgres-transfer.ts). Workers may run meanwhile. */
  exportRecords(): AsyncIterable<StateRecord> {
    return exportPostgres(this.client);
  }

  /** Writes a dump's records in one transaction (`state import`; postgres-transfer.ts). */
  async importRecords(records: AsyncIterable<StateRecord>, options: ImportOptions): Promise<ImportResult> {
    return importPostgres(this.client, this.location, records, options);
  }

  /** Drops what is older than the cut, between two checkpoints (`state prune`; postgres-transfer.ts). */
  async prune(cut: PruneCut): Promise<PruneResult> {
    return prunePostgres(this.client, this.location, cut);
  }

  /** Marks a dead worker finished (`state retire-worker`; postgres-transfer.ts). */
  async retireWorker(worker: string): Promise<RetireResult> {
    return retirePostgresWorker(this.client, this.location, worker);
  }

  async info(): Promise<StateInfo> {
    return postgresInfo(this.client, this.location);
  }

  /** Statements sent to the server since this store was opened (round trips). */
  get roundTrips(): number {
    return this.queries;
  }

  async close(): Promise<void> {
    log().debug(
      {
        state: this.location,
        worker: this.worker,
        roundTrips: this.queries,
        storeMs: Math.round(this.waitedMs),
        lockWaitMs: Math.round(this.lockWaitMs),
      },
      "shared state closed",
    );
    await this.rollback();
    const outbox = await this.outboxClient?.catch(() => undefined);
    await outbox?.end().catch(() => {});
    await this.client.end().catch(() => {});
  }

  get outbox(): OutboxStore {
    return this;
  }

  /**
   * Delivery runs in the background between checkpoints, so it has a connection of its own: its
   * statements must never land inside this worker's checkpoint transaction on the main one.
   */
  private deliveryClient(): Promise<pg.Client> {
    this.outboxClient ??= connect(this.url);
    return this.outboxClient;
  }

  /**
   * Claims due rows for this worker, in one statement: rows not claimed, claimed by this worker (a
   * previous process under its name), or claimed by a worker whose advisory lock no session holds
   * (it died: its connection closed and the lock with it). `FOR UPDATE SKIP LOCKED` lets two workers
   * claim at once without waiting or taking the same row; a claim stays until settled, so a row is
   * sent by one live worker at a time. The finding as stored and its suppression come in the same trip.
   */
  async claimDeliveries(destinations: readonly string[], limit: number): Promise<OutboxRow[]> {
    const c = await this.deliveryClient();
    const r = await c.query<{
      finding_id: string;
      destination: string;
      generation: number;
      data: Buffer | null;
      suppressed: string | null;
    }>(
      `WITH claimed AS (
         UPDATE firstcall_outbox o SET claimed_by = $2, claimed_key = $3
         FROM (SELECT id FROM firstcall_outbox x
               WHERE x.state = 'pending' AND x.destination = ANY($1::text[])
                 AND (x.claimed_by IS NULL OR x.claimed_by = $2 OR NOT ${LIVE_CLAIM.replaceAll("$3", "$4")})
               ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED) due
         WHERE o.id = due.id
         RETURNING o.id, o.finding_id, o.destination, o.generation)
       SELECT c.finding_id, c.destination, c.generation, f.data, s.reason AS suppressed
       FROM claimed c LEFT JOIN firstcall_findings f ON f.id = c.finding_id
       LEFT JOIN firstcall_finding_statuses s ON s.id = c.finding_id AND s.status = 'suppressed'
       ORDER BY c.id`,
      [destinations, this.worker, workerLockKey(this.worker), LOCK_SPACE, limit],
    );
    return r.rows.map(outboxRowOf);
  }

  /** Marks this worker's claimed rows (for the generation sent) and releases its claims. */
  async settleDeliveries(settlements: readonly OutboxSettlement[]): Promise<void> {
    if (settlements.length === 0) return;
    const c = await this.deliveryClient();
    await c.query(
      `UPDATE firstcall_outbox o SET attempts = o.attempts + t.attempts,
         state = CASE WHEN o.generation = t.generation THEN t.state ELSE o.state END,
         message = CASE WHEN o.generation = t.generation THEN t.message ELSE o.message END,
         claimed_by = NULL, claimed_key = NULL, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[])
         AS t(finding_id, destination, generation, state, attempts, message)
       WHERE o.finding_id = t.finding_id AND o.destination = t.destination AND o.claimed_by = $7`,
      [
        settlements.map((s) => s.findingId),
        settlements.map((s) => s.destination),
        settlements.map((s) => s.generation),
        settlements.map((s) => s.state),
        settlements.map((s) => s.attempts),
        settlements.map((s) => s.message ?? null),
        this.worker,
      ],
    );
  }

  async deliveryCounts(destinations: readonly string[]): Promise<Map<string, Record<DeliveryState, number>>> {
    const out = new Map<string, Record<DeliveryState, number>>();
    for (const d of destinations) out.set(d, { pending: 0, delivered: 0, skipped: 0, rejected: 0 });
    const c = await this.deliveryClient();
    // Rows another live worker is sending right now are its to report, not owed by this one.
    const r = await c.query<{ destination: string; state: DeliveryState; n: string }>(
      `SELECT destination, state, count(*) AS n FROM firstcall_outbox x
       WHERE destination = ANY($1::text[]) AND NOT (x.state = 'pending' AND x.claimed_by <> $2 AND ${LIVE_CLAIM})
       GROUP BY 1, 2`,
      [destinations, this.worker, LOCK_SPACE],
    );
    for (const row of r.rows) {
      const counts = out.get(row.destination);
      if (counts) counts[row.state] = Number(row.n);
    }
    return out;
  }
}

/** What `firstcall state inspect` shows of a PostgreSQL state (opens its own connection; no worker). */
export async function inspectPostgres(url: string): Promise<StateInfo> {
  const client = await connect(url);
  try {
    return await postgresInfo(client, redactUrl(url));
  } finally {
    await client.end().catch(() => {});
  }
}

async function postgresInfo(client: pg.Client, location: string): Promise<StateInfo> {
  const version = await schemaVersion(client);
  if (version === 0) return { kind: "postgres", location, schemaVersion: 0, expectedSchemaVersion: PG_SCHEMA_VERSION };
  const count = async (table: string) =>
    Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
  const byValue = async (sql: string) =>
    Object.fromEntries((await client.query<{ k: string; n: string }>(sql)).rows.map((r) => [r.k, r.n]));
  const size = await client.query<{ n: string }>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c
     WHERE c.relkind = 'r' AND c.relname LIKE 'firstcall\\_%' AND pg_table_is_visible(c.oid)`,
  );
  const range = await client.query<{ oldest: string | null; newest: string | null }>(
    "SELECT min(time) AS oldest, max(time) AS newest FROM firstcall_findings",
  );
  const scanned = await client.query<{ oldest: Date | null; newest: Date | null }>(
    "SELECT min(scanned_at) AS oldest, max(scanned_at) AS newest FROM firstcall_objects",
  );
  const streams = await client.query<{ worker: string; watermark: number | null; finished: boolean; updated_at: Date }>(
    "SELECT worker, watermark, finished, updated_at FROM firstcall_streams ORDER BY worker",
  );
  return {
    kind: "postgres",
    location,
    schemaVersion: version,
    expectedSchemaVersion: PG_SCHEMA_VERSION,
    bytes: Number(size.rows[0]?.n ?? 0),
    sessions: await count("firstcall_sessions"),
    findings: await count("firstcall_findings"),
    objects: await count("firstcall_objects"),
    // An older schema (inspect says to run state init) has no statuses (before 2) or outbox (before 3).
    ...(version >= 2
      ? {
          statuses: statusCounts(
            await byValue("SELECT status AS k, count(*) AS n FROM firstcall_finding_statuses GROUP BY status"),
          ),
        }
      : {}),
    ...(version >= 3
      ? {
          outbox: outboxCounts(await byValue("SELECT state AS k, count(*) AS n FROM firstcall_outbox GROUP BY state")),
        }
      : {}),
    ...(range.rows[0]?.oldest
      ? { findingTimes: { oldest: range.rows[0].oldest, newest: range.rows[0].newest ?? "" } }
      : {}),
    ...(scanned.rows[0]?.oldest
      ? {
          scanTimes: {
            oldest: scanned.rows[0].oldest.toISOString(),
            newest: (scanned.rows[0].newest ?? scanned.rows[0].oldest).toISOString(),
          },
        }
      : {}),
    workers: streams.rows.map((s) => ({
      worker: s.worker,
      watermark: s.watermark === null ? null : new Date(s.watermark).toISOString(),
      finished: s.finished,
      updatedAt: s.updated_at.toISOString(),
    })),
  };
}
