import type { Config } from "../../config/config.js";
import type { EventRule } from "./rule.js";
import { roleMatches } from "./rule.js";
import { agentMatcher, DEFAULT_RECON_AGENTS } from "./user-agents.js";

/** Calls that ask "who am I / what can I reach" — what a thief runs first, and servers rarely need. */
export const DEFAULT_RECON_CALLS = [
  "sts:GetCallerIdentity",
  "iam:GetAccountAuthorizationDetails",
  "iam:ListUsers",
  "iam:ListRoles",
  "iam:ListAttachedRolePolicies",
  "iam:ListRolePolicies",
  "iam:GetRolePolicy",
  "s3:ListBuckets",
  "organizations:DescribeOrganization",
  "organizations:ListAccounts",
  "secretsmanager:ListSecrets",
];

/** `sts.amazonaws.com` + `GetCallerIdentity` → `sts:GetCallerIdentity`. */
export function actionOf(eventSource: string, eventName: string): string {
  return `${eventSource.replace(/\.amazonaws\.com$/, "")}:${eventName}`;
}

export function instanceCredentialRecon(config: Config): EventRule {
  const calls = new Set([...(config.recon.calls ?? DEFAULT_RECON_CALLS), ...config.recon.extraCalls]);
  // Known server software (unless turned off) plus the configured entries; all matched at the start
  // of the agent, never anywhere in it (see user-agents.ts).
  const allowedAgent = agentMatcher(
    [...config.recon.allowUserAgents, ...config.allow.userAgents],
    config.recon.defaultAllowUserAgents ? DEFAULT_RECON_AGENTS : [],
  );
  const allowRoles = config.recon.allowRoles;
  return {
    id: "instance-credential-recon",
    defaultSeverity: "medium",
    summary:
      "Instance credentials made a reconnaissance call (sts:GetCallerIdentity and the like) that server software rarely needs and thieves make first.",
    scope: "address",
    check(event, caller) {
      const action = actionOf(event.source, event.name);
      if (!calls.has(action)) return undefined;
      if (allowedAgent(event.userAgent)) return undefined;
      if (roleMatches(allowRoles, caller.roleArn)) return undefined;
      return {
        detail: `made ${action}${event.errorCode ? ` (denied: ${event.errorCode})` : ""} from ${event.sourceIp}`,
      };
    },
  };
}
