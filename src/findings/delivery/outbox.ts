/**
 * The delivery outbox: how findings reach `--to` destinations without being lost or sent twice once
 * acknowledged (ARCHITECTURE.md §1, *Delivery*).
 *
 * 1. **Enqueue with the findings.** A checkpoint that commits a finding worth an alert (see
 *    {@link alertReason}: new, status changed, severity raised — never an unchanged one, nor one whose
 *    evidence only grew) commits, in the same transaction, one outbox row per (finding id,
 *    destination). A row already there is due again (its `generation` goes up). A kill before the
 *    commit loses nothing: the finding is not committed either and is found again by the next run.
 * 2. **Deliver after the commit.** A loop in the background takes the due rows (on PostgreSQL it
 *    claims them, so that two workers never send the same row), sends the finding as stored now (its
 *    latest version) with retries and backoff (`retry.ts`), and marks each row delivered, rejected
 *    (the destination refused it for good) or still pending, conditional on the generation it sent —
 *    a row made due again meanwhile stays due. A destination that is down is left alone for a growing
 *    delay (2 s doubling to 5 min) and tried again by a later checkpoint, timer, or run.
 * 3. **At the end of a scan** every due row is tried once more; what is still pending is reported
 *    (summary `delivery`, exit code 7) and stays in the state for the next run.
 *
 * At least once: a kill between a destination's acknowledgement and the mark sends that batch again
 * on the next run. Every destination carries the finding's `id` (a header, an attribute, the event's
 * detail, the ASFF `Id`) for the receiver to de-duplicate; nothing acknowledged and marked is sent again
 * for the same generation.
 */
import type { StoredFinding } from "../../engine/engine.js";
import { decodeDocument } from "../../engine/state.js";
import { UsageError } from "../../errors.js";
import { log } from "../../log.js";
import type { StateStore } from "../../state/store.js";
import { type Finding, type Severity, severityRank, statusOf } from "../finding.js";
import type { KeyedDestination } from "./open.js";
import { deliverWithRetry, type RetryOptions } from "./retry.js";

/** A row's state. `pending`: owed; the others are final for its generation. */
export type DeliveryState = "pending" | "delivered" | "skipped" | "rejected";

/** A delivery owed: committed with the finding (`StateCommit.outbox`). */
export interface OutboxTask {
  readonly findingId: string;
  /** The destination's key (`destinationKey`): its kind and a hash, never a secret. */
  readonly destination: string;
}

/** A due row, with the finding as stored now. */
export interface OutboxRow {
  readonly findingId: string;
  readonly destination: string;
  readonly generation: number;
  /** Undefined when the finding is not in the state (never happens for rows the scan wrote). */
  readonly stored?: StoredFinding;
  /** Set when the finding is suppressed (its reason): the row is skipped, not sent. */
  readonly suppressed?: string;
}

/** A due outbox row as the stores' claim queries return it (the same columns in SQLite and PostgreSQL). */
export interface OutboxQueryRow {
  readonly finding_id: string;
  readonly destination: string;
  readonly generation: number;
  /** The stored finding's document; null when the finding is not in the state. */
  readonly data: Uint8Array | null;
  /** The suppression reason; null when the finding is not suppressed. */
  readonly suppressed: string | null;
}

/**
 * An {@link OutboxRow} from a claim query's row.
 * @example return rows.map(outboxRowOf);
 */
export function outboxRowOf(r: OutboxQueryRow): OutboxRow {
  return {
    findingId: r.finding_id,
    destination: r.destination,
    generation: r.generation,
    ...(r.data ? { stored: decodeDocument<StoredFinding>(r.data) } : {}),
    ...(r.suppressed !== null ? { suppressed: r.suppressed } : {}),
  };
}

/** What became of a row's try. `pending`: still owed (tried, not acknowledged). */
export interface OutboxSettlement {
  readonly findingId: string;
  readonly destination: string;
  readonly generation: number;
  readonly state: DeliveryState;
  readonly attempts: number;
  /** Why it is skipped, rejected or still pending (no secret: destinations' names hide URLs). */
  readonly message?: string;
}

