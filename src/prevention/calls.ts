/**
 * A role's API call as a policy sees it: who (role, session), what (`service:Action`) and the
 * request context keys an IAM condition would read, taken from what CloudTrail records and marked
 * `unknown` where it does not record them.
 *
 * | context key                      | from the record                                                        |
 * | -------------------------------- | ---------------------------------------------------------------------- |
 * | aws:SourceIp                     | `sourceIPAddress` when it is an address and no `vpcEndpointId`; absent through an endpoint (AWS: not available there); unknown when a service name |
 * | aws:SourceVpce                   | `vpcEndpointId`; absent on a public address; unknown on a private address without it |
 * | aws:SourceVpc                    | through an endpoint: its VPC when a `CreateVpcEndpoint` in the logs names it, else present with an unknown value; absent on a public address |
 * | aws:VpcSourceIp                  | the private `sourceIPAddress` through an endpoint; absent otherwise     |
 * | aws:ViaAWSService                | `true` with `userIdentity.invokedBy` or a `….amazonaws.com` source; unknown for `AWS Internal`; else `false` |
 * | aws:PrincipalArn                 | the role ARN (`sessionContext.sessionIssuer.arn`)                       |
 * | ec2:SourceInstanceARN            | present for instance credentials (`ec2RoleDelivery`, `inScopeOf`, or an issuance by EC2 in the logs); its value only when `inScopeOf.credentialsIssuedTo` gives it |
 * | aws:ec2InstanceSourceVPC         | `sessionContext.ec2IssuedInVPC` when recorded, else unknown (instance credentials only) |
 * | aws:ec2InstanceSourcePrivateIPv4 | never recorded: unknown (instance credentials only)                    |
 * | lambda:SourceFunctionArn         | a Lambda session's (issued by lambda.amazonaws.com in the logs) calls from an address, and its logs/X-Ray/EFS calls; absent on Lambda's own calls with the role |
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { ipFamily } from "../net/ip.js";
import type { ContextValue, RequestContext } from "./iam-eval.js";

export interface ApiCall {
  readonly eventId: string;
  readonly time: number;
  readonly timeIso: string;
  readonly account: string;
  readonly region: string;
  /** `arn:aws:iam::ACCOUNT:role/PATH/NAME`. */
  readonly roleArn: string;
  readonly roleName: string;
  /** `userIdentity.arn` (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`). */
  readonly sessionArn: string;
  readonly sessionName: string;
  /** `service:EventName`. */
  readonly action: string;
  /** `sourceIPAddress` as recorded. */
  readonly source: string;
  /** The source when it is an IP address. */
  readonly ip?: string;
  readonly vpcEndpointId?: string;
  readonly invokedBy?: string;
  readonly userAgent?: string;
  /** `yes`: instance credentials per the record itself; `name`: only the session name looks like an instance id. */
  readonly instanceEvidence?: "yes" | "name";
  readonly instanceArn?: string;
  readonly issuedInVpc?: string;
  /** `userIdentity.accessKeyId`: tells a credential's rotations apart (and Lambda environments, which share a session name). */
  readonly accessKeyId?: string;
}

/** Credentials AWS issued to compute that runs your code, by the service that assumed the role. */
export type WorkloadKind = "ecs-task" | "lambda";

/** What the whole trail teaches about calls (known only after reading it all). */
export interface TrailKnowledge {
  /** Session ARNs whose credentials EC2 issued (`AssumeRole` invoked by ec2.amazonaws.com). */
  readonly instanceSessions: ReadonlySet<string>;
  /** VPC endpoint id → VPC id, from CreateVpcEndpoint in the logs. */
  readonly endpointVpcs: ReadonlyMap<string, string>;
  /**
   * Session ARNs whose credentials ECS (`ecs-tasks.amazonaws.com`) or Lambda (`lambda.amazonaws.com`)
   * issued, from their `AssumeRole` in the logs: task and function code calling from your networks.
   */
  readonly workloadSessions?: ReadonlyMap<string, WorkloadKind>;
}

/** Event sources whose IAM service prefix is not the host's first label. */
const SERVICE_PREFIX: ReadonlyMap<string, string> = new Map([
  ["monitoring", "cloudwatch"],
  ["email", "ses"],
  ["elasticmapreduce", "elasticmapreduce"],
  ["api.ecr", "ecr"],
  ["ecr-public", "ecr-public"],
]);

/** `s3.amazonaws.com` + `GetObject` → `s3:GetObject`. */
export function actionOf(eventSource: string, eventName: string): string {
  const host = eventSource.replace(/\.amazonaws\.com(\.cn)?$/, "");
  const prefix = SERVICE_PREFIX.get(host) ?? host.split(".")[0] ?? host;
  return `${prefix}:${eventName}`;
}

