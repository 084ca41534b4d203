/**
 * IAM policy evaluation for identity policies and SCPs, as far as a CloudTrail record can tell:
 * statements' Action/NotAction (IAM wildcards, case-insensitive), Resource/NotResource, and the
 * Condition operators the generated policies use, with `…IfExists`, `ForAnyValue:`/`ForAllValues:`
 * and policy variables (`${aws:SourceVpc}`), exactly as the IAM User Guide defines them:
 *
 * - operators in one Condition block are ANDed, keys under one operator are ANDed, the values of one
 *   key are ORed (for a negated operator: the context value must match none of them);
 * - a key absent from the request makes a positive operator false and a negated one (`StringNot…`,
 *   `NotIpAddress`, `ArnNot…`) true; `…IfExists` makes any operator true on an absent key; `Null`
 *   tests presence; `ForAnyValue:` is false and `ForAllValues:` true on an absent key;
 * - a policy variable whose key is absent matches no value.
 *
 * The logic is three-valued: a key CloudTrail does not record is `unknown`, and so is every result
 * that depends on it (`false` AND `unknown` is `false`; `true` OR `unknown` is `true`).
 */
import { UsageError } from "../errors.js";
import { type Cidr, cidrContains, parseCidr } from "./cidr.js";

export type Tri = true | false | "unknown";

/**
 * A context key's value in one request: present (with its values), present with a value CloudTrail
 * does not show (`opaque`: `Null` can be decided, nothing else), or not knowable from the record.
 * A key that is absent from the request is simply not in the map.
 */
export type ContextValue =
  | { readonly kind: "present"; readonly values: readonly string[] }
  | { readonly kind: "opaque" }
  | { readonly kind: "unknown" };

export interface RequestContext {
  /** `service:Action`, e.g. `s3:GetObject`. */
  readonly action: string;
  /** The resource ARN when known; undefined: only `"Resource": "*"` is sure to match. */
  readonly resource?: string;
  /** Context keys by lower-case name (key names are case-insensitive in IAM). */
  readonly keys: ReadonlyMap<string, ContextValue>;
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Statement[];
}

export function and(...values: Tri[]): Tri {
  if (values.includes(false)) return false;
  return values.includes("unknown") ? "unknown" : true;
}

export function or(...values: Tri[]): Tri {
  if (values.includes(true)) return true;
  return values.includes("unknown") ? "unknown" : false;
}

export function not(v: Tri): Tri {
  return v === "unknown" ? "unknown" : !v;
}

function list(v: string | readonly string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === "string" ? [v] : v;
}

const OPERATOR = /^(?:(ForAnyValue|ForAllValues):)?(.+?)(IfExists)?$/;

type Family = "string" | "stringIgnoreCase" | "stringLike" | "arn" | "arnLike" | "ip" | "bool" | "null";

const BASE_OPERATORS: ReadonlyMap<string, { family: Family; negated: boolean }> = new Map([
  ["StringEquals", { family: "string", negated: false }],
  ["StringNotEquals", { family: "string", negated: true }],
  ["StringEqualsIgnoreCase", { family: "stringIgnoreCase", negated: false }],
  ["StringNotEqualsIgnoreCase", { family: "stringIgnoreCase", negated: true }],
  ["StringLike", { family: "stringLike", negated: false }],
  ["StringNotLike", { family: "stringLike", negated: true }],
  ["ArnEquals", { family: "arn", negated: false }],
  ["ArnNotEquals", { family: "arn", negated: true }],
  ["ArnLike", { family: "arnLike", negated: false }],
  ["ArnNotLike", { family: "arnLike", negated: true }],
  ["IpAddress", { family: "ip", negated: false }],
  ["NotIpAddress", { family: "ip", negated: true }],
  ["Bool", { family: "bool", negated: false }],
  ["Null", { family: "null", negated: false }],
]);

export interface ParsedOperator {
  readonly name: string;
  readonly family: Family;
  readonly negated: boolean;
  readonly ifExists: boolean;
  readonly set?: "ForAnyValue" | "ForAllValues";
}

/** Parses a condition operator name; undefined when it is not one this evaluator implements. */
export function parseOperator(name: string): ParsedOperator | undefined {
  const m = OPERATOR.exec(name);
  if (!m) return undefined;
  const base = BASE_OPERATORS.get(m[2] ?? "");
  if (!base) return undefined;
  if (base.family === "null" && (m[3] || m[1])) return undefined;
  return {
    name,
    ...base,
    ifExists: m[3] !== undefined,
    ...(m[1] ? { set: m[1] as "ForAnyValue" | "ForAllValues" } : {}),
  };
}

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  // Iterative glob with backtracking on the last star: linear enough for policy-sized strings.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === "?" || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === "*") {
      star = pi++;
      mark = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

