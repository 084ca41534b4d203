/** EC2 instances: the simulated fleet's main workload. */

import { ACTIONS, type Action, type ActionName, type ActionTarget, PROFILES } from "./actions.js";
import {
  autoscalingCall,
  LIFECYCLE_TRAITS,
  type LifecycleTrait,
  lifecyclePlan,
  opsCall,
  PENDING,
  type PlanItem,
  RUNNING,
  runInstancesRecord,
  STOPPED,
  STOPPING,
  stateChange,
} from "./instance-lifecycle.js";
import type { Rng } from "./prng.js";
import {
  accessKeyId,
  apiCall,
  type IssuedKey,
  isoSeconds,
  type JsonObject,
  type RoleRef,
  roleSessionIdentity,
  serviceAssumeRole,
  sessionArn,
} from "./records.js";
import { FLEET_SCHEMA, type FleetSession } from "./truth.js";
import * as ua from "./user-agents.js";
import { endpointRoute, type HeldCredential, kmsOnBehalf, type Route, type Victim } from "./workload.js";
import { type Actor, HOUR, MINUTE, type Out, SECOND, type SimWorld, secondIn, type VpcModel } from "./world.js";

export type Egress = "public" | "eip" | "nat";
export type Profile = "web" | "worker" | "data" | "eks";

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
    if (lifecycle) plan.push(...lifecyclePlan(rng, this, lifecycle, this.lifecycleAt));
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

  private runPlanItem(rng: Rng, out: Out, item: PlanItem): void {
    const a = this.vpc.account;
    const instancesSet = { items: [{ instanceId: this.id }] };
    switch (item.op) {
      case "run":
        out.emit(a.id, this.vpc.region, runInstancesRecord(rng, this, item.at));
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
        opsCall(
          rng,
          out,
          this,
          item,
          "AssociateAddress",
          { instanceId: this.id, allocationId: item.allocationId ?? "", allowReassociation: false },
          { _return: true, associationId: `eipassoc-${rng.hex(17)}` },
        );
        return;
      case "associate-eni":
        opsCall(
          rng,
          out,
          this,
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
        opsCall(
          rng,
          out,
          this,
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
        opsCall(
          rng,
          out,
          this,
          item,
          "AttachNetworkInterface",
          { networkInterfaceId: item.eni ?? "", instanceId: this.id, deviceIndex: 1 },
          { attachmentId: `eni-attach-${rng.hex(17)}`, networkCardIndex: 0 },
        );
        return;
      case "stop":
        this.nextRotation = Number.POSITIVE_INFINITY;
        opsCall(
          rng,
          out,
          this,
          item,
          "StopInstances",
          { instancesSet, force: false },
          stateChange(this.id, STOPPING, RUNNING),
        );
        return;
      case "start":
        opsCall(rng, out, this, item, "StartInstances", { instancesSet }, stateChange(this.id, PENDING, STOPPED));
        return;
      case "terminate":
        this.nextRotation = Number.POSITIVE_INFINITY;
        out.emit(a.id, this.vpc.region, autoscalingCall(rng, this, item.at, "TerminateInstances", { instancesSet }));
        return;
    }
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
