/**
 * Where findings are delivered besides the output: a webhook, Slack, Amazon SNS, EventBridge, Security
 * Hub. One file per destination, each implementing {@link Destination}; `targets.ts` turns `--to`
 * values into destinations and `retry.ts` retries what failed.
 *
 * Delivery is at least once: a receiver may see a finding twice (after a crash, or when a request
 * timed out after the receiver took it) and de-duplicates by the finding's `id`, which every
 * destination carries (a header, a message attribute, the event's `id`).
 */
import type { Finding } from "../finding.js";

/** What became of each finding of one send. */
export interface SendResult {
  /** Ids the destination acknowledged. */
  readonly delivered: readonly string[];
  /** Ids it did not take, with why; `retryable` ones are tried again later. */
  readonly failed: readonly DeliveryFailure[];
}

export interface DeliveryFailure {
  readonly id: string;
  readonly retryable: boolean;
  readonly message: string;
}

export interface Destination {
  /** For messages and logs: never holds a secret (webhook URLs are shown without their path). */
  readonly name: string;
  /** The most findings one `send` may carry (the service's batch limit). */
  readonly maxBatch: number;
  /** Sends up to `maxBatch` findings; never throws for a delivery failure, which is in the result. */
  send(findings: readonly Finding[]): Promise<SendResult>;
  /** Lets go of connections (SDK clients), if it holds any. */
  close?(): void;
}

/** Every finding of a batch failed the same way. */
export function allFailed(findings: readonly Finding[], retryable: boolean, message: string): SendResult {
  return { delivered: [], failed: findings.map((f) => ({ id: f.id, retryable, message })) };
}

/** HTTP statuses worth trying again: throttling and server-side trouble. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}
