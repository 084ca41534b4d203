/**
 * `policy generate`: from the calls the selected roles legitimately made, the policies that would
 * have allowed exactly those paths and denied every other: an IAM managed policy for the roles, the
 * organisation-wide SCP for instance credentials, and their Terraform and CloudFormation forms.
 * The explanation of every statement goes in a Markdown file beside them (`renderMarkdown`).
 *
 * A Deny statement denies only when ALL its conditions hold, and the two network paths carry
 * different keys: a call from a public address has `aws:SourceIp` and no `aws:SourceVpc`/
 * `aws:SourceVpce`; a call through a VPC endpoint has `aws:SourceVpce`/`aws:SourceVpc`, and no
 * usable `aws:SourceIp`. So each path gets its own statement, selected with `Null` on the endpoint
 * key, and every statement keeps `BoolIfExists aws:ViaAWSService false` so that calls AWS makes on
 * the role's behalf stay allowed.
 */
import type { FleetState } from "../engine/state.js";
import type { Finding } from "../findings/finding.js";
import {
  type ApiCall,
  credentialOf,
  isInstanceCredential,
  isPrivateAddress,
  type TrailKnowledge,
  viaAwsService,
} from "./calls.js";
import { type Cidr, cidrContains, exactCover, formatCidr, parseCidr, type Widening, widenOnce } from "./cidr.js";
import { wildcardMatch } from "./iam-eval.js";

/** IAM's limits on a policy's size, in characters not counting white space. */
export const MANAGED_POLICY_LIMIT = 6144;
export const SCP_LIMIT = 5120;

export interface GenerateInput {
  /** Calls of roles (from the logs or a state), each with how many calls it stands for (default 1). */
  readonly calls: readonly ApiCall[];
  readonly counts?: readonly number[];
  readonly trail: TrailKnowledge;
  /** The open finding on a credential and source address, if detection flagged it. */
  readonly flagged: (sessionArn: string, source: string) => Finding | undefined;
  /**
   * Detection's open findings. The unflagged calls of a credential with open findings teach the
   * policy only from a path that something else corroborates (a clean session used it, a known NAT
   * gateway or Elastic IP, your networks, an endpoint created in the logs), or from the home detection
   * accepted for it (`expectedIps`) when none of its flagged addresses is corroborated: when the thief
   * called first, his address is the home and the instance's own (corroborated) address is flagged.
   */
  readonly openFindings?: readonly Finding[];
  readonly fleet?: FleetState;
  /** Configured `ownNetworks`: an address inside one is allowed as the whole network (said so). */
  readonly ownNetworks?: readonly string[];
  /** Role names or ARNs, IAM wildcards allowed; default every workload role (EC2 instance, ECS task, Lambda). */
  readonly roles?: readonly string[];
  /** Also select roles no workload credential used (people, pipelines, service roles). */
  readonly anyRole?: boolean;
  /** A name for the policy (Terraform/CloudFormation resource names). */
  readonly name?: string;
  /** Size limits (tests make them small). */
  readonly managedLimit?: number;
  readonly scpLimit?: number;
}

/** A group of calls left out of the policy, with why. */
export interface LeftOut {
  readonly reason: "flagged" | "suspect-session" | "unknown-path" | "via-aws-service";
  readonly role: string;
  readonly source: string;
  readonly vpcEndpointId?: string;
  readonly calls: number;
  readonly actions: readonly string[];
  /** For `flagged`: the finding's rule and id. */
  readonly finding?: { readonly rule: string; readonly id: string };
}

/** An address replaced by a network that contains it: a configured one or one learned from the logs. */
export interface Generalisation {
  readonly address: string;
  readonly network: string;
  readonly why: "ownNetworks" | "ipv6-subnet";
}

export interface PolicyJson {
  readonly Version: "2012-10-17";
  readonly Statement: readonly Record<string, unknown>[];
}

export interface FittedPolicy {
  readonly policy: PolicyJson;
  /** Characters without white space, as IAM counts them. */
  readonly size: number;
  readonly limit: number;
  readonly fits: boolean;
  readonly cidrs: readonly string[];
  readonly widenings: readonly Widening[];
}

