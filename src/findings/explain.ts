/**
 * `firstcall explain`: the evidence of one stored finding, as a person reads it. Built from what the
 * state keeps — the finding, its observation (the offending calls) and, while it is live, the
 * credential's session (the home and when it was bound) and the fleet (endpoint users) — and from
 * the decision the finding itself records: a stored mismatch exists only because no address change,
 * other-family exception or endpoint ownership explained the call when it was judged.
 */
import type { StoredFinding } from "../engine/engine.js";
import type { FleetState, Observation, SessionState } from "../engine/state.js";
import { ipFamily } from "../net/ip.js";
import { safeText } from "../safe-text.js";
import type { Finding, NetworkClass } from "./finding.js";
import { credentialLabel } from "./formats/text.js";

/** How the credential was bound to its home address. */
export interface HomeEvidence {
  readonly address: string;
  /** eventTime of the first call of the credential's lifetime (the binding). */
  readonly boundAt: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly userAgent?: string;
  /** Whether the issuance (AssumeRole) was in the logs. */
  readonly issuanceSeen: boolean;
}

export interface Explanation {
  readonly schema: "firstcall.explanation/v1";
  readonly finding: Finding;
  /** The credential's home, when the session is still in the state; else only `finding.expectedIps`. */
  readonly home?: HomeEvidence;
  readonly offendingCalls: {
    readonly address: string;
    readonly network: NetworkClass;
    readonly count: number;
    readonly firstSeen: string;
    readonly lastSeen: string;
    readonly eventIds: readonly string[];
    readonly eventNames: readonly string[];
    readonly accessKeyIds: readonly string[];
    readonly userAgents: readonly string[];
    readonly vpcEndpointId?: string;
    readonly vpcEndpointAccountId?: string;
  };
  /** Evidence that would have explained the calls, looked for and not found. */
  readonly notFound: readonly string[];
  /** What could not be shown, and why (e.g. the session has expired from the state). */
  readonly notes: readonly string[];
}

function homeOf(session: SessionState | undefined, at: number): HomeEvidence | undefined {
  if (!session) return undefined;
  const lifetime =
    session.lifetimes.find((l) => l.start <= at && at <= l.validUntil) ??
    session.lifetimes[session.lifetimes.length - 1];
  if (!lifetime) return undefined;
  let first: Observation | undefined;
  for (const o of lifetime.direct.values()) {
    if (!first || o.first.time < first.first.time || (o.first.time === first.first.time && o.first.id < first.first.id))
      first = o;
  }
  if (!first) return undefined;
  return {
    address: first.first.ip,
    boundAt: first.first.timeIso,
    eventId: first.first.id,
    eventName: first.first.name,
    ...(first.first.userAgent ? { userAgent: first.first.userAgent } : {}),
    issuanceSeen: lifetime.covered,
  };
}

function missingEvidence(
  f: Finding,
  obs: Observation,
  home: string | undefined,
  fleet: FleetState | undefined,
  learnWindowMinutes: number,
): string[] {
  const out: string[] = [];
  if (f.rule !== "credential-ip-mismatch") {
    if (f.expectedIps.length === 0)
      out.push(
        "a home address: none of this credential's own calls (or its issuance) is in the logs read, so only the per-call rules could judge it",
      );
    return out;
  }
  const vpce = obs.first.vpcEndpointId;
  if (!vpce) {
    const who = f.principal.instanceId ? `instance ${f.principal.instanceId}` : "the holder";
    out.push(
      `an address change of ${who} (AssociateAddress, AttachNetworkInterface, AssignPrivateIpAddresses, AssignIpv6Addresses, StartInstances, also by one of its network interfaces) within ${learnWindowMinutes} minutes before ${f.time}, made by someone other than this credential and from elsewhere than ${f.sourceIp}: none in the logs read`,
      `a move of several instances of account ${f.account} at once to its NAT gateway or Elastic IP known from the logs (CreateNatGateway, AllocateAddress, AssociateAddress): not for ${f.sourceIp}`,
    );
    const homeFamily = home ? ipFamily(home) : undefined;
    const family = ipFamily(f.sourceIp);
    if (homeFamily !== undefined && family !== undefined && homeFamily === family)
      out.push(
        `the other IP family: ${f.sourceIp} is IPv${family} like the home ${home}, so that exception does not apply`,
      );
    else
      out.push(
        `the other IP family tied to ${who}: ${f.sourceIp} is not among its IPv6 addresses or its subnet's IPv6 block learned from the logs, nor inside your networks (being ${networkWords(f.network)} is no evidence: every EC2 instance in the region is in AWS's ranges)`,
      );
  } else {
    const vouchers = fleet?.endpointVouchers.get(vpce)?.length;
    out.push(
      `ownership of VPC endpoint ${vpce}: not in your configuration's vpcEndpoints, not created by CreateVpcEndpoint in the logs read, owner ${obs.first.vpcEndpointAccountId ?? "not logged"} is not the credential's account, one of yours nor one the trail is about${vouchers !== undefined ? `, vouched for by ${vouchers} instance session(s) that used it from their start` : ""} — or, when it is yours, this address or service was not the session's first through it`,
    );
  }
  return out;
}

