/**
 * The scan pipeline, as a stream: sources → reader (facts per object) → de-duplication and reorder
 * buffer (event-time watermark) → engine → findings, with checkpoints to the state store.
 *
 * Memory depends on the number of live sessions and on the events of the lateness window, never on
 * the length of the run: objects are read one after the other, their facts are dropped once their
 * events are in the buffer, and sessions expire by event time.
 *
 * Every `checkpointObjects` objects or `checkpointMs` milliseconds, the findings of the events
 * released so far are evaluated; the new ones are delivered (written and flushed by the sink) and
 * then the sessions, fleet knowledge, findings, the stream's position and the objects whose events
 * are all processed are committed in one transaction. A scan killed at any moment resumes from its last checkpoint: objects committed
 * there are skipped, the others are read again, and no finding is lost (a finding written just
 * before a kill may be written again: at-least-once, de-duplicate by `id`). Nothing here prints.
 */
import { deliveryOrderKey, skipByName } from "../cloudtrail/layout.js";
import type { Config } from "../config/config.js";
import { defaultConfig, validateConfig } from "../config/config.js";
import { compareFindings, Engine, type EngineStats, type StoredFinding } from "../engine/engine.js";
import { compareEvents, type EngineEvent } from "../engine/event.js";
import { emptyFleet } from "../engine/state.js";
import { UsageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import type { CheckpointDelivery, DeliveryReport } from "../findings/delivery/outbox.js";
import { type Finding, type Severity, severityRank, statusOf } from "../findings/finding.js";
import { log } from "../log.js";
import { NetworkInventory } from "../net/inventory.js";
import type { IpRangesInfo, IpRangesLookup } from "../net/ip-ranges-source.js";
import { MALFORMED_TEXT, type MalformedReason } from "../reader/facts.js";
import { FactsReader, type ReaderSource } from "../reader/pool.js";
import type { ObjectFacts } from "../reader/read-object.js";
import { safeText } from "../safe-text.js";
import { listInputs } from "../sources/inputs.js";
import type { LiveObject, LiveSource } from "../sources/live.js";
import type { LogObjectRef } from "../sources/local.js";
import type { ReadProblem } from "../sources/read.js";
import type { S3Source, S3SourceOptions } from "../sources/s3.js";
import { isSharedLocation, openAnyStore } from "../state/open.js";
import { type ScannedObject, type SharedCheckpoints, type StateStore, sameObject } from "../state/store.js";
import { decodeStreamPosition } from "../state/stream-position.js";
import { RecentIds } from "./recent-ids.js";
import { ReorderBuffer } from "./reorder.js";
import { settingsFingerprint } from "./settings-fingerprint.js";

export type FailOn = Severity | "none";

/** Where new findings go. Resolves once they are written and flushed (then they count as delivered). */
export interface FindingSink {
  /** An output file's path: its committed length is kept in the state for exactly-once output. */
  readonly path?: string;
  /** Called once before the first write with the committed length of `path` (if any). */
  open?(committedBytes: number | undefined): Promise<void>;
  /** Writes and flushes; returns the file's length afterwards when `path` is set. */
  write(findings: readonly Finding[]): Promise<number | undefined>;
}

export interface ScanProgress {
  readonly objectsDone: number;
  readonly objectsTotal: number;
  readonly events: number;
  readonly bytes: number;
  readonly findings: number;
}

export interface ScanOptions {
  /** Files, folders, `-` (standard input) and `s3://bucket/prefix` URLs, mixed as needed. */
  readonly paths: readonly string[];
  /**
   * How `s3://` inputs are reached (profile, region, endpoint, concurrent requests). With `since` and
   * `until`, their listing is pruned to the days of the window.
   */
  readonly s3?: S3SourceOptions;
  /** `:memory:` (default here; the CLI defaults to the user's state file) or a SQLite path. */
  readonly statePath?: string;
  readonly config?: Config;
  /** AWS's ip-ranges.json (or a snapshot) to use; wins over `ipRanges`. */
  readonly ipRangesPath?: string;
  /**
   * Without `ipRangesPath`: look for the cached copy, then the shipped snapshot (the CLI's default;
   * the fields move the places, for tests). Absent: no AWS ranges, so a run never depends on what is
   * in this machine's cache unless asked to.
   */
  readonly ipRanges?: IpRangesLookup;
  /** Only events at or after this time. */
  readonly since?: Date;
  /** Only events before this time. */
  readonly until?: Date;
  readonly bindUncovered?: boolean;
  readonly maxObjectBytes?: number;
  /**
   * Read objects again even when the state says they were scanned, and judge them afresh: the run
   * starts from empty sessions and fleet knowledge (so nothing is counted twice) and findings already
   * delivered are not printed again.
   */
  readonly rescan?: boolean;
  /** Exit code 1 when a finding is at or above this severity (default high). */
  readonly failOn?: FailOn;
  /** How late (event time) a record may arrive and still be put in order; default 60 minutes. */
  readonly latenessMs?: number;
  /** Events always held in the reorder buffer before any is released (default 100,000). */
  readonly minBuffered?: number;
  /** Commit a checkpoint after this many objects (default 500)… */
  readonly checkpointObjects?: number;
  /**
   * …or after this long, whichever comes first. Default: 10 s, or nine times what the last
   * checkpoint took when that is longer (checkpoints then take at most about a tenth of the run).
   */
  readonly checkpointMs?: number;
  /** Receives new findings at each checkpoint; without one they are only returned. */
  readonly sink?: FindingSink;
  /**
   * Delivery to `--to` destinations through the state's outbox (src/findings/delivery/outbox.ts),
   * made once the state is open: its rows are committed with each checkpoint's findings.
   */
  readonly delivery?: (store: StateStore) => CheckpointDelivery;
  /**
   * With a shared store (PostgreSQL): this worker's name (default `default`). Each worker running at
   * the same time needs its own; a restarted worker takes its old name to resume where it stopped.
   */
  readonly worker?: string;
  /**
   * With a shared store: this worker lives for one batch (a Lambda invocation). It keeps no stream
   * position and never holds the other workers back (ARCHITECTURE.md §1, *Lambda*).
   */
  readonly ephemeralWorker?: boolean;
  /** How long to wait for another process's lock on the state file (default 0: refuse). */
  readonly lockTimeoutMs?: number;
  readonly onLockWait?: (message: string) => void;
  /** Stop after the current object, commit, and return (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Reader threads (default: the machine's cores); 0 reads on this thread. Results do not depend on it. */
  readonly jobs?: number;
  /** Called after each object (for progress bars). */
  readonly onProgress?: (p: ScanProgress) => void;
  /**
   * Take objects from a live source as they come instead of listing `paths` (`firstcall watch`): each
   * checkpoint then judges every event read so far (prompt findings rather than the lateness window's
   * order; late evidence retracts, §3 of ARCHITECTURE.md), a checkpoint is due `checkpointMs` after
   * the previous one, or as soon as the source is idle when checkpoints are cheap (at most a ninth of
   * the time), and each object is settled once committed. The
   * run ends when the source ends (its end is final, like a scan's) or `signal` is aborted.
   */
  readonly live?: LiveSource;
  /** Live: the stream's health every `healthIntervalMs` (default 60 s). */
  readonly onHealth?: (health: LiveHealth) => void;
  readonly healthIntervalMs?: number;
  /**
   * Told, before any log is read, what a person should know first: each path that could not be listed
   * (missing, unreadable) and a state built with other settings. The same facts are in the summary.
   */
  readonly onNotice?: (notice: ScanNotice) => void;
}

/** A live run's health over the last interval (`firstcall watch` prints it as one line on stderr). */
export interface LiveHealth {
  /** Milliseconds since the previous report (or the start). */
  readonly intervalMs: number;
  /** Objects committed in the interval, and since the start. */
  readonly objects: number;
  readonly objectsTotal: number;
  /** Records read in the interval, and per second. */
  readonly events: number;
  readonly eventsPerSecond: number;
  /**
   * From an object becoming available (file written, S3 event, line read) to its checkpoint, over the
   * objects committed in the interval; null when none was.
   */
  readonly lagMs: { readonly p50: number; readonly max: number } | null;
  /** Now minus the newest event time read: how far the stream is behind real time; null before any event. */
  readonly behindMs: number | null;
  /** Sessions held in memory (the live ones the stream has touched). */
  readonly sessions: number;
  /** Findings delivered since the start (each version once). */
  readonly findings: number;
  /** Objects that could not be read at all, since the start. */
  readonly failed: number;
  /** Objects read whose checkpoint is still to come. */
  readonly waiting: number;
}

/** Something said before the scan reads: a path that cannot be listed, or settings the state was not built with. */
export type ScanNotice =
  | { readonly kind: "path-problem"; readonly problem: ReadProblem }
  | { readonly kind: "settings-changed"; readonly state: string };

/** What one path given to the scan held. */
export interface PathSummary {
  /** As given. */
  readonly path: string;
  /** CloudTrail log objects found: read now (wholly or partly) or already scanned by an earlier run. */
  readonly cloudTrail: number;
  /** Objects with log file names listed under it. */
  readonly listed: number;
  /** …of which skipped as not CloudTrail (digests, Insights, other JSON). */
  readonly notCloudTrail: number;
  /** …of which could not be read at all. */
  readonly unreadable: number;
  /** Files whose names are not log file names, and sockets, FIFOs, devices. */
  readonly ignored: number;
  /** The path itself (or a link or folder under it) could not be listed. */
  readonly listingProblems: number;
}

export interface ScanSummary {
  readonly schema: "firstcall.summary/v1";
  readonly state: string;
  readonly objects: {
    readonly listed: number;
    readonly read: number;
    readonly alreadyScanned: number;
    readonly skipped: number;
    readonly failed: number;
    readonly partial: number;
    /** Files in walked directories whose names are not log file names. */
    readonly ignored: number;
    readonly bytes: number;
    /**
     * CloudTrail log objects found (read now, or already scanned by an earlier run). 0 means nothing
     * was scanned at all: the exit code is then 3, not 0.
     */
    readonly cloudTrail: number;
  };
  /** Per path given, what it held (to name the paths where no CloudTrail log was found). */
  readonly paths: readonly PathSummary[];
  /**
   * Whether the configuration, `--ip-ranges` or `--bind-uncovered` differ from those the state's
   * already-scanned objects were judged with (they are not judged again without `--rescan`).
   */
  readonly settingsChanged: boolean;
  readonly skipped: readonly { readonly object: string; readonly reason: string }[];
  readonly problems: readonly ReadProblem[];
  readonly records: {
    readonly total: number;
    readonly unique: number;
    readonly duplicates: number;
    /** Records whose time came from `@timestamp` (no eventTime). */
    readonly timestampFallbacks: number;
    readonly insight: number;
    readonly outsideTimeWindow: number;
    readonly relevant: number;
    /** Records that could not be used, by reason (e.g. an eventTime that is not a time). */
    readonly malformed: Readonly<Partial<Record<MalformedReason, number>>>;
    /** Relevant records that arrived later than the allowed lateness (processed out of order). */
    readonly lateBeyondWindow: number;
    /** Records of partly read objects skipped because an earlier run had already counted them. */
    readonly alreadyCounted: number;
  };
  readonly timeRange?: { readonly first: string; readonly last: string };
  /** Which copy of AWS's ranges classified addresses (`--ip-ranges`, cache, shipped snapshot, none) and its age. */
  readonly ipRanges: IpRangesInfo;
  readonly engine: EngineStats;
  readonly coverage: {
    readonly instanceEvents: number;
    readonly covered: number;
    /** covered / instanceEvents, or null when there were no instance-credential events. */
    readonly ratio: number | null;
  };
  readonly sessions: { readonly touched: number; readonly stored: number; readonly expired: number };
  /** Findings this run delivered, by their status at the end of the run. */
  readonly findings: {
    /** Open findings (a finding delivered and then retracted in the same run is not one). */
    readonly total: number;
    readonly byRule: Readonly<Record<string, number>>;
    readonly bySeverity: Readonly<Record<string, number>>;
    /** Findings retracted by this run: later evidence explains them (ARCHITECTURE.md §3). */
    readonly retracted: number;
  };
  readonly stream: {
    readonly checkpoints: number;
    readonly latenessMs: number;
    /** Milliseconds from the start of the run to the first finding delivered, if any. */
    readonly firstFindingMs: number | null;
    readonly interrupted: boolean;
    /** Record ids restored from the previous run's last checkpoint (a resumed scan). */
    readonly resumedIds: number;
  };
  readonly durationMs: number;
  readonly exitCode: number;
  /** With destinations (`--to`): what was delivered and what is still owed in the outbox. */
  readonly delivery?: DeliveryReport;
}

export interface ScanResult {
  /**
   * Findings delivered by this run, in the order delivered: each id once per status (a retraction
   * repeats the id of the finding it withdraws, with `status: "retracted"`).
   */
  readonly findings: Finding[];
  readonly summary: ScanSummary;
  readonly exitCode: number;
}

const DEFAULT_LATENESS_MS = 60 * 60_000;
const DEFAULT_MIN_BUFFERED = 100_000;
/** Live: a source that offered nothing for this long is idle, and a cheap checkpoint is due. */
const LIVE_IDLE_MS = 25;
const DEFAULT_CHECKPOINT_MS = 10_000;

/**
 * A read object waiting for its checkpoint, and the newest of its events the engine must see first.
 * `object` is what the state keeps (none for standard input and its batches); `live`, the live
 * source's object to settle once committed.
 */
interface PendingObject {
  readonly object?: ScannedObject;
  readonly newestEvent: number;
  readonly live?: LiveObject;
}

/**
 * Runs a scan.
 *
 * @example
 * const { findings, summary, exitCode } = await runScan({ paths: ["AWSLogs/"], statePath: ":memory:" });
 */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const started = Date.now();
  // The whole configuration is checked before any log is read: a typo must not cost a full read.
  const config = validateConfig(options.config ?? defaultConfig());
  const inventory = NetworkInventory.load(config.ownNetworks, options.ipRangesPath, options.ipRanges);
  if (options.rescan && isSharedLocation(options.statePath ?? "")) {
    throw new UsageError(
      "E_USAGE",
      "--rescan starts from empty state, which would erase what other workers share in a shared (PostgreSQL or DynamoDB) state; rescan into a new database or table instead",
    );
  }
  const store = await openAnyStore(options.statePath ?? ":memory:", {
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.onLockWait ? { onWait: options.onLockWait } : {}),
    ...(options.worker !== undefined ? { worker: options.worker } : {}),
    ...(options.ephemeralWorker ? { ephemeral: true } : {}),
  });
  log().debug({ state: store.location, ms: Date.now() - started }, "state opened");
  try {
    return await new StreamingScan(options, config, inventory, store, started).run();
  } finally {
    await store.close();
  }
}

