/**
 * The API calls workloads make, with request and response payloads shaped like the real ones.
 * Each action says which VPC endpoint service would carry it and whether it has a dual-stack
 * (IPv6) endpoint, so the fleet can route it the way a real VPC would.
 */
import type { Rng } from "./prng.js";
import { type Json, type JsonObject, s3HostId, s3RequestId } from "./records.js";

/** Services the simulated VPCs may have endpoints for (S3 as a gateway endpoint, the rest interface). */
export type EndpointService = "s3" | "kms" | "secretsmanager" | "sts";

export interface ActionTarget {
  readonly accountId: string;
  readonly region: string;
  readonly bucket: string;
  readonly kmsKeyArn: string;
  readonly instanceId?: string;
  readonly eniId?: string;
  readonly appName: string;
}

export interface ActionPayload {
  readonly requestParameters: Json;
  readonly responseElements?: Json;
  readonly additionalEventData?: JsonObject;
  readonly resources?: Json[];
  readonly requestId?: string;
}

export interface Action {
  readonly source: string;
  readonly name: string;
  readonly readOnly: boolean;
  readonly category: "Management" | "Data";
  readonly endpoint?: EndpointService;
  readonly dualStack: boolean;
  build(rng: Rng, t: ActionTarget): ActionPayload;
}

const OBJECT_PREFIXES = ["reports", "uploads", "exports", "cache", "thumbnails", "events", "batches"];

function objectKey(rng: Rng, app: string): string {
  return `${app}/${rng.pick(OBJECT_PREFIXES)}/2024/06/${rng.hex(12)}.${rng.pick(["json", "parquet", "png", "csv.gz"])}`;
}

function s3Object(rng: Rng, t: ActionTarget, verb: "GET" | "PUT" | "HEAD"): ActionPayload {
  const key = objectKey(rng, t.appName);
  return {
    requestParameters: {
      bucketName: t.bucket,
      Host: `${t.bucket}.s3.${t.region}.amazonaws.com`,
      key,
    },
    responseElements: verb === "PUT" ? { "x-amz-server-side-encryption": "aws:kms" } : null,
    additionalEventData: {
      SignatureVersion: "SigV4",
      CipherSuite: "TLS_AES_128_GCM_SHA256",
      bytesTransferredIn: verb === "PUT" ? 1024 + rng.int(400_000) : 0,
      AuthenticationMethod: "AuthHeader",
      "x-amz-id-2": s3HostId(rng),
      bytesTransferredOut: verb === "GET" ? 512 + rng.int(2_000_000) : 0,
    },
    resources: [
      { type: "AWS::S3::Object", ARN: `arn:aws:s3:::${t.bucket}/${key}` },
      { accountId: t.accountId, type: "AWS::S3::Bucket", ARN: `arn:aws:s3:::${t.bucket}` },
    ],
    requestId: s3RequestId(rng),
  };
}

function kmsResources(t: ActionTarget): Json[] {
  return [{ accountId: t.accountId, type: "AWS::KMS::Key", ARN: t.kmsKeyArn }];
}

function tableArn(t: ActionTarget): string {
  return `arn:aws:dynamodb:${t.region}:${t.accountId}:table/${t.appName}-state`;
}

function queueUrl(t: ActionTarget): string {
  return `https://sqs.${t.region}.amazonaws.com/${t.accountId}/${t.appName}-jobs`;
}

