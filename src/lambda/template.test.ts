/**
 * docs/lambda/template.yaml checked without deploying it: parsed with CloudFormation's short-form tags
 * (`!Ref`, `!GetAtt`, `!Sub`, `!If`, …, as the `yaml` package's custom tags), then every reference
 * must name a parameter, resource, condition or pseudo parameter; every IAM action must be
 * `service:Operation` where the operation exists in the AWS SDK models (the trailblazer catalog,
 * `src/trailblazer/catalog/`); the function's handler must be this package's Lambda handler and its
 * environment the variables the handler reads. The IAM policies written out in docs/lambda.md for each
 * mode are checked the same way.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse, type Tags } from "yaml";
import { REPO } from "../test-helpers/cli.js";
import { loadCatalog } from "../trailblazer/catalog.js";

const TEMPLATE = join(REPO, "docs/lambda/template.yaml");
const DOC = join(REPO, "docs/lambda.md");

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** CloudFormation's short forms, read as the long forms they stand for (`!Ref X` → `{"Ref":"X"}`). */
const FUNCTIONS = ["Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub"];
const CONDITIONS = ["And", "Equals", "If", "Not", "Or"];
/** A parsed YAML collection (map or sequence), as a tag's `resolve` receives it. */
type Collection = { toJSON(): unknown };
const cfnTags: Tags = [
  { tag: "!Ref", resolve: (v: string) => ({ Ref: v }) },
  { tag: "!Condition", resolve: (v: string) => ({ Condition: v }) },
  { tag: "!GetAtt", resolve: (v: string) => ({ "Fn::GetAtt": v.split(".") }) },
  { tag: "!GetAtt", collection: "seq", resolve: (v: Collection) => ({ "Fn::GetAtt": v.toJSON() }) },
  ...[...FUNCTIONS, ...CONDITIONS].flatMap((name) => [
    { tag: `!${name}`, resolve: (v: string) => ({ [`Fn::${name}`]: v }) },
    { tag: `!${name}`, collection: "seq" as const, resolve: (v: Collection) => ({ [`Fn::${name}`]: v.toJSON() }) },
    { tag: `!${name}`, collection: "map" as const, resolve: (v: Collection) => ({ [`Fn::${name}`]: v.toJSON() }) },
  ]),
];

const PSEUDO = new Set([
  "AWS::AccountId",
  "AWS::NotificationARNs",
  "AWS::NoValue",
  "AWS::Partition",
  "AWS::Region",
  "AWS::StackId",
  "AWS::StackName",
  "AWS::URLSuffix",
]);

/** Attributes `Fn::GetAtt` may read, per resource type used (CloudFormation's reference pages). */
const ATTRIBUTES: Record<string, readonly string[]> = {
  "AWS::SQS::Queue": ["Arn", "QueueName", "QueueUrl"],
  "AWS::Events::Rule": ["Arn"],
  "AWS::IAM::Role": ["Arn", "RoleId"],
  "AWS::Lambda::Function": ["Arn"],
  "AWS::Logs::LogGroup": ["Arn"],
};

/** IAM action names that are not an API operation's name, and the operation they allow. */
const ACTION_OPERATIONS: Record<string, string> = { "s3:ListBucket": "ListObjectsV2" };

interface Template {
  Parameters: Record<string, { Type: string; Default?: Json; MaxValue?: number }>;
  Conditions: Record<string, Json>;
  Resources: Record<string, { Type: string; Properties: Record<string, Json>; DependsOn?: string | string[] }>;
  Outputs: Record<string, Json>;
}

function loadTemplate(): Template {
  return parse(readFileSync(TEMPLATE, "utf8"), { customTags: cfnTags }) as Template;
}

/** Every node of a JSON value, with its path. */
function* walk(value: Json, path = "$"): Generator<[string, Json]> {
  yield [path, value];
  if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* walk(v, `${path}[${i}]`);
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) yield* walk(v, `${path}.${k}`);
}

/** The policy documents of a template (`PolicyDocument`, `AssumeRolePolicyDocument`). */
function policyStatements(t: Template): { path: string; statement: Record<string, Json> }[] {
  const out: { path: string; statement: Record<string, Json> }[] = [];
  for (const [path, node] of walk(t.Resources as unknown as Json)) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) continue;
    for (const key of ["PolicyDocument", "AssumeRolePolicyDocument"]) {
      const doc = node[key] as { Statement?: Json[] } | undefined;
      for (const [i, s] of (doc?.Statement ?? []).entries()) {
        // A statement under `!If [cond, statement, !Ref AWS::NoValue]`: both branches are checked.
        const branches = (s as { "Fn::If"?: Json[] })["Fn::If"]?.slice(1) ?? [s];
        for (const b of branches) {
          if (b && typeof b === "object" && !Array.isArray(b) && !("Ref" in b))
            out.push({ path: `${path}.${key}.Statement[${i}]`, statement: b });
        }
      }
    }
  }
  return out;
}

