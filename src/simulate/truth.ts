/**
 * Ground truth written by `firstcall simulate`: `truth.jsonl` (one line per injected incident) and
 * `fleet.jsonl` (one line per benign credential session, with the behaviours that make it tricky).
 * `firstcall eval` reads both. Lines carry no `eventName`/`eventSource` at the top level, so a scan
 * of the output directory recognises them as "not CloudTrail" and skips them.
 */
import { readFileSync } from "node:fs";

export const TRUTH_SCHEMA = "firstcall.truth/v1";
export const FLEET_SCHEMA = "firstcall.fleet/v1";

/** The rules of the engine, by id. */
export const RULE = {
  ipMismatch: "credential-ip-mismatch",
  recon: "instance-credential-recon",
  imdsv1: "imdsv1-credential",
  foreignAgent: "instance-credential-foreign-agent",
} as const;
export type RuleId = (typeof RULE)[keyof typeof RULE];

export const ATTACK_KINDS = [
  "outside-aws",
  "other-aws-account",
  "attacker-vpc-endpoint",
  "attacker-first",
  "ssrf-replay",
  "recon",
  "imdsv1-theft",
  "ecs-task-theft",
  "lambda-theft",
] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

export type SessionKind = "ec2-instance" | "ecs-task" | "lambda" | "assumed-role" | "service-role";

/**
 * How a finding is tied to a session: by session ARN (instances, ECS tasks) or by access key
 * (Lambda execution environments and credentials assumed by people, which share one ARN).
 */
export type SessionMatch = "arn" | "accessKeyId";

export interface TruthSession {
  readonly kind: SessionKind;
  readonly arn: string;
  readonly roleArn: string;
  readonly sessionName: string;
  /** The key the thief used. */
  readonly accessKeyId: string;
  readonly matchBy: SessionMatch;
  readonly instanceId?: string;
}

export interface TruthEventRef {
  readonly id: string;
  readonly time: string;
  readonly name: string;
  readonly source: string;
}

export interface Incident {
  readonly schema: typeof TRUTH_SCHEMA;
  readonly id: string;
  readonly kind: AttackKind;
  readonly account: string;
  readonly region: string;
  readonly session: TruthSession;
  readonly attacker: {
    /** Where the thief's calls came from (for SSRF: the instance's own address). */
    readonly addresses: readonly string[];
    readonly userAgent: string;
    readonly network: "outside-aws" | "aws" | "thief-vpc-endpoint" | "instance";
    readonly vpcEndpointId?: string;
  };
  /**
   * `session-and-address`: a finding on the session from one of the attacker's addresses detects it.
   * `session`: any finding on the session does; used when the thief called first, so that his address
   * became the session's home and the finding names the instance's own address instead.
   */
  readonly match: "session-and-address" | "session";
  readonly firstMaliciousEvent: TruthEventRef;
  readonly lastMaliciousTime: string;
  readonly maliciousEvents: number;
  /** Rules that should raise a finding for it. Empty: no rule can see it (an expected miss). */
  readonly detectableBy: readonly RuleId[];
  /** Rules that by design cannot see it, with the reason in `note`. */
  readonly notDetectableBy: readonly RuleId[];
  readonly note: string;
}

/** A benign session, for explaining false positives. */
export interface FleetSession {
  readonly schema: typeof FLEET_SCHEMA;
  readonly key: string;
  readonly matchBy: SessionMatch;
  readonly kind: SessionKind;
  readonly account: string;
  readonly region: string;
  /** Behaviours an engine could mistake for theft: `eip-associate`, `stop-start`, `dual-stack`, … */
  readonly traits: readonly string[];
}

function readJsonLines<T>(path: string, schema: string): T[] {
  const text = readFileSync(path, "utf8");
  const out: T[] = [];
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${lineNo}: not JSON: ${(e as Error).message}`);
    }
    if ((value as { schema?: unknown } | null)?.schema !== schema) {
      throw new Error(`${path}:${lineNo}: expected a ${schema} line`);
    }
    out.push(value as T);
  }
  return out;
}

/** Reads `truth.jsonl`. @example readTruth("out/truth.jsonl").length */
export function readTruth(path: string): Incident[] {
  return readJsonLines<Incident>(path, TRUTH_SCHEMA);
}

/** Reads `fleet.jsonl`. */
export function readFleet(path: string): FleetSession[] {
  return readJsonLines<FleetSession>(path, FLEET_SCHEMA);
}
