import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { looksLikeRecord } from "../cloudtrail/record.js";
import { recordText, valueText } from "../test-helpers/json-text.js";
import { ENVELOPE_KEYS } from "./fast-extract.js";
import { decideOpening, isPlainRecord, LinesCutter, ObjectScanner, RecordsCutter } from "./json-cutter.js";

const objectText = fc.oneof(
  recordText,
  valueText.filter((t) => t.startsWith("{")),
);

/** Cut points for splitting a text into pieces. */
const cuts = (length: number) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 8 })
    .map((a) => a.sort((x, y) => x - y));

function pieces(text: string, at: readonly number[]): string[] {
  const out: string[] = [];
  let from = 0;
  for (const c of at) {
    if (c <= from || c >= text.length) continue;
    out.push(text.slice(from, c));
    from = c;
  }
  out.push(text.slice(from));
  return out;
}

function scanWhole(text: string): { end: number; flags: number } {
  const s = new ObjectScanner();
  return { end: s.scan(text, 0, text.length), flags: s.flags };
}

function isPlainValue(v: unknown): boolean {
  if (!looksLikeRecord(v)) return false;
  if (v.eventCategory === "Insight" || v.eventType === "AwsCloudTrailInsight") return false;
  return !ENVELOPE_KEYS.some((k) => k in v);
}

function silentCutter(): RecordsCutter {
  return new RecordsCutter(
    () => {},
    1e9,
    () => {},
  );
}

