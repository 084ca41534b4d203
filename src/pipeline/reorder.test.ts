/**
 * `ReorderBuffer` releases exactly what a sort of everything held would: the events at or before the
 * cut, in `compareEvents` order, whatever order they were pushed in and however releases interleave.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compareEvents, type EngineEvent } from "../engine/event.js";
import { generator as random } from "../test-helpers/json-writer.js";
import { ReorderBuffer } from "./reorder.js";

const T0 = Date.parse("2024-06-03T18:00:00Z");

/** An event of the given phase (0 issuance, 1 address change, 2 call): only what `compareEvents` reads. */
function event(time: number, phase: number, id: string): EngineEvent {
  const base = { time, timeIso: new Date(time).toISOString(), id, name: "X", source: "s", region: "r" };
  const rest = { account: "1", sourceIp: "10.0.0.1" };
  if (phase === 0)
    return {
      ...base,
      ...rest,
      issuance: {
        kind: "ec2-instance",
        sessionArn: "a",
        roleArn: "r",
        sessionName: "n",
        accessKeyId: "k",
        issuer: "ec2.amazonaws.com",
      },
    } as EngineEvent;
  if (phase === 1)
    return {
      ...base,
      ...rest,
      addressChange: {
        instanceIds: [],
        networkInterfaceIds: [],
        eniOwners: [],
        createdEndpoints: [],
        privateAddresses: [],
      },
    };
  return { ...base, ...rest };
}

/** The reference: everything held, sorted, split at the cut. */
class SortedReference {
  private held: EngineEvent[] = [];
  push(e: EngineEvent): void {
    this.held.push(e);
  }
  release(cut: number): EngineEvent[] {
    const out = this.held.filter((e) => e.time <= cut).sort(compareEvents);
    this.held = this.held.filter((e) => !(e.time <= cut));
    return out;
  }
  get size(): number {
    return this.held.length;
  }
}

/**
 * Random events over `spanMs` (times on whole seconds, or any ms when `anyMs`), with few distinct ids
 * so that equal times with different phases or ids abound; each (time, phase, id) is used once, as
 * de-duplicated input would be.
 */
function runRandom(seed: number, count: number, spanMs: number, anyMs: boolean, releaseEvery: number): void {
  const rnd = random(seed);
  const buffer = new ReorderBuffer();
  const reference = new SortedReference();
  const used = new Set<string>();
  let watermark = Number.NEGATIVE_INFINITY;
  let releases = 0;
  for (let n = 0; n < count; n++) {
    // Mostly increasing times (as read), with some late ones far back.
    const progress = (n / count) * spanMs;
    const jitter = rnd() < 0.1 ? -rnd() * spanMs : (rnd() - 0.5) * 20_000;
    let time = T0 + Math.max(0, progress + jitter);
    time = anyMs ? Math.floor(time) : Math.floor(time / 1000) * 1000;
    const phase = Math.floor(rnd() * 3);
    const id = `id-${Math.floor(rnd() * 5)}`;
    const triple = `${time}/${phase}/${id}`;
    if (used.has(triple)) continue;
    used.add(triple);
    const e = event(time, phase, id);
    buffer.push(e);
    reference.push(e);
    if (time > watermark) watermark = time;
    if (rnd() < 1 / releaseEvery) {
      // Cuts anywhere: behind the watermark, on an event's time, between seconds, before everything.
      const r = rnd();
      const cut =
        r < 0.1
          ? T0 - 1
          : r < 0.4
            ? time
            : r < 0.5
              ? watermark + 1
              : watermark - Math.floor(rnd() * 60_000) + (rnd() < 0.5 ? 0.5 : 0);
      const got = buffer.release(cut);
      const want = reference.release(cut);
      assert.equal(got.length, want.length, `seed ${seed}, release ${releases} at ${cut}: count`);
      for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `seed ${seed}, release ${releases}: #${i}`);
      assert.equal(buffer.size, reference.size);
      releases++;
    }
  }
  const got = buffer.release(Number.POSITIVE_INFINITY);
  const want = reference.release(Number.POSITIVE_INFINITY);
  assert.deepEqual(
    got.map((e) => `${e.time}/${e.id}`),
    want.map((e) => `${e.time}/${e.id}`),
  );
  for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i]);
  assert.equal(buffer.size, 0);
}

describe("ReorderBuffer", () => {
  test("releases as a sort of everything held would, on random input and cuts", () => {
    for (let seed = 1; seed <= 40; seed++) runRandom(seed, 3000, 600_000, seed % 2 === 0, 50);
  });

  test("many events in few seconds, and frequent releases", () => {
    for (let seed = 100; seed <= 120; seed++) runRandom(seed, 2000, 5_000, seed % 2 === 0, 5);
  });

  test("a long span with sparse events and rare releases", () => {
    for (let seed = 200; seed <= 210; seed++) runRandom(seed, 2000, 30 * 86_400_000, seed % 2 === 0, 400);
  });

  test("nothing is released before the first event, or at a cut that is not a number", () => {
    const buffer = new ReorderBuffer();
    assert.deepEqual(buffer.release(Number.POSITIVE_INFINITY), []);
    buffer.push(event(T0 + 1500, 2, "b"));
    buffer.push(event(T0 + 1500, 0, "z"));
    buffer.push(event(T0 + 500, 2, "a"));
    assert.deepEqual(buffer.release(Number.NaN), []);
    assert.deepEqual(buffer.release(Number.NEGATIVE_INFINITY), []);
    assert.deepEqual(
      buffer.release(T0 + 1499).map((e) => e.id),
      ["a"],
    );
    // A late event before everything released so far is held, then released first.
    buffer.push(event(T0 - 10_000, 2, "late"));
    assert.equal(buffer.size, 3);
    assert.deepEqual(
      buffer.release(T0 + 1500).map((e) => e.id),
      ["late", "z", "b"],
    );
    assert.equal(buffer.size, 0);
  });
});
