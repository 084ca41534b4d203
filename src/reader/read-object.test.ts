import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { simulate } from "../simulate/simulate.js";
import { type LogObjectRef, listLocalObjects } from "../sources/local.js";
import { readLogObject } from "../sources/read.js";
import { recordText, trickyStringText, valueText } from "../test-helpers/json-text.js";
import { damageCases, type LogObjectCase, shapeCases } from "../test-helpers/log-objects.js";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { factsOf, type RecordFacts } from "./facts.js";
import { type ObjectFacts, type ObjectSource, type ReadObjectOptions, readObjectFacts } from "./read-object.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const DATASETS = [resolve(REPO, "../shared/datasets"), "/work/shared/datasets"].find((p) => existsSync(p));

const root = mkdtempSync(join(tmpdir(), "firstcall-read-object-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** The decoder drops records with no usable time; the reader keeps their facts (marked malformed). */
function droppedByDecoder(f: RecordFacts): boolean {
  return f.malformed === "no-time" || (f.malformed === "bad-time" && f.timestampFallback);
}

/**
 * The decoder's view of the facts. It writes a valid `@timestamp` into `eventTime`, so `factsOf` on its
 * records no longer sees a fallback; the fallbacks are compared through the counter instead.
 */
function asDecoderSees(facts: readonly RecordFacts[]): RecordFacts[] {
  return facts.filter((f) => !droppedByDecoder(f)).map((f) => ({ ...f, timestampFallback: false }));
}

/** Problems with the one documented difference taken out: what a too-large object kept. */
function comparable(problems: ObjectFacts["problems"]) {
  return problems.map((p) =>
    p.code === "E_TOO_LARGE"
      ? { ...p, message: p.message.replace(/; the \d+ records before the limit were read$/, "") }
      : p,
  );
}

function refOf(name: string, bytes: Uint8Array): LogObjectRef {
  return { id: name, size: bytes.length, mtimeMs: 0, read: async () => Buffer.from(bytes) };
}

/** Reads with both readers and asserts they agree; returns the facts reader's result. */
async function assertSameAsDecoder(
  ref: LogObjectRef,
  source: ObjectSource,
  options: ReadObjectOptions = {},
): Promise<ObjectFacts> {
  const want = await readLogObject(
    ref,
    options.maxObjectBytes !== undefined ? { maxObjectBytes: options.maxObjectBytes } : {},
  );
  const got = await readObjectFacts(source, options);
  const label = `${ref.id} (chunks ${options.chunkBytes ?? "default"})`;
  assert.deepEqual(asDecoderSees(got.facts), want.records.map(factsOf), label);
  assert.equal(got.timestampFallbacks, want.timestampFallbacks, label);
  assert.equal(got.insightRecords, want.insightRecords, label);
  assert.deepEqual(comparable(got.problems), want.problems, label);
  assert.equal(got.skipped, want.skipped, label);
  assert.equal(got.bytes, want.bytes, label);
  // The reader's own counters agree with its facts.
  assert.equal(got.records, got.facts.length, label);
  assert.equal(got.malformed["no-time"], got.facts.filter((f) => f.malformed === "no-time").length, label);
  assert.equal(got.malformed["bad-time"], got.facts.filter((f) => f.malformed === "bad-time").length, label);
  assert.equal(got.facts.filter((f) => f.timestampFallback && !f.malformed).length, want.timestampFallbacks, label);
  const dropped = got.facts.filter(droppedByDecoder).length;
  const withoutTime = want.problems.find((p) => /records have neither eventTime/.test(p.message));
  assert.equal(dropped, withoutTime ? Number(/(\d+) records have neither/.exec(withoutTime.message)?.[1]) : 0, label);
  return got;
}

function sameForBytes(c: LogObjectCase, options: ReadObjectOptions = {}): Promise<ObjectFacts> {
  const o = { ...options, ...(c.maxObjectBytes !== undefined ? { maxObjectBytes: c.maxObjectBytes } : {}) };
  return assertSameAsDecoder(refOf(c.name, c.bytes), { id: c.name, bytes: c.bytes }, o);
}

async function sameForFiles(paths: string[], options: ReadObjectOptions = {}): Promise<number> {
  const { objects } = await listLocalObjects(paths);
  for (const ref of objects) await assertSameAsDecoder(ref, { id: ref.id, path: ref.id }, options);
  return objects.length;
}

const CHUNK_SIZES = [1, 7, 4096];

/** Piece sizes worth the time for an object: every size, but single bytes only for small ones. */
function piecesFor(bytes: Buffer): number[] {
  let raw = bytes.length;
  try {
    raw = gunzipSync(bytes).length;
  } catch {
    // not gzip, or damaged: its stored size will do
  }
  return CHUNK_SIZES.filter((size) => raw / size < 3000);
}

describe("the facts reader agrees with the decoder", () => {
  test("on every file under testdata/", async () => {
    const n = await sameForFiles([join(REPO, "testdata")]);
    assert.ok(n >= 60, `${n} files`);
  });

  test("on every file of the shared data sets", async () => {
    if (!DATASETS) {
      console.log("# shared data sets not found (../shared/datasets): skipped the data-set part");
      return;
    }
    const n = await sameForFiles([DATASETS]);
    assert.ok(n > 0);
  });

  test("on every shape and every damage the decoder's tests use, in pieces of every size", async () => {
    for (const c of [...shapeCases(), ...damageCases()]) {
      await sameForBytes(c);
      for (const chunkBytes of piecesFor(c.bytes)) await sameForBytes(c, { chunkBytes });
    }
  });

  test("on every truncation of small files, plain and gzipped", async () => {
    const records = [
      ec2Issuance("i-0123456789abcdef0", "ASIAX000000000000001", at(0)),
      { eventVersion: "1.07", eventTime: at(0), eventCategory: "Insight", eventName: "RunInstances" },
      { hello: 'wo"r\\ld}{][' },
      {
        ...call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(1)),
        eventTime: undefined,
        "@timestamp": at(3),
      },
      { ...call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(2)), userAgent: 'a"b\\\\"c\u00e9\u2028' },
    ];
    const texts = [
      JSON.stringify({ Records: records }),
      JSON.stringify({ Records: records }, null, 1),
      `${records.map((r) => JSON.stringify(r)).join("\n")}\n`,
    ];
    let n = 0;
    for (const text of texts) {
      const plain = Buffer.from(text);
      const gz = gzipSync(plain);
      for (const whole of [plain, gz]) {
        for (let cut = 0; cut <= whole.length; cut++) {
          const bytes = whole.subarray(0, cut);
          await sameForBytes({ name: `cut at ${cut}`, bytes }, cut % 10 === 0 ? { chunkBytes: 3 } : {});
          n++;
        }
      }
    }
    assert.ok(n > 5000);
  });

  test("on random documents: odd whitespace, escapes, duplicate keys, non-records, damage", async () => {
    const element = fc.oneof({ weight: 4, arbitrary: recordText }, valueText, trickyStringText);
    const records = fc
      .tuple(fc.array(fc.tuple(element, fc.constantFrom("", " ", "\n")), { maxLength: 6 }), fc.constantFrom("", "\n"))
      .map(([els, s]) => `{"Records":[${s}${els.map(([e, w]) => `${w}${e}${w}`).join(",")}]}${s}`);
    const lines = fc
      .array(fc.oneof({ weight: 4, arbitrary: recordText }, valueText, fc.constantFrom("", " \r", "{bad")), {
        minLength: 1,
        maxLength: 6,
      })
      .map((ls) => ls.join("\n"));
    const doc = fc.tuple(
      fc.oneof(records, lines),
      fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      fc.boolean(),
      fc.constantFrom(undefined, 1, 2, 5, 64),
    );
    await fc.assert(
      fc.asyncProperty(doc, async ([text, cut, gzipped, chunkBytes]) => {
        let bytes: Buffer = Buffer.from(text);
        if (gzipped) bytes = gzipSync(bytes);
        if (cut !== null) bytes = bytes.subarray(0, Math.floor(bytes.length * cut));
        await sameForBytes({ name: "random.json", bytes }, chunkBytes === undefined ? {} : { chunkBytes });
      }),
      { numRuns: 1500 },
    );
  });

  describe("on a simulated fleet", () => {
    const dir = join(root, "fleet");
    let files: string[] = [];
    before(async () => {
      const result = await simulate({
        outDir: dir,
        instances: 20,
        hours: 1,
        accounts: 2,
        regions: 2,
        perKind: 1,
        seed: 3,
      });
      files = result.files.map((f) => join(dir, f));
    });

    test("every file", async () => {
      const n = await sameForFiles([join(dir, "AWSLogs")]);
      assert.equal(n, files.length);
      assert.ok(n >= 10);
    });

    test("in pieces of every size, with identical results", async () => {
      for (const file of files.slice(0, 3)) {
        const whole = await readObjectFacts({ id: file, path: file });
        assert.ok(whole.records > 0);
        for (const chunkBytes of piecesFor(readFileSync(file))) {
          assert.deepEqual(await readObjectFacts({ id: file, path: file }, { chunkBytes }), whole);
        }
      }
    });
  });
});

