import type { EventRule } from "./rule.js";

/**
 * IMDSv1 hands credentials to any request, including one an attacker makes through an SSRF bug;
 * CloudTrail marks such credentials with `sessionContext.ec2RoleDelivery = "1.0"`.
 */
export function imdsv1Credential(): EventRule {
  return {
    id: "imdsv1-credential",
    defaultSeverity: "low",
    summary:
      "Instance credentials were fetched through IMDSv1, which answers SSRF requests; require IMDSv2 (HttpTokens=required) on the instance.",
    scope: "session",
    check(_event, caller) {
      if (caller.ec2RoleDelivery !== "1.0") return undefined;
      return { detail: "was delivered by IMDSv1 (ec2RoleDelivery 1.0)" };
    },
  };
}
