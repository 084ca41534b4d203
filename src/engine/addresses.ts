/**
 * Address knowledge of the fleet, learned from EC2 calls in the logs, and the binding decisions that
 * use it (docs/ARCHITECTURE.md §3):
 *
 * - IPv6 addresses and prefixes of each instance, and the IPv6 blocks of its subnet and VPC
 *   (`RunInstances`, `CreateNetworkInterface`, `AssignIpv6Addresses`, `AssociateSubnetCidrBlock`,
 *   `CreateSubnet`, `AssociateVpcCidrBlock`, `CreateVpc`): a call from the other address family is
 *   accepted only inside them (or inside your configured networks), never for lying in AWS's ranges.
 * - Egress addresses of each account (`CreateNatGateway`, `AllocateAddress`, `AssociateAddress`): an
 *   address that several sessions of the account move to within one learning window is the account's
 *   new NAT gateway, not a thief.
 * - Who made each address change: a session's own change vouches for nothing unless made from an
 *   address already accepted for it, and no change vouches for the address it was made from.
 *
 * Everything here is keyed by `Map`, bounded by the live fleet, and expired by event time.
 */
import { CidrSet } from "../net/ip.js";
import type { EngineEvent } from "./event.js";
import type { ChangeMaker, FleetState, Learned, Observation, SessionState } from "./state.js";

/** IPv6 literals kept per instance, subnet or VPC (a few addresses and prefixes per interface). */
const MAX_IPV6_PER_OWNER = 32;
/** Placements kept per instance or interface (its subnet and VPC, a few interfaces). */
const MAX_CONTAINERS = 8;
/** Change makers kept per instance (changes older than the learning window are dropped anyway). */
const MAX_MAKERS = 32;
/** Sessions remembered per egress address: only those within one window of a move matter. */
const MAX_EGRESS_USERS = 256;

function addLearned(
  map: Map<string, Learned<string[]>>,
  key: string,
  values: readonly string[],
  t: number,
  cap: number,
) {
  let entry = map.get(key);
  if (!entry) {
    entry = { value: [], seen: t };
    map.set(key, entry);
  }
  if (t > entry.seen) entry.seen = t;
  for (const v of values) if (entry.value.length < cap && !entry.value.includes(v)) entry.value.push(v);
}

/** Knowledge filed under an interface moves to its instance once the interface's owner is known. */
function adoptInterface(fleet: FleetState, eni: string, instance: string): void {
  for (const [map, cap] of [
    [fleet.ipv6Blocks, MAX_IPV6_PER_OWNER],
    [fleet.placement, MAX_CONTAINERS],
  ] as const) {
    const entry = map.get(eni);
    if (!entry) continue;
    addLearned(map, instance, entry.value, entry.seen, cap);
    map.delete(eni);
  }
}

/** The instance an id stands for: an interface with a known owner is its instance. */
function ownerOf(fleet: FleetState, id: string): string {
  return (id.startsWith("eni-") && fleet.eniOwners.get(id)) || id;
}

/**
 * Learns what an address-change event says about addresses (its `network` facts) and who made the
 * change of each instance it names. `changed` is the set of instances whose address changed.
 */