/** ArnLike: each of the six colon-separated parts is matched on its own (the resource part keeps its colons). */
function arnLike(pattern: string, value: string): boolean {
  const split = (s: string) => {
    const parts = s.split(":");
    return parts.length <= 6 ? parts : [...parts.slice(0, 5), parts.slice(5).join(":")];
  };
  const p = split(pattern);
  const v = split(value);
  if (p.length !== 6 || v.length !== 6) return wildcardMatch(pattern, value);
  return p.every((part, i) => wildcardMatch(part, v[i] ?? ""));
}

const VARIABLE = /\$\{([^}]+)\}/g;

/**
 * A policy value with its variables replaced by the request's values: a list of concrete strings,
 * `absent` (a variable's key is not in the request: the value matches nothing), or `unknown`.
 */
function resolveValue(template: string, ctx: RequestContext): string[] | "absent" | "unknown" {
  if (!template.includes("${")) return [template];
  let out: string[] = [""];
  let last = 0;
  for (const m of template.matchAll(VARIABLE)) {
    const literal = template.slice(last, m.index);
    last = (m.index ?? 0) + m[0].length;
    const inner = m[1] ?? "";
    const special: Record<string, string> = { "*": "*", "?": "?", $: "$" };
    let replacements: string[];
    const defaultMatch = /^\s*([^,]+?)\s*,\s*'([^']*)'\s*$/.exec(inner);
    const keyName = (defaultMatch ? defaultMatch[1] : inner)?.trim() ?? "";
    if (special[keyName] !== undefined) replacements = [special[keyName] as string];
    else {
      const v = ctx.keys.get(keyName.toLowerCase());
      if (v === undefined) {
        if (defaultMatch) replacements = [defaultMatch[2] ?? ""];
        else return "absent";
      } else if (v.kind !== "present") return "unknown";
      else replacements = [...v.values];
    }
    out = out.flatMap((prefix) => replacements.map((r) => prefix + literal + r));
  }
  const tail = template.slice(last);
  return out.map((s) => s + tail);
}

function asStrings(value: unknown, where: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((v) => {
    if (typeof v === "string") return v;
    if (typeof v === "boolean" || typeof v === "number") return String(v);
    throw new UsageError("E_USAGE", `${where}: condition values must be strings, booleans or numbers`);
  });
}

const cidrCache = new Map<string, Cidr | undefined>();

/** Parsed addresses and CIDRs, kept: a policy's few ranges are compared with every call. */
function cachedCidr(text: string): Cidr | undefined {
  if (cidrCache.has(text)) return cidrCache.get(text);
  let value: Cidr | undefined;
  try {
    value = parseCidr(text);
  } catch {
    value = undefined;
  }
  if (cidrCache.size > 100_000) cidrCache.clear();
  cidrCache.set(text, value);
  return value;
}

/** Whether one context value matches one (resolved) policy value under the operator's family. */
function matchOne(family: Family, contextValue: string, policyValue: string): boolean {
  switch (family) {
    case "string":
      return contextValue === policyValue;
    case "stringIgnoreCase":
      return contextValue.toLowerCase() === policyValue.toLowerCase();
    case "stringLike":
      return wildcardMatch(policyValue, contextValue);
    case "arn":
      return contextValue === policyValue;
    case "arnLike":
      return arnLike(policyValue, contextValue);
    case "bool":
      return contextValue.toLowerCase() === policyValue.toLowerCase();
    case "ip": {
      const net = cachedCidr(policyValue);
      const ip = cachedCidr(contextValue);
      return net !== undefined && ip !== undefined && cidrContains(net, ip);
    }
    case "null":
      return false;
  }
}

/** Whether one context value matches any of the policy's values (OR), variables resolved. */
function matchAny(op: ParsedOperator, contextValue: string, policyValues: readonly string[], ctx: RequestContext): Tri {
  const results: Tri[] = [];
  for (const template of policyValues) {
    const variables = op.family !== "ip" && op.family !== "bool";
    const resolved = variables ? resolveValue(template, ctx) : [template];
    if (resolved === "absent") results.push(false);
    else if (resolved === "unknown") results.push("unknown");
    else results.push(resolved.some((v) => matchOne(op.family, contextValue, v)));
  }
  return or(...results);
}