const INSTANCE_ID = /^i-[0-9a-f]{8}([0-9a-f]{9})?$/;
const PRIVATE = [
  /^10\./,
  /^192\.168\./,
  /^172\.(1[6-9]|2[0-9]|3[01])\./,
  /^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\./,
  /^f[cd]/i,
];

/** Whether an address is private (RFC 1918, carrier-grade NAT, IPv6 unique local). */
export function isPrivateAddress(ip: string): boolean {
  return PRIVATE.some((re) => re.test(ip));
}

/**
 * The role call a record is, or undefined (not a role session's call, or no event name).
 *
 * @example callOf(record)?.action // "s3:GetObject"
 */
export function callOf(r: CloudTrailRecord): ApiCall | undefined {
  const ui = r.userIdentity;
  if (ui?.type !== "AssumedRole" || !ui) return undefined;
  const roleArn = ui.sessionContext?.sessionIssuer?.arn;
  const sessionArn = ui.arn;
  if (typeof roleArn !== "string" || typeof sessionArn !== "string") return undefined;
  if (typeof r.eventSource !== "string" || typeof r.eventName !== "string") return undefined;
  const time = Date.parse(r.eventTime ?? "");
  if (Number.isNaN(time)) return undefined;
  const source = typeof r.sourceIPAddress === "string" ? r.sourceIPAddress : "";
  const sessionName = sessionArn.split("/").at(-1) ?? "";
  const roleName = roleArn.split("/").at(-1) ?? roleArn;
  const sc = ui.sessionContext;
  const credentialsIssuedTo = ui.inScopeOf?.credentialsIssuedTo;
  const instanceEvidence =
    sc?.ec2RoleDelivery !== undefined || ui.inScopeOf?.issuerType === "AWS::EC2::Instance"
      ? "yes"
      : INSTANCE_ID.test(sessionName)
        ? "name"
        : undefined;
  return {
    eventId: typeof r.eventID === "string" ? r.eventID : `${r.eventTime}|${sessionArn}|${r.eventName}`,
    time,
    timeIso: new Date(time).toISOString(),
    account: ui.accountId ?? r.recipientAccountId ?? "",
    region: r.awsRegion ?? "",
    roleArn,
    roleName,
    sessionArn,
    sessionName,
    action: actionOf(r.eventSource, r.eventName),
    source,
    ...(ipFamily(source) ? { ip: source } : {}),
    ...(typeof r.vpcEndpointId === "string" && r.vpcEndpointId ? { vpcEndpointId: r.vpcEndpointId } : {}),
    ...(typeof ui.invokedBy === "string" && ui.invokedBy ? { invokedBy: ui.invokedBy } : {}),
    ...(typeof r.userAgent === "string" ? { userAgent: r.userAgent } : {}),
    ...(instanceEvidence ? { instanceEvidence } : {}),
    ...(typeof credentialsIssuedTo === "string" ? { instanceArn: credentialsIssuedTo } : {}),
    ...(typeof sc?.ec2IssuedInVPC === "string" ? { issuedInVpc: sc.ec2IssuedInVPC } : {}),
    ...(typeof ui.accessKeyId === "string" && ui.accessKeyId ? { accessKeyId: ui.accessKeyId } : {}),
  };
}

/** Whether the call was made by AWS on the caller's behalf: `true`, `false` or unknown (`AWS Internal`). */
export function viaAwsService(call: ApiCall): boolean | "unknown" {
  if (call.invokedBy) return true;
  if (call.ip) return false;
  if (/\.amazonaws\.com(\.cn)?$/.test(call.source)) return true;
  return "unknown";
}

/** Whether the credential is an EC2 instance's: `true`, `false` or unknown (only the name says so). */
export function isInstanceCredential(call: ApiCall, trail: TrailKnowledge): boolean | "unknown" {
  if (call.instanceEvidence === "yes" || trail.instanceSessions.has(call.sessionArn)) return true;
  return call.instanceEvidence === "name" ? "unknown" : false;
}

const present = (...values: string[]): ContextValue => ({ kind: "present", values });
const UNKNOWN: ContextValue = { kind: "unknown" };

/**
 * The request context of a call, per the table at the top of this file.
 *
 * @example contextOf(call, trail).keys.get("aws:sourceip")
 */
