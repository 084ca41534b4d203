import type { RuleInfo } from "./rule.js";

/**
 * The first call wins: a temporary credential used from an address other than the one its first
 * call came from (or through a VPC endpoint that is not yours) has most likely left its holder.
 * Driven by the engine's bindings (../bindings.ts), not by a per-call check.
 */
export const credentialIpMismatch: RuleInfo = {
  id: "credential-ip-mismatch",
  defaultSeverity: "high",
  summary:
    "A temporary credential was used from an address (or VPC endpoint) other than the one its holder made its first call from.",
};
