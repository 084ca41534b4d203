import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BINARY_SESSION_MARK,
  DEFLATED_SESSION_MARK,
  decodeSessionBinary,
  deflateSessionBinary,
  encodeSessionBinary,
  inflateSessionBinary,
} from "./session-binary.js";
import {
  decodeSession,
  encodeSession,
  encodeSessionCompact,
  encodeSessionJson,
  type Observation,
  type SessionState,
} from "./state.js";

const T0 = Date.parse("2026-11-01T00:00:00Z");

function obs(ip: string, id: string, time: number, extra: Partial<Observation> = {}): Observation {
  return {
    first: {
      id,
      time,
      timeIso: new Date(time).toISOString().replace(".000Z", "Z"),
      name: "GetObject",
      source: "s3.amazonaws.com",
      region: "eu-west-1",
      account: "111122223333",
      ip,
      userAgent: "aws-cli/2.15.0 Python/3.11",
      accessKeyId: "ASIAQ2ZXWVYT7EXAMPLE",
    },
    last: time + 60_000,
    lastIso: new Date(time + 60_000).toISOString().replace(".000Z", "Z"),
    count: 3,
    samples: [
      [time, id],
      [time + 1000, "0f8fad5b-d9cb-469f-a165-70867728950e"],
    ],
    names: ["GetObject", "ListBuckets", "GetObject\u00e9"],
    accessKeys: ["ASIAQ2ZXWVYT7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"],
    userAgents: ["aws-cli/2.15.0 Python/3.11"],
    ...extra,
  };
}

function session(extra: Partial<SessionState> = {}): SessionState {
  const key = "arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0";
  const endpointFirst = obs("10.0.0.5", "7c9e6679-7425-40de-944b-e07fc1f90ae7", T0 + 120_000);
  endpointFirst.first = {
    ...endpointFirst.first,
    vpcEndpointId: "vpce-0a1b2c3d",
    vpcEndpointAccountId: "111122223333",
    errorCode: "AccessDenied",
  };
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
          ["198.51.100.7", obs("198.51.100.7", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", T0 + 5000)],
          [
            "198.51.100.8",
            obs("198.51.100.8", "e2", T0 + 7001, { learnedAt: T0 - 1500, otherFamily: true, egressMove: false }),
          ],
        ]),
        endpoint: new Map([["vpce-0a1b2c3d|10.0.0.5|s3.amazonaws.com", endpointFirst]]),
      },
      // A lifetime before the first one's start: times below the base are negative differences.
      { start: T0 - 86_400_123, validUntil: T0 - 1, covered: false, direct: new Map(), endpoint: new Map() },
    ],
    openAddresses: ["198.51.100.8"],
    issued: [
      ["ASIAQ2ZXWVYT7EXAMPLE", T0],
      ["ASIA-not-base32-key!", T0 - 3_600_000],
    ],
    ...extra,
  };
}

test("a session with every optional field round-trips through the binary layout exactly", () => {
  const s = session();
  const bytes = encodeSessionBinary(s);
  assert.ok(bytes, "modelled");
  assert.equal(bytes[0], BINARY_SESSION_MARK);
  assert.deepEqual(decodeSessionBinary(bytes), s);
  assert.deepEqual(decodeSession(encodeSession(s)), s);
});

test("values the layout has no short form for are kept as they are", () => {
  const s = session({
    // Not derivable from the key: written out.
    roleArn: "arn:aws:iam::111122223333:role/path/web",
    sessionName: "other",
    instanceId: "i-0fedcba9876543210",
    arn: "arn:aws:sts::111122223333:assumed-role/web/other",
  });
  const o = s.lifetimes[0]?.direct.get("198.51.100.7") as Observation;
  // An upper-case id, a key that is not an access key id, times with milliseconds, other ISO texts.
  o.first = { ...o.first, id: "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", timeIso: "2026-11-01T00:00:05+00:00" };
  o.samples = [[o.first.time + 0.5 * 2, "x"]];
  o.lastIso = "2026-11-01T00:01:05.000Z";
  o.accessKeys = ["ASIA0000000000000000", "ASIAq2zxwvyt7example"];
  s.lifetimes[0]?.direct.set("not-the-first-ip", o);
  assert.deepEqual(decodeSessionBinary(encodeSessionBinary(s) as Buffer), s);
  // Sessions keyed by access key (credentials shared by name) and with no lifetime.
  const byKey: SessionState = {
    key: "ak:ASIAQ2ZXWVYT7EXAMPLE",
    kind: "lambda",
    arn: "arn:aws:sts::111122223333:assumed-role/fn/fn-name",
    sessionName: "fn-name",
    account: "111122223333",
    lifetimes: [],
  };
  assert.deepEqual(decodeSessionBinary(encodeSessionBinary(byKey) as Buffer), byKey);
});