export function contextOf(call: ApiCall, trail: TrailKnowledge): RequestContext {
  const keys = new Map<string, ContextValue>();
  keys.set("aws:principalarn", present(call.roleArn));
  if (call.account) keys.set("aws:principalaccount", present(call.account));
  const via = viaAwsService(call);
  keys.set("aws:viaawsservice", via === "unknown" ? UNKNOWN : present(String(via)));
  if (call.vpcEndpointId) {
    keys.set("aws:sourcevpce", present(call.vpcEndpointId));
    const vpc = trail.endpointVpcs.get(call.vpcEndpointId);
    // Through an endpoint the key is there; only its value may be unrecorded.
    keys.set("aws:sourcevpc", vpc ? present(vpc) : { kind: "opaque" });
    if (call.ip) keys.set("aws:vpcsourceip", present(call.ip));
  } else if (call.ip && isPrivateAddress(call.ip)) {
    // A private source without an endpoint id: the path is not recorded.
    for (const k of ["aws:sourceip", "aws:sourcevpce", "aws:sourcevpc", "aws:vpcsourceip"]) keys.set(k, UNKNOWN);
  } else if (call.ip) {
    keys.set("aws:sourceip", present(call.ip));
  } else {
    // A service name or `AWS Internal` in sourceIPAddress: the network keys are not recorded.
    for (const k of ["aws:sourceip", "aws:sourcevpce", "aws:sourcevpc", "aws:vpcsourceip"]) keys.set(k, UNKNOWN);
  }
  // Lambda puts the function's ARN in the context of its credentials: on every call from the
  // function's code (and from a copy of its keys), and on the few Lambda makes for the code (logs,
  // X-Ray, EFS); not on the calls Lambda makes with the role for itself (event source mappings,
  // ENIs, environment decryption), which come from Lambda's network.
  if (trail.workloadSessions?.get(call.sessionArn) === "lambda") {
    const forTheCode = /^(logs|xray|elasticfilesystem):/.test(call.action);
    if (viaAwsService(call) !== true || forTheCode) {
      const arn = `arn:aws:lambda:${call.region}:${call.account}:function:${call.sessionName}`;
      keys.set("lambda:sourcefunctionarn", present(arn));
    }
  }
  const instance = isInstanceCredential(call, trail);
  if (instance === "unknown") {
    for (const k of ["ec2:sourceinstancearn", "aws:ec2instancesourcevpc", "aws:ec2instancesourceprivateipv4"]) {
      keys.set(k, UNKNOWN);
    }
  } else if (instance) {
    keys.set("ec2:sourceinstancearn", call.instanceArn ? present(call.instanceArn) : { kind: "opaque" });
    keys.set("aws:ec2instancesourcevpc", call.issuedInVpc ? present(call.issuedInVpc) : UNKNOWN);
    keys.set("aws:ec2instancesourceprivateipv4", UNKNOWN);
  }
  return { action: call.action, keys };
}

/**
 * The credential a call was made with, as detection tells them apart: a Lambda function's execution
 * environments share one session name (the function's) but each has its own key; every other
 * session is one credential across its rotations.
 *
 * @example credentialOf(call, trail) // "arn:aws:sts::…:assumed-role/app/i-0abc…" or "key:ASIA…"
 */
export function credentialOf(call: ApiCall, trail: TrailKnowledge): string {
  return trail.workloadSessions?.get(call.sessionArn) === "lambda" && call.accessKeyId
    ? `key:${call.accessKeyId}`
    : call.sessionArn;
}

const WORKLOAD_SERVICES: ReadonlyMap<string, WorkloadKind> = new Map([
  ["ecs-tasks.amazonaws.com", "ecs-task"],
  ["lambda.amazonaws.com", "lambda"],
]);

/** Learns, from one record, what later contexts need: EC2, ECS and Lambda issuances and endpoints' VPCs. */
export function learnFromRecord(
  r: CloudTrailRecord,
  into: {
    instanceSessions: Set<string>;
    endpointVpcs: Map<string, string>;
    workloadSessions?: Map<string, WorkloadKind>;
  },
): void {
  if (r.eventName === "AssumeRole" && !r.errorCode) {
    const arn = (r.responseElements as { assumedRoleUser?: { arn?: unknown } } | null | undefined)?.assumedRoleUser
      ?.arn;
    if (typeof arn !== "string") return;
    // The issuing service, as the engine reads it (src/engine/event.ts).
    const ui = r.userIdentity;
    const service =
      typeof ui?.invokedBy === "string"
        ? ui.invokedBy
        : ui?.type === "AWSService" && typeof r.sourceIPAddress === "string"
          ? r.sourceIPAddress
          : undefined;
    if (service === "ec2.amazonaws.com") into.instanceSessions.add(arn);
    const workload = service ? WORKLOAD_SERVICES.get(service) : undefined;
    if (workload) into.workloadSessions?.set(arn, workload);
  } else if (r.eventName === "CreateVpcEndpoint" && !r.errorCode) {
    const vpcId = (r.requestParameters as { vpcId?: unknown } | null | undefined)?.vpcId;
    const resp = r.responseElements as Record<string, unknown> | null | undefined;
    const nested = (resp?.CreateVpcEndpointResponse as { vpcEndpoint?: Record<string, unknown> } | undefined)
      ?.vpcEndpoint;
    const endpoint = nested ?? (resp?.vpcEndpoint as Record<string, unknown> | undefined);
    const id = endpoint?.vpcEndpointId;
    const vpc = typeof vpcId === "string" ? vpcId : endpoint?.vpcId;
    if (typeof id === "string" && typeof vpc === "string") into.endpointVpcs.set(id, vpc);
  }
}
