import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { InputError } from "../errors.js";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { decodeLogObject } from "./decode.js";

const FIXED = [
  ec2Issuance("i-0123456789abcdef0", "ASIAX000000000000001", at(0)),
  call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(1)),
];
const records = () => structuredClone(FIXED);
const enc = (s: string) => Buffer.from(s);

function decode(bytes: Buffer, name = "obj.json", maxObjectBytes?: number) {
  return decodeLogObject(bytes, name, maxObjectBytes ? { maxObjectBytes } : {});
}

function fails(bytes: Buffer, code: string, name = "bad.json", maxObjectBytes?: number): InputError {
  try {
    decode(bytes, name, maxObjectBytes);
  } catch (e) {
    assert.ok(e instanceof InputError);
    assert.equal(e.code, code);
    assert.ok(e.message.startsWith(`${name}: `), "the message names the file");
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("shapes", () => {
  const ids = records().map((r) => r.eventID);
  const cases: [string, Buffer, string][] = [
    ["Records file, gzipped (S3 delivery)", gzipSync(JSON.stringify({ Records: records() })), "records-file"],
    ["Records file, plain", enc(JSON.stringify({ Records: records() })), "records-file"],
    ["bare array (Stratus Red Team)", enc(JSON.stringify(records(), null, 2)), "array"],
    [
      "one record per line",
      enc(
        `${records()
          .map((r) => JSON.stringify(r))
          .join("\n")}\n`,
      ),
      "ndjson",
    ],
    [
      "glued values (Firehose)",
      enc(
        records()
          .map((r) => JSON.stringify(r))
          .join(""),
      ),
      "concatenated",
    ],
    [
      "EventBridge events, one per line",
      enc(
        records()
          .map((r) =>
            JSON.stringify({
              version: "0",
              id: "x",
              "detail-type": "AWS API Call via CloudTrail",
              source: "aws.sts",
              detail: r,
            }),
          )
          .join("\n"),
      ),
      "eventbridge",
    ],
    [
      "CloudWatch Logs subscription payload",
      enc(
        JSON.stringify({
          messageType: "DATA_MESSAGE",
          owner: "1",
          logGroup: "g",
          logStream: "s",
          logEvents: records().map((r, i) => ({ id: String(i), timestamp: 0, message: JSON.stringify(r) })),
        }),
      ),
      "cloudwatch-logs",
    ],
    [
      "CloudWatch Logs payload as a Lambda receives it (awslogs.data, base64 gzip)",
      enc(
        JSON.stringify({
          awslogs: {
            data: gzipSync(
              JSON.stringify({
                messageType: "DATA_MESSAGE",
                logEvents: records().map((r) => ({ message: JSON.stringify(r) })),
              }),
            ).toString("base64"),
          },
        }),
      ),
      "cloudwatch-logs",
    ],
    [
      "LookupEvents output",
      enc(
        JSON.stringify({ Events: records().map((r) => ({ EventId: r.eventID, CloudTrailEvent: JSON.stringify(r) })) }),
      ),
      "lookup-events",
    ],
  ];
  for (const [name, bytes, shape] of cases) {
    test(name, () => {
      const d = decode(bytes);
      assert.equal(d.shape, shape);
      assert.deepEqual(d.problems, []);
      assert.deepEqual(
        d.records.map((r) => r.eventID),
        ids,
      );
    });
  }

  test("records without eventTime fall back to @timestamp, counted", () => {
    const r = records().map(({ eventTime, ...rest }) => ({
      ...rest,
      "@timestamp": `${eventTime}`.replace("Z", ".000Z"),
    }));
    const d = decode(enc(r.map((x) => JSON.stringify(x)).join("\n")));
    assert.equal(d.timestampFallbacks, 2);
    assert.equal(d.records[0]?.eventTime, "2026-11-01T00:00:00.000Z");
  });

  test("a record with neither time is reported, not silently dropped", () => {
    const r = records();
    delete r[1]?.eventTime;
    const d = decode(enc(JSON.stringify({ Records: r })));
    assert.equal(d.records.length, 1);
    assert.match(d.problems[0]?.message ?? "", /1 records have neither eventTime nor @timestamp/);
  });

  test("digest, Insights and other JSON are skipped with a reason", () => {
    const digest = decode(
      enc(JSON.stringify({ awsAccountId: "1", digestStartTime: "x", logFiles: [], digestS3Object: "k" })),
    );
    assert.match(digest.skipped ?? "", /digest/);
    const insight = decode(
      enc(
        JSON.stringify({
          Records: [
            {
              eventVersion: "1.07",
              eventTime: at(0),
              eventType: "AwsCloudTrailInsight",
              eventCategory: "Insight",
              eventSource: "ec2.amazonaws.com",
              eventName: "RunInstances",
            },
          ],
        }),
      ),
    );
    assert.match(insight.skipped ?? "", /Insights/);
    const other = decode(enc(JSON.stringify({ name: "x", dependencies: {} })));
    assert.match(other.skipped ?? "", /not CloudTrail \(top-level keys: name, dependencies\)/);
  });

  test("an empty Records file is valid and empty", () => {
    const d = decode(gzipSync('{"Records":[]}'));
    assert.equal(d.records.length, 0);
    assert.equal(d.skipped, undefined);
  });

  test("a single huge record (8 MB of request parameters) is read", () => {
    const r = records()[1] as Record<string, unknown>;
    r.requestParameters = { policy: "x".repeat(8 * 1024 * 1024) };
    const d = decode(gzipSync(JSON.stringify({ Records: [r] })));
    assert.equal(d.records.length, 1);
  });
});

describe("damage", () => {
  test("corrupt gzip", () => {
    const gz = gzipSync(JSON.stringify({ Records: records() }));
    gz.fill(0x41, 12, 40);
    fails(gz, "E_GZIP");
  });

  test("truncated gzip keeps the records before the cut and says so", () => {
    const many = Array.from({ length: 200 }, (_, i) =>
      call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(i)),
    );
    const gz = gzipSync(JSON.stringify({ Records: many }));
    const d = decode(gz.subarray(0, Math.floor(gz.length * 0.6)), "cut.json.gz");
    assert.ok(d.records.length > 50 && d.records.length < 200, `kept ${d.records.length}`);
    assert.deepEqual(d.problems.map((p) => p.code).sort(), ["E_GZIP", "E_JSON"]);
  });

  test("truncated JSON keeps every complete record", () => {
    const text = JSON.stringify({ Records: records() });
    const d = decode(enc(text.slice(0, -30)));
    assert.equal(d.records.length, 1);
    assert.equal(d.problems[0]?.code, "E_JSON");
    assert.match(
      d.problems[0]?.message ?? "",
      /truncated or invalid JSON at line 1 \(byte \d+ of \d+\); 1 complete records/,
    );
  });

  test("one bad line in a one-record-per-line file costs one record and names the line", () => {
    const lines = records().map((r) => JSON.stringify(r));
    const d = decode(enc([lines[0], "{not json", lines[1]].join("\n")));
    assert.equal(d.records.length, 2);
    assert.match(d.problems[0]?.message ?? "", /line 2: invalid JSON/);
  });

  test("binary, empty, whitespace, not JSON, too large", () => {
    fails(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00]), "E_BINARY");
    fails(Buffer.alloc(0), "E_EMPTY");
    fails(enc("  \n "), "E_EMPTY");
    fails(enc("eventTime,eventName\n1,2"), "E_JSON");
    fails(gzipSync(JSON.stringify({ Records: records() })), "E_TOO_LARGE", "big.json.gz", 100);
    fails(enc(JSON.stringify({ Records: records() })), "E_TOO_LARGE", "big.json", 100);
  });

  test("values that are not records inside a Records file are counted and reported", () => {
    const d = decode(enc(JSON.stringify({ Records: [...records(), { hello: "world" }, 42] })));
    assert.equal(d.records.length, 2);
    assert.match(d.problems[0]?.message ?? "", /2 values are not CloudTrail records/);
  });
});
