/**
 * `state export`, `import` and `prune` on a SQLite state (the SqliteStore methods of the same names
 * call these with their connection). The dump's records are described in store.ts (`StateRecord`).
 */
import type Database from "better-sqlite3";
import { decodeDocument, decodeFleet, encodeDocument } from "../engine/state.js";
import { StateError } from "../errors.js";
import type { DeliveryState } from "../findings/delivery/outbox.js";
import { collapseStreams, sessionBytes, sessionDocument } from "./state-dump.js";
import {
  emptyCounts,
  type FindingStatusValue,
  type ImportOptions,
  type ImportResult,
  type PruneCut,
  type PruneResult,
  type RecordCounts,
  type StateInfo,
  type StateRecord,
} from "./store.js";
import { decodeStreamPosition, eventIdKey } from "./stream-position.js";

/** A single-process state's one stream is named like a shared store's default worker. */
export const SINGLE_STREAM = "default";

/**
 * Every record, in one read transaction: a scan committing meanwhile (WAL) does not change what the
 * export sees.
 */
export async function* exportSqlite(db: Database.Database): AsyncGenerator<StateRecord> {
  db.exec("BEGIN");
  try {
    const meta = db.prepare("SELECT key, value FROM meta ORDER BY key").all() as { key: string; value: unknown }[];
    for (const m of meta) {
      if (m.key === "fleet") yield { type: "fleet", doc: decodeDocument(m.value as Buffer) };
    }
    for (const m of meta) {
      if (m.key === "settings") yield { type: "settings", fingerprint: String(m.value) };
      else if (m.key === "pending") {
        const position = Buffer.from(m.value as Buffer);
        decodeStreamPosition(position); // refuse to export what could not be imported
        // One process's stream: every buffered event was processed at its last checkpoint, so it
        // holds nothing back (a shared store's readPosition/finished mean the same).
        yield {
          type: "stream",
          worker: SINGLE_STREAM,
          position: position.toString("base64"),
          readPosition: null,
          finished: true,
        };
      }
    }
    for (const m of meta) {
      if (m.key.startsWith("output:"))
        yield { type: "output", worker: SINGLE_STREAM, path: m.key.slice("output:".length), bytes: Number(m.value) };
    }
    for (const r of db.prepare("SELECT key, valid_until, data FROM sessions ORDER BY key").iterate() as Iterable<{
      key: string;
      valid_until: number;
      data: Buffer;
    }>) {
      yield { type: "session", key: r.key, validUntil: r.valid_until, doc: sessionDocument(r.data, r.key) };
    }
    for (const r of db.prepare("SELECT id, time, data, updated_at FROM findings ORDER BY id").iterate() as Iterable<{
      id: string;
      time: string;
      data: Buffer;
      updated_at: string;
    }>) {
      yield {
        type: "finding",
        id: r.id,
        time: r.time,
        updatedAt: r.updated_at,
        worker: null,
        doc: decodeDocument(r.data),
      };
    }
    // A file of schema 3 or 4 opened to read is not migrated: it has no statuses, or no outbox, yet.
    const has = (table: string) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    if (has("finding_statuses")) {
      for (const r of db
        .prepare("SELECT id, status, reason, actor, at FROM finding_statuses ORDER BY id")
        .iterate() as Iterable<StatusRow>) {
        yield { type: "status", id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at };
      }
      // In the order the changes were made: the importer's own sequence numbers keep it.
      for (const r of db
        .prepare("SELECT id, status, reason, actor, at FROM finding_status_history ORDER BY seq")
        .iterate() as Iterable<StatusRow>) {
        yield { type: "history", id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at };
      }
    }
    if (has("outbox")) {
      for (const r of db
        .prepare(
          "SELECT finding_id, destination, generation, state, attempts, message, created_at, updated_at FROM outbox ORDER BY seq",
        )
        .iterate() as Iterable<OutboxDbRow>) {
        yield {
          type: "outbox",
          findingId: r.finding_id,
          destination: r.destination,
          generation: r.generation,
          state: r.state,
          attempts: r.attempts,
          message: r.message,
          createdAt: r.created_at,
          updatedAt: r.updated_at,
        };
      }
    }
    for (const r of db
      .prepare("SELECT id, size, mtime_ms, records, status, scanned_at, etag FROM objects ORDER BY id")
      .iterate() as Iterable<{
      id: string;
      size: number;
      mtime_ms: number;
      records: number;
      status: "complete" | "partial";
      scanned_at: string;
      etag: string | null;
    }>) {
      yield {
        type: "object",
        id: r.id,
        size: r.size,
        mtimeMs: r.mtime_ms,
        etag: r.etag,
        records: r.records,
        status: r.status,
        scannedAt: r.scanned_at,
        worker: null,
      };
    }
  } finally {
    if (db.inTransaction) db.exec("COMMIT");
  }
}

