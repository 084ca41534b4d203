/** Picks the store for a `--state` value and knows where state lives by default. */
import { MemoryStore } from "./memory.js";
import { type SqliteOpenOptions, SqliteStore } from "./sqlite.js";
import type { StateStore } from "./store.js";

export { defaultStatePath } from "./default-path.js";

export interface OpenStoreOptions extends SqliteOpenOptions {
  /** Shared stores: this worker's name (default `default`). */
  readonly worker?: string;
  /** Shared stores: open only to read, without registering as a running worker. */
  readonly readOnly?: boolean;
  /**
   * Shared stores: a worker that lives for one batch (a Lambda invocation) and holds no one back
   * (`PostgresOpenOptions.ephemeral`, `DynamoOpenOptions.ephemeral`).
   */
  readonly ephemeral?: boolean;
}

/** The kinds of `--state` / `FIRSTCALL_STATE` values. */
export type StateKind = "memory" | "sqlite" | "postgres" | "dynamodb";

/**
 * Which store a `--state` value names: `:memory:`, `postgres://…` / `postgresql://…`, `dynamodb://TABLE`,
 * else a SQLite path.
 *
 * @example stateKind("postgres://detector@db/firstcall") // "postgres"
 */
export function stateKind(location: string): StateKind {
  if (location === ":memory:") return "memory";
  if (isPostgresLocation(location)) return "postgres";
  if (/^dynamodb:\/\//i.test(location)) return "dynamodb";
  return "sqlite";
}

/** Whether several processes can write the state at once (the stores a Lambda function needs). */
export function isSharedStateKind(kind: StateKind): boolean {
  return kind === "postgres" || kind === "dynamodb";
}

/** `:memory:` → a throw-away store; anything else → a SQLite file at that path (locked while open). */
export function openStore(location: string, options: OpenStoreOptions = {}): StateStore {
  if (location === ":memory:") return new MemoryStore();
  return SqliteStore.open(location, options);
}

/** Whether a `--state` value names a PostgreSQL database (`postgres://…`, `postgresql://…`). */
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Whether a `--state` value names a DynamoDB table (`dynamodb://TABLE?region=…`).
 * @example isDynamoLocation("dynamodb://firstcall-state?region=eu-west-1") // true
 */
export function isDynamoLocation(location: string): boolean {
  return /^dynamodb:\/\//i.test(location);
}

/**
 * Whether a `--state` value names a state several workers share (PostgreSQL, DynamoDB).
 * @example isSharedLocation("postgres://detector@db/firstcall") // true
 */
export function isSharedLocation(location: string): boolean {
  return isPostgresLocation(location) || isDynamoLocation(location);
}

/**
 * Any store: a PostgreSQL or DynamoDB URL opens that shared store (its client is loaded only then),
 * anything else as {@link openStore}.
 * @example const store = await openAnyStore("postgres://detector@db/firstcall", { worker: "host-a" })
 */
export async function openAnyStore(location: string, options: OpenStoreOptions = {}): Promise<StateStore> {
  const kind = stateKind(location);
  if (kind === "postgres") {
    const { PostgresStore } = await import("./postgres.js");
    return PostgresStore.open(location, {
      ...(options.worker !== undefined ? { worker: options.worker } : {}),
      ...(options.readOnly ? { readOnly: true } : {}),
      ...(options.ephemeral ? { ephemeral: true } : {}),
    });
  }
  if (isDynamoLocation(location)) {
    const { DynamoStore } = await import("./dynamodb.js");
    return DynamoStore.open(location, {
      ...(options.worker !== undefined ? { worker: options.worker } : {}),
      ...(options.readOnly ? { readOnly: true } : {}),
      ...(options.ephemeral ? { ephemeral: true } : {}),
    });
  }
  return openStore(location, options);
}
