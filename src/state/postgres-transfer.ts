/**
 * `state export`, `import`, `prune` and `retire-worker` on a PostgreSQL state (the PostgresStore
 * methods of the same names call these with their connection). Workers may be running:
 *
 * - export reads one snapshot (a `REPEATABLE READ` transaction): every checkpoint is one transaction,
 *   so the dump holds whole checkpoints only, whatever the workers commit meanwhile;
 * - import and prune take the checkpoint lock (the fleet row, `FOR UPDATE`), so they run between
 *   checkpoints; import also refuses while any worker of the state is running (its advisory lock is
 *   held), since it replaces what such a worker resumes from;
 * - retire-worker refuses while the worker's advisory lock is held (it is running).
 */
import type pg from "pg";
import { decodeDocument, decodeFleet, emptyFleet, encodeDocument, encodeFleet } from "../engine/state.js";
import { StateError } from "../errors.js";
import type { DeliveryState } from "../findings/delivery/outbox.js";
import { LOCK_SPACE, workerLockKey } from "./postgres.js";
import { notEmpty } from "./sqlite-transfer.js";
import { sessionBytes, sessionDocument } from "./state-dump.js";
import {
  emptyCounts,
  type FindingStatusValue,
  type ImportOptions,
  type ImportResult,
  type PruneCut,
  type PruneResult,
  type RecordCounts,
  type StateRecord,
} from "./store.js";
import { decodeStreamPosition } from "./stream-position.js";

/** Rows per query while exporting (keyset pages in the snapshot: memory stays bounded). */
const PAGE = 2000;
/** Rows per insert while importing (one `unnest` statement each). */
const BATCH = 2000;

