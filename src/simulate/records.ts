/**
 * Builders for CloudTrail records in the shapes real logs have (field order included: CloudTrail
 * writes `eventVersion, userIdentity, eventTime, …` and so do these). Identifiers come from the
 * caller's seeded generator; keys and tokens are obviously fake.
 */
import { type Rng, UPPER_ALNUM } from "./prng.js";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json | undefined };
export type JsonObject = { [k: string]: Json | undefined };

/** A role in one of the simulated accounts. */
export interface RoleRef {
  readonly name: string;
  readonly arn: string;
  /** `AROA…`: the role's unique id, the first half of a session's principalId. */
  readonly roleId: string;
  readonly accountId: string;
}

export interface IamUserRef {
  readonly name: string;
  readonly arn: string;
  readonly userId: string;
  readonly accountId: string;
  readonly accessKeyId: string;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** `ASIA…` (temporary) or `AKIA…` (long-term) access key id: 20 characters, like the real ones. */
export function accessKeyId(rng: Rng, prefix: "ASIA" | "AKIA" = "ASIA"): string {
  return prefix + rng.chars(16, BASE32);
}

/** A session token that is plainly not one: the marker makes any accidental use fail loudly. */
export function fakeSessionToken(rng: Rng): string {
  return `FwoGZXIvYXdzEXAMPLE//SIMULATED//${rng.chars(40, BASE32)}`;
}

export function uniqueId(rng: Rng, prefix: "AROA" | "AIDA"): string {
  return prefix + rng.chars(17, BASE32);
}

let cachedDay = Number.NaN;
let cachedDayPrefix = "";
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));

/** `2024-06-03T18:04:05Z`: CloudTrail's eventTime (second precision, UTC). */
export function isoSeconds(ms: number): string {
  // Called for every record: format the date part once per day and the time by arithmetic.
  const day = Math.floor(ms / 86_400_000);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDayPrefix = new Date(day * 86_400_000).toISOString().slice(0, 11);
  }
  const secs = Math.floor((ms - day * 86_400_000) / 1000);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  return `${cachedDayPrefix}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[secs % 60]}Z`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** STS's `expiration` text: `Jun 4, 2024, 12:19:07 AM` — not ISO 8601, as in real records. */
