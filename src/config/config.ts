/**
 * The optional YAML configuration (`--config firstcall.yaml`). Every key is optional; an empty file
 * is the default configuration. Unknown keys are an error (a typo must not silently disable a rule).
 *
 * @example
 * ```yaml
 * accounts: ["111122223333"]            # your accounts: endpoints they own are yours
 * ownNetworks: ["203.0.113.0/24"]       # your egress (NAT gateways, Elastic IPs, offices)
 * vpcEndpoints: ["vpce-0a1b2c3d"]        # endpoints known to be yours
 * allow:
 *   cidrs: ["198.51.100.7/32"]          # calls from here never bind and never alert
 *   roles: ["arn:aws:iam::111122223333:role/ci-*"]
 *   userAgents: ["my-inventory-agent/"]  # matched at the start of the agent
 *   accounts: ["444455556666"]
 * recon:
 *   calls: ["sts:GetCallerIdentity", "iam:ListUsers"]
 *   allowUserAgents: ["my-health-check/"] # added to the built-in list (EKS authenticator, SSM, CloudWatch agents)
 *   defaultAllowUserAgents: true         # false: only the entries above
 * to:                                    # destinations, as --to (secrets from env: or file:)
 *   - slack:env:SLACK_WEBHOOK_URL
 *   - securityhub
 * ```
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { agentEntryProblem } from "../engine/rules/user-agents.js";
import { UsageError } from "../errors.js";
import { cidrProblem } from "../net/ip.js";

/** An address or CIDR, checked here so that a typo stops the run before any log is read. */
const cidrEntry = z.string().superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem)
    ctx.addIssue({ code: "custom", message: `not an IP address or CIDR: ${JSON.stringify(value)} (${problem})` });
});
const cidrList = z.array(cidrEntry).default([]);

/**
 * A role pattern (`*` matches any run of characters) is compared with the role's name and its IAM ARN
 * (`arn:aws:iam::ACCOUNT:role/path/NAME`): a session ARN (`arn:aws:sts::…:assumed-role/…`) or a stray
 * character would never match, silently disabling the allowance, so both are refused.
 */
const rolePattern = z.string().superRefine((value, ctx) => {
  const bad = (why: string) => ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)}: ${why}` });
  if (value === "") bad("an empty role pattern");
  else if (!/^[A-Za-z0-9_+=,.@\-/:*]+$/.test(value))
    bad("a role name or ARN has only letters, digits, _+=,.@-/: and the * wildcard");
  else if (value.includes(":") && !/^arn:[^:]+:iam::[^:]*:role\/./.test(value))
    bad("use the role's name or its IAM ARN, arn:aws:iam::ACCOUNT:role/NAME (not a session ARN)");
});

/**
 * A user-agent entry: a prefix of the agent (its product token) or a `/regular expression/`. Not a
 * substring: a thief can append any name to his own agent (see src/engine/rules/user-agents.ts).
 */
const userAgentEntry = z.string().superRefine((value, ctx) => {
  const problem = agentEntryProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)}: ${problem}` });
});

const accountId = z.string().regex(/^\d{12}$/, "an account id is 12 digits");

const credentialKinds = z.enum(["ec2-instance", "ecs-task", "lambda", "service-role", "assumed-role"]);

