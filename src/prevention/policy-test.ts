/**
 * `policy test`: a policy's statements judged against every call of historical CloudTrail, so that
 * nobody turns on a Deny without knowing what it would have broken. Each call's request context
 * comes from its record (calls.ts); the verdict from iam-eval.ts (explicit deny wins; a result that
 * depends on a key CloudTrail does not record is `unknown`, never "allowed"). Denied calls are
 * split by what detection said about them: flagged (the thief: the policy works) or not (legitimate
 * traffic the policy would break).
 */
import type { Finding } from "../findings/finding.js";
import type { ReadProblem } from "../sources/read.js";
import { type ApiCall, contextOf, credentialOf, type TrailKnowledge, viaAwsService } from "./calls.js";
import { findingCredentials, roleMatches } from "./generate.js";
import { evaluatePolicy, type PolicyDocument } from "./iam-eval.js";

export const POLICY_TEST_SCHEMA = "firstcall.policy-test/v1";

/** Calls of one role from one address (and endpoint) to one API with one verdict. */
export interface CallGroup {
  readonly role: string;
  readonly roleArn: string;
  readonly source: string;
  readonly vpcEndpointId?: string;
  readonly action: string;
  readonly calls: number;
  readonly sessions: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Sids of the statements that deny (or, for unknown, might deny). */
  readonly statements: readonly string[];
  /** Up to five event ids, earliest first. */
  readonly eventIds: readonly string[];
  /** For flagged calls: the finding's rule and id. */
  readonly finding?: { readonly rule: string; readonly id: string };
  /** For unknown verdicts: the keys the undecided statements read that the records do not show. */
  readonly unknownKeys?: readonly string[];
}

export interface PolicyTestReport {
  readonly schema: typeof POLICY_TEST_SCHEMA;
  readonly policy: string;
  readonly roles: readonly string[];
  readonly counts: {
    /** Role calls read. */
    readonly calls: number;
    /** …of the roles the policy is tested for. */
    readonly inScope: number;
    readonly denied: number;
    /** Denied and flagged by detection: the policy stops the thief. */
    readonly deniedFlagged: number;
    /** Denied and not flagged: production the policy would break. */
    readonly deniedLegitimate: number;
    /**
     * Denied calls of a credential with open findings, from an address no finding names: the holder's
     * (the thief called later) or the thief's (he called first, so his address became the home).
     * Reported apart, not counted as production: check them.
     */
    readonly deniedSuspect: number;
    /** The verdict depends on keys CloudTrail does not record. */
    readonly unknown: number;
    readonly notDenied: number;
    /** …of which made by AWS on the role's behalf (kept allowed by aws:ViaAWSService). */
    readonly viaAwsService: number;
    /** Flagged calls the policy would not deny (detection sees more than the network: agents, recon). */
    readonly flaggedNotDenied: number;
  };
  readonly deniedLegitimate: readonly CallGroup[];
  readonly deniedFlagged: readonly CallGroup[];
  readonly deniedSuspect: readonly CallGroup[];
  readonly unknown: readonly CallGroup[];
  /** Unknown verdicts per unrecorded key (a call counts once under each key it lacks). */
  readonly unknownKeys: Readonly<Record<string, number>>;
  readonly flaggedNotDenied: readonly CallGroup[];
  readonly problems: readonly ReadProblem[];
}

interface GroupBuilder {
  role: string;
  roleArn: string;
  source: string;
  vpcEndpointId?: string;
  action: string;
  calls: number;
  sessions: Set<string>;
  first: number;
  last: number;
  statements: Set<string>;
  eventIds: string[];
  finding?: { rule: string; id: string };
  unknownKeys: Set<string>;
}

