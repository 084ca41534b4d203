/**
 * Sends findings to a destination in batches of its size, retrying what failed with exponential
 * backoff and full jitter, until each finding is delivered, refused for good, or out of attempts.
 * What is still undelivered is returned, never dropped: the caller keeps it (the outbox) for the
 * next run or loop.
 */
import type { Finding } from "../finding.js";
import type { DeliveryFailure, Destination, SendResult } from "./destination.js";

export interface RetryOptions {
  /** Tries per finding in this call (default 5). */
  readonly attempts?: number;
  /** First backoff (default 500 ms), doubled each try up to `maxDelayMs` (default 30 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /**
   * No try starts at or after this time (epoch ms), no backoff waits past it, and a send still
   * unanswered then is given up on: its findings are pending ("no answer before the deadline"). A
   * Lambda invocation must return before Lambda ends it; a send the destination took after all is
   * sent again later (at least once, the receiver de-duplicates by `id`).
   */
  readonly deadline?: number;
  /** For tests: how to wait, and the random source for jitter. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface DeliveryOutcome {
  readonly delivered: readonly string[];
  /** Refused for good (the destination said the request itself is wrong): retrying cannot help. */
  readonly rejected: readonly DeliveryFailure[];
  /** Still failing after every attempt: kept for later. */
  readonly pending: readonly DeliveryFailure[];
}

/**
 * @example
 * const { delivered, pending } = await deliverWithRetry(new SlackDestination({ url }), findings);
 */
export async function deliverWithRetry(
  destination: Destination,
  findings: readonly Finding[],
  options: RetryOptions = {},
): Promise<DeliveryOutcome> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const delivered: string[] = [];
  const rejected: DeliveryFailure[] = [];
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const late = `${destination.name}: not delivered before the deadline`;
  let todo = [...findings];
  let last = new Map<string, DeliveryFailure>();
  for (let attempt = 0; attempt < attempts && todo.length > 0; attempt++) {
    if (attempt > 0) {
      const wait = Math.floor(random() * Math.min(max, base * 2 ** (attempt - 1)));
      if (Date.now() + wait >= deadline) break;
      await sleep(wait);
    }
    const retry: Finding[] = [];
    const previous = last;
    last = new Map();
    for (let i = 0; i < todo.length; i += destination.maxBatch) {
      const batch = todo.slice(i, i + destination.maxBatch);
      const result = Date.now() >= deadline ? undefined : await sendBefore(destination, batch, deadline);
      if (result === undefined) {
        // Out of time: this batch and the rest stay owed, with the last failure each had, if any.
        for (const f of todo.slice(i)) {
          last.set(f.id, previous.get(f.id) ?? { id: f.id, retryable: true, message: late });
          retry.push(f);
        }
        return { delivered, rejected, pending: retry.map((f) => last.get(f.id) as DeliveryFailure) };
      }
      delivered.push(...result.delivered);
      const answered = new Set([...result.delivered, ...result.failed.map((f) => f.id)]);
      for (const failure of result.failed) {
        if (failure.retryable) last.set(failure.id, failure);
        else rejected.push(failure);
      }
      // A finding the destination said nothing about was not acknowledged: try it again.
      for (const f of batch)
        if (!answered.has(f.id))
          last.set(f.id, { id: f.id, retryable: true, message: `${destination.name}: no acknowledgement` });
      for (const f of batch) if (last.has(f.id)) retry.push(f);
    }
    todo = retry;
  }
  return {
    delivered,
    rejected,
    pending: todo.map((f) => last.get(f.id) ?? { id: f.id, retryable: true, message: "not sent" }),
  };
}

/** The destination's answer, or undefined when it has not answered by the deadline (the send is left running). */
async function sendBefore(
  destination: Destination,
  batch: readonly Finding[],
  deadline: number,
): Promise<SendResult | undefined> {
  if (!Number.isFinite(deadline)) return destination.send(batch);
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  const sending = destination.send(batch);
  sending.catch(() => undefined); // left running past the deadline: its late failure concerns nobody
  try {
    return await Promise.race([sending, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