/** Every record, from one snapshot of the database. */
export async function* exportPostgres(client: pg.Client): AsyncGenerator<StateRecord> {
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  let done = false;
  try {
    const meta = await client.query<{ key: string; value: Buffer }>(
      "SELECT key, value FROM firstcall_meta ORDER BY key",
    );
    const streams = await client.query<{
      worker: string;
      pending: Buffer | null;
      watermark: number | null;
      finished: boolean;
    }>("SELECT worker, pending, watermark, finished FROM firstcall_streams ORDER BY worker");
    for (const m of meta.rows) if (m.key === "fleet") yield { type: "fleet", doc: decodeDocument(m.value) };
    for (const m of meta.rows)
      if (m.key === "settings") yield { type: "settings", fingerprint: m.value.toString("utf8") };
    for (const s of streams.rows) {
      if (s.pending) decodeStreamPosition(s.pending); // refuse to export what could not be imported
      yield {
        type: "stream",
        worker: s.worker,
        position: s.pending ? s.pending.toString("base64") : null,
        readPosition: s.watermark,
        finished: s.finished,
      };
    }
    // Output lengths are kept as `output:WORKER:PATH`; the longest worker name that prefixes the key
    // is its owner (a name or a path may itself hold a colon).
    const workers = streams.rows.map((s) => s.worker).sort((a, b) => b.length - a.length);
    for (const m of meta.rows) {
      if (!m.key.startsWith("output:")) continue;
      const rest = m.key.slice("output:".length);
      const worker = workers.find((w) => rest.startsWith(`${w}:`));
      if (worker === undefined)
        throw new StateError("E_STATE_SCHEMA", `an output length (${m.key}) of a worker that has no stream row`);
      yield { type: "output", worker, path: rest.slice(worker.length + 1), bytes: Number(m.value.toString("utf8")) };
    }
    for await (const r of pages<{ key: string; valid_until: string; data: Buffer }>(
      client,
      "SELECT key, valid_until, data FROM firstcall_sessions",
      "key",
    )) {
      yield { type: "session", key: r.key, validUntil: Number(r.valid_until), doc: sessionDocument(r.data) };
    }
    for await (const r of pages<{ id: string; time: string; data: Buffer; updated_at: Date; worker: string }>(
      client,
      "SELECT id, time, data, updated_at, worker FROM firstcall_findings",
      "id",
    )) {
      yield {
        type: "finding",
        id: r.id,
        time: r.time,
        updatedAt: r.updated_at.toISOString(),
        worker: r.worker,
        doc: decodeDocument(r.data),
      };
    }
    for await (const r of pages<{ id: string; status: FindingStatusValue; reason: string; actor: string; at: string }>(
      client,
      "SELECT id, status, reason, actor, at FROM firstcall_finding_statuses",
      "id",
    )) {
      yield { type: "status", id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at };
    }
    // In the order the changes were made: the importer's own sequence numbers keep it.
    for await (const r of pages<{
      seq: string;
      id: string;
      status: FindingStatusValue;
      reason: string;
      actor: string;
      at: string;
    }>(client, "SELECT seq, id, status, reason, actor, at FROM firstcall_finding_status_history", "seq", "bigint")) {
      yield { type: "history", id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at };
    }
    // Oldest first. A claim (claimed_by, claimed_key) is not exported: it belongs to a live process;
    // a row claimed while the snapshot was taken is pending in it (its send may or may not have been
    // answered: at least once), and one settled before is as it was settled.
    for await (const r of pages<{
      id: string;
      finding_id: string;
      destination: string;
      generation: number;
      state: DeliveryState;
      attempts: number;
      message: string | null;
      created_at: Date;
      updated_at: Date;
    }>(
      client,
      "SELECT id, finding_id, destination, generation, state, attempts, message, created_at, updated_at FROM firstcall_outbox",
      "id",
      "bigint",
    )) {
      yield {
        type: "outbox",
        findingId: r.finding_id,
        destination: r.destination,
        generation: r.generation,
        state: r.state,
        attempts: r.attempts,
        message: r.message,
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
      };
    }
    for await (const r of pages<{
      id: string;
      size: string;
      mtime_ms: number;
      etag: string | null;
      records: number;
      status: "complete" | "partial";
      scanned_at: Date;
      worker: string;
    }>(client, "SELECT id, size, mtime_ms, etag, records, status, scanned_at, worker FROM firstcall_objects", "id")) {
      yield {
        type: "object",
        id: r.id,
        size: Number(r.size),
        mtimeMs: r.mtime_ms,
        etag: r.etag,
        records: r.records,
        status: r.status,
        scannedAt: r.scanned_at.toISOString(),
        worker: r.worker,
      };
    }
    for await (const r of pages<{ id: string; time: number; processed: boolean; data: Buffer }>(
      client,
      "SELECT id, time, processed, data FROM firstcall_events",
      "id",
    )) {
      yield {
        type: "event",
        id: r.id,
        time: r.time,
        processed: r.processed,
        event: JSON.parse(r.data.toString("utf8")),
      };
    }
    await client.query("COMMIT");
    done = true;
  } finally {
    // Also when the consumer stops early (a write error): the snapshot must not stay open.
    if (!done) await client.query("ROLLBACK").catch(() => {});
  }
}

/** The rows of `select` in pages ordered by `key` (keyset: each page starts after the last key), of SQL type `keyType`. */
async function* pages<R extends Record<string, unknown>>(
  client: pg.Client,
  select: string,
  key: keyof R & string,
  keyType: "text" | "bigint" = "text",
): AsyncGenerator<R> {
  let after: string | null = null;
  for (;;) {
    const r: pg.QueryResult<R> = await client.query<R>(
      // The primary key's order (its index): one snapshot, so the pages neither skip nor repeat a row.
      `${select} WHERE $1::${keyType} IS NULL OR ${key} > $1::${keyType} ORDER BY ${key} LIMIT ${PAGE}`,
      [after],
    );
    for (const row of r.rows) yield row;
    if (r.rows.length < PAGE) return;
    after = String((r.rows[r.rows.length - 1] as R)[key]);
  }
}

