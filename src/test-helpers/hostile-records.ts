/**
 * Hostile CloudTrail input for property-based tests: real and hand-made records, mutated the way an
 * attacker (who writes part of every record: names, user agents, request parameters) or a damaged
 * log would mutate them, and the property every scan of them must keep.
 *
 * The property: `runScan` never throws, its exit code is 0, 1 or 3 (1 exactly when a finding is at or
 * above `high`), every finding is a well-typed `firstcall.finding/v1` object, and findings and summary
 * survive a JSON round trip unchanged. Shared by `src/pipeline/hostile-input.test.ts` (CI-sized run)
 * and `scripts/fuzz-hostile.ts` (larger nightly run), so both test one definition.
 *
 * Mutations are data (indices and value names), not closures, so fast-check can shrink them and a
 * counterexample prints as something a person can read and replay.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { type Config, parseConfig } from "../config/config.js";
import { FINDING_SCHEMA, type Finding, SEVERITIES, severityRank } from "../findings/finding.js";
import { runScan, type ScanResult } from "../pipeline/scan.js";
import { readLogs } from "../sources/read.js";
import { ACCOUNT, at, call, ec2Issuance, sessionArn, userCall } from "./records.js";

// ---------------------------------------------------------------------------------------------
// Hostile values

/**
 * Every property name a plain object inherits (listed, not computed, so that a seed picks the same
 * values on every Node version; a test checks the list against `Object.prototype`), plus a few names
 * other code paths treat specially (promises, JSON.stringify, functions).
 */
export const PROTOTYPE_NAMES: readonly string[] = [
  "constructor",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toString",
  "toLocaleString",
  "valueOf",
  "prototype",
  "length",
  "name",
  "then",
  "toJSON",
];

const LONG_LENGTH = 100_000;

/**
 * Named hostile values. A case refers to them by name so that counterexamples stay short (the
 * 100k-character strings would otherwise fill the report). Values are built on demand, fresh each time.
 */
const NAMED_VALUES: ReadonlyMap<string, () => unknown> = new Map<string, () => unknown>([
  ...PROTOTYPE_NAMES.map((name): [string, () => unknown] => [name, () => name]),
  ["empty", () => ""],
  ["space", () => " "],
  ["nul", () => "\u0000"],
  ["controls", () => "\u0001\u0007\u001b[2J\r\n\t\u007f"],
  ["bidi-override", () => "\u202eexe.gnp\u202c"],
  ["bidi-isolates", () => "\u2066i-0123456789abcdef0\u2069\u200f"],
  ["bom", () => "\ufeff"],
  ["lone-surrogate", () => "\ud800"],
  ["emoji", () => "\u{1F600}"],
  ["long", () => "A".repeat(LONG_LENGTH)],
  ["long-dots", () => "1.".repeat(LONG_LENGTH / 2)],
  ["long-arn", () => `arn:aws:sts::${ACCOUNT}:assumed-role/web-server/${"i".repeat(LONG_LENGTH)}`],
  ["zero", () => 0],
  ["negative", () => -1],
  ["fraction", () => 1.5],
  ["huge", () => 1e308],
  ["unsafe-integer", () => 2 ** 53 + 1],
  ["true", () => true],
  ["false", () => false],
  ["null", () => null],
  ["empty-object", () => ({})],
  ["empty-array", () => []],
  ["array-of-names", () => ["constructor", "__proto__", "toString"]],
  // Built by JSON.parse so that "__proto__" is an own key, as it is in a parsed log.
  ["object-with-proto-keys", () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}')],
  ["nested-arrays", () => [[[[]]]]],
  ["aws-internal", () => "AWS Internal"],
  ["service-name", () => "ec2.amazonaws.com"],
  ["ipv4", () => "203.0.113.99"],
  ["ipv4-mapped-ipv6", () => "::ffff:203.0.113.99"],
  ["ipv6", () => "2001:db8::99"],
  ["zero-address", () => "0.0.0.0"],
  ["bad-time", () => "2026-13-45T99:99:99Z"],
  ["far-future", () => "+275760-09-13T00:00:00.000Z"],
  ["far-past", () => "-271821-04-20T00:00:00.000Z"],
  ["epoch", () => "1970-01-01T00:00:00Z"],
  ["date-only", () => "2026-11-01"],
  ["instance-like", () => "i-00000000000000000"],
  ["vpce-like", () => "vpce-constructor"],
  ["arn-of-names", () => `arn:aws:sts::${ACCOUNT}:assumed-role/constructor/__proto__`],
]);

export const HOSTILE_VALUE_NAMES: readonly string[] = [...NAMED_VALUES.keys()];

/** Names of the hostile values that are strings (usable inside another string). */
export const HOSTILE_STRING_NAMES: readonly string[] = HOSTILE_VALUE_NAMES.filter(
  (n) => typeof NAMED_VALUES.get(n)?.() === "string",
);

/** A hostile value: one of the named ones, or a short random string of any code units. */
export type HostileValue = { readonly named: string } | { readonly text: string };

export function hostileValue(v: HostileValue): unknown {
  if ("text" in v) return v.text;
  const make = NAMED_VALUES.get(v.named);
  if (!make) throw new Error(`unknown hostile value ${v.named}`);
  return make();
}

