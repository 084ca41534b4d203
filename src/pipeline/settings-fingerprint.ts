/**
 * What a state's judgements depend on besides the logs: the effective configuration, the AWS
 * ip-ranges file and `--bind-uncovered`. A scan skips files its state has already scanned, so a
 * changed setting would silently not apply to them; the state keeps this fingerprint so that a scan
 * with other settings can say so (src/pipeline/scan.ts).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../config/config.js";

/** JSON with object keys sorted, so that the same settings always give the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * A hex SHA-256 of the validated configuration (defaults filled in, so an omitted key and its default
 * are the same), the ip-ranges file's bytes (its content, not its path: the same file moved is the
 * same, a newer download is not) and `bindUncovered`.
 *
 * @example
 * settingsFingerprint(validateConfig({}), undefined, false) // "3f1c…" (64 hex digits)
 */
export function settingsFingerprint(config: Config, ipRangesPath: string | undefined, bindUncovered: boolean): string {
  // The file was read and checked by NetworkInventory.load just before; reading it again is cheap.
  const ipRanges = ipRangesPath === undefined ? null : sha256(readFileSync(ipRangesPath));
  // Where findings are delivered (`to:`) judges nothing: changing it must not warn of other settings.
  const { to: _delivery, ...judged } = config;
  return sha256(canonicalJson({ version: 1, config: judged, ipRanges, bindUncovered }));
}
