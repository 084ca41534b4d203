/**
 * The proof that the fast path is never different: `fastFacts` against `factsOf(JSON.parse(…))` on
 * every real record at hand, on a simulated fleet, and on records mutated and generated at random —
 * with the share of records the fast path actually took asserted, so that a fast path giving up on
 * everything fails too.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { decodeLogObject } from "../cloudtrail/decode.js";
import { endOfCompound, skipSpace, splitValues } from "../cloudtrail/json-values.js";
import { type CloudTrailRecord, looksLikeRecord } from "../cloudtrail/record.js";
import { toEngineEvent } from "../engine/event.js";
import { simulate } from "../simulate/simulate.js";
import { type JsonStyle, PLAIN_STYLE, writeJson } from "../test-helpers/json-writer.js";
import { at, call, ec2Issuance, userCall } from "../test-helpers/records.js";
import { factsOf, type RecordFacts } from "./facts.js";
import { ENVELOPE_KEYS, EXTRACTED_PATHS, fastFacts, fastRecordAt, fastRecordEnd } from "./fast-extract.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const DATASETS = "/work/shared/datasets";
/** Runs of each random property and their seed; raise or change them by hand for a longer search. */
const FUZZ_RUNS = Number(process.env.FIRSTCALL_FUZZ_RUNS ?? 2000);
const FUZZ_SEED = Number(process.env.FIRSTCALL_FUZZ_SEED ?? 42);

interface Tally {
  records: number;
  /** The fast path answered (and matched). */
  fast: number;
  /** The fast path asked for the fallback on a record the reference reads. */
  fallback: number;
  /** The reference throws (not JSON, or `factsOf` fails); the fast path must ask for the fallback. */
  rejected: number;
}

function tally(): Tally {
  return { records: 0, fast: 0, fallback: 0, rejected: 0 };
}

/**
 * `fastRecordAt` (which finds the record's end itself) on the span's start: when it answers and the
 * record it read is the span (up to JSON whitespace), the span is valid JSON, a plain CloudTrail record
 * (no Insights marker, no envelope key), and the facts are the reference's.
 */
function checkRecordAt(text: string, start: number, end: number, expected: RecordFacts | undefined): void {
  const whole = fastRecordAt(text, start, Number.MAX_SAFE_INTEGER);
  if (whole === undefined) return;
  const wholeEnd = fastRecordEnd();
  if (wholeEnd > end || !/^[ \t\r\n]*$/.test(text.slice(wholeEnd, end))) return;
  const span = text.slice(start, end);
  assert.ok(expected !== undefined, `fastRecordAt answered where the reference throws: ${span}`);
  const value = JSON.parse(span) as Record<string, unknown>;
  assert.ok(
    looksLikeRecord(value) &&
      value.eventCategory !== "Insight" &&
      value.eventType !== "AwsCloudTrailInsight" &&
      ENVELOPE_KEYS.every((k) => !(k in value)),
    `fastRecordAt read as a plain record: ${span}`,
  );
  assert.deepStrictEqual(whole, expected, `fastRecordAt: different facts for ${span}`);
}

/** Checks one record span against the reference; returns the fast answer. */
function check(text: string, start: number, end: number, t: Tally): RecordFacts | undefined {
  t.records++;
  let expected: RecordFacts | undefined;
  let threw = false;
  try {
    expected = factsOf(JSON.parse(text.slice(start, end)) as CloudTrailRecord);
  } catch {
    threw = true;
  }
  const got = fastFacts(text, start, end);
  checkRecordAt(text, start, end, threw ? undefined : expected);
  if (threw) {
    t.rejected++;
    assert.equal(got, undefined, `fast path answered where the reference throws: ${text.slice(start, end)}`);
    return got;
  }
  if (got === undefined) {
    t.fallback++;
    return got;
  }
  t.fast++;
  assert.deepStrictEqual(got, expected, `different facts for ${text.slice(start, end)}`);
  return got;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(path));
    else if (/\.json(l)?(\.gz)?$/.test(e.name)) out.push(path);
  }
  return out.sort();
}

function textOf(bytes: Buffer): string {
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
}

/**
 * The original text spans of the records in a log file: the elements of `{"Records":[…]}` or of a
 * bare array, or the values of a file with one per line. Empty for other shapes.
 */
