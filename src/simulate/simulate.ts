/**
 * `firstcall simulate`: writes a realistic fleet's CloudTrail, with injected thefts, and the ground
 * truth to score a detector against.
 *
 * Output directory:
 * - `AWSLogs/…`            the logs, in CloudTrail's S3 layout (see writer.ts)
 * - `truth.jsonl`          one line per injected incident (see truth.ts)
 * - `fleet.jsonl`          one line per benign credential session, with its tricky behaviours
 * - `firstcall.yaml`       the fleet owner's configuration (accounts, networks, endpoints, allowlists)
 * - `ip-ranges.json`       synthetic AWS ranges in the real file's format
 *
 * The output is a pure function of the options: the same seed gives the same bytes.
 */

import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { AddressPlan, accountEgressCidr, buildIpRanges, OFFICE_CIDR, vpcV6Cidr } from "./addresses.js";
import { type AttackActor, type AttackRequest, parseAttackList, planAttacks } from "./attacks.js";
import { assignLifecycles, buildWorkloads, type Workloads } from "./fleet.js";
import type { LambdaEnvironment } from "./lambda-environment.js";
import { Rng } from "./prng.js";
import { type JsonObject, sessionArn } from "./records.js";
import type { FleetSession, Incident } from "./truth.js";
import { type Actor, buildWorld, HOUR, MINUTE, type SimWorld } from "./world.js";
import { TrailWriter, type WriterStats } from "./writer.js";

export interface SimulateOptions {
  readonly outDir: string;
  readonly accounts?: number;
  readonly regions?: number;
  readonly instances?: number;
  readonly hours?: number;
  readonly seed?: number;
  /** Start of the period (ISO 8601). Default 2024-06-03T18:00:00Z, so a 12-hour run crosses midnight. */
  readonly start?: string;
  /** `all` (default), `none`, or `kind[:count],…`. */
  readonly attacks?: string;
  /** Incidents per kind when the list gives no count. */
  readonly perKind?: number;
  /** Application calls per workload-hour. */
  readonly rate?: number;
  /** Write an organisation trail's layout (`AWSLogs/o-…/ACCOUNT/…`). */
  readonly organizationTrail?: boolean;
  readonly gzipLevel?: number;
  /** Replace an existing simulation in outDir. */
  readonly force?: boolean;
  /** Called after each simulated hour. */
  readonly onProgress?: (doneHours: number, totalHours: number, records: number) => void;
}

export interface SimulateResult {
  readonly outDir: string;
  readonly seed: number;
  readonly start: string;
  readonly end: string;
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  readonly instances: number;
  readonly ecsTasks: number;
  readonly lambdaEnvironments: number;
  readonly incidents: readonly Incident[];
  /** Requested incidents that found no suitable victim (a fleet too small or a period too short). */
  readonly unplaced: readonly AttackRequest[];
  readonly writer: WriterStats;
  /** Distinct events (records minus duplicates). */
  readonly events: number;
  readonly organizationId?: string;
  readonly files: readonly string[];
  readonly elapsedMs: number;
}

/** Files simulate writes next to AWSLogs/. */
export const SIM_FILES = ["truth.jsonl", "fleet.jsonl", "firstcall.yaml", "ip-ranges.json"] as const;

const WINDOW = 5 * MINUTE;

/**
 * Runs the simulation and writes its output.
 *
 * @example
 * const result = await simulate({ outDir: "sim", instances: 500, hours: 12, seed: 7 });
 * console.log(result.events, result.incidents.length);
 */
export async function simulate(options: SimulateOptions): Promise<SimulateResult> {
  const began = process.hrtime.bigint();
  const accounts = options.accounts ?? 3;
  const regions = options.regions ?? 2;
  const instances = options.instances ?? 500;
  const hours = options.hours ?? 12;
  const seed = options.seed ?? 7;
  const rate = options.rate ?? 36;
  const startIso = options.start ?? "2024-06-03T18:00:00Z";
  const start = Date.parse(startIso);
  if (Number.isNaN(start)) throw new RangeError(`--start: not a date: ${startIso}`);
  if (start % MINUTE !== 0) throw new RangeError("--start must be on a whole minute");
  if (!(accounts >= 1 && regions >= 1 && instances >= 1 && hours > 0 && rate > 0)) {
    throw new RangeError("accounts, regions, instances, hours and rate must be positive");
  }
  const requests: AttackRequest[] = parseAttackList(options.attacks ?? "all", options.perKind ?? 3);

  await prepareOutDir(options.outDir, options.force ?? false);

  const root = new Rng(seed);
  const fleetRng = root.fork("fleet");
  const attackRng = root.fork("attacks");
  const trafficRng = root.fork("traffic");
  const writerRng = root.fork("writer");

  const addresses = new AddressPlan(fleetRng.fork("addresses"), accounts, regions);
  const world = buildWorld(fleetRng, { accounts, regions, start, hours, rate, addresses });
  const workloads = buildWorkloads(fleetRng, world, instances);
  const attackers = planAttacks(attackRng, world, workloads, requests);
  assignLifecycles(fleetRng.fork("lifecycle"), workloads);

  const organizationId = options.organizationTrail
    ? `o-${root.fork("org").chars(10, "abcdefghijklmnopqrstuvwxyz0123456789")}`
    : undefined;
  const writer = new TrailWriter(writerRng, {
    outDir: options.outDir,
    ...(organizationId ? { organizationId } : {}),
    ...(options.gzipLevel !== undefined ? { gzipLevel: options.gzipLevel } : {}),
  });
  const out = { emit: (account: string, region: string, record: JsonObject) => writer.add(account, region, record) };
  const actors: Actor[] = [
    ...workloads.activity,
    ...workloads.instances,
    ...workloads.tasks,
    ...workloads.lambdas,
    // Thieves go last: they read the victim's keys, issued earlier in the same window.
    ...attackers,
  ];
  let lastHour = 0;
  for (let ws = world.start; ws < world.end; ws += WINDOW) {
    const we = Math.min(ws + WINDOW, world.end);
    for (const actor of actors) actor.step(ws, we, trafficRng, out);
    if (we < world.end) await writer.closeWindow(we);
    const done = Math.floor((we - world.start) / HOUR);
    if (done > lastHour) {
      lastHour = done;
      options.onProgress?.(done, hours, writer.stats.records);
    }
  }
  await writer.finish(world.end);

  const incidents = attackers.map((a) => a.incident()).filter((i): i is Incident => i !== undefined);
  const unplaced = requests
    .map((r) => ({ kind: r.kind, count: r.count - incidents.filter((i) => i.kind === r.kind).length }))
    .filter((r) => r.count > 0);
  await writeSideFiles(options.outDir, world, workloads, attackers, incidents, seed);

  return {
    outDir: options.outDir,
    seed,
    start: new Date(world.start).toISOString(),
    end: new Date(world.end).toISOString(),
    accounts: world.accounts.map((a) => a.id),
    regions: world.regions,
    instances: workloads.instances.length,
    ecsTasks: workloads.tasks.length,
    lambdaEnvironments: workloads.lambdas.length,
    incidents,
    unplaced,
    writer: { ...writer.stats },
    events: writer.stats.records - writer.stats.duplicates,
    ...(organizationId ? { organizationId } : {}),
    files: writer.files,
    elapsedMs: Number(process.hrtime.bigint() - began) / 1e6,
  };
}

