/**
 * Objects identified by ETag (S3) next to size + mtime (files), in a real SQLite state file, and a
 * state file written before the `etag` column existed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { emptyFleet, encodeDocument } from "../engine/state.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { APPLICATION_ID, SCHEMA_VERSION, SqliteStore } from "./sqlite.js";
import { type ScannedObject, sameObject } from "./store.js";

const scratchDir = scratchDirs("firstcall-etag-");

function commitObjects(store: SqliteStore, objects: ScannedObject[]): Promise<void> {
  return store.commit({
    sessions: [],
    deletedSessions: [],
    fleet: emptyFleet(),
    findings: [],
    objects,
    pending: encodeDocument({ watermark: null, cut: null, ids: [] }),
  });
}

test("sameObject: ETag and size for S3 objects, size and mtime for files", () => {
  const file: ScannedObject = { id: "a.json", size: 10, mtimeMs: 5, records: 1, status: "complete" };
  assert.equal(sameObject(file, { size: 10, mtimeMs: 5 }), true);
  assert.equal(sameObject(file, { size: 10, mtimeMs: 6 }), false);
  assert.equal(sameObject(file, { size: 11, mtimeMs: 5 }), false);
  const s3: ScannedObject = { id: "s3://b/k", size: 10, mtimeMs: 5, etag: "abc", records: 1, status: "complete" };
  // LastModified may change (a copy onto itself) while the content does not: the ETag decides.
  assert.equal(sameObject(s3, { size: 10, mtimeMs: 99, etag: "abc" }), true);
  assert.equal(sameObject(s3, { size: 10, mtimeMs: 5, etag: "abd" }), false);
  assert.equal(sameObject(s3, { size: 10, mtimeMs: 5 }), false, "an ETag on one side only is not the same object");
  assert.equal(sameObject(file, { size: 10, mtimeMs: 5, etag: "abc" }), false);
  assert.equal(sameObject(undefined, { size: 10, mtimeMs: 5 }), false);
});

test("the ETag is stored and read back; files have none", async () => {
  const path = join(scratchDir(), "state.sqlite");
  const store = SqliteStore.open(path);
  try {
    await commitObjects(store, [
      { id: "s3://b/k", size: 10, mtimeMs: 5, etag: "0123abcd", records: 3, status: "complete" },
      { id: "/logs/a.json", size: 7, mtimeMs: 1.5, records: 2, status: "partial" },
    ]);
    assert.deepEqual(await store.scannedObject("s3://b/k"), {
      id: "s3://b/k",
      size: 10,
      mtimeMs: 5,
      etag: "0123abcd",
      records: 3,
      status: "complete",
    });
    assert.deepEqual(await store.scannedObject("/logs/a.json"), {
      id: "/logs/a.json",
      size: 7,
      mtimeMs: 1.5,
      records: 2,
      status: "partial",
    });
  } finally {
    await store.close();
  }
});

test("a state file from before the etag column is read, and gains the column", async () => {
  const path = join(scratchDir(), "old.sqlite");
  // The schema as it was written before S3 objects (schema 3, the version that gained the column in place).
  const old = new Database(path);
  old.pragma(`application_id = ${APPLICATION_ID}`);
  old.pragma("user_version = 3");
  old.exec(`
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE sessions (key TEXT PRIMARY KEY, valid_until INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE findings (id TEXT PRIMARY KEY, time TEXT NOT NULL, data BLOB NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE objects (id TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, records INTEGER NOT NULL,
  status TEXT NOT NULL, scanned_at TEXT NOT NULL) WITHOUT ROWID;`);
  old.prepare("INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)").run("/logs/a.json", 7, 1.5, 2, "complete", "2026-11-01");
  old.close();

  const store = SqliteStore.open(path);
  try {
    const stored = await store.scannedObject("/logs/a.json");
    assert.deepEqual(stored, { id: "/logs/a.json", size: 7, mtimeMs: 1.5, records: 2, status: "complete" });
    assert.equal(sameObject(stored, { size: 7, mtimeMs: 1.5 }), true, "old files are still skipped");
    await commitObjects(store, [{ id: "s3://b/k", size: 1, mtimeMs: 0, etag: "e", records: 0, status: "complete" }]);
    assert.equal((await store.scannedObject("s3://b/k"))?.etag, "e");
  } finally {
    await store.close();
  }
  const check = new Database(path, { readonly: true });
  try {
    const columns = (check.prepare("PRAGMA table_info(objects)").all() as { name: string }[]).map((c) => c.name);
    assert.ok(columns.includes("etag"));
    assert.equal(check.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  } finally {
    check.close();
  }
});
