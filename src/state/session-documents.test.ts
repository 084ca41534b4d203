/**
 * The current state schema in a real SQLite file: session documents are written in the binary layout, a file
 * of schema 3 (deflated JSON documents) is migrated on open without rewriting a row, its documents
 * still read, and each is rewritten in the binary layout when its session changes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { BINARY_SESSION_MARK } from "../engine/session-binary.js";
import { emptyFleet, encodeSessionJson, type SessionState } from "../engine/state.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { SCHEMA_VERSION, SqliteStore } from "./sqlite.js";
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

test("a new state writes session documents in the binary layout and reads them back", async () => {
  const path = join(scratchDir(), "state.sqlite");
  const store = SqliteStore.open(path);
  const s = session(1);
  try {
    await commitSession(store, s);
    assert.deepEqual((await store.loadSessions([s.key])).get(s.key), s);
  } finally {
    await store.close();
  }
  assert.equal(storedDocument(path, s.key)[0], BINARY_SESSION_MARK);
});

test("a schema 3 state is migrated to the current schema on open; its JSON documents read, and are rewritten binary when changed", async () => {
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
  assert.equal(storedDocument(path, s.key)[0], BINARY_SESSION_MARK);
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
