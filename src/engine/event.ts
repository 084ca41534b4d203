/**
 * The engine's view of a CloudTrail record: only the fields detection needs, extracted once, so that
 * the (possibly large) record can be dropped right after reading. Records that the engine has no use
 * for (no temporary credential, no issuance, no address change) become `undefined`.
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import type { CredentialKind } from "../findings/finding.js";
import { ipFamily } from "../net/ip.js";

/** An STS call that issued temporary credentials. */
export interface Issuance {
  readonly kind: CredentialKind;
  /** Session ARN (`arn:aws:sts::ACCT:assumed-role/ROLE/NAME`). */
  readonly sessionArn: string;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly instanceId?: string;
  readonly accessKeyId: string;
  /** Who issued: `ec2.amazonaws.com`, `ecs-tasks.amazonaws.com`, a user ARN, … */
  readonly issuer: string;
}

/** Something gave instances a new address, or told us which ENI/endpoint belongs to whom. */
export interface AddressChange {
  readonly instanceIds: readonly string[];
  readonly networkInterfaceIds: readonly string[];
  /** ENI → instance pairs learned from this event (AttachNetworkInterface, RunInstances). */
  readonly eniOwners: readonly (readonly [string, string])[];
  /** VPC endpoints created in your accounts. */
  readonly createdEndpoints: readonly string[];
  /**
   * [interface, private IPv4 address or prefix] pairs assigned by this event (RunInstances,
   * CreateNetworkInterface, AssignPrivateIpAddresses): an instance's secondary addresses.
   */
  readonly privateAddresses: readonly (readonly [string, string])[];
  /** What the event says about addresses and placement (IPv6 blocks, egress addresses). */
  readonly network?: NetworkFacts;
}

/**
 * Address knowledge from EC2 responses: which IPv6 addresses and prefixes an instance, interface,
 * subnet or VPC was given, where instances and interfaces are placed, and the public addresses
 * (NAT gateways, Elastic IPs) an account owns.
 */
export interface NetworkFacts {
  /** [instance, ENI, subnet or VPC id, IPv6 address or CIDR]. */
  readonly ipv6: readonly (readonly [string, string])[];
  /** [instance or ENI id, subnet or VPC id it is placed in]. */
  readonly placement: readonly (readonly [string, string])[];
  /** Public addresses of the event's account: a NAT gateway's or Elastic IP's address and allocation. */
  readonly egress: readonly EgressFact[];
}

export interface EgressFact {
  readonly address?: string;
  readonly allocationId?: string;
  readonly vpcId?: string;
}

export interface EngineEvent {
  /** Event time in ms since the epoch. */
  readonly time: number;
  readonly timeIso: string;
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly region: string;
  readonly account: string;
  readonly sourceIp: string;
  readonly userAgent?: string;
  readonly errorCode?: string;
  readonly vpcEndpointId?: string;
  readonly vpcEndpointAccountId?: string;
  /** Set for calls made with a role session (`userIdentity.type` AssumedRole). */
  readonly caller?: Caller;
  readonly issuance?: Issuance;
  readonly addressChange?: AddressChange;
}

export interface Caller {
  readonly arn: string;
  readonly accessKeyId?: string;
  readonly invokedBy?: string;
  readonly roleArn?: string;
  readonly sessionName: string;
  readonly ec2RoleDelivery?: string;
  /** Evidence from the record itself that this is an EC2 instance credential. */
  readonly instanceHint: boolean;
}

const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/i;

/** EC2 events that give an instance a new address or tell which ENI is whose. */
export const ADDRESS_EVENTS: ReadonlySet<string> = new Set([
  "AssociateAddress",
  "AttachNetworkInterface",
  "AssignPrivateIpAddresses",
  "AssignIpv6Addresses",
  "StartInstances",
  "RunInstances",
  "CreateVpcEndpoint",
  // Address knowledge only (NetworkFacts): IPv6 blocks, placement, egress addresses.
  "CreateNetworkInterface",
  "AssociateSubnetCidrBlock",
  "CreateSubnet",
  "AssociateVpcCidrBlock",
  "CreateVpc",
  "CreateNatGateway",
  "AllocateAddress",
]);

/** STS calls that issue temporary credentials. */
export const ISSUING_CALLS: ReadonlySet<string> = new Set([
  "AssumeRole",
  "AssumeRoleWithWebIdentity",
  "AssumeRoleWithSAML",
]);

