/**
 * What the scan needs from one CloudTrail record: its id (for de-duplication), its time (for the
 * time window and the watermark) and the engine's view of it. The reader produces these without
 * keeping records; `factsOf` is the reference definition, built from a fully parsed record, that the
 * fast extractor (`fast-extract.ts`) must match exactly.
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { type EngineEvent, toEngineEvent } from "../engine/event.js";

/** Why a record could not be used as it is. Counted per reason in the summary; never silently dropped. */
export type MalformedReason =
  | "no-time" // neither eventTime nor @timestamp
  | "bad-time" // eventTime (or @timestamp) is not a time
  | "bad-identity"; // an AssumedRole call without a session ARN: whose credential it was is unknown

/** How the summary and the problem list describe each reason. */
export const MALFORMED_TEXT: Record<MalformedReason, string> = {
  "no-time": "have neither eventTime nor @timestamp",
  "bad-time": "have an eventTime that is not a time",
  "bad-identity": "are AssumedRole calls without a session ARN (userIdentity.arn)",
};

export interface RecordFacts {
  /** `eventID` when it is a non-empty string: records with the same id are counted once. */
  readonly eventId: string | undefined;
  /** Event time in ms since the epoch (from `eventTime`, else `@timestamp`); NaN when malformed. */
  readonly time: number;
  /** Set when the time came from `@timestamp`. */
  readonly timestampFallback: boolean;
  /**
   * Set when a field the detection needs is malformed. `no-time`/`bad-time`: the record cannot be
   * placed in time and `event` is undefined; `bad-identity`: the call cannot be tied to a credential.
   */
  readonly malformed?: MalformedReason;
  /** The engine's view, or undefined when the engine has no use for the record. */
  readonly event: EngineEvent | undefined;
}

/**
 * The reference extraction: facts of a parsed record. `record.eventTime` may be missing (then
 * `@timestamp` is used) — the record is not modified.
 *
 * @example
 * const facts = factsOf(JSON.parse(line));
 * if (facts.event) engine.process(facts.event);
 */
export function factsOf(record: CloudTrailRecord): RecordFacts {
  const eventId = typeof record.eventID === "string" && record.eventID !== "" ? record.eventID : undefined;
  let timeIso: unknown = record.eventTime;
  let timestampFallback = false;
  if (typeof timeIso !== "string") {
    timeIso = record["@timestamp"];
    timestampFallback = true;
    if (typeof timeIso !== "string")
      return { eventId, time: Number.NaN, timestampFallback: false, malformed: "no-time", event: undefined };
  }
  const time = Date.parse(timeIso as string);
  if (Number.isNaN(time)) return { eventId, time, timestampFallback, malformed: "bad-time", event: undefined };
  const event = toEngineEvent(timestampFallback ? { ...record, eventTime: timeIso as string } : record);
  const ui = record.userIdentity;
  if (
    ui !== null &&
    typeof ui === "object" &&
    ui.type === "AssumedRole" &&
    (typeof ui.arn !== "string" || ui.arn === "")
  ) {
    return { eventId, time, timestampFallback, malformed: "bad-identity", event };
  }
  return { eventId, time, timestampFallback, event };
}