describe("ObjectScanner", () => {
  test("finds the end of an object and never calls a non-record, an Insights record or an envelope plain", () => {
    fc.assert(
      fc.property(objectText, (text) => {
        const { end, flags } = scanWhole(text);
        assert.equal(end, text.length);
        const value = JSON.parse(text);
        if (isPlainRecord(flags)) assert.ok(isPlainValue(value), text);
        // Without escapes or Insights markers (even overridden by a duplicate key) it is exact.
        const markers = ["\\", '"Insight"', '"AwsCloudTrailInsight"'];
        if (!markers.some((m) => text.includes(m))) assert.equal(isPlainRecord(flags), isPlainValue(value), text);
      }),
      { numRuns: 3000 },
    );
  });

  test("gives the same answer however the text is cut into pieces", () => {
    fc.assert(
      fc.property(
        objectText.chain((t) => fc.tuple(fc.constant(t), cuts(t.length))),
        ([text, at]) => {
          const whole = scanWhole(text);
          const s = new ObjectScanner();
          let end = -1;
          let offset = 0;
          for (const p of pieces(text, at)) {
            assert.equal(end, -1, "the object ended before its last piece");
            const e = s.scan(p, 0, p.length);
            if (e !== -1) end = offset + e;
            offset += p.length;
          }
          assert.deepEqual({ end, flags: s.flags }, whole);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("escapes, duplicates, markers and nesting", () => {
    const cases: [string, boolean][] = [
      ['{"eventName":"a\\"}","eventTime":"x"}', true],
      ['{"eventName":"a\\\\","x":"}"}', true],
      ['{"\\u0065ventName":"a"}', false], // an escaped key is left to the parser
      ['{"eventName":"a","eventCategory":"Insight"}', false],
      ['{"eventName":"a","eventCategory":"Insigh\\u0074"}', false],
      ['{"eventName":"a","eventCategory":["Insight"]}', true],
      ['{"eventName":"a","eventType":"AwsCloudTrailInsight"}', false],
      ['{"eventName":1}', false],
      ['{"eventName":"a","eventName":1}', false], // the last duplicate wins, as in JSON.parse
      ['{"eventName":1,"eventName":"a"}', true],
      ['{"x":{"eventName":"a"}}', false],
      ['{"eventVersion":"1","eventID":"x"}', true],
      ['{"eventVersion":"1"}', false],
      ['{"eventName":"a","detail":{}}', false],
      ['{"eventName":"a","a\\u0077slogs":{"data":"x"}}', false], // awslogs, escaped
      ['{"eventName":"a","\\u0052ecords":[]}', false], // Records, escaped from the first character
      ['{"eventName":"a","additionalEventData":{"x":"\\""}}', true],
      ['{"eventName":"a","x\\u0065":1}', true], // cannot be a key of interest: it does not start like one
    ];
    for (const [text, plain] of cases) {
      assert.equal(isPlainRecord(scanWhole(text).flags), plain, text);
      if (plain) assert.ok(isPlainValue(JSON.parse(text)), text);
    }
  });
});

describe("RecordsCutter", () => {
  test("cuts the same elements however the text is cut into pieces", () => {
    const doc = fc
      .tuple(
        fc.array(fc.tuple(objectText, fc.constantFrom("", " ", "\n")), { maxLength: 6 }),
        fc.constantFrom("", "\n"),
      )
      .map(([els, s]) => `{"Records":[${s}${els.map(([e, w]) => `${w}${e}${w}`).join(",")}]}${s}`);
    fc.assert(
      fc.property(
        doc.chain((t) => fc.tuple(fc.constant(t), cuts(t.length))),
        ([text, at]) => {
          const expected = (JSON.parse(text) as { Records: unknown[] }).Records;
          const got: unknown[] = [];
          const cutter = new RecordsCutter(
            (t, s, e) => got.push(JSON.parse(t.slice(s, e))),
            1e9,
            () => assert.fail("no element is over the limit"),
          );
          // The opening `{"Records":[` is 12 characters; every later cut falls anywhere.
          cutter.push(text.slice(0, 12), 12);
          for (const p of pieces(
            text.slice(12),
            at.map((c) => c - 12),
          ))
            cutter.push(p);
          assert.equal(cutter.length, text.length);
          assert.deepEqual(cutter.end(), { complete: true });
          assert.deepEqual(got, expected);
          assert.equal(cutter.elements, expected.length);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("says where a truncated document stops, as the decoder's salvage would", () => {
    const cases: [string, { cutAt: number; line: number }][] = [
      ['{"Records":[{"a":1},{"b"', { cutAt: 20, line: 1 }],
      ['{"Records":[\n{"a":1},\n{"b"', { cutAt: 22, line: 3 }],
      ['{"Records":[{"a":1},', { cutAt: 20, line: 1 }],
      ['{"Records":[{"a":1}]\n', { cutAt: 19, line: 1 }],
      ['{"Records":[\n', { cutAt: 13, line: 2 }],
    ];
    for (const [text, where] of cases) {
      const cutter = silentCutter();
      cutter.push(text, 12);
      assert.deepEqual(cutter.end(), { complete: false, ...where }, text);
    }
  });

  test("skips an element over the limit and goes on", () => {
    const got: string[] = [];
    const over: number[] = [];
    const cutter = new RecordsCutter(
      (t, s, e) => got.push(t.slice(s, e)),
      10,
      (at) => over.push(at),
    );
    const text = `{"Records":[{"a":1},{"b":"${"x".repeat(40)}"},{"c":2}]}`;
    cutter.push(text.slice(0, 12), 12);
    for (let i = 12; i < text.length; i += 3) cutter.push(text.slice(i, i + 3));
    assert.deepEqual(got, ['{"a":1}', '{"c":2}']);
    assert.deepEqual(over, [20]);
    assert.deepEqual(cutter.end(), { complete: true });
  });

  test("anything but the plain S3 layout is refused", () => {
    for (const text of ['{"Records":[1]}', '{"Records":[{}],"x":1}', '{"Records":[{}]} {}', '{"Records":[{},]}']) {
      assert.throws(() => silentCutter().push(text, 12), { name: "Error" }, text);
    }
  });
});

describe("LinesCutter", () => {
  test("numbers and trims lines as split + trim would, across pieces", () => {
    const line = fc.oneof(objectText, fc.constantFrom("", " ", "\r", "\u00a0x\u2028", "{not json", "\ufeff{}"));
    fc.assert(
      fc.property(
        fc
          .array(line, { maxLength: 8 })
          .map((ls) => ls.join("\n"))
          .chain((t) => fc.tuple(fc.constant(t), cuts(t.length))),
        ([text, at]) => {
          const expected = text
            .split("\n")
            .map((l, i) => [i + 1, l.trim()] as const)
            .filter(([, l]) => l !== "");
          const got: (readonly [number, string])[] = [];
          const cutter = new LinesCutter(
            (t, s, e, n) => got.push([n, t.slice(s, e)]),
            1e9,
            () => assert.fail("no line is over the limit"),
          );
          for (const p of pieces(text, at)) cutter.push(p);
          cutter.end();
          assert.deepEqual(got, expected);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("skips a line over the limit and goes on", () => {
    const got: number[] = [];
    const over: number[] = [];
    const cutter = new LinesCutter(
      (_t, _s, _e, n) => got.push(n),
      10,
      (n) => over.push(n),
    );
    const text = `{"a":1}\n{"b":"${"x".repeat(30)}"}\n{"c":2}`;
    for (let i = 0; i < text.length; i += 4) cutter.push(text.slice(i, i + 4));
    cutter.end();
    assert.deepEqual(got, [1, 3]);
    assert.deepEqual(over, [2]);
  });
});

describe("decideOpening", () => {
  test("recognises the two streamed shapes and waits when it cannot tell yet", () => {
    assert.deepEqual(decideOpening('{"Records":[', false, 100), { kind: "records", arrayStart: 12 });
    assert.deepEqual(decideOpening(' {\n  "Records" : [ {', false, 100), { kind: "records", arrayStart: 18 });
    assert.deepEqual(decideOpening('{"Reco', false, 100), { kind: "more" });
    assert.equal(decideOpening('{"Reco', true, 100).kind, "whole");
    assert.deepEqual(decideOpening('{"a":1}\n{"b"', false, 100), { kind: "lines" });
    assert.deepEqual(decideOpening('{"a":1', false, 100), { kind: "more" });
    assert.equal(decideOpening('{"a":1', false, 3).kind, "whole");
    assert.equal(decideOpening(`{\n  "eventVersion": "1.08",`, false, 100).kind, "whole");
    assert.equal(decideOpening("[{}]", false, 100).kind, "whole");
    assert.equal(decideOpening('\ufeff{"Records":[', false, 100).kind, "whole");
    assert.deepEqual(decideOpening("  ", false, 100), { kind: "more" });
    assert.equal(decideOpening("  ", true, 100).kind, "whole");
  });
});