export interface GeneratedPolicies {
  readonly name: string;
  readonly roles: readonly {
    readonly arn: string;
    readonly name: string;
    readonly account: string;
    readonly calls: number;
  }[];
  readonly rolePatterns: readonly string[];
  readonly publicAddresses: readonly { readonly address: string; readonly calls: number }[];
  /** Lambda functions' roles and the public addresses their code used (their own statements). */
  readonly lambdaRoles: readonly string[];
  readonly lambdaAddresses: readonly { readonly address: string; readonly calls: number }[];
  readonly generalisations: readonly Generalisation[];
  readonly endpoints: readonly { readonly id: string; readonly calls: number; readonly vpc?: string }[];
  readonly vpcs: readonly string[];
  /** Why the aws:SourceVpc statement is left out, when it is. */
  readonly vpcStatementOmitted?: string;
  /** Why the SCP's private-address statement is left out, when it is. */
  readonly privateIpStatementOmitted?: string;
  readonly leftOut: readonly LeftOut[];
  /** Known NAT gateway / Elastic IP addresses of the roles' accounts the roles did not use (not added). */
  readonly unusedEgress: readonly string[];
  readonly managed: FittedPolicy;
  readonly scp: FittedPolicy;
  readonly legitimateCalls: number;
}

/**
 * The credentials a finding is about, keyed as {@link credentialOf} keys calls: a Lambda finding by
 * its access keys (a function's environments share one session name), any other by its session.
 *
 * @example findingCredentials(f) // ["arn:aws:sts::…:assumed-role/app/i-0abc…"]
 */
export function findingCredentials(f: Finding): string[] {
  if (f.principal.kind !== "lambda") return [f.principal.arn];
  const keys = new Set([
    ...(f.evidence?.accessKeyIds ?? []),
    ...(f.principal.accessKeyId ? [f.principal.accessKeyId] : []),
  ]);
  return keys.size > 0 ? [...keys].map((k) => `key:${k}`) : [f.principal.arn];
}

/** Whether a role matches one of the patterns (a pattern with `:` is matched against the ARN, else the name). */
export function roleMatches(patterns: readonly string[], roleArn: string, roleName: string): boolean {
  return patterns.some((p) => (p.includes(":") ? wildcardMatch(p, roleArn) : wildcardMatch(p, roleName)));
}

/** IAM counts a policy's size without white space; JSON.stringify without indentation writes none outside strings. */
export function policySize(policy: unknown): number {
  return JSON.stringify(policy).length;
}

const VIA = { BoolIfExists: { "aws:ViaAWSService": "false" } } as const;

/**
 * Lambda's own use of a function's execution role (event source mappings polling SQS, Kinesis or
 * DynamoDB streams, the ENIs of a function in a VPC, decrypting its environment variables) comes
 * from Lambda's network with aws:ViaAWSService false. Those calls lack `lambda:SourceFunctionArn`,
 * which Lambda puts in the credentials' context for calls from the function's code — and which a
 * thief's copy of the keys carries too. So the roles of Lambda functions get their own statements,
 * limited to calls carrying the key, and the other statements leave those roles out.
 */
export interface LambdaPart {
  readonly roles: readonly string[];
  readonly cidrs: readonly string[];
}

function managedStatements(
  cidrs: readonly string[],
  endpoints: readonly string[],
  vpcs: readonly string[] | undefined,
  lambda?: LambdaPart,
) {
  const notLambda = lambda && lambda.roles.length > 0 ? { ArnNotLike: { "aws:PrincipalArn": [...lambda.roles] } } : {};
  const statements: Record<string, unknown>[] = [
    {
      Sid: "DenyPublicPathFromOtherAddresses",
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        ...(cidrs.length > 0 ? { NotIpAddressIfExists: { "aws:SourceIp": [...cidrs] } } : {}),
        Null: { "aws:SourceVpce": "true" },
        ...notLambda,
        ...VIA,
      },
    },
    {
      Sid: "DenyEndpointPathThroughOtherEndpoints",
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        ...(endpoints.length > 0 ? { StringNotEqualsIfExists: { "aws:SourceVpce": [...endpoints] } } : {}),
        Null: { "aws:SourceVpce": "false" },
        ...notLambda,
        ...VIA,
      },
    },
  ];
  if (vpcs && vpcs.length > 0) {
    statements.push({
      Sid: "DenyEndpointPathFromOtherVpcs",
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        StringNotEqualsIfExists: { "aws:SourceVpc": [...vpcs] },
        Null: { "aws:SourceVpce": "false" },
        ...VIA,
      },
    });
  }
  if (lambda && lambda.roles.length > 0) {
    statements.push(
      {
        Sid: "DenyLambdaCodePublicPathFromOtherAddresses",
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: {
          ...(lambda.cidrs.length > 0 ? { NotIpAddressIfExists: { "aws:SourceIp": [...lambda.cidrs] } } : {}),
          Null: { "aws:SourceVpce": "true", "lambda:SourceFunctionArn": "false" },
          ...VIA,
        },
      },
      {
        Sid: "DenyLambdaCodeEndpointPathThroughOtherEndpoints",
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: {
          ...(endpoints.length > 0 ? { StringNotEqualsIfExists: { "aws:SourceVpce": [...endpoints] } } : {}),
          Null: { "aws:SourceVpce": "false", "lambda:SourceFunctionArn": "false" },
          ...VIA,
        },
      },
    );
  }
  return { Version: "2012-10-17" as const, Statement: statements };
}

