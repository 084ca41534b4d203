/**
 * The simulated estate: accounts with their VPCs, NAT gateways and VPC endpoints, EC2 instances,
 * ECS tasks, Lambda execution environments, people, pipelines and AWS services acting on the
 * owner's behalf. Each of them is an `Actor` that writes its records for one window of time at a
 * time, so the whole period never has to sit in memory.
 *
 * Everything here is benign by construction under the detection rules (docs/simulate.md lists the
 * rules each behaviour is meant to exercise); the thieves live in attacks.ts.
 */
import { ACTIONS, type Action, type ActionName, type ActionTarget, type EndpointService, PROFILES } from "./actions.js";
import { type AddressPlan, SIM_REGIONS } from "./addresses.js";
import type { Rng } from "./prng.js";
import {
  accessKeyId,
  apiCall,
  awsServiceIdentity,
  type IamUserRef,
  type IssuedKey,
  iamUserIdentity,
  isoSeconds,
  type JsonObject,
  type RoleRef,
  roleSessionIdentity,
  serviceAssumeRole,
  sessionArn,
  uniqueId,
  userAssumeRole,
} from "./records.js";
import { FLEET_SCHEMA, type FleetSession, type SessionKind } from "./truth.js";
import * as ua from "./user-agents.js";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** Where actors put their records. */
export interface Out {
  emit(account: string, region: string, record: JsonObject): void;
}

/** Anything that writes records: called once per window, in time order. */
export interface Actor {
  step(windowStart: number, windowEnd: number, rng: Rng, out: Out): void;
}

export type EndpointAnnouncement = "config" | "account-id" | "created";

export interface AccountModel {
  readonly index: number;
  readonly id: string;
  readonly roles: Readonly<Record<"web" | "worker" | "data" | "eks" | "deploy" | "config" | "autoscaling", RoleRef>>;
  readonly taskRoles: readonly RoleRef[];
  readonly functions: readonly { readonly name: string; readonly role: RoleRef; readonly inVpc: boolean }[];
  readonly ops: readonly (IamUserRef & { readonly ip: string })[];
  readonly consoleUser: IamUserRef & { readonly ip: string };
  readonly ciUser: IamUserRef;
  /** How this account's endpoints can be told to be its own (config, vpcEndpointAccountId, CreateVpcEndpoint). */
  readonly endpointAnnouncement: EndpointAnnouncement;
  /** The key the Auto Scaling service-linked role's calls carry (they are AWS acting for you). */
  readonly autoscalingKey: string;
}

export interface VpcModel {
  readonly account: AccountModel;
  readonly regionIndex: number;
  readonly region: string;
  readonly vpcId: string;
  readonly natIps: readonly string[];
  readonly endpoints: ReadonlyMap<EndpointService, string>;
  readonly bucket: string;
  readonly kmsKeyArn: string;
  readonly subnetIds: readonly string[];
}

export interface SimWorld {
  readonly start: number;
  readonly end: number;
  readonly regions: readonly string[];
  readonly accounts: readonly AccountModel[];
  /** `vpcs[account][region]`. */
  readonly vpcs: readonly (readonly VpcModel[])[];
  readonly addresses: AddressPlan;
  /** Application calls per workload-hour (the SSM agent's heartbeat comes on top for instances). */
  readonly rate: number;
}

const ROLE_SPECS = {
  web: { name: "web-frontend", path: "" },
  worker: { name: "batch-worker", path: "service/" },
  data: { name: "data-pipeline", path: "" },
  eks: { name: "eks-nodegroup-main-NodeInstanceRole", path: "" },
  deploy: { name: "ci-deploy", path: "" },
  config: { name: "AWSServiceRoleForConfig", path: "aws-service-role/config.amazonaws.com/" },
  autoscaling: { name: "AWSServiceRoleForAutoScaling", path: "aws-service-role/autoscaling.amazonaws.com/" },
} as const;

function role(rng: Rng, accountId: string, name: string, path = ""): RoleRef {
  return { name, arn: `arn:aws:iam::${accountId}:role/${path}${name}`, roleId: uniqueId(rng, "AROA"), accountId };
}

function iamUser(rng: Rng, accountId: string, name: string): IamUserRef {
  return {
    name,
    arn: `arn:aws:iam::${accountId}:user/${name}`,
    userId: uniqueId(rng, "AIDA"),
    accountId,
    accessKeyId: accessKeyId(rng, "AKIA"),
  };
}