interface StatusRow {
  id: string;
  status: FindingStatusValue;
  reason: string;
  actor: string;
  at: string;
}

interface OutboxDbRow {
  finding_id: string;
  destination: string;
  generation: number;
  state: DeliveryState;
  attempts: number;
  message: string | null;
  created_at: string;
  updated_at: string;
}

/** Rows per record type as the file holds them now. */
function storedCounts(db: Database.Database): RecordCounts {
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    ...emptyCounts(),
    fleet: count("SELECT count(*) AS n FROM meta WHERE key = 'fleet'"),
    settings: count("SELECT count(*) AS n FROM meta WHERE key = 'settings'"),
    stream: count("SELECT count(*) AS n FROM meta WHERE key = 'pending'"),
    output: count("SELECT count(*) AS n FROM meta WHERE key LIKE 'output:%'"),
    session: count("SELECT count(*) AS n FROM sessions"),
    finding: count("SELECT count(*) AS n FROM findings"),
    status: count("SELECT count(*) AS n FROM finding_statuses"),
    history: count("SELECT count(*) AS n FROM finding_status_history"),
    outbox: count("SELECT count(*) AS n FROM outbox"),
    object: count("SELECT count(*) AS n FROM objects"),
  };
}

/**
 * Writes a dump's records in one transaction, refusing (unless `replace`) a state that holds data,
 * and checking before committing that the file holds exactly what was read.
 */