export function learnAddresses(fleet: FleetState, e: EngineEvent, changed: ReadonlySet<string>): void {
  const c = e.addressChange;
  if (!c) return;
  for (const [eni, instance] of c.eniOwners) adoptInterface(fleet, eni, instance);
  const n = c.network;
  if (n) {
    for (const [id, cidr] of n.ipv6)
      addLearned(fleet.ipv6Blocks, ownerOf(fleet, id), [cidr], e.time, MAX_IPV6_PER_OWNER);
    for (const [id, container] of n.placement)
      addLearned(fleet.placement, ownerOf(fleet, id), [container], e.time, MAX_CONTAINERS);
    for (const g of n.egress) {
      let address = g.address;
      if (g.allocationId) {
        if (address) fleet.allocations.set(g.allocationId, { value: address, seen: e.time });
        else address = fleet.allocations.get(g.allocationId)?.value;
      }
      if (!address || !e.account) continue;
      fleet.egress.set(address, e.account);
      const info = fleet.egressInfo.get(address);
      fleet.egressInfo.set(address, {
        seen: Math.max(e.time, info?.seen ?? 0),
        ...((g.vpcId ?? info?.vpcId) ? { vpcId: (g.vpcId ?? info?.vpcId) as string } : {}),
      });
    }
  }
  if (e.name === "RunInstances" || e.name === "CreateVpcEndpoint") return;
  const maker: ChangeMaker = {
    time: e.time,
    ip: e.sourceIp,
    ...(e.caller ? { arn: e.caller.arn } : {}),
    ...(e.caller?.accessKeyId ? { accessKeyId: e.caller.accessKeyId } : {}),
  };
  for (const id of changed) {
    const makers = fleet.addressChangeMakers.get(id) ?? [];
    const same = (m: ChangeMaker) =>
      m.time === maker.time && m.ip === maker.ip && m.arn === maker.arn && m.accessKeyId === maker.accessKeyId;
    if (!makers.some(same) && makers.length < MAX_MAKERS) makers.push(maker);
    fleet.addressChangeMakers.set(id, makers);
  }
}

/** An instance's credential was issued again: its address knowledge is still in use. */
export function touchInstance(fleet: FleetState, instanceId: string, t: number): void {
  const blocks = fleet.ipv6Blocks.get(instanceId);
  if (blocks && t > blocks.seen) blocks.seen = t;
  const place = fleet.placement.get(instanceId);
  if (!place) return;
  if (t > place.seen) place.seen = t;
  for (const container of place.value) {
    for (const map of [fleet.ipv6Blocks, fleet.placement]) {
      const entry = map.get(container);
      if (entry && t > entry.seen) entry.seen = t;
    }
  }
}

/** The subnets and VPCs an instance is placed in (a subnet's VPC included). */
function containersOf(fleet: FleetState, instanceId: string): string[] {
  const out = [...(fleet.placement.get(instanceId)?.value ?? [])];
  for (const c of [...out]) for (const v of fleet.placement.get(c)?.value ?? []) if (!out.includes(v)) out.push(v);
  return out;
}

/** Whether an IPv6 address is the instance's own: its addresses and prefixes, its subnet's or VPC's block. */
export function isInstanceIpv6(fleet: FleetState, instanceId: string | undefined, ip: string): boolean {
  if (!instanceId) return false;
  const cidrs: string[] = [...(fleet.ipv6Blocks.get(instanceId)?.value ?? [])];
  for (const c of containersOf(fleet, instanceId)) cidrs.push(...(fleet.ipv6Blocks.get(c)?.value ?? []));
  if (cidrs.length === 0) return false;
  try {
    return new CidrSet(cidrs).has(ip);
  } catch {
    return false;
  }
}

/** Whether an egress address is in the instance's VPC, as far as both are known. */
function sameVpc(fleet: FleetState, instanceId: string | undefined, address: string): boolean {
  const vpc = fleet.egressInfo.get(address)?.vpcId;
  if (!vpc || !instanceId) return true;
  const containers = containersOf(fleet, instanceId).filter((c) => c.startsWith("vpc-"));
  return containers.length === 0 || containers.includes(vpc);
}

/** Whether an address is a known egress (NAT gateway, Elastic IP) of the session's account and VPC. */
export function isAccountEgress(fleet: FleetState, s: SessionState, ip: string): boolean {
  return fleet.egress.get(ip) === s.account && sameVpc(fleet, s.instanceId, ip);
}

/** Records a direct call from a known egress address of the session's own account (and VPC). */
export function recordEgressUse(fleet: FleetState, s: SessionState, e: EngineEvent): void {
  if (fleet.egress.get(e.sourceIp) !== s.account || !sameVpc(fleet, s.instanceId, e.sourceIp)) return;
  let users = fleet.egressUsers.get(e.sourceIp);
  if (!users) {
    users = [];
    fleet.egressUsers.set(e.sourceIp, users);
  }
  const info = fleet.egressInfo.get(e.sourceIp);
  if (info && e.time > info.seen) info.seen = e.time;
  const mine = users.find((u) => u[0] === s.key);
  if (mine) {
    if (e.time < mine[1]) mine[1] = e.time;
  } else if (users.length < MAX_EGRESS_USERS) users.push([s.key, e.time]);
}

