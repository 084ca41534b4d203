/**
 * Log objects for reader tests: every shape the decoder reads and every kind of damage it reports,
 * built as `src/cloudtrail/decode.test.ts` builds them, plus edge cases of the streamed shapes.
 */
import { gzipSync } from "node:zlib";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { at, call, ec2Issuance } from "./records.js";

export interface LogObjectCase {
  readonly name: string;
  readonly bytes: Buffer;
  /** Passed as `maxObjectBytes` when set. */
  readonly maxObjectBytes?: number;
}

const FIXED = [
  ec2Issuance("i-0123456789abcdef0", "ASIAX000000000000001", at(0)),
  call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(1)),
];
const records = (): CloudTrailRecord[] => structuredClone(FIXED);
const enc = (s: string) => Buffer.from(s);
const lines = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join("\n");

function insight(): CloudTrailRecord {
  return {
    eventVersion: "1.07",
    eventTime: at(0),
    eventType: "AwsCloudTrailInsight",
    eventCategory: "Insight",
    eventSource: "ec2.amazonaws.com",
    eventName: "RunInstances",
  };
}

function manyCalls(n: number): CloudTrailRecord[] {
  return Array.from({ length: n }, (_, i) => call("i-0123456789abcdef0", "ASIAX000000000000001", "54.1.1.1", at(i)));
}