function hostileString(v: HostileValue): string {
  const value = hostileValue(v);
  return typeof value === "string" ? value : JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Seed records

/** Seed logs, relative to the repository root: the sample day, then the vendored public records. */
export const TESTDATA_PATHS = ["testdata/sample", "testdata/stratus-red-team", "testdata/otrf"] as const;

export interface SeedCorpora {
  /** Hand-made records that reach every engine path; always part of a case. */
  readonly scenario: readonly CloudTrailRecord[];
  /** The synthetic sample day (three instances, one theft). */
  readonly sample: readonly CloudTrailRecord[];
  /** Vendored public records (Stratus Red Team, OTRF) and any extra seed paths. */
  readonly publicRecords: readonly CloudTrailRecord[];
}

/** Instance ids of the scenario, one per engine path (17 hex digits after `i-`). */
export const SCENARIO_INSTANCES = {
  thief: "i-0aaaaaaaaaaaaaaa1",
  endpoint: "i-0bbbbbbbbbbbbbbb2",
  sharedEndpoint: "i-0ccccccccccccccc3",
  eni: "i-0ddddddddddddddd4",
  launched: "i-0eeeeeeeeeeeeeee5",
  started: "i-0fffffffffffffff6",
  uncovered: "i-0abcabcabcabcabc7",
} as const;
const VPCE_SHARED = "vpce-0shared00000001";
const VPCE_FOREIGN = "vpce-0foreign0000001";
const VPCE_CREATED = "vpce-0created0000001";
const FOREIGN_ACCOUNT = "999988887777";

function key(tag: string): string {
  return `ASIA${tag.toUpperCase()}`.padEnd(20, "X").slice(0, 20);
}

/**
 * Hand-made records exercising each engine path: EC2 issuance (two keys), calls from the home and a
 * thief's address (recon, IMDSv1, desktop agent), VPC endpoints (owned, foreign, shared by two
 * instances, created by CreateVpcEndpoint), AssociateAddress, AttachNetworkInterface, RunInstances
 * with an interface, AssignPrivateIpAddresses, StartInstances, an ECS task and an ordinary role
 * session keyed by access key, a call without issuance, a call AWS made on the holder's behalf, an
 * error, an IPv6 call and a duplicate delivery.
 */
export function scenarioRecords(): CloudTrailRecord[] {
  const I = SCENARIO_INSTANCES;
  const out: CloudTrailRecord[] = [];
  const s3 = { source: "s3.amazonaws.com", name: "GetObject" };

  // A: stolen. Home 54.0.0.10; the thief uses the IMDSv1 key from a laptop.
  out.push(ec2Issuance(I.thief, key("a2"), at(0)), ec2Issuance(I.thief, key("a1"), at(0)));
  out.push(call(I.thief, key("a2"), "54.0.0.10", at(1)), call(I.thief, key("a2"), "54.0.0.10", at(5), s3));
  out.push(
    call(I.thief, key("a1"), "203.0.113.66", at(20), {
      name: "GetCallerIdentity",
      source: "sts.amazonaws.com",
      delivery: "1.0",
      userAgent: "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64",
    }),
    call(I.thief, key("a2"), "s3.amazonaws.com", at(7), { ...s3, invokedBy: "s3.amazonaws.com" }),
    call(I.thief, key("a2"), "54.0.0.10", at(8), {
      name: "ListUsers",
      source: "iam.amazonaws.com",
      errorCode: "AccessDenied",
    }),
    call(I.thief, key("a2"), "2600:1f18:1234::10", at(9)),
  );

  // B: endpoint traffic through its own endpoint, a foreign one and one created in the logs (from a
  // second private address, which is itself a finding).
  out.push(ec2Issuance(I.endpoint, key("b2"), at(0)));
  out.push(
    call(I.endpoint, key("b2"), "54.0.0.11", at(1)),
    call(I.endpoint, key("b2"), "10.0.1.5", at(2), { ...s3, vpce: VPCE_SHARED, vpceAccount: ACCOUNT }),
    call(I.endpoint, key("b2"), "10.0.1.5", at(3), {
      source: "kms.amazonaws.com",
      name: "Decrypt",
      vpce: VPCE_FOREIGN,
      vpceAccount: FOREIGN_ACCOUNT,
    }),
    call(I.endpoint, key("b2"), "10.0.1.6", at(4), {
      source: "secretsmanager.amazonaws.com",
      name: "GetSecretValue",
      vpce: VPCE_CREATED,
    }),
  );
  const created = userCall(
    "CreateVpcEndpoint",
    at(-10),
    { CreateVpcEndpointRequest: { VpcId: "vpc-0aaaa1111" } },
    { CreateVpcEndpointResponse: { vpcEndpoint: { vpcEndpointId: VPCE_CREATED } } },
  );
  const createdFlat = userCall(
    "CreateVpcEndpoint",
    at(-9),
    { CreateVpcEndpointRequest: { VpcId: "vpc-0aaaa1111" } },
    { vpcEndpoint: { vpcEndpointId: VPCE_CREATED } },
  );
  out.push(created, createdFlat);

  // C: the shared endpoint without owner field (known through two instances), then an Elastic IP.
  out.push(ec2Issuance(I.sharedEndpoint, key("c2"), at(0)));
  out.push(
    call(I.sharedEndpoint, key("c2"), "54.0.0.12", at(1)),
    call(I.sharedEndpoint, key("c2"), "10.0.2.5", at(4), { ...s3, vpce: VPCE_SHARED }),
    userCall("AssociateAddress", at(30), { instanceId: I.sharedEndpoint, allocationId: "eipalloc-0c" }),
    call(I.sharedEndpoint, key("c2"), "3.80.0.12", at(35)),
  );

  // D: an interface attached, then an address associated with the interface.
  out.push(ec2Issuance(I.eni, key("d2"), at(0)));
  out.push(
    call(I.eni, key("d2"), "54.0.0.13", at(1)),
    call(I.eni, key("d2"), "10.0.3.5", at(6), { ...s3, vpce: VPCE_SHARED }),
    userCall("AttachNetworkInterface", at(40), {
      instanceId: I.eni,
      networkInterfaceId: "eni-0dddd0001",
      deviceIndex: 1,
    }),
    userCall("AssociateAddress", at(41), { networkInterfaceId: "eni-0dddd0001", allocationId: "eipalloc-0d" }),
    call(I.eni, key("d2"), "3.80.0.13", at(45)),
  );

  // E: launched with an interface, which later gets a second private address.
  out.push(
    userCall(
      "RunInstances",
      at(-5),
      { instanceType: "t3.micro" },
      {
        instancesSet: {
          items: [
            { instanceId: I.launched, networkInterfaceSet: { items: [{ networkInterfaceId: "eni-0eeee0001" }] } },
          ],
        },
      },
    ),
  );
  out.push(ec2Issuance(I.launched, key("e2"), at(0)));
  out.push(
    call(I.launched, key("e2"), "54.0.0.14", at(1)),
    userCall("AssignPrivateIpAddresses", at(50), {
      networkInterfaceId: "eni-0eeee0001",
      secondaryPrivateIpAddressCount: 1,
    }),
    call(I.launched, key("e2"), "3.80.0.14", at(52)),
    userCall("AssignIpv6Addresses", at(53), { networkInterfaceId: "eni-0eeee0001", ipv6AddressCount: 1 }),
  );

  // F: stopped and started (new public address).
  out.push(ec2Issuance(I.started, key("f2"), at(0)));
  out.push(
    call(I.started, key("f2"), "54.0.0.15", at(1)),
    userCall("StartInstances", at(60), { instancesSet: { items: [{ instanceId: I.started }] } }),
    call(I.started, key("f2"), "3.80.0.15", at(62)),
  );

  // An ECS task credential (keyed by session ARN, no instance id) through an endpoint and from two addresses.
  out.push(ec2Issuance("task-0123", key("t2"), at(0), { service: "ecs-tasks.amazonaws.com", role: "task-role" }));
  out.push(
    call("task-0123", key("t2"), "10.0.9.9", at(3), {
      role: "task-role",
      delivery: null,
      vpce: "vpce-0task00000000001",
      source: "secretsmanager.amazonaws.com",
      name: "GetSecretValue",
    }),
    call("task-0123", key("t2"), "54.0.0.20", at(4), { role: "task-role", delivery: null }),
    call("task-0123", key("t2"), "198.51.100.20", at(5), { role: "task-role", delivery: null }),
  );

  // A role session a person assumed (keyed by access key), used from two addresses.
  const assumed = ec2Issuance("deploy-session", key("u2"), at(0), { role: "deployer" });
  assumed.userIdentity = {
    type: "IAMUser",
    principalId: "AIDAEXAMPLE",
    arn: `arn:aws:iam::${ACCOUNT}:user/ops`,
    accountId: ACCOUNT,
    accessKeyId: "AKIAEXAMPLEOPS",
    userName: "ops",
  };
  assumed.sourceIPAddress = "198.51.100.10";
  assumed.userAgent = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64";
  out.push(assumed);
  out.push(
    call("deploy-session", key("u2"), "198.51.100.10", at(2), { role: "deployer", delivery: null }),
    call("deploy-session", key("u2"), "192.0.2.50", at(3), { role: "deployer", delivery: null }),
  );

  // G: instance calls whose issuance is not in the logs (bound only with --bind-uncovered).
  const uncovered = call(I.uncovered, key("g2"), "54.0.0.17", at(5));
  if (uncovered.userIdentity) uncovered.userIdentity.inScopeOf = { issuerType: "AWS::EC2::Instance" };
  out.push(uncovered, call(I.uncovered, key("g2"), "203.0.113.77", at(6)));

  // A duplicate delivery of a call (same eventID).
  out.push(structuredClone(out[2] as CloudTrailRecord));
  return out;
}

/**
 * Loads the seed corpora: the hand-made scenario, the synthetic sample and the vendored public
 * records (plus any extra files or directories, e.g. a nightly run's larger data sets).
 *
 * @example
 * const corpora = await loadSeedCorpora(process.cwd());
 */
export async function loadSeedCorpora(repoRoot: string, extraPaths: readonly string[] = []): Promise<SeedCorpora> {
  const read = async (paths: readonly string[]): Promise<CloudTrailRecord[]> => {
    const out: CloudTrailRecord[] = [];
    for await (const obj of readLogs([...paths])) out.push(...obj.records);
    return out;
  };
  const [samplePath, ...publicPaths] = TESTDATA_PATHS.map((p) => join(repoRoot, p));
  const sample = await read([samplePath as string]);
  const publicRecords = await read([...publicPaths, ...extraPaths]);
  if (sample.length === 0 || publicRecords.length === 0) {
    throw new Error(
      `no seed records under ${repoRoot}/testdata (sample ${sample.length}, public ${publicRecords.length})`,
    );
  }
  return { scenario: scenarioRecords(), sample, publicRecords };
}

// ---------------------------------------------------------------------------------------------
// Cases and mutations

/** A path into a record: object keys and array indices. */
export type FieldPath = readonly (string | number)[];

/** Fields the engine reads (set even where the seed record lacks them, intermediate objects made). */
export const ENGINE_PATHS: readonly FieldPath[] = [
  ["vpcEndpointId"],
  ["vpcEndpointAccountId"],
  ["sourceIPAddress"],
  ["userAgent"],
  ["errorCode"],
  ["eventID"],
  ["eventTime"],
  ["@timestamp"],
  ["eventName"],
  ["eventSource"],
  ["eventType"],
  ["eventCategory"],
  ["awsRegion"],
  ["recipientAccountId"],
  ["requestID"],
  ["userIdentity"],
  ["userIdentity", "type"],
  ["userIdentity", "arn"],
  ["userIdentity", "accessKeyId"],
  ["userIdentity", "accountId"],
  ["userIdentity", "invokedBy"],
  ["userIdentity", "sessionContext"],
  ["userIdentity", "sessionContext", "ec2RoleDelivery"],
  ["userIdentity", "sessionContext", "ec2IssuedInVPC"],
  ["userIdentity", "sessionContext", "sessionIssuer", "arn"],
  ["userIdentity", "inScopeOf", "issuerType"],
  ["requestParameters"],
  ["requestParameters", "instanceId"],
  ["requestParameters", "networkInterfaceId"],
  ["requestParameters", "roleArn"],
  ["requestParameters", "roleSessionName"],
  ["requestParameters", "instancesSet"],
  ["requestParameters", "instancesSet", "items"],
  ["requestParameters", "instancesSet", "items", 0, "instanceId"],
  ["responseElements"],
  ["responseElements", "credentials", "accessKeyId"],
  ["responseElements", "assumedRoleUser", "arn"],
  ["responseElements", "instancesSet", "items", 0, "instanceId"],
  ["responseElements", "instancesSet", "items", 0, "networkInterfaceSet", "items", 0, "networkInterfaceId"],
  ["responseElements", "vpcEndpoint", "vpcEndpointId"],
  ["responseElements", "CreateVpcEndpointResponse", "vpcEndpointId"],
  ["responseElements", "CreateVpcEndpointResponse", "vpcEndpoint", "vpcEndpointId"],
];

/**
 * Which record a mutation hits: an index into the scenario (most mutations, since it reaches every
 * engine path) or, with `anywhere`, into all records of the case.
 */
export interface Target {
  readonly record: number;
  readonly anywhere: boolean;
}

/**
 * One change to the records:
 * - `replace`: a string field at any depth (`field` picks one, modulo their count) becomes `value`;
 * - `set`: a field the engine reads (`ENGINE_PATHS[path]`) becomes `value`, made if absent;
 * - `suffix`: what follows the last `/` or `:` of a string field (an ARN's session name) becomes `value`;
 * - `delete`: a field at any depth is removed;
 * - `duplicate`: the record is delivered again, with its eventID or a new one.
 * `spread` applies the same change to that many other records with the same `userIdentity.type`
 * (and the same field), so values collide across records: many crashes need a second occurrence.
 */
export type Mutation =
  | {
      readonly op: "replace";
      readonly target: Target;
      readonly field: number;
      readonly value: HostileValue;
      readonly spread: number;
    }
  | {
      readonly op: "set";
      readonly target: Target;
      readonly path: number;
      readonly value: HostileValue;
      readonly spread: number;
    }
  | {
      readonly op: "suffix";
      readonly target: Target;
      readonly field: number;
      readonly value: HostileValue;
      readonly spread: number;
    }
  | { readonly op: "delete"; readonly target: Target; readonly field: number; readonly spread: number }
  | { readonly op: "duplicate"; readonly target: Target; readonly copies: number; readonly sameEventId: boolean };

export type BaseName = "scenario" | "scenario+sample" | "scenario+public" | "all";

export interface HostileCase {
  readonly base: BaseName;
  readonly mutations: readonly Mutation[];
  /** `sqlite`: the records are split in two files scanned one after the other into one SQLite state. */
  readonly store: "memory" | "sqlite";
  /** Where the second file starts, as a fraction of the records (sqlite only). */
  readonly split: number;
  readonly bindUncovered: boolean;
  /** `owner`: a configuration naming the scenario's account, networks and endpoint. */
  readonly config: "default" | "owner";
}

const OWNER_CONFIG_YAML = `accounts: ["${ACCOUNT}"]
ownNetworks: ["54.0.0.0/16", "10.0.0.0/8"]
vpcEndpoints: ["${VPCE_SHARED}"]
allow:
  userAgents: ["my-inventory-agent/"]
`;

const hostileValueArb: fc.Arbitrary<HostileValue> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES).map((named) => ({ named })) },
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_VALUE_NAMES).map((named) => ({ named })) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }).map((text) => ({ text })) },
);

