/** The rule registry: every rule the engine runs, in the order their findings are listed. */
import type { Config } from "../../config/config.js";
import { credentialIpMismatch } from "./credential-ip-mismatch.js";
import { imdsv1Credential } from "./imdsv1-credential.js";
import { instanceCredentialForeignAgent } from "./instance-credential-foreign-agent.js";
import { instanceCredentialRecon } from "./instance-credential-recon.js";
import type { EventRule, RuleInfo } from "./rule.js";

export { credentialIpMismatch };

/** Per-call rules on instance credentials, built from the configuration. */
export function eventRules(config: Config): EventRule[] {
  return [instanceCredentialRecon(config), imdsv1Credential(), instanceCredentialForeignAgent(config)];
}

/** Every rule's id, severity and summary (for docs and `firstcall rules`). */
export function allRules(config: Config): RuleInfo[] {
  return [credentialIpMismatch, ...eventRules(config)].map(({ id, defaultSeverity, summary }) => ({
    id,
    defaultSeverity,
    summary,
  }));
}