/** Rows per record type as the database holds them now. */
async function storedCounts(client: pg.Client): Promise<RecordCounts> {
  const r = await client.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM firstcall_meta WHERE key = 'fleet') AS fleet,
            (SELECT count(*) FROM firstcall_meta WHERE key = 'settings') AS settings,
            (SELECT count(*) FROM firstcall_streams) AS stream,
            (SELECT count(*) FROM firstcall_meta WHERE key LIKE 'output:%') AS output,
            (SELECT count(*) FROM firstcall_sessions) AS session,
            (SELECT count(*) FROM firstcall_findings) AS finding,
            (SELECT count(*) FROM firstcall_finding_statuses) AS status,
            (SELECT count(*) FROM firstcall_finding_status_history) AS history,
            (SELECT count(*) FROM firstcall_outbox) AS outbox,
            (SELECT count(*) FROM firstcall_objects) AS object,
            (SELECT count(*) FROM firstcall_events) AS event`,
  );
  const row = r.rows[0] ?? {};
  const counts = emptyCounts();
  for (const k of Object.keys(counts) as (keyof RecordCounts)[]) counts[k] = Number(row[k] ?? 0);
  return counts;
}

/** Takes the checkpoint lock (the fleet row) in the current transaction: checkpoints wait for us. */
async function lockCheckpoints(client: pg.Client, location: string): Promise<Buffer> {
  const r = await client.query<{ value: Buffer }>("SELECT value FROM firstcall_meta WHERE key = 'fleet' FOR UPDATE");
  const row = r.rows[0];
  if (!row) throw new StateError("E_STATE_SCHEMA", `${location}: the fleet row is missing; run state init`);
  return row.value;
}

/** The workers whose advisory lock another session holds: they are running. */
async function runningWorkers(client: pg.Client, workers: readonly string[]): Promise<string[]> {
  const running: string[] = [];
  for (const w of workers) {
    // A transaction-level lock: taken, it also keeps that worker from starting until we commit.
    const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1, $2) AS ok", [
      LOCK_SPACE,
      workerLockKey(w),
    ]);
    if (!r.rows[0]?.ok) running.push(w);
  }
  return running;
}

/**
 * Writes a dump's records in one transaction that holds the checkpoint lock, refusing while a worker
 * of the state runs and (unless `replace`) when the state holds data, and checking before committing
 * that the database holds exactly what was read.
 */
export async function importPostgres(
  client: pg.Client,
  location: string,
  records: AsyncIterable<StateRecord>,
  options: ImportOptions,
): Promise<ImportResult> {
  const read = emptyCounts();
  await client.query("BEGIN");
  try {
    await lockCheckpoints(client, location);
    const workers = (await client.query<{ worker: string }>("SELECT worker FROM firstcall_streams")).rows.map(
      (r) => r.worker,
    );
    const running = await runningWorkers(client, workers);
    if (running.length > 0)
      throw new StateError(
        "E_STATE_BUSY",
        `${location}: workers ${running.join(", ")} are running on this state; stop them before importing (an import replaces what they resume from)`,
      );
    const before = await storedCounts(client);
    // The fleet row always exists (state init writes it); streams without a position read nothing yet.
    const positioned = Number(
      (await client.query<{ n: string }>("SELECT count(*) AS n FROM firstcall_streams WHERE pending IS NOT NULL"))
        .rows[0]?.n ?? 0,
    );
    const held =
      before.session +
      before.finding +
      before.object +
      before.event +
      positioned +
      before.settings +
      before.status +
      before.history +
      before.outbox;
    if (held > 0 && !options.replace) throw notEmpty(location, before);
    if (options.replace || held === 0) {
      await client.query(
        `DELETE FROM firstcall_sessions; DELETE FROM firstcall_findings; DELETE FROM firstcall_objects;
         DELETE FROM firstcall_events; DELETE FROM firstcall_streams; DELETE FROM firstcall_meta WHERE key <> 'fleet';
         DELETE FROM firstcall_finding_statuses; DELETE FROM firstcall_finding_status_history;
         DELETE FROM firstcall_outbox;`,
      );
      // The replaced state's fleet knowledge goes too (the dump's, if it has one, is written next).
      await client.query("UPDATE firstcall_meta SET value = $1 WHERE key = 'fleet'", [encodeFleet(emptyFleet())]);
    }
    const batches = new Batches(client);
    for await (const r of records) {
      read[r.type]++;
      await batches.add(r);
    }
    await batches.flush();
    const stored = await storedCounts(client);
    // The fleet row is there after any import (state init wrote it); a dump without one leaves it empty.
    const expected: RecordCounts = { ...read, fleet: 1 };
    for (const t of Object.keys(expected) as (keyof RecordCounts)[]) {
      if (stored[t] !== expected[t])
        throw new StateError(
          "E_STATE_DUMP",
          `${location}: after the import the state would hold ${stored[t]} ${t} records where ${expected[t]} were expected (the dump repeats a key?); nothing was imported`,
        );
    }
    await client.query("COMMIT");
    return { read, stored, replaced: options.replace ? before : emptyCounts(), notes: [] };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    if (e instanceof StateError) throw e;
    throw new StateError("E_STATE_DUMP", `${location}: import failed, nothing was imported: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Records grouped per table and written `BATCH` at a time with one `unnest` statement. */