/**
 * One key under one operator.
 *
 * @example
 * evaluateKey(parseOperator("NotIpAddress")!, "aws:SourceIp", ["203.0.113.0/24"], ctx) // true when outside
 */
export function evaluateKey(
  op: ParsedOperator,
  key: string,
  policyValues: readonly string[],
  ctx: RequestContext,
): Tri {
  const value = ctx.keys.get(key.toLowerCase());
  if (op.family === "null") {
    if (value?.kind === "unknown") return "unknown";
    const absent = value === undefined || (value.kind === "present" && value.values.length === 0);
    return or(...policyValues.map((p) => (p.toLowerCase() === "true" ? absent : !absent)));
  }
  if (value?.kind === "unknown" || value?.kind === "opaque") return "unknown";
  if (value === undefined || value.values.length === 0) {
    if (op.set === "ForAllValues") return true;
    if (op.set === "ForAnyValue") return op.ifExists;
    return op.ifExists || op.negated;
  }
  const element = (v: string): Tri => {
    const m = matchAny(op, v, policyValues, ctx);
    return op.negated ? not(m) : m;
  };
  const perValue = value.values.map(element);
  if (op.set === "ForAllValues") return and(...perValue);
  if (op.set === "ForAnyValue") return or(...perValue);
  // A single-valued key: one value. Several values without a set operator: a negated operator must
  // hold for every value (the key matches none of the policy's), a positive one for any.
  return op.negated ? and(...perValue) : or(...perValue);
}

/** A statement's Condition block: every operator and every key under it must hold. */
export function evaluateCondition(condition: Statement["Condition"], ctx: RequestContext, where = "Condition"): Tri {
  if (!condition) return true;
  const results: Tri[] = [];
  for (const [operatorName, keys] of Object.entries(condition)) {
    const op = parseOperator(operatorName);
    if (!op) throw new UsageError("E_USAGE", `${where}: condition operator ${operatorName} is not supported`);
    if (keys === null || typeof keys !== "object" || Array.isArray(keys)) {
      throw new UsageError("E_USAGE", `${where}.${operatorName}: expected an object of condition keys`);
    }
    for (const [key, raw] of Object.entries(keys)) {
      results.push(evaluateKey(op, key, asStrings(raw, `${where}.${operatorName}.${key}`), ctx));
    }
  }
  return and(...results);
}

function matchesAction(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => wildcardMatch(p, action, true));
}

function resourceMatch(patterns: readonly string[], resource: string | undefined): Tri {
  if (patterns.includes("*")) return true;
  if (resource === undefined) return "unknown";
  return patterns.some((p) => arnLike(p, resource));
}

/** Whether a statement applies to the request (action, resource and condition). */
export function statementApplies(s: Statement, ctx: RequestContext, where = "Statement"): Tri {
  const action =
    s.Action !== undefined ? matchesAction(list(s.Action), ctx.action) : !matchesAction(list(s.NotAction), ctx.action);
  if (!action) return false;
  const resource =
    s.Resource !== undefined
      ? resourceMatch(list(s.Resource), ctx.resource)
      : s.NotResource !== undefined
        ? not(resourceMatch(list(s.NotResource), ctx.resource))
        : true;
  return and(resource, evaluateCondition(s.Condition, ctx, `${where}.Condition`));
}

export type Decision = "denied" | "unknown" | "not-denied";

export interface PolicyDecision {
  /**
   * `denied`: an explicit Deny applies (explicit deny wins). `unknown`: no Deny surely applies but one
   * might, on keys the record does not show. `not-denied`: no Deny applies.
   */
  readonly decision: Decision;
  /** Sids (or `#index`) of the Deny statements that apply, or might. */
  readonly statements: readonly string[];
  /** Whether an Allow statement of this policy applies (what an Allow grants; other policies may grant too). */
  readonly allowed: Tri;
  /**
   * For `unknown`: the keys (as the policy spells them) of the undecided Deny statements whose value
   * the request does not show, `Resource` when the resource is not known.
   */
  readonly unknownKeys?: readonly string[];
}

/**
 * What a statement reads that the request context does not show: condition keys and policy
 * variables whose value is unknown (or, but for `Null`, present with an unrecorded value), and
 * `Resource` when it names a resource and the request's is not known.
 *
 * @example unrecordedKeys(scpStatement, ctx) // ["aws:ec2InstanceSourceVPC", "aws:SourceVpc"]
 */
