/**
 * Thieves with stolen credentials, and the ground truth about each one. An attack picks a victim
 * (an instance, an ECS task or a Lambda environment), the moment the credentials were copied and a
 * series of calls; it becomes an `Actor` that writes those calls in their windows and fills in the
 * truth (the first malicious event's id and time) as it goes.
 *
 * Victims are chosen among workloads with no lifecycle behaviour, and reserved so that none is given
 * one later: a thief's first call inside an instance's address-learning window would be learned as
 * the instance's new address, which is a known and documented limit, not what these kinds test.
 */

import { ACTIONS, type Action } from "./actions.js";
import type { EcsTask } from "./ecs-task.js";
import type { Workloads } from "./fleet.js";
import type { Instance } from "./instance.js";
import type { LambdaEnvironment } from "./lambda-environment.js";
import type { Rng } from "./prng.js";
import { apiCall, roleSessionIdentity, sessionArn } from "./records.js";
import {
  ATTACK_KINDS,
  type AttackKind,
  type Incident,
  RULE,
  type RuleId,
  type SessionKind,
  TRUTH_SCHEMA,
  type TruthEventRef,
} from "./truth.js";
import * as ua from "./user-agents.js";
import type { HeldCredential, Route, Victim } from "./workload.js";
import { type Actor, HOUR, MINUTE, type Out, SECOND, type SimWorld, secondIn } from "./world.js";

export interface AttackRequest {
  readonly kind: AttackKind;
  readonly count: number;
}

/**
 * Parses `--attacks`: `all`, `none`, or a comma list of kinds with optional counts
 * (`outside-aws:5,recon`). Kinds without a count get `defaultCount`.
 *
 * @example parseAttackList("recon:2,lambda-theft", 3) // [{kind:"recon",count:2},{kind:"lambda-theft",count:3}]
 */
export function parseAttackList(text: string, defaultCount: number): AttackRequest[] {
  const t = text.trim();
  if (t === "" || t === "none") return [];
  if (t === "all") return ATTACK_KINDS.map((kind) => ({ kind, count: defaultCount }));
  return t.split(",").map((part) => {
    const [name = "", n] = part.trim().split(":");
    if (!(ATTACK_KINDS as readonly string[]).includes(name)) {
      throw new Error(`unknown attack kind ${JSON.stringify(name)} (known: ${ATTACK_KINDS.join(", ")})`);
    }
    const count = n === undefined ? defaultCount : Number(n);
    if (!Number.isInteger(count) || count < 0) throw new Error(`bad count in ${JSON.stringify(part)}`);
    return { kind: name as AttackKind, count };
  });
}

interface PlannedCall {
  readonly at: number;
  readonly action: Action;
  /** Direct from this address, or the victim's own routing when undefined (on-box calls). */
  readonly sourceIp?: string;
  readonly viaEndpoint?: { readonly id: string; readonly accountId: string };
}

interface AttackPlan {
  readonly id: string;
  readonly kind: AttackKind;
  readonly victim: Victim;
  readonly stolenAt: number;
  readonly imds: "1.0" | "2.0";
  readonly userAgent: string;
  readonly calls: PlannedCall[];
  readonly network: Incident["attacker"]["network"];
  readonly match: Incident["match"];
  readonly detectableBy: RuleId[];
  readonly notDetectableBy: RuleId[];
  readonly note: string;
}

/** Writes one thief's calls and records the truth about them. */
export class AttackActor implements Actor {
  private cursor = 0;
  private first: TruthEventRef | undefined;
  private last = "";
  private written = 0;
  private readonly addresses = new Set<string>();
  private credential: HeldCredential | undefined;

  constructor(
    readonly plan: AttackPlan,
    private readonly world: SimWorld,
  ) {}

