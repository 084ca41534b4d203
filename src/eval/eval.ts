/**
 * Scores findings against the simulator's ground truth.
 *
 * A finding detects an incident when it is about the incident's session (the session ARN, or the
 * access key for key-bound credentials such as Lambda environments) and, unless the incident says
 * any finding on the session counts (the thief called first), names one of the thief's addresses or
 * his VPC endpoint. Findings that detect nothing are false positives; they are grouped by a cause
 * inferred from the finding and from what `fleet.jsonl` says about the session.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import type { Finding } from "../findings/finding.js";
import {
  ATTACK_KINDS,
  type AttackKind,
  type FleetSession,
  type Incident,
  readFleet,
  readTruth,
} from "../simulate/truth.js";

export const EVAL_SCHEMA = "firstcall.eval/v1";

export interface IncidentResult {
  readonly id: string;
  readonly kind: AttackKind;
  readonly session: string;
  /** False when the truth says no rule can see it. */
  readonly detectable: boolean;
  readonly detected: boolean;
  /** Seconds from the first malicious call to the earliest detecting finding's event. */
  readonly delaySeconds: number | null;
  readonly findingIds: readonly string[];
  readonly rulesFired: readonly string[];
  /** Rules the truth expects that raised nothing for it. */
  readonly rulesMissing: readonly string[];
}

export interface KindRow {
  readonly kind: AttackKind | "total";
  readonly incidents: number;
  readonly detectable: number;
  readonly detected: number;
  readonly missed: number;
  /** Undetectable by design and not detected. */
  readonly expectedMisses: number;
  /** detected / detectable; null when nothing was detectable. */
  readonly recall: number | null;
  /** Findings that detect an incident of this kind. */
  readonly findings: number;
  readonly delaySeconds: { readonly median: number | null; readonly p90: number | null; readonly max: number | null };
}

export interface RuleRow {
  readonly rule: string;
  readonly findings: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly precision: number | null;
}

export interface FalsePositiveGroup {
  readonly cause: string;
  readonly count: number;
  readonly examples: readonly { readonly id: string; readonly session: string; readonly sourceIp: string }[];
}

export interface EvalReport {
  readonly schema: typeof EVAL_SCHEMA;
  readonly kinds: readonly KindRow[];
  readonly total: KindRow;
  readonly findings: {
    readonly total: number;
    readonly truePositives: number;
    readonly falsePositives: number;
    /** truePositives / total; null without findings. */
    readonly precision: number | null;
  };
  readonly falsePositivesByCause: readonly FalsePositiveGroup[];
  readonly rules: readonly RuleRow[];
  readonly incidents: readonly IncidentResult[];
}

function sessionKeyOf(i: Incident): string {
  return i.session.matchBy === "arn" ? i.session.arn : i.session.accessKeyId;
}

/** Whether the finding is about the incident's credential and, where required, its address. */
export function findingMatches(f: Finding, i: Incident): boolean {
  if (i.session.matchBy === "arn") {
    if (f.principal.arn !== i.session.arn) return false;
  } else {
    const key = i.session.accessKeyId;
    if (f.principal.accessKeyId !== key && !(f.evidence?.accessKeyIds ?? []).includes(key)) return false;
  }
  if (i.match === "session") return true;
  if (i.attacker.addresses.includes(f.sourceIp)) return true;
  return i.attacker.vpcEndpointId !== undefined && f.event?.vpcEndpointId === i.attacker.vpcEndpointId;
}

function seconds(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 1000);
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] ?? null;
}

function row(kind: KindRow["kind"], results: readonly IncidentResult[], findings: number): KindRow {
  const detectable = results.filter((r) => r.detectable);
  const detected = detectable.filter((r) => r.detected).length;
  const delays = results
    .filter((r) => r.delaySeconds !== null)
    .map((r) => r.delaySeconds as number)
    .sort((a, b) => a - b);
  return {
    kind,
    incidents: results.length,
    detectable: detectable.length,
    detected,
    missed: detectable.length - detected,
    expectedMisses: results.filter((r) => !r.detectable && !r.detected).length,
    recall: detectable.length ? detected / detectable.length : null,
    findings,
    delaySeconds: { median: quantile(delays, 0.5), p90: quantile(delays, 0.9), max: delays.at(-1) ?? null },
  };
}

const LIFECYCLE = ["eip-associate", "eni-eip", "secondary-ip-eip", "eni-attach", "stop-start"];

function family(ip: string): 4 | 6 | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return 4;
  return ip.includes(":") ? 6 : undefined;
}

/** A short, stable label for why a finding that matches no incident might have been raised. */
export function falsePositiveCause(f: Finding, fleet: ReadonlyMap<string, FleetSession>): string {
  const session =
    fleet.get(f.principal.arn) ??
    (f.principal.accessKeyId ? fleet.get(f.principal.accessKeyId) : undefined) ??
    (f.evidence?.accessKeyIds ?? []).map((k) => fleet.get(k)).find(Boolean);
  const traits = session?.traits ?? [];
  let detail: string;
  if (!session) detail = `session not in the fleet (${f.principal.kind})`;
  else if (traits.includes("victim")) detail = "attacked session, finding outside the incident's addresses";
  else if (f.event?.vpcEndpointId) detail = "VPC endpoint path";
  else if (f.expectedIps.length && family(f.sourceIp) !== family(f.expectedIps[0] ?? ""))
    detail = "other IP family (dual-stack)";
  else {
    const lifecycle = traits.find((t) => LIFECYCLE.includes(t));
    if (lifecycle) detail = `${lifecycle} (address change)`;
    else if (traits.includes("eks-node")) detail = "EKS node";
    else detail = `${session.kind}, no tricky behaviour`;
  }
  return `${f.rule}: ${detail}`;
}

