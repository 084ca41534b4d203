/**
 * Retraction: a finding that evidence read later explains is withdrawn, not left standing.
 *
 * CloudTrail delivers an `AssociateAddress` (or a `StartInstances`, …) in whatever file it lands in,
 * possibly a batch or a scan after the calls it explains. Findings are computed from a session's
 * observations, so re-evaluating the session with the new evidence no longer produces the finding;
 * what was already printed must then be withdrawn:
 *
 * - each session remembers the addresses of its open `address` findings (`openAddresses`); an
 *   evaluation that no longer produces one makes its finding a retraction candidate;
 * - the fleet knowledge keeps an index instance id → live sessions with open findings
 *   (`suspectSessions`, bounded by those sessions and expiring with them), so an address change of
 *   the instance read later re-evaluates exactly those sessions, loaded from the store if needed;
 * - the stored finding keeps its id and gets `status: "retracted"`, `retractedAt` (eventTime of the
 *   explaining evidence) and `retractionReason`, and is printed once more.
 *
 * Only direct-address findings are retracted. Endpoint findings are not: an endpoint becomes "known"
 * when enough sessions use it, and a count that a thief's own stolen sessions can raise must never
 * erase a finding. A session that has already expired cannot be judged again: evidence arriving more
 * than the lateness after its session ended leaves the finding open.
 */
import type { StoredFinding } from "./engine.js";
import { byFirstCall, type FleetState, type Observation, type SessionState } from "./state.js";

/** An address change read in the current batch, kept to name it in a retraction's reason. */
export interface ChangeEvidence {
  readonly time: number;
  readonly timeIso: string;
  readonly name: string;
  readonly id: string;
}

/** Records (or forgets) a session in the instance → suspect sessions index after its evaluation. */
export function indexSuspect(fleet: FleetState, s: SessionState, end: number): void {
  if (!s.instanceId) return;
  const entries = (fleet.suspectSessions.get(s.instanceId) ?? []).filter(([key]) => key !== s.key);
  if (s.openAddresses?.length) entries.push([s.key, end]);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (entries.length > 0) fleet.suspectSessions.set(s.instanceId, entries);
  else fleet.suspectSessions.delete(s.instanceId);
}

/** Drops index entries of sessions that ended before `horizon` (they are expired, or about to be). */
export function pruneSuspects(fleet: FleetState, horizon: number, dropped: readonly string[]): void {
  const gone = new Set(dropped);
  for (const [instance, entries] of fleet.suspectSessions) {
    const live = entries.filter(([key, end]) => end >= horizon && !gone.has(key));
    if (live.length > 0) fleet.suspectSessions.set(instance, live);
    else fleet.suspectSessions.delete(instance);
  }
}

/** The direct observation of `ip` in the session and whether it is now a lifetime's home. */
function observationOf(s: SessionState, ip: string): { obs?: Observation; home: boolean } {
  for (const l of s.lifetimes) {
    const obs = l.direct.get(ip);
    if (obs) return { obs, home: byFirstCall(l.direct.values())[0] === obs };
  }
  return { home: false };
}

/**
 * The retracted version of a stored finding, with the evidence that explains it named. `changes`
 * are the address changes of the session's instance read in this batch; `now` is the newest event
 * time (used only when no single piece of evidence can be named).
 */
export function retract(
  stored: StoredFinding,
  s: SessionState,
  changes: readonly ChangeEvidence[],
  now: number,
): StoredFinding {
  const ip = stored.finding.sourceIp;
  const { obs, home } = observationOf(s, ip);
  let at = new Date(now).toISOString();
  let reason = `Evidence read later explains the calls from ${ip}.`;
  if (obs?.learnedAt !== undefined) {
    at = new Date(obs.learnedAt).toISOString();
    const change = changes.find((c) => c.time === obs.learnedAt);
    reason = change
      ? `Explained by ${change.name}${change.id ? ` ${change.id}` : ""} at ${change.timeIso}: ${s.instanceId ?? "the instance"} changed address before its first call from ${ip}.`
      : `Explained by an address change of ${s.instanceId ?? "the instance"} at ${at}, read after the finding.`;
  } else if (obs?.otherFamily) {
    at = obs.first.timeIso;
    reason = `${ip} is accepted as the instance's other IP family, from evidence read after the finding.`;
  } else if (obs && home) {
    at = obs.first.timeIso;
    reason = `A call read later (${obs.first.id} at ${obs.first.timeIso}) shows ${ip} was the credential's first address: it is the home, not a second address.`;
  }
  return {
    ...stored,
    finding: { ...stored.finding, status: "retracted", retractedAt: at, retractionReason: reason },
  };
}
