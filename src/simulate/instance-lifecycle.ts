/**
 * An EC2 instance's discrete events (launch, key issuance, first call, address changes, stop/start,
 * termination): the plan of its lifecycle trait and the records that operators and Auto Scaling
 * write for them.
 */
import type { Instance } from "./instance.js";
import type { Rng } from "./prng.js";
import {
  apiCall,
  type IamUserRef,
  iamUserIdentity,
  isoSeconds,
  type JsonObject,
  roleSessionIdentity,
} from "./records.js";
import * as ua from "./user-agents.js";
import { MINUTE, type Out, SECOND } from "./world.js";

export type InstanceOp =
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

export interface PlanItem {
  readonly at: number;
  readonly op: InstanceOp;
  readonly address?: string;
  readonly privateAddress?: string;
  readonly eni?: string;
  readonly allocationId?: string;
  readonly by?: IamUserRef & { readonly ip: string };
}

export const LIFECYCLE_TRAITS = ["eip-associate", "eni-eip", "secondary-ip-eip", "eni-attach", "stop-start"] as const;
export type LifecycleTrait = (typeof LIFECYCLE_TRAITS)[number];

/**
 * The address changes and stop/start of one instance's lifecycle trait, from `at` on. Records the new
 * addresses (and the time it is down) on the instance as it plans them.
 */
export function lifecyclePlan(rng: Rng, inst: Instance, trait: LifecycleTrait, at: number): PlanItem[] {
  const a = inst.vpc.account;
  const r = inst.vpc.regionIndex;
  const L = at;
  const by = rng.pick(a.ops);
  const allocationId = `eipalloc-${rng.hex(17)}`;
  const switchTo = (at: number, ip: string): PlanItem => {
    inst.addresses.push({ from: at, ip });
    return { at, op: "addr-call", address: ip };
  };
  switch (trait) {
    case "eip-associate": {
      const eip = inst.world.addresses.elasticIp(a.index, r);
      return [
        { at: L, op: "associate", by, allocationId, address: eip },
        switchTo(L + rng.between(60, 600) * SECOND, eip),
      ];
    }
    case "eni-eip": {
      const eip = inst.world.addresses.elasticIp(a.index, r);
      return [
        { at: L, op: "associate-eni", by, allocationId, eni: inst.eniId, address: eip },
        switchTo(L + rng.between(60, 600) * SECOND, eip),
      ];
    }
    case "secondary-ip-eip": {
      const eip = inst.world.addresses.elasticIp(a.index, r);
      const secondary = inst.world.addresses.privateIp(a.index, r);
      return [
        { at: L, op: "assign-private", by, eni: inst.eniId, privateAddress: secondary },
        {
          at: L + rng.between(30, 120) * SECOND,
          op: "associate-eni",
          by,
          allocationId,
          eni: inst.eniId,
          privateAddress: secondary,
          address: eip,
        },
        switchTo(L + rng.between(150, 600) * SECOND, eip),
      ];
    }
    case "eni-attach": {
      const ip = inst.world.addresses.publicIp(r);
      return [
        { at: L, op: "attach-eni", by, eni: `eni-${rng.hex(17)}` },
        switchTo(L + rng.between(60, 600) * SECOND, ip),
      ];
    }
    case "stop-start": {
      const startAt = L + rng.between(10, 40) * MINUTE;
      const firstBack = startAt + rng.between(60, 240) * SECOND;
      const ip = inst.egress === "public" ? inst.world.addresses.publicIp(r) : inst.addressAt(L);
      inst.down.push({ from: L, to: firstBack });
      return [
        { at: L, op: "stop", by },
        { at: startAt, op: "start", by },
        { at: startAt + rng.between(20, 40) * SECOND, op: "issue" },
        switchTo(firstBack, ip),
      ];
    }
  }
}

/** An operator's EC2 call (from their laptop) that changes the instance. */
export function opsCall(
  rng: Rng,
  out: Out,
  inst: Instance,
  item: PlanItem,
  name: string,
  requestParameters: JsonObject,
  responseElements: JsonObject,
): void {
  const a = inst.vpc.account;
  const by = item.by ?? (a.ops[0] as IamUserRef & { ip: string });
  out.emit(
    a.id,
    inst.vpc.region,
    apiCall(rng, {
      time: item.at,
      account: a.id,
      region: inst.vpc.region,
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

/** A call Auto Scaling makes for the instance (launch, termination). */
export function autoscalingCall(
  rng: Rng,
  inst: Instance,
  t: number,
  name: string,
  requestParameters: JsonObject,
  responseElements?: JsonObject,
): JsonObject {
  const a = inst.vpc.account;
  return apiCall(rng, {
    time: t,
    account: a.id,
    region: inst.vpc.region,
    identity: roleSessionIdentity(a.roles.autoscaling, "AutoScaling", a.autoscalingKey, isoSeconds(inst.world.start), {
      invokedBy: "autoscaling.amazonaws.com",
    }),
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

/** Auto Scaling's RunInstances record that launches the instance. */
export function runInstancesRecord(rng: Rng, inst: Instance, t: number): JsonObject {
  const a = inst.vpc.account;
  const profileArn = `arn:aws:iam::${a.id}:instance-profile/${inst.role.name}`;
  return autoscalingCall(
    rng,
    inst,
    t,
    "RunInstances",
    {
      instancesSet: { items: [{ minCount: 1, maxCount: 1 }] },
      launchTemplate: { launchTemplateId: `lt-${rng.hex(17)}`, version: "3" },
      subnetId: inst.subnetId,
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
            instanceId: inst.id,
            imageId: `ami-${rng.hex(17)}`,
            instanceState: { code: 0, name: "pending" },
            privateIpAddress: inst.privateIp,
            subnetId: inst.subnetId,
            vpcId: inst.vpc.vpcId,
            iamInstanceProfile: { arn: profileArn, id: `AIPA${rng.chars(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}` },
            networkInterfaceSet: {
              items: [
                {
                  networkInterfaceId: inst.eniId,
                  subnetId: inst.subnetId,
                  vpcId: inst.vpc.vpcId,
                  privateIpAddress: inst.privateIp,
                  attachment: { attachmentId: `eni-attach-${rng.hex(17)}`, deviceIndex: 0, status: "attaching" },
                  ...(inst.ipv6 ? { ipv6AddressesSet: { items: [{ ipv6Address: inst.ipv6 }] } } : {}),
                },
              ],
            },
          },
        ],
      },
    },
  );
}

export const RUNNING = { code: 16, name: "running" };
export const STOPPING = { code: 64, name: "stopping" };
export const STOPPED = { code: 80, name: "stopped" };
export const PENDING = { code: 0, name: "pending" };

/** The `responseElements` of StopInstances/StartInstances for one instance. */
export function stateChange(
  instanceId: string,
  current: { code: number; name: string },
  previous: { code: number; name: string },
) {
  return { instancesSet: { items: [{ instanceId, currentState: current, previousState: previous }] } };
}
