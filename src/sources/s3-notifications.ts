/**
 * What an SQS message says was written to S3, in each shape AWS sends it:
 *
 * - an S3 event notification (`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
 *   "s3":{"bucket":{"name":…},"object":{"key":…}}}]}`), whose keys are URL-encoded with `+` for a
 *   space; and its test message (`"Event":"s3:TestEvent"`), sent when the notification is set up;
 * - an EventBridge event, `"detail-type":"Object Created"` from `aws.s3` (keys as they are);
 * - CloudTrail's own notification, `{"s3Bucket":…,"s3ObjectKey":[…]}` (keys as they are);
 * - each of these wrapped in an SNS notification (`"Type":"Notification"`, the shape in `Message`),
 *   which is what a queue subscribed to a topic receives without raw message delivery (with it, the
 *   queue receives the shape itself).
 *
 * Events other than object creation (removals, restores) name nothing to read. Pure: no I/O.
 */

/** An S3 object a notification names. */
export interface NotifiedObject {
  readonly bucket: string;
  /** The key as stored (URL-decoded where the shape encodes it). */
  readonly key: string;
  readonly size?: number;
  /** When the object was written, by the notification (ms), if it says. */
  readonly eventTime?: number;
}

export type NotificationShape = "s3-event" | "s3-test-event" | "eventbridge" | "cloudtrail";

export type ParsedNotification =
  | {
      readonly kind: "objects";
      readonly shape: NotificationShape;
      /** Whether it came wrapped in an SNS notification. */
      readonly sns: boolean;
      /** Objects created (may be none: a removal, a test event). */
      readonly objects: readonly NotifiedObject[];
      /** Events of the message that create no object (e.g. `ObjectRemoved:Delete`), ignored. */
      readonly ignoredEvents: number;
    }
  | { readonly kind: "invalid"; readonly reason: string };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Decodes an S3 event notification's key: `+` is a space, then percent-decoding.
 *
 * @example
 * decodeS3EventKey("AWSLogs/my+folder/a%3Ab.json.gz") // "AWSLogs/my folder/a:b.json.gz"
 */
export function decodeS3EventKey(key: string): string {
  const spaced = key.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // not valid percent-encoding: take it as it is rather than lose the object
  }
}

function time(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Reads one SQS message body.
 *
 * @example
 * const n = parseNotification(message.Body ?? "");
 * if (n.kind === "objects") for (const o of n.objects) read(o.bucket, o.key);
 */
export function parseNotification(body: string): ParsedNotification {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return { kind: "invalid", reason: `the message is not JSON (${(e as Error).message})` };
  }
  return parseNotificationValue(value);
}

/**
 * The same for a notification already parsed: what Lambda hands a function invoked directly by S3
 * (`{"Records":[…]}`) or by an EventBridge rule (the event itself).
 *
 * @example
 * parseNotificationValue(event).kind // "objects" for an S3 event or an EventBridge "Object Created"
 */
export function parseNotificationValue(value: unknown): ParsedNotification {
  if (isObject(value) && value.Type === "Notification" && typeof value.Message === "string") {
    let inner: unknown;
    try {
      inner = JSON.parse(value.Message);
    } catch (e) {
      return { kind: "invalid", reason: `the SNS notification's Message is not JSON (${(e as Error).message})` };
    }
    return parseShape(inner, true);
  }
  return parseShape(value, false);
}

function parseShape(value: unknown, sns: boolean): ParsedNotification {
  if (!isObject(value)) return { kind: "invalid", reason: "the message is not a JSON object" };
  if (value.Event === "s3:TestEvent") {
    return { kind: "objects", shape: "s3-test-event", sns, objects: [], ignoredEvents: 1 };
  }
  if (Array.isArray(value.Records)) return s3Event(value.Records, sns);
  if (typeof value["detail-type"] === "string" && isObject(value.detail)) return eventBridge(value, sns);
  if (typeof value.s3Bucket === "string" && Array.isArray(value.s3ObjectKey)) {
    const bucket = value.s3Bucket;
    const keys = value.s3ObjectKey.filter((k): k is string => typeof k === "string" && k !== "");
    if (keys.length !== value.s3ObjectKey.length)
      return { kind: "invalid", reason: "CloudTrail notification: s3ObjectKey holds something other than keys" };
    return {
      kind: "objects",
      shape: "cloudtrail",
      sns,
      objects: keys.map((key) => ({ bucket, key })),
      ignoredEvents: 0,
    };
  }
  const keys = Object.keys(value).slice(0, 5).join(", ");
  return {
    kind: "invalid",
    reason: `not an S3 notification, EventBridge S3 event or CloudTrail notification (top-level keys: ${keys})`,
  };
}

function s3Event(records: readonly unknown[], sns: boolean): ParsedNotification {
  const objects: NotifiedObject[] = [];
  let ignoredEvents = 0;
  for (const r of records) {
    if (!isObject(r) || r.eventSource !== "aws:s3" || !isObject(r.s3)) {
      return { kind: "invalid", reason: "Records holds something other than S3 events" };
    }
    if (typeof r.eventName !== "string" || !r.eventName.startsWith("ObjectCreated:")) {
      ignoredEvents++;
      continue;
    }
    const bucket = isObject(r.s3.bucket) ? r.s3.bucket.name : undefined;
    const object = isObject(r.s3.object) ? r.s3.object : undefined;
    if (typeof bucket !== "string" || typeof object?.key !== "string") {
      return { kind: "invalid", reason: "an S3 event has no bucket name or object key" };
    }
    const eventTime = time(r.eventTime);
    objects.push({
      bucket,
      key: decodeS3EventKey(object.key),
      ...(typeof object.size === "number" ? { size: object.size } : {}),
      ...(eventTime !== undefined ? { eventTime } : {}),
    });
  }
  return { kind: "objects", shape: "s3-event", sns, objects, ignoredEvents };
}

function eventBridge(event: Json, sns: boolean): ParsedNotification {
  const detail = event.detail as Json;
  if (event.source !== "aws.s3" || event["detail-type"] !== "Object Created") {
    if (event.source === "aws.s3") return { kind: "objects", shape: "eventbridge", sns, objects: [], ignoredEvents: 1 };
    return { kind: "invalid", reason: `an EventBridge event from ${String(event.source)}, not an S3 "Object Created"` };
  }
  const bucket = isObject(detail.bucket) ? detail.bucket.name : undefined;
  const object = isObject(detail.object) ? detail.object : undefined;
  if (typeof bucket !== "string" || typeof object?.key !== "string") {
    return { kind: "invalid", reason: "the EventBridge event has no bucket name or object key" };
  }
  const eventTime = time(event.time);
  return {
    kind: "objects",
    shape: "eventbridge",
    sns,
    objects: [
      {
        bucket,
        key: object.key,
        ...(typeof object.size === "number" ? { size: object.size } : {}),
        ...(eventTime !== undefined ? { eventTime } : {}),
      },
    ],
    ignoredEvents: 0,
  };
}
