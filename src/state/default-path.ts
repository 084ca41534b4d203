/**
 * Where state lives by default. Kept apart from the stores (open.ts), which load SQLite, so that
 * `scan --help` can print the path without loading them.
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** `$FIRSTCALL_STATE`, else `$XDG_STATE_HOME/firstcall/state.sqlite`, or the platform's equivalent. */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.FIRSTCALL_STATE) return env.FIRSTCALL_STATE;
  if (platform === "win32")
    return join(env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"), "firstcall", "state.sqlite");
  if (platform === "darwin") return join(homedir(), "Library", "Application Support", "firstcall", "state.sqlite");
  return join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "firstcall", "state.sqlite");
}
