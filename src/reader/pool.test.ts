import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { simulate } from "../simulate/simulate.js";
import { eventIdKeysOf } from "../state/stream-position.js";
import { damageCases, shapeCases } from "../test-helpers/log-objects.js";
import type { RecordFacts } from "./facts.js";
import { isPacked, packObjectFacts, unpackObjectFacts } from "./packed-facts.js";
import { FactsReader } from "./pool.js";
import { type ObjectFacts, type ObjectSource, readObjectFacts } from "./read-object.js";

const root = mkdtempSync(join(tmpdir(), "firstcall-pool-"));
after(() => rmSync(root, { recursive: true, force: true }));

const JOBS = [0, 1, 2, 4];

/**
 * The results without the id keys a reader thread adds (`readObjectFacts` alone makes none), once
 * checked to be those of the facts; `keyed` counts the results that had them.
 */
function withoutKeys(results: readonly ObjectFacts[]): { results: ObjectFacts[]; keyed: number } {
  let keyed = 0;
  const bare = results.map(({ idKeys, ...rest }) => {
    if (idKeys !== undefined) {
      assert.deepEqual(idKeys, eventIdKeysOf(rest.facts), rest.object);
      keyed++;
    }
    return rest;
  });
  return { results: bare, keyed };
}

async function readAll(
  jobs: number,
  sources: readonly ObjectSource[],
): Promise<{ one: ObjectFacts[]; inOrder: ObjectFacts[]; keyed: number }> {
  const reader = new FactsReader({ jobs });
  try {
    const one = withoutKeys(await Promise.all(sources.map((s) => reader.read(s))));
    const inOrder: ObjectFacts[] = [];
    for await (const r of reader.readInOrder(sources, { batch: 5 })) inOrder.push(r);
    const ordered = withoutKeys(inOrder);
    return { one: one.results, inOrder: ordered.results, keyed: one.keyed + ordered.keyed };
  } finally {
    await reader.close();
  }
}

describe("FactsReader", () => {
  const fleet = join(root, "fleet");
  let files: ObjectSource[] = [];
  before(async () => {
    const result = await simulate({
      outDir: fleet,
      instances: 20,
      hours: 1,
      accounts: 2,
      regions: 2,
      perKind: 1,
      seed: 4,
    });
    files = result.files.map((f) => {
      const path = join(fleet, f);
      return { id: path, path, size: statSync(path).size };
    });
  });

  test("gives identical results with 0, 1, 2 and 4 workers, on a fleet and on damaged objects", async () => {
    const cases: ObjectSource[] = [...shapeCases(), ...damageCases()].map((c) => ({ id: c.name, bytes: c.bytes }));
    const sources = [...files, ...cases, { id: join(root, "missing.json.gz"), path: join(root, "missing.json.gz") }];
    const expected = await Promise.all(sources.map((s) => readObjectFacts(s)));
    assert.ok(expected.reduce((n, r) => n + r.records, 0) > 1000);
    for (const jobs of JOBS) {
      const { one, inOrder, keyed } = await readAll(jobs, sources);
      assert.deepEqual(one, expected, `jobs ${jobs}, one by one`);
      assert.deepEqual(inOrder, expected, `jobs ${jobs}, in order`);
      // Reader threads hash the ids for the main thread; read on the main thread, nothing is hashed ahead.
      assert.equal(keyed, jobs > 0 ? 2 * sources.length : 0, `jobs ${jobs}, keyed results`);
    }
  });

  test("groups objects into tasks by count and by size, and keeps their order", async () => {
    const reader = new FactsReader({ jobs: 2 });
    try {
      const ids: string[] = [];
      for await (const r of reader.readInOrder(files, { batch: 3, batchBytes: 20_000, ahead: 1 })) ids.push(r.object);
      assert.deepEqual(
        ids,
        files.map((f) => f.id),
      );
    } finally {
      await reader.close();
    }
  });

  test("a file that vanishes is a problem on its result", async () => {
    const path = join(root, "vanishing.json");
    writeFileSync(path, '{"Records":[]}');
    rmSync(path);
    const reader = new FactsReader({ jobs: 2 });
    try {
      const [gone, next] = await reader.readMany([{ id: path, path }, files[0] as ObjectSource]);
      assert.deepEqual(
        gone?.problems.map((p) => p.code),
        ["E_READ"],
      );
      assert.match(gone?.problems[0]?.message ?? "", /ENOENT/);
      assert.ok((next?.records ?? 0) > 0);
    } finally {
      await reader.close();
    }
  });

  test("a worker that runs out of memory is reported on its object; the pool goes on", async () => {
    // A bare array is decoded whole: 200k small records need far more than a 48 MiB heap.
    const bomb = gzipSync(
      JSON.stringify(
        Array.from({ length: 200_000 }, (_, i) => ({
          eventName: "GetObject",
          eventTime: "2026-11-01T00:00:00Z",
          eventID: String(i),
          pad: "y".repeat(100),
        })),
      ),
    );
    const reader = new FactsReader({ jobs: 1, workerHeapMb: 48 });
    try {
      const sources: ObjectSource[] = [
        files[0] as ObjectSource,
        { id: "bomb.json.gz", bytes: bomb },
        files[1] as ObjectSource,
      ];
      const results: ObjectFacts[] = [];
      for await (const r of reader.readInOrder(sources)) results.push(withoutKeys([r]).results[0] as ObjectFacts);
      assert.deepEqual(
        results.map((r) => r.object),
        sources.map((s) => s.id),
      );
      assert.deepEqual(
        results[1]?.problems.map((p) => p.code),
        ["E_TOO_LARGE"],
      );
      assert.match(results[1]?.problems[0]?.message ?? "", /^bomb\.json\.gz: the reader ran out of memory/);
      // The objects that shared the failed task were read again, alone, and came out whole.
      assert.deepEqual(results[0], await readObjectFacts(files[0] as ObjectSource));
      assert.deepEqual(results[2], await readObjectFacts(files[1] as ObjectSource));
      assert.ok((await reader.read(files[2] as ObjectSource)).records > 0);
    } finally {
      await reader.close();
    }
  });

  test("workers that cannot even start do not hang the reader: it reads on the calling thread", async () => {
    // A 1 MiB heap is too small for a worker to load the reader at all.
    const reader = new FactsReader({ jobs: 2, workerHeapMb: 1 });
    try {
      const sources = files.slice(0, 5);
      const got: ObjectFacts[] = [];
      for await (const r of reader.readInOrder(sources, { batch: 2 })) got.push(r);
      assert.deepEqual(withoutKeys(got).results, await Promise.all(sources.map((s) => readObjectFacts(s))));
      assert.match(reader.workerFailure?.message ?? "", /memory/);
    } finally {
      await reader.close();
    }
  });

  test("reads after close fail on their objects instead of waiting", async () => {
    for (const jobs of [0, 1]) {
      const reader = new FactsReader({ jobs });
      await reader.close();
      const r = await reader.read(files[0] as ObjectSource);
      assert.deepEqual(
        r.problems.map((p) => p.code),
        ["E_READ"],
      );
      assert.match(r.problems[0]?.message ?? "", /the reader is closed/);
    }
  });

  test("an error thrown while reading is reported on its object, with and without workers", async () => {
    // awslogs.data holding gzip of something that is not JSON makes the decoder throw a SyntaxError.
    const broken = Buffer.from(JSON.stringify({ awslogs: { data: gzipSync("{not json").toString("base64") } }));
    for (const jobs of [0, 1]) {
      const reader = new FactsReader({ jobs });
      try {
        const r = await reader.read({ id: "broken.json", bytes: broken });
        assert.deepEqual(
          r.problems.map((p) => p.code),
          ["E_READ"],
        );
        assert.match(r.problems[0]?.message ?? "", /^broken\.json: the reader failed: .*JSON/);
        assert.ok((await reader.read(files[0] as ObjectSource)).records > 0);
      } finally {
        await reader.close();
      }
    }
  });
});

