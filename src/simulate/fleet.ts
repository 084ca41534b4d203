/**
 * The simulated estate: accounts with their VPCs, NAT gateways and VPC endpoints (world.ts), EC2
 * instances (instance.ts, with their address changes and stop/start in instance-lifecycle.ts), ECS
 * tasks (ecs-task.ts), Lambda execution environments (lambda-environment.ts), and the people,
 * pipelines and AWS services acting on the owner's behalf (account-activity.ts). Each of them is an
 * `Actor` that writes its records for one window of time at a time, so the whole period never has to
 * sit in memory. This file decides how many of each there are and when they launch.
 *
 * Everything here is benign by construction under the detection rules (docs/simulate.md lists the
 * rules each behaviour is meant to exercise); the thieves live in attacks.ts.
 */
import { AccountActivity } from "./account-activity.js";
import { EcsTask } from "./ecs-task.js";
import { type Egress, Instance, type Profile } from "./instance.js";
import type { LifecycleTrait } from "./instance-lifecycle.js";
import { LambdaEnvironment } from "./lambda-environment.js";
import type { Rng } from "./prng.js";
import { HOUR, MINUTE, SECOND, type SimWorld, secondIn } from "./world.js";

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