export const configSchema = z
  .object({
    /** Your AWS account ids. A VPC endpoint owned by one of them (`vpcEndpointAccountId`) is yours. */
    accounts: z.array(accountId).default([]),
    /** Your own egress networks (CIDRs or addresses): NAT gateways, Elastic IPs, offices. */
    ownNetworks: cidrList,
    /** VPC endpoint ids known to be yours. */
    vpcEndpoints: z
      .array(z.string().regex(/^vpce-[0-9a-z]+$/, "a VPC endpoint id looks like vpce-0123abcd"))
      .default([]),
    allow: z
      .object({
        /** Calls from these addresses never bind a session and never raise a finding. */
        cidrs: cidrList,
        /** Role ARNs or role names (`*` matches any run of characters): their sessions are not checked. */
        roles: z.array(rolePattern).default([]),
        /** User agents (prefix or `/regex/`): their calls are never reported by the user-agent and recon rules. */
        userAgents: z.array(userAgentEntry).default([]),
        /** Accounts whose events are not checked at all. */
        accounts: z.array(accountId).default([]),
      })
      .strict()
      .default({ cidrs: [], roles: [], userAgents: [], accounts: [] }),
    recon: z
      .object({
        /** `service:Action` pairs (service = eventSource without `.amazonaws.com`); replaces the default list. */
        calls: z
          .array(z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9]+$/, "use service:Action, e.g. sts:GetCallerIdentity"))
          .optional(),
        /** Added to the default (or configured) list. */
        extraCalls: z.array(z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9]+$/)).default([]),
        /** User agents (prefix or `/regex/`) of software that legitimately makes recon calls; extends the built-in list. */
        allowUserAgents: z.array(userAgentEntry).default([]),
        /** The built-in list of such software (EKS authenticator, SSM agent, CloudWatch agent); false turns it off. */
        defaultAllowUserAgents: z.boolean().default(true),
        /** Roles (as in allow.roles) whose sessions may make recon calls. */
        allowRoles: z.array(rolePattern).default([]),
      })
      .strict()
      .default({ extraCalls: [], allowUserAgents: [], defaultAllowUserAgents: true, allowRoles: [] }),
    /** Which credential kinds are bound to their first address (credential-ip-mismatch). */
    bindKinds: z.array(credentialKinds).default(["ec2-instance", "ecs-task", "lambda", "service-role", "assumed-role"]),
    /** How long after AssociateAddress & co. the instance's next new address is learned, not alerted on. */
    learnWindowMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(30),
    /** A session not refreshed for this long (event time) is forgotten; the next issuance starts afresh. */
    sessionTtlHours: z.number().positive().max(48).default(8),
    /**
     * An endpoint whose owner is not logged counts as yours once this many other instances vouch for it
     * (used it from the start of a lifetime); also how many other instances of the account must have an
     * address as home to corroborate it for a session that used only endpoints before.
     */
    fleetEndpointThreshold: z.number().int().positive().default(2),
    /**
     * Where findings are delivered besides the output, as `--to` values (`slack:env:SLACK_WEBHOOK_URL`,
     * `securityhub`, …), added to those of the command line. Checked by `parseTarget` when the command
     * starts; a secret belongs in the environment or a file (`env:`, `file:`), not here.
     */
    to: z.array(z.string().min(1, "an empty destination")).optional(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/** The configuration used when no file is given. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}

/** Parses and validates configuration text; errors name the file and the offending key. */
export function parseConfig(text: string, source = "<config>"): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (e) {
    throw new UsageError("E_CONFIG", `${source}: not valid YAML: ${(e as Error).message}`);
  }
  return validateConfig(raw, source);
}

/** `allow.cidrs[2]`: the key path of a configuration problem, as a person would write it. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i > 0 ? "." : ""}${String(k)}`)).join("");
}

/**
 * Checks a configuration built in code (not read by {@link parseConfig}) the same way a file is
 * checked; returns it with defaults applied. The scan calls it before reading any log.
 *
 * @example
 * runScan({ paths, config: validateConfig({ ...defaultConfig(), ownNetworks: ["10.0.0.0/8"] }) })
 */
export function validateConfig(config: unknown, source = "<config>"): Config {
  const result = configSchema.safeParse(config);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${keyPath(i.path) || "(top level)"}: ${i.message}`);
    throw new UsageError("E_CONFIG", `${source}: ${problems.join("; ")}`);
  }
  return result.data;
}

/** Reads and validates a configuration file. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError("E_CONFIG", `${path}: cannot read configuration: ${(e as Error).message}`);
  }
  return parseConfig(text, path);
}