function recordSpans(text: string): { start: number; end: number }[] {
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    // One value per line, or glued values.
    return [...splitValues(text)].filter((s) => s.complete && text.charCodeAt(s.start) === 123);
  }
  const first = skipSpace(text);
  let open = -1;
  let expected = 0;
  if (Array.isArray(whole)) {
    open = first;
    expected = whole.length;
  } else if (whole !== null && typeof whole === "object" && Array.isArray((whole as { Records?: unknown }).Records)) {
    const m = /^\s*\{\s*"Records"\s*:\s*\[/.exec(text);
    if (!m) return [];
    open = m[0].length - 1;
    expected = ((whole as { Records: unknown[] }).Records as unknown[]).length;
  }
  if (open === -1) return [];
  const spans = [...splitValues(text, open + 1, endOfCompound(text, open) - 1)];
  assert.equal(spans.length, expected, "every array element is a span");
  return spans.filter((s) => text.charCodeAt(s.start) === 123);
}

/** Every record of every log file under `root`: original spans, and decoded records written again. */
function checkTree(root: string, t: Tally): number {
  let files = 0;
  for (const path of walk(root)) {
    const bytes = readFileSync(path);
    const text = textOf(bytes);
    files++;
    for (const span of recordSpans(text)) check(text, span.start, span.end, t);
    let records: CloudTrailRecord[] = [];
    try {
      records = decodeLogObject(bytes, path).records;
    } catch {
      // Not a log object (e.g. a digest). Nothing to read.
    }
    for (const r of records) {
      const again = JSON.stringify(r);
      check(again, 0, again.length, t);
    }
  }
  return files;
}

function assertMostlyFast(t: Tally, minShare: number): void {
  const readable = t.records - t.rejected;
  assert.ok(readable > 0, "some records were checked");
  assert.ok(t.fast / readable >= minShare, `fast path took ${t.fast} of ${readable} records`);
}

describe("fastFacts on real records", () => {
  test("every record under testdata/", () => {
    const t = tally();
    const files = checkTree(join(REPO, "testdata"), t);
    console.log(`testdata: ${files} files, ${t.records} records checked, ${t.fast} fast, ${t.fallback} fell back`);
    assertMostlyFast(t, 0.99);
  });

  test("every record under /work/shared/datasets (when present)", () => {
    if (!existsSync(DATASETS)) {
      console.log(`${DATASETS} is absent: the data-set part was skipped`);
      return;
    }
    const t = tally();
    const files = checkTree(DATASETS, t);
    console.log(`datasets: ${files} files, ${t.records} records checked, ${t.fast} fast, ${t.fallback} fell back`);
    assertMostlyFast(t, 0.99);
  });
});

describe("fastFacts on a simulated fleet", () => {
  const dir = mkdtempSync(join(tmpdir(), "firstcall-fast-extract-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("every record of every file, original text", async () => {
    const out = join(dir, "sim");
    const result = await simulate({ outDir: out, instances: 12, hours: 2, accounts: 2, regions: 2, seed: 23 });
    const t = tally();
    let withEvent = 0;
    for (const file of result.files) {
      const text = textOf(readFileSync(join(out, file)));
      for (const span of recordSpans(text)) if (check(text, span.start, span.end, t)?.event) withEvent++;
    }
    console.log(`simulated: ${result.files.length} files, ${t.records} records, ${t.fast} fast, ${withEvent} events`);
    assert.equal(t.records, result.writer.records);
    assert.equal(t.fallback, 0);
    assert.ok(withEvent > t.records / 2, "most simulated records give the engine an event");
  });
});

// ---------------------------------------------------------------------------------------------------
// Random records.

/** Real-looking records to mutate: from testdata/ and built like the engine tests' records. */
function templates(): CloudTrailRecord[] {
  const out: CloudTrailRecord[] = [];
  for (const path of walk(join(REPO, "testdata"))) {
    try {
      const records = decodeLogObject(readFileSync(path), path).records;
      // A few of each file, spread over it.
      const step = Math.max(1, Math.floor(records.length / 6));
      for (let k = 0; k < records.length; k += step) out.push(records[k] as CloudTrailRecord);
    } catch {
      // Not a log object.
    }
  }
  const t0 = at(0);
  out.push(
    call("i-0123456789abcdef0", "ASIAEXAMPLEKEY000001", "203.0.113.7", t0),
    call("i-0123abcd", "ASIAEXAMPLEKEY000002", "10.0.0.5", t0, {
      delivery: "1.0",
      vpce: "vpce-0a1b",
      vpceAccount: "111122223333",
    }),
    call("worker-7", "ASIAEXAMPLEKEY000003", "198.51.100.9", t0, {
      delivery: null,
      invokedBy: "ecs-tasks.amazonaws.com",
      errorCode: "AccessDenied",
    }),
    ec2Issuance("i-0fedcba9876543210", "ASIAEXAMPLEKEY000004", t0),
    ec2Issuance("task-1", "ASIAEXAMPLEKEY000005", t0, { service: "ecs-tasks.amazonaws.com" }),
    userCall("AssociateAddress", t0, { instanceId: "i-0123456789abcdef0", allocationId: "eipalloc-1" }),
    userCall("AttachNetworkInterface", t0, {
      instanceId: "i-0123456789abcdef0",
      networkInterfaceId: "eni-1",
      deviceIndex: 1,
    }),
    userCall("StartInstances", t0, {
      instancesSet: { items: [{ instanceId: "i-0123456789abcdef0" }, { instanceId: "i-1" }] },
    }),
    userCall(
      "RunInstances",
      t0,
      {},
      {
        instancesSet: {
          items: [
            { instanceId: "i-0aaaaaaaaaaaaaaaa", networkInterfaceSet: { items: [{ networkInterfaceId: "eni-2" }] } },
          ],
        },
      },
    ),
    userCall("CreateVpcEndpoint", t0, {}, { CreateVpcEndpointResponse: { vpcEndpointId: "vpce-0123" } }),
    {
      ...call("i-0123456789abcdef0", "ASIAEXAMPLEKEY000006", "10.1.2.3", t0),
      userIdentity: {
        type: "AssumedRole",
        arn: "arn:aws:sts::111122223333:assumed-role/web/some-session",
        accountId: "111122223333",
        accessKeyId: "ASIAEXAMPLEKEY000006",
        sessionContext: { ec2IssuedInVPC: "vpc-0abc" },
        inScopeOf: {
          issuerType: "AWS::EC2::Instance",
          credentialsIssuedTo: "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
        },
      },
    },
  );
  return out;
}

const INTERESTING_STRINGS = [
  "",
  "AssumedRole",
  "AWSService",
  "IAMUser",
  "sts.amazonaws.com",
  "ec2.amazonaws.com",
  "AssumeRole",
  "AssumeRoleWithWebIdentity",
  "AssociateAddress",
  "AttachNetworkInterface",
  "StartInstances",
  "RunInstances",
  "CreateVpcEndpoint",
  "AWS::EC2::Instance",
  "2.0",
  "1.0",
  "arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0",
  "arn:aws:sts::111122223333:assumed-role/web/I-0123ABCD",
  "arn:aws:sts::111122223333:assumed-role/web/i-0123abc",
  "arn:aws:sts::111122223333:assumed-role/web/",
  "arn:aws:iam::111122223333:role/path/web",
  "no-slash-at-all",
  "i-0123456789abcdef0",
  "2024-06-03T22:33:21Z",
  "2021-02-31T00:00:00Z",
  "2021-01-01T24:00:00Z",
  "2021-01-01T23:59:60Z",
  "0999-01-01T00:00:00Z",
  "2024-06-03T22:33:21.123Z",
  "2024-06-03 22:33:21",
  "Mon, 03 Jun 2024 22:33:21 GMT",
  "not a time",
  '","eventTime":"2020-01-01T00:00:00Z","eventName":"AssumeRole',
  '"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/i-1"}',
  "\\u0041 looks like an escape",
  'quote " backslash \\ slash / tab \t newline \n nul \u0000 é 😀 \ud800 lone',
];

const WANTED_NAMES = [
  ...new Set(EXTRACTED_PATHS.flatMap((p) => p.split("."))),
  "roleArn",
  "roleSessionName",
  "credentials",
  "assumedRoleUser",
  "instanceId",
  "networkInterfaceId",
  "instancesSet",
  "items",
  "vpcEndpoint",
  "vpcEndpointId",
];

const keyArb = fc.oneof(fc.constantFrom(...WANTED_NAMES), fc.string({ maxLength: 12 }));

const stringArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INTERESTING_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 2000, maxLength: 6000 }) },
);

