/**
 * The message shapes below follow AWS's documentation: "Event message structure" (S3 event
 * notifications, and the s3:TestEvent), "Amazon SNS message and JSON formats" (the Notification
 * envelope, without raw message delivery), "Amazon S3 events via EventBridge" (Object Created) and
 * CloudTrail's "Configuring Amazon SNS notifications" (s3Bucket / s3ObjectKey).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeS3EventKey, parseNotification } from "./s3-notifications.js";

const TRAIL_KEY =
  "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0015Z_sample0000000002.json.gz";

function s3Event(key: string, eventName = "ObjectCreated:Put"): object {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: "us-east-1",
        eventTime: "2026-11-01T00:20:31.000Z",
        eventName,
        userIdentity: { principalId: "AWS:AROAEXAMPLE:regionalDeliverySession" },
        requestParameters: { sourceIPAddress: "10.0.0.1" },
        responseElements: {
          "x-amz-request-id": "C3D13FE58DE4C810",
          "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S",
        },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "trail-logs",
          bucket: {
            name: "org-trail-bucket",
            ownerIdentity: { principalId: "A3NL1KOZZKExample" },
            arn: "arn:aws:s3:::org-trail-bucket",
          },
          object: { key, size: 1024, eTag: "d41d8cd98f00b204e9800998ecf8427e", sequencer: "0055AED6DCD90281E5" },
        },
      },
    ],
  };
}

function sns(message: object): object {
  return {
    Type: "Notification",
    MessageId: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    TopicArn: "arn:aws:sns:us-east-1:111122223333:trail-topic",
    Subject: "Amazon S3 Notification",
    Message: JSON.stringify(message),
    Timestamp: "2026-11-01T00:20:32.000Z",
    SignatureVersion: "1",
    Signature: "EXAMPLEpH+..",
    SigningCertURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
    UnsubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:…",
  };
}

const eventBridgeEvent = (key: string, detailType = "Object Created") => ({
  version: "0",
  id: "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": detailType,
  source: "aws.s3",
  account: "111122223333",
  time: "2026-11-01T00:20:31Z",
  region: "us-east-1",
  resources: ["arn:aws:s3:::org-trail-bucket"],
  detail: {
    version: "0",
    bucket: { name: "org-trail-bucket" },
    object: { key, size: 5, etag: "b1946ac92492d2347c6235b4d2611184", sequencer: "617f08299329d189" },
    "request-id": "N4N7GDK58NMKJ12R",
    requester: "111122223333",
    "source-ip-address": "1.2.3.4",
    reason: "PutObject",
  },
});

const cloudTrailNotification = { s3Bucket: "org-trail-bucket", s3ObjectKey: [TRAIL_KEY, `${TRAIL_KEY}.2`] };

describe("S3 notifications", () => {
  it("reads a direct S3 event notification, URL-decoding the key ('+' is a space)", () => {
    const n = parseNotification(JSON.stringify(s3Event("AWSLogs/my+trail/a%3Ab%2Bc.json.gz")));
    assert.deepEqual(n, {
      kind: "objects",
      shape: "s3-event",
      sns: false,
      objects: [
        {
          bucket: "org-trail-bucket",
          key: "AWSLogs/my trail/a:b+c.json.gz",
          size: 1024,
          eventTime: Date.parse("2026-11-01T00:20:31.000Z"),
        },
      ],
      ignoredEvents: 0,
    });
  });

  it("recognises the s3:TestEvent as naming nothing", () => {
    const test = {
      Service: "Amazon S3",
      Event: "s3:TestEvent",
      Time: "2026-11-01T00:00:02.089Z",
      Bucket: "org-trail-bucket",
      RequestId: "5582815E1AEA5ADF",
      HostId: "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    };
    for (const body of [test, sns(test)]) {
      const n = parseNotification(JSON.stringify(body));
      assert.equal(n.kind, "objects");
      assert.equal(n.kind === "objects" && n.shape, "s3-test-event");
      assert.deepEqual(n.kind === "objects" && n.objects, []);
    }
  });

  it("ignores events other than object creation", () => {
    const n = parseNotification(JSON.stringify(s3Event(TRAIL_KEY, "ObjectRemoved:Delete")));
    assert.deepEqual(n.kind === "objects" && [n.objects.length, n.ignoredEvents], [0, 1]);
  });

  it("reads an S3 notification wrapped in SNS (without raw message delivery), and with raw delivery", () => {
    const wrapped = parseNotification(JSON.stringify(sns(s3Event("AWSLogs/a+b.json.gz"))));
    assert.equal(wrapped.kind === "objects" && wrapped.sns, true);
    assert.equal(wrapped.kind === "objects" && wrapped.objects[0]?.key, "AWSLogs/a b.json.gz");
    // Raw delivery: the queue receives the S3 notification itself.
    const raw = parseNotification(JSON.stringify(s3Event("AWSLogs/a+b.json.gz")));
    assert.equal(raw.kind === "objects" && raw.sns, false);
    assert.equal(raw.kind === "objects" && raw.objects[0]?.key, "AWSLogs/a b.json.gz");
  });

  it("reads EventBridge Object Created events, keys as they are", () => {
    const key = "AWSLogs/raw/2023-08-08T14:03:40+1.json.gz";
    for (const body of [eventBridgeEvent(key), sns(eventBridgeEvent(key))]) {
      const n = parseNotification(JSON.stringify(body));
      assert.equal(n.kind === "objects" && n.shape, "eventbridge");
      assert.deepEqual(n.kind === "objects" && n.objects, [
        { bucket: "org-trail-bucket", key, size: 5, eventTime: Date.parse("2026-11-01T00:20:31Z") },
      ]);
    }
    const deleted = parseNotification(JSON.stringify(eventBridgeEvent(key, "Object Deleted")));
    assert.deepEqual(deleted.kind === "objects" && [deleted.objects.length, deleted.ignoredEvents], [0, 1]);
  });

  it("reads CloudTrail's own SNS notification, several keys, wrapped and raw", () => {
    for (const [body, wrapped] of [
      [sns(cloudTrailNotification), true],
      [cloudTrailNotification, false],
    ] as const) {
      const n = parseNotification(JSON.stringify(body));
      assert.equal(n.kind === "objects" && n.shape, "cloudtrail");
      assert.equal(n.kind === "objects" && n.sns, wrapped);
      assert.deepEqual(n.kind === "objects" && n.objects, [
        { bucket: "org-trail-bucket", key: TRAIL_KEY },
        { bucket: "org-trail-bucket", key: `${TRAIL_KEY}.2` },
      ]);
    }
  });

  it("says why a message is not a notification", () => {
    assert.match((parseNotification("not json") as { reason: string }).reason, /not JSON/);
    assert.match((parseNotification('{"hello":1}') as { reason: string }).reason, /top-level keys: hello/);
    assert.match(
      (parseNotification(JSON.stringify({ Type: "Notification", Message: "{oops" })) as { reason: string }).reason,
      /SNS notification's Message is not JSON/,
    );
    assert.match(
      (parseNotification(JSON.stringify({ Records: [{ eventSource: "aws:sqs" }] })) as { reason: string }).reason,
      /other than S3 events/,
    );
    const foreign = { ...eventBridgeEvent(TRAIL_KEY), source: "aws.ec2" };
    assert.match((parseNotification(JSON.stringify(foreign)) as { reason: string }).reason, /from aws\.ec2/);
  });

  it("keeps a key whose percent-encoding is broken as it is", () => {
    assert.equal(decodeS3EventKey("a%ZZb+c"), "a%ZZb c");
  });
});
