/**
 * The current state schema in a real SQLite file: session documents are written in the deflated
 * binary layout; a file of schema 3 (deflated JSON documents) is migrated on open without rewriting a
 * row, its documents still read, and each is rewritten when its session changes; a file of schema 5
 * (binary documents in a row-id table) is read as it is by a reader and migrated by a writer with
 * nothing lost.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { BINARY_SESSION_MARK, DEFLATED_SESSION_MARK, encodeSessionBinary } from "../engine/session-binary.js";
import { emptyFleet, encodeDocument, encodeFleet, encodeSessionJson, type SessionState } from "../engine/state.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { APPLICATION_ID, SCHEMA_VERSION, SqliteStore } from "./sqlite.js";
import { encodeStreamPosition } from "./stream-position.js";

const scratchDir = scratchDirs("firstcall-session-docs-");
const T0 = Date.parse("2026-11-01T00:00:00Z");

function session(count: number): SessionState {
  const key = "arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0";
  return {
    key,
    kind: "ec2-instance",
    arn: key,
    roleArn: "arn:aws:iam::111122223333:role/web",
    sessionName: "i-0123456789abcdef0",
    instanceId: "i-0123456789abcdef0",
    account: "111122223333",
    lifetimes: [
      {
        start: T0,
        validUntil: T0 + 6 * 3_600_000,
        covered: true,
        direct: new Map([
          [
            "198.51.100.7",
            {
              first: {
                id: "3038ebd2-c98a-4c65-9b6e-e22506292313",
                time: T0 + 5000,
                timeIso: "2026-11-01T00:00:05Z",
                name: "GetObject",
                source: "s3.amazonaws.com",
                region: "eu-west-1",
                account: "111122223333",
                ip: "198.51.100.7",
                accessKeyId: "ASIAQ2ZXWVYT7EXAMPLE",
              },
              last: T0 + 5000,
              lastIso: "2026-11-01T00:00:05Z",
              count,
              samples: [[T0 + 5000, "3038ebd2-c98a-4c65-9b6e-e22506292313"]],
              names: ["GetObject"],
              accessKeys: ["ASIAQ2ZXWVYT7EXAMPLE"],
              userAgents: [],
            },
          ],
        ]),
        endpoint: new Map(),
      },
    ],
  };
}

function commitSession(store: SqliteStore, s: SessionState): Promise<void> {
  return store.commit({
    sessions: [s],
    deletedSessions: [],
    fleet: emptyFleet(),
    findings: [],
    objects: [],
    pending: encodeStreamPosition({ watermark: null, cut: null, ids: [] }),
  });
}

function storedDocument(path: string, key: string): Buffer {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT data FROM sessions WHERE key = ?").get(key) as { data: Buffer }).data;
  } finally {
    db.close();
  }
}

test("a new state writes session documents in the deflated binary layout and reads them back", async () => {
  const path = join(scratchDir(), "state.sqlite");
  const store = SqliteStore.open(path);
  const s = session(1);
  try {
    await commitSession(store, s);
    assert.deepEqual((await store.loadSessions([s.key])).get(s.key), s);
  } finally {
    await store.close();
  }
  assert.equal(storedDocument(path, s.key)[0], DEFLATED_SESSION_MARK);
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma("page_size", { simple: true }), 16384);
    assert.equal(db.pragma("auto_vacuum", { simple: true }), 1, "FULL");
  } finally {
    db.close();
  }
});

test("a schema 3 state is migrated to the current schema on open; its JSON documents read, and are rewritten deflated binary when changed", async () => {
  const path = join(scratchDir(), "v3.sqlite");
  await SqliteStore.open(path).close();
  const s = session(1);
  // What schema 3 wrote: the deflated JSON form.
  const db = new Database(path);
  db.exec("DROP TABLE finding_statuses; DROP TABLE finding_status_history; DROP TABLE outbox");
  db.pragma("user_version = 3");
  db.prepare("INSERT INTO sessions (key, valid_until, data) VALUES (?, ?, ?)").run(
    s.key,
    T0 + 6 * 3_600_000,
    encodeSessionJson(s),
  );
  db.close();

  // A reader (firstcall serve) opens a schema 3 file as it is, without migrating it.
  const reader = SqliteStore.open(path, { readOnly: true });
  try {
    assert.deepEqual((await reader.loadSessions([s.key])).get(s.key), s);
  } finally {
    await reader.close();
  }
  const check = new Database(path, { readonly: true });
  assert.equal(check.pragma("user_version", { simple: true }), 3);
  check.close();

  const store = SqliteStore.open(path);
  try {
    assert.deepEqual((await store.loadSessions([s.key])).get(s.key), s, "the JSON document reads as it was");
    assert.notEqual(storedDocument(path, s.key)[0], BINARY_SESSION_MARK, "not rewritten by the migration");
    const changed = session(2);
    await commitSession(store, changed);
    assert.deepEqual((await store.loadSessions([s.key])).get(s.key), changed);
  } finally {
    await store.close();
  }
  assert.equal(storedDocument(path, s.key)[0], DEFLATED_SESSION_MARK);
  const after = new Database(path, { readonly: true });
  assert.equal(after.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  after.close();
});

test("a state of a newer schema is refused, not misread", () => {
  const path = join(scratchDir(), "v5.sqlite");
  SqliteStore.open(path).close();
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => SqliteStore.open(path), /written by a newer firstcall/);
});

/** The tables of state schema 5 exactly as that version created them (sessions with row ids). */
const SCHEMA_5 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE sessions (key TEXT PRIMARY KEY, valid_until INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE findings (id TEXT PRIMARY KEY, time TEXT NOT NULL, data BLOB NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE objects (id TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, records INTEGER NOT NULL,
  status TEXT NOT NULL, scanned_at TEXT NOT NULL, etag TEXT) WITHOUT ROWID;
CREATE TABLE finding_statuses (id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
  at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE finding_status_history (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX finding_status_history_id ON finding_status_history (id, seq);
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, finding_id TEXT NOT NULL, destination TEXT NOT NULL,
  generation INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, message TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (finding_id, destination));
CREATE INDEX outbox_due ON outbox (destination, seq) WHERE state = 'pending';
CREATE INDEX findings_updated_at ON findings (updated_at);
`;

/** Another session whose times are not whole milliseconds: the binary layout does not model it (JSON form). */
function unmodelled(): SessionState {
  const s = session(3);
  return {
    ...s,
    key: "arn:aws:sts::111122223333:assumed-role/web/i-0fedcba9876543210",
    arn: "arn:aws:sts::111122223333:assumed-role/web/i-0fedcba9876543210",
    sessionName: "i-0fedcba9876543210",
    instanceId: "i-0fedcba9876543210",
    lifetimes: s.lifetimes.map((l) => ({ ...l, start: T0 + 0.5 })),
  };
}

test("a schema 5 state (binary documents, row ids, 4 KB pages): a reader reads it as it is; a writer migrates it with nothing lost", async () => {
  const path = join(scratchDir(), "v5.sqlite");
  const binary = session(7);
  const json = unmodelled();
  assert.equal(encodeSessionBinary(json), undefined);
  const finding = { finding: { id: "f-1", time: "2026-11-01T00:00:05Z" }, extra: "kept" };
  const db = new Database(path);
  db.pragma("auto_vacuum = FULL");
  db.pragma("journal_mode = WAL");
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.pragma("user_version = 5");
  db.exec(SCHEMA_5);
  const put = db.prepare("INSERT INTO sessions (key, valid_until, data) VALUES (?, ?, ?)");
  put.run(binary.key, T0 + 6 * 3_600_000, encodeSessionBinary(binary));
  put.run(json.key, T0 + 6 * 3_600_000, encodeSessionJson(json));
  db.prepare("INSERT INTO findings (id, time, data, updated_at) VALUES (?, ?, ?, ?)").run(
    "f-1",
    finding.finding.time,
    encodeDocument(finding),
    "2026-11-01T01:00:00.000Z",
  );
  db.prepare("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)").run(
    "fleet",
    encodeFleet(emptyFleet()),
    "pending",
    encodeStreamPosition({ watermark: T0, cut: null, ids: [] }),
  );
  db.close();
  const jsonBytes = storedDocument(path, json.key);

  const reader = SqliteStore.open(path, { readOnly: true });
  try {
    const read = await reader.loadSessions([binary.key, json.key]);
    assert.deepEqual(read.get(binary.key), binary);
    assert.deepEqual(read.get(json.key), json);
  } finally {
    await reader.close();
  }
  const unchanged = new Database(path, { readonly: true });
  assert.equal(unchanged.pragma("user_version", { simple: true }), 5, "a reader does not migrate");
  unchanged.close();

  const store = SqliteStore.open(path);
  try {
    const read = await store.loadSessions([binary.key, json.key]);
    assert.deepEqual(read.get(binary.key), binary);
    assert.deepEqual(read.get(json.key), json);
    assert.deepEqual([...store.allSessions()].map((s) => s.key).sort(), [binary.key, json.key].sort());
    assert.deepEqual(await store.allFindings(), [finding]);
  } finally {
    await store.close();
  }
  assert.equal(storedDocument(path, binary.key)[0], DEFLATED_SESSION_MARK, "binary documents are deflated");
  assert.deepEqual(storedDocument(path, json.key), jsonBytes, "a JSON document is copied as it is");
  const after = new Database(path, { readonly: true });
  try {
    assert.equal(after.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    assert.equal(after.pragma("page_size", { simple: true }), 16384, "rebuilt with the larger pages");
    assert.equal(after.pragma("journal_mode", { simple: true }), "wal");
    const sql = (after.prepare("SELECT sql FROM sqlite_master WHERE name = 'sessions'").get() as { sql: string }).sql;
    assert.match(sql, /WITHOUT ROWID/);
    assert.deepEqual(
      after.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_sessions%'").get(),
      { n: 0 },
      "no index repeating the keys",
    );
  } finally {
    after.close();
  }
});