/** The outbox rows of a store, written by `commit` (`StateCommit.outbox`), read and marked here. */
export interface OutboxStore {
  /**
   * Due rows of these destinations, oldest first. A shared store claims them for this worker until
   * settled (a row claimed by another live worker is not returned); a single-writer store needs not.
   */
  claimDeliveries(destinations: readonly string[], limit: number): Promise<OutboxRow[]>;
  /** Marks tries; a settlement whose generation is no longer the row's only counts its attempts. */
  settleDeliveries(settlements: readonly OutboxSettlement[]): Promise<void>;
  /** Rows per destination and state (only the destinations asked for). */
  deliveryCounts(destinations: readonly string[]): Promise<Map<string, Record<DeliveryState, number>>>;
}

/**
 * Why a committed finding deserves an alert, or undefined when it does not: `new` (first stored),
 * `status` (retracted, or retracted and found again), `severity` (raised: a per-call rule's call from
 * outside AWS). A lowered severity, more calls or a later last time change the stored finding but
 * alert nobody: the receivers already have the finding and would only be paged again.
 *
 * @example alertReason(undefined, finding) // "new"
 */
export function alertReason(
  previous: Finding | undefined,
  current: Finding,
): "new" | "status" | "severity" | undefined {
  if (!previous) return "new";
  if (statusOf(previous) !== statusOf(current)) return "status";
  if (severityRank(current.severity) > severityRank(previous.severity)) return "severity";
  return undefined;
}

/** What the pipeline calls at each checkpoint (src/pipeline/scan.ts). */
export interface CheckpointDelivery {
  /** Rows to commit with this checkpoint's findings (`changes`: the findings committed, with their previous version). */
  tasksFor(changes: readonly { readonly previous?: Finding; readonly current: Finding }[]): OutboxTask[];
  /** The checkpoint is committed: deliver (in the background). */
  afterCommit(): void;
  /** The run ends: one more try of every due row, then what stands. */
  finish(): Promise<DeliveryReport>;
  /** The run failed: stop delivering (what is due stays for the next run). Idempotent. */
  stop(): Promise<void>;
}

/** Per destination, what this run did and what is still owed (the summary's `delivery`). */
export interface DeliveryReport {
  readonly destinations: readonly {
    /** Shown name (no secret). */
    readonly name: string;
    readonly key: string;
    /** Rows marked in this run. */
    readonly delivered: number;
    readonly skipped: number;
    readonly rejected: number;
    /** Rows still owed in the state now. */
    readonly pending: number;
    /** The last failure of this run, if any. */
    readonly lastError?: string;
  }[];
  /** Rows still owed, over all destinations. */
  readonly pending: number;
}

export interface OutboxOptions {
  readonly destinations: readonly KeyedDestination[];
  /** Only findings at or above it are enqueued (the scan's `--min-severity`). */
  readonly minSeverity?: Severity;
  /** Retries within one try of a batch; the end of a scan uses `attempts` 5, a background round 3. */
  readonly retry?: Omit<RetryOptions, "attempts">;
  /** First wait before a destination that failed is tried again by the background loop (default 2 s). */
  readonly downDelayMs?: number;
  readonly maxDownDelayMs?: number;
  /** Rows taken per claim (default 500). */
  readonly batch?: number;
  /**
   * No delivery starts after this time (epoch ms) and a send unanswered then is given up on, its
   * rows left owed (`deliverWithRetry`'s `deadline`): a Lambda invocation returns before Lambda ends
   * it. Default: none.
   */
  readonly deadline?: number;
  /**
   * The destinations outlive this outbox (a Lambda execution environment's, reused by its next
   * invocations): `finish` and `stop` do not close them.
   */
  readonly keepDestinationsOpen?: boolean;
  /** Told about a destination going down or coming back (never a secret). */
  readonly onReport?: (message: string) => void;
}

