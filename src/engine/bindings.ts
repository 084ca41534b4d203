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
 * - Endpoint calls: the endpoint must be yours; one private address per session; per service one
 *   endpoint (a change of endpoint is a finding).
 */
import type { Config } from "../config/config.js";
import type { NetworkInventory } from "../net/inventory.js";
import { ipFamily } from "../net/ip.js";
import { type AcceptedAddress, changeVouches, egressMove, isAccountEgress, isInstanceIpv6 } from "./addresses.js";
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
  | "second-private-address"; // through your endpoint, but from another private address

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

/** Whether an endpoint counts as yours for a given session. */
export function endpointIsKnown(ctx: BindingContext, session: SessionState, obs: Observation): boolean {
  const vpce = obs.first.vpcEndpointId;
  if (!vpce) return false;
  if (ctx.config.vpcEndpoints.includes(vpce) || ctx.fleet.createdEndpoints.has(vpce)) return true;
  const owner = obs.first.vpcEndpointAccountId;
  if (owner && (owner === session.account || ctx.config.accounts.includes(owner))) return true;
  const users = ctx.fleet.endpointUsers.get(vpce) ?? [];
  const others = users.filter((i) => i !== session.instanceId).length;
  return others >= ctx.config.fleetEndpointThreshold;
}

export function evaluateLifetime(ctx: BindingContext, session: SessionState, lifetime: Lifetime): Mismatch[] {
  const out: Mismatch[] = [];
  const direct = byFirstCall(lifetime.direct.values());
  const home = direct[0];
  const accepted: string[] = home ? [home.first.ip] : [];
  const endpointObs = byFirstCall(lifetime.endpoint.values());

  if (home) {
    const homeFamily = ipFamily(home.first.ip);
    const otherFamilyAccepted = new Set<number>();
    const windows = (session.instanceId && ctx.fleet.addressChanges.get(session.instanceId)) || [];
    const learnMs = ctx.config.learnWindowMinutes * 60_000;
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
      const at = windows.find(
        (w) =>
          !usedWindows.has(w) &&
          w <= t &&
          t <= w + learnMs &&
          changeVouches(ctx.fleet, session, keysOfSession, w, o.first.ip, acceptedSince),
      );
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
    const known = endpointObs.filter((o) => endpointIsKnown(ctx, session, o));
    const unknown = endpointObs.filter((o) => !endpointIsKnown(ctx, session, o));
    const privateAddress = known[0]?.first.ip;
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
      if (o.first.ip !== privateAddress) add(`private:${o.first.ip}`, "second-private-address", o);
    }
    for (const [discriminator, g] of grouped) {
      out.push({ cause: g.cause, obs: g.obs, discriminator, expected, homeSuspicious: false });
    }
  }
  return out;
}
