/**
 * "The first call wins", evaluated over one lifetime of one session: which addresses are the
 * holder's, and which are not. A pure function of the observations, the fleet knowledge and the
 * inventory, so the result does not depend on the order in which calls were read.
 *
 * - Direct calls: the earliest call's address is the home. A later address is accepted only with
 *   evidence: an address change of the instance shortly before (AssociateAddress & co.) that the
 *   session did not make itself from elsewhere, the other IP family inside the instance's own IPv6
 *   blocks or your networks (dual-stack instances), or the account's known egress that many
 *   sessions move to at once (a NAT gateway replaced). See `addresses.ts`.
 * - Endpoint calls: the endpoint must be yours; one private address per session (plus the
 *   instance's secondary addresses known from the logs); per service one endpoint (a change of
 *   endpoint is a finding).
 * - A session that used only your endpoints for a while gets a public home only with corroboration.
 */
import type { Config } from "../config/config.js";
import type { NetworkInventory } from "../net/inventory.js";
import { ipFamily } from "../net/ip.js";
import { type AcceptedAddress, changeVouches, egressMove, isAccountEgress, isInstanceIpv6 } from "./addresses.js";
import { startExplaining } from "./slow-start.js";
import {
  byFirstCall,
  type FleetState,
  type Lifetime,
  mergeObservation,
  type Observation,
  type SessionState,
} from "./state.js";

export type MismatchCause =
  | "address" // a direct call from an address that is not the session's
  | "unknown-endpoint" // a call through a VPC endpoint that is not known to be yours
  | "endpoint-change" // a known endpoint, but not the one this session used for the service
  | "second-private-address" // through your endpoint, but from another private address
  | "endpoint-only"; // a direct call of a session that used only endpoints before, not corroborated

export interface Mismatch {
  readonly cause: MismatchCause;
  readonly obs: Observation;
  /** Separates endpoint findings from direct ones with the same address. */
  readonly discriminator: string;
  readonly expected: readonly string[];
  /** The home is outside your networks while this address is inside them: the thief may have called first. */
  readonly homeSuspicious: boolean;
  readonly home?: string;
}

export interface BindingContext {
  readonly config: Config;
  readonly inventory: NetworkInventory;
  readonly fleet: FleetState;
  /** The input has ended: decisions that wait for more of the stream are taken now. */
  readonly final?: boolean;
}

/**
 * The id under which a session vouches for an endpoint or a home address, or undefined when it may
 * not vouch: only credentials that AWS issues to a compute resource (instance profiles, ECS tasks),
 * because a thief holding a role can mint as many role sessions as he likes, but not instances.
 */
export function voucherOf(session: SessionState): string | undefined {
  if (session.kind === "ec2-instance" && session.instanceId) return session.instanceId;
  if (session.kind === "ecs-task") return session.key;
  return undefined;
}

/** `a.b.c.d` → the /28 prefix holding it (the size the VPC CNI delegates), or undefined. */
function prefix28(ip: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  return `${m[1]}.${m[2]}.${m[3]}.${Number(m[4]) & 0xf0}/28`;
}

/**
 * Whether a private address is assigned (in the logs) to one of the instance's interfaces: its
 * launch, CreateNetworkInterface or AssignPrivateIpAddresses (secondary addresses, /28 prefixes),
 * with the interface's instance known from RunInstances or AttachNetworkInterface.
 */
export function isInstancePrivateAddress(fleet: FleetState, instanceId: string | undefined, ip: string): boolean {
  if (!instanceId) return false;
  for (const key of [ip, prefix28(ip)]) {
    if (key === undefined) continue;
    const enis = fleet.privateAddressEnis.get(key);
    if (enis?.some((eni) => fleet.eniOwners.get(eni) === instanceId)) return true;
  }
  return false;
}

/** What one lifetime vouches for: endpoints it used from its start, the direct address of its first call. */
export interface Vouch {
  readonly endpoints: readonly string[];
  readonly home?: string;
  /** Time of the latest call from the home address (event time, so expiry does not depend on checkpoints). */
  readonly homeLast?: number;
}

/**
 * What a lifetime vouches for, when the session may vouch (`voucherOf`) and its issuance was seen.
 *
 * - An endpoint that the lifetime used from its start: its first call through the endpoint came
 *   within `learnWindowMinutes` of the lifetime's first call, from the lifetime's one private address
 *   (or the instance's own secondary ones, `isInstancePrivateAddress`), and no other endpoint served
 *   the same services. A thief gets the credential after the instance has used it, so his endpoint is
 *   a *later* path, from *another* private address: however many credentials he uses through it,
 *   none of them vouches for it.
 * - A direct address only when it was the path of the lifetime's very first call (its home by
 *   "the first call wins").
 */
