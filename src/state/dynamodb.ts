/**
 * The shared store on DynamoDB: one table that several workers (processes, hosts, Lambdas) scan into
 * at once, with the same contract and the same global event order as PostgreSQL (ARCHITECTURE.md §1,
 * *Shared state*, *DynamoDB*).
 *
 * DynamoDB has no transaction over a whole checkpoint (TransactWriteItems: 100 items, 4 MB), so the
 * atomic checkpoint is built explicitly:
 *
 * - **Lock**: one item (`meta`/`lock`) taken with a conditional write: an owner, a lease that expires
 *   (renewed while a checkpoint runs) and a fencing token incremented by every acquisition. A worker
 *   that dies holding it blocks the others until its lease has expired (plus a grace period covering
 *   clock skew and a request still in flight).
 * - **Redo log**: a checkpoint gathers its whole write set in memory (nothing is written by
 *   `exchange` or the loads), writes it deflated as chunk items under `redo#FENCE`, then writes the
 *   **commit marker** on the lock item conditionally on still holding it with that fence, then applies
 *   the writes (BatchWriteItem, idempotent puts and deletes) and releases the lock.
 * - **Recovery**: whoever takes the lock next and finds a commit marker applies that redo log first
 *   (roll forward); a redo log without a marker is discarded. So a checkpoint is applied entirely or
 *   not at all, whenever its worker dies.
 *
 * Items (partition key `pk`, sort key `sk`): sessions `s#KEY`/`s` and their expiry index
 * `sx#SHARD`/`VALIDUNTIL#KEY`; findings `f`/`ID`; objects `o#ID`/`o`; the fleet `meta`/`fleet`;
 * settings `meta`/`settings`; per worker its stream `stream`/`WORKER`, position document
 * `pending`/`WORKER`, output lengths `out`/`WORKER\nPATH` and name lease `wlease`/`WORKER`; staged
 * events in deflated chunks `stg`/`LO#FENCE#N`; ids processed within the lateness `done`/`HI#FENCE#N`;
 * finding statuses `st`/`ID` (the latest and the history, changed by one UpdateItem, without the lock).
 * Documents are the encodings SQLite stores (deflated); one larger than an item holds (400 KB) is split
 * into part items (`part#PK#SK`/`N`).
 */
import { randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type {
  AttributeValue,
  BatchGetItemCommandOutput,
  DynamoDBClient,
  QueryCommandInput,
  WriteRequest,
} from "@aws-sdk/client-dynamodb";
import type { StoredFinding } from "../engine/engine.js";
import type { EngineEvent } from "../engine/event.js";
import {
  decodeDocument,
  decodeFleet,
  decodeSession,
  emptyFleet,
  encodeDocument,
  encodeFleet,
  encodeSession,
  encodeSessionJson,
  type FleetState,
  type SessionState,
} from "../engine/state.js";
import { StateError } from "../errors.js";
import { log } from "../log.js";
import { assertStateVersion } from "./schema-version.js";
import { cutTimeText, notEmpty } from "./sqlite-transfer.js";
import {
  type CheckpointEvents,
  type CheckpointStart,
  emptyCounts,
  exchangeCut,
  type FindingStatus,
  type FindingStatusValue,
  type ImportOptions,
  type ImportResult,
  type PruneCut,
  type PruneResult,
  type RecordCounts,
  type ScannedObject,
  type SharedCheckpoints,
  type StateCommit,
  type StateInfo,
  type StateRecord,
  type StateStore,
  validateFindingStatus,
} from "./store.js";
import { decodeStreamPosition } from "./stream-position.js";

/** The layout version this firstcall reads and writes (item `meta`/`schema`). */
export const DYNAMO_SCHEMA_VERSION = 1;

/** Largest document kept in one item; larger ones are split into parts (the item limit is 400 KB). */
const INLINE_BYTES = 350_000;
/** Expiry index shards: spreads the index writes of a checkpoint over several partitions. */
const INDEX_SHARDS = 8;
/** Events per staged chunk before it is deflated (about 30 KB of deflated events per 1,000). */
const EVENTS_PER_CHUNK = 4000;
/** Stands for −∞ in a number attribute (DynamoDB numbers stop at ±1e125). */
const MINUS_INFINITY = -1e100;
/** The default lease of the checkpoint lock and of a worker name. */
const DEFAULT_LEASE_MS = 10_000;
/**
 * How long past the end of a lease the lock is still not taken over. A request times out after 2 s and
 * is tried at most 3 times, so a write sent before the lease ended has landed or failed within it;
 * the rest covers clock skew between hosts.
 */
const GRACE_MS = 10_000;

type Item = Record<string, AttributeValue>;
type Key = { pk: AttributeValue; sk: AttributeValue };
type Op = { put: Item } | { del: Key };

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });
const B = (b: Uint8Array): AttributeValue => ({ B: b });
const key = (pk: string, sk: string): Key => ({ pk: S(pk), sk: S(sk) });
const num = (v: AttributeValue | undefined): number | undefined => (v?.N !== undefined ? Number(v.N) : undefined);
const str = (v: AttributeValue | undefined): string | undefined => v?.S;
const keyId = (pk: string, sk: string) => `${pk}\u0000${sk}`;

/** A time (ms) as a sort key that orders as the number does (from −1e15 ms). */
function pad(t: number): string {
  return String(Math.floor(t) + 1e15).padStart(17, "0");
}

function shardOf(k: string): number {
  let h = 0;
  for (const ch of k) h = (Math.imul(h, 31) + (ch.codePointAt(0) ?? 0)) | 0;
  return Math.abs(h) % INDEX_SHARDS;
}

/** Where a `dynamodb://TABLE?region=…&endpoint=…&profile=…&lease=SECONDS` URL points. */
export interface DynamoLocation {
  readonly table: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly profile?: string;
  readonly leaseMs: number;
}

/**
 * Whether a `--state` value names a DynamoDB table.
 * @example isDynamoUrl("dynamodb://firstcall-state?region=eu-west-1") // true
 */
export function isDynamoUrl(location: string): boolean {
  return /^dynamodb:\/\//i.test(location);
}

/**
 * Reads a `dynamodb://` URL.
 * @throws StateError E_STATE when the table name or a parameter is not valid.
 * @example parseDynamoUrl("dynamodb://firstcall-state?region=eu-west-1").table // "firstcall-state"
 */
