/**
 * Amazon EventBridge: each finding as an event (`source` `firstcall`, `detail-type`
 * `firstcall Finding`, `detail` the finding), ten per `PutEvents`, on the given bus. Rules on the bus
 * route them (to Step Functions, a ticketing system, another account). Entries EventBridge refuses
 * one by one (`FailedEntryCount`) are retried alone when the error is on its side.
 */
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Finding } from "../finding.js";
import { allFailed, type Destination, type SendResult } from "./destination.js";
import { isRetryableSdkError } from "./sns.js";

export const EVENT_SOURCE = "firstcall";
export const EVENT_DETAIL_TYPE = "firstcall Finding";

/** PutEvents entry errors that are EventBridge's, not the entry's. */
const RETRYABLE_ENTRY_ERRORS = new Set(["InternalFailure", "ThrottlingException", "InternalException"]);

export class EventBridgeDestination implements Destination {
  readonly name: string;
  readonly maxBatch = 10;
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {
    this.name = `eventbridge ${eventBusName}`;
  }

  close(): void {
    this.client.destroy();
  }

  async send(findings: readonly Finding[]): Promise<SendResult> {
    const entries = findings.map((f) => ({
      Source: EVENT_SOURCE,
      DetailType: EVENT_DETAIL_TYPE,
      Detail: JSON.stringify(f),
      EventBusName: this.eventBusName,
      Time: new Date(f.time),
      // Resources must be ARNs: the role's, when the finding names one.
      Resources: f.principal.roleArn ? [f.principal.roleArn] : [],
    }));
    try {
      const out = await this.client.send(new PutEventsCommand({ Entries: entries }));
      const delivered: string[] = [];
      const failed: SendResult["failed"][number][] = [];
      findings.forEach((f, i) => {
        const e = out.Entries?.[i];
        if (e?.EventId && !e.ErrorCode) delivered.push(f.id);
        else
          failed.push({
            id: f.id,
            retryable: e?.ErrorCode === undefined || RETRYABLE_ENTRY_ERRORS.has(e.ErrorCode),
            message: `${this.name}: ${e?.ErrorCode ?? "no result"} ${e?.ErrorMessage ?? ""}`.trim(),
          });
      });
      return { delivered, failed };
    } catch (e) {
      return allFailed(findings, isRetryableSdkError(e), `${this.name}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
}