export function vouchOf(fleet: FleetState, session: SessionState, lifetime: Lifetime, learnMs: number): Vouch {
  if (!lifetime.covered || voucherOf(session) === undefined) return { endpoints: [] };
  const firstDirect = byFirstCall(lifetime.direct.values())[0];
  const endpointObs = byFirstCall(lifetime.endpoint.values());
  const firstEndpoint = endpointObs[0];
  const home = firstDirect && (!firstEndpoint || !earlierObs(firstEndpoint, firstDirect)) ? firstDirect : undefined;
  const homeVouch = home ? { home: home.first.ip, homeLast: home.last } : {};
  if (!firstEndpoint) return { endpoints: [], ...homeVouch };
  const start = Math.min(firstEndpoint.first.time, firstDirect?.first.time ?? Number.POSITIVE_INFINITY);
  const privateAddress = firstEndpoint.first.ip;
  const ownAddress = (ip: string) => ip === privateAddress || isInstancePrivateAddress(fleet, session.instanceId, ip);
  const endpoints: string[] = [];
  const seen = new Set<string>();
  for (const first of endpointObs) {
    const vpce = first.first.vpcEndpointId as string;
    if (seen.has(vpce)) continue;
    seen.add(vpce);
    if (first.first.time - start > learnMs) continue;
    const through = endpointObs.filter((o) => o.first.vpcEndpointId === vpce);
    if (!through.every((o) => ownAddress(o.first.ip))) continue;
    const services = new Set(through.map((o) => o.first.source));
    if (endpointObs.some((o) => o.first.vpcEndpointId !== vpce && services.has(o.first.source))) continue;
    endpoints.push(vpce);
  }
  return { endpoints, ...homeVouch };
}

function earlierObs(a: Observation, b: Observation): boolean {
  return a.first.time < b.first.time || (a.first.time === b.first.time && a.first.id < b.first.id);
}

/**
 * Whether an endpoint counts as yours for a given session. Positive evidence: configured, created
 * in the logs, or owned (`vpcEndpointAccountId`) by the credential's account, a configured account
 * or an account the trail is about. An owner outside all of those is foreign and nothing else makes
 * its endpoint yours. Without an owner field, the endpoint is yours once enough *other* sessions
 * vouch for it (`vouchOf`).
 */
export function endpointIsKnown(ctx: BindingContext, session: SessionState, obs: Observation): boolean {
  const vpce = obs.first.vpcEndpointId;
  if (!vpce) return false;
  if (ctx.config.vpcEndpoints.includes(vpce) || ctx.fleet.createdEndpoints.has(vpce)) return true;
  const owner = obs.first.vpcEndpointAccountId;
  if (owner) return owner === session.account || ctx.config.accounts.includes(owner) || ctx.fleet.accounts.has(owner);
  const self = voucherOf(session);
  const vouchers = ctx.fleet.endpointVouchers.get(vpce) ?? [];
  const others = vouchers.filter((v) => v !== self).length;
  return others >= ctx.config.fleetEndpointThreshold;
}

/**
 * Whether a direct address may be the home of a session that used only endpoints before it: a known
 * egress of the session's account, the home of enough other instances of the account, inside your
 * networks, or announced by an address change of the instance shortly before.
 */
function homeCorroborated(
  ctx: BindingContext,
  session: SessionState,
  o: Observation,
  windows: readonly number[],
): boolean {
  const ip = o.first.ip;
  if (ctx.fleet.egress.get(ip) === session.account) return true;
  if (ctx.inventory.isOwn(ip)) return true;
  const self = voucherOf(session);
  const users = ctx.fleet.homeVouchers.get(`${session.account}|${ip}`)?.users ?? [];
  if (users.filter((u) => u !== self).length >= ctx.config.fleetEndpointThreshold) return true;
  const learnMs = ctx.config.learnWindowMinutes * 60_000;
  return windows.some((w) => w <= o.first.time && o.first.time <= w + learnMs);
}