const targetArb: fc.Arbitrary<Target> = fc.record({
  record: fc.nat({ max: 10_000 }),
  anywhere: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const spreadArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) },
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("replace" as const),
      target: targetArb,
      field: fc.nat({ max: 10_000 }),
      value: hostileValueArb,
      spread: spreadArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("set" as const),
      target: targetArb,
      path: fc.nat({ max: ENGINE_PATHS.length - 1 }),
      value: hostileValueArb,
      spread: spreadArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("suffix" as const),
      target: targetArb,
      field: fc.nat({ max: 10_000 }),
      value: fc.constantFrom(...HOSTILE_STRING_NAMES).map((named) => ({ named })),
      spread: spreadArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("delete" as const),
      target: targetArb,
      field: fc.nat({ max: 10_000 }),
      spread: spreadArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("duplicate" as const),
      target: targetArb,
      copies: fc.integer({ min: 1, max: 3 }),
      sameEventId: fc.boolean(),
    }),
  },
);

/**
 * Generates hostile cases: a base (the scenario, alone or with real records), one to eight
 * mutations, and how to scan (memory or two runs into SQLite, --bind-uncovered, configuration).
 */
export function hostileCaseArbitrary(): fc.Arbitrary<HostileCase> {
  return fc.record({
    base: fc.constantFrom<BaseName>("scenario", "scenario+sample", "scenario+public", "all"),
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 8 }),
    store: fc.oneof(
      { weight: 4, arbitrary: fc.constant("memory" as const) },
      { weight: 1, arbitrary: fc.constant("sqlite" as const) },
    ),
    split: fc.double({ min: 0, max: 1, noNaN: true }),
    bindUncovered: fc.boolean(),
    config: fc.constantFrom<HostileCase["config"]>("default", "owner"),
  });
}

