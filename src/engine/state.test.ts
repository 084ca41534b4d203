import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeSession,
  type EventBrief,
  encodeDocument,
  encodeSession,
  type Observation,
  type SessionState,
} from "./state.js";

function brief(id: string, timeIso: string, extra: Partial<EventBrief> = {}): EventBrief {
  return {
    id,
    time: Date.parse(timeIso),
    timeIso,
    name: "GetObject",
    source: "s3.amazonaws.com",
    region: "eu-west-1",
    account: "111122223333",
    ip: "198.51.100.7",
    userAgent: "aws-cli/2.15.0",
    accessKeyId: "ASIAEXAMPLEKEY000001",
    ...extra,
  };
}

function observation(first: EventBrief, lastIso: string, more: [number, string][], extra: Partial<Observation> = {}) {
  const obs: Observation = {
    first,
    last: Date.parse(lastIso),
    lastIso,
    count: 1 + more.length,
    samples: [[first.time, first.id], ...more],
    names: ["GetObject", "PutObject"],
    accessKeys: ["ASIAEXAMPLEKEY000001"],
    userAgents: ["aws-cli/2.15.0"],
    ...extra,
  };
  return obs;
}

function session(observations: Observation[]): SessionState {
  return {
    key: "arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0",
    kind: "ec2-instance",
    arn: "arn:aws:sts::111122223333:assumed-role/web/i-0123456789abcdef0",
    roleArn: "arn:aws:iam::111122223333:role/web",
    sessionName: "i-0123456789abcdef0",
    instanceId: "i-0123456789abcdef0",
    account: "111122223333",
    lifetimes: [
      {
        start: Date.parse("2026-11-01T00:00:00Z"),
        validUntil: Date.parse("2026-11-01T06:00:00Z"),
        covered: true,
        direct: new Map(observations.map((o) => [o.first.ip, o])),
        endpoint: new Map(),
      },
    ],
  };
}

test("a session round-trips whatever its times look like", () => {
  const t = Date.parse("2026-11-01T00:10:00Z");
  const observations = [
    // CloudTrail's own format: the ISO strings are not stored, they are the numbers again.
    observation(brief("e1", "2026-11-01T00:10:00Z"), "2026-11-01T01:00:00Z", [[t + 5000, "e2"]]),
    // Milliseconds, and an `@timestamp` written another way: kept as they were.
    observation(brief("e3", "2026-11-01T00:10:00.123Z", { ip: "198.51.100.8" }), "2026-11-01T01:00:00.5Z", []),
    observation(brief("e4", "2026-11-01T00:10:00+00:00", { ip: "198.51.100.9" }), "2026-11-01T00:10:00Z", [], {
      learnedAt: t,
      egressMove: true,
    }),
  ];
  const s = session(observations);
  assert.deepEqual(decodeSession(encodeSession(s)), s);
});

test("samples that do not start with the first call are kept whole", () => {
  const first = brief("e1", "2026-11-01T00:10:00Z");
  const odd = observation(first, "2026-11-01T00:20:00Z", []);
  odd.samples = [[first.time + 1000, "e9"]];
  const s = session([odd]);
  assert.deepEqual(decodeSession(encodeSession(s)), s);
  const empty = observation(first, "2026-11-01T00:20:00Z", []);
  empty.samples = [];
  assert.deepEqual(decodeSession(encodeSession(session([empty]))), session([empty]));
});

test("a session document of state schema 2 (ISO strings, first call in the samples) still decodes", () => {
  const t = Date.parse("2026-11-01T00:10:00Z");
  const s = session([observation(brief("e1", "2026-11-01T00:10:00Z"), "2026-11-01T01:00:00Z", [[t + 1, "e2"]])]);
  // Schema 2 stored the session as it is in memory (maps as entry lists), which `encodeDocument` writes.
  assert.deepEqual(decodeSession(encodeDocument(s)), s);
});

test("the stored form leaves out what can be recomputed", () => {
  const t = Date.parse("2026-11-01T00:10:00Z");
  const more: [number, string][] = [1, 2, 3, 4].map((i) => [t + i * 1000, crypto.randomUUID()]);
  const s = session([observation(brief(crypto.randomUUID(), "2026-11-01T00:10:00Z"), "2026-11-01T01:00:00Z", more)]);
  const [now, before] = [encodeSession(s).length, encodeDocument(s).length];
  assert.ok(now < before, `${now} bytes, schema 2: ${before}`);
});