function networkWords(n: NetworkClass): string {
  switch (n) {
    case "own-network":
      return "inside your networks";
    case "aws":
      return "inside AWS";
    case "outside-aws":
      return "outside your networks and outside AWS";
    default:
      return "not classified: give --ip-ranges and ownNetworks to classify it";
  }
}

/**
 * Gathers the evidence of one finding.
 *
 * @example
 * const e = explain(stored, sessions.get(stored.session), fleet, config.learnWindowMinutes);
 * process.stdout.write(renderExplanationText(e));
 */
export function explain(
  stored: StoredFinding,
  session: SessionState | undefined,
  fleet: FleetState | undefined,
  learnWindowMinutes: number,
): Explanation {
  const f = stored.finding;
  const obs = stored.obs;
  const home = homeOf(session, obs.first.time);
  const notes: string[] = [];
  if (!session)
    notes.push(
      "the credential's session is not in the state (never bound: its issuance and first call are not in the logs read; or expired after its lifetime): the home shown is the finding's expected address, if any",
    );
  return {
    schema: "firstcall.explanation/v1",
    finding: f,
    ...(home ? { home } : {}),
    offendingCalls: {
      address: f.sourceIp,
      network: f.network,
      count: f.evidence.count,
      firstSeen: f.evidence.firstSeen,
      lastSeen: f.evidence.lastSeen,
      eventIds: f.evidence.eventIds,
      eventNames: f.evidence.eventNames,
      accessKeyIds: f.evidence.accessKeyIds,
      userAgents: f.evidence.userAgents,
      ...(obs.first.vpcEndpointId ? { vpcEndpointId: obs.first.vpcEndpointId } : {}),
      ...(obs.first.vpcEndpointAccountId ? { vpcEndpointAccountId: obs.first.vpcEndpointAccountId } : {}),
    },
    notFound: missingEvidence(f, obs, home?.address ?? f.expectedIps[0], fleet, learnWindowMinutes),
    notes,
  };
}

/** The explanation for a terminal: every value from the logs escaped. */
export function renderExplanationText(e: Explanation): string {
  const f = e.finding;
  const t = safeText;
  const c = e.offendingCalls;
  const lines = [
    `finding ${t(f.id)}: ${f.severity.toUpperCase()} ${t(f.rule)}`,
    `  credential  ${t(credentialLabel(f.principal))} (${t(f.principal.kind)}) ${t(f.principal.arn)}`,
    `  account     ${t(f.account)}  region ${t(f.region)}`,
    `  reason      ${t(f.reason)}`,
    "",
    "home (where the credential's first call came from)",
  ];
  if (e.home) {
    lines.push(
      `  ${t(e.home.address)}, bound at ${t(e.home.boundAt)} by ${t(e.home.eventName)} (event ${t(e.home.eventId)})${e.home.userAgent ? ` ua="${t(e.home.userAgent)}"` : ""}`,
      `  issuance (AssumeRole) ${e.home.issuanceSeen ? "seen in the logs" : "not in the logs: bound from its first call"}`,
    );
  } else if (f.expectedIps.length > 0) {
    lines.push(`  expected ${f.expectedIps.map(t).join(", ")}`);
  } else {
    lines.push("  none in the logs read");
  }
  lines.push(
    "",
    `offending calls from ${t(c.address)} (${networkWords(c.network)})`,
    `  ${c.count} call(s), first ${t(c.firstSeen)}, last ${t(c.lastSeen)}`,
    `  events      ${c.eventIds.map(t).join(", ")}${c.count > c.eventIds.length ? ", …" : ""}`,
    `  names       ${c.eventNames.map(t).join(", ")}`,
    `  keys        ${c.accessKeyIds.map(t).join(", ") || "-"}`,
  );
  for (const ua of c.userAgents) lines.push(`  user agent  ${t(ua)}`);
  if (c.vpcEndpointId)
    lines.push(`  through     ${t(c.vpcEndpointId)} (owner ${t(c.vpcEndpointAccountId ?? "not logged")})`);
  if (e.notFound.length > 0) {
    lines.push("", "looked for and not found");
    for (const n of e.notFound) lines.push(`  - ${t(n)}`);
  }
  for (const n of e.notes) lines.push(`note: ${t(n)}`);
  return `${lines.join("\n")}\n`;
}