describe("results do not depend on where the pieces end", () => {
  test("identical results for pieces of 1, 7 and 4096 bytes", async () => {
    const sample = (await listLocalObjects([join(REPO, "testdata")])).objects.slice(0, 4);
    const sources: ObjectSource[] = [
      ...[...shapeCases(), ...damageCases()]
        .filter((c) => c.bytes.length < 100_000)
        .map((c) => ({ id: c.name, bytes: c.bytes })),
      ...sample.map((r) => ({ id: r.id, path: r.id })),
    ];
    for (const source of sources) {
      const whole = await readObjectFacts(source);
      const bytes = "bytes" in source ? Buffer.from(source.bytes) : readFileSync(source.path);
      for (const chunkBytes of piecesFor(bytes)) {
        assert.deepEqual(await readObjectFacts(source, { chunkBytes }), whole, `${source.id} in ${chunkBytes}`);
      }
    }
  });
});

function manyRecords(n: number) {
  return Array.from({ length: n }, (_, i) => call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(i)));
}

describe("limits", () => {
  const records = manyRecords(50);
  const ids = records.map((r) => r.eventID);
  const text = JSON.stringify({ Records: records });
  const lines = `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
  /** A limit that falls inside record `i` (0-based) of the text. */
  const inside = (t: string, i: number) => t.indexOf(JSON.stringify(records[i])) + 10;

  test("an object over maxObjectBytes keeps the records read before the limit and names itself", async () => {
    for (const [name, t, bytes] of [
      ["plain.json", text, Buffer.from(text)],
      ["records.json.gz", text, gzipSync(text)],
      ["lines.jsonl", lines, Buffer.from(lines)],
    ] as const) {
      // A limit inside record 21: records 0..19 are whole before it, 20 is cut.
      const limit = inside(t, 20);
      const r = await readObjectFacts({ id: name, bytes }, { maxObjectBytes: limit });
      assert.deepEqual(
        r.facts.map((f) => f.eventId),
        ids.slice(0, 20),
        name,
      );
      assert.equal(r.problems.length, 1);
      assert.equal(r.problems[0]?.code, "E_TOO_LARGE");
      assert.match(
        r.problems[0]?.message ?? "",
        new RegExp(`^${name.replace(".", "\\.")}: larger than the limit of ${limit} bytes`),
      );
      assert.match(r.problems[0]?.message ?? "", /the 20 records before the limit were read/);
      assert.equal(r.rawBytes, limit);
      assert.equal(r.bytes, bytes.length);
      // At exactly its size the object is within the limit.
      const exact = await readObjectFacts({ id: name, bytes }, { maxObjectBytes: Buffer.byteLength(t) });
      assert.deepEqual(exact.problems, []);
      assert.equal(exact.records, 50);
    }
  });

  test("the same from a file", async () => {
    const path = join(root, "limit.json");
    writeFileSync(path, text);
    const r = await readObjectFacts({ id: path, path }, { maxObjectBytes: inside(text, 20), chunkBytes: 500 });
    assert.equal(r.records, 20);
    assert.equal(r.bytes, Buffer.byteLength(text));
    assert.match(r.problems[0]?.message ?? "", new RegExp(`\\(${Buffer.byteLength(text)} bytes\\)`));
  });

  test("a record over maxRecordBytes is skipped and named; the rest of the object is read", async () => {
    const big = manyRecords(5);
    (big[2] as Record<string, unknown>).requestParameters = { policy: "x".repeat(5000) };
    const bigIds = big.map((r) => r.eventID);
    const cases = [
      ["big.json.gz", gzipSync(JSON.stringify({ Records: big }))],
      ["big.jsonl", Buffer.from(big.map((r) => JSON.stringify(r)).join("\n"))],
    ] as const;
    for (const [name, bytes] of cases) {
      for (const chunkBytes of [undefined, 100]) {
        const r = await readObjectFacts(
          { id: name, bytes },
          { maxRecordBytes: 4000, ...(chunkBytes ? { chunkBytes } : {}) },
        );
        assert.deepEqual(
          r.facts.map((f) => f.eventId),
          [bigIds[0], bigIds[1], bigIds[3], bigIds[4]],
        );
        assert.equal(r.problems.length, 1);
        assert.equal(r.problems[0]?.code, "E_TOO_LARGE");
        assert.match(
          r.problems[0]?.message ?? "",
          new RegExp(`^${name.replace(".", "\\.")}: 1 records larger than the limit of 4000`),
        );
      }
    }
  });

  test("a gzip bomb of ~450 MB of valid records streams through a 192 MB heap", () => {
    // Gzip members concatenated are one gzip stream: one compressed block of records, repeated.
    const record = {
      ...call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(0)),
      userIdentity: { type: "IAMUser", arn: "arn:aws:iam::111122223333:user/alice", accessKeyId: "AKIAX" },
      requestParameters: { bucketName: "b", key: "k".repeat(1500) },
    };
    const one = JSON.stringify(record);
    const perBlock = Math.ceil((1 << 20) / (one.length + 1));
    const blocks = Math.floor((450 << 20) / (perBlock * (one.length + 1)));
    const block = gzipSync(`${one},`.repeat(perBlock), { level: 9 });
    const path = join(root, "bomb.json.gz");
    writeFileSync(
      path,
      Buffer.concat([gzipSync('{"Records":['), ...Array.from({ length: blocks }, () => block), gzipSync(`${one}]}`)]),
    );
    const child = join(root, "read-bomb.mts");
    writeFileSync(
      child,
      [
        `import { readObjectFacts } from ${JSON.stringify(pathToFileURL(join(HERE, "read-object.ts")).href)};`,
        "const r = await readObjectFacts({ id: process.argv[2], path: process.argv[2] });",
        "const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);",
        "console.log(JSON.stringify({ records: r.records, problems: r.problems, rawBytes: r.rawBytes, bytes: r.bytes, maxRssMb }));",
      ].join("\n"),
    );
    const run = spawnSync(process.execPath, ["--max-old-space-size=192", "--import", "tsx", child, path], {
      cwd: REPO,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split("\n").pop() as string);
    console.log(
      `# gzip bomb: ${(out.bytes / 1e6).toFixed(1)} MB -> ${(out.rawBytes / 1e6).toFixed(0)} MB, ${out.records} records, peak RSS ${out.maxRssMb} MB`,
    );
    assert.equal(out.records, blocks * perBlock + 1);
    assert.deepEqual(out.problems, []);
    assert.ok(out.rawBytes > 440e6);
    assert.ok(out.maxRssMb < 1024, `peak RSS ${out.maxRssMb} MB`);
  });
});

describe("unreadable objects", () => {
  test("a missing file, a directory and a digest by name", async () => {
    const missing = join(root, "gone.json.gz");
    const r = await readObjectFacts({ id: missing, path: missing });
    const want = await readLogObject({
      id: missing,
      size: 0,
      mtimeMs: 0,
      read: () => Promise.resolve(readFileSync(missing)),
    });
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ["E_READ"],
    );
    assert.equal(r.problems[0]?.message, want.problems[0]?.message);
    assert.equal(r.records, 0);

    const dir = join(root, "a-directory.json");
    mkdirSync(dir, { recursive: true });
    const d = await readObjectFacts({ id: dir, path: dir });
    assert.deepEqual(
      d.problems.map((p) => p.code),
      ["E_READ"],
    );

    const digest = "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/01/x.json.gz";
    const s = await readObjectFacts({ id: digest, path: join(root, "never-read") });
    assert.equal(s.skipped, "CloudTrail digest file (no events)");
    assert.deepEqual(s.problems, []);
  });
});