const asList = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Operations by IAM service prefix (a service's signing name, else its endpoint prefix). */
function operationsByPrefix(): Map<string, Set<string>> {
  const catalog = loadCatalog();
  const out = new Map<string, Set<string>>();
  for (const s of Object.values(catalog.services)) {
    const service = s as unknown as { signingName?: string; endpointPrefix?: string; operations: object };
    const prefix = service.signingName ?? service.endpointPrefix;
    if (!prefix) continue;
    const set = out.get(prefix) ?? new Set<string>();
    for (const op of Object.keys(service.operations)) set.add(op);
    out.set(prefix, set);
  }
  return out;
}

/** Problems with the actions of IAM statements: malformed, wildcard, or no such operation. */
function actionProblems(statements: readonly { path: string; statement: Record<string, Json> }[]): string[] {
  const ops = operationsByPrefix();
  const problems: string[] = [];
  for (const { path, statement } of statements) {
    if (statement.Effect !== "Allow") problems.push(`${path}: Effect ${String(statement.Effect)}`);
    for (const action of asList(statement.Action)) {
      if (typeof action !== "string" || !/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) {
        problems.push(`${path}: malformed or wildcard action ${JSON.stringify(action)}`);
        continue;
      }
      const [prefix, name] = action.split(":") as [string, string];
      const operation = ACTION_OPERATIONS[action] ?? name;
      if (!ops.get(prefix)?.has(operation)) problems.push(`${path}: ${action}: no operation ${operation} in ${prefix}`);
    }
  }
  return problems;
}

describe("the Lambda template (docs/lambda/template.yaml)", () => {
  const t = loadTemplate();
  const resources = t.Resources;

  test("parses with CloudFormation's tags, and every reference names something that exists", () => {
    assert.equal((t as unknown as { AWSTemplateFormatVersion: string }).AWSTemplateFormatVersion, "2010-09-09");
    const names = new Set([...Object.keys(t.Parameters), ...Object.keys(resources), ...PSEUDO]);
    const problems: string[] = [];
    let references = 0;
    const getAtt = (path: string, resource: string, attribute: string) => {
      references++;
      const r = resources[resource];
      if (!r) problems.push(`${path}: GetAtt of no resource ${resource}`);
      else if (!ATTRIBUTES[r.Type]?.includes(attribute))
        problems.push(`${path}: ${r.Type} has no attribute ${attribute} (or add it to ATTRIBUTES)`);
    };
    for (const [path, node] of walk({ Resources: resources, Outputs: t.Outputs, Conditions: t.Conditions } as Json)) {
      if (node === null || typeof node !== "object" || Array.isArray(node)) continue;
      if (typeof node.Ref === "string") {
        references++;
        if (!names.has(node.Ref)) problems.push(`${path}: Ref to nothing: ${node.Ref}`);
      }
      const att = node["Fn::GetAtt"];
      if (Array.isArray(att)) getAtt(path, String(att[0]), String(att[1]));
      const cond = node["Fn::If"];
      if (Array.isArray(cond) && !(String(cond[0]) in t.Conditions)) problems.push(`${path}: no condition ${cond[0]}`);
      const sub = node["Fn::Sub"];
      if (typeof sub === "string") {
        // `${Name}` or `${Resource.Attribute}`; `${!Literal}` is not a reference. A dynamic reference
        // (`{{resolve:…}}`) is resolved by CloudFormation itself.
        for (const m of sub.matchAll(/\$\{(?!!)([^}]+)\}/g)) {
          const ref = m[1] as string;
          if (ref.includes(".") && !ref.startsWith("AWS::")) {
            const [resource, attribute] = ref.split(".") as [string, string];
            getAtt(path, resource, attribute);
          } else {
            references++;
            if (!names.has(ref)) problems.push(`${path}: Sub of nothing: ${ref}`);
          }
        }
      }
    }
    for (const [name, r] of Object.entries(resources)) {
      for (const d of asList(r.DependsOn)) if (!(String(d) in resources)) problems.push(`${name}: DependsOn ${d}`);
      assert.match(r.Type, /^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/, name);
    }
    assert.deepEqual(problems, []);
    assert.ok(references > 20, `${references} references checked`);
  });

  test("IAM: every action is an operation of its service; no wildcard; only ENI management on *", () => {
    const statements = policyStatements(t);
    assert.ok(statements.length >= 6, `${statements.length} statements`);
    assert.deepEqual(actionProblems(statements), []);
    const star = statements.filter((s) => asList(s.statement.Resource).includes("*"));
    assert.deepEqual(
      star
        .flatMap((s) => asList(s.statement.Action))
        .every((a) => /^ec2:\w+NetworkInterfaces?$|PrivateIpAddresses$/.test(String(a))),
      true,
      "Resource * only where EC2 offers no resource-level permission",
    );
    const actions = statements.flatMap((s) => asList(s.statement.Action).map(String));
    for (const needed of [
      "s3:GetObject",
      "kms:Decrypt",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "logs:PutLogEvents",
    ])
      assert.ok(actions.includes(needed), needed);
    assert.ok(!actions.includes("s3:ListBucket"), "the function reads named objects: it never lists");
  });

  test("the function is this package's handler, fed by the queue with partial batch failures and a DLQ", async () => {
    const fn = resources.Function?.Properties as Record<string, Json>;
    assert.equal(resources.Function?.Type, "AWS::Lambda::Function");
    const [file, exported] = String(fn.Handler).split(/\.(?=[^.]+$)/) as [string, string];
    // dist/lambda/handler.js is built from src/lambda/handler.ts, which exports the handler named.
    assert.equal(file, "dist/lambda/handler");
    assert.ok(existsSync(join(REPO, "src/lambda/handler.ts")));
    const mod = (await import("./handler.js")) as Record<string, unknown>;
    assert.equal(typeof mod[exported], "function");
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      exports: Record<string, { default: string }>;
      files: string[];
    };
    assert.equal(pkg.exports["./lambda"]?.default, `./${file}.js`);
    assert.ok(pkg.files.includes("dist"));
    assert.match(String(fn.Runtime), /^nodejs(20|22)\.x$/);
    // The environment: only variables the handler (or node-postgres, for the password) reads.
    const source = readFileSync(join(REPO, "src/lambda/config.ts"), "utf8");
    const vars = Object.keys((fn.Environment as { Variables: Record<string, Json> }).Variables);
    for (const v of vars) {
      if (v === "PGPASSWORD" || v === "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED") continue;
      assert.ok(source.includes(`env.${v}`) || source.includes(`"${v}"`), `${v} is read by src/lambda/config.ts`);
    }
    assert.ok(vars.includes("FIRSTCALL_STATE"));
    // Delivery: the alert topic, when given, is FIRSTCALL_TO and the one topic the role may publish to.
    const variables = (fn.Environment as { Variables: Record<string, Json> }).Variables;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's !Sub, not a template
    const topicTarget = "sns:${AlertTopicArn}";
    assert.deepEqual(variables.FIRSTCALL_TO, {
      "Fn::If": ["HasAlertTopic", { "Fn::Sub": topicTarget }, { Ref: "AWS::NoValue" }],
    });
    assert.equal(t.Parameters.AlertTopicArn?.Default, "", "optional");
    const publish = policyStatements(t).filter((s) => asList(s.statement.Action).includes("sns:Publish"));
    assert.deepEqual(
      publish.map((s) => s.statement.Resource),
      [{ Ref: "AlertTopicArn" }],
    );

    const mapping = resources.EventSourceMapping?.Properties as Record<string, Json>;
    assert.deepEqual(mapping.FunctionResponseTypes, ["ReportBatchItemFailures"]);
    assert.deepEqual(mapping.EventSourceArn, { "Fn::GetAtt": ["Queue", "Arn"] });
    const queue = resources.Queue?.Properties as Record<string, Json>;
    const redrive = queue.RedrivePolicy as Record<string, Json>;
    assert.deepEqual(redrive.deadLetterTargetArn, { "Fn::GetAtt": ["DeadLetterQueue", "Arn"] });
    assert.ok(Number(redrive.maxReceiveCount) >= 3);
    // AWS: a queue feeding a function needs a visibility timeout of at least six times its timeout.
    const maxTimeout = Number(t.Parameters.TimeoutSeconds?.MaxValue);
    assert.ok(Number(queue.VisibilityTimeout) >= 6 * maxTimeout, `${queue.VisibilityTimeout} ≥ 6 × ${maxTimeout}`);
  });

  test("docs/lambda.md: the policy of each mode names real operations, and SSE-KMS trails get kms:Decrypt", () => {
    const text = readFileSync(DOC, "utf8");
    const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] as string) as Json);
    const policies = blocks.filter(
      (b): b is { Statement: Record<string, Json>[] } => b !== null && typeof b === "object" && "Statement" in b,
    );
    assert.ok(policies.length >= 3, "scan, watch and Lambda policies");
    const statements = policies.flatMap((p, i) =>
      p.Statement.map((s, j) => ({ path: `policy ${i}[${j}]`, statement: s })),
    );
    // The statements a destination adds to the function's role (an array, not a whole policy).
    const extra = blocks
      .filter((b): b is Record<string, Json>[] => Array.isArray(b))
      .flatMap((b, i) => b.map((s, j) => ({ path: `destination statements ${i}[${j}]`, statement: s })));
    assert.ok(extra.length >= 3, "SNS, EventBridge and Security Hub");
    assert.deepEqual(actionProblems([...statements, ...extra]), []);
    for (const p of policies) {
      const actions = p.Statement.flatMap((s) => asList(s.Action).map(String));
      assert.ok(actions.includes("kms:Decrypt"), "every mode reads SSE-KMS trails");
      assert.ok(actions.includes("s3:GetObject"));
    }
  });
});
