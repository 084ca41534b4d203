/**
 * Placeholder values for required input members. The SDK's compact models carry no patterns,
 * lengths or enums, so values are chosen from the member's type and name: an `InstanceId` gets
 * something shaped like an instance id, a `RoleArn` an IAM role ARN, and so on. The aim is a
 * request that parses, so that AWS gets as far as authorising (and logging) it; the deny-all role
 * then refuses it. Values are deterministic, so two runs send the same requests.
 */
import type { CatalogShape } from "./catalog-types.js";

export interface PlaceholderContext {
  readonly accountId: string;
  readonly region: string;
  /** The service's signing name: used in generic ARNs. */
  readonly service: string;
  /** Member name → value, from `--placeholder Name=value`; wins over every rule below. */
  readonly overrides?: Readonly<Record<string, string>>;
}

/** A placeholder value: what a serializer turns into query keys, JSON, XML or URI labels. */
export type PlaceholderValue =
  | string
  | number
  | boolean
  | Date
  | Uint8Array
  | PlaceholderValue[]
  | { [member: string]: PlaceholderValue };

/** Fixed, so that runs are reproducible; any past time is as good as another. */
export const PLACEHOLDER_TIME = new Date("2020-01-01T00:00:00.000Z");
export const PLACEHOLDER_NAME = "firstcall-trailblazer";
/** A policy document that denies everything: safe even if a call were ever allowed. */
export const DENY_ALL_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}';

type Rule = readonly [RegExp, (ctx: PlaceholderContext) => string];

/** Ordered: the first matching rule wins. Matched against the member name. */
const STRING_RULES: readonly Rule[] = [
  [/^(RoleArn|.*RoleArn)$/, (c) => `arn:aws:iam::${c.accountId}:role/${PLACEHOLDER_NAME}`],
  [/PolicyArn$/, (c) => `arn:aws:iam::${c.accountId}:policy/${PLACEHOLDER_NAME}`],
  [/(Arn|ARN)s?$/, (c) => `arn:aws:${c.service}:${c.region}:${c.accountId}:${PLACEHOLDER_NAME}/${PLACEHOLDER_NAME}`],
  [/^(Bucket|BucketName|SourceBucket|DestinationBucket)$/, (c) => `${PLACEHOLDER_NAME}-${c.accountId}`],
  [/^(Key|ObjectKey|SourceKey)$/, () => `${PLACEHOLDER_NAME}/placeholder`],
  [/^CopySource$/, (c) => `${PLACEHOLDER_NAME}-${c.accountId}/${PLACEHOLDER_NAME}/placeholder`],
  [/(AccountId|AccountID|AwsAccountId|OwnerId|Account)$/, (c) => c.accountId],
  [/^(Region|RegionName|SourceRegion|DestinationRegion)$/, (c) => c.region],
  [/^InstanceIds?$/, () => "i-0123456789abcdef0"],
  [/^VpcIds?$/, () => "vpc-0123456789abcdef0"],
  [/^SubnetIds?$/, () => "subnet-0123456789abcdef0"],
  [/^(SecurityGroupIds?|GroupId)$/, () => "sg-0123456789abcdef0"],
  [/^ImageIds?$/, () => "ami-0123456789abcdef0"],
  [/^VolumeIds?$/, () => "vol-0123456789abcdef0"],
  [/^SnapshotIds?$/, () => "snap-0123456789abcdef0"],
  [/^NetworkInterfaceIds?$/, () => "eni-0123456789abcdef0"],
  [/^AllocationIds?$/, () => "eipalloc-0123456789abcdef0"],
  [/^RouteTableId$/, () => "rtb-0123456789abcdef0"],
  [/^InternetGatewayId$/, () => "igw-0123456789abcdef0"],
  [/^TransitGatewayId$/, () => "tgw-0123456789abcdef0"],
  [/^KeyId$/, () => "00000000-0000-4000-8000-000000000000"],
  [/(ClientToken|ClientRequestToken|IdempotencyToken|RequestToken)$/, () => "00000000-0000-4000-8000-000000000001"],
  [/(PolicyDocument|^Policy$|PolicyText|AssumeRolePolicyDocument)$/, () => DENY_ALL_POLICY],
  [/(Email|EmailAddress)$/, () => "trailblazer@example.com"],
  [/(Url|URL|Uri|URI|Endpoint)$/, () => "https://example.com/"],
  [/(CidrBlock|Cidr|CIDR|CidrIp)$/, () => "10.0.0.0/16"],
  [/(IpAddress|PublicIp|PrivateIpAddress|^Ip)$/, () => "192.0.2.1"],
  [/(Date|Time|Timestamp)$/, () => PLACEHOLDER_TIME.toISOString()],
  [/^(UserName|GroupName|RoleName|PolicyName|InstanceProfileName)$/, () => PLACEHOLDER_NAME],
  [/(Name|Names)$/, () => PLACEHOLDER_NAME],
  [/(Id|ID|Ids|Identifier)$/, () => `${PLACEHOLDER_NAME}-id`],
  [/(Description|Comment|Message)$/, () => "firstcall trailblazer placeholder"],
  [/(Expression|Query|Statement)$/, () => "placeholder"],
  [/(Token)$/, () => "placeholder-token"],
];