  step(_ws: number, we: number, rng: Rng, out: Out): void {
    const { plan } = this;
    while (this.cursor < plan.calls.length && (plan.calls[this.cursor] as PlannedCall).at < we) {
      const call = plan.calls[this.cursor++] as PlannedCall;
      if (call.at >= this.world.end) continue;
      this.credential ??= plan.victim.credentialAt(plan.stolenAt, plan.imds);
      const c = this.credential;
      const route: Route = call.viaEndpoint
        ? {
            sourceIp: call.sourceIp ?? "",
            region: plan.victim.vpc.region,
            vpcEndpointId: call.viaEndpoint.id,
            vpcEndpointAccountId: call.viaEndpoint.accountId,
          }
        : call.sourceIp
          ? { sourceIp: call.sourceIp, region: plan.victim.vpc.region }
          : plan.victim.route(rng, call.action, call.at);
      const region = call.action.source === "iam.amazonaws.com" ? "us-east-1" : route.region;
      const account = c.role.accountId;
      const record = apiCall(rng, {
        time: call.at,
        account,
        region,
        identity: roleSessionIdentity(c.role, c.sessionName, c.key.accessKeyId, c.key.creationDate, {
          ...(c.ec2RoleDelivery ? { ec2RoleDelivery: c.ec2RoleDelivery } : {}),
          ...(c.ec2IssuedInVPC ? { ec2IssuedInVPC: c.ec2IssuedInVPC } : {}),
        }),
        source: call.action.source,
        name: call.action.name,
        sourceIp: route.sourceIp,
        userAgent: plan.userAgent,
        ...call.action.build(rng, plan.victim.target()),
        readOnly: call.action.readOnly,
        category: call.action.category,
        ...(route.vpcEndpointId ? { vpcEndpointId: route.vpcEndpointId } : {}),
        ...(route.vpcEndpointAccountId ? { vpcEndpointAccountId: route.vpcEndpointAccountId } : {}),
        eventVersion: "1.10",
      });
      out.emit(account, region, record);
      this.addresses.add(route.sourceIp);
      this.written++;
      const time = record.eventTime as string;
      if (!this.first) {
        this.first = {
          id: record.eventID as string,
          time,
          name: call.action.name,
          source: call.action.source,
        };
      }
      this.last = time;
    }
  }

  /** The truth line; undefined when none of the thief's calls fell inside the simulated period. */
  incident(): Incident | undefined {
    const { plan } = this;
    if (!this.first || !this.credential) return undefined;
    const c = this.credential;
    const kind = plan.victim.kind as SessionKind;
    const arn = sessionArn(c.role, c.sessionName);
    return {
      schema: TRUTH_SCHEMA,
      id: plan.id,
      kind: plan.kind,
      account: c.role.accountId,
      region: plan.victim.vpc.region,
      session: {
        kind,
        arn,
        roleArn: c.role.arn,
        sessionName: c.sessionName,
        accessKeyId: c.key.accessKeyId,
        matchBy: kind === "lambda" ? "accessKeyId" : "arn",
        ...(kind === "ec2-instance" ? { instanceId: c.sessionName } : {}),
      },
      attacker: {
        addresses: [...this.addresses].sort(),
        userAgent: plan.userAgent,
        network: plan.network,
        ...(plan.calls[0]?.viaEndpoint ? { vpcEndpointId: plan.calls[0].viaEndpoint.id } : {}),
      },
      match: plan.match,
      firstMaliciousEvent: this.first,
      lastMaliciousTime: this.last,
      maliciousEvents: this.written,
      detectableBy: plan.detectableBy,
      notDetectableBy: plan.notDetectableBy,
      note: plan.note,
    };
  }
}

/** What a thief does once he holds credentials: read data, look around, never a recon call. */
const LOOTING: readonly Action[] = [
  ACTIONS.s3GetObject,
  ACTIONS.s3GetObject,
  ACTIONS.ec2DescribeInstances,
  ACTIONS.ec2DescribeSecurityGroups,
  ACTIONS.getSecretValue,
  ACTIONS.dynamodbGetItem,
  ACTIONS.kmsDecrypt,
];
/** What an SSRF can replay: query-string (GET) APIs signed in advance. */
const SSRF_CALLS: readonly Action[] = [
  ACTIONS.ec2DescribeInstances,
  ACTIONS.ec2DescribeSecurityGroups,
  ACTIONS.ec2DescribeTags,
];
const RECON_CALLS: readonly Action[] = [
  ACTIONS.stsGetCallerIdentity,
  ACTIONS.iamListRoles,
  ACTIONS.iamListAttachedRolePolicies,
  ACTIONS.s3ListBuckets,
  ACTIONS.secretsListSecrets,
];

