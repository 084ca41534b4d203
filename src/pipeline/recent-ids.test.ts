import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import {
  decodeStreamPosition,
  encodeStreamPosition,
  encodeStreamPositionOf,
  eventIdKey,
  eventIdKeysOf,
} from "../state/stream-position.js";
import { generator as random } from "../test-helpers/json-writer.js";
import { RecentIds } from "./recent-ids.js";

/** The reference: the Map the typed-array table replaced, with the same semantics spelled out plainly. */
class MapIds {
  readonly ids = new Map<string, number>();
  constructor(private readonly maxIds = 4_000_000) {}
  seen(id: string, time: number): boolean {
    const key = eventIdKey(id);
    if (this.ids.has(key)) return true;
    this.ids.set(key, time);
    if (this.ids.size > this.maxIds) {
      const oldest = this.ids.keys().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return false;
  }
  forgetBefore(horizon: number): void {
    for (const [key, time] of this.ids) {
      if (time >= horizon) break;
      this.ids.delete(key);
    }
  }
  entries(upTo = Number.POSITIVE_INFINITY): [string, number][] {
    return [...this.ids].filter(([, time]) => time <= upTo);
  }
}

test("RecentIds: seen, forgetBefore, entries and encodePosition agree with a Map on random sequences", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rnd = random(seed);
    const maxIds = seed % 2 === 0 ? 300 : 4_000_000;
    const ids = new RecentIds(maxIds);
    const reference = new MapIds(maxIds);
    const pool: string[] = [];
    let clock = 1_700_000_000_000;
    for (let step = 0; step < 20_000; step++) {
      const r = rnd();
      if (r < 0.9) {
        // Mostly new ids, some repeated (recent or long gone), times mostly rising with some late.
        const id =
          pool.length > 0 && rnd() < 0.25 ? (pool[Math.floor(rnd() * pool.length)] as string) : `id-${seed}-${step}`;
        if (pool.length < 5000) pool.push(id);
        else pool[Math.floor(rnd() * pool.length)] = id;
        clock += Math.floor(rnd() * 20);
        const time = clock - (rnd() < 0.1 ? Math.floor(rnd() * 2000) : 0);
        assert.equal(ids.seen(id, time), reference.seen(id, time), `seed ${seed} step ${step}`);
      } else if (r < 0.97) {
        const horizon = clock - Math.floor(rnd() * 30_000);
        ids.forgetBefore(horizon);
        reference.forgetBefore(horizon);
      } else {
        const upTo = clock - Math.floor(rnd() * 5000);
        assert.deepEqual(ids.entries(upTo), reference.entries(upTo), `seed ${seed} step ${step}`);
        const encoded = ids.encodePosition(clock, upTo, upTo);
        assert.deepEqual(encoded, encodeStreamPositionOf(clock, upTo, reference.ids, upTo));
        assert.deepEqual(decodeStreamPosition(encoded).ids, reference.entries(upTo));
      }
      assert.equal(ids.size, reference.ids.size);
    }
    assert.deepEqual(ids.entries(), reference.entries());
  }
});

test("RecentIds: forgetBefore of the same horizons as a Map, through growth and shrinking", () => {
  const ids = new RecentIds();
  const reference = new MapIds();
  const rnd = random(42);
  let time = 0;
  for (let round = 0; round < 8; round++) {
    const n = Math.floor(rnd() * 20_000);
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      time += 3;
      assert.equal(ids.seen(id, time), reference.seen(id, time));
      if (i % 97 === 0) assert.equal(ids.seen(id, time), true);
    }
    const horizon = time - Math.floor(rnd() * time);
    ids.forgetBefore(horizon);
    reference.forgetBefore(horizon);
    assert.deepEqual(ids.entries(), reference.entries());
  }
  ids.forgetBefore(Number.NaN);
  reference.forgetBefore(Number.NaN);
  assert.equal(ids.size, 0);
  assert.equal(reference.ids.size, 0);
});

test("RecentIds: keys made elsewhere (eventIdKeysOf) are the same ids as those hashed here", () => {
  const records = [{ eventId: "a" }, { eventId: undefined }, { eventId: "b" }, { eventId: "é✓" }];
  const keys = eventIdKeysOf(records);
  assert.equal(keys.length, records.length * 3);
  assert.deepEqual([...keys.subarray(3, 6)], [0, 0, 0]);
  const ids = new RecentIds();
  assert.equal(ids.seenKey(keys, 0, 10), false);
  assert.equal(ids.seen("a", 11), true);
  assert.equal(ids.seen("é✓", 12), false);
  assert.equal(ids.seenKey(keys, 3, 13), true);
  assert.equal(ids.seenKey(keys, 2, 14), false);
  assert.deepEqual(ids.entries(), [
    [eventIdKey("a"), 10],
    [eventIdKey("é✓"), 12],
    [eventIdKey("b"), 14],
  ]);
});

test("RecentIds: the maxIds bound forgets the oldest", () => {
  const ids = new RecentIds(3);
  for (const [i, id] of ["a", "b", "c", "d"].entries()) assert.equal(ids.seen(id, i), false);
  assert.equal(ids.size, 3);
  assert.equal(ids.seen("a", 9), false);
  assert.equal(ids.seen("d", 9), true);
  assert.deepEqual(
    ids.entries().map(([, t]) => t),
    [2, 3, 9],
  );
});

test("RecentIds.from round-trips a decoded stream position, and keeps a repeated key's first place", () => {
  const entries = Array.from({ length: 5000 }, (_, i) => [eventIdKey(randomUUID()), 1000 + i * 7] as [string, number]);
  const data = encodeStreamPosition({ watermark: 99_999, cut: 50_000, ids: entries });
  const ids = RecentIds.from(decodeStreamPosition(data).ids);
  assert.equal(ids.size, entries.length);
  assert.deepEqual(ids.entries(), entries);
  assert.deepEqual(ids.encodePosition(99_999, 50_000, Number.POSITIVE_INFINITY), data);
  const upTo = 1000 + 2500 * 7;
  assert.deepEqual(
    ids.encodePosition(null, null, upTo),
    encodeStreamPosition({ watermark: null, cut: null, ids: entries.filter(([, t]) => t <= upTo) }),
  );
  const twice = RecentIds.from([
    [eventIdKey("x"), 1],
    [eventIdKey("y"), 2],
    [eventIdKey("x"), 3],
  ]);
  assert.deepEqual(twice.entries(), [
    [eventIdKey("x"), 3],
    [eventIdKey("y"), 2],
  ]);
  assert.equal(twice.seen("x", 4), true);
  assert.throws(() => RecentIds.from([["short", 1]]));
});