export function isInstanceId(s: string): boolean {
  return INSTANCE_ID.test(s);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function items(v: unknown): Record<string, unknown>[] {
  const list = obj(v)?.items ?? v;
  return Array.isArray(list) ? (list.map(obj).filter(Boolean) as Record<string, unknown>[]) : [];
}

/** `arn:PARTITION:iam::ACCT:role/path/NAME` + session name → `arn:PARTITION:sts::ACCT:assumed-role/NAME/SESSION`. */
export function assumedRoleArn(roleArn: string, sessionName: string): string | undefined {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!m) return undefined;
  return `arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/${sessionName}`;
}

/** `arn:…:sts::ACCT:assumed-role/NAME/SESSION` → `arn:…:iam::ACCT:role/NAME` (the path is not in the session ARN). */
export function roleArnOfSession(sessionArn: string): string | undefined {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(sessionArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}

function issuanceOf(r: CloudTrailRecord): Issuance | undefined {
  if (r.eventSource !== "sts.amazonaws.com" || !ISSUING_CALLS.has(r.eventName ?? "") || r.errorCode) return undefined;
  const req = obj(r.requestParameters);
  const resp = obj(r.responseElements);
  const accessKeyId = str(obj(resp?.credentials)?.accessKeyId);
  const roleArn = str(req?.roleArn);
  const sessionName = str(req?.roleSessionName);
  if (!accessKeyId || !roleArn || !sessionName) return undefined;
  const sessionArn = str(obj(resp?.assumedRoleUser)?.arn) ?? assumedRoleArn(roleArn, sessionName);
  if (!sessionArn) return undefined;
  const ui = r.userIdentity;
  const service = str(ui?.invokedBy) ?? (ui?.type === "AWSService" ? str(r.sourceIPAddress) : undefined);
  let kind: CredentialKind;
  if (service === "ec2.amazonaws.com" || r.sourceIPAddress === "ec2.amazonaws.com") kind = "ec2-instance";
  else if (service === "ecs-tasks.amazonaws.com") kind = "ecs-task";
  else if (service === "lambda.amazonaws.com") kind = "lambda";
  else if (service?.endsWith(".amazonaws.com")) kind = "service-role";
  else kind = "assumed-role";
  const issuer = service ?? str(ui?.arn) ?? str(ui?.type) ?? "unknown";
  return {
    kind,
    sessionArn,
    roleArn,
    sessionName,
    ...(kind === "ec2-instance" && isInstanceId(sessionName) ? { instanceId: sessionName } : {}),
    accessKeyId,
    issuer,
  };
}

const PRIVATE_V4 = /^\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?$/;

/**
 * Private IPv4 addresses and prefixes (`privateIpAddress`, `ipv4Prefix` values) anywhere under `v`,
 * a few levels deep. CloudTrail renders EC2's address sets in more than one way (`{items: […]}`,
 * `{item: […]}`, wrapped once more as in `assignedPrivateIpAddressSetType`), so the shape is not
 * assumed; only the key names are.
 */
function privateAddressesIn(v: unknown, into: string[], depth = 0): void {
  if (depth > 6 || v === null || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (const x of v) privateAddressesIn(x, into, depth + 1);
    return;
  }
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    if (key === "privateIpAddress" || key === "ipv4Prefix") {
      if (typeof value === "string" && PRIVATE_V4.test(value) && !into.includes(value)) into.push(value);
    } else if (key !== "association" && key !== "ipv6AddressesSet") privateAddressesIn(value, into, depth + 1);
  }
}