describe("packed facts", () => {
  test("unpack to exactly what was packed: the facts of every shape and damage", async () => {
    const all = await Promise.all(
      shapeCases()
        .concat(damageCases())
        .map((c) => readObjectFacts({ id: c.name, bytes: c.bytes })),
    );
    for (const o of all) {
      const packed = packObjectFacts(o);
      assert.ok(packed !== undefined && isPacked(packed));
      assert.deepEqual(unpackObjectFacts(structuredClone(packed)), o);
    }
  });

  test("unpack to exactly what was packed: any plain data in events", () => {
    const plain = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        tie("array"),
        tie("object"),
      ),
      array: fc.array(tie("value"), { maxLength: 4 }),
      object: fc.dictionary(
        fc.string({ maxLength: 6 }).filter((k) => k !== "__proto__"),
        tie("value"),
        { maxKeys: 5, noNullPrototype: true },
      ),
    })).value;
    const fact = fc.record({
      eventId: fc.option(fc.string(), { nil: undefined }),
      time: fc.double(),
      timestampFallback: fc.boolean(),
      malformed: fc.constantFrom(undefined, "no-time" as const, "bad-time" as const),
      event: fc.option(plain, { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(fact, { maxLength: 6 }), (raw) => {
        const facts = raw.map(({ malformed, ...f }) => (malformed ? { ...f, malformed } : f)) as RecordFacts[];
        const o: ObjectFacts = {
          object: "o",
          facts,
          records: facts.length,
          timestampFallbacks: 0,
          insightRecords: 0,
          malformed: { "no-time": 0, "bad-time": 0, "bad-identity": 0 },
          problems: [],
          bytes: 1,
          rawBytes: 2,
        };
        const packed = packObjectFacts(o);
        assert.ok(packed !== undefined);
        assert.deepEqual(unpackObjectFacts(structuredClone(packed)), o);
      }),
      { numRuns: 500 },
    );
  });

  test("anything but plain data is left unpacked", () => {
    const withEvent = (event: unknown): ObjectFacts => ({
      object: "o",
      facts: [{ eventId: "e", time: 0, timestampFallback: false, event: event as RecordFacts["event"] }],
      records: 1,
      timestampFallbacks: 0,
      insightRecords: 0,
      malformed: { "no-time": 0, "bad-time": 0, "bad-identity": 0 },
      problems: [],
      bytes: 0,
      rawBytes: 0,
    });
    assert.equal(packObjectFacts(withEvent({ when: new Date(0) })), undefined);
    assert.equal(packObjectFacts(withEvent(Object.create(null))), undefined);
    assert.equal(packObjectFacts(withEvent(JSON.parse('{"__proto__":{"a":1}}'))), undefined);
    assert.equal(packObjectFacts(withEvent({ n: 1n })), undefined);
  });
});