export const ACTIONS = {
  s3GetObject: {
    source: "s3.amazonaws.com",
    name: "GetObject",
    readOnly: true,
    category: "Data",
    endpoint: "s3",
    dualStack: true,
    build: (rng, t) => s3Object(rng, t, "GET"),
  },
  s3PutObject: {
    source: "s3.amazonaws.com",
    name: "PutObject",
    readOnly: false,
    category: "Data",
    endpoint: "s3",
    dualStack: true,
    build: (rng, t) => s3Object(rng, t, "PUT"),
  },
  s3HeadObject: {
    source: "s3.amazonaws.com",
    name: "HeadObject",
    readOnly: true,
    category: "Data",
    endpoint: "s3",
    dualStack: true,
    build: (rng, t) => s3Object(rng, t, "HEAD"),
  },
  kmsDecrypt: {
    source: "kms.amazonaws.com",
    name: "Decrypt",
    readOnly: true,
    category: "Management",
    endpoint: "kms",
    dualStack: false,
    build: (_rng, t) => ({
      requestParameters: { encryptionAlgorithm: "SYMMETRIC_DEFAULT", keyId: t.kmsKeyArn },
      resources: kmsResources(t),
    }),
  },
  kmsGenerateDataKey: {
    source: "kms.amazonaws.com",
    name: "GenerateDataKey",
    readOnly: true,
    category: "Management",
    endpoint: "kms",
    dualStack: false,
    build: (_rng, t) => ({
      requestParameters: { keyId: t.kmsKeyArn, keySpec: "AES_256" },
      resources: kmsResources(t),
    }),
  },
  getSecretValue: {
    source: "secretsmanager.amazonaws.com",
    name: "GetSecretValue",
    readOnly: true,
    category: "Management",
    endpoint: "secretsmanager",
    dualStack: false,
    build: (rng, t) => ({
      requestParameters: {
        secretId: `arn:aws:secretsmanager:${t.region}:${t.accountId}:secret:${t.appName}/db-${rng.chars(6, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")}`,
      },
    }),
  },
  ssmGetParameter: {
    source: "ssm.amazonaws.com",
    name: "GetParameter",
    readOnly: true,
    category: "Management",
    dualStack: true,
    build: (rng, t) => ({
      requestParameters: {
        name: `/${t.appName}/${rng.pick(["feature-flags", "endpoint", "pool-size"])}`,
        withDecryption: false,
      },
    }),
  },
  ssmUpdateInstanceInformation: {
    source: "ssm.amazonaws.com",
    name: "UpdateInstanceInformation",
    readOnly: false,
    category: "Management",
    dualStack: true,
    build: (rng, t) => ({
      requestParameters: {
        instanceId: t.instanceId ?? "",
        agentVersion: "3.3.380.0",
        agentStatus: "Active",
        platformType: "Linux",
        platformName: "Amazon Linux",
        platformVersion: "2023",
        iPAddress: `10.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`,
        computerName: `ip-10-0-0-1.${t.region}.compute.internal`,
        agentName: "amazon-ssm-agent",
        availabilityZone: `${t.region}a`,
      },
    }),
  },
  ec2DescribeTags: {
    source: "ec2.amazonaws.com",
    name: "DescribeTags",
    readOnly: true,
    category: "Management",
    dualStack: true,
    build: (_rng, t) => ({
      requestParameters: {
        filterSet: { items: [{ name: "resource-id", valueSet: { items: [{ value: t.instanceId ?? "" }] } }] },
      },
    }),
  },
  ec2DescribeInstances: {
    source: "ec2.amazonaws.com",
    name: "DescribeInstances",
    readOnly: true,
    category: "Management",
    dualStack: true,
    build: (_rng, t) => ({
      requestParameters: {
        instancesSet: {},
        filterSet: { items: [{ name: "tag:app", valueSet: { items: [{ value: t.appName }] } }] },
      },
    }),
  },
  ec2DescribeNetworkInterfaces: {
    source: "ec2.amazonaws.com",
    name: "DescribeNetworkInterfaces",
    readOnly: true,
    category: "Management",
    dualStack: true,
    build: (_rng, t) => ({
      requestParameters: {
        networkInterfaceIdSet: {},
        filterSet: {
          items: [{ name: "attachment.instance-id", valueSet: { items: [{ value: t.instanceId ?? "" }] } }],
        },
      },
    }),
  },
  dynamodbGetItem: {
    source: "dynamodb.amazonaws.com",
    name: "GetItem",
    readOnly: true,
    category: "Data",
    dualStack: false,
    build: (rng, t) => ({
      requestParameters: { tableName: `${t.appName}-state`, key: { pk: `user#${rng.hex(8)}` } },
      resources: [{ accountId: t.accountId, type: "AWS::DynamoDB::Table", ARN: tableArn(t) }],
    }),
  },
  dynamodbPutItem: {
    source: "dynamodb.amazonaws.com",
    name: "PutItem",
    readOnly: false,
    category: "Data",
    dualStack: false,
    build: (rng, t) => ({
      requestParameters: { tableName: `${t.appName}-state`, key: { pk: `user#${rng.hex(8)}` } },
      resources: [{ accountId: t.accountId, type: "AWS::DynamoDB::Table", ARN: tableArn(t) }],
    }),
  },
  sqsReceiveMessage: {
    source: "sqs.amazonaws.com",
    name: "ReceiveMessage",
    readOnly: true,
    category: "Data",
    dualStack: true,
    build: (_rng, t) => ({
      requestParameters: { queueUrl: queueUrl(t), maxNumberOfMessages: 10, waitTimeSeconds: 20 },
    }),
  },
  sqsSendMessage: {
    source: "sqs.amazonaws.com",
    name: "SendMessage",
    readOnly: false,
    category: "Data",
    dualStack: true,
    build: (_rng, t) => ({ requestParameters: { queueUrl: queueUrl(t) } }),
  },
  sqsDeleteMessage: {
    source: "sqs.amazonaws.com",
    name: "DeleteMessage",
    readOnly: false,
    category: "Data",
    dualStack: true,
    build: (_rng, t) => ({
      requestParameters: { queueUrl: queueUrl(t), receiptHandle: "HIDDEN_DUE_TO_SECURITY_REASONS" },
    }),
  },
  logsCreateLogStream: {
    source: "logs.amazonaws.com",
    name: "CreateLogStream",
    readOnly: false,
    category: "Management",
    dualStack: false,
    build: (rng, t) => ({
      requestParameters: {
        logGroupName: `/app/${t.appName}`,
        logStreamName: `${t.instanceId ?? "task"}-${rng.hex(6)}`,
      },
    }),
  },
  ecrGetAuthorizationToken: {
    source: "ecr.amazonaws.com",
    name: "GetAuthorizationToken",
    readOnly: true,
    category: "Management",
    dualStack: false,
    build: () => ({ requestParameters: { registryIds: [] } }),
  },
  stsGetCallerIdentity: {
    source: "sts.amazonaws.com",
    name: "GetCallerIdentity",
    readOnly: true,
    category: "Management",
    endpoint: "sts",
    dualStack: false,
    build: () => ({ requestParameters: null }),
  },
  /** The VPC CNI on an EKS node adds addresses to the node's own ENI. */
  ec2AssignPrivateIpAddresses: {
    source: "ec2.amazonaws.com",
    name: "AssignPrivateIpAddresses",
    readOnly: false,
    category: "Management",
    dualStack: false,
    build: (_rng, t) => ({
      requestParameters: { networkInterfaceId: t.eniId ?? "", secondaryPrivateIpAddressCount: 5 },
      responseElements: { requestId: "", _return: true },
    }),
  },
  secretsListSecrets: {
    source: "secretsmanager.amazonaws.com",
    name: "ListSecrets",
    readOnly: true,
    category: "Management",
    endpoint: "secretsmanager",
    dualStack: false,
    build: () => ({ requestParameters: { maxResults: 100 } }),
  },
  iamListRoles: {
    source: "iam.amazonaws.com",
    name: "ListRoles",
    readOnly: true,
    category: "Management",
    dualStack: false,
    build: () => ({ requestParameters: null }),
  },
  iamListAttachedRolePolicies: {
    source: "iam.amazonaws.com",
    name: "ListAttachedRolePolicies",
    readOnly: true,
    category: "Management",
    dualStack: false,
    build: (_rng, t) => ({ requestParameters: { roleName: t.appName } }),
  },
  s3ListBuckets: {
    source: "s3.amazonaws.com",
    name: "ListBuckets",
    readOnly: true,
    category: "Management",
    dualStack: false,
    build: (_rng, t) => ({ requestParameters: { Host: `s3.${t.region}.amazonaws.com` } }),
  },
  ec2DescribeSecurityGroups: {
    source: "ec2.amazonaws.com",
    name: "DescribeSecurityGroups",
    readOnly: true,
    category: "Management",
    dualStack: true,
    build: () => ({ requestParameters: { securityGroupSet: {}, securityGroupIdSet: {}, filterSet: {} } }),
  },
} satisfies Record<string, Action>;