/** A 12-digit account id; distinct from the ones in `taken`. */
export function accountId(rng: Rng, taken: Set<string>): string {
  for (;;) {
    const id = String(rng.between(1, 9)) + rng.chars(11, "0123456789");
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

/** Builds accounts and their VPCs. */
export function buildWorld(
  rng: Rng,
  options: { accounts: number; regions: number; start: number; hours: number; rate: number; addresses: AddressPlan },
): SimWorld {
  const regions = SIM_REGIONS.slice(0, options.regions);
  const taken = new Set<string>();
  const announcements: EndpointAnnouncement[] = ["config", "account-id", "created"];
  const accounts: AccountModel[] = [];
  for (let a = 0; a < options.accounts; a++) {
    const id = accountId(rng, taken);
    const roles = {
      web: role(rng, id, ROLE_SPECS.web.name, ROLE_SPECS.web.path),
      worker: role(rng, id, ROLE_SPECS.worker.name, ROLE_SPECS.worker.path),
      data: role(rng, id, ROLE_SPECS.data.name, ROLE_SPECS.data.path),
      eks: role(rng, id, ROLE_SPECS.eks.name, ROLE_SPECS.eks.path),
      deploy: role(rng, id, ROLE_SPECS.deploy.name, ROLE_SPECS.deploy.path),
      config: role(rng, id, ROLE_SPECS.config.name, ROLE_SPECS.config.path),
      autoscaling: role(rng, id, ROLE_SPECS.autoscaling.name, ROLE_SPECS.autoscaling.path),
    };
    const taskRoles = ["orders", "payments", "notifier"].map((s) => role(rng, id, `ecs-task-${s}`));
    const functions = [
      { name: "thumbnailer", inVpc: false },
      { name: "api-authorizer", inVpc: false },
      { name: "stream-processor", inVpc: true },
    ].map((f) => ({ ...f, role: role(rng, id, `lambda-${f.name}`) }));
    accounts.push({
      index: a,
      id,
      roles,
      taskRoles,
      functions,
      ops: ["alice.ops", "bob.ops"].map((n) => ({ ...iamUser(rng, id, n), ip: options.addresses.officeIp() })),
      consoleUser: { ...iamUser(rng, id, "carol.admin"), ip: options.addresses.officeIp() },
      ciUser: iamUser(rng, id, "ci-runner"),
      endpointAnnouncement: announcements[a % announcements.length] as EndpointAnnouncement,
      autoscalingKey: accessKeyId(rng),
    });
  }
  const vpcs = accounts.map((account) =>
    regions.map((region, r): VpcModel => {
      const endpoints = new Map<EndpointService, string>();
      // Every VPC routes S3 through a gateway endpoint; half also have interface endpoints.
      endpoints.set("s3", `vpce-${rng.hex(17)}`);
      if ((account.index + r) % 2 === 0) {
        for (const s of ["kms", "secretsmanager", "sts"] as const) endpoints.set(s, `vpce-${rng.hex(17)}`);
      }
      return {
        account,
        regionIndex: r,
        region,
        vpcId: `vpc-${rng.hex(17)}`,
        natIps: [0, 1, 2].map((n) => options.addresses.natIp(account.index, r, n)),
        endpoints,
        bucket: `acme-${account.id}-${region}-app-data`,
        kmsKeyArn: `arn:aws:kms:${region}:${account.id}:key/${rng.uuid()}`,
        subnetIds: [0, 1, 2].map(() => `subnet-${rng.hex(17)}`),
      };
    }),
  );
  return {
    start: options.start,
    end: options.start + options.hours * HOUR,
    regions,
    accounts,
    vpcs,
    addresses: options.addresses,
    rate: options.rate,
  };
}

/** A uniformly random whole second in [from, to). */
export function secondIn(rng: Rng, from: number, to: number): number {
  const lo = Math.ceil(from / SECOND);
  const hi = Math.ceil(to / SECOND);
  return (lo + rng.int(Math.max(1, hi - lo))) * SECOND;
}

/** A route for one call: direct from an address, or through one of the VPC's endpoints. */
export interface Route {
  readonly sourceIp: string;
  readonly region: string;
  readonly vpcEndpointId?: string;
  readonly vpcEndpointAccountId?: string;
}

/** Credentials held by a workload at some moment, as a thief would copy them. */
export interface HeldCredential {
  readonly role: RoleRef;
  readonly sessionName: string;
  readonly key: IssuedKey;
  readonly ec2RoleDelivery?: "1.0" | "2.0";
  readonly ec2IssuedInVPC?: string;
}

/** What attacks need from a workload they steal from. */
export interface Victim {
  readonly kind: SessionKind;
  readonly vpc: VpcModel;
  readonly role: RoleRef;
  readonly sessionName: string;
  readonly privateIp: string;
  credentialAt(t: number, imds?: "1.0" | "2.0"): HeldCredential;
  /** The address its own direct calls come from at time t. */
  addressAt(t: number): string;
  route(rng: Rng, action: Action, t: number): Route;
  target(): ActionTarget;
}

function endpointRoute(vpc: VpcModel, action: Action, privateIp: string): Route | undefined {
  const vpce = action.endpoint ? vpc.endpoints.get(action.endpoint) : undefined;
  if (!vpce) return undefined;
  return {
    sourceIp: privateIp,
    region: vpc.region,
    vpcEndpointId: vpce,
    ...(vpc.account.endpointAnnouncement === "account-id" ? { vpcEndpointAccountId: vpc.account.id } : {}),
  };
}

/** An S3 read of an SSE-KMS object makes S3 call KMS with the reader's identity, from no address. */
function kmsOnBehalf(rng: Rng, out: Out, t: number, vpc: VpcModel, identity: (invokedBy: string) => JsonObject): void {
  const via = rng.chance(0.5) ? "s3.amazonaws.com" : "AWS Internal";
  out.emit(
    vpc.account.id,
    vpc.region,
    apiCall(rng, {
      time: t,
      account: vpc.account.id,
      region: vpc.region,
      identity: identity(via),
      source: "kms.amazonaws.com",
      name: "Decrypt",
      sourceIp: via,
      userAgent: via,
      requestParameters: {
        encryptionAlgorithm: "SYMMETRIC_DEFAULT",
        encryptionContext: { "aws:s3:arn": `arn:aws:s3:::${vpc.bucket}` },
      },
      resources: [{ accountId: vpc.account.id, type: "AWS::KMS::Key", ARN: vpc.kmsKeyArn }],
      readOnly: true,
      tls: false,
    }),
  );
}

type InstanceOp =
  | "run"
  | "issue"
  | "first-call"
  | "associate"
  | "associate-eni"
  | "assign-private"
  | "attach-eni"
  | "stop"
  | "start"
  | "addr-call"
  | "terminate";

interface PlanItem {
  readonly at: number;
  readonly op: InstanceOp;
  readonly address?: string;
  readonly privateAddress?: string;
  readonly eni?: string;
  readonly allocationId?: string;
  readonly by?: IamUserRef & { readonly ip: string };
}

export type Egress = "public" | "eip" | "nat";
export type Profile = "web" | "worker" | "data" | "eks";

const LIFECYCLE_TRAITS = ["eip-associate", "eni-eip", "secondary-ip-eip", "eni-attach", "stop-start"] as const;
export type LifecycleTrait = (typeof LIFECYCLE_TRAITS)[number];

/**
 * An EC2 instance: launched by Auto Scaling, given two keys (IMDSv1 and IMDSv2) at launch and on
 * every hourly rotation, heartbeating through the SSM agent and running one application. Its calls
 * leave through a public address, an Elastic IP or a NAT gateway, through the VPC's endpoints where
 * the VPC has them, and over IPv6 when the instance is dual-stack.
 */
export class Instance implements Actor, Victim {
  readonly kind = "ec2-instance" as const;
  readonly traits: string[] = [];
  readonly id: string;
  readonly eniId: string;
  readonly privateIp: string;
  readonly appAgent: string;
  readonly ssmAgent: string;
  readonly subnetId: string;
  ipv6: string | undefined;
  launchAt: number;
  issueAt: number;
  firstCallAt: number;
  terminateAt = Number.POSITIVE_INFINITY;
  /** Reserved by an attack: gets no lifecycle behaviour that would open a learning window. */
  reserved = false;
  /** The v4 address of direct calls over time: `from` is the first call from that address. */
  readonly addresses: { from: number; ip: string }[];
  readonly down: { from: number; to: number }[] = [];
  private plan: PlanItem[] = [];
  private cursor = 0;
  private readonly keys: { at: number; v1: IssuedKey; v2: IssuedKey }[] = [];
  private nextRotation = Number.POSITIVE_INFINITY;
  private readonly actions: readonly (readonly [Action, number])[];

  constructor(
    rng: Rng,
    readonly world: SimWorld,
    readonly vpc: VpcModel,
    readonly profile: Profile,
    readonly egress: Egress,
    launchAt: number,
  ) {
    this.id = `i-${rng.hex(17)}`;
    this.eniId = `eni-${rng.hex(17)}`;
    this.subnetId = rng.pick(vpc.subnetIds);
    this.privateIp = world.addresses.privateIp(vpc.account.index, vpc.regionIndex);
    this.appAgent = ua.instanceAppAgent(rng);
    this.ssmAgent = ua.ssmAgent(rng);
    const first =
      egress === "nat"
        ? rng.pick(vpc.natIps)
        : egress === "eip"
          ? world.addresses.elasticIp(vpc.account.index, vpc.regionIndex)
          : world.addresses.publicIp(vpc.regionIndex);
    this.addresses = [{ from: Number.NEGATIVE_INFINITY, ip: first }];
    this.launchAt = launchAt;
    this.issueAt = launchAt + rng.between(15, 45) * SECOND;
    this.firstCallAt = this.issueAt + rng.between(30, 150) * SECOND;
    this.actions = PROFILES[profile]?.map(([name, w]) => [ACTIONS[name as ActionName] as Action, w] as const) ?? [];
    if (profile === "eks") this.traits.push("eks-node");
    this.traits.push(`egress-${egress}`);
  }

  get role(): RoleRef {
    return this.vpc.account.roles[this.profile];
  }
  get sessionName(): string {
    return this.id;
  }
  get arn(): string {
    return sessionArn(this.role, this.id);
  }
  get lifecycle(): LifecycleTrait | undefined {
    return LIFECYCLE_TRAITS.find((t) => this.traits.includes(t));
  }

  /** Lets the instance make its first call later (the thief-first attack). */
  delayFirstCall(at: number): void {
    this.firstCallAt = at;
  }

  /** Fixes the plan of discrete events once traits and attacks are settled. */
  finalizePlan(rng: Rng): void {
    const end = this.world.end;
    const plan: PlanItem[] = [
      { at: this.launchAt, op: "run" },
      { at: this.issueAt, op: "issue" },
      { at: this.firstCallAt, op: "first-call" },
    ];
    const lifecycle = this.lifecycle;
    if (lifecycle) plan.push(...this.lifecyclePlan(rng, lifecycle));
    if (this.terminateAt < end) plan.push({ at: this.terminateAt, op: "terminate" });
    this.plan = plan.filter((p) => p.at < end).sort((a, b) => a.at - b.at);
  }

  /** Chooses lifecycle behaviour; returns false when the instance lives too briefly for it. */
  assignLifecycle(rng: Rng, trait: LifecycleTrait): boolean {
    const from = this.firstCallAt + 15 * MINUTE;
    const to = Math.min(this.terminateAt, this.world.end) - 55 * MINUTE;
    if (to <= from || this.reserved) return false;
    if (trait !== "stop-start" && this.egress !== "public") return false;
    this.traits.push(trait);
    this.lifecycleAt = secondIn(rng, from, to);
    return true;
  }
  private lifecycleAt = 0;

  private lifecyclePlan(rng: Rng, trait: LifecycleTrait): PlanItem[] {
    const a = this.vpc.account;
    const r = this.vpc.regionIndex;
    const L = this.lifecycleAt;
    const by = rng.pick(a.ops);
    const allocationId = `eipalloc-${rng.hex(17)}`;
    const switchTo = (at: number, ip: string): PlanItem => {
      this.addresses.push({ from: at, ip });
      return { at, op: "addr-call", address: ip };
    };
    switch (trait) {
      case "eip-associate": {
        const eip = this.world.addresses.elasticIp(a.index, r);
        return [
          { at: L, op: "associate", by, allocationId, address: eip },
          switchTo(L + rng.between(60, 600) * SECOND, eip),
        ];
      }
      case "eni-eip": {
        const eip = this.world.addresses.elasticIp(a.index, r);
        return [
          { at: L, op: "associate-eni", by, allocationId, eni: this.eniId, address: eip },
          switchTo(L + rng.between(60, 600) * SECOND, eip),
        ];
      }
      case "secondary-ip-eip": {
        const eip = this.world.addresses.elasticIp(a.index, r);
        const secondary = this.world.addresses.privateIp(a.index, r);
        return [
          { at: L, op: "assign-private", by, eni: this.eniId, privateAddress: secondary },
          {
            at: L + rng.between(30, 120) * SECOND,
            op: "associate-eni",
            by,
            allocationId,
            eni: this.eniId,
            privateAddress: secondary,
            address: eip,
          },
          switchTo(L + rng.between(150, 600) * SECOND, eip),
        ];
      }
      case "eni-attach": {
        const ip = this.world.addresses.publicIp(r);
        return [
          { at: L, op: "attach-eni", by, eni: `eni-${rng.hex(17)}` },
          switchTo(L + rng.between(60, 600) * SECOND, ip),
        ];
      }
      case "stop-start": {
        const startAt = L + rng.between(10, 40) * MINUTE;
        const firstBack = startAt + rng.between(60, 240) * SECOND;
        const ip = this.egress === "public" ? this.world.addresses.publicIp(r) : this.addressAt(L);
        this.down.push({ from: L, to: firstBack });
        return [
          { at: L, op: "stop", by },
          { at: startAt, op: "start", by },
          { at: startAt + rng.between(20, 40) * SECOND, op: "issue" },
          switchTo(firstBack, ip),
        ];
      }
    }
  }

  addressAt(t: number): string {
    let ip = (this.addresses[0] as { ip: string }).ip;
    for (const a of this.addresses) if (a.from <= t) ip = a.ip;
    return ip;
  }

  credentialAt(t: number, imds: "1.0" | "2.0" = "2.0"): HeldCredential {
    let k = this.keys[0];
    for (const entry of this.keys) if (entry.at <= t) k = entry;
    if (!k) throw new Error(`${this.id} has no credentials at ${isoSeconds(t)}`);
    return {
      role: this.role,
      sessionName: this.id,
      key: imds === "1.0" ? k.v1 : k.v2,
      ec2RoleDelivery: imds,
      ec2IssuedInVPC: this.vpc.vpcId,
    };
  }

  private canCall(t: number): boolean {
    if (t <= this.firstCallAt || t >= this.terminateAt) return false;
    for (const d of this.down) if (t >= d.from && t <= d.to) return false;
    return true;
  }

  route(rng: Rng, action: Action, t: number): Route {
    const viaEndpoint = endpointRoute(this.vpc, action, this.privateIp);
    if (viaEndpoint) return viaEndpoint;
    if (action.source === "s3.amazonaws.com" && this.world.regions.length > 1 && rng.chance(0.03)) {
      // A cross-region read leaves through the internet path: gateway endpoints are regional.
      const other = rng.pick(this.world.regions.filter((x) => x !== this.vpc.region));
      return { sourceIp: this.addressAt(t), region: other };
    }
    if (this.ipv6 && action.dualStack && rng.chance(0.35)) return { sourceIp: this.ipv6, region: this.vpc.region };
    return { sourceIp: this.addressAt(t), region: this.vpc.region };
  }

  target(): ActionTarget {
    return {
      accountId: this.vpc.account.id,
      region: this.vpc.region,
      bucket: this.vpc.bucket,
      kmsKeyArn: this.vpc.kmsKeyArn,
      instanceId: this.id,
      eniId: this.eniId,
      appName: this.profile === "eks" ? "eks-main" : this.role.name,
    };
  }

  step(ws: number, we: number, rng: Rng, out: Out): void {
    for (;;) {
      const next = this.plan[this.cursor];
      const planAt = next ? next.at : Number.POSITIVE_INFINITY;
      if (planAt >= we && this.nextRotation >= we) break;
      if (this.nextRotation < planAt) {
        const at = this.nextRotation;
        this.issue(rng, out, at);
      } else if (next) {
        this.cursor++;
        this.runPlanItem(rng, out, next);
      }
    }
    const mean = ((this.world.rate + 12) * (we - ws)) / HOUR;
    const n = rng.poisson(mean);
    const heartbeatShare = 12 / (this.world.rate + 12);
    for (let i = 0; i < n; i++) {
      const t = secondIn(rng, ws, we);
      if (!this.canCall(t)) continue;
      if (rng.chance(heartbeatShare)) this.call(rng, out, t, ACTIONS.ssmUpdateInstanceInformation, this.ssmAgent);
      else this.call(rng, out, t, rng.weighted(this.actions), this.appAgent);
    }
  }

  /** The identity object of the last key used: records share it (serialising does not change it). */
  private identityCache: { key: string; identity: JsonObject } | undefined;

  private identity(t: number, invokedBy?: string): JsonObject {
    const c = this.credentialAt(t);
    if (!invokedBy && this.identityCache?.key === c.key.accessKeyId) return this.identityCache.identity;
    const identity = roleSessionIdentity(c.role, this.id, c.key.accessKeyId, c.key.creationDate, {
      ec2RoleDelivery: "2.0",
      ...(c.ec2IssuedInVPC ? { ec2IssuedInVPC: c.ec2IssuedInVPC } : {}),
      ...(invokedBy ? { invokedBy } : {}),
    });
    if (!invokedBy) this.identityCache = { key: c.key.accessKeyId, identity };
    return identity;
  }

  private call(rng: Rng, out: Out, t: number, action: Action, agent: string, forced?: Route): void {
    const route = forced ?? this.route(rng, action, t);
    const payload = action.build(rng, this.target());
    const a = this.vpc.account;
    // On EKS nodes the authenticator asks who it is and the VPC CNI manages the node's ENIs.
    const eksAgent =
      this.profile !== "eks"
        ? agent
        : action.name === "GetCallerIdentity"
          ? ua.eksNodeAgent()
          : action.name === "AssignPrivateIpAddresses" || action.name === "DescribeNetworkInterfaces"
            ? ua.eksCniAgent()
            : agent;
    out.emit(
      a.id,
      route.region,
      apiCall(rng, {
        time: t,
        account: a.id,
        region: route.region,
        identity: this.identity(t),
        source: action.source,
        name: action.name,
        sourceIp: route.sourceIp,
        userAgent: eksAgent,
        ...payload,
        readOnly: action.readOnly,
        category: action.category,
        ...(route.vpcEndpointId ? { vpcEndpointId: route.vpcEndpointId } : {}),
        ...(route.vpcEndpointAccountId ? { vpcEndpointAccountId: route.vpcEndpointAccountId } : {}),
        ...(rng.chance(0.004) ? { errorCode: "AccessDenied" } : {}),
      }),
    );
    if (action.name === "GetObject" && rng.chance(0.15)) {
      kmsOnBehalf(rng, out, t, this.vpc, (invokedBy) => this.identity(t, invokedBy));
    }
  }

  private issue(rng: Rng, out: Out, at: number): void {
    const a = this.vpc.account;
    const creationDate = isoSeconds(at);
    // EC2 makes two issuances in the same second: one key for IMDSv1, one for IMDSv2.
    const v1 = { accessKeyId: accessKeyId(rng), creationDate };
    const v2 = { accessKeyId: accessKeyId(rng), creationDate };
    this.keys.push({ at, v1, v2 });
    if (this.keys.length > 8) this.keys.shift();
    for (const k of [v1, v2]) {
      out.emit(
        a.id,
        this.vpc.region,
        serviceAssumeRole(rng, {
          time: at,
          region: this.vpc.region,
          role: this.role,
          sessionName: this.id,
          service: "ec2.amazonaws.com",
          key: k.accessKeyId,
          lifetimeMs: 6 * HOUR + rng.between(0, 30) * MINUTE,
        }),
      );
    }
    this.nextRotation = at + HOUR + rng.between(-300, 300) * SECOND;
  }

  private opsCall(
    rng: Rng,
    out: Out,
    item: PlanItem,
    name: string,
    requestParameters: JsonObject,
    responseElements: JsonObject,
  ): void {
    const a = this.vpc.account;
    const by = item.by ?? (a.ops[0] as IamUserRef & { ip: string });
    out.emit(
      a.id,
      this.vpc.region,
      apiCall(rng, {
        time: item.at,
        account: a.id,
        region: this.vpc.region,
        identity: iamUserIdentity(by),
        source: "ec2.amazonaws.com",
        name,
        sourceIp: by.ip,
        userAgent: ua.laptopCliAgent(rng),
        requestParameters,
        responseElements: { requestId: rng.uuid(), ...responseElements },
        readOnly: false,
      }),
    );
  }

  private runPlanItem(rng: Rng, out: Out, item: PlanItem): void {
    const a = this.vpc.account;
    const instancesSet = { items: [{ instanceId: this.id }] };
    switch (item.op) {
      case "run":
        out.emit(a.id, this.vpc.region, this.runInstancesRecord(rng, item.at));
        return;
      case "issue":
        this.issue(rng, out, item.at);
        return;
      case "first-call":
      case "addr-call":
        // Always a direct call, so that it is the one that binds (or is learned).
        this.call(rng, out, item.at, ACTIONS.ssmUpdateInstanceInformation, this.ssmAgent, {
          sourceIp: this.addressAt(item.at),
          region: this.vpc.region,
        });
        return;
      case "associate":
        this.opsCall(
          rng,
          out,
          item,
          "AssociateAddress",
          { instanceId: this.id, allocationId: item.allocationId ?? "", allowReassociation: false },
          { _return: true, associationId: `eipassoc-${rng.hex(17)}` },
        );
        return;
      case "associate-eni":
        this.opsCall(
          rng,
          out,
          item,
          "AssociateAddress",
          {
            allocationId: item.allocationId ?? "",
            networkInterfaceId: item.eni ?? "",
            ...(item.privateAddress ? { privateIpAddress: item.privateAddress } : {}),
            allowReassociation: true,
          },
          { _return: true, associationId: `eipassoc-${rng.hex(17)}` },
        );
        return;
      case "assign-private":
        this.opsCall(
          rng,
          out,
          item,
          "AssignPrivateIpAddresses",
          { networkInterfaceId: item.eni ?? "", privateIpAddressesSet: {}, secondaryPrivateIpAddressCount: 1 },
          {
            _return: true,
            networkInterfaceId: item.eni ?? "",
            assignedPrivateIpAddressesSet: {
              assignedPrivateIpAddressSetType: { items: [{ privateIpAddress: item.privateAddress ?? "" }] },
            },
          },
        );
        return;
      case "attach-eni":
        this.opsCall(
          rng,
          out,
          item,
          "AttachNetworkInterface",
          { networkInterfaceId: item.eni ?? "", instanceId: this.id, deviceIndex: 1 },
          { attachmentId: `eni-attach-${rng.hex(17)}`, networkCardIndex: 0 },
        );
        return;
      case "stop":
        this.nextRotation = Number.POSITIVE_INFINITY;
        this.opsCall(
          rng,
          out,
          item,
          "StopInstances",
          { instancesSet, force: false },
          stateChange(this.id, STOPPING, RUNNING),
        );
        return;
      case "start":
        this.opsCall(rng, out, item, "StartInstances", { instancesSet }, stateChange(this.id, PENDING, STOPPED));
        return;
      case "terminate":
        this.nextRotation = Number.POSITIVE_INFINITY;
        out.emit(a.id, this.vpc.region, this.autoscalingCall(rng, item.at, "TerminateInstances", { instancesSet }));
        return;
    }
  }

  private autoscalingCall(
    rng: Rng,
    t: number,
    name: string,
    requestParameters: JsonObject,
    responseElements?: JsonObject,
  ): JsonObject {
    const a = this.vpc.account;
    return apiCall(rng, {
      time: t,
      account: a.id,
      region: this.vpc.region,
      identity: roleSessionIdentity(
        a.roles.autoscaling,
        "AutoScaling",
        a.autoscalingKey,
        isoSeconds(this.world.start),
        {
          invokedBy: "autoscaling.amazonaws.com",
        },
      ),
      source: "ec2.amazonaws.com",
      name,
      sourceIp: "autoscaling.amazonaws.com",
      userAgent: "autoscaling.amazonaws.com",
      requestParameters,
      ...(responseElements ? { responseElements } : {}),
      readOnly: false,
      tls: false,
    });
  }

  private runInstancesRecord(rng: Rng, t: number): JsonObject {
    const a = this.vpc.account;
    const profileArn = `arn:aws:iam::${a.id}:instance-profile/${this.role.name}`;
    return this.autoscalingCall(
      rng,
      t,
      "RunInstances",
      {
        instancesSet: { items: [{ minCount: 1, maxCount: 1 }] },
        launchTemplate: { launchTemplateId: `lt-${rng.hex(17)}`, version: "3" },
        subnetId: this.subnetId,
        iamInstanceProfile: { arn: profileArn },
        metadataOptions: { httpTokens: "optional", httpEndpoint: "enabled" },
      },
      {
        requestId: rng.uuid(),
        reservationId: `r-${rng.hex(17)}`,
        ownerId: a.id,
        requesterId: "940372691376",
        instancesSet: {
          items: [
            {
              instanceId: this.id,
              imageId: `ami-${rng.hex(17)}`,
              instanceState: { code: 0, name: "pending" },
              privateIpAddress: this.privateIp,
              subnetId: this.subnetId,
              vpcId: this.vpc.vpcId,
              iamInstanceProfile: { arn: profileArn, id: `AIPA${rng.chars(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}` },
              networkInterfaceSet: {
                items: [
                  {
                    networkInterfaceId: this.eniId,
                    subnetId: this.subnetId,
                    vpcId: this.vpc.vpcId,
                    privateIpAddress: this.privateIp,
                    attachment: { attachmentId: `eni-attach-${rng.hex(17)}`, deviceIndex: 0, status: "attaching" },
                    ...(this.ipv6 ? { ipv6AddressesSet: { items: [{ ipv6Address: this.ipv6 }] } } : {}),
                  },
                ],
              },
            },
          ],
        },
      },
    );
  }

  fleetLine(): FleetSession {
    return {
      schema: FLEET_SCHEMA,
      key: this.arn,
      matchBy: "arn",
      kind: "ec2-instance",
      account: this.vpc.account.id,
      region: this.vpc.region,
      traits: [...this.traits],
    };
  }
}

/**
 * An ECS task with a task role: ECS assumes the role with the task id as the session name and
 * refreshes it hourly; the task calls from its ENI's public address or through the NAT gateway.
 */
export class EcsTask implements Actor, Victim {
  readonly kind = "ecs-task" as const;
  readonly taskId: string;
  readonly privateIp: string;
  readonly agent: string;
  readonly address: string;
  readonly issueAt: number;
  readonly firstCallAt: number;
  private readonly keys: { at: number; key: IssuedKey }[] = [];
  private nextIssue: number;
  private readonly actions = (PROFILES.task ?? []).map(([n, w]) => [ACTIONS[n as ActionName] as Action, w] as const);

  constructor(
    rng: Rng,
    readonly world: SimWorld,
    readonly vpc: VpcModel,
    readonly role: RoleRef,
    readonly startAt: number,
    readonly endAt: number,
  ) {
    this.taskId = rng.hex(32);
    this.privateIp = world.addresses.privateIp(vpc.account.index, vpc.regionIndex);
    this.agent = ua.ecsTaskAgent(rng);
    this.address = rng.chance(0.7) ? rng.pick(vpc.natIps) : world.addresses.publicIp(vpc.regionIndex);
    this.issueAt = startAt + rng.between(10, 30) * SECOND;
    this.firstCallAt = this.issueAt + rng.between(5, 40) * SECOND;
    this.nextIssue = this.issueAt;
  }

  get sessionName(): string {
    return this.taskId;
  }
  get arn(): string {
    return sessionArn(this.role, this.taskId);
  }

  credentialAt(t: number): HeldCredential {
    let k = this.keys[0];
    for (const e of this.keys) if (e.at <= t) k = e;
    if (!k) throw new Error(`task ${this.taskId} has no credentials at ${isoSeconds(t)}`);
    return { role: this.role, sessionName: this.taskId, key: k.key };
  }
  addressAt(): string {
    return this.address;
  }
  route(_rng: Rng, action: Action): Route {
    return endpointRoute(this.vpc, action, this.privateIp) ?? { sourceIp: this.address, region: this.vpc.region };
  }
  target(): ActionTarget {
    return {
      accountId: this.vpc.account.id,
      region: this.vpc.region,
      bucket: this.vpc.bucket,
      kmsKeyArn: this.vpc.kmsKeyArn,
      appName: this.role.name.replace(/^ecs-task-/, ""),
    };
  }

  step(ws: number, we: number, rng: Rng, out: Out): void {
    const a = this.vpc.account;
    while (this.nextIssue < we && this.nextIssue < this.endAt) {
      const at = this.nextIssue;
      const key = { accessKeyId: accessKeyId(rng), creationDate: isoSeconds(at) };
      this.keys.push({ at, key });
      if (this.keys.length > 8) this.keys.shift();
      out.emit(
        a.id,
        this.vpc.region,
        serviceAssumeRole(rng, {
          time: at,
          region: this.vpc.region,
          role: this.role,
          sessionName: this.taskId,
          service: "ecs-tasks.amazonaws.com",
          key: key.accessKeyId,
          lifetimeMs: 6 * HOUR,
        }),
      );
      this.nextIssue = at + HOUR + rng.between(-120, 120) * SECOND;
    }
    if (we <= this.firstCallAt || ws >= this.endAt) return;
    const from = Math.max(ws, this.firstCallAt);
    const to = Math.min(we, this.endAt);
    const n = rng.poisson((this.world.rate * 0.8 * (to - from)) / HOUR);
    // The first call is explicit so that it is direct and comes first.
    if (this.firstCallAt >= ws) this.call(rng, out, this.firstCallAt, ACTIONS.dynamodbGetItem);
    for (let i = 0; i < n; i++) {
      const t = secondIn(rng, from, to);
      if (t > this.firstCallAt) this.call(rng, out, t, rng.weighted(this.actions));
    }
  }

  private call(rng: Rng, out: Out, t: number, action: Action): void {
    const route = this.route(rng, action);
    const c = this.credentialAt(t);
    const a = this.vpc.account;
    out.emit(
      a.id,
      route.region,
      apiCall(rng, {
        time: t,
        account: a.id,
        region: route.region,
        identity: roleSessionIdentity(this.role, this.taskId, c.key.accessKeyId, c.key.creationDate),
        source: action.source,
        name: action.name,
        sourceIp: route.sourceIp,
        userAgent: this.agent,
        ...action.build(rng, this.target()),
        readOnly: action.readOnly,
        category: action.category,
        ...(route.vpcEndpointId ? { vpcEndpointId: route.vpcEndpointId } : {}),
        ...(route.vpcEndpointAccountId ? { vpcEndpointAccountId: route.vpcEndpointAccountId } : {}),
      }),
    );
  }

  fleetLine(): FleetSession {
    return {
      schema: FLEET_SCHEMA,
      key: this.arn,
      matchBy: "arn",
      kind: "ecs-task",
      account: this.vpc.account.id,
      region: this.vpc.region,
      traits: ["ecs-task"],
    };
  }
}

/**
 * One Lambda execution environment: its own key (Lambda assumes the function's role, session name
 * = function name) and its own egress address, for as long as the environment lives.
 */
export class LambdaEnvironment implements Actor, Victim {
  readonly kind = "lambda" as const;
  readonly privateIp: string;
  readonly address: string;
  readonly agent: string;
  readonly key: IssuedKey;
  readonly firstCallAt: number;
  private readonly actions = (PROFILES.lambda ?? []).map(([n, w]) => [ACTIONS[n as ActionName] as Action, w] as const);

  constructor(
    rng: Rng,
    readonly world: SimWorld,
    readonly vpc: VpcModel,
    readonly fn: AccountModel["functions"][number],
    readonly startAt: number,
    readonly endAt: number,
  ) {
    this.privateIp = world.addresses.privateIp(vpc.account.index, vpc.regionIndex);
    this.address = fn.inVpc ? rng.pick(vpc.natIps) : world.addresses.lambdaIp(vpc.regionIndex);
    this.agent = ua.lambdaAgent(rng);
    this.key = { accessKeyId: accessKeyId(rng), creationDate: isoSeconds(startAt) };
    this.firstCallAt = startAt + rng.between(1, 5) * SECOND;
  }

  get role(): RoleRef {
    return this.fn.role;
  }
  get sessionName(): string {
    return this.fn.name;
  }
  credentialAt(): HeldCredential {
    return { role: this.fn.role, sessionName: this.fn.name, key: this.key };
  }
  addressAt(): string {
    return this.address;
  }
  route(): Route {
    return { sourceIp: this.address, region: this.vpc.region };
  }
  target(): ActionTarget {
    return {
      accountId: this.vpc.account.id,
      region: this.vpc.region,
      bucket: this.vpc.bucket,
      kmsKeyArn: this.vpc.kmsKeyArn,
      appName: this.fn.name,
    };
  }

  step(ws: number, we: number, rng: Rng, out: Out): void {
    const a = this.vpc.account;
    if (this.startAt >= ws && this.startAt < we) {
      out.emit(
        a.id,
        this.vpc.region,
        serviceAssumeRole(rng, {
          time: this.startAt,
          region: this.vpc.region,
          role: this.fn.role,
          sessionName: this.fn.name,
          service: "lambda.amazonaws.com",
          key: this.key.accessKeyId,
          lifetimeMs: 12 * HOUR,
        }),
      );
    }
    if (this.firstCallAt >= ws && this.firstCallAt < we)
      this.call(rng, out, this.firstCallAt, rng.weighted(this.actions));
    if (we <= this.firstCallAt || ws >= this.endAt) return;
    const from = Math.max(ws, this.firstCallAt);
    const to = Math.min(we, this.endAt);
    const n = rng.poisson((this.world.rate * 2 * (to - from)) / HOUR);
    for (let i = 0; i < n; i++) {
      const t = secondIn(rng, from, to);
      if (t > this.firstCallAt) this.call(rng, out, t, rng.weighted(this.actions));
    }
  }

  private call(rng: Rng, out: Out, t: number, action: Action): void {
    const a = this.vpc.account;
    out.emit(
      a.id,
      this.vpc.region,
      apiCall(rng, {
        time: t,
        account: a.id,
        region: this.vpc.region,
        identity: roleSessionIdentity(this.fn.role, this.fn.name, this.key.accessKeyId, this.key.creationDate),
        source: action.source,
        name: action.name,
        sourceIp: this.address,
        userAgent: this.agent,
        ...action.build(rng, this.target()),
        readOnly: action.readOnly,
        category: action.category,
      }),
    );
  }

  fleetLine(): FleetSession {
    return {
      schema: FLEET_SCHEMA,
      key: this.key.accessKeyId,
      matchBy: "accessKeyId",
      kind: "lambda",
      account: this.vpc.account.id,
      region: this.vpc.region,
      traits: this.fn.inVpc ? ["lambda", "lambda-in-vpc"] : ["lambda"],
    };
  }
}

/**
 * The people and pipelines of one account: operators with the CLI on their laptops, an admin in
 * the console, a CI pipeline assuming its deploy role, and AWS services (CloudTrail, Config, KMS)
 * working on the account's behalf. Also creates the VPC endpoints its account announces that way.
 */
export class AccountActivity implements Actor {
  private readonly ciSessions: { key: string; region: string }[] = [];
  private nextCiRun: number;
  private nextConsole: number;
  private nextConfigIssue: number;
  private configKey: IssuedKey | undefined;
  private readonly configSession = "AWSConfig-Describe";
  /** Records of sessions begun in an earlier window, held until their own window. */
  private queue: { at: number; region: string; record: JsonObject }[] = [];

  constructor(
    rng: Rng,
    readonly world: SimWorld,
    readonly account: AccountModel,
  ) {
    this.nextCiRun = world.start + rng.between(10, 90) * MINUTE;
    this.nextConsole = world.start + rng.between(20, 120) * MINUTE;
    this.nextConfigIssue = world.start + rng.between(1, 30) * SECOND;
  }

  private vpc(r: number): VpcModel {
    return this.world.vpcs[this.account.index]?.[r] as VpcModel;
  }

  step(ws: number, we: number, rng: Rng, out: Out): void {
    const a = this.account;
    if (ws === this.world.start && a.endpointAnnouncement === "created") this.createEndpoints(rng, out);
    // Operators: a slow trickle of read calls from the office.
    for (const user of a.ops) {
      const n = rng.poisson((4 * (we - ws)) / HOUR);
      for (let i = 0; i < n; i++) {
        const t = secondIn(rng, ws, we);
        const region = rng.pick(this.world.regions);
        const action = rng.pick([
          ACTIONS.ec2DescribeInstances,
          ACTIONS.ec2DescribeSecurityGroups,
          ACTIONS.iamListRoles,
          ACTIONS.stsGetCallerIdentity,
        ]);
        const actionRegion = action.source === "iam.amazonaws.com" ? "us-east-1" : region;
        out.emit(
          a.id,
          actionRegion,
          apiCall(rng, {
            time: t,
            account: a.id,
            region: actionRegion,
            identity: iamUserIdentity(user),
            source: action.source,
            name: action.name,
            sourceIp: user.ip,
            userAgent: ua.laptopCliAgent(rng),
            ...action.build(rng, this.target(region)),
            readOnly: action.readOnly,
            category: action.category,
          }),
        );
      }
    }
    while (this.nextConsole < we) {
      this.consoleSession(rng, out, this.nextConsole);
      this.nextConsole += rng.between(150, 300) * MINUTE;
    }
    while (this.nextCiRun < we) {
      this.ciRun(rng, out, this.nextCiRun);
      this.nextCiRun += rng.between(90, 150) * MINUTE;
    }
    this.services(rng, out, ws, we);
    const due = this.queue.filter((q) => q.at < we);
    this.queue = this.queue.filter((q) => q.at >= we);
    for (const q of due) out.emit(a.id, q.region, q.record);
  }

  private later(at: number, region: string, record: JsonObject): void {
    if (at < this.world.end) this.queue.push({ at, region, record });
  }

  private target(region: string): ActionTarget {
    const r = Math.max(0, this.world.regions.indexOf(region));
    const vpc = this.vpc(r);
    return { accountId: this.account.id, region, bucket: vpc.bucket, kmsKeyArn: vpc.kmsKeyArn, appName: "ops" };
  }

  private createEndpoints(rng: Rng, out: Out): void {
    const a = this.account;
    const user = a.ops[0] as IamUserRef & { ip: string };
    this.world.regions.forEach((region, r) => {
      const vpc = this.vpc(r);
      let t = this.world.start + rng.between(2, 10) * SECOND;
      for (const [service, vpce] of vpc.endpoints) {
        t += rng.between(1, 3) * SECOND;
        const type = service === "s3" ? "Gateway" : "Interface";
        out.emit(
          a.id,
          region,
          apiCall(rng, {
            time: t,
            account: a.id,
            region,
            identity: iamUserIdentity(user),
            source: "ec2.amazonaws.com",
            name: "CreateVpcEndpoint",
            sourceIp: user.ip,
            userAgent: ua.laptopCliAgent(rng),
            requestParameters: {
              CreateVpcEndpointRequest: {
                VpcId: vpc.vpcId,
                ServiceName: `com.amazonaws.${region}.${service}`,
                VpcEndpointType: type,
              },
            },
            responseElements: {
              vpcEndpoint: {
                vpcEndpointId: vpce,
                vpcEndpointType: type,
                vpcId: vpc.vpcId,
                serviceName: `com.amazonaws.${region}.${service}`,
                state: type === "Gateway" ? "available" : "pending",
                ownerId: a.id,
              },
            },
            readOnly: false,
          }),
        );
      }
    });
  }

  private consoleSession(rng: Rng, out: Out, at: number): void {
    const a = this.account;
    const user = a.consoleUser;
    if (at >= this.world.end) return;
    out.emit(
      a.id,
      "us-east-1",
      apiCall(rng, {
        time: at,
        account: a.id,
        region: "us-east-1",
        identity: { type: "IAMUser", principalId: user.userId, arn: user.arn, accountId: a.id, userName: user.name },
        source: "signin.amazonaws.com",
        name: "ConsoleLogin",
        sourceIp: user.ip,
        userAgent: ua.browserAgent(rng),
        requestParameters: null,
        responseElements: { ConsoleLogin: "Success" },
        additionalEventData: {
          LoginTo: "https://console.aws.amazon.com/console/home",
          MobileVersion: "No",
          MFAUsed: "Yes",
        },
        readOnly: false,
        eventType: "AwsConsoleSignIn",
        tls: false,
      }),
    );
    const key = accessKeyId(rng);
    const browser = ua.browserAgent(rng);
    const calls = rng.between(5, 25);
    for (let i = 0; i < calls; i++) {
      const t = at + rng.between(10, 45 * 60) * SECOND;
      const region = rng.pick(this.world.regions);
      const action = rng.pick([
        ACTIONS.ec2DescribeInstances,
        ACTIONS.ec2DescribeSecurityGroups,
        ACTIONS.ssmGetParameter,
      ]);
      this.later(
        t,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: iamUserIdentity(user, key, true),
          source: action.source,
          name: action.name,
          sourceIp: user.ip,
          userAgent: rng.chance(0.5) ? browser : "console.ec2.amazonaws.com",
          ...action.build(rng, this.target(region)),
          readOnly: action.readOnly,
          sessionCredentialFromConsole: true,
        }),
      );
    }
  }

  private ciRun(rng: Rng, out: Out, at: number): void {
    const a = this.account;
    if (at >= this.world.end - 20 * MINUTE) return;
    const runner = this.world.addresses.officeIp();
    const region = rng.pick(this.world.regions);
    const key = accessKeyId(rng);
    const sessionName = `ci-deploy-${rng.between(1000, 9999)}`;
    out.emit(
      a.id,
      region,
      userAssumeRole(rng, {
        time: at,
        region,
        caller: iamUserIdentity(a.ciUser),
        sourceIp: runner,
        userAgent: ua.ciAgent(),
        role: a.roles.deploy,
        sessionName,
        key,
      }),
    );
    this.ciSessions.push({ key, region });
    const creationDate = isoSeconds(at);
    const calls = rng.between(4, 15);
    for (let i = 0; i < calls; i++) {
      const t = at + rng.between(5, 15 * 60) * SECOND;
      const action = rng.pick([
        ACTIONS.s3PutObject,
        ACTIONS.s3GetObject,
        ACTIONS.ec2DescribeInstances,
        ACTIONS.ssmGetParameter,
      ]);
      this.later(
        t,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: roleSessionIdentity(a.roles.deploy, sessionName, key, creationDate),
          source: action.source,
          name: action.name,
          sourceIp: runner,
          userAgent: ua.ciAgent(),
          ...action.build(rng, this.target(region)),
          readOnly: action.readOnly,
          category: action.category,
        }),
      );
    }
  }

  /** CloudTrail writing its own files, and AWS Config describing resources through its service role. */
  private services(rng: Rng, out: Out, ws: number, we: number): void {
    const a = this.account;
    this.world.regions.forEach((region, r) => {
      const vpc = this.vpc(r);
      const t = secondIn(rng, ws, we);
      out.emit(
        a.id,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: awsServiceIdentity("cloudtrail.amazonaws.com"),
          source: "kms.amazonaws.com",
          name: "GenerateDataKey",
          sourceIp: "cloudtrail.amazonaws.com",
          userAgent: "cloudtrail.amazonaws.com",
          requestParameters: { keyId: vpc.kmsKeyArn, keySpec: "AES_256" },
          resources: [{ accountId: a.id, type: "AWS::KMS::Key", ARN: vpc.kmsKeyArn }],
          readOnly: true,
          sharedEventID: rng.uuid(),
          tls: false,
        }),
      );
    });
    const home = this.world.regions[0] ?? "us-east-1";
    while (this.nextConfigIssue < we) {
      const at = this.nextConfigIssue;
      this.configKey = { accessKeyId: accessKeyId(rng), creationDate: isoSeconds(at) };
      out.emit(
        a.id,
        home,
        serviceAssumeRole(rng, {
          time: at,
          region: home,
          role: a.roles.config,
          sessionName: this.configSession,
          service: "config.amazonaws.com",
          key: this.configKey.accessKeyId,
          lifetimeMs: HOUR,
        }),
      );
      this.nextConfigIssue = at + HOUR;
    }
    const key = this.configKey;
    if (!key) return;
    const n = rng.poisson(3);
    for (let i = 0; i < n; i++) {
      const t = secondIn(rng, Math.max(ws, Date.parse(key.creationDate) + SECOND), we);
      const region = rng.pick(this.world.regions);
      const action = rng.pick([
        ACTIONS.ec2DescribeInstances,
        ACTIONS.ec2DescribeSecurityGroups,
        ACTIONS.ec2DescribeNetworkInterfaces,
      ]);
      out.emit(
        a.id,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: roleSessionIdentity(a.roles.config, this.configSession, key.accessKeyId, key.creationDate, {
            invokedBy: "config.amazonaws.com",
          }),
          source: action.source,
          name: action.name,
          sourceIp: "config.amazonaws.com",
          userAgent: "config.amazonaws.com",
          ...action.build(rng, this.target(region)),
          readOnly: true,
          tls: false,
        }),
      );
    }
  }

  fleetLines(): FleetSession[] {
    return this.ciSessions.map((s) => ({
      schema: FLEET_SCHEMA,
      key: s.key,
      matchBy: "accessKeyId",
      kind: "assumed-role",
      account: this.account.id,
      region: s.region,
      traits: ["ci-deploy"],
    }));
  }
}