function clone<T>(v: T): T {
  // JSON round trip, not structuredClone: keeps "__proto__" an own data key, exactly as a parsed log has it.
  return JSON.parse(JSON.stringify(v)) as T;
}

function isObject(v: unknown): v is Record<string | number, unknown> {
  return v !== null && typeof v === "object";
}

/** Paths of every field at any depth, in document order; `leavesOnly`: only string-valued ones. */
export function fieldPaths(record: unknown, leavesOnly: boolean): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (!isObject(v)) return;
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, child] of entries) {
      const p = [...path, k];
      if (!leavesOnly || typeof child === "string") out.push(p);
      walk(child, p);
    }
  };
  walk(record, []);
  return out;
}

function getAt(root: unknown, path: FieldPath): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (!isObject(v) || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

function hasPath(root: unknown, path: FieldPath): boolean {
  const parent = getAt(root, path.slice(0, -1));
  const last = path[path.length - 1];
  return last !== undefined && isObject(parent) && Object.hasOwn(parent, last);
}

/** Sets a value at a path, making intermediate objects (or arrays, for numeric keys) as needed. */
function setAt(root: Record<string, unknown>, path: FieldPath, value: unknown): void {
  let v: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i] as string | number;
    let next = Object.hasOwn(v, k) ? v[k] : undefined;
    if (!isObject(next)) {
      next = typeof path[i + 1] === "number" ? [] : {};
      defineOwn(v, k, next);
    }
    v = next as Record<string | number, unknown>;
  }
  defineOwn(v, path[path.length - 1] as string | number, value);
}