function addTo(
  groups: Map<string, GroupBuilder>,
  call: ApiCall,
  statements: readonly string[],
  finding?: Finding,
  unknownKeys: readonly string[] = [],
): void {
  const key = `${call.roleArn}|${call.source}|${call.vpcEndpointId ?? ""}|${call.action}`;
  let g = groups.get(key);
  if (!g) {
    g = {
      role: call.roleName,
      roleArn: call.roleArn,
      source: call.source,
      ...(call.vpcEndpointId ? { vpcEndpointId: call.vpcEndpointId } : {}),
      action: call.action,
      calls: 0,
      sessions: new Set(),
      first: call.time,
      last: call.time,
      statements: new Set(),
      eventIds: [],
      ...(finding ? { finding: { rule: finding.rule, id: finding.id } } : {}),
      unknownKeys: new Set(),
    };
    groups.set(key, g);
  }
  for (const k of unknownKeys) g.unknownKeys.add(k);
  g.calls++;
  g.sessions.add(call.sessionArn);
  g.first = Math.min(g.first, call.time);
  g.last = Math.max(g.last, call.time);
  for (const s of statements) g.statements.add(s);
  // Calls come sorted by time: the first five are the earliest.
  if (g.eventIds.length < 5) g.eventIds.push(call.eventId);
}

function finish(groups: Map<string, GroupBuilder>): CallGroup[] {
  return [...groups.values()]
    .map((g) => ({
      role: g.role,
      roleArn: g.roleArn,
      source: g.source,
      ...(g.vpcEndpointId ? { vpcEndpointId: g.vpcEndpointId } : {}),
      action: g.action,
      calls: g.calls,
      sessions: g.sessions.size,
      firstSeen: new Date(g.first).toISOString(),
      lastSeen: new Date(g.last).toISOString(),
      statements: [...g.statements].sort(),
      eventIds: g.eventIds,
      ...(g.finding ? { finding: g.finding } : {}),
      ...(g.unknownKeys.size > 0 ? { unknownKeys: [...g.unknownKeys].sort() } : {}),
    }))
    .sort(
      (a, b) =>
        (a.role < b.role ? -1 : a.role > b.role ? 1 : 0) ||
        (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) ||
        (a.action < b.action ? -1 : a.action > b.action ? 1 : 0) ||
        ((a.vpcEndpointId ?? "") < (b.vpcEndpointId ?? "") ? -1 : 1),
    );
}

export interface PolicyTestInput {
  readonly policy: PolicyDocument;
  readonly policyName: string;
  readonly calls: readonly ApiCall[];
  readonly trail: TrailKnowledge;
  readonly flagged: (sessionArn: string, source: string) => Finding | undefined;
  /** Open findings against an address: their credentials' other calls are reported apart (`deniedSuspect`). */
  readonly openFindings?: readonly Finding[];
  /** Roles the policy is attached to (names or ARNs, IAM wildcards); default all. */
  readonly roles?: readonly string[];
  readonly problems?: readonly ReadProblem[];
}

/**
 * Judges every call of the selected roles.
 *
 * @example
 * const report = testPolicy({ policy, policyName: "policy.json", calls, trail, flagged: detection.flagged });
 * report.counts.deniedLegitimate // 0: the policy breaks nothing that was seen
 */
export function testPolicy(input: PolicyTestInput): PolicyTestReport {
  const roles = input.roles && input.roles.length > 0 ? input.roles : ["*"];
  const denLegit = new Map<string, GroupBuilder>();
  const denFlagged = new Map<string, GroupBuilder>();
  const denSuspect = new Map<string, GroupBuilder>();
  const suspects = new Set((input.openFindings ?? []).flatMap(findingCredentials));
  const unknown = new Map<string, GroupBuilder>();
  const flaggedAllowed = new Map<string, GroupBuilder>();
  const unknownKeys: Record<string, number> = {};
  let inScope = 0;
  let notDenied = 0;
  let via = 0;
  for (const call of input.calls) {
    if (!roleMatches(roles, call.roleArn, call.roleName)) continue;
    inScope++;
    const verdict = evaluatePolicy(input.policy, contextOf(call, input.trail));
    const finding = input.flagged(call.sessionArn, call.source);
    if (verdict.decision === "denied") {
      const target = finding ? denFlagged : suspects.has(credentialOf(call, input.trail)) ? denSuspect : denLegit;
      addTo(target, call, verdict.statements, finding);
    } else if (verdict.decision === "unknown") {
      addTo(unknown, call, verdict.statements, finding, verdict.unknownKeys);
      for (const k of verdict.unknownKeys ?? []) unknownKeys[k] = (unknownKeys[k] ?? 0) + 1;
    } else {
      notDenied++;
      if (viaAwsService(call) === true) via++;
      if (finding) addTo(flaggedAllowed, call, [], finding);
    }
  }
  const deniedLegitimate = finish(denLegit);
  const deniedFlagged = finish(denFlagged);
  const deniedSuspect = finish(denSuspect);
  const sum = (gs: readonly CallGroup[]) => gs.reduce((n, g) => n + g.calls, 0);
  const unknownGroups = finish(unknown);
  const flaggedNotDenied = finish(flaggedAllowed);
  return {
    schema: POLICY_TEST_SCHEMA,
    policy: input.policyName,
    roles,
    counts: {
      calls: input.calls.length,
      inScope,
      denied: sum(deniedLegitimate) + sum(deniedFlagged) + sum(deniedSuspect),
      deniedFlagged: sum(deniedFlagged),
      deniedLegitimate: sum(deniedLegitimate),
      deniedSuspect: sum(deniedSuspect),
      unknown: sum(unknownGroups),
      notDenied,
      viaAwsService: via,
      flaggedNotDenied: sum(flaggedNotDenied),
    },
    deniedLegitimate,
    deniedFlagged,
    deniedSuspect,
    unknown: unknownGroups,
    unknownKeys,
    flaggedNotDenied,
    problems: input.problems ?? [],
  };
}

