import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSqsSource } from "./watch-sqs.js";

describe("sqs:// sources", () => {
  it("takes the queue URL with or without https://, and the region from an AWS host", () => {
    const url = "https://sqs.eu-west-1.amazonaws.com/123456789012/trail-events";
    assert.deepEqual(parseSqsSource(`sqs://${url}`), { queueUrl: url, region: "eu-west-1" });
    assert.deepEqual(parseSqsSource("sqs://sqs.eu-west-1.amazonaws.com/123456789012/trail-events"), {
      queueUrl: url,
      region: "eu-west-1",
    });
    assert.deepEqual(parseSqsSource("sqs://https://us-east-2.queue.amazonaws.com/123456789012/q"), {
      queueUrl: "https://us-east-2.queue.amazonaws.com/123456789012/q",
      region: "us-east-2",
    });
    assert.deepEqual(parseSqsSource("sqs://http://127.0.0.1:9324/000000000000/q"), {
      queueUrl: "http://127.0.0.1:9324/000000000000/q",
    });
  });

  it("refuses what is not a queue URL", () => {
    assert.equal(parseSqsSource("s3://bucket/key"), undefined);
    assert.equal(parseSqsSource("sqs://trail-events"), undefined);
    assert.equal(parseSqsSource("sqs://https://sqs.eu-west-1.amazonaws.com/"), undefined);
  });
});
