/**
 * OCSF 1.8.0 Detection Finding events (class_uid 2004, category 2 Findings), one JSON object per
 * line, for SIEMs and data lakes that read OCSF (Amazon Security Lake, Splunk, …). The mapping:
 *
 * - `finding_info.uid` is the finding's id (stable across runs); `finding_info.attacks` lists MITRE
 *   ATT&CK T1552.005 Cloud Instance Metadata API (Credential Access) and, when the credential was used,
 *   T1078.004 Cloud Accounts (under each of its four tactics);
 * - `resources`: the credential (its access key and its role session), the role and the instance;
 * - `evidences[0]` the first offending call (its address, API, access key, user agent),
 *   `evidences[1…]` the addresses the credential was expected at; `observables` point at them;
 * - times are epoch milliseconds (`time` the first offending call, `start_time`/`end_time` the first
 *   and last, `finding_info.modified_time` a retraction's time);
 * - a retracted finding is the same finding closed: `activity_id` 3 Close, `status_id` 3 Suppressed
 *   (reviewed — here, by evidence read later — and found benign), `status_detail` the reason;
 * - `cloud` (the `cloud` profile, listed in `metadata.profiles`): provider AWS, account and region.
 *
 * Every event validates against data/ocsf/detection_finding-1.8.0.schema.json (generated from the
 * OCSF sources by `scripts/gen-ocsf-schema.ts`; see src/findings/ocsf/json-schema.ts).
 */
import { ipFamily } from "../../net/ip.js";
import { safeJsonStringify } from "../../safe-text.js";
import { type Finding, type Severity, statusOf } from "../finding.js";
import { attacksFor, epochMs, PRODUCT, remediationText, ruleTitle } from "./finding-facts.js";
import type { FindingFormat } from "./format.js";

/** An OCSF event: JSON data (the committed JSON Schema is its type, checked in tests). */
export type OcsfEvent = { readonly [key: string]: unknown };

export const OCSF_VERSION = "1.8.0";
const CLASS_UID = 2004;
const CATEGORY_UID = 2;

const SEVERITY: Readonly<Record<Severity, { id: number; caption: string }>> = {
  info: { id: 1, caption: "Informational" },
  low: { id: 2, caption: "Low" },
  medium: { id: 3, caption: "Medium" },
  high: { id: 4, caption: "High" },
};

/** Observable type ids of OCSF 1.8.0 used here (dictionary.json). */
const OBSERVABLE = {
  hostname: { type_id: 1, type: "Hostname" },
  ip: { type_id: 2, type: "IP Address" },
  resourceUid: { type_id: 10, type: "Resource UID" },
  userAgent: { type_id: 16, type: "HTTP User-Agent" },
  credentialUid: { type_id: 19, type: "User Credential ID" },
} as const;

/** Drops the keys whose value is undefined (OCSF has no nulls for absent attributes). */
function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** An address as a network endpoint: an IP address, else (a service name such as `ec2.amazonaws.com`) a hostname. */
function endpoint(address: string): { ip: string } | { hostname: string } {
  return ipFamily(address) ? { ip: address } : { hostname: address };
}

function addressObservable(address: string, path: string) {
  return ipFamily(address)
    ? { name: `${path}.ip`, ...OBSERVABLE.ip, value: address }
    : { name: `${path}.hostname`, ...OBSERVABLE.hostname, value: address };
}

/** The credential, its role and its instance, as OCSF resources (types named as in ASFF). */
function resources(f: Finding) {
  const p = f.principal;
  const common = defined({ cloud_partition: /^arn:([a-z-]+):/.exec(p.arn)?.[1], region: f.region || undefined });
  const list: Record<string, unknown>[] = [];
  if (p.accessKeyId)
    list.push({
      uid: p.accessKeyId,
      name: p.accessKeyId,
      type: "AwsIamAccessKey",
      role_id: 3,
      role: "Affected",
      ...common,
    });
  list.push(
    defined({ uid: p.arn, name: p.sessionName, type: "AwsStsRoleSession", role_id: 3, role: "Affected", ...common }),
  );
  if (p.roleArn)
    list.push({
      uid: p.roleArn,
      name: p.roleArn.slice(p.roleArn.lastIndexOf("/") + 1),
      type: "AwsIamRole",
      role_id: 4,
      role: "Related",
      ...common,
    });
  if (p.instanceId) list.push({ uid: p.instanceId, type: "AwsEc2Instance", role_id: 4, role: "Related", ...common });
  return list;
}

/**
 * One finding as an OCSF 1.8.0 Detection Finding.
 *
 * @example
 * ocsfDetectionFinding(finding).class_uid // 2004
 */
