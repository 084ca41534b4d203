/**
 * The parts of a CloudTrail record firstcall reads. Records carry many more fields; they are kept
 * (the type is open) but never relied upon. See docs/cloudtrail-format.md for the field reference.
 */
export interface CloudTrailRecord {
  eventVersion?: string;
  eventTime?: string;
  /** Logstash/Kafka captures carry this instead of eventTime. */
  "@timestamp"?: string;
  eventSource?: string;
  eventName?: string;
  eventID?: string;
  eventType?: string;
  eventCategory?: string;
  awsRegion?: string;
  sourceIPAddress?: string;
  userAgent?: string;
  errorCode?: string;
  errorMessage?: string;
  recipientAccountId?: string;
  vpcEndpointId?: string;
  vpcEndpointAccountId?: string;
  userIdentity?: UserIdentity;
  requestParameters?: Record<string, unknown> | null;
  responseElements?: Record<string, unknown> | null;
  [field: string]: unknown;
}

export interface UserIdentity {
  type?: string;
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  invokedBy?: string;
  sessionContext?: {
    sessionIssuer?: { type?: string; principalId?: string; arn?: string; accountId?: string; userName?: string };
    attributes?: { creationDate?: string; mfaAuthenticated?: string };
    ec2RoleDelivery?: string;
    ec2IssuedInVPC?: string;
    sourceIdentity?: string;
  };
  inScopeOf?: { issuerType?: string; credentialsIssuedTo?: string; sourceArn?: string; sourceAccount?: string };
  [field: string]: unknown;
}

/** True when the value looks like a CloudTrail record (not an envelope, digest or something else). */
export function looksLikeRecord(value: unknown): value is CloudTrailRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.eventName === "string" ||
    typeof v.eventSource === "string" ||
    (typeof v.eventVersion === "string" && (typeof v.eventTime === "string" || typeof v.eventID === "string"))
  );
}