function addressChangeOf(r: CloudTrailRecord): AddressChange | undefined {
  if (r.eventSource !== "ec2.amazonaws.com" || !ADDRESS_EVENTS.has(r.eventName ?? "") || r.errorCode) return undefined;
  const req = obj(r.requestParameters) ?? {};
  const resp = obj(r.responseElements) ?? {};
  const instanceIds: string[] = [];
  const enis: string[] = [];
  const eniOwners: [string, string][] = [];
  const createdEndpoints: string[] = [];
  const privateAddresses: [string, string][] = [];
  const instanceId = str(req.instanceId);
  const eni = str(req.networkInterfaceId);
  const assign = (niId: string, ...from: unknown[]) => {
    const found: string[] = [];
    for (const v of from) privateAddressesIn(v, found);
    for (const a of found) privateAddresses.push([niId, a]);
  };
  switch (r.eventName) {
    case "AssignPrivateIpAddresses": {
      const niId = eni ?? str(resp.networkInterfaceId);
      if (instanceId) instanceIds.push(instanceId);
      if (niId) {
        enis.push(niId);
        assign(niId, req.privateIpAddressesSet, resp.assignedPrivateIpAddressesSet, resp.assignedIpv4PrefixSet);
      }
      break;
    }
    case "AssociateAddress":
    case "AssignIpv6Addresses":
      if (instanceId) instanceIds.push(instanceId);
      if (eni) enis.push(eni);
      break;
    case "CreateNetworkInterface": {
      const ni = obj(resp.networkInterface) ?? obj(obj(resp.CreateNetworkInterfaceResponse)?.networkInterface);
      const niId = str(ni?.networkInterfaceId);
      if (!ni || !niId) break;
      assign(
        niId,
        ni.privateIpAddress ? { privateIpAddress: ni.privateIpAddress } : undefined,
        ni.privateIpAddressesSet,
        ni.ipv4PrefixSet,
      );
      const attachedTo = str(obj(ni.attachment)?.instanceId);
      if (attachedTo) eniOwners.push([niId, attachedTo]);
      break;
    }
    case "AttachNetworkInterface":
      if (instanceId) instanceIds.push(instanceId);
      if (instanceId && eni) eniOwners.push([eni, instanceId]);
      break;
    case "StartInstances":
      for (const it of items(req.instancesSet)) {
        const id = str(it.instanceId);
        if (id) instanceIds.push(id);
      }
      break;
    case "RunInstances":
      for (const inst of items(resp.instancesSet)) {
        const id = str(inst.instanceId);
        if (!id) continue;
        for (const ni of items(inst.networkInterfaceSet)) {
          const niId = str(ni.networkInterfaceId);
          if (!niId) continue;
          eniOwners.push([niId, id]);
          assign(niId, { privateIpAddress: ni.privateIpAddress }, ni.privateIpAddressesSet, ni.ipv4PrefixSet);
        }
      }
      break;
    case "CreateVpcEndpoint": {
      // Real CloudTrail wraps the EC2 response: responseElements.CreateVpcEndpointResponse.vpcEndpoint;
      // the flat forms are read too (older renderings, and the simulator).
      const wrapped = obj(resp.CreateVpcEndpointResponse);
      const id =
        str(obj(wrapped?.vpcEndpoint)?.vpcEndpointId) ??
        str(obj(resp.vpcEndpoint)?.vpcEndpointId) ??
        str(wrapped?.vpcEndpointId);
      if (id) createdEndpoints.push(id);
      break;
    }
  }
  const network = networkFactsOf(r.eventName ?? "", req, resp);
  if (
    !instanceIds.length &&
    !enis.length &&
    !eniOwners.length &&
    !createdEndpoints.length &&
    !privateAddresses.length &&
    !network
  )
    return undefined;
  return {
    instanceIds,
    networkInterfaceIds: enis,
    eniOwners,
    createdEndpoints,
    privateAddresses,
    ...(network ? { network } : {}),
  };
}

/** At most this many IPv6 literals are taken from one record (a response lists a few per interface). */
const MAX_IPV6_PER_RECORD = 64;

/**
 * Every IPv6 address or CIDR literal under a response value, whatever its nesting: CloudTrail
 * renders EC2's XML lists as `{items:[…]}` of strings or of objects (`ipv6Address`, `ipv6Prefix`,
 * `ipv6CidrBlock`), and the exact wrapping differs between calls and over the years. Only IPv6
 * literals are taken, so the walk cannot pick up anything else.
 */
function ipv6LiteralsIn(v: unknown, out: string[] = [], depth = 0): string[] {
  if (out.length >= MAX_IPV6_PER_RECORD || depth > 8) return out;
  if (typeof v === "string") {
    if (v.includes(":") && v.length <= 64 && isIpv6Literal(v) && !out.includes(v)) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) ipv6LiteralsIn(x, out, depth + 1);
  } else if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) ipv6LiteralsIn(x, out, depth + 1);
  }
  return out;
}