export function ocsfDetectionFinding(f: Finding): OcsfEvent {
  const retracted = statusOf(f) === "retracted";
  const activity = retracted ? { id: 3, name: "Close" } : { id: 1, name: "Create" };
  const status = retracted ? { id: 3, name: "Suppressed" } : { id: 1, name: "New" };
  const severity = SEVERITY[f.severity] ?? { id: 99, caption: "Other" };
  const time = epochMs(f.time) ?? 0;
  const firstSeen = epochMs(f.evidence.firstSeen) ?? time;
  const lastSeen = epochMs(f.evidence.lastSeen) ?? firstSeen;
  const p = f.principal;
  const e = f.event;
  const found = resources(f);
  const offendingCall = defined({
    name: "offending call",
    uid: e.id,
    api: defined({
      operation: e.name,
      service: { name: e.source },
      request: { uid: e.id },
      response: e.errorCode ? { error: e.errorCode } : undefined,
    }),
    src_endpoint: defined({ ...endpoint(f.sourceIp), svc_name: e.vpcEndpointId }),
    actor: { user: defined({ uid: p.arn, name: p.sessionName, credential_uid: p.accessKeyId }) },
    http_request: e.userAgent ? { user_agent: e.userAgent } : undefined,
  });
  const expected = f.expectedIps.map((ip) => ({ name: "expected address", src_endpoint: endpoint(ip) }));
  const observables = [
    addressObservable(f.sourceIp, "evidences[0].src_endpoint"),
    ...f.expectedIps.map((ip, i) => addressObservable(ip, `evidences[${i + 1}].src_endpoint`)),
    ...(p.accessKeyId
      ? [{ name: "evidences[0].actor.user.credential_uid", ...OBSERVABLE.credentialUid, value: p.accessKeyId }]
      : []),
    ...(e.userAgent
      ? [{ name: "evidences[0].http_request.user_agent", ...OBSERVABLE.userAgent, value: e.userAgent }]
      : []),
    ...found.map((r, i) => ({ name: `resources[${i}].uid`, ...OBSERVABLE.resourceUid, value: r.uid as string })),
  ];
  return defined({
    activity_id: activity.id,
    activity_name: activity.name,
    category_uid: CATEGORY_UID,
    category_name: "Findings",
    class_uid: CLASS_UID,
    class_name: "Detection Finding",
    type_uid: CLASS_UID * 100 + activity.id,
    type_name: `Detection Finding: ${activity.name}`,
    severity_id: severity.id,
    severity: severity.caption,
    time,
    timezone_offset: 0,
    start_time: firstSeen,
    end_time: lastSeen,
    count: f.evidence.count,
    message: f.reason,
    status_id: status.id,
    status: status.name,
    status_detail: retracted ? (f.retractionReason ?? "retracted: explained by evidence read later") : undefined,
    is_alert: !retracted,
    finding_info: defined({
      uid: f.id,
      title: ruleTitle(f.rule),
      desc: f.reason,
      types: [f.rule],
      analytic: { uid: f.rule, name: f.rule, type_id: 1, type: "Rule" },
      attacks: attacksFor(f.rule).map((a) => ({
        tactic: a.tactic,
        technique: a.technique,
        sub_technique: a.subTechnique,
      })),
      data_sources: ["AWS CloudTrail"],
      created_time: time,
      first_seen_time: firstSeen,
      last_seen_time: lastSeen,
      modified_time: retracted ? epochMs(f.retractedAt) : undefined,
      related_events_count: f.evidence.count,
      related_events: f.evidence.eventIds.map((uid) => ({ uid })),
    }),
    remediation: { desc: remediationText(f.rule) },
    resources: found,
    evidences: [offendingCall, ...expected],
    observables,
    api: { operation: e.name, service: { name: e.source } },
    cloud: defined({
      provider: "AWS",
      account: f.account ? { uid: f.account, type_id: 10, type: "AWS Account" } : undefined,
      region: f.region || undefined,
    }),
    metadata: {
      version: OCSF_VERSION,
      product: { name: PRODUCT.name, vendor_name: PRODUCT.vendor, version: PRODUCT.version },
      profiles: ["cloud"],
      uid: `${f.id}:${activity.name.toLowerCase()}`,
      event_code: f.rule,
      original_time: f.time,
    },
    unmapped: {
      firstcall: defined({
        schema: f.schema,
        network: f.network,
        covered: f.covered,
        credential_kind: p.kind,
        expected_ips: f.expectedIps,
        retracted_at: f.retractedAt,
      }),
    },
  });
}

/** OCSF Detection Findings, one per line; characters a terminal acts on are `\uXXXX` escapes. */
export const ocsfFormat: FindingFormat = {
  name: "ocsf",
  description: "OCSF 1.8.0 Detection Finding events (class 2004), one JSON object per line",
  render(findings: readonly Finding[]): string {
    return findings.map((f) => `${safeJsonStringify(ocsfDetectionFinding(f))}\n`).join("");
  },
};