export function parseDynamoUrl(url: string): DynamoLocation {
  const m = /^dynamodb:\/\/([^/?#]*)\/?(\?[^#]*)?$/i.exec(url);
  const table = decodeURIComponent(m?.[1] ?? "");
  if (!m || !/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw new StateError(
      "E_STATE",
      `${redactDynamoUrl(url)}: not a DynamoDB state: write dynamodb://TABLE?region=REGION (a table name of 3–255 letters, digits, _ . -)`,
    );
  }
  const params = new URLSearchParams(m[2] ?? "");
  for (const k of params.keys()) {
    if (!["region", "endpoint", "profile", "lease"].includes(k)) {
      throw new StateError(
        "E_STATE",
        `${redactDynamoUrl(url)}: unknown parameter "${k}" (known: region, endpoint, profile, lease)`,
      );
    }
  }
  const lease = params.get("lease");
  const leaseMs = lease === null ? DEFAULT_LEASE_MS : Number(lease) * 1000;
  if (!Number.isFinite(leaseMs) || leaseMs < 1000) {
    throw new StateError("E_STATE", `${redactDynamoUrl(url)}: lease must be a number of seconds ≥ 1`);
  }
  const region = params.get("region") || undefined;
  const endpoint = params.get("endpoint") || undefined;
  const profile = params.get("profile") || undefined;
  return {
    table,
    leaseMs,
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(profile ? { profile } : {}),
  };
}

/**
 * The URL with any password in its endpoint replaced by `***`, for messages.
 * @example redactDynamoUrl("dynamodb://t1?endpoint=http://me:pw@127.0.0.1:8000") // "dynamodb://t1?endpoint=http://me:***@127.0.0.1:8000"
 */
export function redactDynamoUrl(url: string): string {
  return url.replace(/(endpoint=[a-z]+(?::|%3A)(?:\/\/|%2F%2F)[^:@/&%]*(?::|%3A))[^@&]*(@|%40)/i, "$1***$2");
}

async function makeClient(loc: DynamoLocation): Promise<DynamoDBClient> {
  const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const { awsSettings, sdkClientConfig } = await import("../aws/client-config.js");
  const config = sdkClientConfig(
    awsSettings({
      ...(loc.profile ? { profile: loc.profile } : {}),
      ...(loc.region ? { region: loc.region } : {}),
      ...(loc.endpoint ? { endpointUrl: loc.endpoint } : {}),
    }),
  );
  // A request must end well within the lease's grace period: a write in flight past it could land
  // after another worker took the lock over (see the module comment).
  return new DynamoDBClient({
    ...config,
    maxAttempts: 3,
    requestHandler: { ...(config.requestHandler ?? {}), requestTimeout: 2000, connectionTimeout: 2000 },
  });
}

function errorName(e: unknown): string {
  return (e as { name?: string }).name ?? "";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The layout version of the table (0: no table, or not initialised). */
async function tableVersion(client: DynamoDBClient, table: string): Promise<number> {
  const { GetItemCommand } = await import("@aws-sdk/client-dynamodb");
  try {
    const r = await client.send(
      new GetItemCommand({ TableName: table, Key: key("meta", "schema"), ConsistentRead: true }),
    );
    return num(r.Item?.v) ?? 0;
  } catch (e) {
    if (errorName(e) === "ResourceNotFoundException") return 0;
    throw e;
  }
}

/**
 * Creates the table (on-demand capacity) and its layout items: `firstcall state init`. Safe to run
 * twice and from several processes at once; waits until the table is ACTIVE.
 * @returns the layout versions before and after.
 * @example const { from, to } = await initDynamo("dynamodb://firstcall-state?region=eu-west-1")
 */
export async function initDynamo(url: string): Promise<{ from: number; to: number }> {
  const loc = parseDynamoUrl(url);
  const where = redactDynamoUrl(url);
  const client = await makeClient(loc);
  const sdk = await import("@aws-sdk/client-dynamodb");
  try {
    try {
      await client.send(
        new sdk.CreateTableCommand({
          TableName: loc.table,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: "pk", AttributeType: "S" },
            { AttributeName: "sk", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
        }),
      );
    } catch (e) {
      if (errorName(e) !== "ResourceInUseException") throw e;
    }
    for (let i = 0; ; i++) {
      const d = await client.send(new sdk.DescribeTableCommand({ TableName: loc.table }));
      if (d.Table?.TableStatus === "ACTIVE") break;
      if (i > 600) throw new Error(`the table stayed ${d.Table?.TableStatus} for 5 minutes`);
      await sleep(500);
    }
    const from = await tableVersion(client, loc.table);
    if (from > DYNAMO_SCHEMA_VERSION) {
      throw new StateError(
        "E_STATE_VERSION",
        `${where}: state layout ${from} was written by a newer firstcall (this one knows ${DYNAMO_SCHEMA_VERSION}): upgrade firstcall.`,
      );
    }
    if (from === 0) {
      // The lock item first: a table whose schema item exists always has it.
      const items: Item[] = [
        { pk: S("meta"), sk: S("lock"), fence: N(0), sc: N(0), hz: N(MINUS_INFINITY) },
        { pk: S("meta"), sk: S("schema"), v: N(DYNAMO_SCHEMA_VERSION) },
      ];
      for (const item of items) {
        try {
          await client.send(
            new sdk.PutItemCommand({
              TableName: loc.table,
              Item: item,
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          );
        } catch (e) {
          if (errorName(e) !== "ConditionalCheckFailedException") throw e;
          // Another init wrote it at the same moment.
        }
      }
    }
    return { from, to: DYNAMO_SCHEMA_VERSION };
  } catch (e) {
    if (e instanceof StateError) throw e;
    throw new StateError("E_STATE", `${where}: cannot initialise the state: ${(e as Error).message}`, { cause: e });
  } finally {
    client.destroy();
  }
}

export interface DynamoOpenOptions {
  /** This worker's name: its stream position and output files are its own. Default `default`. */
  readonly worker?: string;
  /** Only to read (`scan --all`, `explain`): no worker name taken, not registered as running. */
  readonly readOnly?: boolean;
  /** Largest document kept in one item (tests make it small to exercise the split); default 350 kB. */
  readonly inlineBytes?: number;
  /**
   * A worker that lives for one batch (a Lambda invocation), as `PostgresOpenOptions.ephemeral`: it
   * keeps no stream item (so it never holds the others back and leaves nothing behind when it dies)
   * and takes no name lease (it has no position or output file of its own to protect).
   */
  readonly ephemeral?: boolean;
}

/** A checkpoint in progress: the lock held and the writes gathered so far. */
interface Checkpoint {
  readonly fence: number;
  /** Local time before which this worker may still write (the lease, renewed as it goes). */
  deadline: number;
  /** Processed-id horizon: ids of events older than this are forgotten (`cut − lateness`, at most). */
  hz: number;
  /** Stored sessions after this checkpoint. */
  sc: number;
  readonly writes: Map<string, Op>;
  /** Sessions' stored validity (null: not stored) as read or written in this checkpoint. */
  readonly known: Map<string, number | null>;
  /** Set once the commit marker is written: from then on the checkpoint can only go forward. */
  committed: boolean;
  chunks: number;
}

/** JSON for the redo log: binary attribute values as base64 (read from the holder: a Buffer's toJSON runs first). */
function redoReplacer(this: Record<string, unknown>, k: string, v: unknown): unknown {
  const raw = this[k];
  return raw instanceof Uint8Array ? { $b: Buffer.from(raw).toString("base64") } : v;
}
function redoReviver(_k: string, v: unknown): unknown {
  return v !== null && typeof v === "object" && "$b" in v ? Buffer.from((v as { $b: string }).$b, "base64") : v;
}

export class DynamoStore implements StateStore, SharedCheckpoints {
  readonly location: string;
  readonly shared = this;
  private requests = 0;
  private nameRenewals = 0;
  /** Wall time spent waiting for DynamoDB's answers, and the part of it taking the checkpoint lock (ms). */
  private waitedMs = 0;
  private lockWaitMs = 0;
  private cp: Checkpoint | undefined;
  private readonly owner = `${randomBytes(6).toString("hex")}:${process.pid}`;
  private leaseTimer: NodeJS.Timeout | undefined;
  private nameLost = false;
  /** Whether this process holds the worker name's lease (released on close). */
  private named = false;
  private readonly inlineBytes: number;
  private ephemeral = false;

  private constructor(
    private readonly client: DynamoDBClient,
    private readonly sdk: typeof import("@aws-sdk/client-dynamodb"),
    private readonly loc: DynamoLocation,
    url: string,
    readonly worker: string,
    inlineBytes: number,
  ) {
    this.location = redactDynamoUrl(url);
    this.inlineBytes = inlineBytes;
  }

  /**
   * Connects, checks the layout version, takes the worker's name and registers it as running.
   * @throws StateError when the table cannot be reached, is not initialised (with the command to
   *   run) or of another version, or another live process uses the same worker name.
   * @example const store = await DynamoStore.open("dynamodb://firstcall-state?region=eu-west-1", { worker: "host-a" })
   */
  static async open(url: string, options: DynamoOpenOptions = {}): Promise<DynamoStore> {
    const loc = parseDynamoUrl(url);
    const client = await makeClient(loc);
    const sdk = await import("@aws-sdk/client-dynamodb");
    const store = new DynamoStore(
      client,
      sdk,
      loc,
      url,
      options.worker ?? "default",
      options.inlineBytes ?? INLINE_BYTES,
    );
    try {
      store.requests++;
      assertStateVersion(store.location, await tableVersion(client, loc.table), DYNAMO_SCHEMA_VERSION, "state layout");
      if (options.readOnly) return store;
      if (options.ephemeral) {
        store.ephemeral = true;
        return store;
      }
      await store.takeName();
      // Running again, under the checkpoint lock: a redo log of this worker's previous life is applied
      // first, so it can never mark the worker finished after this.
      await store.acquire();
      const cp = store.cp as Checkpoint;
      await store.send(
        new sdk.UpdateItemCommand({
          TableName: loc.table,
          Key: key("stream", store.worker),
          UpdateExpression: "SET fin = :f, upd = :u",
          ExpressionAttributeValues: { ":f": { BOOL: false }, ":u": S(new Date().toISOString()) },
        }),
      );
      await store.release(cp);
      return store;
    } catch (e) {
      await store.close().catch(() => {});
      if (e instanceof StateError) throw e;
      throw new StateError("E_STATE", `${store.location}: cannot use as a state: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  // ---- requests ----

  /** Every request goes through here: counted (round trips), and checked against the lease in a checkpoint. */
  private async send<T>(command: { input: unknown }, lockRequest = false): Promise<T> {
    if (this.cp && !lockRequest) await this.keepLease(this.cp);
    this.requests++;
    const began = performance.now();
    try {
      return (await this.client.send(command as never)) as T;
    } finally {
      this.waitedMs += performance.now() - began;
    }
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const r = await this.send<{ Item?: Item }>(
      new this.sdk.GetItemCommand({ TableName: this.loc.table, Key: key(pk, sk), ConsistentRead: true }),
    );
    return r.Item;
  }

  /** Every item of a partition (optionally a range of it), all pages. */
  private async query(pk: string, range?: { op: "<" | ">="; sk: string }, projection?: string): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: this.loc.table,
        ConsistentRead: true,
        KeyConditionExpression: range ? `pk = :pk AND sk ${range.op} :sk` : "pk = :pk",
        ExpressionAttributeValues: { ":pk": S(pk), ...(range ? { ":sk": S(range.sk) } : {}) },
        ...(projection ? { ProjectionExpression: projection } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      };
      const r = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(new this.sdk.QueryCommand(input));
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** BatchGetItem, 100 keys a request, unprocessed keys retried with backoff. */
  private async batchGet(keys: readonly Key[], projection?: string): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let todo: Key[] = keys.slice(i, i + 100);
      for (let attempt = 0; todo.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
        if (attempt > 12) throw new Error("DynamoDB kept keys of a batch read unprocessed (throttled)");
        const r = await this.send<BatchGetItemCommandOutput>(
          new this.sdk.BatchGetItemCommand({
            RequestItems: {
              [this.loc.table]: {
                Keys: todo,
                ConsistentRead: true,
                ...(projection ? { ProjectionExpression: projection } : {}),
              },
            },
          }),
        );
        out.push(...((r.Responses?.[this.loc.table] as Item[] | undefined) ?? []));
        todo = (r.UnprocessedKeys?.[this.loc.table]?.Keys as Key[] | undefined) ?? [];
      }
    }
    return out;
  }

  /** BatchWriteItem, 25 writes a request, unprocessed ones retried with backoff. */
  private async batchWrite(ops: readonly Op[]): Promise<void> {
    for (let i = 0; i < ops.length; i += 25) {
      let todo: WriteRequest[] = ops
        .slice(i, i + 25)
        .map((o) => ("put" in o ? { PutRequest: { Item: o.put } } : { DeleteRequest: { Key: o.del } }));
      for (let attempt = 0; todo.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));
        if (attempt > 12) throw new Error("DynamoDB kept writes of a batch unprocessed (throttled)");
        const r = await this.send<{ UnprocessedItems?: Record<string, WriteRequest[]> }>(
          new this.sdk.BatchWriteItemCommand({ RequestItems: { [this.loc.table]: todo } }),
        );
        todo = r.UnprocessedItems?.[this.loc.table] ?? [];
      }
    }
  }

  // ---- documents (split when larger than an item holds) ----

  private docItems(pk: string, sk: string, data: Uint8Array, extra: Item = {}): Item[] {
    if (data.length <= this.inlineBytes) return [{ pk: S(pk), sk: S(sk), d: B(data), ...extra }];
    const parts: Item[] = [];
    for (let i = 0, n = 0; i < data.length; i += this.inlineBytes, n++) {
      parts.push({
        pk: S(`part#${pk}#${sk}`),
        sk: S(String(n).padStart(6, "0")),
        d: B(data.subarray(i, i + this.inlineBytes)),
      });
    }
    return [{ pk: S(pk), sk: S(sk), n: N(parts.length), ...extra }, ...parts];
  }

  private async docData(item: Item): Promise<Buffer> {
    if (item.d?.B) return Buffer.from(item.d.B);
    const n = num(item.n) ?? 0;
    const parts = await this.query(`part#${str(item.pk)}#${str(item.sk)}`);
    if (parts.length < n) {
      throw new StateError("E_STATE_CORRUPT", `${this.location}: a document (${str(item.pk)}) is missing parts`);
    }
    return Buffer.concat(parts.slice(0, n).map((p) => Buffer.from(p.d?.B ?? new Uint8Array())));
  }

  private async getDoc(pk: string, sk: string): Promise<Buffer | undefined> {
    const item = await this.get(pk, sk);
    return item ? this.docData(item) : undefined;
  }

  // ---- the checkpoint lock ----

  private lockKey(): Key {
    return key("meta", "lock");
  }

  /**
   * Takes the checkpoint lock (waiting while another worker holds it), then rolls forward a committed
   * redo log left by a worker that died applying it, or discards one that was never committed.
   */
  private async acquire(): Promise<void> {
    const grace = GRACE_MS;
    for (let attempt = 0; ; attempt++) {
      const sent = Date.now();
      let old: Item | undefined;
      try {
        const r = await this.send<{ Attributes?: Item }>(
          new this.sdk.UpdateItemCommand({
            TableName: this.loc.table,
            Key: this.lockKey(),
            UpdateExpression: "SET #o = :me, #e = :exp ADD fence :one",
            // Its own lock again (a checkpoint that ran out of lease while applying): none of its
            // writes can still be in flight, they were awaited.
            ConditionExpression: "attribute_not_exists(#o) OR #e < :stale OR #o = :me",
            ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
            ExpressionAttributeValues: {
              ":me": S(this.owner),
              ":exp": N(sent + this.loc.leaseMs),
              ":stale": N(sent - grace),
              ":one": N(1),
            },
            ReturnValues: "ALL_OLD",
          }),
          true,
        );
        old = r.Attributes ?? {};
      } catch (e) {
        if (errorName(e) !== "ConditionalCheckFailedException") throw e;
        await sleep(Math.min(200, 10 + attempt * 10) * (0.5 + Math.random()));
        continue;
      }
      const fence = (num(old.fence) ?? 0) + 1;
      const cp: Checkpoint = {
        fence,
        deadline: sent + this.loc.leaseMs,
        hz: num(old.hz) ?? MINUS_INFINITY,
        sc: num(old.sc) ?? 0,
        writes: new Map(),
        known: new Map(),
        committed: false,
        chunks: 0,
      };
      this.cp = cp;
      try {
        const committed = num(old.cm);
        if (committed !== undefined) await this.rollForward(cp, committed);
        else if (old.owner !== undefined) {
          // Taken over from a worker that died mid-checkpoint before its commit marker: its redo log,
          // if it wrote one, is discarded.
          await this.deleteRedo(fence - 1);
        }
      } catch (e) {
        this.cp = undefined;
        throw e;
      }
      return;
    }
  }

  /**
   * Renews the lease when half of it is gone. Before the commit marker nothing but the redo log has
   * been written, so a lease that ran out (a long stretch of engine work) is renewed if no one took
   * the lock meanwhile; after the marker the writes are unconditional, so this worker stops at its
   * deadline and leaves the rest to the next lock holder.
   */
  private async keepLease(cp: Checkpoint): Promise<void> {
    const now = Date.now();
    if (now < cp.deadline - this.loc.leaseMs / 2) return;
    if (now >= cp.deadline && cp.committed) {
      throw new StateError("E_STATE_LOCKED", `${this.location}: the checkpoint's lease ran out while applying it`);
    }
    try {
      await this.send(
        new this.sdk.UpdateItemCommand({
          TableName: this.loc.table,
          Key: this.lockKey(),
          UpdateExpression: "SET #e = :exp",
          ConditionExpression: "#o = :me AND fence = :f",
          ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
          ExpressionAttributeValues: { ":me": S(this.owner), ":f": N(cp.fence), ":exp": N(now + this.loc.leaseMs) },
        }),
        true,
      );
      cp.deadline = now + this.loc.leaseMs;
    } catch (e) {
      if (errorName(e) === "ConditionalCheckFailedException") {
        throw new StateError(
          "E_STATE_LOCKED",
          `${this.location}: lost the checkpoint lock (lease expired); not committed`,
        );
      }
      throw e;
    }
  }

  private async rollForward(cp: Checkpoint, fence: number): Promise<void> {
    // No chunks left: the redo log was applied and deleted, only the release was missing.
    const chunks = await this.query(`redo#${fence}`);
    if (chunks.length > 0) {
      const blob = Buffer.concat(chunks.map((c) => Buffer.from(c.d?.B ?? new Uint8Array())));
      const redo = JSON.parse(inflateRawSync(blob).toString("utf8"), redoReviver) as { ops: Op[] };
      await this.batchWrite(redo.ops);
      await this.batchWrite(chunks.map((c) => ({ del: { pk: c.pk as AttributeValue, sk: c.sk as AttributeValue } })));
      log().debug({ state: this.location, fence, writes: redo.ops.length }, "rolled forward a committed checkpoint");
    }
    await this.send(
      new this.sdk.UpdateItemCommand({
        TableName: this.loc.table,
        Key: this.lockKey(),
        UpdateExpression: "REMOVE cm",
        ConditionExpression: "#o = :me AND fence = :f",
        ExpressionAttributeNames: { "#o": "owner" },
        ExpressionAttributeValues: { ":me": S(this.owner), ":f": N(cp.fence) },
      }),
      true,
    );
  }

  private async deleteRedo(fence: number): Promise<void> {
    if (fence < 1) return;
    const left = await this.query(`redo#${fence}`, undefined, "pk, sk");
    await this.batchWrite(left.map((c) => ({ del: { pk: c.pk as AttributeValue, sk: c.sk as AttributeValue } })));
  }

  /** Releases the lock (its counters were set with the commit marker, or are unchanged). */
  private async release(cp: Checkpoint): Promise<void> {
    this.cp = undefined;
    await this.send(
      new this.sdk.UpdateItemCommand({
        TableName: this.loc.table,
        Key: this.lockKey(),
        UpdateExpression: "REMOVE #o, #e, cm",
        ConditionExpression: "#o = :me AND fence = :f",
        ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
        ExpressionAttributeValues: { ":me": S(this.owner), ":f": N(cp.fence) },
      }),
      true,
    );
  }

  /**
   * The redo log, the commit marker (which also commits the counters), the writes, the redo log's
   * deletion, the release (see the module comment).
   */
  private async writeCheckpoint(cp: Checkpoint): Promise<void> {
    const ops = [...cp.writes.values()];
    const blob = deflateRawSync(JSON.stringify({ ops }, redoReplacer));
    const chunks: Key[] = [];
    for (let i = 0, n = 0; i < blob.length || n === 0; i += INLINE_BYTES, n++) {
      chunks.push(key(`redo#${cp.fence}`, String(n).padStart(6, "0")));
    }
    await this.batchWrite(
      chunks.map((k, n) => ({ put: { ...k, d: B(blob.subarray(n * INLINE_BYTES, (n + 1) * INLINE_BYTES)) } })),
    );
    await this.keepLease(cp);
    try {
      await this.send(
        new this.sdk.UpdateItemCommand({
          TableName: this.loc.table,
          Key: this.lockKey(),
          UpdateExpression: "SET cm = :f, hz = :hz, sc = :sc",
          ConditionExpression: "#o = :me AND fence = :f AND #e > :now",
          ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
          ExpressionAttributeValues: {
            ":me": S(this.owner),
            ":f": N(cp.fence),
            ":now": N(Date.now()),
            ":hz": N(cp.hz),
            ":sc": N(cp.sc),
          },
        }),
        true,
      );
    } catch (e) {
      if (errorName(e) === "ConditionalCheckFailedException") {
        throw new StateError(
          "E_STATE_LOCKED",
          `${this.location}: lost the checkpoint lock before committing; not committed`,
        );
      }
      throw e;
    }
    cp.committed = true;
    // From here the checkpoint is committed: if this worker dies or loses its lease, the next lock
    // holder applies it (a worker that may have lost its lease stops writing: keepLease).
    try {
      await this.batchWrite(ops);
      await this.batchWrite(chunks.map((k) => ({ del: k })));
      await this.release(cp);
    } catch (e) {
      this.cp = undefined;
      if (e instanceof StateError && e.code === "E_STATE_LOCKED") {
        log().warn(
          { state: this.location },
          "checkpoint committed; its lease ran out while applying it: the next checkpoint completes it",
        );
        return;
      }
      throw e;
    }
  }

  /** Deletes a stored document and its parts, if it was split. */
  private deleteDoc(cp: Checkpoint, item: Item): void {
    const pk = str(item.pk) ?? "";
    const sk = str(item.sk) ?? "";
    this.write(cp, { del: key(pk, sk) });
    const n = num(item.n) ?? 0;
    for (let i = 0; i < n; i++) this.write(cp, { del: key(`part#${pk}#${sk}`, String(i).padStart(6, "0")) });
  }

  private write(cp: Checkpoint, op: Op): void {
    const k = "put" in op ? op.put : op.del;
    cp.writes.set(keyId(str(k.pk) ?? "", str(k.sk) ?? ""), op);
  }

  // ---- the worker's name ----

  /** Takes the lease on this worker's name, waiting out the lease of a process that died holding it. */
  private async takeName(): Promise<void> {
    // A process that died holding the name lets it go when its lease ends; a live one renews it.
    const until = Date.now() + this.loc.leaseMs + 1000;
    for (;;) {
      const now = Date.now();
      try {
        await this.send(
          new this.sdk.UpdateItemCommand({
            TableName: this.loc.table,
            Key: key("wlease", this.worker),
            UpdateExpression: "SET #o = :me, #e = :exp",
            ConditionExpression: "attribute_not_exists(#o) OR #e < :stale OR #o = :me",
            ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
            ExpressionAttributeValues: { ":me": S(this.owner), ":exp": N(now + this.loc.leaseMs), ":stale": N(now) },
          }),
        );
        this.named = true;
        break;
      } catch (e) {
        if (errorName(e) !== "ConditionalCheckFailedException") throw e;
        if (Date.now() > until) {
          throw new StateError(
            "E_STATE_LOCKED",
            `${this.location}: worker "${this.worker}" is in use by another firstcall process; give each concurrent worker its own --worker name.`,
          );
        }
        await sleep(250);
      }
    }
    // Renewals depend on how long the process runs, not on what it reads: counted apart from the
    // round trips of the work (`nameRenewals`).
    this.leaseTimer = setInterval(() => {
      this.nameRenewals++;
      this.client
        .send(
          new this.sdk.UpdateItemCommand({
            TableName: this.loc.table,
            Key: key("wlease", this.worker),
            UpdateExpression: "SET #e = :exp",
            ConditionExpression: "#o = :me",
            ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
            ExpressionAttributeValues: { ":me": S(this.owner), ":exp": N(Date.now() + this.loc.leaseMs) },
          }),
        )
        .catch((e) => {
          if (errorName(e) === "ConditionalCheckFailedException") this.nameLost = true;
        });
    }, this.loc.leaseMs / 3);
    this.leaseTimer.unref();
  }

  // ---- StateStore ----

  async loadSessions(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    const items = await this.batchGet(keys.map((k) => key(`s#${k}`, "s")));
    const cp = this.cp;
    for (const item of items) {
      const k = (str(item.pk) ?? "").slice(2);
      out.set(k, decodeSession(await this.docData(item)));
      cp?.known.set(k, num(item.v) ?? 0);
    }
    if (cp) for (const k of keys) if (!out.has(k) && !cp.known.has(k)) cp.known.set(k, null);
    return out;
  }

  async loadFleet(): Promise<FleetState> {
    const data = await this.getDoc("meta", "fleet");
    return data ? decodeFleet(data) : emptyFleet();
  }

  async loadFindings(ids: readonly string[]): Promise<Map<string, StoredFinding>> {
    const out = new Map<string, StoredFinding>();
    for (const item of await this.batchGet(ids.map((id) => key("f", id)))) {
      out.set(str(item.sk) ?? "", decodeDocument<StoredFinding>(await this.docData(item)));
    }
    return out;
  }

  async loadPending(): Promise<Uint8Array | undefined> {
    return this.getDoc("pending", this.worker);
  }

  async allFindings(): Promise<StoredFinding[]> {
    const items = await this.query("f");
    const rows: { id: string; time: string; f: StoredFinding }[] = [];
    for (const item of items) {
      rows.push({
        id: str(item.sk) ?? "",
        time: str(item.t) ?? "",
        f: decodeDocument<StoredFinding>(await this.docData(item)),
      });
    }
    rows.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return rows.map((r) => r.f);
  }

  async scannedObject(id: string): Promise<ScannedObject | undefined> {
    const item = await this.get(`o#${id}`, "o");
    return item && objectOf(id, item);
  }

  async scannedObjects(ids: readonly string[]): Promise<Map<string, ScannedObject>> {
    const out = new Map<string, ScannedObject>();
    for (const item of await this.batchGet(ids.map((id) => key(`o#${id}`, "o")))) {
      const id = (str(item.pk) ?? "").slice(2);
      out.set(id, objectOf(id, item));
    }
    return out;
  }

  async sessionCount(): Promise<number> {
    return num((await this.get("meta", "lock"))?.sc) ?? 0;
  }

  async settingsFingerprint(): Promise<string | undefined> {
    return str((await this.get("meta", "settings"))?.s);
  }

  async outputBytes(path: string): Promise<number | undefined> {
    // Output files are a worker's own: two hosts may both write ./findings.jsonl.
    return num((await this.get("out", `${this.worker}\n${path}`))?.b);
  }

  // ---- finding statuses ----

  /**
   * The statuses of the given ids that are not open, or with no ids every one that is not open. Many
   * ids are answered from one query of the statuses' partition rather than a batch read per 100 ids.
   */
  async findingStatuses(ids?: readonly string[]): Promise<Map<string, FindingStatus>> {
    const out = new Map<string, FindingStatus>();
    const keep = (item: Item) => {
      const s = statusOf(item);
      if (s.status !== "open") out.set(s.id, s);
    };
    if (ids === undefined || ids.length > 100) {
      const wanted = ids === undefined ? undefined : new Set(ids);
      for (const item of await this.query("st", undefined, STATUS_FIELDS)) {
        if (!wanted || wanted.has(str(item.sk) ?? "")) keep(item);
      }
      return out;
    }
    for (const item of await this.batchGet(
      [...new Set(ids)].map((id) => key("st", id)),
      STATUS_FIELDS,
    )) {
      keep(item);
    }
    return out;
  }

  /**
   * Sets a finding's status in one `UpdateItem` of its status item: the latest status and the entry
   * appended to its history together (one item's update is atomic, and DynamoDB orders the updates of
   * one item, so the history is in the order they were applied). Needs no checkpoint lock: it may run
   * beside running workers, and on a store opened only to read. `open` is kept as a status (the item
   * holds the history) and not listed by {@link findingStatuses}.
   */
  async setFindingStatus(status: FindingStatus): Promise<void> {
    validateFindingStatus(status);
    const entry: AttributeValue = {
      M: { s: S(status.status), r: S(status.reason), a: S(status.actor), at: S(status.at) },
    };
    try {
      await this.send(
        new this.sdk.UpdateItemCommand({
          TableName: this.loc.table,
          Key: key("st", status.id),
          UpdateExpression: "SET s = :s, r = :r, a = :a, t = :at, h = list_append(if_not_exists(h, :none), :e)",
          ExpressionAttributeValues: {
            ":s": S(status.status),
            ":r": S(status.reason),
            ":a": S(status.actor),
            ":at": S(status.at),
            ":none": { L: [] },
            ":e": { L: [entry] },
          },
        }),
      );
    } catch (e) {
      const full = /item size|maximum allowed size/i.test((e as Error).message);
      throw new StateError(
        "E_STATE",
        full
          ? `${this.location}: cannot set the status of finding ${status.id}: its history fills a DynamoDB item (400 KB, at least 300 changes)`
          : `${this.location}: cannot set the finding status: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  async findingStatusHistory(id: string): Promise<FindingStatus[]> {
    const item = await this.get("st", id);
    return item ? historyOf(id, item) : [];
  }

  // ---- state export / import / prune ----

  /** Every item of the table (or those `filter` keeps), all pages. */
  private async scanItems(filter?: { expr: string; values: Item }, projection?: string): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const r = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
        new this.sdk.ScanCommand({
          TableName: this.loc.table,
          ConsistentRead: true,
          ...(filter ? { FilterExpression: filter.expr, ExpressionAttributeValues: filter.values } : {}),
          ...(projection ? { ProjectionExpression: projection } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /**
   * Every record (`state export`; store.ts `StateRecord`), read under the checkpoint lock, so the dump
   * holds whole checkpoints only; the workers' checkpoints wait meanwhile. Processed event ids are
   * kept without their events on DynamoDB: they are exported as events holding only id and time
   * (all any store reads of a processed event).
   */
  async *exportRecords(): AsyncGenerator<StateRecord> {
    await this.acquire();
    const cp = this.cp as Checkpoint;
    try {
      const fleet = await this.getDoc("meta", "fleet");
      yield { type: "fleet", doc: decodeDocument(fleet ?? encodeFleet(emptyFleet())) };
      const settings = await this.settingsFingerprint();
      if (settings !== undefined) yield { type: "settings", fingerprint: settings };
      const streams = new Map<string, { pos: number | null; fin: boolean }>();
      for (const s of await this.query("stream")) {
        streams.set(str(s.sk) ?? "", { pos: num(s.pos) ?? null, fin: s.fin?.BOOL === true });
      }
      const pending = new Map<string, Buffer>();
      for (const p of await this.query("pending")) pending.set(str(p.sk) ?? "", await this.docData(p));
      for (const worker of [...new Set([...streams.keys(), ...pending.keys()])].sort()) {
        const position = pending.get(worker);
        if (position) decodeStreamPosition(position); // refuse to export what could not be imported
        const st = streams.get(worker);
        yield {
          type: "stream",
          worker,
          position: position ? position.toString("base64") : null,
          readPosition: st?.pos ?? null,
          finished: st?.fin ?? false,
        };
      }
      for (const o of await this.query("out")) {
        const sk = str(o.sk) ?? "";
        const nl = sk.indexOf("\n");
        yield { type: "output", worker: sk.slice(0, nl), path: sk.slice(nl + 1), bytes: num(o.b) ?? 0 };
      }
      // Sessions through the expiry index (a page of keys, then their documents), not a table scan.
      for (let shard = 0; shard < INDEX_SHARDS; shard++) {
        const keys = (await this.query(`sx#${shard}`)).map((ix) => {
          const sk = str(ix.sk) ?? "";
          return sk.slice(sk.indexOf("#") + 1);
        });
        for (let i = 0; i < keys.length; i += 100) {
          for (const item of await this.batchGet(keys.slice(i, i + 100).map((k) => key(`s#${k}`, "s")))) {
            yield {
              type: "session",
              key: (str(item.pk) ?? "").slice(2),
              validUntil: num(item.v) ?? 0,
              // Stored in the binary form; a dump holds the JSON form every store reads.
              doc: decodeDocument(encodeSessionJson(decodeSession(await this.docData(item)))),
            };
          }
        }
      }
      const now = new Date().toISOString();
      for (const f of await this.query("f")) {
        yield {
          type: "finding",
          id: str(f.sk) ?? "",
          time: str(f.t) ?? "",
          // Findings committed before firstcall kept these have neither: the export's time, no worker.
          updatedAt: str(f.u) ?? now,
          worker: str(f.w) ?? null,
          doc: decodeDocument(await this.docData(f)),
        };
      }
      // What people decided about findings: the latest (when not open) and every change, in order.
      for (const st of await this.query("st")) {
        const latest = statusOf(st);
        if (latest.status !== "open") yield { type: "status", ...latest };
        for (const h of historyOf(latest.id, st)) yield { type: "history", ...h };
      }
      for (const o of await this.scanItems({ expr: "begins_with(pk, :o)", values: { ":o": S("o#") } })) {
        const id = (str(o.pk) ?? "").slice(2);
        const obj = objectOf(id, o);
        yield {
          type: "object",
          id,
          size: obj.size,
          mtimeMs: obj.mtimeMs,
          etag: obj.etag ?? null,
          records: obj.records,
          status: obj.status,
          scannedAt: str(o.at) ?? now,
          worker: str(o.w) ?? null,
        };
      }
      for (const c of await this.query("stg")) {
        for (const e of JSON.parse(inflateRawSync(await this.docData(c)).toString("utf8")) as EngineEvent[]) {
          yield { type: "event", id: e.id, time: e.time, processed: false, event: e };
        }
      }
      for (const d of await this.query("done")) {
        for (const [id, time] of JSON.parse(inflateRawSync(await this.docData(d)).toString("utf8")) as [
          string,
          number,
        ][]) {
          if (time >= cp.hz) yield { type: "event", id, time, processed: true, event: { id, time } };
        }
      }
    } finally {
      // Also when the consumer stops early (a write error): the lock must not stay held.
      if (this.cp === cp) await this.release(cp).catch(() => {});
    }
  }

  /**
   * Writes a dump's records as one checkpoint (`state import`): under the checkpoint lock, gathered in
   * memory and committed through the redo log like any checkpoint, so all of it or nothing is applied.
   * Refused while a worker of the state runs (its name lease is live) and, unless `replace`, when the
   * table holds data. A key the dump repeats is refused before anything is written.
   */
  async importRecords(records: AsyncIterable<StateRecord>, options: ImportOptions): Promise<ImportResult> {
    const read = emptyCounts();
    await this.acquire();
    const cp = this.cp as Checkpoint;
    try {
      const now = Date.now();
      const running = (await this.query("wlease"))
        .filter((w) => str(w.owner) !== undefined && (num(w.exp) ?? 0) >= now && str(w.owner) !== this.owner)
        .map((w) => str(w.sk) ?? "");
      if (running.length > 0) {
        throw new StateError(
          "E_STATE_BUSY",
          `${this.location}: workers ${running.join(", ")} are running on this state; stop them before importing (an import replaces what they resume from)`,
        );
      }
      // What the table holds: everything but the layout, the lock, statuses and redo logs goes on replace.
      const before = emptyCounts();
      const existing = (await this.scanItems(undefined, "pk, sk")).filter((i) => {
        const pk = str(i.pk) ?? "";
        const sk = str(i.sk) ?? "";
        return !(pk === "meta" && (sk === "schema" || sk === "lock")) && pk !== "st" && !pk.startsWith("redo#");
      });
      let positioned = 0;
      for (const i of existing) {
        const pk = str(i.pk) ?? "";
        const sk = str(i.sk) ?? "";
        if (pk.startsWith("s#")) before.session++;
        else if (pk === "f") before.finding++;
        else if (pk.startsWith("o#")) before.object++;
        else if (pk === "stream") before.stream++;
        else if (pk === "out") before.output++;
        else if (pk === "pending") positioned++;
        else if (pk === "meta" && sk === "settings") before.settings++;
        else if (pk === "meta" && sk === "fleet") before.fleet++;
        else if (pk === "stg" || pk === "done") before.event++;
      }
      const held = before.session + before.finding + before.object + before.event + positioned + before.settings;
      if (held > 0 && !options.replace) throw notEmpty(this.location, before);
      for (const i of existing) this.write(cp, { del: { pk: i.pk as AttributeValue, sk: i.sk as AttributeValue } });
      for (const item of this.docItems("meta", "fleet", encodeFleet(emptyFleet()))) this.write(cp, { put: item });
      cp.hz = MINUS_INFINITY;
      cp.sc = 0;
      // Each key once: a repeated one would silently keep only the last record.
      const imported = new Set<string>();
      const once = (pk: string, sk: string, what: string) => {
        const id = keyId(pk, sk);
        if (imported.has(id)) {
          throw new StateError("E_STATE_DUMP", `${this.location}: the dump repeats ${what}; nothing was imported`);
        }
        imported.add(id);
      };
      const put = (items: Item[]) => {
        for (const item of items) this.write(cp, { put: item });
      };
      const staged: EngineEvent[] = [];
      const processed: [string, number][] = [];
      const latestStatus = new Map<string, FindingStatus>();
      const statusHistory = new Map<string, FindingStatus[]>();
      let owed = 0;
      let settledDeliveries = 0;
      const at = new Date().toISOString();
      for await (const r of records) {
        read[r.type]++;
        switch (r.type) {
          case "fleet": {
            once("meta", "fleet", "the fleet");
            const data = encodeDocument(r.doc);
            decodeFleet(data); // a document the engine cannot load is refused here, not at the next scan
            put(this.docItems("meta", "fleet", data));
            break;
          }
          case "settings":
            once("meta", "settings", "the settings fingerprint");
            put([{ pk: S("meta"), sk: S("settings"), s: S(r.fingerprint) }]);
            break;
          case "stream":
            once("stream", r.worker, `worker ${r.worker}`);
            put([
              {
                pk: S("stream"),
                sk: S(r.worker),
                fin: { BOOL: r.finished },
                upd: S(at),
                ...(r.readPosition === null ? {} : { pos: N(r.readPosition) }),
              },
            ]);
            if (r.position !== null) {
              const position = Buffer.from(r.position, "base64");
              decodeStreamPosition(position);
              put(this.docItems("pending", r.worker, position));
            }
            break;
          case "output":
            once("out", `${r.worker}\n${r.path}`, `the output ${r.path} of ${r.worker}`);
            put([{ pk: S("out"), sk: S(`${r.worker}\n${r.path}`), b: N(r.bytes) }]);
            break;
          case "session": {
            once(`s#${r.key}`, "s", `session ${r.key}`);
            const v = Math.floor(r.validUntil);
            put([{ pk: S(`sx#${shardOf(r.key)}`), sk: S(`${pad(v)}#${r.key}`) }]);
            // Decoded first: a document the engine cannot load is refused here, not at the next scan.
            put(this.docItems(`s#${r.key}`, "s", encodeSession(decodeSession(encodeDocument(r.doc))), { v: N(v) }));
            cp.sc++;
            break;
          }
          case "finding":
            once("f", r.id, `finding ${r.id}`);
            put(
              this.docItems("f", r.id, encodeDocument(r.doc), {
                t: S(r.time),
                u: S(r.updatedAt),
                ...(r.worker !== null ? { w: S(r.worker) } : {}),
              }),
            );
            break;
          case "object":
            once(`o#${r.id}`, "o", `object ${r.id}`);
            put([
              {
                pk: S(`o#${r.id}`),
                sk: S("o"),
                size: N(r.size),
                m: N(r.mtimeMs),
                r: N(r.records),
                st: S(r.status),
                at: S(r.scannedAt),
                ...(r.worker !== null ? { w: S(r.worker) } : {}),
                ...(r.etag !== null ? { e: S(r.etag) } : {}),
              },
            ]);
            break;
          case "status":
            once("st", r.id, `the status of finding ${r.id}`);
            validateFindingStatus(r);
            latestStatus.set(r.id, { id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at });
            break;
          case "history": {
            validateFindingStatus(r);
            const list = statusHistory.get(r.id) ?? [];
            list.push({ id: r.id, status: r.status, reason: r.reason, actor: r.actor, at: r.at });
            statusHistory.set(r.id, list);
            break;
          }
          case "outbox":
            // DynamoDB has no outbox yet: a settled delivery has nothing left to do, one still owed
            // would be lost, so it refuses the whole dump.
            if (r.state === "pending") owed++;
            else settledDeliveries++;
            break;
          case "event":
            once("event", r.id, `event ${r.id}`);
            if (r.processed) processed.push([r.id, r.time]);
            else staged.push(r.event as EngineEvent);
            break;
        }
      }
      if (owed > 0) {
        throw new StateError(
          "E_STATE_DUMP",
          `${this.location}: the dump holds ${owed} deliveries still owed to --to destinations, and a DynamoDB state has no outbox yet to keep them; deliver them from the exported store first (run it with its --to destinations), or import into SQLite or PostgreSQL. Nothing was imported.`,
        );
      }
      for (const id of new Set([...latestStatus.keys(), ...statusHistory.keys()])) {
        const changes = statusHistory.get(id) ?? [];
        const latest = latestStatus.get(id) ?? changes.at(-1);
        if (latest) put([statusItem(latest, changes.length > 0 ? changes : [latest])]);
      }
      this.stage(cp, staged);
      this.remember(
        cp,
        processed.sort((a, b) => a[1] - b[1]),
      );
      const stored: RecordCounts = { ...read, fleet: 1, outbox: 0 };
      await this.writeCheckpoint(cp);
      const notes =
        settledDeliveries > 0
          ? [`${settledDeliveries} settled deliveries were not kept (a DynamoDB state has no outbox; nothing is owed)`]
          : [];
      return { read, stored, replaced: options.replace ? before : emptyCounts(), notes };
    } catch (e) {
      if (!cp.committed) await this.rollbackOwn(cp);
      if (e instanceof StateError) throw e;
      throw new StateError(
        "E_STATE_DUMP",
        `${this.location}: import failed${cp.committed ? " after its commit: the next checkpoint completes it" : ", nothing was imported"}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * Counts (and unless `dryRun` deletes, as one checkpoint under the lock) what is older than the cut:
   * findings by time, sessions by validity (through the expiry index), objects by modification time
   * (a table scan: objects have no index), and processed-id lists whose newest id is older. Staged
   * events not processed yet are work still to do: never dropped.
   */
  async prune(cut: PruneCut): Promise<PruneResult> {
    await this.acquire();
    const cp = this.cp as Checkpoint;
    try {
      const cutIso = cutTimeText(cut.before);
      const before = Math.floor(cut.before);
      let findings = 0;
      const prunedFindings = new Set<string>();
      for (const f of await this.query("f", undefined, "pk, sk, t, n")) {
        if ((str(f.t) ?? "") < cutIso) {
          findings++;
          prunedFindings.add(str(f.sk) ?? "");
          this.deleteDoc(cp, f);
        }
      }
      // A pruned finding's status and its history go with it (there is no outbox to keep it for).
      let statuses = 0;
      let statusHistoryCount = 0;
      for (const st of await this.query("st")) {
        const id = str(st.sk) ?? "";
        if (!prunedFindings.has(id)) continue;
        if (statusOf(st).status !== "open") statuses++;
        statusHistoryCount += historyOf(id, st).length;
        this.write(cp, { del: key("st", id) });
      }
      const pruned: string[] = [];
      for (let shard = 0; shard < INDEX_SHARDS; shard++) {
        for (const ix of await this.query(`sx#${shard}`, { op: "<", sk: pad(before) })) {
          const sk = str(ix.sk) ?? "";
          pruned.push(sk.slice(sk.indexOf("#") + 1));
          this.write(cp, { del: key(`sx#${shard}`, sk) });
        }
      }
      // The session items, with their parts when split (how many: read from the items, 100 a request).
      for (const item of await this.batchGet(
        pruned.map((k) => key(`s#${k}`, "s")),
        "pk, sk, n",
      )) {
        this.deleteDoc(cp, item);
      }
      const sessions = pruned.length;
      cp.sc -= sessions;
      let objects = 0;
      for (const o of await this.scanItems(
        { expr: "begins_with(pk, :o) AND m < :cut", values: { ":o": S("o#"), ":cut": N(cut.before) } },
        "pk, sk",
      )) {
        objects++;
        this.write(cp, { del: { pk: o.pk as AttributeValue, sk: o.sk as AttributeValue } });
      }
      let events = 0;
      for (const d of await this.query("done", { op: "<", sk: pad(before) })) {
        events += (JSON.parse(inflateRawSync(await this.docData(d)).toString("utf8")) as unknown[]).length;
        this.deleteDoc(cp, d);
      }
      const result: PruneResult = {
        findings,
        sessions,
        objects,
        events,
        statuses,
        statusHistory: statusHistoryCount,
        outbox: 0,
        keptPending: 0,
      };
      if (cut.dryRun) await this.rollbackOwn(cp);
      else await this.writeCheckpoint(cp);
      return result;
    } catch (e) {
      if (!cp.committed) await this.rollbackOwn(cp);
      throw e;
    }
  }

  /** Releases the lock of a checkpoint this store began itself (import, prune), writing nothing. */
  private async rollbackOwn(cp: Checkpoint): Promise<void> {
    if (this.cp === cp) await this.release(cp).catch(() => {});
  }

  /** Adds processed ids (in time order) to the lists kept against duplicates. */
  private remember(cp: Checkpoint, ids: readonly (readonly [string, number])[]): void {
    const base = [...cp.writes.keys()].filter((k) => k.startsWith("done\u0000")).length;
    for (let i = 0, n = base; i < ids.length; i += 20_000, n++) {
      const part = ids.slice(i, i + 20_000);
      const hi = (part[part.length - 1] as readonly [string, number])[1];
      for (const item of this.docItems("done", `${pad(hi)}#${cp.fence}#${n}`, deflateRawSync(JSON.stringify(part)))) {
        this.write(cp, { put: item });
      }
    }
  }

  // ---- SharedCheckpoints ----

  async begin(): Promise<CheckpointStart> {
    if (this.cp) throw new Error("checkpoint already started");
    if (this.nameLost) {
      throw new StateError(
        "E_STATE_LOCKED",
        `${this.location}: worker "${this.worker}" was taken over by another process`,
      );
    }
    const waiting = performance.now();
    await this.acquire();
    this.lockWaitMs += performance.now() - waiting;
    try {
      return { fleet: await this.loadFleet() };
    } catch (e) {
      await this.rollback();
      throw e;
    }
  }

  async exchange(
    events: readonly EngineEvent[],
    readPosition: number,
    latenessMs: number,
    holdMs = latenessMs,
  ): Promise<CheckpointEvents> {
    const cp = this.cp;
    if (!cp) throw new Error("exchange outside a checkpoint");
    const finished = readPosition === Number.POSITIVE_INFINITY;
    const position = finished || !Number.isFinite(readPosition) ? null : readPosition;
    // An ephemeral worker has no stream item: it is never among the running workers.
    if (!this.ephemeral) {
      this.write(cp, {
        put: {
          pk: S("stream"),
          sk: S(this.worker),
          fin: { BOOL: finished },
          upd: S(new Date().toISOString()),
          ...(position === null ? {} : { pos: N(position) }),
        },
      });
    }
    let running = 0;
    let unknown = 0;
    let oldest = Number.POSITIVE_INFINITY;
    const count = (fin: boolean, pos: number | undefined) => {
      if (fin) return;
      running++;
      if (pos === undefined) unknown++;
      else oldest = Math.min(oldest, pos);
    };
    for (const s of await this.query("stream")) {
      if (str(s.sk) !== this.worker) count(s.fin?.BOOL === true, num(s.pos));
    }
    if (!this.ephemeral) count(finished, position ?? undefined);
    // A running worker that has read nothing yet (no position) holds everything back. Live checkpoints
    // hold back less than the lateness (`holdMs`, 0 for `watch`): all that every running worker has read.
    const cut = exchangeCut(running, unknown, Number.isFinite(oldest) ? oldest : undefined, holdMs);
    if (cut === Number.NEGATIVE_INFINITY) {
      this.stage(cp, events);
      return { events: [], ended: false };
    }
    // The staged chunks that hold events at or before the cut (a chunk's key starts with its oldest event).
    const chunks = await this.query(
      "stg",
      cut === Number.POSITIVE_INFINITY ? undefined : { op: "<", sk: pad(cut + 1) },
    );
    const candidates = new Map<string, EngineEvent>();
    const rest: EngineEvent[] = [];
    const sortOut = (e: EngineEvent) => {
      if (e.time <= cut) {
        if (!candidates.has(e.id)) candidates.set(e.id, e);
      } else rest.push(e);
    };
    for (const c of chunks) {
      for (const e of JSON.parse(inflateRawSync(await this.docData(c)).toString("utf8")) as EngineEvent[]) sortOut(e);
      this.deleteDoc(cp, c);
    }
    for (const e of events) sortOut(e);
    this.stage(cp, rest);
    // With the cut at +∞ both the duplicate check and the pruning of processed ids read the lists: one
    // query of all of them serves both (the end of a scan, every Lambda invocation).
    let allLists: Promise<Item[]> | undefined;
    const everyList = Number.isFinite(cut) ? undefined : () => (allLists ??= this.query("done"));
    // Ids processed before (within the lateness) count once: the same id always has the same time, so
    // only processed-id items whose newest time reaches the oldest candidate can hold it.
    let taken = [...candidates.values()];
    if (taken.length > 0) {
      // A loop, not Math.min(...times): a final checkpoint may take hundreds of thousands of events,
      // more arguments than the call stack holds.
      let oldestCandidate = Number.POSITIVE_INFINITY;
      for (const e of taken) if (e.time < oldestCandidate) oldestCandidate = e.time;
      const seen = new Set<string>();
      const lists = everyList
        ? (await everyList()).filter((d) => (str(d.sk) ?? "") >= pad(oldestCandidate))
        : await this.query("done", { op: ">=", sk: pad(oldestCandidate) });
      for (const d of lists) {
        const ids = JSON.parse(inflateRawSync(await this.docData(d)).toString("utf8")) as [string, number][];
        for (const [id, time] of ids) if (time >= cp.hz) seen.add(id);
      }
      taken = taken.filter((e) => !seen.has(e.id));
    }
    // Processed ids are kept one lateness, as a single process keeps them. With no worker running (the
    // cut is +∞; always so with only ephemeral workers) the horizon is a lateness behind the newest event
    // taken, as a single process keeps them at its end: without this, every processed id stayed forever.
    const newest = taken.reduce((m, e) => Math.max(m, e.time), Number.NEGATIVE_INFINITY);
    const horizon = Number.isFinite(cut) ? cut - latenessMs : newest - latenessMs;
    if (Number.isFinite(horizon) && horizon > cp.hz) {
      cp.hz = horizon;
      const old = everyList
        ? (await everyList()).filter((d) => (str(d.sk) ?? "") < pad(Math.ceil(cp.hz)))
        : await this.query("done", { op: "<", sk: pad(Math.ceil(cp.hz)) }, "pk, sk, n");
      for (const d of old) {
        this.deleteDoc(cp, d);
      }
    }
    const remembered = taken.filter((e) => e.time >= cp.hz).sort((a, b) => a.time - b.time);
    this.remember(
      cp,
      remembered.map((e) => [e.id, e.time] as const),
    );
    return { events: taken, ended: running === 0 };
  }

  /** Adds events to the staged chunks (in time order, so a chunk's key can start with its oldest event). */
  private stage(cp: Checkpoint, events: readonly EngineEvent[]): void {
    const sorted = [...events].sort((a, b) => a.time - b.time);
    const base = [...cp.writes.keys()].filter((k) => k.startsWith("stg\u0000")).length;
    for (let i = 0, n = base; i < sorted.length; i += EVENTS_PER_CHUNK, n++) {
      const part = sorted.slice(i, i + EVENTS_PER_CHUNK);
      const lo = (part[0] as EngineEvent).time;
      const data = deflateRawSync(JSON.stringify(part));
      for (const item of this.docItems("stg", `${pad(lo)}#${cp.fence}#${n}`, data)) this.write(cp, { put: item });
    }
  }

  async rollback(): Promise<void> {
    const cp = this.cp;
    if (!cp) return;
    this.cp = undefined;
    // After the commit marker the checkpoint stands: the next lock holder completes it.
    if (cp.committed) return;
    await this.release(cp).catch(() => {});
  }

  async commit(batch: StateCommit): Promise<void> {
    const own = !this.cp;
    if (own) await this.acquire();
    const cp = this.cp as Checkpoint;
    try {
      // Everything is encoded before anything is gathered: a document that cannot be encoded fails
      // the commit with nothing written.
      const sessions = batch.sessions.map((s) => ({
        key: s.key,
        v: Math.floor(Math.max(0, ...s.lifetimes.map((l) => l.validUntil))),
        data: encodeSession(s),
      }));
      const findings = batch.findings.map((f) => ({ id: f.finding.id, time: f.finding.time, data: encodeDocument(f) }));
      const fleet = encodeFleet(batch.fleet);

      // Whether each session is stored, and with what validity: the count and the expiry index follow.
      const unknown = [...new Set([...sessions.map((s) => s.key), ...batch.deletedSessions])].filter(
        (k) => !cp.known.has(k),
      );
      for (const k of unknown) cp.known.set(k, null);
      for (const item of await this.batchGet(
        unknown.map((k) => key(`s#${k}`, "s")),
        "pk, v",
      )) {
        cp.known.set((str(item.pk) ?? "").slice(2), num(item.v) ?? 0);
      }
      const removeSession = (k: string) => {
        const old = cp.known.get(k);
        if (old === null || old === undefined) return;
        this.write(cp, { del: key(`s#${k}`, "s") });
        this.write(cp, { del: key(`sx#${shardOf(k)}`, `${pad(old)}#${k}`) });
        cp.known.set(k, null);
        cp.sc--;
      };
      for (const s of sessions) {
        const old = cp.known.get(s.key);
        if (old === null || old === undefined) cp.sc++;
        else if (old !== s.v) this.write(cp, { del: key(`sx#${shardOf(s.key)}`, `${pad(old)}#${s.key}`) });
        this.write(cp, { put: { pk: S(`sx#${shardOf(s.key)}`), sk: S(`${pad(s.v)}#${s.key}`) } });
        for (const item of this.docItems(`s#${s.key}`, "s", s.data, { v: N(s.v) })) this.write(cp, { put: item });
        cp.known.set(s.key, s.v);
      }
      for (const k of batch.deletedSessions) removeSession(k);
      const prune = batch.pruneSessionsBefore;
      if (prune !== undefined && Number.isFinite(prune)) {
        const horizon = Math.floor(prune);
        for (let shard = 0; shard < INDEX_SHARDS; shard++) {
          for (const ix of await this.query(`sx#${shard}`, { op: "<", sk: pad(horizon) })) {
            const sk = str(ix.sk) ?? "";
            const k = sk.slice(sk.indexOf("#") + 1);
            if (!cp.known.has(k)) cp.known.set(k, Number(sk.slice(0, sk.indexOf("#"))) - 1e15);
          }
        }
        for (const [k, v] of cp.known) if (v !== null && v < horizon) removeSession(k);
      }
      const now = new Date().toISOString();
      for (const f of findings) {
        for (const item of this.docItems("f", f.id, f.data, { t: S(f.time), u: S(now), w: S(this.worker) })) {
          this.write(cp, { put: item });
        }
      }
      for (const o of batch.objects) {
        this.write(cp, {
          put: {
            pk: S(`o#${o.id}`),
            sk: S("o"),
            size: N(o.size),
            m: N(o.mtimeMs),
            r: N(o.records),
            st: S(o.status),
            at: S(now),
            w: S(this.worker),
            ...(o.etag !== undefined ? { e: S(o.etag) } : {}),
          },
        });
      }
      for (const item of this.docItems("meta", "fleet", fleet)) this.write(cp, { put: item });
      // An ephemeral worker keeps no position: no one resumes it.
      if (!this.ephemeral) {
        for (const item of this.docItems("pending", this.worker, batch.pending)) this.write(cp, { put: item });
      }
      for (const o of batch.outputs ?? []) {
        this.write(cp, { put: { pk: S("out"), sk: S(`${this.worker}\n${o.path}`), b: N(o.bytes) } });
      }
      if (batch.settingsFingerprint !== undefined) {
        this.write(cp, { put: { pk: S("meta"), sk: S("settings"), s: S(batch.settingsFingerprint) } });
      }
      await this.writeCheckpoint(cp);
    } catch (e) {
      const committed = cp.committed;
      await this.rollback();
      throw new StateError(
        "E_STATE",
        committed
          ? `${this.location}: checkpoint committed but not all applied (${(e as Error).message}); the next checkpoint of any worker completes it`
          : `${this.location}: checkpoint not committed: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * Each worker's committed read position (ms; null: none yet) and whether its input has ended.
   * @example (await store.workerPositions()).get("host-a")?.finished
   */
  async workerPositions(): Promise<Map<string, { position: number | null; finished: boolean }>> {
    const out = new Map<string, { position: number | null; finished: boolean }>();
    for (const s of await this.query("stream")) {
      out.set(str(s.sk) ?? "", { position: num(s.pos) ?? null, finished: s.fin?.BOOL === true });
    }
    return out;
  }

  async info(): Promise<StateInfo> {
    return dynamoInfo(this.client, this.sdk, this.loc, this.location);
  }

  /** Requests sent to DynamoDB since this store was opened (round trips). */
  get roundTrips(): number {
    return this.requests;
  }

  async close(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    await this.rollback().catch(() => {});
    if (this.named) {
      await this.client
        .send(
          new this.sdk.UpdateItemCommand({
            TableName: this.loc.table,
            Key: key("wlease", this.worker),
            UpdateExpression: "REMOVE #o, #e",
            ConditionExpression: "#o = :me",
            ExpressionAttributeNames: { "#o": "owner", "#e": "exp" },
            ExpressionAttributeValues: { ":me": S(this.owner) },
          }),
        )
        .catch(() => {});
    }
    log().debug(
      {
        state: this.location,
        worker: this.worker,
        roundTrips: this.requests,
        nameRenewals: this.nameRenewals,
        storeMs: Math.round(this.waitedMs),
        lockWaitMs: Math.round(this.lockWaitMs),
      },
      "shared state closed",
    );
    this.client.destroy();
  }
}

/** The attributes of a status item that make its latest status (not its history). */
const STATUS_FIELDS = "sk, s, r, a, t";

function statusOf(item: Item): FindingStatus {
  return {
    id: str(item.sk) ?? "",
    status: (str(item.s) ?? "open") as FindingStatusValue,
    reason: str(item.r) ?? "",
    actor: str(item.a) ?? "",
    at: str(item.t) ?? "",
  };
}

/** The status changes of a finding's status item, oldest first. */
function historyOf(id: string, item: Item): FindingStatus[] {
  return (item.h?.L ?? []).map((h) => {
    const m = h.M ?? {};
    return {
      id,
      status: (str(m.s) ?? "open") as FindingStatusValue,
      reason: str(m.r) ?? "",
      actor: str(m.a) ?? "",
      at: str(m.at) ?? "",
    };
  });
}

/** A status item holding `latest` and the history `changes` (the form setFindingStatus keeps). */
function statusItem(latest: FindingStatus, changes: readonly FindingStatus[]): Item {
  return {
    pk: S("st"),
    sk: S(latest.id),
    s: S(latest.status),
    r: S(latest.reason),
    a: S(latest.actor),
    t: S(latest.at),
    h: { L: changes.map((c) => ({ M: { s: S(c.status), r: S(c.reason), a: S(c.actor), at: S(c.at) } })) },
  };
}

function objectOf(id: string, item: Item): ScannedObject {
  const etag = str(item.e);
  return {
    id,
    size: num(item.size) ?? 0,
    mtimeMs: num(item.m) ?? 0,
    ...(etag !== undefined ? { etag } : {}),
    records: num(item.r) ?? 0,
    status: (str(item.st) ?? "complete") as ScannedObject["status"],
  };
}

/**
 * What `firstcall state inspect` shows of a DynamoDB state (reads the whole table once: counts).
 * @example const info = await inspectDynamo("dynamodb://firstcall-state?region=eu-west-1")
 */
export async function inspectDynamo(url: string): Promise<StateInfo> {
  const loc = parseDynamoUrl(url);
  const client = await makeClient(loc);
  const sdk = await import("@aws-sdk/client-dynamodb");
  try {
    return await dynamoInfo(client, sdk, loc, redactDynamoUrl(url));
  } catch (e) {
    if (e instanceof StateError) throw e;
    throw new StateError("E_STATE", `${redactDynamoUrl(url)}: cannot read the state: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    client.destroy();
  }
}

async function dynamoInfo(
  client: DynamoDBClient,
  sdk: typeof import("@aws-sdk/client-dynamodb"),
  loc: DynamoLocation,
  location: string,
): Promise<StateInfo> {
  const version = await tableVersion(client, loc.table);
  const base = { kind: "dynamodb" as const, location, expectedSchemaVersion: DYNAMO_SCHEMA_VERSION };
  if (version === 0) return { ...base, schemaVersion: 0 };
  let findings = 0;
  let objects = 0;
  let sessions = 0;
  const findingTimes: string[] = [];
  const scanTimes: string[] = [];
  const workers: { worker: string; watermark: string | null; finished: boolean; updatedAt: string }[] = [];
  let start: Item | undefined;
  do {
    const r = await client.send(
      new sdk.ScanCommand({
        TableName: loc.table,
        ProjectionExpression: "pk, sk, t, #at, sc, pos, fin, upd",
        ExpressionAttributeNames: { "#at": "at" },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of (r.Items ?? []) as Item[]) {
      const pk = str(item.pk) ?? "";
      if (pk === "f") {
        findings++;
        const t = str(item.t);
        if (t) findingTimes.push(t);
      } else if (pk.startsWith("o#")) {
        objects++;
        const at = str(item.at);
        if (at) scanTimes.push(at);
      } else if (pk === "meta" && str(item.sk) === "lock") sessions = num(item.sc) ?? 0;
      else if (pk === "stream") {
        const pos = num(item.pos);
        workers.push({
          worker: str(item.sk) ?? "",
          watermark: pos === undefined ? null : new Date(pos).toISOString(),
          finished: item.fin?.BOOL === true,
          updatedAt: str(item.upd) ?? "",
        });
      }
    }
    start = r.LastEvaluatedKey as Item | undefined;
  } while (start);
  findingTimes.sort();
  scanTimes.sort();
  const described = await client.send(new sdk.DescribeTableCommand({ TableName: loc.table }));
  workers.sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0));
  return {
    ...base,
    schemaVersion: version,
    // DynamoDB updates the table's size about every six hours.
    ...(described.Table?.TableSizeBytes !== undefined ? { bytes: described.Table.TableSizeBytes } : {}),
    sessions,
    findings,
    objects,
    ...(findingTimes.length > 0
      ? { findingTimes: { oldest: findingTimes[0] as string, newest: findingTimes.at(-1) as string } }
      : {}),
    ...(scanTimes.length > 0
      ? { scanTimes: { oldest: scanTimes[0] as string, newest: scanTimes.at(-1) as string } }
      : {}),
    workers,
  };
}