/** Assignment that also works for a key named "__proto__" (as JSON.parse would make it). */
function defineOwn(o: Record<string | number, unknown>, k: string | number, value: unknown): void {
  Object.defineProperty(o, k, { value, writable: true, enumerable: true, configurable: true });
}

function deleteAt(root: unknown, path: FieldPath): void {
  const parent = getAt(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if (!isObject(parent) || last === undefined) return;
  if (Array.isArray(parent) && typeof last === "number") parent.splice(last, 1);
  else delete parent[last];
}

/** The base records, shared with the corpora: clone one (`own`) before changing it. */
function baseRecords(corpora: SeedCorpora, base: BaseName): CloudTrailRecord[] {
  const parts: (readonly CloudTrailRecord[])[] = [corpora.scenario];
  if (base === "scenario+sample" || base === "all") parts.push(corpora.sample);
  if (base === "scenario+public" || base === "all") parts.push(corpora.publicRecords);
  return parts.flat();
}

/** Same `userIdentity.type` (or both without one): calls of other sessions of the same kind. */
function sameKind(a: CloudTrailRecord, b: CloudTrailRecord): boolean {
  return JSON.stringify(getAt(a, ["userIdentity", "type"])) === JSON.stringify(getAt(b, ["userIdentity", "type"]));
}

/** Indices of up to `n` other records (after `index`, wrapping) of the same kind that satisfy `ok`. */
function spreadTargets(records: CloudTrailRecord[], index: number, n: number, ok: (r: CloudTrailRecord) => boolean) {
  const out: number[] = [];
  for (let step = 1; step < records.length && out.length < n; step++) {
    const j = (index + step) % records.length;
    const r = records[j] as CloudTrailRecord;
    if (sameKind(r, records[index] as CloudTrailRecord) && ok(r)) out.push(j);
  }
  return out;
}

/** Replaces what follows the last `/` or `:` of a string (an ARN's session or role name) with `suffix`. */
function withSuffix(s: string, suffix: string): string {
  const cut = Math.max(s.lastIndexOf("/"), s.lastIndexOf(":"));
  return `${s.slice(0, cut + 1)}${suffix}`;
}

function describeRecord(records: readonly CloudTrailRecord[], i: number): string {
  const r = records[i];
  const who = getAt(r, ["userIdentity", "arn"]);
  const name = typeof who === "string" ? who.slice(who.lastIndexOf("/") + 1, who.lastIndexOf("/") + 40) : "";
  return `#${i} ${String(r?.eventName).slice(0, 40)}${name ? ` by ${name}` : ""}`;
}

function describeValue(v: HostileValue): string {
  return "text" in v ? JSON.stringify(v.text) : v.named;
}

function describePath(path: FieldPath): string {
  return path
    .map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`))
    .join("")
    .slice(1);
}

/**
 * Builds the records of a case: the base records, cloned, with every mutation applied in order.
 * `log`, when given, receives one line per mutation saying what it did (for failure reports).
 */
export function buildCaseRecords(corpora: SeedCorpora, c: HostileCase, log?: string[]): CloudTrailRecord[] {
  const records = baseRecords(corpora, c.base);
  const scenarioLength = corpora.scenario.length;
  const appended: CloudTrailRecord[] = [];
  // Copy on write: cloning all (up to ~400) records for every case would cost more than the scan.
  const owned = new Set<number>();
  const own = (i: number): CloudTrailRecord => {
    if (!owned.has(i)) {
      records[i] = clone(records[i] as CloudTrailRecord);
      owned.add(i);
    }
    return records[i] as CloudTrailRecord;
  };
  for (const m of c.mutations) {
    const index = m.target.anywhere ? m.target.record % records.length : m.target.record % scenarioLength;
    const record = records[index] as CloudTrailRecord;
    switch (m.op) {
      case "replace":
      case "suffix": {
        const leaves = fieldPaths(record, true);
        if (leaves.length === 0) break;
        const path = leaves[m.field % leaves.length] as FieldPath;
        const apply = (r: CloudTrailRecord) => {
          const current = getAt(r, path);
          const value =
            m.op === "replace" ? hostileValue(m.value) : withSuffix(String(current), hostileString(m.value));
          setAt(r, path, value);
        };
        const others = spreadTargets(records, index, m.spread, (r) => typeof getAt(r, path) === "string");
        log?.push(
          `${m.op} ${describePath(path)} := ${describeValue(m.value)} in ${[index, ...others].map((i) => describeRecord(records, i)).join("; ")}`,
        );
        for (const j of [index, ...others]) apply(own(j));
        break;
      }
      case "set": {
        const path = ENGINE_PATHS[m.path] as FieldPath;
        const parentIsObject = (r: CloudTrailRecord) => path.length === 1 || isObject(getAt(r, path.slice(0, -1)));
        const others = spreadTargets(records, index, m.spread, parentIsObject);
        log?.push(
          `set ${describePath(path)} := ${describeValue(m.value)} in ${[index, ...others].map((i) => describeRecord(records, i)).join("; ")}`,
        );
        for (const j of [index, ...others]) setAt(own(j), path, hostileValue(m.value));
        break;
      }
      case "delete": {
        const all = fieldPaths(record, false);
        if (all.length === 0) break;
        const path = all[m.field % all.length] as FieldPath;
        const others = spreadTargets(records, index, m.spread, (r) => hasPath(r, path));
        log?.push(
          `delete ${describePath(path)} in ${[index, ...others].map((i) => describeRecord(records, i)).join("; ")}`,
        );
        for (const j of [index, ...others]) deleteAt(own(j), path);
        break;
      }
      case "duplicate":
        log?.push(`duplicate ${describeRecord(records, index)} x${m.copies}${m.sameEventId ? " (same eventID)" : ""}`);
        for (let n = 0; n < m.copies; n++) {
          const copy = clone(record);
          if (!m.sameEventId) copy.eventID = `${String(record.eventID)}-copy-${appended.length}`;
          appended.push(copy);
        }
        break;
    }
  }
  return [...records, ...appended];
}

/** What a case does, one line per mutation plus the scan options (for failure reports). */
export function describeCase(corpora: SeedCorpora, c: HostileCase): string {
  const log: string[] = [];
  buildCaseRecords(corpora, c, log);
  const scan = `${c.base}, ${c.store}${c.store === "sqlite" ? ` split ${c.split.toFixed(2)}` : ""}, config ${c.config}${c.bindUncovered ? ", --bind-uncovered" : ""}`;
  return [`scan: ${scan}`, ...log].join("\n");
}

// ---------------------------------------------------------------------------------------------
// The property

/** A scan result that breaks the contract (as opposed to a scan that threw). */
export class HostileScanViolation extends Error {
  /** Stable name of the broken check, used to group failures. */
  readonly check: string;
  constructor(check: string, detail: string) {
    super(`${check}: ${detail}`);
    this.check = check;
    this.name = "HostileScanViolation";
  }
}

function violation(check: string, ok: boolean, detail: () => string): void {
  if (!ok) throw new HostileScanViolation(check, detail());
}

const RULES = new Set([
  "credential-ip-mismatch",
  "instance-credential-recon",
  "imdsv1-credential",
  "instance-credential-foreign-agent",
]);
const KINDS = new Set(["ec2-instance", "ecs-task", "lambda", "service-role", "assumed-role"]);
const NETWORKS = new Set(["own-network", "aws", "outside-aws", "unknown"]);

const isString = (v: unknown): v is string => typeof v === "string";
const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every(isString);
const optionalString = (v: unknown): boolean => v === undefined || isString(v);
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks one finding against the `firstcall.finding/v1` contract; throws HostileScanViolation. */
export function checkFinding(f: Finding): void {
  const show = () => JSON.stringify(f).slice(0, 600);
  const at = (field: string, ok: boolean) => violation(`finding.${field}`, ok, show);
  at("schema", f.schema === FINDING_SCHEMA);
  at("id", isString(f.id) && /^[0-9a-f]{32}$/.test(f.id));
  at("rule", RULES.has(f.rule));
  at("severity", (SEVERITIES as readonly string[]).includes(f.severity));
  at("time", isString(f.time) && !Number.isNaN(Date.parse(f.time)));
  at("account", isString(f.account));
  at("region", isString(f.region));
  at("principal", isObject(f.principal));
  at("principal.arn", isString(f.principal.arn));
  at("principal.kind", KINDS.has(f.principal.kind));
  at("principal.roleArn", optionalString(f.principal.roleArn));
  at("principal.sessionName", optionalString(f.principal.sessionName));
  at("principal.accessKeyId", optionalString(f.principal.accessKeyId));
  at("principal.instanceId", optionalString(f.principal.instanceId));
  at("sourceIp", isString(f.sourceIp));
  at("expectedIps", isStringArray(f.expectedIps));
  at("network", NETWORKS.has(f.network));
  at("covered", typeof f.covered === "boolean");
  at("event", isObject(f.event));
  at("event.id", isString(f.event.id));
  at("event.name", isString(f.event.name));
  at("event.source", isString(f.event.source));
  at("event.userAgent", optionalString(f.event.userAgent));
  at("event.vpcEndpointId", optionalString(f.event.vpcEndpointId));
  at("event.errorCode", optionalString(f.event.errorCode));
  at("evidence", isObject(f.evidence));
  at("evidence.count", isCount(f.evidence.count) && f.evidence.count >= 1);
  at("evidence.firstSeen", isString(f.evidence.firstSeen) && !Number.isNaN(Date.parse(f.evidence.firstSeen)));
  at("evidence.lastSeen", isString(f.evidence.lastSeen) && !Number.isNaN(Date.parse(f.evidence.lastSeen)));
  at("evidence.eventIds", isStringArray(f.evidence.eventIds) && f.evidence.eventIds.length >= 1);
  at("evidence.eventNames", isStringArray(f.evidence.eventNames));
  at("evidence.accessKeyIds", isStringArray(f.evidence.accessKeyIds));
  at("evidence.userAgents", isStringArray(f.evidence.userAgents));
  at("reason", isString(f.reason) && f.reason.length > 0);
  at("status", f.status === "open" || f.status === "retracted");
  at(
    "retraction",
    f.status === "retracted"
      ? isString(f.retractedAt) && !Number.isNaN(Date.parse(f.retractedAt)) && isString(f.retractionReason)
      : f.retractedAt === undefined && f.retractionReason === undefined,
  );
}

/**
 * Checks a scan result: exit code, findings, summary, JSON round trip. Throws HostileScanViolation.
 *
 * @example
 * checkScanResult(await runScan({ paths: [dir], statePath: ":memory:" }));
 */
export function checkScanResult(result: ScanResult): void {
  const { findings, summary, exitCode } = result;
  violation("exitCode", [0, 1, 3].includes(exitCode), () => String(exitCode));
  violation("summary.exitCode", summary.exitCode === exitCode, () => `${summary.exitCode} vs ${exitCode}`);
  // What stands at the end of the run: the last version of each id (a retraction repeats its id).
  const open = [...new Map(findings.map((f) => [f.id, f])).values()].filter((f) => f.status === "open");
  const high = open.some((f) => severityRank(f.severity) >= severityRank("high"));
  violation("exitCode 1 iff an open high finding", (exitCode === 1) === high, () => `exit ${exitCode}, high ${high}`);
  violation("findings is an array", Array.isArray(findings), () => typeof findings);
  for (const f of findings) checkFinding(f);
  const versions = new Set(findings.map((f) => `${f.id} ${f.status}`));
  violation(
    "finding ids unique per status",
    versions.size === findings.length,
    () => `${versions.size} of ${findings.length}`,
  );
  violation("summary.findings.total", summary.findings.total === open.length, () => `${summary.findings.total}`);
  const r = summary.records;
  violation(
    "summary.records counters",
    [r.total, r.unique, r.duplicates, r.relevant, r.outsideTimeWindow].every(isCount) &&
      r.unique === r.total - r.duplicates &&
      r.relevant <= r.unique,
    () => JSON.stringify(r),
  );
  const ratio = summary.coverage.ratio;
  violation("summary.coverage.ratio", ratio === null || (ratio >= 0 && ratio <= 1), () => String(ratio));
  let text = "";
  try {
    text = JSON.stringify({ findings, summary });
  } catch (e) {
    violation("JSON.stringify", false, () => (e as Error).message);
  }
  const back = JSON.parse(text) as { findings: unknown; summary: unknown };
  // A round trip drops undefined, functions and prototypes and turns NaN into null: any difference is a leak.
  try {
    assert.deepStrictEqual(back.findings, clonePlain(findings));
  } catch (e) {
    violation("findings survive a JSON round trip", false, () => (e as Error).message.slice(0, 600));
  }
  try {
    assert.deepStrictEqual(back.summary, clonePlain(summary));
  } catch (e) {
    violation("summary survives a JSON round trip", false, () => (e as Error).message.slice(0, 600));
  }
}

/** A structural copy that keeps every value as is (functions, NaN, undefined), for comparison. */
function clonePlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clonePlain);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) defineOwn(out, k, clonePlain(x));
    return out;
  }
  return v;
}

/** Writes `{"Records":[…]}` to a file. */
function writeRecordsFile(path: string, records: readonly CloudTrailRecord[]): string {
  writeFileSync(path, JSON.stringify({ Records: records }));
  return path;
}

/** Configuration for a case. */
export function caseConfig(c: Pick<HostileCase, "config">): Config | undefined {
  return c.config === "owner" ? parseConfig(OWNER_CONFIG_YAML) : undefined;
}

/**
 * The property: builds the case's records, writes them under `dir` (which must exist and be empty),
 * scans them and checks every result. Throws whatever `runScan` throws, or a HostileScanViolation.
 *
 * @example
 * await fc.assert(fc.asyncProperty(hostileCaseArbitrary(), (c) => checkHostileCase(corpora, c, freshDir())));
 */
export async function checkHostileCase(corpora: SeedCorpora, c: HostileCase, dir: string): Promise<void> {
  const records = buildCaseRecords(corpora, c);
  const config = caseConfig(c);
  const common = { bindUncovered: c.bindUncovered, ...(config ? { config } : {}) };
  if (c.store === "memory") {
    const file = writeRecordsFile(join(dir, "hostile.json"), records);
    checkScanResult(await runScan({ ...common, paths: [file], statePath: ":memory:" }));
    return;
  }
  const cut = Math.floor(records.length * c.split);
  const first = writeRecordsFile(join(dir, "part-1.json"), records.slice(0, cut));
  const second = writeRecordsFile(join(dir, "part-2.json"), records.slice(cut));
  const statePath = join(dir, "state", "state.sqlite");
  mkdirSync(join(dir, "state"), { recursive: true });
  checkScanResult(await runScan({ ...common, paths: [first], statePath }));
  // The second run reloads what the first stored (sessions, fleet, findings) from SQLite.
  checkScanResult(await runScan({ ...common, paths: [first, second], statePath }));
}

// ---------------------------------------------------------------------------------------------
// Failure signatures (to tell distinct crash sites apart)

/** First stack frame inside the repository's `src/` (as `src/…:line`), or undefined. */
export function crashSite(e: unknown): string | undefined {
  const stack = e instanceof Error ? (e.stack ?? "") : "";
  for (const line of stack.split("\n").slice(1)) {
    if (line.includes("node_modules") || line.includes("node:")) continue;
    const m = /\/(src\/[^\s():]+):(\d+):\d+/.exec(line);
    if (m) return `${m[1]}:${m[2]}`;
  }
  return undefined;
}

/** Groups failures: a contract check by its name, a crash by error type, message and first `src/` frame. */
export function failureSignature(e: unknown): string {
  if (e instanceof HostileScanViolation) return `violation ${e.check}`;
  const err = e instanceof Error ? e : new Error(String(e));
  return `${err.name}: ${err.message.slice(0, 160)} @ ${crashSite(err) ?? "?"}`;
}

// ---------------------------------------------------------------------------------------------
// Fixed hostile files (regressions and the CLI check)

/** A named hostile log file: the scenario with a few fields set to hostile values. */
export interface FixedHostileFile {
  readonly name: string;
  readonly records: CloudTrailRecord[];
  readonly bindUncovered: boolean;
}

/** Sets `path` to `value` in every record that `pick` selects; throws if none is selected (a stale fixture). */
function edit(
  records: CloudTrailRecord[],
  pick: (r: CloudTrailRecord) => boolean,
  path: FieldPath,
  value: unknown,
): CloudTrailRecord[] {
  const picked = records.filter(pick);
  if (picked.length === 0) throw new Error(`fixture: no record to set ${describePath(path)} in`);
  for (const r of picked) setAt(r, path, clone(value));
  return records;
}

const by = (instance: string) => (r: CloudTrailRecord) => getAt(r, ["userIdentity", "arn"]) === sessionArn(instance);
const named = (name: string) => (r: CloudTrailRecord) => r.eventName === name;
const endpointCall = (r: CloudTrailRecord) => typeof r.vpcEndpointId === "string";

interface HostileChange {
  readonly name: string;
  readonly apply: (records: CloudTrailRecord[]) => CloudTrailRecord[];
  readonly bindUncovered?: boolean;
}

/** One change per kind of crash seen or feared, plus long, control and bidi strings everywhere a thief writes. */
function hostileChanges(): HostileChange[] {
  const I = SCENARIO_INSTANCES;
  const long = "A".repeat(LONG_LENGTH);
  return [
    {
      name: "vpcEndpointId constructor, from two instances",
      apply: (rs) =>
        edit(
          rs,
          (r) => endpointCall(r) && (by(I.endpoint)(r) || by(I.sharedEndpoint)(r)),
          ["vpcEndpointId"],
          "constructor",
        ),
    },
    {
      name: "vpcEndpointId __proto__ on an ECS task call (no instance id)",
      apply: (rs) =>
        edit(
          rs,
          (r) => endpointCall(r) && String(getAt(r, ["userIdentity", "arn"])).endsWith("/task-0123"),
          ["vpcEndpointId"],
          "__proto__",
        ),
    },
    {
      name: "vpcEndpointAccountId hasOwnProperty and valueOf",
      apply: (rs) =>
        edit(
          edit(rs, (r) => endpointCall(r) && by(I.endpoint)(r), ["vpcEndpointAccountId"], "hasOwnProperty"),
          (r) => endpointCall(r) && !by(I.endpoint)(r),
          ["vpcEndpointAccountId"],
          "valueOf",
        ),
    },
    {
      name: "AssociateAddress instanceId constructor, StartInstances instanceId toString",
      apply: (rs) =>
        edit(
          edit(rs, named("AssociateAddress"), ["requestParameters", "instanceId"], "constructor"),
          named("StartInstances"),
          ["requestParameters", "instancesSet", "items", 0, "instanceId"],
          "toString",
        ),
    },
    {
      name: "interface ids __proto__ and isPrototypeOf (AttachNetworkInterface, RunInstances, AssociateAddress)",
      apply: (rs) =>
        edit(
          edit(
            edit(rs, named("AttachNetworkInterface"), ["requestParameters", "networkInterfaceId"], "__proto__"),
            named("AssociateAddress"),
            ["requestParameters", "networkInterfaceId"],
            "__proto__",
          ),
          named("RunInstances"),
          ["responseElements", "instancesSet", "items", 0, "networkInterfaceSet", "items", 0, "networkInterfaceId"],
          "isPrototypeOf",
        ),
    },
    {
      name: "CreateVpcEndpoint id toLocaleString, then used",
      apply: (rs) =>
        edit(
          edit(rs, named("CreateVpcEndpoint"), ["responseElements", "vpcEndpoint", "vpcEndpointId"], "toLocaleString"),
          (r) => endpointCall(r) && by(I.endpoint)(r),
          ["vpcEndpointId"],
          "toLocaleString",
        ),
    },
    {
      name: "session named constructor without issuance, with --bind-uncovered",
      apply: (rs) => edit(rs, by(I.uncovered), ["userIdentity", "arn"], sessionArn("constructor")),
      bindUncovered: true,
    },
    {
      name: "eventSource an array and awsRegion a number on instance calls",
      apply: (rs) =>
        edit(edit(rs, by(I.thief), ["eventSource"], ["sts.amazonaws.com"]), by(I.thief), ["awsRegion"], 1e308),
    },
    {
      name: "100k-character, control and bidi strings in every field a thief writes",
      apply: (rs) => {
        for (const r of rs) {
          if (typeof r.userAgent === "string" && r.userIdentity?.type === "AssumedRole") {
            r.userAgent = `${r.userAgent}\u001b[2J\u202e${long}\u0000`;
          }
          const params = r.requestParameters;
          if (params && typeof params === "object") params.clientToken = `\u2066${long}\u2069\r\n`;
        }
        return rs;
      },
    },
  ];
}

/**
 * Hand-written hostile files, one per hostile change. Each is the whole scenario (so the theft in it
 * must still be reported) with that change.
 *
 * @example
 * for (const f of fixedHostileFiles()) checkScanResult(await scanRecords(f.records, { bindUncovered: f.bindUncovered }));
 */
export function fixedHostileFiles(): FixedHostileFile[] {
  return hostileChanges().map((c) => ({
    name: c.name,
    records: c.apply(scenarioRecords()),
    bindUncovered: c.bindUncovered ?? false,
  }));
}

/** A hostile file for the CLI check, as the bytes to write. */
export interface CliHostileFile {
  readonly name: string;
  readonly text: string;
  readonly bindUncovered: boolean;
}

/**
 * A handful of files for the CLI check (each is a separate Node process, so few): every hostile
 * change at once, the same file cut short mid-record (a damaged delivery), and the long-strings file
 * alone.
 *
 * @example
 * for (const f of cliHostileFiles()) writeFileSync(join(dir, "x.json"), f.text);
 */
export function cliHostileFiles(): CliHostileFile[] {
  const changes = hostileChanges();
  const all = changes.reduce((records, c) => c.apply(records), scenarioRecords());
  const allText = JSON.stringify({ Records: all });
  const noisy = changes.at(-1) as HostileChange;
  return [
    { name: "every hostile change at once", text: allText, bindUncovered: true },
    {
      name: "every hostile change at once, cut short",
      text: allText.slice(0, Math.floor(allText.length * 0.6)),
      bindUncovered: true,
    },
    { name: noisy.name, text: JSON.stringify({ Records: noisy.apply(scenarioRecords()) }), bindUncovered: false },
  ];
}
