/** Picks the store for a `--state` value and knows where state lives by default. */
import { homedir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "./memory.js";
import { type SqliteOpenOptions, SqliteStore } from "./sqlite.js";
import type { StateStore } from "./store.js";

/** `$XDG_STATE_HOME/firstcall/state.sqlite`, or the platform's equivalent. */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.FIRSTCALL_STATE) return env.FIRSTCALL_STATE;
  if (platform === "win32")
    return join(env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"), "firstcall", "state.sqlite");
  if (platform === "darwin") return join(homedir(), "Library", "Application Support", "firstcall", "state.sqlite");
  return join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "firstcall", "state.sqlite");
}

export type OpenStoreOptions = SqliteOpenOptions;

/** `:memory:` → a throw-away store; anything else → a SQLite file at that path (locked while open). */
export function openStore(location: string, options: OpenStoreOptions = {}): StateStore {
  if (location === ":memory:") return new MemoryStore();
  return SqliteStore.open(location, options);
}