/**
 * Scores findings against incidents.
 *
 * @example
 * const report = evaluate(readTruth("sim/truth.jsonl"), readFindings("findings.jsonl"), readFleet("sim/fleet.jsonl"));
 * report.total.recall; // 1
 */
export function evaluate(
  incidents: readonly Incident[],
  findings: readonly Finding[],
  fleet: readonly FleetSession[] = [],
): EvalReport {
  const bySession = new Map<string, Incident[]>();
  for (const i of incidents) {
    const key = sessionKeyOf(i);
    const list = bySession.get(key);
    if (list) list.push(i);
    else bySession.set(key, [i]);
  }
  const matchesOf = new Map<string, Finding[]>();
  const unmatched: Finding[] = [];
  const truePositiveIds = new Set<string>();
  for (const f of findings) {
    const candidates = [
      ...(bySession.get(f.principal.arn) ?? []),
      ...(f.principal.accessKeyId ? (bySession.get(f.principal.accessKeyId) ?? []) : []),
      ...(f.evidence?.accessKeyIds ?? []).flatMap((k) =>
        k === f.principal.accessKeyId ? [] : (bySession.get(k) ?? []),
      ),
    ];
    const hits = [...new Set(candidates)].filter((i) => findingMatches(f, i));
    if (hits.length === 0) {
      unmatched.push(f);
      continue;
    }
    truePositiveIds.add(f.id);
    for (const i of hits) {
      const list = matchesOf.get(i.id);
      if (list) list.push(f);
      else matchesOf.set(i.id, [f]);
    }
  }

  const results: IncidentResult[] = incidents.map((i) => {
    const matched = [...(matchesOf.get(i.id) ?? [])].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    const fired = [...new Set(matched.map((f) => f.rule))].sort();
    const earliest = matched[0];
    return {
      id: i.id,
      kind: i.kind,
      session: sessionKeyOf(i),
      detectable: i.detectableBy.length > 0,
      detected: matched.length > 0,
      delaySeconds: earliest ? seconds(i.firstMaliciousEvent.time, earliest.time) : null,
      findingIds: matched.map((f) => f.id),
      rulesFired: fired,
      rulesMissing: i.detectableBy.filter((r) => !fired.includes(r)),
    };
  });

  const kinds = ATTACK_KINDS.filter((k) => results.some((r) => r.kind === k)).map((k) => {
    const rs = results.filter((r) => r.kind === k);
    const ids = new Set(rs.flatMap((r) => r.findingIds));
    return row(k, rs, ids.size);
  });

  const fleetByKey = new Map(fleet.map((s) => [s.key, s] as const));
  const groups = new Map<string, Finding[]>();
  for (const f of unmatched) {
    const cause = falsePositiveCause(f, fleetByKey);
    const list = groups.get(cause);
    if (list) list.push(f);
    else groups.set(cause, [f]);
  }
  const falsePositivesByCause = [...groups.entries()]
    .map(([cause, fs]) => ({
      cause,
      count: fs.length,
      examples: fs.slice(0, 3).map((f) => ({ id: f.id, session: f.principal.arn, sourceIp: f.sourceIp })),
    }))
    .sort((a, b) => b.count - a.count || (a.cause < b.cause ? -1 : 1));

  const ruleNames = [...new Set(findings.map((f) => f.rule))].sort();
  const rules = ruleNames.map((rule) => {
    const fs = findings.filter((f) => f.rule === rule);
    const tp = fs.filter((f) => truePositiveIds.has(f.id)).length;
    return {
      rule,
      findings: fs.length,
      truePositives: tp,
      falsePositives: fs.length - tp,
      precision: fs.length ? tp / fs.length : null,
    };
  });

  const tp = findings.filter((f) => truePositiveIds.has(f.id)).length;
  return {
    schema: EVAL_SCHEMA,
    kinds,
    total: row("total", results, tp),
    findings: {
      total: findings.length,
      truePositives: tp,
      falsePositives: findings.length - tp,
      precision: findings.length ? tp / findings.length : null,
    },
    falsePositivesByCause,
    rules,
    incidents: results,
  };
}

/**
 * Reads findings as `scan --format jsonl` writes them. Lines that are not findings (a trailing
 * `--summary-json` object, blank lines) are skipped; a line that is not JSON is an error.
 */
export function parseFindings(text: string, source: string): Finding[] {
  const out: Finding[] = [];
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    const t = line.trim();
    if (t === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (e) {
      throw new UsageError("E_USAGE", `${source}:${lineNo}: not JSON: ${(e as Error).message}`);
    }
    const v = value as Partial<Finding> | null;
    if (
      v &&
      typeof v === "object" &&
      v.schema === "firstcall.finding/v1" &&
      v.principal &&
      typeof v.time === "string"
    ) {
      out.push(v as Finding);
    }
  }
  return out;
}

export function readFindings(path: string): Finding[] {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new UsageError("E_USAGE", `${path}: cannot read findings: ${(e as Error).message}`);
  }
  return parseFindings(text, path === "-" ? "<stdin>" : path);
}

/** Reads the truth (and fleet, when present) with usage errors that name the file. */
export function loadTruth(truthPath: string, fleetPath?: string): { incidents: Incident[]; fleet: FleetSession[] } {
  try {
    const incidents = readTruth(truthPath);
    const fleet = fleetPath ? readFleet(fleetPath) : [];
    return { incidents, fleet };
  } catch (e) {
    throw new UsageError("E_USAGE", (e as Error).message);
  }
}
