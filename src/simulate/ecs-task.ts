/** ECS tasks with a task role. */

import { ACTIONS, type Action, type ActionName, type ActionTarget, PROFILES } from "./actions.js";
import type { Rng } from "./prng.js";
import {
  accessKeyId,
  apiCall,
  type IssuedKey,
  isoSeconds,
  type RoleRef,
  roleSessionIdentity,
  serviceAssumeRole,
  sessionArn,
} from "./records.js";
import { FLEET_SCHEMA, type FleetSession } from "./truth.js";
import * as ua from "./user-agents.js";
import { endpointRoute, type HeldCredential, type Route, type Victim } from "./workload.js";
import { type Actor, HOUR, type Out, SECOND, type SimWorld, secondIn, type VpcModel } from "./world.js";

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
