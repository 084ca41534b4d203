/**
 * Amazon SNS: each finding published as a JSON message (`--format jsonl`'s object) with message
 * attributes `rule`, `severity`, `status` and `finding_id` for subscription filter policies, ten per
 * `PublishBatch`. A FIFO topic (`….fifo`) gets a message group per account and the finding's id and
 * status as the de-duplication id, so SNS itself drops a re-delivery within its five-minute window.
 */
import { createHash } from "node:crypto";
import { PublishBatchCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { Finding } from "../finding.js";
import { allFailed, type Destination, type SendResult } from "./destination.js";

export class SnsDestination implements Destination {
  readonly name: string;
  readonly maxBatch = 10;
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {
    this.name = `sns ${topicArn}`;
  }

  close(): void {
    this.client.destroy();
  }

  async send(findings: readonly Finding[]): Promise<SendResult> {
    const fifo = this.topicArn.endsWith(".fifo");
    const entries = findings.map((f, i) => ({
      // Batch entry ids must be unique in the batch and short: the position does it.
      Id: `f${i}`,
      Message: JSON.stringify(f),
      Subject: `firstcall ${f.severity} ${f.rule}`.slice(0, 100),
      MessageAttributes: {
        rule: { DataType: "String", StringValue: f.rule },
        severity: { DataType: "String", StringValue: f.severity },
        status: { DataType: "String", StringValue: f.status ?? "open" },
        finding_id: { DataType: "String", StringValue: f.id },
      },
      ...(fifo
        ? {
            MessageGroupId: f.account || "firstcall",
            MessageDeduplicationId: createHash("sha256")
              .update(`${f.id}/${f.status ?? "open"}`)
              .digest("hex"),
          }
        : {}),
    }));
    try {
      const out = await this.client.send(
        new PublishBatchCommand({ TopicArn: this.topicArn, PublishBatchRequestEntries: entries }),
      );
      const byEntry = (id: string | undefined) => findings[Number(id?.slice(1))];
      const delivered = (out.Successful ?? []).flatMap((s) => byEntry(s.Id)?.id ?? []);
      const failed = (out.Failed ?? []).flatMap((e) => {
        const f = byEntry(e.Id);
        return f
          ? [
              {
                id: f.id,
                retryable: e.SenderFault !== true,
                message: `${this.name}: ${e.Code ?? "error"} ${e.Message ?? ""}`.trim(),
              },
            ]
          : [];
      });
      return { delivered, failed };
    } catch (e) {
      return allFailed(findings, isRetryableSdkError(e), `${this.name}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
}

/** Throttling, server faults and network errors are worth another try; the caller's mistakes are not. */
export function isRetryableSdkError(e: unknown): boolean {
  const err = e as { $fault?: string; $retryable?: unknown; name?: string; $metadata?: { httpStatusCode?: number } };
  if (err.$retryable) return true;
  if (err.$fault === "server") return true;
  const status = err.$metadata?.httpStatusCode;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  if (/Throttl|TooManyRequests|RequestLimitExceeded/.test(err.name ?? "")) return true;
  return status === undefined; // no answer at all: a network error
}