/** Workload counts for a fleet of `instances` instances. */
export function workloadCounts(instances: number): { tasks: number; lambdaEnvironments: number } {
  return {
    tasks: Math.max(3, Math.round(instances * 0.15)),
    lambdaEnvironments: Math.max(3, Math.round(instances * 0.12)),
  };
}

export interface Workloads {
  readonly instances: Instance[];
  readonly tasks: EcsTask[];
  readonly lambdas: LambdaEnvironment[];
  readonly activity: AccountActivity[];
}

/**
 * Creates the workloads and their benign behaviours. Attacks may then reserve some of them and
 * adjust their plans; `finalize` fixes the plans.
 */
export function buildWorkloads(rng: Rng, world: SimWorld, instances: number): Workloads {
  const { start, end } = world;
  const out: Workloads = { instances: [], tasks: [], lambdas: [], activity: [] };
  const allVpcs = world.vpcs.flat();
  for (let i = 0; i < instances; i++) {
    const vpc = rng.pick(allVpcs);
    const profile = rng.weighted<Profile>([
      ["web", 35],
      ["worker", 25],
      ["data", 15],
      ["eks", 25],
    ]);
    const egress = rng.weighted<Egress>([
      ["public", 35],
      ["eip", 10],
      ["nat", 55],
    ]);
    // Most of the fleet boots in the first quarter hour; the rest is scaled out over the period.
    const lateLaunch = rng.chance(0.1) && end - start > 3 * HOUR;
    const launchAt = lateLaunch
      ? secondIn(rng, start + 30 * MINUTE, end - 2 * HOUR)
      : secondIn(rng, start + 30 * SECOND, start + 15 * MINUTE);
    const inst = new Instance(rng, world, vpc, profile, egress, launchAt);
    if (!lateLaunch && rng.chance(0.05) && end - start > 3 * HOUR) {
      inst.terminateAt = secondIn(rng, start + 2 * HOUR, end - 30 * MINUTE);
      inst.traits.push("terminated");
    }
    if (rng.chance(0.12)) {
      inst.ipv6 = world.addresses.ipv6(vpc.account.index, vpc.regionIndex);
      inst.traits.push("dual-stack");
    }
    out.instances.push(inst);
  }
  const counts = workloadCounts(instances);
  for (let i = 0; i < counts.tasks; i++) {
    const vpc = rng.pick(allVpcs);
    const taskStart = rng.chance(0.7) ? secondIn(rng, start, start + 15 * MINUTE) : secondIn(rng, start, end - HOUR);
    const taskEnd = rng.chance(0.6) ? end : Math.min(end, taskStart + rng.between(60, 360) * MINUTE);
    out.tasks.push(new EcsTask(rng, world, vpc, rng.pick(vpc.account.taskRoles), taskStart, taskEnd));
  }
  for (let i = 0; i < counts.lambdaEnvironments; i++) {
    const vpc = rng.pick(allVpcs);
    const envStart = secondIn(rng, start, end - 10 * MINUTE);
    const envEnd = Math.min(end, envStart + rng.between(10, 120) * MINUTE);
    out.lambdas.push(new LambdaEnvironment(rng, world, vpc, rng.pick(vpc.account.functions), envStart, envEnd));
  }
  for (const account of world.accounts) out.activity.push(new AccountActivity(rng, world, account));
  return out;
}

/** Gives unreserved instances their lifecycle behaviour (EIP moves, ENIs, stop/start). */
export function assignLifecycles(rng: Rng, workloads: Workloads): void {
  for (const inst of workloads.instances) {
    if (inst.reserved || inst.traits.includes("terminated") || !rng.chance(0.14)) continue;
    const trait = rng.weighted<LifecycleTrait>([
      ["eip-associate", 3],
      ["eni-eip", 2],
      ["secondary-ip-eip", 1.5],
      ["eni-attach", 2],
      ["stop-start", 3.5],
    ]);
    inst.assignLifecycle(rng, trait);
  }
  for (const inst of workloads.instances) inst.finalizePlan(rng);
}

const RUNNING = { code: 16, name: "running" };
const STOPPING = { code: 64, name: "stopping" };
const STOPPED = { code: 80, name: "stopped" };
const PENDING = { code: 0, name: "pending" };

/** The `responseElements` of StopInstances/StartInstances for one instance. */
function stateChange(
  instanceId: string,
  current: { code: number; name: string },
  previous: { code: number; name: string },
) {
  return { instancesSet: { items: [{ instanceId, currentState: current, previousState: previous }] } };
}
