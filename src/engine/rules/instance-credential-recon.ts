import type { Config } from "../../config/config.js";
import type { EventRule } from "./rule.js";
import { roleMatches } from "./rule.js";

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
  const allowAgents = [...config.recon.allowUserAgents, ...config.allow.userAgents];
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
      const ua = event.userAgent ?? "";
      if (allowAgents.some((a) => ua.includes(a))) return undefined;
      if (roleMatches(allowRoles, caller.roleArn)) return undefined;
      return {
        detail: `made ${action}${event.errorCode ? ` (denied: ${event.errorCode})` : ""} from ${event.sourceIp}`,
      };
    },
  };
}