/** The shapes of `decode.test.ts` ("shapes"). */
export function shapeCases(): LogObjectCase[] {
  const timestampOnly = records().map(({ eventTime, ...rest }) => ({
    ...rest,
    "@timestamp": `${eventTime}`.replace("Z", ".000Z"),
  }));
  const noTime = records();
  delete noTime[1]?.eventTime;
  const huge = records()[1] as Record<string, unknown>;
  huge.requestParameters = { policy: "x".repeat(8 * 1024 * 1024) };
  return [
    { name: "Records file, gzipped", bytes: gzipSync(JSON.stringify({ Records: records() })) },
    { name: "Records file, plain", bytes: enc(JSON.stringify({ Records: records() })) },
    { name: "Records file, pretty-printed", bytes: enc(JSON.stringify({ Records: records() }, null, 2)) },
    { name: "bare array", bytes: enc(JSON.stringify(records(), null, 2)) },
    { name: "one record per line", bytes: enc(`${lines(records())}\n`) },
    {
      name: "one record per line, CRLF and blank lines",
      bytes: enc(`\r\n\r\n${lines(records()).replaceAll("\n", "\r\n\r\n")}`),
    },
    { name: "one record per line, gzipped", bytes: gzipSync(`${lines(records())}\n`) },
    {
      name: "glued values",
      bytes: enc(
        records()
          .map((r) => JSON.stringify(r))
          .join(""),
      ),
    },
    {
      name: "EventBridge events, one per line",
      bytes: enc(
        lines(
          records().map((r) => ({
            version: "0",
            id: "x",
            "detail-type": "AWS API Call via CloudTrail",
            source: "aws.sts",
            detail: r,
          })),
        ),
      ),
    },
    {
      name: "records then an EventBridge event, one per line",
      bytes: enc(lines([...records(), { "detail-type": "AWS API Call via CloudTrail", detail: records()[0] }])),
    },
    {
      name: "CloudWatch Logs subscription payload",
      bytes: enc(
        JSON.stringify({
          messageType: "DATA_MESSAGE",
          owner: "1",
          logGroup: "g",
          logStream: "s",
          logEvents: records().map((r, i) => ({ id: String(i), timestamp: 0, message: JSON.stringify(r) })),
        }),
      ),
    },
    {
      name: "CloudWatch Logs payload as awslogs.data",
      bytes: enc(
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
    },
    {
      name: "base64 gzip text",
      bytes: enc(gzipSync(JSON.stringify({ Records: records() })).toString("base64")),
    },
    {
      name: "LookupEvents output",
      bytes: enc(
        JSON.stringify({ Events: records().map((r) => ({ EventId: r.eventID, CloudTrailEvent: JSON.stringify(r) })) }),
      ),
    },
    { name: "single record", bytes: enc(JSON.stringify(records()[0])) },
    { name: "single record and a newline", bytes: enc(`${JSON.stringify(records()[0])}\n`) },
    { name: "@timestamp instead of eventTime, one per line", bytes: enc(lines(timestampOnly)) },
    { name: "@timestamp instead of eventTime, Records", bytes: enc(JSON.stringify({ Records: timestampOnly })) },
    { name: "a record with neither time", bytes: enc(JSON.stringify({ Records: noTime })) },
    {
      name: "bad times",
      bytes: enc(
        JSON.stringify({
          Records: [
            { ...records()[0], eventTime: "yesterday" },
            { ...records()[1], eventTime: undefined, "@timestamp": "later" },
            { ...records()[1], eventTime: 7 },
          ],
        }),
      ),
    },
    {
      name: "digest",
      bytes: enc(JSON.stringify({ awsAccountId: "1", digestStartTime: "x", logFiles: [], digestS3Object: "k" })),
    },
    { name: "Insights records", bytes: enc(JSON.stringify({ Records: [insight()] })) },
    { name: "Insights records, one per line", bytes: enc(`${lines([insight(), insight()])}\n`) },
    { name: "Insights and calls", bytes: enc(JSON.stringify({ Records: [insight(), ...records()] })) },
    { name: "other JSON", bytes: enc(JSON.stringify({ name: "x", dependencies: {} })) },
    { name: "other JSON, one per line", bytes: enc(`${lines([{ name: "x" }, { b: 1, c: 2 }, 5, "s", null])}\n`) },
    { name: "an empty Records file", bytes: gzipSync('{"Records":[]}') },
    { name: "Records with more keys after", bytes: enc(`{"Records":${JSON.stringify(records())},"x":1}`) },
    { name: "Records twice", bytes: enc(`{"Records":${JSON.stringify(records())},"Records":[]}`) },
    { name: "Records file then another", bytes: enc(`${JSON.stringify({ Records: records() })}\n{"Records":[]}\n`) },
    { name: "Records with a byte order mark", bytes: enc(`\ufeff${JSON.stringify({ Records: records() })}`) },
    { name: "a single huge record (8 MB)", bytes: gzipSync(JSON.stringify({ Records: [huge] })) },
  ];
}

/** The damage of `decode.test.ts` ("damage"), and more of it. */
export function damageCases(): LogObjectCase[] {
  const corrupt = gzipSync(JSON.stringify({ Records: records() }));
  corrupt.fill(0x41, 12, 40);
  const many = gzipSync(JSON.stringify({ Records: manyCalls(200) }));
  const manyLines = gzipSync(`${lines(manyCalls(200))}\n`);
  const text = JSON.stringify({ Records: records() });
  const ls = records().map((r) => JSON.stringify(r));
  return [
    { name: "corrupt gzip", bytes: corrupt },
    { name: "truncated gzip", bytes: many.subarray(0, Math.floor(many.length * 0.6)) },
    { name: "truncated gzip, one record per line", bytes: manyLines.subarray(0, Math.floor(manyLines.length * 0.6)) },
    { name: "gzip cut in its header", bytes: many.subarray(0, 5) },
    { name: "gzip with garbage after it", bytes: Buffer.concat([many, enc("garbage")]) },
    {
      name: "two gzip members",
      bytes: Buffer.concat([
        gzipSync('{"Records":[{"eventName":"A","eventTime":"2026-11-01T00:00:00Z"},'),
        gzipSync(`${JSON.stringify(records()[0])}]}`),
      ]),
    },
    { name: "truncated JSON", bytes: enc(text.slice(0, -30)) },
    { name: "truncated after the Records array", bytes: enc(text.slice(0, -1)) },
    { name: "truncated after a record", bytes: enc(text.slice(0, text.lastIndexOf("}", text.length - 3) + 1)) },
    { name: "truncated after a comma", bytes: enc(text.slice(0, text.indexOf("},{") + 2)) },
    { name: "truncated in the opening", bytes: enc('{"Reco') },
    {
      name: "truncated JSON, pretty-printed",
      bytes: enc(JSON.stringify({ Records: records() }, null, 2).slice(0, -40)),
    },
    {
      name: "truncated with an envelope among the records",
      bytes: enc(`{"Records":[${ls[0]},{"Records":[${ls[1]}]},${(ls[1] ?? "").slice(0, 20)}`),
    },
    {
      name: "an invalid record in a complete Records file",
      bytes: enc(`{"Records":[${ls[0]},{"eventName":"x",},${ls[1]}]}`),
    },
    { name: "a bad line in a one-record-per-line file", bytes: enc([ls[0], "{not json", ls[1]].join("\n")) },
    { name: "a bad first line", bytes: enc(["{not json", ls[0], ls[1]].join("\n")) },
    { name: "a truncated last line", bytes: enc(`${ls[0]}\n${ls[1]?.slice(0, 50)}`) },
    { name: "binary", bytes: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00]) },
    { name: "a NUL late in a Records file", bytes: enc(`{"Records":[${ls[0]},${"\u0000".repeat(3)}${ls[1]}]}`) },
    { name: "empty", bytes: Buffer.alloc(0) },
    { name: "whitespace", bytes: enc("  \n ") },
    { name: "not JSON", bytes: enc("eventTime,eventName\n1,2") },
    {
      name: "too large, gzipped",
      bytes: gzipSync(JSON.stringify({ Records: records() })),
      maxObjectBytes: 100,
    },
    { name: "too large, plain", bytes: enc(JSON.stringify({ Records: records() })), maxObjectBytes: 100 },
    { name: "too large, another shape", bytes: enc(JSON.stringify(records())), maxObjectBytes: 100 },
    {
      name: "values that are not records in a Records file",
      bytes: enc(JSON.stringify({ Records: [...records(), { hello: "world" }, 42] })),
    },
    {
      name: "objects that are not records in a Records file",
      bytes: enc(JSON.stringify({ Records: [...records(), { hello: "world" }, { eventVersion: "1" }] })),
    },
    { name: "only objects that are not records in a Records file", bytes: enc('{"Records":[{"a":1},{"b":2}]}') },
  ];
}