/** Nested arrays or objects `depth` deep, around `inner`. */
function nested(depth: number, inner: unknown, objects: boolean): unknown {
  let v = inner;
  for (let k = 0; k < depth; k++) v = objects ? { eventName: v } : [v];
  return v;
}

const valueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3 },
    { weight: 6, arbitrary: stringArb },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
    { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
    { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 3 }) },
    { weight: 2, arbitrary: fc.dictionary(keyArb, tie("value"), { maxKeys: 4 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 1100 }), fc.boolean(), fc.nat({ max: 9 }))
        .map(([depth, objects, odds]) => (odds === 0 ? nested(depth, "deep", objects) : [[{}]])),
    },
  ),
})).value;

const PATHS = [
  ...EXTRACTED_PATHS,
  "requestParameters.roleArn",
  "requestParameters.roleSessionName",
  "requestParameters.instanceId",
  "requestParameters.networkInterfaceId",
  "requestParameters.instancesSet",
  "requestParameters.eventName",
  "requestParameters.eventTime",
  "requestParameters.userIdentity",
  "requestParameters.userIdentity.type",
  "responseElements.credentials.accessKeyId",
  "responseElements.assumedRoleUser.arn",
  "responseElements.instancesSet",
  "responseElements.vpcEndpoint.vpcEndpointId",
  "resources",
  "additionalEventData.userIdentity",
  "tlsDetails.eventID",
];