function series(
  rng: Rng,
  first: number,
  n: number,
  pool: readonly Action[],
  spacing: [number, number],
  make: (at: number, action: Action) => PlannedCall,
  leading?: Action,
): PlannedCall[] {
  const calls: PlannedCall[] = [];
  let t = first;
  for (let i = 0; i < n; i++) {
    calls.push(make(t, i === 0 && leading ? leading : rng.pick(pool)));
    t += rng.between(spacing[0], spacing[1]) * SECOND;
  }
  return calls;
}

/** Chooses victims and builds the attackers. Reserves victims, so call before `assignLifecycles`. */
export function planAttacks(
  rng: Rng,
  world: SimWorld,
  workloads: Workloads,
  requests: readonly AttackRequest[],
): AttackActor[] {
  const { start, end } = world;
  // Thefts start no earlier than an hour in and end an hour before the period does; short periods
  // (tests) scale the margins down.
  const margin = Math.min(HOUR, (end - start) / 4);
  const thiefAccount = String(rng.between(100000000000, 999999999999));
  const thiefEndpoint = `vpce-${rng.hex(17)}`;
  const actors: AttackActor[] = [];
  const reservedTasks = new Set<EcsTask>();
  const reservedLambdas = new Set<LambdaEnvironment>();
  let serial = 0;

  const usable = (i: Instance) =>
    !i.reserved &&
    i.profile !== "eks" &&
    !i.ipv6 &&
    !i.traits.includes("terminated") &&
    i.launchAt < start + 20 * MINUTE;
  const pickInstance = (): Instance | undefined => {
    const candidates = workloads.instances.filter(usable);
    const v = candidates.length ? rng.pick(candidates) : undefined;
    if (v) v.reserved = true;
    return v;
  };
  /** An attack window after the victim's first call, ending an hour before the period does. */
  const attackTime = (firstCallAt: number, until = end): number | undefined => {
    const from = Math.max(start + margin, firstCallAt + 10 * MINUTE);
    const to = Math.min(until, end) - margin;
    return to > from ? secondIn(rng, from, to) : undefined;
  };

  for (const { kind, count } of requests) {
    for (let k = 0; k < count; k++) {
      const id = `inc-${String(++serial).padStart(3, "0")}-${kind}`;
      const plan = planOne(kind, k, id);
      if (plan) actors.push(new AttackActor(plan, world));
    }
  }
  return actors;

  function planOne(kind: AttackKind, k: number, id: string): AttackPlan | undefined {
    const loot = (n: number, t0: number, ip: string, spacing: [number, number] = [20, 300]) =>
      series(rng, t0, n, LOOTING, spacing, (at, action) => ({ at, action, sourceIp: ip }));
    const base = {
      id,
      kind,
      imds: "2.0" as const,
      match: "session-and-address" as const,
      notDetectableBy: [] as RuleId[],
    };
    switch (kind) {
      case "outside-aws":
      case "other-aws-account": {
        const v = pickInstance();
        const T = v && attackTime(v.firstCallAt);
        if (!v || T === undefined) return undefined;
        const outside = kind === "outside-aws";
        const ip = outside ? world.addresses.outsideIp() : world.addresses.otherAwsIp(v.vpc.regionIndex);
        return {
          ...base,
          victim: v,
          stolenAt: T - rng.between(60, 900) * SECOND,
          userAgent: outside ? ua.thiefLinuxCliAgent("s3.cp") : ua.thiefBoto3Agent(),
          calls: loot(rng.between(4, 10), T, ip),
          network: outside ? "outside-aws" : "aws",
          detectableBy: [RULE.ipMismatch],
          note: outside
            ? "Instance credentials copied off the instance and used from outside AWS."
            : "Instance credentials used from an EC2 address in the same region that belongs to another account.",
        };
      }
      case "attacker-vpc-endpoint": {
        const v = pickInstance();
        const T = v && attackTime(v.firstCallAt);
        if (!v || T === undefined) return undefined;
        const ip = world.addresses.thiefPrivateIp();
        const pool = [ACTIONS.s3GetObject, ACTIONS.s3GetObject, ACTIONS.getSecretValue, ACTIONS.kmsDecrypt];
        return {
          ...base,
          victim: v,
          stolenAt: T - rng.between(60, 900) * SECOND,
          userAgent: ua.thiefBoto3Agent(),
          calls: series(rng, T, rng.between(4, 10), pool, [20, 300], (at, action) => ({
            at,
            action,
            sourceIp: ip,
            viaEndpoint: { id: thiefEndpoint, accountId: thiefAccount },
          })),
          network: "thief-vpc-endpoint",
          detectableBy: [RULE.ipMismatch],
          note: "Calls through the thief's own VPC endpoint in his account: the source is a private address of his VPC, so only the endpoint's owner gives it away.",
        };
      }
      case "attacker-first": {
        // A fresh instance whose credentials are used before the instance itself makes a call.
        const later = workloads.instances.filter(
          (i) =>
            !i.reserved &&
            i.profile !== "eks" &&
            !i.ipv6 &&
            !i.traits.includes("terminated") &&
            i.launchAt >= start + 30 * MINUTE,
        );
        let v: Instance | undefined = later.length ? rng.pick(later) : undefined;
        if (!v) {
          // Small fleets may have no late launches: relaunch an ordinary instance mid-period.
          v = pickInstance();
          if (!v) return undefined;
          const launch = secondIn(rng, start + margin, end - 2 * margin);
          v.launchAt = launch;
          v.issueAt = launch + rng.between(15, 45) * SECOND;
        }
        v.reserved = true;
        const thiefFirst = v.issueAt + rng.between(10, 60) * SECOND;
        v.delayFirstCall(v.issueAt + rng.between(150, 300) * SECOND);
        const ip = world.addresses.outsideIp();
        return {
          ...base,
          victim: v,
          stolenAt: v.issueAt,
          userAgent: ua.thiefLinuxCliAgent("ec2.describe-instances"),
          calls: loot(rng.between(5, 10), thiefFirst, ip, [20, 240]),
          network: "outside-aws",
          match: "session",
          detectableBy: [RULE.ipMismatch],
          note: "The thief called before the instance did, so his address became the session's home; the instance's own first call is the mismatch.",
        };
      }
      case "ssrf-replay": {
        const v = pickInstance();
        const T = v && attackTime(v.firstCallAt);
        if (!v || T === undefined) return undefined;
        const flavour = k % 3;
        const onBox = (at: number, action: Action): PlannedCall => ({ at, action });
        const calls = series(rng, T, rng.between(3, 8), SSRF_CALLS, [5, 120], onBox);
        if (flavour === 0) {
          return {
            ...base,
            victim: v,
            imds: "1.0",
            stolenAt: T - rng.between(10, 120) * SECOND,
            userAgent: ua.ssrfHttpClientAgent(rng),
            calls,
            network: "instance",
            detectableBy: [RULE.imdsv1],
            notDetectableBy: [RULE.ipMismatch, RULE.foreignAgent],
            note: "SSRF fetched the keys from IMDSv1 and replayed signed requests through the same SSRF: same address, a server's HTTP client; only the IMDSv1 delivery shows.",
          };
        }
        if (flavour === 1) {
          return {
            ...base,
            victim: v,
            stolenAt: T - rng.between(10, 120) * SECOND,
            userAgent: ua.ssrfBrowserAgent(),
            calls,
            network: "instance",
            detectableBy: [RULE.foreignAgent],
            notDetectableBy: [RULE.ipMismatch, RULE.imdsv1],
            note: "SSRF through a headless-browser renderer: same address and IMDSv2 keys, but a browser's user agent.",
          };
        }
        return {
          ...base,
          victim: v,
          stolenAt: T - rng.between(10, 120) * SECOND,
          userAgent: ua.ssrfHttpClientAgent(rng),
          calls,
          network: "instance",
          detectableBy: [],
          notDetectableBy: [RULE.ipMismatch, RULE.imdsv1, RULE.foreignAgent],
          note: "SSRF replay with IMDSv2 keys through the application's own HTTP client: same address, server software, ordinary calls. No rule can see it (expected miss).",
        };
      }
      case "recon": {
        const v = pickInstance();
        const T = v && attackTime(v.firstCallAt);
        if (!v || T === undefined) return undefined;
        const calls = series(
          rng,
          T,
          rng.between(3, 6),
          RECON_CALLS,
          [3, 60],
          (at, action) => ({ at, action }),
          ACTIONS.stsGetCallerIdentity,
        );
        return {
          ...base,
          victim: v,
          stolenAt: T,
          userAgent: ua.onBoxCliAgent("sts.get-caller-identity"),
          calls,
          network: "instance",
          detectableBy: [RULE.recon],
          notDetectableBy: [RULE.ipMismatch],
          note: "A shell on the instance runs whoami and enumeration with the instance's own CLI: no address change, only the calls give it away.",
        };
      }
      case "imdsv1-theft": {
        const v = pickInstance();
        const T = v && attackTime(v.firstCallAt);
        if (!v || T === undefined) return undefined;
        const mac = k % 2 === 1;
        return {
          ...base,
          victim: v,
          imds: "1.0",
          stolenAt: T - rng.between(60, 900) * SECOND,
          userAgent: mac ? ua.thiefMacCliAgent("s3.cp") : ua.thiefLinuxCliAgent("s3.cp"),
          calls: loot(rng.between(4, 10), T, world.addresses.outsideIp()),
          network: "outside-aws",
          detectableBy: mac ? [RULE.ipMismatch, RULE.imdsv1, RULE.foreignAgent] : [RULE.ipMismatch, RULE.imdsv1],
          note: "Keys read from IMDSv1 (an SSRF needs no token) and used from outside AWS.",
        };
      }
      case "ecs-task-theft": {
        const candidates = workloads.tasks.filter((t) => !reservedTasks.has(t) && t.endAt - t.firstCallAt > 2 * margin);
        const v: EcsTask | undefined = candidates.length ? rng.pick(candidates) : undefined;
        const T = v && attackTime(v.firstCallAt, v.endAt + margin);
        if (!v || T === undefined) return undefined;
        reservedTasks.add(v);
        const outside = k % 2 === 0;
        const ip = outside ? world.addresses.outsideIp() : world.addresses.otherAwsIp(v.vpc.regionIndex);
        return {
          ...base,
          victim: v,
          stolenAt: Math.max(v.firstCallAt, T - rng.between(60, 900) * SECOND),
          userAgent: ua.thiefBoto3Agent(),
          calls: loot(rng.between(4, 10), T, ip),
          network: outside ? "outside-aws" : "aws",
          detectableBy: [RULE.ipMismatch],
          note: "Task-role credentials read from the task metadata endpoint (169.254.170.2) through an SSRF and used elsewhere.",
        };
      }
      case "lambda-theft": {
        const candidates = workloads.lambdas.filter(
          (l) => !reservedLambdas.has(l) && l.endAt - l.firstCallAt > 15 * MINUTE && l.firstCallAt < end - 2 * margin,
        );
        const v: LambdaEnvironment | undefined = candidates.length ? rng.pick(candidates) : undefined;
        if (!v) return undefined;
        reservedLambdas.add(v);
        const stolenAt = secondIn(rng, v.firstCallAt + SECOND, Math.min(v.endAt, end - 1.5 * margin));
        const T = stolenAt + rng.between(60, 600) * SECOND;
        return {
          ...base,
          victim: v,
          stolenAt,
          userAgent: ua.thiefLinuxCliAgent("dynamodb.scan"),
          calls: loot(rng.between(4, 10), T, world.addresses.outsideIp()),
          network: "outside-aws",
          detectableBy: [RULE.ipMismatch],
          note: "A Lambda function's environment variables (its keys) leaked through code injection and used from outside AWS.",
        };
      }
    }
  }
}
