/**
 * Matching user agents against allowlists without letting a thief borrow a name.
 *
 * A user agent is chosen by whoever makes the call. Matching an allowlist entry anywhere in it (a
 * substring) lets a thief append `aws-iam-authenticator` to his own CLI's agent (`aws-cli
 * --user-agent-extra`-style options, Boto3's `user_agent_extra`, `AWS_SDK_UA_APP_ID`) and pass. So
 * an entry only matches **at the start** of the agent — the product token, which those options never
 * change. A thief who replaces the whole agent is out of reach of any user-agent rule; the address
 * rules still see him. CloudTrail sometimes wraps the agent in `[…]` (older CLIs); one pair of
 * surrounding brackets is ignored.
 *
 * Configured entries (`allow.userAgents`, `recon.allowUserAgents`) are either
 * - a plain string: the agent starts with it (`my-inventory-agent/` — end it with `/` to pin the
 *   product name, so `my-inventory-agent-x/1.0` does not match), or
 * - `/regular expression/`: matched against the whole agent as written (anchor it yourself), for
 *   software whose own token comes after its SDK's, like the built-in SSM agent entry below.
 */

export interface KnownAgent {
  /** The software, as people call it. */
  readonly name: string;
  /** Whole-agent shape, anchored at the start (and at the end where the software's token comes last). */
  readonly pattern: RegExp;
}

/**
 * Software that legitimately makes reconnaissance calls (`sts:GetCallerIdentity` and the like) from
 * instances with the instance's credentials. Used by the recon rule unless `recon.defaultAllowUserAgents`
 * is false. Each entry says why it is here; software that only makes calls outside the recon list
 * (the kubelet's ECR credential provider: `ecr:GetAuthorizationToken`; the VPC CNI `aws-node`:
 * `ec2:*NetworkInterface*`, `ec2:AssignPrivateIpAddresses`) needs no entry and has none, so a thief
 * borrowing their agents gains nothing here. Controllers such as Karpenter usually run with pod
 * credentials (IRSA, EKS Pod Identity), which this rule does not judge. Not listed for want of a
 * documented recon call and agent shape: amazon-efs-utils, EKS node bootstrap (nodeadm). Add what
 * your fleet runs with `recon.allowUserAgents`.
 */
export const DEFAULT_RECON_AGENTS: readonly KnownAgent[] = [
  {
    // EKS authentication: every node's kubelet presents a token that is a presigned
    // sts:GetCallerIdentity request made with the node role's credentials; the authenticator verifies
    // it by sending it to STS with its own agent, `aws-iam-authenticator/<version>` first. A busy
    // cluster makes these calls every few minutes per node: the largest source of recon noise.
    name: "aws-iam-authenticator (EKS node authentication)",
    pattern: /^aws-iam-authenticator\/v?\d[\w.+-]*(?:[ ;(]|$)/,
  },
  {
    // The SSM agent runs on most instances with the instance's credentials; it is built on the Go
    // SDK v1 and appends its own name after the SDK's token with the SDK's user-agent handler
    // (`aws-sdk-go/1.44.260 (go1.21.8; linux; amd64) amazon-ssm-agent/3.3.380.0`). Which calls it
    // makes depends on its version and plugins, so it is allowed only in that exact shape:
    // `Boto3/… amazon-ssm-agent/3.3` does not pass. (Commands run *through* SSM carry their own
    // agent, e.g. aws-cli's, and are judged as such.)
    name: "amazon-ssm-agent (Systems Manager agent)",
    pattern: /^aws-sdk-go\/[\w.+-]+ \([^()]*\) amazon-ssm-agent\/\d[\d.]*$/,
  },
  {
    // The CloudWatch agent sends `CWAgent/<version> (…)` as its product token; it runs with the
    // instance's credentials on most fleets and resolves the account and identity it publishes
    // metrics and logs for.
    name: "CloudWatch agent",
    pattern: /^CWAgent\/\d[\w.+-]*(?:[ ;(]|$)/,
  },
];

/** The agent without one pair of surrounding brackets (`[aws-cli/1.18 …]`, as older records show it). */
export function bareAgent(userAgent: string): string {
  return userAgent.length >= 2 && userAgent.startsWith("[") && userAgent.endsWith("]")
    ? userAgent.slice(1, -1)
    : userAgent;
}

/** True when a configured entry is written as a regular expression (`/…/`). */
export function isRegexEntry(entry: string): boolean {
  return entry.length > 2 && entry.startsWith("/") && entry.endsWith("/");
}

/** Why a configured entry cannot be used, or undefined. */
export function agentEntryProblem(entry: string): string | undefined {
  if (entry === "") return "an empty user-agent entry would match every call";
  if (isRegexEntry(entry)) {
    try {
      new RegExp(entry.slice(1, -1));
    } catch (e) {
      return `not a valid regular expression: ${(e as Error).message}`;
    }
  }
  return undefined;
}

/**
 * Builds the matcher for a list of configured entries plus built-in agents.
 *
 * @example
 * const allowed = agentMatcher(["my-agent/"], DEFAULT_RECON_AGENTS);
 * allowed("aws-iam-authenticator/0.6.20 (linux; amd64)")        // true
 * allowed("Boto3/1.34.0 md/Botocore#1.34.0 aws-iam-authenticator/0.6") // false
 */
export function agentMatcher(
  entries: readonly string[],
  known: readonly KnownAgent[] = [],
): (userAgent: string | undefined) => boolean {
  const prefixes: string[] = [];
  const patterns: RegExp[] = known.map((k) => k.pattern);
  for (const e of entries) {
    if (isRegexEntry(e)) patterns.push(new RegExp(e.slice(1, -1)));
    else prefixes.push(e);
  }
  if (prefixes.length === 0 && patterns.length === 0) return () => false;
  return (userAgent) => {
    if (!userAgent) return false;
    const ua = bareAgent(userAgent);
    return prefixes.some((p) => ua.startsWith(p)) || patterns.some((p) => p.test(ua));
  };
}
