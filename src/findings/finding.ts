/**
 * A finding: plain readonly data with a stable rule id. Rendering (text, JSON lines, …) lives in
 * `formats/`; nothing here knows how a finding is shown or delivered.
 *
 * The JSON-lines contract (`schema: "firstcall.finding/v1"`) is documented in docs/ARCHITECTURE.md §4:
 * fields are only ever added, never renamed or removed, within v1.
 */
export const FINDING_SCHEMA = "firstcall.finding/v1";

export const SEVERITIES = ["info", "low", "medium", "high"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Orders severities: info < low < medium < high. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** What kind of temporary credential a session is. */
export type CredentialKind = "ec2-instance" | "ecs-task" | "lambda" | "service-role" | "assumed-role";

/** Where an offending address lies, given the optional inventories (own networks, ip-ranges.json). */
export type NetworkClass = "own-network" | "aws" | "outside-aws" | "unknown";

export interface FindingPrincipal {
  readonly arn: string;
  readonly roleArn?: string;
  readonly sessionName?: string;
  /** The access key of the first offending call. All keys seen are in `evidence.accessKeyIds`. */
  readonly accessKeyId?: string;
  readonly kind: CredentialKind;
  readonly instanceId?: string;
}

export interface FindingEvent {
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly userAgent?: string;
  readonly vpcEndpointId?: string;
  readonly errorCode?: string;
}

export interface FindingEvidence {
  /** Calls that matched this finding (one finding per credential and offending address, not per call). */
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** A few event ids, earliest first. */
  readonly eventIds: readonly string[];
  readonly eventNames: readonly string[];
  readonly accessKeyIds: readonly string[];
  readonly userAgents: readonly string[];
}

/**
 * `open`: stands. `retracted`: evidence read later explains it (an address change delivered after
 * the calls it explains, an earlier call that moved the home); printed once more with this status.
 */
export type FindingStatus = "open" | "retracted";

/** A finding's status; findings stored before statuses existed are open. */
export function statusOf(f: Finding): FindingStatus {
  return f.status ?? "open";
}

export interface Finding {
  readonly schema: typeof FINDING_SCHEMA;
  /** Stable hash of rule + credential + offending address (+ rule-specific discriminator). */
  readonly id: string;
  readonly rule: string;
  readonly severity: Severity;
  /** eventTime of the first offending call. */
  readonly time: string;
  readonly account: string;
  readonly region: string;
  readonly principal: FindingPrincipal;
  readonly sourceIp: string;
  readonly expectedIps: readonly string[];
  readonly network: NetworkClass;
  /** Whether the credential's issuance was seen (false: bound with --bind-uncovered, or a rule that needs none). */
  readonly covered: boolean;
  readonly event: FindingEvent;
  readonly evidence: FindingEvidence;
  readonly reason: string;
  /** Always written by this version; optional only for findings stored by an earlier one (open). */
  readonly status?: FindingStatus;
  /** For a retracted finding: eventTime of the evidence that explains it. */
  readonly retractedAt?: string;
  /** For a retracted finding: one sentence naming that evidence. */
  readonly retractionReason?: string;
}
