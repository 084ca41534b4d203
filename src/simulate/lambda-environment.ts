/** Lambda execution environments. */

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
} from "./records.js";
import { FLEET_SCHEMA, type FleetSession } from "./truth.js";
import * as ua from "./user-agents.js";
import type { HeldCredential, Route, Victim } from "./workload.js";
import {
  type AccountModel,
  type Actor,
  HOUR,
  type Out,
  SECOND,
  type SimWorld,
  secondIn,
  type VpcModel,
} from "./world.js";

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
