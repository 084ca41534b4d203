/**
 * firstcall's cache folder: `$XDG_CACHE_HOME/firstcall`, else `~/.cache/firstcall` (the XDG base
 * directory rule; a relative `XDG_CACHE_HOME` is ignored, as the specification says). Holds what can
 * be downloaded or rebuilt again: AWS's ip-ranges.json (`firstcall ip-ranges update`) and the
 * benchmark's corpora (`bench/`).
 */
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache"), "firstcall");
}
