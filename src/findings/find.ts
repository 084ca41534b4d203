import type { StoredFinding } from "../engine/engine.js";
import { UsageError } from "../errors.js";
import { safeText } from "../safe-text.js";

/**
 * The stored finding whose id is `id` or starts with it (at least 6 characters, like a short commit
 * id); a usage error when none or several match.
 *
 * @example
 * findStoredFinding(await store.allFindings(), "9094dc6c152f")
 */
export function findStoredFinding(all: readonly StoredFinding[], id: string): StoredFinding {
  const wanted = id.trim().toLowerCase();
  if (!/^[0-9a-f]{6,}$/.test(wanted))
    throw new UsageError("E_USAGE", `not a finding id (6 to 32 hexadecimal characters): ${safeText(id)}`);
  const matches = all.filter((s) => s.finding.id.startsWith(wanted));
  if (matches.length === 0)
    throw new UsageError("E_USAGE", `no finding ${wanted} in the state (scan --all lists the stored findings)`);
  if (matches.length > 1)
    throw new UsageError(
      "E_USAGE",
      `${wanted} is the start of ${matches.length} finding ids (${matches
        .slice(0, 3)
        .map((m) => m.finding.id)
        .join(", ")}…): give more characters`,
    );
  return matches[0] as StoredFinding;
}