/** A placeholder string for a member called `memberName`. */
export function placeholderString(memberName: string, ctx: PlaceholderContext): string {
  const override = ctx.overrides?.[memberName];
  if (override !== undefined) return override;
  for (const [pattern, make] of STRING_RULES) {
    if (pattern.test(memberName)) return make(ctx);
  }
  return "placeholder";
}

function placeholderNumber(memberName: string): number {
  // Sizes and counts are usually bounded below by 1; 1 also suits pagination limits.
  if (/Port$/.test(memberName)) return 443;
  if (/(Seconds|Duration)$/.test(memberName)) return 900;
  return 1;
}

/**
 * Builds the value tree for a shape, from the member name it is reached through.
 *
 * @example
 * placeholderValue("InstanceId", { type: "string" }, ctx); // "i-0123456789abcdef0"
 */
export function placeholderValue(memberName: string, shape: CatalogShape, ctx: PlaceholderContext): PlaceholderValue {
  switch (shape.type) {
    case "structure": {
      const out: Record<string, PlaceholderValue> = {};
      if (shape.recursive) return out;
      for (const [name, member] of Object.entries(shape.members ?? {})) out[name] = placeholderValue(name, member, ctx);
      return out;
    }
    case "list":
      return [placeholderValue(singular(memberName), shape.member ?? { type: "string" }, ctx)];
    case "map": {
      // Map keys are free-form in almost every model (tags, attributes, parameters).
      return { firstcall: placeholderValue("Value", shape.value ?? { type: "string" }, ctx) };
    }
    case "integer":
    case "long":
    case "float":
    case "double": {
      const override = ctx.overrides?.[memberName];
      const n = override === undefined ? Number.NaN : Number(override);
      return Number.isFinite(n) ? n : placeholderNumber(memberName);
    }
    case "boolean":
      return ctx.overrides?.[memberName] === "true";
    case "timestamp":
      return PLACEHOLDER_TIME;
    case "blob":
      return new TextEncoder().encode(ctx.overrides?.[memberName] ?? "firstcall-trailblazer");
    default:
      if (shape.document) return {};
      if (shape.jsonValue) return "{}";
      return placeholderString(memberName, ctx);
  }
}

/** `InstanceIds` → `InstanceId`, so list members get the element rule. */
function singular(name: string): string {
  if (name.endsWith("ies")) return `${name.slice(0, -3)}y`;
  if (name.endsWith("s") && !name.endsWith("ss")) return name.slice(0, -1);
  return name;
}

/** The whole input of an operation: `{}` when it has no required members. */
export function placeholderInput(
  input: CatalogShape | undefined,
  ctx: PlaceholderContext,
): Record<string, PlaceholderValue> {
  if (input === undefined) return {};
  const value = placeholderValue("", input, ctx);
  return typeof value === "object" &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
    ? value
    : {};
}