export type MoveDecision = "accept" | "hold" | "reject";

/**
 * A session's move to an address: accepted when the address is a known egress of the session's
 * account (and VPC, when both are known) that at least `threshold` other sessions of the account
 * first called from within `windowMs` of this session's first call there — a NAT gateway replaced,
 * every instance behind it moving at once. While the window is still open (the stream has not yet
 * seen its end) the decision waits, so that checkpoints do not change the result; at the end of the
 * input it is taken with what is known.
 */
export function egressMove(
  fleet: FleetState,
  s: SessionState,
  o: Observation,
  options: { threshold: number; windowMs: number; final: boolean },
): MoveDecision {
  const ip = o.first.ip;
  if (fleet.egress.get(ip) !== s.account || !sameVpc(fleet, s.instanceId, ip)) return "reject";
  const t = o.first.time;
  const others = (fleet.egressUsers.get(ip) ?? []).filter(
    ([key, first]) => key !== s.key && Math.abs(first - t) <= options.windowMs,
  ).length;
  if (others >= options.threshold) return "accept";
  if (!options.final && fleet.watermark < t + options.windowMs) return "hold";
  return "reject";
}

/** An address accepted for a session, and the time of its first call (from when it vouches). */
export interface AcceptedAddress {
  readonly ip: string;
  readonly since: number;
}

/**
 * Whether the address change(s) of an instance at time `at` may explain a new address `ip` of the
 * session: some maker of the change is neither at `ip` itself nor the session being judged —
 * unless that session made it from an address already accepted for it (an instance associating
 * its own Elastic IP). Changes recorded before makers were kept count as before.
 */
export function changeVouches(
  fleet: FleetState,
  s: SessionState,
  keysOfSession: ReadonlySet<string>,
  at: number,
  ip: string,
  accepted: readonly AcceptedAddress[],
): boolean {
  if (!s.instanceId) return true;
  const makers = (fleet.addressChangeMakers.get(s.instanceId) ?? []).filter((m) => m.time === at);
  if (makers.length === 0) return true;
  return makers.some((m) => {
    if (m.ip === ip) return false;
    const self =
      m.arn === s.arn ||
      (m.accessKeyId !== undefined && (s.key === `ak:${m.accessKeyId}` || keysOfSession.has(m.accessKeyId)));
    return !self || accepted.some((a) => a.ip === m.ip && a.since <= m.time);
  });
}

/** Forgets address knowledge not taught or used since `horizon`, and change makers older than `changesHorizon`. */
export function expireAddresses(
  fleet: FleetState,
  horizon: number,
  changesHorizon: number,
  liveSessions: ReadonlyMap<string, unknown>,
): void {
  for (const map of [fleet.ipv6Blocks, fleet.placement, fleet.allocations] as Map<string, { seen: number }>[])
    for (const [k, v] of map) if (v.seen < horizon) map.delete(k);
  for (const [address, info] of fleet.egressInfo) {
    if (info.seen >= horizon) continue;
    fleet.egressInfo.delete(address);
    fleet.egress.delete(address);
  }
  for (const address of fleet.egress.keys()) if (!fleet.egressInfo.has(address)) fleet.egress.delete(address);
  for (const [address, users] of fleet.egressUsers) {
    const recent = fleet.egress.has(address) ? users.filter((u) => u[1] >= horizon) : [];
    if (recent.length) fleet.egressUsers.set(address, recent);
    else fleet.egressUsers.delete(address);
  }
  for (const [id, makers] of fleet.addressChangeMakers) {
    const recent = makers.filter((m) => m.time >= changesHorizon);
    if (recent.length) fleet.addressChangeMakers.set(id, recent);
    else fleet.addressChangeMakers.delete(id);
  }
  for (const key of fleet.heldMoves.keys()) if (!liveSessions.has(key)) fleet.heldMoves.delete(key);
}