export function stsExpiration(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  const mm = String(d.getUTCMinutes()).padStart(2, "0");
  const ss = String(d.getUTCSeconds()).padStart(2, "0");
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ${h12}:${mm}:${ss} ${h < 12 ? "AM" : "PM"}`;
}

export function sessionArn(role: RoleRef, sessionName: string): string {
  return `arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${sessionName}`;
}

/** The identity of a call made with role-session credentials. */
export function roleSessionIdentity(
  role: RoleRef,
  sessionName: string,
  key: string,
  creationDate: string,
  options: { ec2RoleDelivery?: "1.0" | "2.0"; invokedBy?: string; ec2IssuedInVPC?: string } = {},
): JsonObject {
  const sessionContext: JsonObject = {
    sessionIssuer: {
      type: "Role",
      principalId: role.roleId,
      arn: role.arn,
      accountId: role.accountId,
      userName: role.name,
    },
    webIdFederationData: {},
    attributes: { creationDate, mfaAuthenticated: "false" },
  };
  if (options.ec2RoleDelivery) sessionContext.ec2RoleDelivery = options.ec2RoleDelivery;
  if (options.ec2IssuedInVPC) sessionContext.ec2IssuedInVPC = options.ec2IssuedInVPC;
  const identity: JsonObject = {
    type: "AssumedRole",
    principalId: `${role.roleId}:${sessionName}`,
    arn: sessionArn(role, sessionName),
    accountId: role.accountId,
    accessKeyId: key,
    sessionContext,
  };
  if (options.invokedBy) identity.invokedBy = options.invokedBy;
  return identity;
}

export function iamUserIdentity(user: IamUserRef, key = user.accessKeyId, console = false): JsonObject {
  const identity: JsonObject = {
    type: "IAMUser",
    principalId: user.userId,
    arn: user.arn,
    accountId: user.accountId,
    accessKeyId: key,
    userName: user.name,
  };
  if (console) {
    identity.sessionContext = {
      sessionIssuer: {},
      webIdFederationData: {},
      attributes: { creationDate: "", mfaAuthenticated: "true" },
    };
  }
  return identity;
}

export function awsServiceIdentity(service: string): JsonObject {
  return { type: "AWSService", invokedBy: service };
}

/** Everything a record needs beyond its identity and payload. */
export interface CallSpec {
  readonly time: number;
  readonly account: string;
  readonly region: string;
  readonly identity: JsonObject;
  readonly source: string;
  readonly name: string;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly requestParameters: Json;
  readonly responseElements?: Json;
  readonly additionalEventData?: JsonObject;
  readonly resources?: Json[];
  readonly readOnly: boolean;
  readonly category?: "Management" | "Data";
  readonly eventType?: "AwsApiCall" | "AwsConsoleSignIn" | "AwsServiceEvent";
  readonly eventVersion?: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly vpcEndpointId?: string;
  readonly vpcEndpointAccountId?: string;
  readonly sharedEventID?: string;
  /** False for calls AWS makes internally (no TLS session with a client). */
  readonly tls?: boolean;
  readonly requestId?: string;
  readonly sessionCredentialFromConsole?: boolean;
}

/** A CloudTrail record for an API call. */
export function apiCall(rng: Rng, spec: CallSpec): JsonObject {
  const category = spec.category ?? "Management";
  const r: JsonObject = {
    eventVersion: spec.eventVersion ?? (category === "Data" ? "1.10" : "1.09"),
    userIdentity: spec.identity,
    eventTime: isoSeconds(spec.time),
    eventSource: spec.source,
    eventName: spec.name,
    awsRegion: spec.region,
    sourceIPAddress: spec.sourceIp,
    userAgent: spec.userAgent,
  };
  if (spec.errorCode) {
    r.errorCode = spec.errorCode;
    r.errorMessage = spec.errorMessage ?? "User is not authorized to perform this operation";
  }
  r.requestParameters = spec.requestParameters;
  r.responseElements = spec.responseElements ?? null;
  if (spec.additionalEventData) r.additionalEventData = spec.additionalEventData;
  r.requestID = spec.requestId ?? rng.uuid();
  r.eventID = rng.uuid();
  r.readOnly = spec.readOnly;
  if (spec.resources) r.resources = spec.resources;
  r.eventType = spec.eventType ?? "AwsApiCall";
  r.managementEvent = category === "Management";
  r.recipientAccountId = spec.account;
  if (spec.sharedEventID) r.sharedEventID = spec.sharedEventID;
  if (spec.vpcEndpointId) r.vpcEndpointId = spec.vpcEndpointId;
  if (spec.vpcEndpointAccountId) r.vpcEndpointAccountId = spec.vpcEndpointAccountId;
  r.eventCategory = category;
  if (spec.tls !== false && isAddress(spec.sourceIp)) {
    const service = spec.source.replace(/\.amazonaws\.com$/, "");
    r.tlsDetails = {
      tlsVersion: "TLSv1.3",
      cipherSuite: "TLS_AES_128_GCM_SHA256",
      clientProvidedHostHeader: `${service}.${spec.region}.amazonaws.com`,
    };
  }
  if (spec.sessionCredentialFromConsole) r.sessionCredentialFromConsole = "true";
  return r;
}

function isAddress(s: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(s) || s.includes(":");
}

/** Issued credentials, as the simulator tracks them. */
export interface IssuedKey {
  readonly accessKeyId: string;
  /** ISO eventTime of the issuing call: `sessionContext.attributes.creationDate` of its calls. */
  readonly creationDate: string;
}

/**
 * An `AssumeRole` made by an AWS service for a workload: EC2 for an instance profile, ECS for a
 * task role, Lambda for a function, Config for its service role.
 */
export function serviceAssumeRole(
  rng: Rng,
  spec: {
    time: number;
    region: string;
    role: RoleRef;
    sessionName: string;
    service: string;
    key: string;
    lifetimeMs: number;
    sharedEventID?: string;
  },
): JsonObject {
  const { role, sessionName } = spec;
  return apiCall(rng, {
    time: spec.time,
    account: role.accountId,
    region: spec.region,
    identity: awsServiceIdentity(spec.service),
    source: "sts.amazonaws.com",
    name: "AssumeRole",
    sourceIp: spec.service,
    userAgent: spec.service,
    requestParameters: { roleArn: role.arn, roleSessionName: sessionName },
    responseElements: {
      credentials: {
        accessKeyId: spec.key,
        sessionToken: fakeSessionToken(rng),
        expiration: stsExpiration(spec.time + spec.lifetimeMs),
      },
      assumedRoleUser: { assumedRoleId: `${role.roleId}:${sessionName}`, arn: sessionArn(role, sessionName) },
    },
    resources: [{ accountId: role.accountId, type: "AWS::IAM::Role", ARN: role.arn }],
    readOnly: true,
    eventVersion: "1.08",
    sharedEventID: spec.sharedEventID ?? rng.uuid(),
    tls: false,
  });
}

/** An `AssumeRole` made by a person or a pipeline with their own credentials. */
export function userAssumeRole(
  rng: Rng,
  spec: {
    time: number;
    region: string;
    caller: JsonObject;
    sourceIp: string;
    userAgent: string;
    role: RoleRef;
    sessionName: string;
    key: string;
  },
): JsonObject {
  const { role, sessionName } = spec;
  return apiCall(rng, {
    time: spec.time,
    account: role.accountId,
    region: spec.region,
    identity: spec.caller,
    source: "sts.amazonaws.com",
    name: "AssumeRole",
    sourceIp: spec.sourceIp,
    userAgent: spec.userAgent,
    requestParameters: { roleArn: role.arn, roleSessionName: sessionName, durationSeconds: 3600 },
    responseElements: {
      credentials: {
        accessKeyId: spec.key,
        sessionToken: fakeSessionToken(rng),
        expiration: stsExpiration(spec.time + 3600_000),
      },
      assumedRoleUser: { assumedRoleId: `${role.roleId}:${sessionName}`, arn: sessionArn(role, sessionName) },
    },
    resources: [{ accountId: role.accountId, type: "AWS::IAM::Role", ARN: role.arn }],
    readOnly: true,
  });
}

/** S3's request ids are 16 upper-case characters, not UUIDs. */
export function s3RequestId(rng: Rng): string {
  return rng.chars(16, UPPER_ALNUM);
}

/** S3's `x-amz-id-2`: opaque base64. */
export function s3HostId(rng: Rng): string {
  return `${rng.chars(60, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}=`;
}
