/**
 * What every rule is: a stable id, a default severity and a one-sentence reason. Per-call rules
 * (`EventRule`) also say how to recognise an offending call; the address-binding rule is driven by
 * the engine itself (see ../bindings.ts).
 */
import type { Config } from "../../config/config.js";
import type { Severity } from "../../findings/finding.js";
import type { Caller, EngineEvent } from "../event.js";

export interface RuleInfo {
  /** Stable id, used in findings, config and docs. Never renamed. */
  readonly id: string;
  readonly defaultSeverity: Severity;
  /** One sentence: what the rule finds and why it matters. */
  readonly summary: string;
}

export interface RuleHit {
  /** Separates findings of one rule for one credential beyond the address (e.g. the agent family). */
  readonly discriminator?: string;
  /** The second half of the reason sentence: what was seen. */
  readonly detail: string;
}

export interface EventRule extends RuleInfo {
  /** `session`: one finding per credential; `address`: one per credential and source address. */
  readonly scope: "session" | "address";
  /** Looks at one call made with instance credentials (never one AWS made on your behalf). */
  check(event: EngineEvent, caller: Caller): RuleHit | undefined;
}

/** Builds a rule from the configuration (rules that take options read them here, once). */
export type EventRuleFactory = (config: Config) => EventRule;

/** Glob (`*` = any run of characters) match, case-sensitive, anchored. */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`);
  return re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A role pattern matches the role ARN or its name. */
export function roleMatches(patterns: readonly string[], roleArn: string | undefined): boolean {
  if (!roleArn || patterns.length === 0) return false;
  const name = roleArn.slice(roleArn.lastIndexOf("/") + 1);
  return patterns.some((p) => globMatch(p, roleArn) || globMatch(p, name));
}
