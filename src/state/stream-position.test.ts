import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { encodeDocument } from "../engine/state.js";
import { StateError } from "../errors.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { SCHEMA_VERSION, SqliteStore } from "./sqlite.js";
import {
  decodeStreamPosition,
  EVENT_ID_KEY_BYTES,
  encodeStreamPosition,
  encodeStreamPositionOf,
  eventIdKey,
  streamPositionFromSchema2,
} from "./stream-position.js";

const scratchDir = scratchDirs();

test("a stream position round-trips: watermark, cut, keys and times in order", () => {
  const base = Date.parse("2026-11-01T00:00:00Z");
  // Times out of order (late records), equal, far apart and near the epoch: every difference round-trips.
  const times = [base, base + 1, base - 3_600_000, base - 3_600_000, base + 86_400_000 * 400, 0, base];
  const ids = times.map((t, i) => [eventIdKey(`id-${i}`), t] as [string, number]);
  const data = encodeStreamPosition({ watermark: base + 5, cut: base - 7, ids });
  assert.deepEqual(decodeStreamPosition(data), { watermark: base + 5, cut: base - 7, ids });
  assert.deepEqual(decodeStreamPosition(encodeStreamPosition({ watermark: null, cut: null, ids: [] })), {
    watermark: null,
    cut: null,
    ids: [],
  });
});

test("a record costs 12 bytes of key and a byte or two of time", () => {
  const base = Date.parse("2026-11-01T00:00:00Z");
  const ids = Array.from({ length: 10_000 }, (_, i) => [eventIdKey(randomUUID()), base + i * 37] as [string, number]);
  const data = encodeStreamPosition({ watermark: base, cut: base, ids });
  assert.ok(data.length <= 24 + 10_000 * (EVENT_ID_KEY_BYTES + 1) + 8, `${data.length} bytes`);
});

test("keys: 12 latin1 characters, equal for equal ids, different for different ids", () => {
  const a = eventIdKey("3038ebd2-c98a-4c65-9b6e-e22506292313");
  assert.equal(a.length, EVENT_ID_KEY_BYTES);
  assert.equal(a, eventIdKey("3038ebd2-c98a-4c65-9b6e-e22506292313"));
  assert.notEqual(a, eventIdKey("3038ebd2-c98a-4c65-9b6e-e22506292314"));
  // Ids that are not UUIDs (other producers, tests) and non-ASCII ones are keyed alike.
  assert.equal(eventIdKey("é✓").length, EVENT_ID_KEY_BYTES);
  const keys = new Set(Array.from({ length: 50_000 }, () => eventIdKey(randomUUID())));
  assert.equal(keys.size, 50_000);
});

test("bytes that are not a stream position are refused with a state error", () => {
  for (const bad of [Buffer.alloc(0), Buffer.from("not a position at all"), encodeDocument({ ids: [] })]) {
    assert.throws(
      () => decodeStreamPosition(bad),
      (e: unknown) => e instanceof StateError && e.code === "E_STATE_SCHEMA",
    );
  }
  const good = encodeStreamPosition({ watermark: 1, cut: 1, ids: [[eventIdKey("x"), 1]] });
  assert.throws(() => decodeStreamPosition(good.subarray(0, good.length - 1)), /truncated/);
});

test("a state file of schema 2 is migrated on open: its stream position is rekeyed, the rest kept", async () => {
  const path = join(scratchDir(), "v2.sqlite");
  await SqliteStore.open(path).close();
  const t = Date.parse("2026-11-01T00:00:00Z");
  const oldIds: [string, number][] = [
    ["3038ebd2-c98a-4c65-9b6e-e22506292313", t],
    ["e2", t + 1000],
  ];
  // What schema 2 wrote: the position as a deflated JSON document with the ids as strings.
  const db = new Database(path);
  db.pragma("user_version = 2");
  db.exec("DROP TABLE finding_statuses; DROP TABLE finding_status_history; DROP TABLE outbox"); // schemas 4 and 5
  db.prepare("INSERT INTO meta (key, value) VALUES ('pending', ?)").run(
    encodeDocument({ watermark: t + 5000, cut: t + 1000, ids: oldIds }),
  );
  db.prepare("INSERT INTO meta (key, value) VALUES ('settings', 'fingerprint')").run();
  db.close();

  const store = SqliteStore.open(path);
  try {
    const pending = await store.loadPending();
    assert.ok(pending);
    assert.deepEqual(decodeStreamPosition(pending), {
      watermark: t + 5000,
      cut: t + 1000,
      ids: oldIds.map(([id, time]) => [eventIdKey(id), time]),
    });
    assert.equal(await store.settingsFingerprint(), "fingerprint");
  } finally {
    await store.close();
  }
  const after = new Database(path, { readonly: true });
  assert.equal(after.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  after.close();
});

test("a schema 2 state with an unreadable stream position is refused, not misread", () => {
  const path = join(scratchDir(), "v2-bad.sqlite");
  SqliteStore.open(path).close();
  const db = new Database(path);
  db.pragma("user_version = 2");
  db.exec("DROP TABLE finding_statuses; DROP TABLE finding_status_history; DROP TABLE outbox"); // schemas 4 and 5
  db.prepare("INSERT INTO meta (key, value) VALUES ('pending', ?)").run(Buffer.from("garbage"));
  db.close();
  assert.throws(
    () => SqliteStore.open(path),
    (e: unknown) =>
      e instanceof StateError && e.code === "E_STATE_SCHEMA" && /v2-bad\.sqlite.*schema 2/.test(e.message),
  );
  // Refused without changing it: still schema 2.
  const again = new Database(path, { readonly: true });
  assert.equal(again.pragma("user_version", { simple: true }), 2);
  again.close();
});

test("the schema 2 conversion rejects a document that is not a stream position", () => {
  assert.throws(() => streamPositionFromSchema2(encodeDocument({ watermark: 1 })), /no ids/);
  assert.throws(() => streamPositionFromSchema2(encodeDocument({ ids: [[1, 2]] })), /not \[string, time\]/);
});

test("a position encoded straight from the remembered ids is byte-identical to one from their entries", () => {
  const t = Date.parse("2026-11-01T00:00:00Z");
  const ids = new Map<string, number>();
  // Insertion order is not time order (a late record), and some ids are past the cut.
  for (let i = 0; i < 500; i++)
    ids.set(eventIdKey(randomUUID()), t + ((i * 7919) % 1000) * 1000 - (i % 13 === 0 ? 5000 : 0));
  for (const upTo of [t + 400_000, Number.POSITIVE_INFINITY, t - 10_000_000, Number.NaN]) {
    const entries = [...ids].filter(([, time]) => time <= upTo);
    assert.deepEqual(
      encodeStreamPositionOf(t + 2_000_000, upTo, ids, upTo),
      encodeStreamPosition({ watermark: t + 2_000_000, cut: upTo, ids: entries }),
    );
  }
  assert.deepEqual(
    encodeStreamPositionOf(null, null, new Map(), 0),
    encodeStreamPosition({ watermark: null, cut: null, ids: [] }),
  );
});