export type ActionName = keyof typeof ACTIONS;

/** What each kind of workload calls, with weights. */
export const PROFILES: Record<string, readonly (readonly [ActionName, number])[]> = {
  web: [
    ["s3GetObject", 25],
    ["dynamodbGetItem", 20],
    ["dynamodbPutItem", 6],
    ["kmsDecrypt", 10],
    ["getSecretValue", 4],
    ["sqsSendMessage", 10],
    ["ssmGetParameter", 4],
    ["ec2DescribeTags", 2],
    ["logsCreateLogStream", 1],
  ],
  worker: [
    ["sqsReceiveMessage", 30],
    ["sqsDeleteMessage", 15],
    ["s3GetObject", 15],
    ["s3PutObject", 15],
    ["kmsGenerateDataKey", 8],
    ["kmsDecrypt", 6],
    ["dynamodbPutItem", 6],
    ["ec2DescribeTags", 1],
  ],
  data: [
    ["s3GetObject", 30],
    ["s3PutObject", 20],
    ["s3HeadObject", 10],
    ["kmsGenerateDataKey", 10],
    ["kmsDecrypt", 10],
    ["getSecretValue", 2],
    ["ec2DescribeInstances", 1],
  ],
  eks: [
    ["stsGetCallerIdentity", 12],
    ["ecrGetAuthorizationToken", 6],
    ["ec2DescribeNetworkInterfaces", 8],
    ["ec2DescribeInstances", 4],
    ["s3GetObject", 12],
    ["kmsDecrypt", 4],
    ["logsCreateLogStream", 3],
    ["ec2AssignPrivateIpAddresses", 1],
  ],
  task: [
    ["sqsReceiveMessage", 20],
    ["sqsDeleteMessage", 10],
    ["dynamodbGetItem", 15],
    ["dynamodbPutItem", 10],
    ["s3GetObject", 10],
    ["s3PutObject", 6],
    ["kmsDecrypt", 5],
    ["getSecretValue", 2],
  ],
  lambda: [
    ["dynamodbGetItem", 20],
    ["dynamodbPutItem", 15],
    ["s3GetObject", 10],
    ["s3PutObject", 8],
    ["sqsSendMessage", 10],
    ["kmsDecrypt", 5],
  ],
};