class StreamingScan {
  private readonly since: number;
  private readonly until: number;
  private readonly lateness: number;
  private readonly rescan: boolean;
  private engine!: Engine;
  private buffer = new ReorderBuffer();
  private ids = new RecentIds();
  private watermark = Number.NEGATIVE_INFINITY;
  private cut = Number.NEGATIVE_INFINITY;
  private readonly absent = new Set<string>();
  /** The session keys of the events being released (one set, reused). */
  private readonly sessionKeys = new Set<string>();
  private readonly pendingObjects: PendingObject[] = [];
  private readonly delivered: Finding[] = [];
  private readonly writtenThisRun = new Set<string>();
  private readonly touched = new Set<string>();
  private readonly problems: ReadProblem[] = [];
  private readonly skipped: { object: string; reason: string }[] = [];
  private readonly malformed: Partial<Record<MalformedReason, number>> = {};
  private expired = 0;
  private checkpoints = 0;
  private firstFindingMs: number | null = null;
  private resumedIds = 0;
  private lastCheckpoint = Date.now();
  /** Live: when the last object was taken from the source (its idleness starts there). */
  private lastTaken = 0;
  /** How long the last checkpoint took (evaluation, delivery and commit), in ms. */
  private lastCheckpointMs = 0;
  private counts = {
    read: 0,
    alreadyScanned: 0,
    failed: 0,
    partial: 0,
    bytes: 0,
    total: 0,
    duplicates: 0,
    timestampFallbacks: 0,
    insight: 0,
    outside: 0,
    relevant: 0,
    late: 0,
    alreadyCounted: 0,
  };
  private first = Number.POSITIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;
  /** Index into `options.paths` of the path each object was listed under. */
  private readonly pathOf = new Map<LogObjectRef, number>();
  private pathCounts: { cloudTrail: number; notCloudTrail: number; unreadable: number }[] = [];
  /** The settings fingerprint to commit with the next checkpoint (first run on a state, or --rescan). */
  private fingerprintToStore: string | undefined;
  private settingsChanged = false;
  /** Live: objects offered by the source, and committed so far. */
  private offered = 0;
  private committedObjects = 0;
  /** Live: the health report's interval so far (start, objects committed, records read before it, lags). */
  private health = { at: 0, objects: 0, events: 0, lags: [] as number[] };
  private readonly delivery: CheckpointDelivery | undefined;

