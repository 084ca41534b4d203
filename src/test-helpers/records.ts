/**
 * Builders for CloudTrail records in tests, shaped after real records (see testdata/ and
 * docs/cloudtrail-format.md). Only the fields that matter are set unless a test overrides more.
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";

export const ACCOUNT = "111122223333";
export const ROLE = "web-server";
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;

let counter = 0;
/** Deterministic, unique GUID-shaped event ids. */
export function eventId(): string {
  counter++;
  const hex = counter.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${hex}`;
}

export function at(minutes: number, base = "2026-11-01T00:00:00Z"): string {
  return new Date(Date.parse(base) + minutes * 60_000).toISOString().replace(".000Z", "Z");
}

export function sessionArn(instanceId: string, role = ROLE, account = ACCOUNT): string {
  return `arn:aws:sts::${account}:assumed-role/${role}/${instanceId}`;
}

/** EC2 fetching instance-profile credentials for an instance. */
export function ec2Issuance(
  instanceId: string,
  accessKeyId: string,
  time: string,
  o: { role?: string; account?: string; region?: string; service?: string } = {},
): CloudTrailRecord {
  const account = o.account ?? ACCOUNT;
  const role = o.role ?? ROLE;
  const service = o.service ?? "ec2.amazonaws.com";
  return {
    eventVersion: "1.08",
    userIdentity: { type: "AWSService", invokedBy: service },
    eventTime: time,
    eventSource: "sts.amazonaws.com",
    eventName: "AssumeRole",
    awsRegion: o.region ?? "us-east-1",
    sourceIPAddress: service,
    userAgent: service,
    requestParameters: { roleArn: `arn:aws:iam::${account}:role/${role}`, roleSessionName: instanceId },
    responseElements: {
      credentials: { accessKeyId, sessionToken: "FAKE-TOKEN", expiration: "Nov 1, 2026 6:00:00 AM" },
      assumedRoleUser: { assumedRoleId: `AROAEXAMPLE:${instanceId}`, arn: sessionArn(instanceId, role, account) },
    },
    requestID: eventId(),
    eventID: eventId(),
    readOnly: true,
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: "Management",
  };
}

export interface CallOptions {
  name?: string;
  source?: string;
  region?: string;
  userAgent?: string;
  delivery?: "1.0" | "2.0" | null;
  vpce?: string;
  vpceAccount?: string;
  invokedBy?: string;
  errorCode?: string;
  role?: string;
  account?: string;
  requestParameters?: Record<string, unknown>;
  responseElements?: Record<string, unknown>;
  id?: string;
}

/** A call made with a role session's credentials. */
export function call(
  sessionName: string,
  accessKeyId: string,
  ip: string,
  time: string,
  o: CallOptions = {},
): CloudTrailRecord {
  const account = o.account ?? ACCOUNT;
  const role = o.role ?? ROLE;
  const delivery = o.delivery === undefined ? "2.0" : o.delivery;
  return {
    eventVersion: "1.09",
    userIdentity: {
      type: "AssumedRole",
      principalId: `AROAEXAMPLE:${sessionName}`,
      arn: sessionArn(sessionName, role, account),
      accountId: account,
      accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: "Role",
          principalId: "AROAEXAMPLE",
          arn: `arn:aws:iam::${account}:role/${role}`,
          accountId: account,
          userName: role,
        },
        attributes: { creationDate: time, mfaAuthenticated: "false" },
        ...(delivery ? { ec2RoleDelivery: delivery } : {}),
      },
      ...(o.invokedBy ? { invokedBy: o.invokedBy } : {}),
    },
    eventTime: time,
    eventSource: o.source ?? "ec2.amazonaws.com",
    eventName: o.name ?? "DescribeInstances",
    awsRegion: o.region ?? "us-east-1",
    sourceIPAddress: ip,
    userAgent: o.userAgent ?? "aws-sdk-java/1.12.600 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17",
    requestParameters: o.requestParameters ?? null,
    responseElements: o.responseElements ?? null,
    requestID: eventId(),
    eventID: o.id ?? eventId(),
    readOnly: true,
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: "Management",
    ...(o.errorCode ? { errorCode: o.errorCode } : {}),
    ...(o.vpce ? { vpcEndpointId: o.vpce } : {}),
    ...(o.vpceAccount ? { vpcEndpointAccountId: o.vpceAccount } : {}),
  };
}

/** An EC2 API call by a person or tool (IAM user) — e.g. AssociateAddress for an instance. */
export function userCall(
  name: string,
  time: string,
  requestParameters: Record<string, unknown>,
  responseElements: Record<string, unknown> | null = null,
): CloudTrailRecord {
  return {
    eventVersion: "1.08",
    userIdentity: {
      type: "IAMUser",
      principalId: "AIDAEXAMPLE",
      arn: `arn:aws:iam::${ACCOUNT}:user/ops`,
      accountId: ACCOUNT,
      accessKeyId: "AKIAEXAMPLEOPS",
      userName: "ops",
    },
    eventTime: time,
    eventSource: "ec2.amazonaws.com",
    eventName: name,
    awsRegion: "us-east-1",
    sourceIPAddress: "198.51.100.10",
    userAgent: "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64",
    requestParameters,
    responseElements,
    requestID: eventId(),
    eventID: eventId(),
    eventType: "AwsApiCall",
    recipientAccountId: ACCOUNT,
    eventCategory: "Management",
  };
}