type Mutation = { readonly path: string; readonly remove: boolean; readonly value: unknown };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  path: fc.constantFrom(...PATHS),
  remove: fc.boolean(),
  value: valueArb,
});

/** Sets (or removes) `path` in a copy-on-write walk of `record`; missing or non-object parents become objects. */
function mutate(record: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  const [head, ...rest] = m.path.split(".") as [string, ...string[]];
  const copy = { ...record };
  if (rest.length === 0) {
    if (m.remove) delete copy[head];
    else copy[head] = m.value;
    return copy;
  }
  const child = copy[head];
  const base =
    child !== null && typeof child === "object" && !Array.isArray(child) ? (child as Record<string, unknown>) : {};
  copy[head] = mutate(base, { ...m, path: rest.join(".") });
  return copy;
}

const styleArb: fc.Arbitrary<JsonStyle> = fc.record({
  seed: fc.integer(),
  escapes: fc.oneof(fc.constant(0), fc.constant(0), fc.double({ min: 0, max: 0.3, noNaN: true })),
  whitespace: fc.constantFrom("none", "none", "spaces", "any"),
  shuffleKeys: fc.boolean(),
  duplicates: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
});

/** Small damage to one text in eight, to check that the fast path rejects what `JSON.parse` rejects. */
const damageArb = fc.oneof(
  { weight: 7, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.record({
      at: fc.nat(),
      remove: fc.nat({ max: 2 }),
      insert: fc.constantFrom(
        "",
        ",",
        ":",
        '"',
        "{",
        "}",
        "[",
        "]",
        "\\",
        "\u0001",
        "\n",
        "x",
        "0",
        "-",
        "01",
        "tru",
        " ",
      ),
    }),
  },
);

interface Embedded {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly neighbourStart: number;
  readonly neighbourEnd: number;
}

/** The record inside a larger text, as the reader sees it: `[start, end)`, after a neighbour and before another. */
function embed(record: string, neighbour: string): Embedded {
  const prefix = `{"Records":[${neighbour},`;
  return {
    text: `${prefix}${record}, ${neighbour}]}`,
    start: prefix.length,
    end: prefix.length + record.length,
    neighbourStart: 12,
    neighbourEnd: 12 + neighbour.length,
  };
}

function damage(text: string, d: { at: number; remove: number; insert: string } | null): string {
  if (d === null) return text;
  const at = d.at % (text.length + 1);
  return text.slice(0, at) + d.insert + text.slice(at + d.remove);
}