class Batches {
  private sessions: Extract<StateRecord, { type: "session" }>[] = [];
  private findings: Extract<StateRecord, { type: "finding" }>[] = [];
  private objects: Extract<StateRecord, { type: "object" }>[] = [];
  private events: Extract<StateRecord, { type: "event" }>[] = [];
  private statuses: Extract<StateRecord, { type: "status" }>[] = [];
  private history: Extract<StateRecord, { type: "history" }>[] = [];
  private outbox: Extract<StateRecord, { type: "outbox" }>[] = [];
  private meta: [string, Buffer][] = [];

  constructor(private readonly client: pg.Client) {}

  async add(r: StateRecord): Promise<void> {
    const c = this.client;
    switch (r.type) {
      case "fleet": {
        const data = encodeDocument(r.doc);
        decodeFleet(data); // a document the engine cannot load is refused here, not at the next scan
        this.meta.push(["fleet", data]);
        break;
      }
      case "settings":
        this.meta.push(["settings", Buffer.from(r.fingerprint)]);
        break;
      case "output":
        this.meta.push([`output:${r.worker}:${r.path}`, Buffer.from(String(r.bytes))]);
        break;
      case "stream":
        await c.query(
          "INSERT INTO firstcall_streams (worker, pending, watermark, finished, updated_at) VALUES ($1, $2, $3, $4, now())",
          [r.worker, r.position === null ? null : Buffer.from(r.position, "base64"), r.readPosition, r.finished],
        );
        break;
      case "session":
        this.sessions.push(r);
        break;
      case "finding":
        this.findings.push(r);
        break;
      case "object":
        this.objects.push(r);
        break;
      case "event":
        this.events.push(r);
        break;
      case "status":
        this.statuses.push(r);
        break;
      case "history":
        this.history.push(r);
        break;
      case "outbox":
        this.outbox.push(r);
        break;
    }
    if (
      this.sessions.length >= BATCH ||
      this.findings.length >= BATCH ||
      this.objects.length >= BATCH ||
      this.events.length >= BATCH ||
      this.statuses.length >= BATCH ||
      this.history.length >= BATCH ||
      this.outbox.length >= BATCH ||
      this.meta.length >= BATCH
    )
      await this.flush();
  }

