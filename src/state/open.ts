/** Picks the store for a `--state` value and knows where state lives by default. */
import { MemoryStore } from "./memory.js";
import { type SqliteOpenOptions, SqliteStore } from "./sqlite.js";
import type { StateStore } from "./store.js";

export { defaultStatePath } from "./default-path.js";

export type OpenStoreOptions = SqliteOpenOptions;

/** `:memory:` → a throw-away store; anything else → a SQLite file at that path (locked while open). */
export function openStore(location: string, options: OpenStoreOptions = {}): StateStore {
  if (location === ":memory:") return new MemoryStore();
  return SqliteStore.open(location, options);
}