export async function importSqlite(
  db: Database.Database,
  location: string,
  records: AsyncIterable<StateRecord>,
  options: ImportOptions,
): Promise<ImportResult> {
  const read = emptyCounts();
  const before = storedCounts(db);
  const held =
    before.session +
    before.finding +
    before.object +
    before.stream +
    before.fleet +
    before.status +
    before.history +
    before.outbox;
  if (held > 0 && !options.replace) throw notEmpty(location, before);
  const putMeta = db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  );
  const putSession = db.prepare("INSERT INTO sessions (key, valid_until, data) VALUES (?, ?, ?)");
  const putFinding = db.prepare("INSERT INTO findings (id, time, data, updated_at) VALUES (?, ?, ?, ?)");
  const putObject = db.prepare(
    "INSERT INTO objects (id, size, mtime_ms, records, status, scanned_at, etag) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const putStatus = db.prepare("INSERT INTO finding_statuses (id, status, reason, actor, at) VALUES (?, ?, ?, ?, ?)");
  const putHistory = db.prepare(
    "INSERT INTO finding_status_history (id, status, reason, actor, at) VALUES (?, ?, ?, ?, ?)",
  );
  // A claim is not carried (SQLite has none): a pending row stays pending, for this file's next run.
  const putOutbox = db.prepare(
    `INSERT INTO outbox (finding_id, destination, generation, state, attempts, message, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const streams: Extract<StateRecord, { type: "stream" }>[] = [];
  const outputs: Extract<StateRecord, { type: "output" }>[] = [];
  const processedIds: [string, number][] = [];
  let unprocessed = 0;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (options.replace)
      db.exec(
        `DELETE FROM sessions; DELETE FROM findings; DELETE FROM objects; DELETE FROM meta;
         DELETE FROM finding_statuses; DELETE FROM finding_status_history; DELETE FROM outbox;`,
      );
    for await (const r of records) {
      read[r.type]++;
      switch (r.type) {
        case "fleet": {
          const data = encodeDocument(r.doc);
          decodeFleet(data); // a document the engine cannot load is refused here, not at the next scan
          putMeta.run("fleet", data);
          break;
        }
        case "settings":
          putMeta.run("settings", r.fingerprint);
          break;
        case "stream":
          streams.push(r);
          break;
        case "output":
          outputs.push(r);
          break;
        case "session":
          putSession.run(r.key, r.validUntil, sessionBytes(r.doc, { compactUnder: r.key }));
          break;
        case "finding":
          putFinding.run(r.id, r.time, encodeDocument(r.doc), r.updatedAt);
          break;
        case "object":
          putObject.run(r.id, r.size, r.mtimeMs, r.records, r.status, r.scannedAt, r.etag);
          break;
        case "status":
          putStatus.run(r.id, r.status, r.reason, r.actor, r.at);
          break;
        case "history":
          putHistory.run(r.id, r.status, r.reason, r.actor, r.at);
          break;
        case "outbox":
          putOutbox.run(
            r.findingId,
            r.destination,
            r.generation,
            r.state,
            r.attempts,
            r.message,
            r.createdAt,
            r.updatedAt,
          );
          break;
        case "event":
          if (r.processed) processedIds.push([eventIdKey(r.id), r.time]);
          else unprocessed++;
          break;
      }
    }
    const kept = collapseStreams(streams, outputs, processedIds, unprocessed, location);
    if (kept.pending) putMeta.run("pending", kept.pending);
    for (const o of kept.outputs) putMeta.run(`output:${o.path}`, o.bytes);
    const stored = storedCounts(db);
    const expected: RecordCounts = {
      ...read,
      stream: kept.pending ? 1 : 0,
      output: new Set(kept.outputs.map((o) => o.path)).size,
      event: 0,
    };
    for (const t of [
      "fleet",
      "settings",
      "session",
      "finding",
      "status",
      "history",
      "outbox",
      "object",
      "stream",
      "output",
    ] as const) {
      if (stored[t] !== expected[t])
        throw new StateError(
          "E_STATE_DUMP",
          `${location}: after the import the state holds ${stored[t]} ${t} records where ${expected[t]} were expected (the dump repeats a key?); nothing was imported`,
        );
    }
    db.exec("COMMIT");
    return { read, stored, replaced: options.replace ? before : emptyCounts(), notes: kept.notes };
  } catch (e) {
    if (db.inTransaction) db.exec("ROLLBACK");
    if (e instanceof StateError) throw e;
    throw new StateError("E_STATE_DUMP", `${location}: import failed, nothing was imported: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The refusal to import into a state that holds data, saying why mixing two states is wrong. */
export function notEmpty(location: string, held: RecordCounts): StateError {
  return new StateError(
    "E_STATE_NOT_EMPTY",
    `${location}: already holds a state (${held.session} sessions, ${held.finding} findings, ${held.object} scanned objects); importing into it would mix two states: their stream positions (which records were already processed) and scanned objects (which would be skipped) cannot be combined correctly. Import into a new state, or pass --force to replace this one's content with the dump's.`,
  );
}

/**
 * Counts (and unless `dryRun` deletes, in one transaction) what is older than the cut: findings with
 * their statuses, status history and settled outbox rows; settled outbox rows (delivered, skipped,
 * rejected) last changed before the cut; sessions; scanned objects. A finding with a delivery still
 * owed (a pending outbox row) is kept, however old, and counted in `keptPending`.
 */
export function pruneSqlite(db: Database.Database, cut: PruneCut): PruneResult {
  const cutIso = cutTimeText(cut.before);
  const cutMs = new Date(cut.before).toISOString();
  const has = (table: string) =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
  // A schema 3 or 4 file opened to read (a dry run) has no outbox or statuses yet.
  const outbox = has("outbox");
  const statuses = has("finding_statuses");
  const owed = outbox ? "SELECT finding_id FROM outbox WHERE state = 'pending'" : "SELECT NULL WHERE 0";
  const pruned = `SELECT id FROM findings WHERE time < @cutIso AND id NOT IN (${owed})`;
  const run = () => {
    const count = (sql: string) => (db.prepare(sql).get({ cutIso, cutMs }) as { n: number }).n;
    const settled = `FROM outbox WHERE state <> 'pending' AND (updated_at < @cutMs OR finding_id IN (${pruned}))`;
    const result: PruneResult = {
      findings: count(`SELECT count(*) AS n FROM (${pruned})`),
      sessions: (
        db.prepare("SELECT count(*) AS n FROM sessions WHERE valid_until < ?").get(cut.before) as { n: number }
      ).n,
      objects: (db.prepare("SELECT count(*) AS n FROM objects WHERE mtime_ms < ?").get(cut.before) as { n: number }).n,
      events: 0,
      statuses: statuses ? count(`SELECT count(*) AS n FROM finding_statuses WHERE id IN (${pruned})`) : 0,
      statusHistory: statuses ? count(`SELECT count(*) AS n FROM finding_status_history WHERE id IN (${pruned})`) : 0,
      outbox: outbox ? count(`SELECT count(*) AS n ${settled}`) : 0,
      keptPending: outbox ? count(`SELECT count(*) AS n FROM findings WHERE time < @cutIso AND id IN (${owed})`) : 0,
    };
    if (!cut.dryRun) {
      // The dependants first: they name the findings about to go.
      if (statuses) {
        db.prepare(`DELETE FROM finding_statuses WHERE id IN (${pruned})`).run({ cutIso });
        db.prepare(`DELETE FROM finding_status_history WHERE id IN (${pruned})`).run({ cutIso });
      }
      if (outbox) db.prepare(`DELETE ${settled}`).run({ cutIso, cutMs });
      db.prepare(`DELETE FROM findings WHERE id IN (${pruned})`).run({ cutIso });
      db.prepare("DELETE FROM sessions WHERE valid_until < ?").run(cut.before);
      db.prepare("DELETE FROM objects WHERE mtime_ms < ?").run(cut.before);
    }
    return result;
  };
  return cut.dryRun ? db.transaction(run)() : db.transaction(run).immediate();
}

/**
 * The cut as findings write their `time` (CloudTrail's `YYYY-MM-DDTHH:MM:SSZ`), rounded down to the
 * second, so that text comparison orders it with them.
 * @example cutTimeText(Date.parse("2026-11-01T03:10:00.500Z")) // "2026-11-01T03:10:00Z"
 */
export function cutTimeText(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * `state inspect`'s statuses from counts per stored value (absent values count 0).
 * @example statusCounts({ suppressed: 2 }) // { acknowledged: 0, suppressed: 2 }
 */
export function statusCounts(byValue: Record<string, number | string>): NonNullable<StateInfo["statuses"]> {
  return { acknowledged: Number(byValue.acknowledged ?? 0), suppressed: Number(byValue.suppressed ?? 0) };
}

/**
 * `state inspect`'s outbox rows per state from counts per stored state (absent states count 0).
 * @example outboxCounts({ pending: 3 }) // { pending: 3, delivered: 0, skipped: 0, rejected: 0 }
 */
export function outboxCounts(byState: Record<string, number | string>): NonNullable<StateInfo["outbox"]> {
  return {
    pending: Number(byState.pending ?? 0),
    delivered: Number(byState.delivered ?? 0),
    skipped: Number(byState.skipped ?? 0),
    rejected: Number(byState.rejected ?? 0),
  };
}
