/**
 * Slow starts. A stopped and started instance comes back with a new public address, and its first
 * call from there may come long after the start (a cron job, a slow boot): a wall-clock window after
 * `StartInstances` would report it. So a start also explains, however late, the instance's first
 * new address after it, when that address's first call
 *
 * - is made with a credential first issued at or after the start (the instance's new credential:
 *   EC2 issues one as the instance boots; a credential stolen before the stop does not qualify), and
 * - is the first use of the session after the start: every other address whose first call came
 *   earlier was last used before the start (an instance that kept its address, an Elastic IP, keeps
 *   using it; a new address next to it is then not the instance's).
 *
 * One address per start, as for every address change: once the instance's new home is decided, a
 * later address — however long after — is a finding. A start is kept one session TTL in the fleet
 * knowledge (`FleetState.starts`); a first call later than that is judged without it.
 */
import type { BindingContext } from "./bindings.js";
import type { Observation, SessionState } from "./state.js";

/** Issuances kept per session: enough to cover the hours a slow first call may take. */
const MAX_ISSUED = 16;

/** Records an issuance of `accessKeyId` at `time` (the newest issuances are kept, whatever the order read). */
export function noteIssued(s: SessionState, accessKeyId: string, time: number): void {
  const list = (s.issued ?? []).filter(([k, t]) => k !== accessKeyId || t < time);
  if (!list.some(([k]) => k === accessKeyId)) list.push([accessKeyId, time]);
  list.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (list.length > MAX_ISSUED) list.length = MAX_ISSUED;
  s.issued = list;
}

/**
 * The start (its time) that explains `o`, a direct observation of the session's lifetime not
 * explained otherwise, or undefined. `direct` are the lifetime's observations; `used` the address
 * changes already spent on another address.
 */
export function startExplaining(
  ctx: BindingContext,
  session: SessionState,
  direct: readonly Observation[],
  o: Observation,
  used: ReadonlySet<number>,
): number | undefined {
  const starts = session.instanceId ? ctx.fleet.starts.get(session.instanceId) : undefined;
  if (!starts) return undefined;
  const t = o.first.time;
  let start: number | undefined;
  for (const w of starts) if (w <= t) start = w;
  if (start === undefined || used.has(start)) return undefined;
  const key = o.first.accessKeyId;
  const issuedAt = session.issued?.find(([k]) => k === key)?.[1];
  if (issuedAt === undefined || issuedAt < start) return undefined;
  for (const other of direct) {
    if (other !== o && other.first.time <= t && other.last >= start) return undefined;
  }
  return start;
}