function groupLine(g: CallGroup): string {
  const path = g.vpcEndpointId ? `${g.source} via ${g.vpcEndpointId}` : g.source;
  const finding = g.finding ? ` [${g.finding.rule} ${g.finding.id.slice(0, 12)}]` : "";
  const by = g.statements.length > 0 ? ` by ${g.statements.join(", ")}` : "";
  const unrecorded = g.unknownKeys ? ` (not in the records: ${g.unknownKeys.join(", ")})` : "";
  return `  ${g.role}  ${path}  ${g.action}  ${g.calls} call(s), ${g.sessions} session(s), ${g.firstSeen} – ${g.lastSeen}${by}${unrecorded}${finding}`;
}

/** The report for people. */
export function formatPolicyTestText(r: PolicyTestReport): string {
  const c = r.counts;
  const out = [
    `policy ${r.policy}, roles ${r.roles.join(", ")}: ${c.inScope} of ${c.calls} role call(s) judged`,
    `  denied: ${c.denied} (${c.deniedFlagged} flagged by detection, ${c.deniedSuspect} other calls of flagged credentials, ${c.deniedLegitimate} legitimate)`,
    `  unknown (keys CloudTrail does not record): ${c.unknown}${
      Object.keys(r.unknownKeys).length > 0
        ? ` — ${Object.entries(r.unknownKeys)
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")}`
        : ""
    }`,
    `  not denied: ${c.notDenied} (${c.viaAwsService} made by AWS on the role's behalf)`,
    "",
  ];
  const section = (title: string, groups: readonly CallGroup[]) => {
    if (groups.length === 0) return;
    out.push(title, ...groups.map(groupLine), "");
  };
  section("WOULD BREAK PRODUCTION: legitimate calls the policy would deny (role, address, API):", r.deniedLegitimate);
  section("Stopped: calls flagged by detection that the policy would deny:", r.deniedFlagged);
  section(
    "Check: other calls of credentials detection flagged, from addresses no finding names (the holder's, or the thief's if he called first):",
    r.deniedSuspect,
  );
  section("Unknown: the verdict depends on keys CloudTrail does not record (never counted as allowed):", r.unknown);
  section(
    "Flagged by detection but not denied by this policy (the holder's own path when the thief called first and the holder outlived a key rotation, or activity from the holder's own address that no network condition can tell apart):",
    r.flaggedNotDenied,
  );
  if (r.problems.length > 0)
    out.push(`${r.problems.length} input problem(s):`, ...r.problems.map((p) => `  ${p.message}`), "");
  out.push(
    c.deniedLegitimate > 0
      ? `FAIL: ${c.deniedLegitimate} legitimate call(s) would be denied.`
      : c.unknown > 0
        ? `OK: no legitimate call would be denied; ${c.unknown} call(s) could not be judged (Unknown above): check those paths before relying on the statements named there.`
        : "OK: no legitimate call would be denied.",
  );
  return `${out.join("\n")}\n`;
}
