/**
 * A policy judged against a simulation's ground truth rather than against detection: which role
 * calls were a thief's (truth.jsonl), and of those and of all the others, which the policy denies.
 * `policy test` can only go by what detection flagged; this is how the simulator checks that both
 * are right (the round-trip test and `bench/policy-roundtrip.ts`).
 */
import { type ApiCall, contextOf, type TrailKnowledge } from "../prevention/calls.js";
import { roleMatches } from "../prevention/generate.js";
import { evaluatePolicy, type PolicyDocument } from "../prevention/iam-eval.js";
import type { AttackKind, Incident } from "./truth.js";

/** Thefts whose calls come from outside the fleet's networks: the ones a network policy must deny. */
export const OUTSIDE_NETWORKS: ReadonlySet<Incident["attacker"]["network"]> = new Set([
  "outside-aws",
  "aws",
  "thief-vpc-endpoint",
]);

/**
 * The incident a call belongs to, if it is a thief's: the stolen key, the thief's user agent, inside
 * the incident's first and last malicious times. (The key alone is not enough: the holder keeps using
 * it; the address alone is not either: SSRF and on-box thieves call from the holder's address.)
 *
 * @example const thiefOf = thiefCalls(readTruth("sim/truth.jsonl")); thiefOf(call)?.kind
 */
export function thiefCalls(incidents: readonly Incident[]): (call: ApiCall) => Incident | undefined {
  const byKey = new Map<string, Incident[]>();
  for (const i of incidents) {
    const list = byKey.get(i.session.accessKeyId) ?? [];
    list.push(i);
    byKey.set(i.session.accessKeyId, list);
  }
  return (call) => {
    if (!call.accessKeyId) return undefined;
    return byKey
      .get(call.accessKeyId)
      ?.find(
        (i) =>
          call.userAgent === i.attacker.userAgent &&
          call.time >= Date.parse(i.firstMaliciousEvent.time) &&
          call.time <= Date.parse(i.lastMaliciousTime),
      );
  };
}

export interface KindTally {
  readonly kind: AttackKind;
  readonly network: Incident["attacker"]["network"];
  incidents: number;
  calls: number;
  denied: number;
  unknown: number;
  /** Incidents with at least one call not denied. */
  incidentsNotFullyDenied: number;
}

export interface TruthVerdict {
  /** Calls that were no thief's, of the roles the policy is attached to. */
  legitimate: number;
  legitimateDenied: number;
  legitimateUnknown: number;
  /** Up to five denied legitimate calls, for the message of a failing check. */
  readonly legitimateDeniedExamples: string[];
  /** Per attack kind (of every role: a theft of a role the policy is not attached to is not denied). */
  readonly byKind: Map<AttackKind, KindTally>;
  /** Thefts from outside the fleet's networks: calls, denied. */
  outsideCalls: number;
  outsideDenied: number;
}

/**
 * Evaluates the policy on every role call and sorts the verdicts by the ground truth.
 *
 * @example
 * const v = judgeWithTruth(policy, read.calls, read.trail, readTruth("sim/truth.jsonl"), roles);
 * v.legitimateDenied === 0 && v.outsideDenied === v.outsideCalls
 */
export function judgeWithTruth(
  policy: PolicyDocument,
  calls: readonly ApiCall[],
  trail: TrailKnowledge,
  incidents: readonly Incident[],
  roles: readonly string[] = ["*"],
): TruthVerdict {
  const thiefOf = thiefCalls(incidents);
  const v: TruthVerdict = {
    legitimate: 0,
    legitimateDenied: 0,
    legitimateUnknown: 0,
    legitimateDeniedExamples: [],
    byKind: new Map(),
    outsideCalls: 0,
    outsideDenied: 0,
  };
  const partial = new Map<string, boolean>();
  for (const call of calls) {
    const attached = roleMatches(roles, call.roleArn, call.roleName);
    const decision = attached ? evaluatePolicy(policy, contextOf(call, trail)).decision : "not-denied";
    const theft = thiefOf(call);
    if (!theft) {
      if (!attached) continue;
      v.legitimate++;
      if (decision === "unknown") v.legitimateUnknown++;
      if (decision === "denied") {
        v.legitimateDenied++;
        if (v.legitimateDeniedExamples.length < 5) {
          v.legitimateDeniedExamples.push(`${call.roleName} ${call.source} ${call.action} ${call.timeIso}`);
        }
      }
      continue;
    }
    const t = v.byKind.get(theft.kind) ?? {
      kind: theft.kind,
      network: theft.attacker.network,
      incidents: 0,
      calls: 0,
      denied: 0,
      unknown: 0,
      incidentsNotFullyDenied: 0,
    };
    v.byKind.set(theft.kind, t);
    if (!partial.has(theft.id)) {
      partial.set(theft.id, false);
      t.incidents++;
    }
    t.calls++;
    if (decision === "denied") t.denied++;
    else {
      if (decision === "unknown") t.unknown++;
      if (!partial.get(theft.id)) t.incidentsNotFullyDenied++;
      partial.set(theft.id, true);
    }
    if (OUTSIDE_NETWORKS.has(theft.attacker.network)) {
      v.outsideCalls++;
      if (decision === "denied") v.outsideDenied++;
    }
  }
  return v;
}