async function prepareOutDir(outDir: string, force: boolean): Promise<void> {
  const logs = join(outDir, "AWSLogs");
  if (existsSync(logs) || SIM_FILES.some((f) => existsSync(join(outDir, f)))) {
    if (!force) throw new Error(`${outDir} already holds a simulation; use --force to replace it`);
    await rm(logs, { recursive: true, force: true });
    for (const f of SIM_FILES) await rm(join(outDir, f), { force: true });
  }
  await mkdir(outDir, { recursive: true });
}

function jsonLines(values: readonly unknown[]): string {
  return values.map((v) => `${JSON.stringify(v)}\n`).join("");
}

async function writeSideFiles(
  outDir: string,
  world: SimWorld,
  workloads: Workloads,
  attackers: readonly AttackActor[],
  incidents: readonly Incident[],
  seed: number,
): Promise<void> {
  await writeFile(join(outDir, "truth.jsonl"), jsonLines(incidents));

  const victims = new Set(attackers.map((a) => a.plan.victim));
  const fleet: FleetSession[] = [
    ...workloads.instances.map((i) => i.fleetLine()),
    ...workloads.tasks.map((t) => t.fleetLine()),
    ...workloads.lambdas.map((l) => l.fleetLine()),
    ...workloads.activity.flatMap((a) => a.fleetLines()),
  ];
  // A victim's line says so, which helps when reading an unexplained finding.
  const victimKeys = new Set(
    [...victims].map((v) =>
      v.kind === "lambda" ? (v as LambdaEnvironment).key.accessKeyId : sessionArn(v.role, v.sessionName),
    ),
  );
  await writeFile(
    join(outDir, "fleet.jsonl"),
    jsonLines(fleet.map((f) => (victimKeys.has(f.key) ? { ...f, traits: [...f.traits, "victim"] } : f))),
  );

  await writeFile(
    join(outDir, "ip-ranges.json"),
    `${JSON.stringify(buildIpRanges(world.regions, new Date(world.start - 24 * HOUR)), null, 2)}\n`,
  );

  const ownNetworks: string[] = [OFFICE_CIDR];
  const vpcEndpoints: string[] = [];
  for (const a of world.accounts) {
    world.regions.forEach((_region, r) => {
      ownNetworks.push(accountEgressCidr(a.index, r));
      // Half the accounts list their IPv6 blocks; the others rely on ip-ranges.json for dual-stack.
      if (a.index % 2 === 0) ownNetworks.push(vpcV6Cidr(a.index, r));
      const vpc = world.vpcs[a.index]?.[r];
      if (vpc && a.endpointAnnouncement === "config") vpcEndpoints.push(...vpc.endpoints.values());
    });
  }
  const config = {
    accounts: world.accounts.map((a) => a.id),
    ownNetworks,
    vpcEndpoints,
    recon: {
      allowUserAgents: ["aws-iam-authenticator"],
      allowRoles: ["eks-nodegroup-*"],
    },
  };
  const header = [
    `# The simulated fleet owner's configuration (firstcall simulate, seed ${seed}).`,
    "# ownNetworks: the office/CI range, each account's NAT gateway and Elastic IP /24, and some VPC IPv6 blocks.",
    "# vpcEndpoints: the endpoints of the accounts that list theirs; the other accounts' endpoints are known from",
    "# vpcEndpointAccountId or from their CreateVpcEndpoint events. EKS nodes may ask who they are.",
    "",
  ].join("\n");
  await writeFile(join(outDir, "firstcall.yaml"), header + toYaml(config));
}