function scpStatements(cidrs: readonly string[], privateIpStatement: boolean) {
  const instance = { "ec2:SourceInstanceARN": "false" };
  const statements: Record<string, unknown>[] = [
    {
      Sid: "DenyInstanceCredentialsFromAnotherVpc",
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
        StringNotEquals: { "aws:ec2InstanceSourceVPC": "${aws:SourceVpc}" },
        Null: { ...instance, "aws:SourceVpc": "false" },
        ...VIA,
      },
    },
  ];
  if (privateIpStatement) {
    statements.push({
      Sid: "DenyInstanceCredentialsFromAnotherPrivateIp",
      Effect: "Deny",
      Action: "*",
      Resource: "*",
      Condition: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
        StringNotEquals: { "aws:ec2InstanceSourcePrivateIPv4": "${aws:VpcSourceIp}" },
        Null: { ...instance, "aws:VpcSourceIp": "false" },
        ...VIA,
      },
    });
  }
  statements.push({
    Sid: "DenyInstanceCredentialsFromOtherPublicAddresses",
    Effect: "Deny",
    Action: "*",
    Resource: "*",
    Condition: {
      ...(cidrs.length > 0 ? { NotIpAddressIfExists: { "aws:SourceIp": [...cidrs] } } : {}),
      Null: { ...instance, "aws:SourceVpc": "true" },
      ...VIA,
    },
  });
  return { Version: "2012-10-17" as const, Statement: statements };
}

/** Widens the CIDR list step by step (fewest added addresses first) until the policy fits. */
function fit(cover: Cidr[], limit: number, build: (cidrs: string[]) => PolicyJson): FittedPolicy {
  let current = cover;
  const widenings: Widening[] = [];
  let policy = build(current.map(formatCidr));
  while (policySize(policy) > limit) {
    const next = widenOnce(current);
    if (!next) break;
    current = next.cover;
    widenings.push(next.step);
    policy = build(current.map(formatCidr));
  }
  const size = policySize(policy);
  return { policy, size, limit, fits: size <= limit, cidrs: current.map(formatCidr), widenings };
}

function ipv6Networks(fleet: FleetState | undefined): Cidr[] {
  const out: Cidr[] = [];
  for (const [owner, learned] of fleet?.ipv6Blocks ?? []) {
    if (!owner.startsWith("subnet-") && !owner.startsWith("vpc-")) continue;
    for (const v of learned.value) {
      if (!v.includes("/")) continue;
      try {
        out.push(parseCidr(v));
      } catch {
        // not an address: ignore
      }
    }
  }
  // The smallest block first: a subnet's before its VPC's.
  return out.sort((a, b) => b.prefix - a.prefix);
}

function parseNetworks(list: readonly string[]): Cidr[] {
  return list.map((n) => parseCidr(n)).sort((a, b) => b.prefix - a.prefix);
}