export function evaluateLifetime(ctx: BindingContext, session: SessionState, lifetime: Lifetime): Mismatch[] {
  const out: Mismatch[] = [];
  const endpointObs = byFirstCall(lifetime.endpoint.values());
  const known = endpointObs.filter((o) => endpointIsKnown(ctx, session, o));
  const unknown = endpointObs.filter((o) => !endpointIsKnown(ctx, session, o));
  const privateAddress = known[0]?.first.ip;
  const windows = (session.instanceId && ctx.fleet.addressChanges.get(session.instanceId)) || [];
  const learnMs = ctx.config.learnWindowMinutes * 60_000;
  let direct = byFirstCall(lifetime.direct.values());

  // Endpoint-only for longer than a learning window before the first direct call: that call is not
  // the instance's own unless something corroborates its address. Within the window, a public
  // instance that reaches S3 through a gateway endpoint and the rest directly is the usual case.
  const firstKnown = known[0];
  const firstDirect = direct[0];
  if (firstKnown && firstDirect && firstDirect.first.time - firstKnown.first.time > learnMs) {
    const at = direct.findIndex((o) => o.corroboratedHome || homeCorroborated(ctx, session, o, windows));
    const cut = at === -1 ? direct.length : at;
    for (const o of direct.slice(0, cut)) {
      out.push({
        cause: "endpoint-only",
        obs: o,
        discriminator: "",
        expected: privateAddress ? [privateAddress] : [],
        homeSuspicious: false,
      });
    }
    const corroborated = direct[cut];
    if (corroborated) corroborated.corroboratedHome = true;
    direct = direct.slice(cut);
  }
  const home = direct[0];
  const accepted: string[] = home ? [home.first.ip] : [];

  if (home) {
    const homeFamily = ipFamily(home.first.ip);
    const otherFamilyAccepted = new Set<number>();
    const usedWindows = new Set<number>();
    const pending: Observation[] = [];
    const acceptedSince: AcceptedAddress[] = [{ ip: home.first.ip, since: home.first.time }];
    const keysOfSession = new Set<string>();
    for (const o of [...direct, ...endpointObs]) for (const k of o.accessKeys) keysOfSession.add(k);
    const accept = (o: Observation) => {
      accepted.push(o.first.ip);
      acceptedSince.push({ ip: o.first.ip, since: o.first.time });
    };
    // Decisions taken at an earlier checkpoint stand (their evidence may have expired since); the
    // stream evaluates in event-time order, so they are the decisions a single pass would take.
    for (const o of direct.slice(1)) {
      if (o.learnedAt !== undefined) usedWindows.add(o.learnedAt);
      if (o.otherFamily) otherFamilyAccepted.add(ipFamily(o.first.ip) ?? 0);
    }
    for (const o of direct.slice(1)) {
      if (o.learnedAt !== undefined || o.otherFamily || o.egressMove) {
        accept(o);
        continue;
      }
      const t = o.first.time;
      const at =
        windows.find(
          (w) =>
            !usedWindows.has(w) &&
            w <= t &&
            t <= w + learnMs &&
            changeVouches(ctx.fleet, session, keysOfSession, w, o.first.ip, acceptedSince),
        ) ?? startExplaining(ctx, session, direct, o, usedWindows);
      if (at !== undefined) {
        usedWindows.add(at);
        o.learnedAt = at;
        accept(o);
        continue;
      }
      const family = ipFamily(o.first.ip);
      if (family !== undefined && family !== homeFamily) {
        // The other address family: the instance's own IPv6 block, or for IPv4 its account's NAT
        // gateway / Elastic IP (both learned from the logs), any number of addresses; or, once per
        // family, an address inside your configured networks. Lying in AWS's EC2 ranges proves
        // nothing: every EC2 instance in the region does.
        const own =
          family === 6
            ? isInstanceIpv6(ctx.fleet, session.instanceId, o.first.ip)
            : isAccountEgress(ctx.fleet, session, o.first.ip);
        if (own || (!otherFamilyAccepted.has(family) && ctx.inventory.isOwn(o.first.ip))) {
          if (!own) otherFamilyAccepted.add(family);
          o.otherFamily = true;
          accept(o);
          continue;
        }
      }
      const move = egressMove(ctx.fleet, session, o, {
        threshold: ctx.config.fleetEndpointThreshold,
        windowMs: learnMs,
        final: ctx.final === true,
      });
      if (move === "accept") {
        o.egressMove = true;
        accept(o);
        continue;
      }
      if (move === "hold") {
        const decideAt = t + learnMs;
        const held = ctx.fleet.heldMoves.get(session.key);
        if (held === undefined || decideAt > held) ctx.fleet.heldMoves.set(session.key, decideAt);
        continue;
      }
      pending.push(o);
    }
    const homeOutside = !ctx.inventory.isOwn(home.first.ip);
    for (const o of pending) {
      out.push({
        cause: "address",
        obs: o,
        discriminator: "",
        expected: accepted,
        homeSuspicious: homeOutside && ctx.inventory.isOwn(o.first.ip),
        home: home.first.ip,
      });
    }
  }

  if (endpointObs.length > 0) {
    // Group per endpoint for unknown endpoints, per address for extra private addresses.
    const expected = privateAddress ? [...accepted, privateAddress] : accepted;
    const serviceEndpoint = new Map<string, string>();
    const grouped = new Map<string, { cause: MismatchCause; obs: Observation }>();
    const add = (key: string, cause: MismatchCause, o: Observation) => {
      const g = grouped.get(key);
      if (!g) grouped.set(key, { cause, obs: structuredClone(o) });
      else mergeObservation(g.obs, o);
    };
    for (const o of unknown) add(`vpce:${o.first.vpcEndpointId}`, "unknown-endpoint", o);
    for (const o of known) {
      const vpce = o.first.vpcEndpointId as string;
      const bound = serviceEndpoint.get(o.first.source);
      if (bound === undefined) serviceEndpoint.set(o.first.source, vpce);
      else if (bound !== vpce) {
        add(`vpce:${vpce}`, "endpoint-change", o);
        continue;
      }
      if (o.first.ip !== privateAddress && !isInstancePrivateAddress(ctx.fleet, session.instanceId, o.first.ip))
        add(`private:${o.first.ip}`, "second-private-address", o);
    }
    for (const [discriminator, g] of grouped) {
      out.push({ cause: g.cause, obs: g.obs, discriminator, expected, homeSuspicious: false });
    }
  }
  return out;
}