  constructor(
    private readonly options: ScanOptions,
    private readonly config: Config,
    private readonly inventory: NetworkInventory,
    private readonly store: StateStore,
    private readonly started: number,
  ) {
    this.since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
    this.until = options.until?.getTime() ?? Number.POSITIVE_INFINITY;
    this.lateness = options.latenessMs ?? DEFAULT_LATENESS_MS;
    this.rescan = options.rescan ?? false;
    this.delivery = options.delivery?.(store);
  }

  async run(): Promise<ScanResult> {
    let s3: S3Source | undefined;
    try {
      // The AWS SDK is loaded only when an input is on S3.
      return await this.runWith(async () => {
        if (s3 === undefined) {
          const { S3Source } = await import("../sources/s3.js");
          s3 = new S3Source(this.options.s3);
        }
        return s3;
      });
    } finally {
      s3?.close();
      // A failed run leaves its due rows to the next one; no delivery may outlive the store.
      await this.delivery?.stop();
    }
  }

  private async runWith(s3: () => Promise<S3Source>): Promise<ScanResult> {
    const { options, store } = this;
    const {
      objects: listed,
      problems: listProblems,
      ignored,
      paths: pathListings,
    } = options.live
      ? {
          objects: [],
          problems: [],
          ignored: 0,
          paths: [{ path: options.live.name, objects: 0, ignored: 0, problems: 0 }],
        }
      : await listInputs(options.paths, {
          s3,
          window: {
            ...(options.since ? { since: options.since } : {}),
            ...(options.until ? { until: options.until } : {}),
          },
        });
    log().debug({ objects: listed.length, unreadable: listProblems.length, ignored }, "inputs listed");
    for (const p of listProblems) {
      const problem: ReadProblem = { object: p.object, code: "E_READ", message: `${p.object}: ${p.message}` };
      this.problems.push(problem);
      options.onNotice?.({ kind: "path-problem", problem });
    }
    this.counts.failed = listProblems.length;
    let next = 0;
    pathListings.forEach((listing, pathIndex) => {
      for (const ref of listed.slice(next, next + listing.objects)) this.pathOf.set(ref, pathIndex);
      next += listing.objects;
    });
    this.pathCounts = pathListings.map(() => ({ cloudTrail: 0, notCloudTrail: 0, unreadable: 0 }));
    await this.checkSettings();
    // Delivery order across accounts and regions keeps the watermark advancing smoothly (stable sort).
    const objects = listed
      .map((ref, i) => ({ ref, key: deliveryOrderKey(ref.id), i }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
      .map((x) => x.ref);

    const fleet = this.rescan ? emptyFleet() : await store.loadFleet();
    this.engine = new Engine(
      {
        config: this.config,
        inventory: this.inventory,
        bindUncovered: options.bindUncovered ?? false,
        retentionMs: this.lateness,
      },
      { sessions: new Map(), fleet },
    );
    if (!this.rescan) await this.resumePending();
    if (options.sink?.path !== undefined) await options.sink.open?.(await store.outputBytes(options.sink.path));
    else await options.sink?.open?.(undefined);

    const reader = new FactsReader({
      ...(options.jobs !== undefined ? { jobs: options.jobs } : {}),
      ...(options.maxObjectBytes ? { maxObjectBytes: options.maxObjectBytes } : {}),
    });
    let interrupted = false;
    try {
      try {
        if (options.live) interrupted = !(await this.runLive(options.live, reader));
        else interrupted = await this.runListed(objects, reader);
      } finally {
        await reader.close();
      }
      // A live run judges everything at each checkpoint; its end is final only when the source ended
      // and its end is the input's (not one Lambda invocation's batch).
      const final = !interrupted && options.live?.endIsFinal !== false;
      await this.checkpoint(final, options.live !== undefined || !interrupted, !interrupted);
    } finally {
      // After the last commit, so that the objects it settles are settled before the source lets go
      // of the rest (an SQS message made visible again must not be deleted afterwards).
      await options.live?.close();
    }
    const delivery = await this.delivery?.finish();
    const objectsListed = options.live ? this.offered : objects.length;

    const stats = this.engine.stats;
    const findings = this.delivered;
    // The summary and the exit code count what stands at the end: the last version of each id.
    const latest = [...new Map(findings.map((f) => [f.id, f])).values()];
    const open = latest.filter((f) => statusOf(f) === "open");
    const byRule: Record<string, number> = {};
    const bySeverity: Record<string, number> = {};
    for (const f of open) {
      byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
      bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
    }
    const c = this.counts;
    const paths: PathSummary[] = pathListings.map((listing, i) => ({
      path: listing.path,
      ...(this.pathCounts[i] as { cloudTrail: number; notCloudTrail: number; unreadable: number }),
      listed: options.live ? this.offered : listing.objects,
      ignored: listing.ignored,
      listingProblems: listing.problems,
    }));
    const cloudTrail = paths.reduce((n, p) => n + p.cloudTrail, 0);
    // Nothing scanned is not "no findings": it is an input problem (unless the run was stopped first).
    const nothingScanned = cloudTrail === 0 && !interrupted;
    let exitCode = exitCodeFor(open, options.failOn ?? "high", c.failed + c.partial > 0 || nothingScanned);
    // Findings owed to a destination outrank unreadable input, not a failing finding (exit-codes.ts).
    if (delivery && delivery.pending > 0 && exitCode !== EXIT.findings) exitCode = EXIT.undelivered;
    const summary: ScanSummary = {
      schema: "firstcall.summary/v1",
      state: store.location,
      objects: {
        listed: objectsListed + listProblems.length,
        read: c.read,
        alreadyScanned: c.alreadyScanned,
        skipped: this.skipped.length,
        failed: c.failed,
        partial: c.partial,
        ignored,
        bytes: c.bytes,
        cloudTrail,
      },
      paths,
      settingsChanged: this.settingsChanged,
      skipped: this.skipped,
      problems: this.problems,
      records: {
        total: c.total,
        unique: c.total - c.duplicates,
        duplicates: c.duplicates,
        timestampFallbacks: c.timestampFallbacks,
        insight: c.insight,
        outsideTimeWindow: c.outside,
        relevant: c.relevant,
        malformed: this.malformed,
        lateBeyondWindow: c.late,
        alreadyCounted: c.alreadyCounted,
      },
      ...(this.first <= this.last
        ? { timeRange: { first: new Date(this.first).toISOString(), last: new Date(this.last).toISOString() } }
        : {}),
      ipRanges: this.inventory.rangesInfo,
      engine: { ...stats },
      coverage: {
        instanceEvents: stats.instanceEvents,
        covered: stats.coveredInstanceEvents,
        ratio: stats.instanceEvents > 0 ? stats.coveredInstanceEvents / stats.instanceEvents : null,
      },
      sessions: { touched: this.touched.size, stored: await store.sessionCount(), expired: this.expired },
      findings: { total: open.length, byRule, bySeverity, retracted: latest.length - open.length },
      stream: {
        checkpoints: this.checkpoints,
        latenessMs: this.lateness,
        firstFindingMs: this.firstFindingMs,
        interrupted,
        resumedIds: this.resumedIds,
      },
      durationMs: Date.now() - this.started,
      exitCode,
      ...(delivery ? { delivery } : {}),
    };
    return { findings, summary, exitCode };
  }

  /** Reads listed objects in order (on the worker threads); true when stopped before the last. */
  private async runListed(objects: readonly LogObjectRef[], reader: FactsReader): Promise<boolean> {
    const { options, store } = this;
    // Decide what to read first (one look-up per object), then read it on the worker threads in order.
    const toRead: { ref: LogObjectRef; skip: number }[] = [];
    // One query for all objects where the store can (a remote database), else one look-up each.
    const known = store.scannedObjects ? await store.scannedObjects(objects.map((o) => o.id)) : undefined;
    for (const ref of objects) {
      const prev = ref.id === "-" ? undefined : known ? known.get(ref.id) : await store.scannedObject(ref.id);
      if (!this.rescan && prev?.status === "complete" && sameObject(prev, ref)) {
        this.counts.alreadyScanned++;
        // A skipped non-CloudTrail object is stored as scanned too, with no records.
        if (prev.records > 0) this.countFor(ref).cloudTrail++;
        continue;
      }
      // A partly read object was counted up to its damage: skip those records when it is read again.
      toRead.push({ ref, skip: !this.rescan && prev?.status === "partial" ? prev.records : 0 });
    }
    // Files are opened by the reader itself; S3 objects and standard input are fetched on this thread
    // when the reader gets to them (pool.ts), a bounded number ahead.
    const sources: ReaderSource[] = toRead.map(({ ref }) =>
      ref.path !== undefined
        ? { id: ref.id, path: ref.path, size: ref.size }
        : { id: ref.id, size: ref.size, fetch: () => ref.read() },
    );
    let done = this.counts.alreadyScanned;
    let index = 0;
    for await (const facts of reader.readInOrder(sources)) {
      const { ref, skip } = toRead[index++] as { ref: LogObjectRef; skip: number };
      await this.consume(ref, facts, skip);
      done++;
      log().trace({ object: safeText(ref.id), bytes: facts.bytes, problems: facts.problems.length }, "object read");
      options.onProgress?.({
        objectsDone: done,
        objectsTotal: objects.length,
        events: this.counts.total,
        bytes: this.counts.bytes,
        findings: this.delivered.length,
      });
      if (this.checkpointDue()) await this.checkpoint(false);
      if (options.signal?.aborted) return index < toRead.length;
    }
    return false;
  }

  private checkpointDue(): boolean {
    return (
      this.pendingObjects.length >= (this.options.checkpointObjects ?? 500) ||
      Date.now() - this.lastCheckpoint >= this.checkpointInterval()
    );
  }

  /**
   * Takes objects from a live source until it ends (true) or the signal stops the run (false). While
   * the source is idle, a checkpoint is still due `checkpointMs` after the previous one when objects
   * wait for it, and the health is reported on time.
   */
  private async runLive(source: LiveSource, reader: FactsReader): Promise<boolean> {
    const signal = this.options.signal ?? new AbortController().signal;
    const healthEvery = this.options.healthIntervalMs ?? 60_000;
    const interval = this.options.checkpointMs ?? DEFAULT_CHECKPOINT_MS;
    this.health = { at: Date.now(), objects: 0, events: 0, lags: [] };
    const iterator = source.objects(signal)[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<LiveObject>> | undefined;
    const stopped = new Promise<"stopped">((resolve) => {
      if (signal.aborted) resolve("stopped");
      else signal.addEventListener("abort", () => resolve("stopped"), { once: true });
    });
    for (;;) {
      if (signal.aborted) return false;
      next ??= iterator.next();
      const now = Date.now();
      const waiting = this.pendingObjects.length > 0;
      // Objects wait for a checkpoint: at the latest `checkpointMs` after the previous one, but as soon
      // as the source is idle (nothing came for LIVE_IDLE_MS) when checkpoints are cheap, so that a
      // finding does not wait out the interval at a low rate of objects. "Cheap": the previous one took
      // at most a ninth of the time since it, as the scan's own rhythm (`checkpointInterval`) keeps it.
      const checkpointAt = waiting
        ? Math.min(
            this.lastCheckpoint + interval,
            Math.max(this.lastCheckpoint + 9 * this.lastCheckpointMs, this.lastTaken + LIVE_IDLE_MS),
          )
        : Infinity;
      const healthAt = this.options.onHealth ? this.health.at + healthEvery : Infinity;
      const wait = Math.max(0, Math.min(checkpointAt, healthAt) - now);
      let timer: NodeJS.Timeout | undefined;
      const timeout = Number.isFinite(wait)
        ? new Promise<"timeout">((resolve) => {
            timer = setTimeout(() => resolve("timeout"), wait);
          })
        : undefined;
      const got = await Promise.race([next, stopped, ...(timeout ? [timeout] : [])]);
      clearTimeout(timer);
      if (got === "stopped") return false;
      if (got !== "timeout") {
        next = undefined;
        if (got.done) return true;
        await this.takeLive(got.value, reader);
        this.lastTaken = Date.now();
        if (this.pendingObjects.length >= (this.options.checkpointObjects ?? 500)) await this.checkpoint(false, true);
      }
      if (
        this.pendingObjects.length > 0 &&
        ((got === "timeout" && Date.now() >= checkpointAt) || Date.now() - this.lastCheckpoint >= interval)
      )
        await this.checkpoint(false, true);
      if (this.options.onHealth && Date.now() - this.health.at >= healthEvery) this.reportHealth();
    }
  }

  /** Reads one object of a live source (unless its state says it was already scanned unchanged). */
  private async takeLive(obj: LiveObject, reader: FactsReader): Promise<void> {
    this.offered++;
    const skipped = skipByName(obj.id);
    if (skipped) {
      // A digest or Insights file named by a notification: never fetched.
      this.skipped.push({ object: obj.id, reason: skipped });
      this.countFor(undefined).notCloudTrail++;
      this.pendingObjects.push({ newestEvent: Number.NEGATIVE_INFINITY, live: obj });
      return;
    }
    let opened: import("../sources/live.js").OpenedObject;
    try {
      opened = await obj.open();
    } catch (e) {
      const problem: ReadProblem = {
        object: obj.id,
        code: "E_READ",
        message: `${obj.id}: cannot read: ${(e as Error).message}`,
      };
      this.problems.push(problem);
      this.counts.failed++;
      this.countFor(undefined).unreadable++;
      obj.settle({ committed: false, problem: problem.message });
      return;
    }
    const ref: LogObjectRef = {
      id: obj.id,
      size: opened.size,
      mtimeMs: opened.mtimeMs,
      ...(opened.etag !== undefined ? { etag: opened.etag } : {}),
      read: () => Promise.reject(new Error("read through the live source")),
    };
    const prev = obj.remember ? await this.store.scannedObject(obj.id) : undefined;
    if (!this.rescan && prev?.status === "complete" && sameObject(prev, ref)) {
      this.counts.alreadyScanned++;
      if (prev.records > 0) this.countFor(undefined).cloudTrail++;
      obj.settle({ committed: true });
      return;
    }
    // Records an earlier read counted are skipped: a damaged object's, and an append-only file's that grew.
    const grown = obj.appendOnly === true && prev !== undefined && ref.size > prev.size;
    const skip = !this.rescan && prev !== undefined && (prev.status === "partial" || grown) ? prev.records : 0;
    const facts = await reader.read(opened.source);
    await this.consume(ref, facts, skip, obj);
    log().trace({ object: safeText(obj.id), bytes: facts.bytes, problems: facts.problems.length }, "object read");
  }

  private reportHealth(): void {
    const h = this.health;
    const now = Date.now();
    const lags = [...h.lags].sort((a, b) => a - b);
    const intervalMs = now - h.at;
    this.options.onHealth?.({
      intervalMs,
      objects: h.objects,
      objectsTotal: this.committedObjects,
      events: this.counts.total - h.events,
      eventsPerSecond: intervalMs > 0 ? ((this.counts.total - h.events) * 1000) / intervalMs : 0,
      lagMs:
        lags.length > 0 ? { p50: lags[Math.floor((lags.length - 1) / 2)] as number, max: lags.at(-1) as number } : null,
      behindMs: Number.isFinite(this.watermark) ? now - this.watermark : null,
      sessions: this.engine.state.sessions.size,
      findings: this.delivered.length,
      failed: this.counts.failed,
      waiting: this.pendingObjects.length,
    });
    this.health = { at: now, objects: 0, events: this.counts.total, lags: [] };
  }

  private countFor(ref: LogObjectRef | undefined): { cloudTrail: number; notCloudTrail: number; unreadable: number } {
    const fallback = { cloudTrail: 0, notCloudTrail: 0, unreadable: 0 };
    // A live source is the run's one path.
    const index = ref === undefined || this.options.live ? 0 : this.pathOf.get(ref);
    return index === undefined ? fallback : (this.pathCounts[index] ?? fallback);
  }

  /**
   * Compares the settings with those the state's scanned objects were judged with. Files already
   * scanned are skipped, so other settings would silently not apply to them: say so. The state keeps
   * the settings of its first run (or of the last --rescan), since that is what its objects were
   * judged with; a state from before fingerprints were kept takes the current ones.
   */
  private async checkSettings(): Promise<void> {
    const current = settingsFingerprint(this.config, this.options.ipRangesPath, this.options.bindUncovered ?? false);
    const stored = await this.store.settingsFingerprint();
    if (stored === undefined || this.rescan) this.fingerprintToStore = current;
    else if (stored !== current) {
      this.settingsChanged = true;
      this.options.onNotice?.({ kind: "settings-changed", state: this.store.location });
    }
  }

  /** Restores the stream's position (watermark, cut, processed ids) a previous run committed. */
  private async resumePending(): Promise<void> {
    const data = await this.store.loadPending();
    if (!data) return;
    const doc = decodeStreamPosition(data);
    this.watermark = doc.watermark ?? Number.NEGATIVE_INFINITY;
    this.cut = doc.cut ?? Number.NEGATIVE_INFINITY;
    this.ids = RecentIds.from(doc.ids);
    this.resumedIds = doc.ids.length;
  }

  private async consume(ref: LogObjectRef, r: ObjectFacts, skip: number, live?: LiveObject): Promise<void> {
    // Standard input has no identity to skip it by; a live source says which of its objects have one.
    const remember = live ? live.remember : ref.id !== "-";
    const c = this.counts;
    c.bytes += r.bytes;
    c.timestampFallbacks += r.timestampFallbacks;
    c.insight += r.insightRecords;
    const problems = [...r.problems];
    for (const [reason, n] of Object.entries(r.malformed) as [MalformedReason, number][]) {
      this.malformed[reason] = (this.malformed[reason] ?? 0) + n;
      // Records with no time at all are already reported by the reader, as they always were.
      if (n > 0 && reason !== "no-time") {
        problems.push({
          object: r.object,
          code: "E_RECORD",
          message: `${r.object}: ${n} records ${MALFORMED_TEXT[reason]}; not judged`,
        });
      }
    }
    this.problems.push(...problems);
    if (r.skipped) {
      this.countFor(ref).notCloudTrail++;
      this.skipped.push({ object: r.object, reason: r.skipped });
      const object: ScannedObject = {
        id: ref.id,
        size: ref.size,
        mtimeMs: ref.mtimeMs,
        ...(ref.etag !== undefined ? { etag: ref.etag } : {}),
        records: 0,
        status: "complete",
      };
      this.pendingObjects.push({
        ...(remember || !live ? { object } : {}),
        newestEvent: Number.NEGATIVE_INFINITY,
        ...(live ? { live } : {}),
      });
      return;
    }
    if (problems.length > 0 && r.facts.length === 0) {
      c.failed++;
      this.countFor(ref).unreadable++;
      live?.settle({ committed: false, problem: (problems[0] as ReadProblem).message });
      return;
    }
    c.read++;
    this.countFor(ref).cloudTrail++;
    const damaged = problems.length > 0;
    if (damaged) c.partial++;
    let newestEvent = Number.NEGATIVE_INFINITY;
    // Keys a reader thread made (record i's at words 3i..3i+2); read on this thread, ids are hashed here.
    const idKeys = r.idKeys;
    let index = 0;
    for (const f of r.facts) {
      const record = index++;
      if (record < skip) {
        c.alreadyCounted++;
        continue;
      }
      c.total++;
      if (Number.isNaN(f.time)) continue;
      if (
        f.eventId !== undefined &&
        (idKeys !== undefined ? this.ids.seenKey(idKeys, record, f.time) : this.ids.seen(f.eventId, f.time))
      ) {
        c.duplicates++;
        continue;
      }
      const t = f.time;
      if (t < this.since || t >= this.until) {
        c.outside++;
        continue;
      }
      if (t < this.first) this.first = t;
      if (t > this.last) this.last = t;
      const e = f.event;
      if (!e) continue;
      c.relevant++;
      if (e.time > this.watermark) this.watermark = e.time;
      if (e.time < this.cut) c.late++;
      if (e.time > newestEvent) newestEvent = e.time;
      this.buffer.push(e);
    }
    const object: ScannedObject = {
      id: ref.id,
      size: ref.size,
      mtimeMs: ref.mtimeMs,
      ...(ref.etag !== undefined ? { etag: ref.etag } : {}),
      records: r.facts.length,
      status: damaged ? "partial" : "complete",
    };
    if (remember || live)
      this.pendingObjects.push({ ...(remember ? { object } : {}), newestEvent, ...(live ? { live } : {}) });
    // Hold at least `minBuffered` events: a small or medium input is then put in order whole, as a
    // sort would; beyond that, everything older than the watermark minus the lateness goes on.
    // (A shared store orders the events of all workers itself: see `sharedCheckpoint`.)
    if (!this.store.shared && this.buffer.size > (this.options.minBuffered ?? DEFAULT_MIN_BUFFERED)) {
      await this.release(this.watermark - this.lateness);
    }
  }

  /** Processes, in order, the buffered events at or before `cut`, with their sessions loaded first. */
  private async release(cut: number): Promise<void> {
    const events = this.buffer.release(cut);
    if (events.length === 0) return;
    const newest = (events[events.length - 1] as EngineEvent).time;
    if (newest > this.cut) this.cut = newest;
    // As a checkpoint would: ids kept until the next one would only weigh on the peak of memory.
    this.ids.forgetBefore(this.cut - this.lateness);
    await this.processEvents(events);
  }

  /** Loads the sessions the events touch (those not in memory yet), then processes the events in order. */
  private async processEvents(events: readonly EngineEvent[]): Promise<void> {
    const sessions = this.engine.state.sessions;
    if (!this.rescan) {
      const keys = this.sessionKeys;
      keys.clear();
      for (const e of events) Engine.sessionKeysOf(e, keys);
      for (const k of this.engine.heldSessionKeys) keys.add(k);
      const missing: string[] = [];
      for (const k of keys) if (!sessions.has(k) && !this.absent.has(k)) missing.push(k);
      keys.clear();
      if (missing.length > 0) {
        const loaded = await this.store.loadSessions(missing);
        for (const k of missing) {
          const s = loaded.get(k);
          if (s) sessions.set(k, s);
          else this.absent.add(k);
        }
      }
    }
    for (const e of events) this.engine.process(e);
  }

  /**
   * Commits a checkpoint. `final`: the input is over (undecided waits are decided); `releaseAll`: every
   * buffered event is processed first (the end of a scan, and every checkpoint of a live run).
   */
  private async checkpoint(final: boolean, releaseAll = final, inputEnded = final): Promise<void> {
    const shared = this.store.shared;
    if (shared) return this.sharedCheckpoint(shared, inputEnded, final || this.options.live?.endIsFinal !== false);
    if (releaseAll) await this.release(Number.POSITIVE_INFINITY);
    return this.commitCheckpoint(final);
  }

  /**
   * A checkpoint on a shared store (ARCHITECTURE.md §1, *Shared state*), in one transaction that
   * holds the state's checkpoint lock: every event this worker read since the last checkpoint is
   * handed to the store (de-duplicated by event id across all workers), with how far this worker has
   * read; the store answers with the events, of every worker, that all running workers have read past
   * (older than the oldest read position minus the lateness), in event order. Those are processed on
   * the fleet knowledge and sessions as committed, then evaluated and committed as one process would.
   * The objects read are committed now: their events are in the store. `final`: this worker's input
   * has ended (it leaves the stream); `mayDecide`: when every worker has, that is the input's end.
   */
  private async sharedCheckpoint(shared: SharedCheckpoints, final: boolean, mayDecide: boolean): Promise<void> {
    const read = this.buffer.release(Number.POSITIVE_INFINITY);
    const start = await shared.begin();
    try {
      const state = this.engine.state;
      state.fleet = start.fleet;
      state.sessions.clear();
      this.absent.clear();
      // A live run processes at each checkpoint all that every running worker has read (as a single
      // live process releases its whole buffer), not a lateness behind: findings within a checkpoint.
      const { events, ended } = await shared.exchange(
        read,
        final ? Number.POSITIVE_INFINITY : this.watermark,
        this.lateness,
        this.options.live ? 0 : this.lateness,
      );
      events.sort(compareEvents);
      if (events.length > 0) {
        const newest = (events[events.length - 1] as EngineEvent).time;
        if (newest > this.cut) this.cut = newest;
      }
      await this.processEvents(events);
      // Every worker has ended: the input as a whole has, unless this worker's end is only that of a
      // batch (a Lambda invocation) and more will come; then nothing waiting is decided early.
      await this.commitCheckpoint(ended && mayDecide, true);
    } catch (e) {
      // The events go back: a failed checkpoint stops the scan, but nothing read is silently dropped.
      for (const e2 of read) this.buffer.push(e2);
      await shared.rollback();
      throw e;
    }
  }

  /** `allRead`: every object read so far is done (a shared store holds the events not processed yet). */
  private async commitCheckpoint(final: boolean, allRead = false): Promise<void> {
    const commitStarted = Date.now();
    const { engine, store } = this;
    // Sessions with open findings whose instance changed address in this batch are judged again
    // (retraction); on --rescan every session of the run is in memory already.
    const recheck = this.rescan ? [] : engine.sessionsToRecheck;
    engine.recheckSessions(recheck.length > 0 ? await store.loadSessions(recheck) : new Map());
    for (const k of engine.dirtySessions) this.touched.add(k);
    const current = engine.evaluate(final);
    const previous = await store.loadFindings([...current.keys(), ...engine.retractableIds]);
    // On --rescan the stored evidence of per-call rules was built from these same objects: start over.
    const mergeWith = this.rescan
      ? new Map([...previous].filter(([id]) => this.writtenThisRun.has(id)))
      : (previous as Map<string, StoredFinding>);
    const merged = [...engine.merge(current, mergeWith), ...engine.retractions(previous)];
    // Printed: what is new, and what changed status (a retraction; a retracted finding found again).
    const fresh = merged
      .filter((m) => {
        const prev = previous.get(m.stored.finding.id);
        return !prev || statusOf(prev.finding) !== statusOf(m.stored.finding);
      })
      .map((m) => m.stored.finding)
      .sort(compareFindings);

    let outputs: { path: string; bytes: number }[] | undefined;
    if (fresh.length > 0) {
      const bytes = await this.options.sink?.write(fresh);
      if (this.options.sink?.path !== undefined && bytes !== undefined)
        outputs = [{ path: this.options.sink.path, bytes }];
      if (this.firstFindingMs === null) this.firstFindingMs = Date.now() - this.started;
      this.delivered.push(...fresh);
    }
    const changed = merged.filter((m) => m.changed).map((m) => m.stored);
    const outbox = this.delivery?.tasksFor(
      changed.map((c) => ({ previous: previous.get(c.finding.id)?.finding, current: c.finding })),
    );
    // Expire after evaluating: what a lifetime showed is judged before the lifetime is forgotten.
    const expiredKeys = engine.expire(this.lateness);
    this.expired += expiredKeys.length;
    const horizon = engine.state.fleet.watermark - this.lateness;
    this.ids.forgetBefore(this.cut - this.lateness);
    for (const f of changed) this.writtenThisRun.add(f.finding.id);
    // The events still in the reorder buffer are not kept: the objects they came from are not
    // committed until all their events are processed, so a resumed run reads those objects again.
    const pending = this.ids.encodePosition(
      Number.isFinite(this.watermark) ? this.watermark : null,
      Number.isFinite(this.cut) ? this.cut : null,
      this.cut,
    );
    // An object is committed once every event it brought has been processed (is at or before the cut).
    const done = this.pendingObjects.filter((p) => allRead || p.newestEvent <= this.cut);
    const waiting = this.pendingObjects.filter((p) => !allRead && p.newestEvent > this.cut);
    this.pendingObjects.splice(0, this.pendingObjects.length, ...waiting);
    await store.commit({
      sessions: [...engine.dirtySessions].map((k) => engine.state.sessions.get(k)).filter((s) => s !== undefined),
      deletedSessions: expiredKeys,
      ...(Number.isFinite(horizon) ? { pruneSessionsBefore: horizon } : {}),
      fleet: engine.state.fleet,
      findings: changed,
      objects: done.flatMap((p) => (p.object ? [p.object] : [])),
      pending,
      ...(outputs ? { outputs } : {}),
      ...(this.fingerprintToStore !== undefined ? { settingsFingerprint: this.fingerprintToStore } : {}),
      ...(outbox?.length ? { outbox } : {}),
    });
    this.delivery?.afterCommit();
    log().debug(
      {
        checkpoint: this.checkpoints + 1,
        final,
        objects: done.length,
        sessions: engine.dirtySessions.size,
        findings: fresh.length,
        events: this.counts.total,
        ms: Date.now() - commitStarted,
      },
      "checkpoint committed",
    );
    // Committed: a live source may now forget these objects (delete their messages).
    for (const p of done) {
      if (!p.live) continue;
      this.committedObjects++;
      this.health.objects++;
      if (this.options.onHealth) this.health.lags.push(Date.now() - p.live.availableAt);
      p.live.settle({ committed: true });
    }
    engine.endBatch();
    this.absent.clear();
    this.checkpoints++;
    this.lastCheckpoint = Date.now();
    this.lastCheckpointMs = this.lastCheckpoint - commitStarted;
  }

  /**
   * Time between checkpoints: `checkpointMs` when given. By default 10 s, but never less than nine
   * times what the last checkpoint took: a checkpoint writes every session changed since the last
   * one and the ids of the lateness window, so on a slow or busy machine checkpoints every 10 s of
   * wall time would take a growing share of the run. This way they take at most about a tenth of it.
   * Findings do not depend on when checkpoints happen.
   */
  private checkpointInterval(): number {
    const given = this.options.checkpointMs;
    return given ?? Math.max(DEFAULT_CHECKPOINT_MS, 9 * this.lastCheckpointMs);
  }
}

/**
 * Exit codes (src/exit-codes.ts): open findings at or above `failOn`; else input when some input
 * could not be read; else ok. Retracted findings never fail a run.
 */
export function exitCodeFor(findings: readonly Finding[], failOn: FailOn, inputProblems: boolean): number {
  if (
    failOn !== "none" &&
    findings.some((f) => statusOf(f) === "open" && severityRank(f.severity) >= severityRank(failOn))
  )
    return EXIT.findings;
  return inputProblems ? EXIT.input : EXIT.ok;
}