test("a session holding what the layout does not model is stored in the JSON form, and reads back", () => {
  const unknownField = { ...session(), addedLater: 1 } as SessionState;
  assert.equal(encodeSessionBinary(unknownField), undefined);
  const fractional = session();
  (fractional.lifetimes[0] as { start: number }).start = T0 + 0.25;
  assert.equal(encodeSessionBinary(fractional), undefined);
  const stored = encodeSession(fractional);
  assert.notEqual(stored[0], BINARY_SESSION_MARK);
  assert.deepEqual(decodeSession(stored), fractional);
});

test("a document of state schema 3 (deflated JSON) still decodes, and the binary one is smaller", () => {
  const s = session();
  const json = encodeSessionJson(s);
  assert.notEqual(
    (json[0] as number) & 0x07,
    BINARY_SESSION_MARK,
    "a raw deflate stream never starts with block type 11",
  );
  assert.deepEqual(decodeSession(json), s);
  const binary = encodeSessionBinary(s) as Buffer;
  assert.ok(binary.length < json.length, `binary ${binary.length} B, JSON ${json.length} B`);
});

test("a damaged binary document is an error naming where it stops, never a different session", () => {
  const bytes = encodeSessionBinary(session()) as Buffer;
  assert.throws(() => decodeSessionBinary(bytes.subarray(0, bytes.length - 3)), /binary session document: truncated/);
  assert.throws(() => decodeSessionBinary(Buffer.concat([bytes, Buffer.from([0])])), /trailing bytes/);
  const otherLayout = Buffer.from(bytes);
  otherLayout[1] = 99;
  assert.throws(() => decodeSessionBinary(otherLayout), /layout 99/);
});

test("every form decodes to the same session: deflated binary, binary, deflated JSON", () => {
  const s = session();
  const compact = encodeSessionCompact(s);
  const binary = encodeSessionBinary(s) as Buffer;
  const json = encodeSessionJson(s);
  assert.equal(compact[0], DEFLATED_SESSION_MARK);
  assert.ok(compact.length < binary.length, `deflated ${compact.length} B, binary ${binary.length} B`);
  assert.equal((json[0] as number) & 0x07, (json[0] as number) & 0x07 & 0x05, "raw deflate: block type is never 11");
  assert.notEqual(DEFLATED_SESSION_MARK & 0x06, 0x04, "the mark's block type bits are 11, reserved");
  for (const data of [compact, binary, json]) {
    assert.deepEqual(decodeSession(data, s.key), s);
  }
  assert.deepEqual(decodeSession(binary), s, "the forms without a key dictionary read without the key");
  assert.deepEqual(decodeSession(json), s);
  assert.deepEqual(inflateSessionBinary(compact, s.key), binary, "the deflated form holds the binary bytes exactly");
});

test("a session the binary layout does not model stays deflated JSON in the compact form", () => {
  const fractional = session();
  (fractional.lifetimes[0] as { start: number }).start = T0 + 0.25;
  const stored = encodeSessionCompact(fractional);
  assert.notEqual(stored[0], DEFLATED_SESSION_MARK);
  assert.notEqual(stored[0], BINARY_SESSION_MARK);
  assert.deepEqual(decodeSession(stored, fractional.key), fractional);
});

test("a tiny document that deflate would not shrink is kept binary", () => {
  const tiny = Buffer.from([BINARY_SESSION_MARK, 1, 0]);
  assert.deepEqual(deflateSessionBinary(tiny, "k"), tiny);
});

test("a deflated document read without its key, under another key, or damaged is an error, never another session", () => {
  const s = session();
  const compact = encodeSessionCompact(s);
  assert.throws(() => decodeSession(compact), /read without its key/);
  assert.throws(
    () => decodeSession(compact, "arn:aws:sts::111122223333:assumed-role/web/i-0fffffffffffffff0"),
    /written for another key/,
  );
  assert.throws(() => decodeSession(encodeSessionBinary(s) as Buffer, "another"), /stored under "another"/);
  assert.throws(
    () => decodeSession(compact.subarray(0, compact.length - 4), s.key),
    /deflated session document|binary session document/,
  );
  assert.throws(() => inflateSessionBinary(encodeSessionBinary(s) as Buffer, s.key), /no mark/);
});