function bump<K>(map: Map<K, number>, key: K, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/**
 * Builds the policies for the selected roles.
 *
 * @example
 * const g = generatePolicies({ calls, trail, flagged: detection.flagged, fleet: detection.fleet, roles: ["app-*"] });
 * writeFileSync("policy.json", JSON.stringify(g.managed.policy, null, 2));
 */
export function generatePolicies(input: GenerateInput): GeneratedPolicies {
  const patterns = input.roles && input.roles.length > 0 ? input.roles : ["*"];
  // Workload roles: credentials AWS hands to your code on EC2, ECS and Lambda, which calls from your
  // networks. A service role (Config, CloudFormation, …) is used by the service itself from the
  // service's network, where aws:ViaAWSService is false: attaching a source-address Deny to it
  // would break the service, so it is never selected by default. Nor are people's and pipelines'
  // roles, whose addresses follow laptops and shared CI runners (--any-role or --role selects them).
  const instanceRoles = new Set<string>();
  const workloadRoles = new Set<string>();
  for (const c of input.calls) {
    if (isInstanceCredential(c, input.trail) === true) instanceRoles.add(c.roleArn);
    if (input.trail.workloadSessions?.has(c.sessionArn)) workloadRoles.add(c.roleArn);
  }
  for (const r of instanceRoles) workloadRoles.add(r);
  // Roles of Lambda functions (and of nothing else): their statements are limited to calls carrying
  // lambda:SourceFunctionArn (see LambdaPart).
  const lambdaRoles = new Set<string>();
  for (const c of input.calls) {
    if (input.trail.workloadSessions?.get(c.sessionArn) === "lambda" && !instanceRoles.has(c.roleArn))
      lambdaRoles.add(c.roleArn);
  }
  const selected = (c: ApiCall) =>
    roleMatches(patterns, c.roleArn, c.roleName) && (input.anyRole || workloadRoles.has(c.roleArn));

  const roles = new Map<string, { arn: string; name: string; account: string; calls: number }>();
  const publicUse = new Map<string, number>();
  const lambdaPublicUse = new Map<string, number>();
  const endpointUse = new Map<string, number>();
  const leftOut = new Map<string, LeftOut & { calls: number; actions: string[] }>();
  const privateBySession = new Map<string, Set<string>>();
  const accounts = new Set<string>();
  let legitimate = 0;
  // The SCP covers every instance credential of the organisation: its public addresses are those of
  // all instance roles' legitimate calls, whatever --role selects.
  const orgPublic = new Set<string>();

  const leave = (c: ApiCall, n: number, reason: LeftOut["reason"], finding?: Finding) => {
    const key = `${reason}|${c.roleName}|${c.source}|${c.vpcEndpointId ?? ""}`;
    const entry = leftOut.get(key) ?? {
      reason,
      role: c.roleName,
      source: c.source,
      ...(c.vpcEndpointId ? { vpcEndpointId: c.vpcEndpointId } : {}),
      calls: 0,
      actions: [],
      ...(finding ? { finding: { rule: finding.rule, id: finding.id } } : {}),
    };
    entry.calls += n;
    if (entry.actions.length < 10 && !entry.actions.includes(c.action)) entry.actions.push(c.action);
    leftOut.set(key, entry);
  };

  // What clean credentials (no open finding) used: it corroborates the same path for a suspect one.
  const findingsByCredential = new Map<string, Finding[]>();
  for (const f of input.openFindings ?? []) {
    for (const key of findingCredentials(f)) {
      const list = findingsByCredential.get(key) ?? [];
      list.push(f);
      findingsByCredential.set(key, list);
    }
  }
  const credential = (c: ApiCall) => credentialOf(c, input.trail);
  const pathOf = (c: ApiCall) => c.vpcEndpointId ?? c.source;
  const cleanPaths = new Set<string>();
  // For suspect credentials: the access keys each path was used with. A thief uses the key he copied;
  // the holder keeps calling from its own path with each key AWS rotates in.
  const keysByPath = new Map<string, Set<string>>();
  for (const c of input.calls) {
    if (viaAwsService(c) !== false) continue;
    const cred = credential(c);
    if (!findingsByCredential.has(cred)) cleanPaths.add(pathOf(c));
    else if (c.accessKeyId) {
      const k = `${cred}|${pathOf(c)}`;
      const set = keysByPath.get(k) ?? new Set<string>();
      set.add(c.accessKeyId);
      keysByPath.set(k, set);
    }
  }
  const ownForCorroboration = parseNetworks(input.ownNetworks ?? []);
  const corroboratedAddress = (address: string): boolean => {
    if (cleanPaths.has(address) || input.fleet?.egress.has(address)) return true;
    try {
      const ip = parseCidr(address);
      return ownForCorroboration.some((n) => cidrContains(n, ip));
    } catch {
      return false;
    }
  };
  const corroborated = (c: ApiCall): boolean =>
    c.vpcEndpointId
      ? cleanPaths.has(c.vpcEndpointId) || input.trail.endpointVpcs.has(c.vpcEndpointId)
      : corroboratedAddress(c.source);
  const rotated = (c: ApiCall): boolean => (keysByPath.get(`${credential(c)}|${pathOf(c)}`)?.size ?? 0) >= 2;
  /** Whether the call comes from the home detection accepted for its credential (the first address it saw). */
  const fromHome = (c: ApiCall): boolean =>
    (findingsByCredential.get(credential(c)) ?? []).some((f) => f.expectedIps.includes(c.source));
  // Per suspect credential, which side outlived a key rotation (uncorroborated paths only): the home
  // (the thief called later, from the flagged side), or else a flagged path (the thief called first:
  // his address is the home and the holder's own address was flagged).
  const rotatedSide = new Map<string, "home" | "flagged">();
  for (const c of input.calls) {
    const cred = credential(c);
    if (!findingsByCredential.has(cred) || viaAwsService(c) !== false || corroborated(c) || !rotated(c)) continue;
    const flagged = input.flagged(c.sessionArn, c.source) !== undefined;
    if (!flagged && fromHome(c)) rotatedSide.set(cred, "home");
    else if (flagged && !rotatedSide.has(cred)) rotatedSide.set(cred, "flagged");
  }
  /** The home detection accepted for a suspect credential, unless its flagged side looks like the fleet's. */
  const acceptedHome = (c: ApiCall): boolean => {
    const findings = findingsByCredential.get(credential(c)) ?? [];
    if (findings.some((f) => corroboratedAddress(f.sourceIp))) return false;
    return fromHome(c);
  };
  /**
   * Whether a call of a credential with findings teaches the policy its path: a path something
   * outside the credential corroborates; else a path that outlived a key rotation, on the holder's
   * side (not the flagged one when the home outlived it, not the home when a flagged path did); else
   * (no rotation in the logs) the home detection accepted, unless the flagged side is the fleet's.
   */
  const teaches = (c: ApiCall, flagged: boolean): boolean => {
    if (corroborated(c)) return true;
    const side = rotatedSide.get(credential(c));
    if (side === "home") return !flagged && rotated(c);
    if (side === "flagged") return !fromHome(c) && rotated(c);
    return !flagged && acceptedHome(c);
  };

  for (const [i, c] of input.calls.entries()) {
    const n = input.counts?.[i] ?? 1;
    const finding = input.flagged(c.sessionArn, c.source);
    const withFindings = findingsByCredential.has(credential(c)) && viaAwsService(c) === false;
    const learnable = finding ? withFindings && teaches(c, true) : !withFindings || teaches(c, false);
    // A flagged call teaches only when its path is shown to be the holder's (corroborated, or the
    // side that outlived a rotation): detection then flagged the holder after the thief's first call.
    const flagged = finding && !learnable ? finding : undefined;
    const suspect = !flagged && !learnable;
    const via = viaAwsService(c);
    const isPublicDirect = via === false && !flagged && !suspect && c.ip && !c.vpcEndpointId && !isPrivateAddress(c.ip);
    if (isPublicDirect && instanceRoles.has(c.roleArn) && c.ip) orgPublic.add(c.ip);
    if (!selected(c)) continue;
    const role = roles.get(c.roleArn) ?? { arn: c.roleArn, name: c.roleName, account: c.account, calls: 0 };
    role.calls += n;
    roles.set(c.roleArn, role);
    if (c.account) accounts.add(c.account);
    if (flagged) {
      leave(c, n, "flagged", flagged);
      continue;
    }
    if (suspect) {
      leave(c, n, "suspect-session");
      continue;
    }
    if (via === true) continue; // AWS on the role's behalf: allowed by aws:ViaAWSService, nothing to learn
    if (via === "unknown") {
      leave(c, n, "via-aws-service");
      continue;
    }
    legitimate += n;
    if (c.vpcEndpointId) {
      bump(endpointUse, c.vpcEndpointId, n);
      if (c.ip) {
        const set = privateBySession.get(c.sessionArn) ?? new Set<string>();
        set.add(c.ip);
        privateBySession.set(c.sessionArn, set);
      }
    } else if (c.ip && !isPrivateAddress(c.ip)) bump(lambdaRoles.has(c.roleArn) ? lambdaPublicUse : publicUse, c.ip, n);
    else leave(c, n, "unknown-path");
  }

  const own = parseNetworks(input.ownNetworks ?? []);
  const learned6 = ipv6Networks(input.fleet);
  const generalisations: Generalisation[] = [];
  const generalise = (addresses: Iterable<string>, record: boolean): Cidr[] =>
    [...addresses].map((a) => {
      const cidr = parseCidr(a);
      const ownNet = own.find((n) => cidrContains(n, cidr));
      if (ownNet) {
        if (record) generalisations.push({ address: a, network: formatCidr(ownNet), why: "ownNetworks" });
        return ownNet;
      }
      const subnet = cidr.family === 6 ? learned6.find((n) => cidrContains(n, cidr)) : undefined;
      if (subnet) {
        if (record) generalisations.push({ address: a, network: formatCidr(subnet), why: "ipv6-subnet" });
        return subnet;
      }
      return cidr;
    });

  const sortedPublic = [...publicUse.keys()].sort();
  const managedCover = exactCover(generalise(sortedPublic, true));
  const endpointIds = [...endpointUse.keys()].sort();
  const endpointVpcs = endpointIds.map((id) => input.trail.endpointVpcs.get(id));
  const vpcs = [...new Set(endpointVpcs.filter((v): v is string => v !== undefined))].sort();
  let vpcStatementOmitted: string | undefined;
  if (endpointIds.length === 0) vpcStatementOmitted = "the roles used no VPC endpoint";
  else if (endpointVpcs.some((v) => v === undefined)) {
    vpcStatementOmitted = `the VPC of ${endpointIds.filter((_, i) => endpointVpcs[i] === undefined).join(", ")} is not in the logs (no CreateVpcEndpoint for it)`;
  }
  const sortedLambdaPublic = [...lambdaPublicUse.keys()].sort();
  const selectedLambdaRoles = [...lambdaRoles].filter((arn) => roles.has(arn)).sort();
  const lambda: LambdaPart = {
    roles: selectedLambdaRoles,
    cidrs: exactCover(generalise(sortedLambdaPublic, true)).map(formatCidr),
  };
  const managed = fit(managedCover, input.managedLimit ?? MANAGED_POLICY_LIMIT, (cidrs) =>
    managedStatements(cidrs, endpointIds, vpcStatementOmitted ? undefined : vpcs, lambda),
  );

  const multiPrivate = [...privateBySession.entries()].filter(([, s]) => s.size > 1);
  const privateIpStatementOmitted =
    multiPrivate.length > 0
      ? `${multiPrivate.length} session(s) used several private addresses through endpoints (secondary addresses, e.g. EKS pods), e.g. ${multiPrivate[0]?.[0]}: aws:ec2InstanceSourcePrivateIPv4 is the primary interface's address only`
      : undefined;
  const scp = fit(exactCover(generalise([...orgPublic].sort(), false)), input.scpLimit ?? SCP_LIMIT, (cidrs) =>
    scpStatements(cidrs, privateIpStatementOmitted === undefined),
  );

  const usedCover = managed.cidrs.map((c) => parseCidr(c));
  const unusedEgress = [...(input.fleet?.egress ?? [])]
    .filter(
      ([address, account]) => accounts.has(account) && !usedCover.some((n) => cidrContains(n, parseCidr(address))),
    )
    .map(([address]) => address)
    .sort();

  const name =
    input.name ??
    (patterns.length === 1 && patterns[0] !== "*" ? `firstcall-enforce-${patterns[0]}` : "firstcall-enforce")
      .replace(/[^A-Za-z0-9+=,.@_-]/g, "-")
      .replace(/-+$/, "");
  return {
    name,
    roles: [...roles.values()].sort((a, b) => (a.arn < b.arn ? -1 : 1)),
    rolePatterns: patterns,
    publicAddresses: sortedPublic.map((address) => ({ address, calls: publicUse.get(address) ?? 0 })),
    lambdaRoles: selectedLambdaRoles,
    lambdaAddresses: sortedLambdaPublic.map((address) => ({ address, calls: lambdaPublicUse.get(address) ?? 0 })),
    generalisations,
    endpoints: endpointIds.map((id, i) => ({
      id,
      calls: endpointUse.get(id) ?? 0,
      ...(endpointVpcs[i] ? { vpc: endpointVpcs[i] as string } : {}),
    })),
    vpcs,
    ...(vpcStatementOmitted ? { vpcStatementOmitted } : {}),
    ...(privateIpStatementOmitted ? { privateIpStatementOmitted } : {}),
    leftOut: [...leftOut.values()].sort(
      (a, b) => b.calls - a.calls || (a.role + a.source < b.role + b.source ? -1 : 1),
    ),
    unusedEgress,
    managed,
    scp,
    legitimateCalls: legitimate,
  };
}
