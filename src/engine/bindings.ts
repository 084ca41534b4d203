/**
 * "The first call wins", evaluated over one lifetime of one session: which addresses are the
 * holder's, and which are not. A pure function of the observations, the fleet knowledge and the
 * inventory, so the result does not depend on the order in which calls were read.
 *
 * - Direct calls: the earliest call's address is the home. A later address is accepted only with
 *   evidence: an address change of the instance shortly before (AssociateAddress & co.), or the other
 *   IP family inside your networks or AWS's EC2 ranges for the region (dual-stack instances).
 * - Endpoint calls: the endpoint must be yours; one private address per session; per service one
 *   endpoint (a change of endpoint is a finding).
 */
import type { Config } from "../config/config.js";
import type { NetworkInventory } from "../net/inventory.js";
import { ipFamily } from "../net/ip.js";
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
    // Decisions taken at an earlier checkpoint stand (their evidence may have expired since); the
    // stream evaluates in event-time order, so they are the decisions a single pass would take.
    for (const o of direct.slice(1)) {
      if (o.learnedAt !== undefined) usedWindows.add(o.learnedAt);
      if (o.otherFamily) otherFamilyAccepted.add(ipFamily(o.first.ip) ?? 0);
    }
    for (const o of direct.slice(1)) {
      if (o.learnedAt !== undefined || o.otherFamily) {
        accepted.push(o.first.ip);
        continue;
      }
      const t = o.first.time;
      const at =
        windows.find((w) => !usedWindows.has(w) && w <= t && t <= w + learnMs) ??
        startExplaining(ctx, session, direct, o, usedWindows);
      if (at !== undefined) {
        usedWindows.add(at);
        o.learnedAt = at;
        accepted.push(o.first.ip);
        continue;
      }
      const family = ipFamily(o.first.ip);
      if (
        family !== undefined &&
        family !== homeFamily &&
        !otherFamilyAccepted.has(family) &&
        (ctx.inventory.isOwn(o.first.ip) || ctx.inventory.isAwsEc2In(o.first.ip, o.first.region))
      ) {
        otherFamilyAccepted.add(family);
        o.otherFamily = true;
        accepted.push(o.first.ip);
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