  async flush(): Promise<void> {
    const c = this.client;
    if (this.meta.length > 0) {
      await c.query(
        `INSERT INTO firstcall_meta (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [this.meta.map((m) => m[0]), this.meta.map((m) => m[1])],
      );
      this.meta = [];
    }
    if (this.sessions.length > 0) {
      const s = this.sessions;
      await c.query(
        "INSERT INTO firstcall_sessions (key, valid_until, data) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])",
        [s.map((r) => r.key), s.map((r) => r.validUntil), s.map((r) => sessionBytes(r.doc))],
      );
      this.sessions = [];
    }
    if (this.findings.length > 0) {
      const f = this.findings;
      await c.query(
        `INSERT INTO firstcall_findings (id, time, data, updated_at, worker)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[], $5::text[])`,
        [
          f.map((r) => r.id),
          f.map((r) => r.time),
          f.map((r) => encodeDocument(r.doc)),
          f.map((r) => r.updatedAt),
          f.map((r) => r.worker ?? "default"),
        ],
      );
      this.findings = [];
    }
    if (this.objects.length > 0) {
      const o = this.objects;
      await c.query(
        `INSERT INTO firstcall_objects (id, size, mtime_ms, records, status, scanned_at, worker, etag)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::int[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])`,
        [
          o.map((r) => r.id),
          o.map((r) => r.size),
          o.map((r) => r.mtimeMs),
          o.map((r) => r.records),
          o.map((r) => r.status),
          o.map((r) => r.scannedAt),
          o.map((r) => r.worker ?? "default"),
          o.map((r) => r.etag),
        ],
      );
      this.objects = [];
    }
    if (this.events.length > 0) {
      const e = this.events;
      await c.query(
        "INSERT INTO firstcall_events (id, time, processed, data) SELECT * FROM unnest($1::text[], $2::float8[], $3::boolean[], $4::bytea[])",
        [
          e.map((r) => r.id),
          e.map((r) => r.time),
          e.map((r) => r.processed),
          e.map((r) => Buffer.from(JSON.stringify(r.event))),
        ],
      );
      this.events = [];
    }
    if (this.statuses.length > 0) {
      const t = this.statuses;
      await c.query(
        `INSERT INTO firstcall_finding_statuses (id, status, reason, actor, at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
        [t.map((r) => r.id), t.map((r) => r.status), t.map((r) => r.reason), t.map((r) => r.actor), t.map((r) => r.at)],
      );
      this.statuses = [];
    }
    if (this.history.length > 0) {
      const h = this.history;
      // Sequence numbers are given in the dump's order (ORDER BY the position in the arrays): the
      // audit trail keeps the order the changes were made in.
      await c.query(
        `INSERT INTO firstcall_finding_status_history (id, status, reason, actor, at)
         SELECT id, status, reason, actor, at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
           AS t (id, status, reason, actor, at, n) ORDER BY n`,
        [h.map((r) => r.id), h.map((r) => r.status), h.map((r) => r.reason), h.map((r) => r.actor), h.map((r) => r.at)],
      );
      this.history = [];
    }
    if (this.outbox.length > 0) {
      const o = this.outbox;
      // Unclaimed: a claim belongs to a live process; any worker of this state takes a pending row.
      await c.query(
        `INSERT INTO firstcall_outbox (finding_id, destination, generation, state, attempts, message, created_at, updated_at)
         SELECT finding_id, destination, generation, state, attempts, message, created_at, updated_at
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[])
           WITH ORDINALITY AS t (finding_id, destination, generation, state, attempts, message, created_at, updated_at, n)
         ORDER BY n`,
        [
          o.map((r) => r.findingId),
          o.map((r) => r.destination),
          o.map((r) => r.generation),
          o.map((r) => r.state),
          o.map((r) => r.attempts),
          o.map((r) => r.message),
          o.map((r) => r.createdAt),
          o.map((r) => r.updatedAt),
        ],
      );
      this.outbox = [];
    }
  }
}

/**
 * Counts (and unless `dryRun` deletes) what is older than the cut, in one transaction that holds the
 * checkpoint lock: as `pruneSqlite` (findings with their statuses, history and settled outbox rows;
 * settled outbox rows last changed before the cut; a finding with a delivery still owed is kept), and
 * processed staged events. Staged events not processed yet are never dropped: they are work still to do.
 */