function isIpv6Literal(s: string): boolean {
  const slash = s.indexOf("/");
  const address = slash < 0 ? s : s.slice(0, slash);
  if (ipFamily(address) !== 6) return false;
  return slash < 0 || /^(?:[0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$/.test(s.slice(slash + 1));
}

/** Address knowledge of the EC2 calls that carry it (see `NetworkFacts`); undefined when none. */
function networkFactsOf(
  name: string,
  req: Record<string, unknown>,
  resp: Record<string, unknown>,
): NetworkFacts | undefined {
  const ipv6: [string, string][] = [];
  const placement: [string, string][] = [];
  const egress: EgressFact[] = [];
  /** The IPv6 literals and the subnet/VPC of one instance, interface, subnet or VPC description. */
  const describe = (id: string | undefined, item: Record<string, unknown> | undefined, where: boolean) => {
    if (!id || !item) return;
    for (const cidr of ipv6LiteralsIn(item)) ipv6.push([id, cidr]);
    if (!where) return;
    for (const container of [str(item.subnetId), str(item.vpcId)]) if (container) placement.push([id, container]);
  };
  switch (name) {
    case "RunInstances":
      for (const inst of items(resp.instancesSet)) describe(str(inst.instanceId), inst, true);
      break;
    case "CreateNetworkInterface": {
      const ni = obj(resp.networkInterface);
      describe(str(ni?.networkInterfaceId), ni, true);
      break;
    }
    case "AssignIpv6Addresses":
      describe(str(resp.networkInterfaceId) ?? str(req.networkInterfaceId), { req: req.ipv6Addresses, resp }, false);
      break;
    case "AssociateSubnetCidrBlock":
      describe(str(resp.subnetId) ?? str(req.subnetId), obj(resp.ipv6CidrBlockAssociation), false);
      break;
    case "AssociateVpcCidrBlock":
      describe(str(resp.vpcId) ?? str(req.vpcId), obj(resp.ipv6CidrBlockAssociation), false);
      break;
    case "CreateSubnet": {
      const subnet = obj(resp.subnet);
      describe(str(subnet?.subnetId), { set: subnet?.ipv6CidrBlockAssociationSet }, false);
      const subnetId = str(subnet?.subnetId);
      const vpcId = str(subnet?.vpcId);
      if (subnetId && vpcId) placement.push([subnetId, vpcId]);
      break;
    }
    case "CreateVpc": {
      const vpc = obj(resp.vpc);
      describe(str(vpc?.vpcId), { set: vpc?.ipv6CidrBlockAssociationSet }, false);
      break;
    }
    case "CreateNatGateway": {
      // CloudTrail logs it wrapped (`CreateNatGatewayResponse.natGateway`); the bare shape is accepted too.
      const nat = obj(resp.natGateway) ?? obj(obj(resp.CreateNatGatewayResponse)?.natGateway);
      const vpcId = str(nat?.vpcId);
      // A list as `{items:[…]}`, a bare array, or EC2's XML `{item: … }` with one object or several.
      const set = obj(nat?.natGatewayAddressSet);
      const single = obj(set?.item);
      const addresses = single ? [single] : items(set?.item ?? nat?.natGatewayAddressSet);
      if (addresses.length === 0 && str(req.allocationId)) addresses.push({ allocationId: req.allocationId });
      for (const a of addresses) {
        const address = str(a.publicIp);
        const allocationId = str(a.allocationId) ?? str(req.allocationId);
        if (address || allocationId)
          egress.push({
            ...(address ? { address } : {}),
            ...(allocationId ? { allocationId } : {}),
            ...(vpcId ? { vpcId } : {}),
          });
      }
      break;
    }
    case "AllocateAddress":
    case "AssociateAddress": {
      const address = str(resp.publicIp) ?? str(req.publicIp);
      const allocationId = str(resp.allocationId) ?? str(req.allocationId);
      if (address || allocationId)
        egress.push({ ...(address ? { address } : {}), ...(allocationId ? { allocationId } : {}) });
      break;
    }
  }
  if (!ipv6.length && !placement.length && !egress.length) return undefined;
  return { ipv6, placement, egress };
}

function callerOf(r: CloudTrailRecord): Caller | undefined {
  const ui = r.userIdentity;
  if (ui?.type !== "AssumedRole") return undefined;
  const arn = str(ui.arn);
  if (!arn) return undefined;
  const slash = arn.lastIndexOf("/");
  const sessionName = slash === -1 ? "" : arn.slice(slash + 1);
  const sc = ui.sessionContext;
  const ec2RoleDelivery = str(sc?.ec2RoleDelivery);
  const instanceHint =
    ec2RoleDelivery !== undefined ||
    ui.inScopeOf?.issuerType === "AWS::EC2::Instance" ||
    str(sc?.ec2IssuedInVPC) !== undefined ||
    isInstanceId(sessionName);
  const roleArn = str(sc?.sessionIssuer?.arn) ?? roleArnOfSession(arn);
  return {
    arn,
    sessionName,
    instanceHint,
    ...(str(ui.accessKeyId) ? { accessKeyId: ui.accessKeyId as string } : {}),
    ...(str(ui.invokedBy) ? { invokedBy: ui.invokedBy as string } : {}),
    ...(roleArn ? { roleArn } : {}),
    ...(ec2RoleDelivery ? { ec2RoleDelivery } : {}),
  };
}

/**
 * Extracts the engine's view of a record, or undefined when the engine has no use for it.
 * The record must have an `eventTime` (the reader guarantees it).
 *
 * The reader's fast path (`src/reader/fast-extract.ts`) copies only the fields read here
 * (`EXTRACTED_PATHS`, which its test checks against this function) and builds the events of
 * role-session calls itself: a change here needs the same change there, and its differential test
 * fails until it is made.
 */
export function toEngineEvent(r: CloudTrailRecord): EngineEvent | undefined {
  const caller = callerOf(r);
  const issuance = issuanceOf(r);
  const addressChange = addressChangeOf(r);
  if (!caller && !issuance && !addressChange) return undefined;
  const timeIso = r.eventTime as string;
  const time = Date.parse(timeIso);
  if (Number.isNaN(time)) return undefined;
  const ui = r.userIdentity;
  return {
    time,
    timeIso,
    id: str(r.eventID) ?? `${timeIso}/${r.eventSource}/${r.eventName}/${str(r.requestID) ?? ""}`,
    name: str(r.eventName) ?? "",
    source: str(r.eventSource) ?? "",
    region: str(r.awsRegion) ?? "",
    account: str(r.recipientAccountId) ?? str(ui?.accountId) ?? "",
    sourceIp: sourceAddressOf(r.sourceIPAddress),
    ...(str(r.userAgent) ? { userAgent: r.userAgent } : {}),
    ...(str(r.errorCode) ? { errorCode: r.errorCode } : {}),
    ...(str(r.vpcEndpointId) ? { vpcEndpointId: r.vpcEndpointId } : {}),
    ...(str(r.vpcEndpointAccountId) ? { vpcEndpointAccountId: r.vpcEndpointAccountId } : {}),
    ...(caller ? { caller } : {}),
    ...(issuance ? { issuance } : {}),
    ...(addressChange ? { addressChange } : {}),
  };
}

/**
 * `sourceIPAddress` as the engine keeps it: the string itself, or a short JSON rendering of a value
 * that is not a string (so a malformed address is still an address to judge, never "AWS").
 */
function sourceAddressOf(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  return (JSON.stringify(v) ?? String(v)).slice(0, 256);
}

const AWS_SERVICE_SOURCE = /^(?:[a-z0-9-]+\.)+amazonaws\.com(?:\.cn)?$|^AWS Internal$/i;

/**
 * Whether `sourceIPAddress` names AWS itself (a service principal such as `ec2.amazonaws.com`, or
 * `AWS Internal`): such calls are made on your behalf and never bind or alert. Anything else that is
 * not an IP literal is malformed — and judged like an address, never excused.
 */
export function isAwsSource(sourceIp: string): boolean {
  return AWS_SERVICE_SOURCE.test(sourceIp);
}

/** Processing order for events with the same time: issuance, then address changes, then calls. */
export function eventPhase(e: EngineEvent): number {
  if (e.issuance) return 0;
  if (e.addressChange) return 1;
  return 2;
}

/** Total order used everywhere: time, phase, event id. Makes results independent of read order. */
export function compareEvents(a: EngineEvent, b: EngineEvent): number {
  return a.time - b.time || eventPhase(a) - eventPhase(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