interface Tally {
  delivered: number;
  skipped: number;
  rejected: number;
  lastError?: string;
}

/**
 * The outbox of one run: enqueues at checkpoints, delivers in the background, tries once more at the
 * end.
 *
 * @example
 * const outbox = new Outbox(store, { destinations: await openDestinations(targets) });
 * await runScan({ …, delivery: () => outbox });
 */
export class Outbox implements CheckpointDelivery {
  private readonly store: OutboxStore;
  private readonly downUntil = new Map<string, number>();
  private readonly downDelay = new Map<string, number>();
  private readonly tally = new Map<string, Tally>();
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private destinationsClosed = false;

  /** @throws UsageError when the store keeps no outbox (a DynamoDB state, for now). */
  constructor(
    state: StateStore,
    private readonly options: OutboxOptions,
  ) {
    if (!state.outbox)
      throw new UsageError(
        "E_USAGE",
        `--to: the state ${state.location} keeps no delivery outbox, so findings cannot be delivered without being lost or repeated; use a SQLite or PostgreSQL --state`,
      );
    this.store = state.outbox;
    for (const d of options.destinations) this.tally.set(d.key, { delivered: 0, skipped: 0, rejected: 0 });
    // Rows a previous run left due go first, even if this run commits nothing (a restarted watch).
    this.kick();
  }

  tasksFor(changes: readonly { readonly previous?: Finding; readonly current: Finding }[]): OutboxTask[] {
    const min = severityRank(this.options.minSeverity ?? "info");
    const tasks: OutboxTask[] = [];
    const seen = new Set<string>();
    for (const { previous, current } of changes) {
      if (severityRank(current.severity) < min || alertReason(previous, current) === undefined) continue;
      // One row per finding and destination, even if a checkpoint lists a finding twice.
      if (seen.has(current.id)) continue;
      seen.add(current.id);
      for (const d of this.options.destinations) tasks.push({ findingId: current.id, destination: d.key });
    }
    return tasks;
  }

  afterCommit(): void {
    this.kick();
  }

  async finish(): Promise<DeliveryReport> {
    await this.halt();
    await this.round(true);
    const counts = await this.store.deliveryCounts(this.options.destinations.map((d) => d.key));
    const destinations = this.options.destinations.map((d) => {
      const t = this.tally.get(d.key) as Tally;
      return {
        name: d.destination.name,
        key: d.key,
        delivered: t.delivered,
        skipped: t.skipped,
        rejected: t.rejected,
        pending: counts.get(d.key)?.pending ?? 0,
        ...(t.lastError !== undefined ? { lastError: t.lastError } : {}),
      };
    });
    this.closeDestinations();
    return { destinations, pending: destinations.reduce((n, d) => n + d.pending, 0) };
  }

  async stop(): Promise<void> {
    await this.halt();
    this.closeDestinations();
  }

