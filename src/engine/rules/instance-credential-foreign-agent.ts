import type { Config } from "../../config/config.js";
import type { EventRule } from "./rule.js";
import { agentMatcher } from "./user-agents.js";

/**
 * User agents that no software on a server sends: a CLI or SDK on a desktop OS, a browser, or a
 * known offensive tool. Matching is on the agent's own OS markers, so the same CLI on Linux passes.
 */
const FOREIGN_AGENTS: readonly { family: string; pattern: RegExp; label: string }[] = [
  {
    family: "offensive-tool",
    pattern: /\b(pacu|cloudfox|scoutsuite|weirdaal|enumerate-iam|stratus-red-team|kali|parrotsec)(?![a-z])/i,
    label: "an offensive security tool",
  },
  { family: "browser", pattern: /^\[?Mozilla\/\d/, label: "a web browser" },
  {
    family: "macos",
    pattern: /(?:^|[\s[(])(?:Darwin|macOS)\/|\bos\/(?:macos|darwin)\b|md\/OS#(?:macos|darwin)/i,
    label: "a client on macOS",
  },
  {
    family: "windows",
    pattern: /(?:^|[\s[(])Windows(?:_NT)?\/|\bos\/windows\b|md\/OS#windows|\bWin(?:32|64)\b/i,
    label: "a client on Windows",
  },
];

export function classifyForeignAgent(userAgent: string): { family: string; label: string } | undefined {
  for (const a of FOREIGN_AGENTS) if (a.pattern.test(userAgent)) return { family: a.family, label: a.label };
  return undefined;
}

export function instanceCredentialForeignAgent(config: Config): EventRule {
  const allowedAgent = agentMatcher(config.allow.userAgents);
  return {
    id: "instance-credential-foreign-agent",
    defaultSeverity: "medium",
    summary:
      "Instance credentials were used by software no server runs (a desktop CLI, a browser, an attack tool), which means they were copied off the instance.",
    scope: "address",
    check(event) {
      const ua = event.userAgent;
      if (!ua || allowedAgent(ua)) return undefined;
      const hit = classifyForeignAgent(ua);
      if (!hit) return undefined;
      return {
        discriminator: hit.family,
        detail: `was used by ${hit.label} (${ua.slice(0, 120)}) from ${event.sourceIp}`,
      };
    },
  };
}
