/**
 * What the exchange formats (OCSF, ASFF, CSV, HTML) say about a finding beyond its own fields: the
 * product that made it, a short title per rule, the MITRE ATT&CK techniques it stands for, and
 * times as numbers. One place, so that the formats agree with each other.
 */
import { readFileSync } from "node:fs";
import type { Finding } from "../finding.js";

/** The product, as exchange formats name it; the version is package.json's (the one `--version` prints). */
export const PRODUCT = {
  name: "firstcall",
  vendor: "firstcall",
  version: (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string })
    .version,
} as const;

/** A rule's title: what happened, in a few words (OCSF finding_info.title, ASFF Title, HTML headings). */
const RULE_TITLES: Readonly<Record<string, string>> = {
  "credential-ip-mismatch": "Temporary AWS credential used away from its holder",
  "imdsv1-credential": "Instance credentials fetched through IMDSv1",
  "instance-credential-foreign-agent": "Instance credentials used by software no server runs",
  "instance-credential-recon": "Instance credentials made a reconnaissance call",
};

/** @example ruleTitle("imdsv1-credential") // "Instance credentials fetched through IMDSv1" */
export function ruleTitle(rule: string): string {
  return RULE_TITLES[rule] ?? `firstcall rule ${rule}`;
}

/** A MITRE ATT&CK tactic, technique and sub-technique, as ATT&CK names them (Enterprise matrix). */
export interface AttackTechnique {
  readonly tactic: { readonly uid: string; readonly name: string };
  readonly technique: { readonly uid: string; readonly name: string };
  readonly subTechnique: { readonly uid: string; readonly name: string };
}

function technique(tactic: [string, string], parent: [string, string], sub: [string, string]): AttackTechnique {
  return {
    tactic: { uid: tactic[0], name: tactic[1] },
    technique: { uid: parent[0], name: parent[1] },
    subTechnique: { uid: sub[0], name: sub[1] },
  };
}

const UNSECURED_CREDENTIALS: [string, string] = ["T1552", "Unsecured Credentials"];
const CLOUD_INSTANCE_METADATA_API: [string, string] = ["T1552.005", "Cloud Instance Metadata API"];
const VALID_ACCOUNTS: [string, string] = ["T1078", "Valid Accounts"];
const CLOUD_ACCOUNTS: [string, string] = ["T1078.004", "Cloud Accounts"];

/** T1552.005 belongs to one tactic. */
const METADATA_API = [technique(["TA0006", "Credential Access"], UNSECURED_CREDENTIALS, CLOUD_INSTANCE_METADATA_API)];
/** T1078.004 belongs to four tactics, listed in ATT&CK's order. */
const CLOUD_ACCOUNT_USE = [
  technique(["TA0005", "Defense Evasion"], VALID_ACCOUNTS, CLOUD_ACCOUNTS),
  technique(["TA0003", "Persistence"], VALID_ACCOUNTS, CLOUD_ACCOUNTS),
  technique(["TA0004", "Privilege Escalation"], VALID_ACCOUNTS, CLOUD_ACCOUNTS),
  technique(["TA0001", "Initial Access"], VALID_ACCOUNTS, CLOUD_ACCOUNTS),
];

/**
 * The ATT&CK techniques a finding stands for, one entry per tactic. A credential taken from the
 * instance metadata service (T1552.005) and used as a valid cloud account (T1078.004); an IMDSv1
 * fetch only exposes the credential (T1552.005), nothing says yet that it was used elsewhere.
 *
 * @example attacksFor("imdsv1-credential").map((a) => a.subTechnique.uid) // ["T1552.005"]
 */
export function attacksFor(rule: string): readonly AttackTechnique[] {
  return rule === "imdsv1-credential" ? METADATA_API : [...METADATA_API, ...CLOUD_ACCOUNT_USE];
}

/**
 * Milliseconds since the epoch of an ISO 8601 time, or undefined when it is not one (a finding's
 * times come from CloudTrail's eventTime, normalised by the reader; the check is for stored findings
 * from elsewhere).
 */
export function epochMs(time: string | undefined): number | undefined {
  if (time === undefined) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The time of the last change of a finding: its last call, or its retraction when that is later. */
export function updatedTime(f: Finding): string {
  const times = [f.evidence.lastSeen, f.time, f.retractedAt].filter((t): t is string => epochMs(t) !== undefined);
  const latest = Math.max(...times.map((t) => epochMs(t) as number));
  return Number.isFinite(latest) ? new Date(latest).toISOString() : f.time;
}

/**
 * `text` cut to at most `max` UTF-16 code units (how JavaScript and the AWS APIs count lengths),
 * ending in `…` when cut; a character is never split.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = "";
  for (const c of text) {
    if (out.length + c.length > max - 1) break;
    out += c;
  }
  return `${out}…`;
}

/** The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov` …), `aws` when it is not an ARN. */
export function arnPartition(arn: string | undefined): string {
  return /^arn:([a-z-]+):/.exec(arn ?? "")?.[1] ?? "aws";
}

/** What to do about a finding, in one or two sentences (under 512 characters: ASFF's limit). */
export function remediationText(rule: string): string {
  return rule === "imdsv1-credential"
    ? "Require IMDSv2 on the instance (HttpTokens=required), then check the credential's calls for use away from the instance."
    : "Revoke the role's active sessions (deny tokens issued before now: aws:TokenIssueTime), review what the credential did from the offending address, and find how it left its holder (SSRF, IMDSv1, a leaked file).";
}

/** AWS's page on revoking a role's temporary credentials (the remediation's reference). */
export const REVOKE_SESSIONS_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html";