describe("fastFacts on random records", () => {
  const pool = templates();

  test("templates mutated and written in every style", () => {
    const t = tally();
    fc.assert(
      fc.property(
        fc.nat({ max: pool.length - 1 }),
        fc.array(mutationArb, { maxLength: 6 }),
        styleArb,
        damageArb,
        fc.nat({ max: pool.length - 1 }),
        (index, mutations, style, damaged, neighbour) => {
          let record = pool[index] as Record<string, unknown>;
          for (const m of mutations) record = mutate(record, m);
          const text = damage(writeJson(record, style), damaged);
          const around = embed(text, writeJson(pool[neighbour], PLAIN_STYLE));
          check(around.text, around.neighbourStart, around.neighbourEnd, tally());
          check(around.text, around.start, around.end, t);
        },
      ),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
    console.log(`mutated: ${t.records} records, ${t.fast} fast, ${t.fallback} fell back, ${t.rejected} rejected`);
    assert.ok(t.rejected > 0, "damaged texts were tried");
    assertMostlyFast(t, 0.9);
  });

  test("arbitrary objects with the wanted keys mixed in", () => {
    const t = tally();
    const identityArb = fc.oneof(
      valueArb,
      fc.record(
        {
          type: fc.oneof(fc.constantFrom("AssumedRole", "AWSService"), valueArb),
          arn: fc.oneof(fc.constantFrom(...INTERESTING_STRINGS), valueArb),
          accountId: valueArb,
          accessKeyId: valueArb,
          invokedBy: valueArb,
          sessionContext: fc.oneof(
            valueArb,
            fc.record(
              {
                ec2RoleDelivery: valueArb,
                ec2IssuedInVPC: valueArb,
                sessionIssuer: fc.oneof(valueArb, fc.record({ arn: valueArb })),
              },
              { requiredKeys: [] },
            ),
          ),
          inScopeOf: fc.oneof(valueArb, fc.record({ issuerType: valueArb }, { requiredKeys: [] })),
        },
        { requiredKeys: [] },
      ),
    );
    const recordArb = fc
      .tuple(
        fc.dictionary(keyArb, valueArb, { maxKeys: 6 }),
        fc.record(
          {
            eventTime: fc.oneof(fc.constantFrom(...INTERESTING_STRINGS), valueArb),
            "@timestamp": fc.oneof(fc.constantFrom("2024-06-03T22:33:21Z"), valueArb),
            eventID: valueArb,
            eventSource: fc.oneof(fc.constantFrom("sts.amazonaws.com", "ec2.amazonaws.com"), valueArb),
            eventName: fc.oneof(fc.constantFrom("AssumeRole", "AssociateAddress", "GetObject"), valueArb),
            awsRegion: valueArb,
            sourceIPAddress: valueArb,
            userAgent: valueArb,
            errorCode: valueArb,
            recipientAccountId: valueArb,
            vpcEndpointId: valueArb,
            vpcEndpointAccountId: valueArb,
            requestID: valueArb,
            userIdentity: identityArb,
            requestParameters: valueArb,
            responseElements: valueArb,
          },
          { requiredKeys: [] },
        ),
      )
      .map(([noise, wanted]) => ({ ...noise, ...wanted }));
    fc.assert(
      fc.property(recordArb, styleArb, damageArb, (record, style, damaged) => {
        const text = damage(writeJson(record, style), damaged);
        const around = embed(text, "{}");
        check(around.text, around.start, around.end, t);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
    console.log(`arbitrary: ${t.records} records, ${t.fast} fast, ${t.fallback} fell back, ${t.rejected} rejected`);
    assertMostlyFast(t, 0.9);
  });
});

describe("fastFacts edge cases", () => {
  const base = call("i-0123456789abcdef0", "ASIAEXAMPLEKEY000001", "203.0.113.7", at(0));
  const text = JSON.stringify(base);

  test("invalid JSON is left to the fallback", () => {
    const broken = [
      text.replace('"eventName":', '"eventName" '),
      text.replace('"readOnly":true', '"readOnly":tru'),
      text.replace('"readOnly":true', '"readOnly":01'),
      text.replace('"readOnly":true', '"readOnly":1.'),
      text.replace('"readOnly":true', '"readOnly":-'),
      text.replace('"eventType":"AwsApiCall"', '"eventType":"Aws\u0001Call"'),
      text.replace('"eventType":"AwsApiCall"', '"eventType":"Aws\\xCall"'),
      text.replace('"eventType":"AwsApiCall"', '"eventType":"Aws\\u00GCall"'),
      text.replace('"managementEvent":true', '"managementEvent":true,'),
      text.replace("}", "},"),
      `${text.slice(0, -1)},}`,
      `${text}x`,
      text.replace('"requestParameters":null', '"requestParameters":{"a":[1,]}'),
      text.replace('"requestParameters":null', '"requestParameters":{"a" 1}'),
    ];
    for (const b of broken) {
      assert.throws(() => JSON.parse(b));
      assert.equal(fastFacts(b, 0, b.length), undefined, b);
    }
  });

  test("a record whose facts make factsOf throw is left to the fallback", () => {
    const { eventID: _, ...noId } = base;
    const odd = JSON.stringify({ ...noId, eventSource: { toString: 1 } });
    assert.throws(() => factsOf(JSON.parse(odd)));
    assert.equal(fastFacts(odd, 0, odd.length), undefined);
  });

  test("nesting deeper than the skipper follows is left to the fallback, and is still read right", () => {
    const depth = 5000;
    const deep = text.replace(
      '"requestParameters":null',
      `"requestParameters":${"[".repeat(depth)}1${"]".repeat(depth)}`,
    );
    assert.equal(fastFacts(deep, 0, deep.length), undefined);
    const t = tally();
    check(deep, 0, deep.length, t);
  });

  test("spans must hold exactly one object", () => {
    assert.equal(fastFacts(` ${text}`, 0, text.length + 1), undefined);
    assert.equal(fastFacts(text, 0, text.length - 1), undefined);
    assert.equal(fastFacts(text, 0, text.length + 1), undefined);
    assert.deepStrictEqual(fastFacts(`${text} \n`, 0, text.length + 2), factsOf(JSON.parse(text)));
  });

  test("the last of duplicate keys wins, as in JSON.parse", () => {
    const dup = text.replace('{"eventVersion"', '{"eventName":"AssumeRole","userIdentity":"none","eventVersion"');
    const got = fastFacts(dup, 0, dup.length);
    assert.ok(got?.event?.caller);
    assert.deepStrictEqual(got, factsOf(JSON.parse(dup)));
  });

  test("every field toEngineEvent reads is one the fast path copies", () => {
    const allowed = new Set(EXTRACTED_PATHS);
    const wholeSubtrees = ["requestParameters", "responseElements"];
    const read = new Set<string>();
    const track = (value: unknown, path: string): unknown => {
      if (value === null || typeof value !== "object") return value;
      return new Proxy(value, {
        get(target, key, receiver) {
          const child = Reflect.get(target, key, receiver);
          if (typeof key !== "string") return child;
          const childPath = path ? `${path}.${key}` : key;
          read.add(childPath);
          return track(child, childPath);
        },
      });
    };
    const records = [...templates(), ...templates().map((r) => ({ ...r, errorCode: undefined }))];
    for (const r of records) toEngineEvent(track(r, "") as CloudTrailRecord);
    assert.ok(read.size > 10);
    for (const path of read) {
      const covered = allowed.has(path) || wholeSubtrees.some((s) => path === s || path.startsWith(`${s}.`));
      assert.ok(covered, `toEngineEvent reads ${path}, which the fast path does not copy`);
    }
  });

  test("returned strings do not keep the text alive", () => {
    const dir = mkdtempSync(join(tmpdir(), "firstcall-fast-extract-gc-"));
    try {
      const script = join(dir, "retain.ts");
      const module = new URL("./fast-extract.ts", import.meta.url).href;
      writeFileSync(
        script,
        `import { fastFacts, forgetFastText } from ${JSON.stringify(module)};
const record = ${JSON.stringify(text)};
function read(mode: string): unknown {
  // A 60 MB text, as large files are, with the record at its start.
  let big: string | null = '{"Records":[' + record + ',{"pad":"' + "x".repeat(60_000_000) + '"}]}';
  const start = 12;
  const kept = mode === "slice" ? big.slice(start + 40, start + 140) : fastFacts(big, start, start + record.length);
  big = null;
  // The extractor holds the last text it read between records; the reader lets it go after each object.
  forgetFastText();
  return kept;
}
const kept = read(process.argv[2] ?? "");
(globalThis as { gc?: () => void }).gc?.();
const m = process.memoryUsage();
console.log(JSON.stringify({ mb: (m.heapUsed + m.external) / 1e6, kept: kept !== undefined }));
`,
      );
      const run = (mode: string) => {
        const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", script, mode], {
          cwd: REPO,
          encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout.trim().split("\n").pop() as string) as { mb: number; kept: boolean };
      };
      const sliced = run("slice");
      const facts = run("facts");
      assert.ok(sliced.kept && facts.kept);
      assert.ok(sliced.mb > 55, `the check itself works: a plain slice keeps the text (${sliced.mb} MB)`);
      assert.ok(facts.mb < 30, `facts keep ${facts.mb} MB alive`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