export async function prunePostgres(client: pg.Client, location: string, cut: PruneCut): Promise<PruneResult> {
  const cutIso = `${new Date(Math.floor(cut.before / 1000) * 1000).toISOString().slice(0, 19)}Z`;
  const cutMs = new Date(cut.before).toISOString();
  await client.query("BEGIN");
  try {
    await lockCheckpoints(client, location);
    const owed = "SELECT finding_id FROM firstcall_outbox WHERE state = 'pending'";
    // The findings that go, fixed once (the statements below all name them).
    await client.query(
      `CREATE TEMPORARY TABLE firstcall_pruned ON COMMIT DROP AS
       SELECT id FROM firstcall_findings WHERE time < $1 AND id NOT IN (${owed})`,
      [cutIso],
    );
    const keptPending = Number(
      (
        await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM firstcall_findings WHERE time < $1 AND id IN (${owed})`,
          [cutIso],
        )
      ).rows[0]?.n ?? 0,
    );
    const verb = cut.dryRun ? "SELECT count(*) AS n FROM" : "WITH d AS (DELETE FROM";
    const tail = cut.dryRun ? "" : " RETURNING 1) SELECT count(*) AS n FROM d";
    const n = async (table: string, where: string, value: unknown[]) =>
      Number((await client.query<{ n: string }>(`${verb} ${table} WHERE ${where}${tail}`, value)).rows[0]?.n ?? 0);
    const pruned = "SELECT id FROM firstcall_pruned";
    // The dependants first: they name the findings about to go.
    const statuses = await n("firstcall_finding_statuses", `id IN (${pruned})`, []);
    const statusHistory = await n("firstcall_finding_status_history", `id IN (${pruned})`, []);
    const outbox = await n(
      "firstcall_outbox",
      `state <> 'pending' AND (updated_at < $1::timestamptz OR finding_id IN (${pruned}))`,
      [cutMs],
    );
    const result: PruneResult = {
      findings: await n("firstcall_findings", `id IN (${pruned})`, []),
      sessions: await n("firstcall_sessions", "valid_until < $1", [Math.floor(cut.before)]),
      objects: await n("firstcall_objects", "mtime_ms < $1", [cut.before]),
      events: await n("firstcall_events", "processed AND time < $1", [cut.before]),
      statuses,
      statusHistory,
      outbox,
      keptPending,
    };
    await client.query(cut.dryRun ? "ROLLBACK" : "COMMIT");
    return result;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

/** What `firstcall state retire-worker` did. */
export interface RetireResult {
  readonly worker: string;
  /** It was already finished: nothing changed. */
  readonly alreadyFinished: boolean;
  /** Its last committed read position (ISO), if any. */
  readonly readPosition: string | null;
  /** Workers still running (not finished) after this one is retired. */
  readonly stillRunning: readonly string[];
  /** Events staged and not processed yet: with no worker left running, one more worker run processes them. */
  readonly waitingEvents: number;
}

/**
 * Marks a worker that will not come back as finished, so the others' processing no longer waits for
 * its read position. Refused while the worker runs (its advisory lock is held). Its stream position
 * and output lengths are kept: a worker started again under the name resumes from them.
 */
export async function retirePostgresWorker(client: pg.Client, location: string, worker: string): Promise<RetireResult> {
  await client.query("BEGIN");
  try {
    await lockCheckpoints(client, location);
    const row = (
      await client.query<{ watermark: number | null; finished: boolean }>(
        "SELECT watermark, finished FROM firstcall_streams WHERE worker = $1",
        [worker],
      )
    ).rows[0];
    if (!row) {
      const known = (await client.query<{ worker: string }>("SELECT worker FROM firstcall_streams ORDER BY worker"))
        .rows;
      throw new StateError(
        "E_STATE",
        `${location}: no worker named "${worker}" (workers: ${known.map((k) => k.worker).join(", ") || "none"})`,
      );
    }
    if ((await runningWorkers(client, [worker])).length > 0)
      throw new StateError(
        "E_STATE_BUSY",
        `${location}: worker "${worker}" is running (a firstcall process holds its name); stop it first, or let it finish`,
      );
    if (!row.finished)
      await client.query("UPDATE firstcall_streams SET finished = true, updated_at = now() WHERE worker = $1", [
        worker,
      ]);
    const still = await client.query<{ worker: string }>(
      "SELECT worker FROM firstcall_streams WHERE NOT finished ORDER BY worker",
    );
    const waiting = await client.query<{ n: string }>("SELECT count(*) AS n FROM firstcall_events WHERE NOT processed");
    await client.query("COMMIT");
    return {
      worker,
      alreadyFinished: row.finished,
      readPosition: row.watermark === null ? null : new Date(row.watermark).toISOString(),
      stillRunning: still.rows.map((r) => r.worker),
      waitingEvents: Number(waiting.rows[0]?.n ?? 0),
    };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}
