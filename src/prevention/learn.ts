/**
 * What a policy is learned from and tested against: the roles' calls (from the logs, read with the
 * same reader as `scan`) or their observations (from a scan's state), and what detection says about
 * them (the engine run over the same logs, or the state's stored findings).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config/config.js";
import type { FleetState } from "../engine/state.js";
import { type Finding, statusOf } from "../findings/finding.js";
import type { IpRangesLookup } from "../net/ip-ranges-source.js";
import { runScan } from "../pipeline/scan.js";
import { type ReadProblem, readLogs } from "../sources/read.js";
import { SqliteStore } from "../state/sqlite.js";
import { type ApiCall, actionOf, callOf, learnFromRecord, type TrailKnowledge, type WorkloadKind } from "./calls.js";

/** The role calls of a trail, each event once, with what the trail teaches about them. */
export interface TrailCalls {
  readonly calls: ApiCall[];
  readonly trail: TrailKnowledge;
  readonly problems: ReadProblem[];
  readonly objects: number;
  readonly records: number;
}

/**
 * Reads every log object under `paths` and keeps the calls made by role sessions (duplicates by
 * `eventID` counted once). A bad object is reported in `problems` and never stops the others.
 *
 * @example const { calls, problems } = await readRoleCalls(["AWSLogs/"]);
 */
export async function readRoleCalls(paths: readonly string[]): Promise<TrailCalls> {
  const calls: ApiCall[] = [];
  const seen = new Set<string>();
  const instanceSessions = new Set<string>();
  const endpointVpcs = new Map<string, string>();
  const workloadSessions = new Map<string, WorkloadKind>();
  const problems: ReadProblem[] = [];
  let objects = 0;
  let records = 0;
  for await (const obj of readLogs([...paths])) {
    problems.push(...obj.problems);
    if (obj.skipped) continue;
    if (obj.records.length > 0) objects++;
    for (const r of obj.records) {
      const id = typeof r.eventID === "string" ? r.eventID : undefined;
      if (id !== undefined) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      records++;
      learnFromRecord(r, { instanceSessions, endpointVpcs, workloadSessions });
      const call = callOf(r);
      if (call) calls.push(call);
    }
  }
  // Same input, same order whatever order the files were listed in.
  calls.sort((a, b) => a.time - b.time || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  return { calls, trail: { instanceSessions, endpointVpcs, workloadSessions }, problems, objects, records };
}

/** What detection concluded: its open findings against an address, and the fleet knowledge it learned. */
export interface Detection {
  /** Open findings that say their address is not the holder's ({@link findingAgainstAddress}). */
  readonly openFindings: readonly Finding[];
  readonly fleet: FleetState;
  /** The open finding on a credential and source address, if any. */
  flagged(sessionArn: string, source: string): Finding | undefined;
}

/**
 * Whether a finding says its address is not the credential holder's: an address mismatch, or a
 * per-call rule (recon, foreign agent) at high severity — the engine raises those only for an
 * address outside your networks (and, with AWS's ranges, outside AWS). An IMDSv1 finding, or a
 * medium recon call from the instance's own address (SSRF through the instance), says nothing
 * against the address: a policy cannot deny by network what came from the holder's network.
 */
export function findingAgainstAddress(f: Finding): boolean {
  if (f.rule === "credential-ip-mismatch") return true;
  return (
    (f.rule === "instance-credential-recon" || f.rule === "instance-credential-foreign-agent") && f.severity === "high"
  );
}

function detectionOf(findings: readonly Finding[], fleet: FleetState): Detection {
  const latest = new Map<string, Finding>();
  for (const f of findings) latest.set(f.id, f);
  const open = [...latest.values()].filter((f) => statusOf(f) === "open" && findingAgainstAddress(f));
  const byCall = new Map<string, Finding>();
  for (const f of open) {
    const key = `${f.principal.arn}|${f.sourceIp}`;
    if (!byCall.has(key)) byCall.set(key, f);
  }
  return {
    openFindings: open,
    fleet,
    flagged: (arn, source) => byCall.get(`${arn}|${source}`),
  };
}

export interface DetectionOptions {
  readonly config?: Config;
  readonly ipRangesPath?: string;
  readonly ipRanges?: IpRangesLookup;
}

/**
 * Runs the engine over the logs with a throw-away state (a temporary SQLite file, removed after)
 * and keeps its open findings and fleet knowledge.
 *
 * @example const detection = await detect(["AWSLogs/"]); detection.flagged(arn, "198.51.100.7")
 */
export async function detect(paths: readonly string[], options: DetectionOptions = {}): Promise<Detection> {
  const dir = mkdtempSync(join(tmpdir(), "firstcall-policy-"));
  try {
    const statePath = join(dir, "state.sqlite");
    const result = await runScan({
      paths,
      statePath,
      jobs: 0,
      ...(options.config ? { config: options.config } : {}),
      ...(options.ipRangesPath ? { ipRangesPath: options.ipRangesPath } : {}),
      ...(options.ipRanges ? { ipRanges: options.ipRanges } : {}),
    });
    const store = SqliteStore.open(statePath);
    try {
      return detectionOf(result.findings, await store.loadFleet());
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The calls a scan's state still holds, as observations turned into calls (one per credential,
 * address and endpoint, with its count), its stored findings and fleet knowledge. A state keeps only
 * the sessions still live at its last checkpoint (a credential lifetime plus the lateness window):
 * older calls are not in it.
 */
export async function readState(
  statePath: string,
): Promise<{ calls: ApiCall[]; counts: number[]; trail: TrailKnowledge; detection: Detection }> {
  const store = SqliteStore.open(statePath);
  try {
    const calls: ApiCall[] = [];
    const counts: number[] = [];
    const instanceSessions = new Set<string>();
    const workloadSessions = new Map<string, WorkloadKind>();
    for (const s of store.allSessions()) {
      if (!s.roleArn) continue;
      if (s.kind === "ec2-instance") instanceSessions.add(s.arn);
      if (s.kind === "ecs-task" || s.kind === "lambda") workloadSessions.set(s.arn, s.kind);
      for (const l of s.lifetimes) {
        for (const obs of [...l.direct.values(), ...l.endpoint.values()]) {
          const f = obs.first;
          calls.push({
            eventId: f.id,
            time: f.time,
            timeIso: f.timeIso,
            account: s.account,
            region: f.region,
            roleArn: s.roleArn,
            roleName: s.roleArn.split("/").at(-1) ?? s.roleArn,
            sessionArn: s.arn,
            sessionName: s.sessionName,
            action: actionOf(f.source, f.name),
            source: f.ip,
            ip: f.ip,
            ...(f.vpcEndpointId ? { vpcEndpointId: f.vpcEndpointId } : {}),
            ...(s.kind === "ec2-instance" ? { instanceEvidence: "yes" as const } : {}),
          });
          counts.push(obs.count);
        }
      }
    }
    const fleet = await store.loadFleet();
    const detection = detectionOf(await store.allFindings().then((fs) => fs.map((f) => f.finding)), fleet);
    return { calls, counts, trail: { instanceSessions, endpointVpcs: new Map(), workloadSessions }, detection };
  } finally {
    await store.close();
  }
}