  /** No new round; waits for the one running. */
  private async halt(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Starts a background round, or asks the running one to go round again. */
  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.round(false);
      } catch (e) {
        // A store error here must not stop a watch: the rows stay due and the next round retries.
        this.options.onReport?.(`delivery: ${(e as Error).message}`);
      }
    } while (this.again && !this.closed);
    this.schedule();
  }

  /** A timer for the earliest destination that is down, so a quiet watch still retries it. */
  private schedule(): void {
    if (this.closed) return;
    const next = Math.min(...this.downUntil.values());
    if (!Number.isFinite(next)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  /**
   * Sends due rows until none is left for a destination that is up. `final`: every destination, also
   * those waiting out a delay, each once more with more attempts.
   */
  private async round(final: boolean): Promise<void> {
    const gaveUp = new Set<string>();
    for (;;) {
      const now = Date.now();
      // Past the deadline nothing more is claimed: what is due stays for the next run.
      if (now >= (this.options.deadline ?? Number.POSITIVE_INFINITY)) return;
      const ready = this.options.destinations.filter(
        (d) => !gaveUp.has(d.key) && (final || (this.downUntil.get(d.key) ?? 0) <= now),
      );
      if (ready.length === 0) return;
      const rows = await this.store.claimDeliveries(
        ready.map((d) => d.key),
        this.options.batch ?? 500,
      );
      if (rows.length === 0) return;
      for (const d of ready) {
        const mine = rows.filter((r) => r.destination === d.key);
        if (mine.length === 0) continue;
        const failed = await this.deliver(d, mine, final ? 5 : 3);
        if (failed) {
          gaveUp.add(d.key);
          this.wentDown(d);
        } else this.cameUp(d);
      }
    }
  }

  /** Sends one destination's rows and marks them; true when some are still pending. */
  private async deliver(d: KeyedDestination, rows: readonly OutboxRow[], attempts: number): Promise<boolean> {
    const tally = this.tally.get(d.key) as Tally;
    const settlements: OutboxSettlement[] = [];
    const sendable: Finding[] = [];
    const generation = new Map<string, number>();
    for (const r of rows) {
      generation.set(r.findingId, r.generation);
      if (!r.stored) {
        settlements.push({ ...key(r), state: "rejected", attempts: 0, message: "the finding is not in the state" });
        tally.rejected++;
      } else if (r.suppressed !== undefined) {
        settlements.push({ ...key(r), state: "skipped", attempts: 0, message: `suppressed: ${r.suppressed}` });
        tally.skipped++;
      } else sendable.push(r.stored.finding);
    }
    let pending = false;
    if (sendable.length > 0) {
      const out = await deliverWithRetry(d.destination, sendable, {
        ...this.options.retry,
        attempts,
        ...(this.options.deadline !== undefined ? { deadline: this.options.deadline } : {}),
      });
      const row = (id: string) => ({ findingId: id, destination: d.key, generation: generation.get(id) ?? 0 });
      for (const id of out.delivered) settlements.push({ ...row(id), state: "delivered", attempts: 1 });
      for (const f of out.rejected) {
        settlements.push({ ...row(f.id), state: "rejected", attempts: 1, message: f.message });
        tally.lastError = f.message;
      }
      for (const f of out.pending) {
        settlements.push({ ...row(f.id), state: "pending", attempts, message: f.message });
        tally.lastError = f.message;
      }
      tally.delivered += out.delivered.length;
      tally.rejected += out.rejected.length;
      pending = out.pending.length > 0;
      if (out.rejected.length > 0)
        log().warn({ destination: d.destination.name, rejected: out.rejected.length }, "findings refused for good");
    }
    await this.store.settleDeliveries(settlements);
    return pending;
  }

  private closeDestinations(): void {
    if (this.destinationsClosed || this.options.keepDestinationsOpen) return;
    this.destinationsClosed = true;
    for (const d of this.options.destinations) d.destination.close?.();
  }

  private wentDown(d: KeyedDestination): void {
    const first = this.options.downDelayMs ?? 2000;
    const previous = this.downDelay.get(d.key);
    const delay = previous === undefined ? first : Math.min(this.options.maxDownDelayMs ?? 300_000, previous * 2);
    if (previous === undefined)
      this.options.onReport?.(
        `${d.destination.name}: not delivering (${this.tally.get(d.key)?.lastError ?? "no acknowledgement"}); findings kept in the state and retried`,
      );
    this.downDelay.set(d.key, delay);
    this.downUntil.set(d.key, Date.now() + delay);
  }

  private cameUp(d: KeyedDestination): void {
    if (this.downDelay.has(d.key)) this.options.onReport?.(`${d.destination.name}: delivering again`);
    this.downDelay.delete(d.key);
    this.downUntil.delete(d.key);
  }
}

function key(r: OutboxRow): Pick<OutboxSettlement, "findingId" | "destination" | "generation"> {
  return { findingId: r.findingId, destination: r.destination, generation: r.generation };
}
