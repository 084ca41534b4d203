/**
 * Role session names and user agents that mark each Trailblazer call, so that its CloudTrail
 * record can be traced back to the operation that produced it.
 *
 * A session name is `tb.<runId>.<seq>.<service>.<Operation>`, cut to AWS's 64-character limit.
 * The run id and the base-36 sequence number come first, so the name stays unique however much is
 * cut; the run file maps it back to the operation (the original tool truncated names to 63
 * characters and could then never match them).
 */
import { randomBytes } from "node:crypto";

export const MAX_SESSION_NAME = 64;
/** AWS's RoleSessionName alphabet. */
export const SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;

/** A fresh run id: 8 lower-case base-36 characters. */
export function newRunId(): string {
  const n = randomBytes(6).readUIntBE(0, 6);
  return n.toString(36).padStart(8, "0").slice(-8);
}

/**
 * The session name for call `seq` of a run.
 *
 * @example
 * sessionName("k3x9ab12", 1234, "ec2", "DescribeInstances"); // "tb.k3x9ab12.ya.ec2.DescribeInstances"
 */
export function sessionName(runId: string, seq: number, service: string, operation: string): string {
  const raw = `tb.${runId}.${seq.toString(36)}.${service}.${operation}`.replace(/[^\w+=,.@-]/g, "-");
  return raw.length > MAX_SESSION_NAME ? raw.slice(0, MAX_SESSION_NAME) : raw;
}

/** Reads the run id and sequence number back out of a session name, if it is one of ours. */
export function parseSessionName(name: string): { runId: string; seq: number } | undefined {
  const match = /^tb\.([0-9a-z]+)\.([0-9a-z]+)(?:\.|$)/.exec(name);
  if (!match || match[1] === undefined || match[2] === undefined) return undefined;
  const seq = Number.parseInt(match[2], 36);
  return Number.isSafeInteger(seq) ? { runId: match[1], seq } : undefined;
}

/** The product token every Trailblazer request carries in its User-Agent. */
export const USER_AGENT_PRODUCT = "firstcall-trailblazer";

/** The user agent for call `seq` of a run: marks both the run and the call. */
export function runUserAgent(toolVersion: string, runId: string, seq?: number): string {
  const call = seq === undefined ? "" : ` call/${seq.toString(36)}`;
  return `${USER_AGENT_PRODUCT}/${toolVersion} run/${runId}${call}`;
}

/** The run marker as AWS SDK user-agent pairs (the SDK joins them as `name/version`). */
export function runUserAgentPairs(toolVersion: string, runId: string): Array<[string, string]> {
  return [
    [USER_AGENT_PRODUCT, toolVersion],
    ["run", runId],
  ];
}

/** Reads run id and sequence number from a user agent that carries our marker. */
export function parseUserAgent(userAgent: string): { runId: string; seq?: number } | undefined {
  const match = /firstcall-trailblazer\/\S+ run\/([0-9a-z]+)(?: call\/([0-9a-z]+))?/.exec(userAgent);
  if (!match || match[1] === undefined) return undefined;
  if (match[2] === undefined) return { runId: match[1] };
  const seq = Number.parseInt(match[2], 36);
  return Number.isSafeInteger(seq) ? { runId: match[1], seq } : { runId: match[1] };
}
