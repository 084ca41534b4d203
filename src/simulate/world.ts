/**
 * The simulated estate's topology: accounts with their roles, people and pipelines, and each account's
 * VPCs (NAT gateways, VPC endpoints, bucket, KMS key) per region; the time units, and what every
 * actor writes to. Workloads live in their own files (instance.ts, ecs-task.ts,
 * lambda-environment.ts), the people in account-activity.ts; fleet.ts puts them together.
 */
import type { EndpointService } from "./actions.js";
import { type AddressPlan, SIM_REGIONS } from "./addresses.js";
import type { Rng } from "./prng.js";
import { accessKeyId, type IamUserRef, type JsonObject, type RoleRef, uniqueId } from "./records.js";

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