export function unrecordedKeys(s: Statement, ctx: RequestContext): string[] {
  const out = new Set<string>();
  const unknownValue = (key: string, nullOperator: boolean) => {
    const v = ctx.keys.get(key.toLowerCase());
    return v?.kind === "unknown" || (!nullOperator && v?.kind === "opaque");
  };
  for (const [operatorName, keys] of Object.entries(s.Condition ?? {})) {
    const nullOperator = operatorName === "Null";
    for (const [key, raw] of Object.entries(keys ?? {})) {
      if (unknownValue(key, nullOperator)) out.add(key);
      for (const value of typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : []) {
        for (const m of String(value).matchAll(VARIABLE)) {
          const name = (m[1] ?? "").split(",")[0]?.trim() ?? "";
          if (name && unknownValue(name, false)) out.add(name);
        }
      }
    }
  }
  const resources = list(s.Resource ?? s.NotResource);
  if (ctx.resource === undefined && resources.length > 0 && !resources.includes("*")) out.add("Resource");
  return [...out];
}

function statementName(s: Statement, i: number): string {
  return s.Sid ?? `#${i}`;
}

/**
 * Evaluates a policy's statements against one request: explicit deny wins; Allow statements are
 * reported but never turn a deny around.
 *
 * @example
 * evaluatePolicy(policy, { action: "s3:GetObject", keys: new Map([["aws:sourceip", { kind: "present", values: ["198.51.100.7"] }]]) })
 */
export function evaluatePolicy(policy: PolicyDocument, ctx: RequestContext): PolicyDecision {
  const denies: string[] = [];
  const maybe: string[] = [];
  const unknownKeys = new Set<string>();
  const allows: Tri[] = [];
  policy.Statement.forEach((s, i) => {
    const applies = statementApplies(s, ctx, `Statement[${i}]`);
    if (s.Effect === "Deny") {
      if (applies === true) denies.push(statementName(s, i));
      else if (applies === "unknown") {
        maybe.push(statementName(s, i));
        for (const k of unrecordedKeys(s, ctx)) unknownKeys.add(k);
      }
    } else allows.push(applies);
  });
  const allowed = or(...allows);
  if (denies.length > 0) return { decision: "denied", statements: denies, allowed };
  if (maybe.length > 0) return { decision: "unknown", statements: maybe, allowed, unknownKeys: [...unknownKeys] };
  return { decision: "not-denied", statements: [], allowed };
}

/**
 * Checks a parsed JSON value is a policy this evaluator can judge: Version, one statement or a list,
 * Effect, Action or NotAction, no Principal (identity policies and SCPs have none), known operators.
 *
 * @throws UsageError naming `source` and the problem.
 */
export function parsePolicy(value: unknown, source: string): PolicyDocument {
  const fail = (msg: string): never => {
    throw new UsageError("E_USAGE", `${source}: ${msg}`);
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) return fail("not a JSON policy object");
  const doc = value as Record<string, unknown>;
  const raw = doc.Statement;
  if (raw === undefined) return fail("no Statement");
  const statements = (Array.isArray(raw) ? raw : [raw]) as unknown[];
  const out: Statement[] = statements.map((s, i) => {
    const where = `Statement[${i}]`;
    if (s === null || typeof s !== "object" || Array.isArray(s)) return fail(`${where} is not an object`);
    const st = s as Record<string, unknown>;
    if (st.Effect !== "Allow" && st.Effect !== "Deny") return fail(`${where}: Effect must be Allow or Deny`);
    if ("Principal" in st || "NotPrincipal" in st) {
      return fail(`${where}: has a Principal: resource policies are not supported (identity policies and SCPs only)`);
    }
    if ((st.Action === undefined) === (st.NotAction === undefined)) {
      return fail(`${where}: needs exactly one of Action and NotAction`);
    }
    for (const field of ["Action", "NotAction", "Resource", "NotResource"] as const) {
      const v = st[field];
      if (v !== undefined && typeof v !== "string" && !(Array.isArray(v) && v.every((x) => typeof x === "string"))) {
        fail(`${where}.${field}: expected a string or a list of strings`);
      }
    }
    const cond = st.Condition;
    if (cond !== undefined) {
      if (cond === null || typeof cond !== "object" || Array.isArray(cond))
        fail(`${where}.Condition: expected an object`);
      for (const name of Object.keys(cond as object)) {
        if (!parseOperator(name)) fail(`${where}.Condition: operator ${name} is not supported`);
      }
    }
    return st as unknown as Statement;
  });
  return { ...(typeof doc.Version === "string" ? { Version: doc.Version } : {}), Statement: out };
}
