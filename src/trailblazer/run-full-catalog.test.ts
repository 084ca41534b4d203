/**
 * The full-catalog request test: every operation of the catalog goes through the real `run` path
 * (per-operation AssumeRole with the AWS SDK STS client, request built from the model, SigV4,
 * HTTP) against the local recording server, a test double for AWS on 127.0.0.1. Each recorded
 * request is then checked against the model, independently of the request builder: method, path,
 * target header or form body, required members on the wire, signature, session and run marker.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RecordedRequest, RecordingServer } from "../test-helpers/aws-recording-server.js";
import { loadCatalog } from "./catalog.js";
import type { CatalogOperation, CatalogService, CatalogShape } from "./catalog-types.js";
import { DENY_ALL_POLICY } from "./placeholders.js";
import { homeRegion } from "./request-builder.js";
import { type CallRecord, type RunFile, readRunFile } from "./run-file.js";
import { type RunSummary, runTrailblazer } from "./runner.js";
import { SESSION_NAME_PATTERN } from "./session-name.js";
import { parseAuthorization } from "./signer.js";

const SOURCE = { accessKeyId: "AKIASOURCETESTKEY000", secretAccessKey: "source-secret-for-tests" };
const ROLE_ARN = "arn:aws:iam::123456789012:role/firstcall-trailblazer";

/** True when the member puts something on the wire (an empty structure in a form body does not). */
function emits(shape: CatalogShape): boolean {
  if (shape.type === "structure") return !shape.recursive && Object.values(shape.members ?? {}).some(emits);
  if (shape.type === "list") return shape.member === undefined || emits(shape.member);
  return true;
}

function formParams(body: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of Buffer.from(body).toString("utf8").split("&")) {
    if (part === "") continue;
    const [k = "", v = ""] = part.split("=");
    out.set(decodeURIComponent(k), decodeURIComponent(v));
  }
  return out;
}

/** A small well-formedness check: tags balance and the document has one root. */
function xmlProblem(text: string): string | undefined {
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)([^>]*?)(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    if (text.slice(last, m.index).includes("<")) return "stray <";
    last = tag.lastIndex;
    const [, closing, name = "", , selfClosing] = m;
    if (closing) {
      if (stack.pop() !== name) return `unbalanced </${name}>`;
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0) return `unclosed <${stack[stack.length - 1]}>`;
  return roots === 1 ? undefined : `${roots} root elements`;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function pathPattern(template: string): RegExp {
  const path = template.split("?")[0] ?? "/";
  let source = "";
  let at = 0;
  for (const m of path.matchAll(/\{([^}]+)\}/g)) {
    source += escapeRegex(path.slice(at, m.index));
    source += (m[1] ?? "").endsWith("+") ? ".+" : "[^/]+";
    at = (m.index ?? 0) + m[0].length;
  }
  source += escapeRegex(path.slice(at));
  return new RegExp(`^${source}$`);
}

/** Checks one request against the model; returns what is wrong with it. */
function problemsOf(service: CatalogService, op: CatalogOperation, req: RecordedRequest): string[] {
  const problems: string[] = [];
  const members = Object.entries(op.input?.members ?? {});
  const bodyText = Buffer.from(req.body).toString("utf8");
  switch (service.protocol) {
    case "query":
    case "ec2": {
      if (req.method !== "POST" || req.path !== "/") problems.push(`${req.method} ${req.path}`);
      if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"))
        problems.push("content-type");
      const form = formParams(req.body);
      if (form.get("Action") !== op.name) problems.push(`Action=${form.get("Action")}`);
      if (form.get("Version") !== service.apiVersion) problems.push(`Version=${form.get("Version")}`);
      for (const [name, m] of members) {
        if (!emits(m)) continue;
        const wire =
          service.protocol === "ec2"
            ? (m.queryName ?? (m.name ?? name).charAt(0).toUpperCase() + (m.name ?? name).slice(1))
            : m.type === "list" && m.flattened && m.member?.name
              ? m.member.name
              : (m.name ?? name);
        if (![...form.keys()].some((k) => k === wire || k.startsWith(`${wire}.`))) problems.push(`missing ${wire}`);
      }
      break;
    }
    case "json": {
      if (req.method !== "POST" || req.path !== "/") problems.push(`${req.method} ${req.path}`);
      if (req.headers["x-amz-target"] !== `${service.targetPrefix}.${op.name}`)
        problems.push(`target ${req.headers["x-amz-target"]}`);
      if (req.headers["content-type"] !== `application/x-amz-json-${service.jsonVersion ?? "1.0"}`)
        problems.push("content-type");
      try {
        const body = JSON.parse(bodyText) as Record<string, unknown>;
        for (const [name, m] of members) if (!((m.name ?? name) in body)) problems.push(`missing ${m.name ?? name}`);
      } catch {
        problems.push("body is not JSON");
      }
      break;
    }
    case "rest-json":
    case "rest-xml": {
      if (req.method !== op.method) problems.push(`method ${req.method}`);
      if (!pathPattern(op.path).test(req.path)) problems.push(`path ${req.path} vs ${op.path}`);
      const literalQuery = op.path.split("?")[1];
      for (const part of literalQuery ? literalQuery.split("&") : []) {
        const key = decodeURIComponent(part.split("=")[0] ?? "");
        if (key && !(key in req.query)) problems.push(`query ${key}`);
      }
      for (const [name, m] of members) {
        const wire = m.name ?? name;
        if (m.location === "querystring" && m.type !== "map" && !(wire in req.query))
          problems.push(`query member ${wire}`);
        if (m.location === "header" && req.headers[wire.toLowerCase()] === undefined) problems.push(`header ${wire}`);
        if (m.location === "headers" && !Object.keys(req.headers).some((h) => h.startsWith(wire.toLowerCase())))
          problems.push(`headers ${wire}`);
      }
      const bodyMembers = members.filter(([, m]) => m.location === undefined);
      const payload = op.input?.payload;
      const payloadShape = payload ? op.input?.members?.[payload] : undefined;
      const raw = payloadShape !== undefined && (payloadShape.type === "blob" || payloadShape.type === "string");
      if (bodyText !== "" && !raw) {
        if (service.protocol === "rest-json") {
          try {
            const body = JSON.parse(bodyText) as Record<string, unknown>;
            if (payload === undefined)
              for (const [name, m] of bodyMembers)
                if (!((m.name ?? name) in body)) problems.push(`body ${m.name ?? name}`);
          } catch {
            problems.push("body is not JSON");
          }
        } else {
          const bad = xmlProblem(bodyText);
          if (bad) problems.push(`XML: ${bad}`);
          for (const [name, m] of bodyMembers)
            if (emits(m) && !bodyText.includes(`<${m.name ?? name}`)) problems.push(`XML ${m.name ?? name}`);
        }
      }
      if (
        bodyMembers.length > 0 &&
        bodyText === "" &&
        (payload === undefined || bodyMembers.some(([n]) => n === payload))
      ) {
        problems.push("required body members but no body");
      }
      if (op.checksumRequired && bodyText !== "" && req.headers["content-md5"] === undefined)
        problems.push("content-md5");
      break;
    }
  }
  return problems;
}

describe("trailblazer run over the whole catalog against a local recording server", () => {
  const catalog = loadCatalog();
  const dir = mkdtempSync(join(tmpdir(), "trailblazer-run-"));
  const runFile = join(dir, "run.jsonl");
  let server: RecordingServer;
  let summary: RunSummary;
  let run: RunFile;

  before(async () => {
    server = await RecordingServer.start({ sourceCredentials: SOURCE });
    summary = await runTrailblazer({
      catalog,
      roleArn: ROLE_ARN,
      region: "eu-west-1",
      endpointUrl: server.url,
      rate: 0,
      concurrency: 8,
      runFile,
      sourceCredentials: SOURCE,
      toolVersion: "9.9.9",
    });
    run = readRunFile(runFile);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("calls every operation of the catalog exactly once, each answered", () => {
    assert.equal(summary.total, catalog.counts.operations);
    assert.equal(run.calls.length, catalog.counts.operations);
    assert.deepEqual(summary.byOutcome, { answered: catalog.counts.operations });
    assert.equal(server.requests.length, catalog.counts.operations);
    const keys = new Set(run.calls.map((c) => `${c.service}.${c.operation}`));
    assert.equal(keys.size, catalog.counts.operations);
  });

  it("assumes the role once per operation, under a unique, valid session name, with a deny-all session policy", () => {
    assert.equal(server.assumeRoleCalls.length, catalog.counts.operations);
    const names = new Set(server.assumeRoleCalls.map((c) => c.sessionName));
    assert.equal(names.size, catalog.counts.operations);
    for (const call of server.assumeRoleCalls) {
      assert.match(call.sessionName, SESSION_NAME_PATTERN);
      assert.equal(call.roleArn, ROLE_ARN);
      assert.equal(call.policy, DENY_ALL_POLICY);
      assert.match(call.userAgent ?? "", new RegExp(`firstcall-trailblazer/9\\.9\\.9 run/${run.header.runId}`));
    }
  });

  it("sends each request signed with valid SigV4 for its session, service and home region, carrying the run marker", () => {
    const bySession = new Map<string, RecordedRequest>();
    for (const r of server.requests) if (r.sessionName) bySession.set(r.sessionName, r);
    const bad: string[] = [];
    for (const call of run.calls) {
      const service = catalog.services[call.service] as CatalogService;
      const req = bySession.get(call.sessionName);
      if (!req) {
        bad.push(`${call.service}.${call.operation}: not received under its session`);
        continue;
      }
      if (req.signatureProblem) bad.push(`${call.service}.${call.operation}: ${req.signatureProblem}`);
      const auth = parseAuthorization(req.headers.authorization);
      if (auth?.service !== service.signingName)
        bad.push(`${call.service}.${call.operation}: signed for ${auth?.service}`);
      if (auth?.region !== homeRegion(service, "eu-west-1"))
        bad.push(`${call.service}.${call.operation}: region ${auth?.region}`);
      if (auth?.accessKeyId !== call.accessKeyId) bad.push(`${call.service}.${call.operation}: key not recorded`);
      const marker = `firstcall-trailblazer/9.9.9 run/${run.header.runId} call/${call.seq.toString(36)}`;
      if (req.headers["user-agent"] !== marker)
        bad.push(`${call.service}.${call.operation}: user agent ${req.headers["user-agent"]}`);
    }
    assert.deepEqual(bad.slice(0, 20), []);
  });

  it("builds every request as its protocol requires (method, path, target, form body, required members)", () => {
    const bySession = new Map<string, RecordedRequest>();
    for (const r of server.requests) if (r.sessionName) bySession.set(r.sessionName, r);
    const bad: string[] = [];
    const checkedByProtocol: Record<string, number> = {};
    for (const call of run.calls) {
      const service = catalog.services[call.service] as CatalogService;
      const op = service.operations[call.operation] as CatalogOperation;
      const req = bySession.get(call.sessionName);
      if (!req) continue;
      const problems = problemsOf(service, op, req);
      if (problems.length > 0) bad.push(`${call.service}.${call.operation}: ${problems.join("; ")}`);
      checkedByProtocol[service.protocol] = (checkedByProtocol[service.protocol] ?? 0) + 1;
    }
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} malformed requests`);
    assert.deepEqual(checkedByProtocol, catalog.counts.byProtocol);
  });

  it("records in the run file what was sent and the answer, without the session token or signature", () => {
    const answered = run.calls.filter((c: CallRecord) => c.attempts[0]?.status !== undefined);
    assert.equal(answered.length, run.calls.length);
    for (const call of run.calls) {
      assert.equal(call.attempts.length, 1);
      assert.ok(call.attempts[0]?.errorCode, `${call.service}.${call.operation} has no error code`);
      assert.ok(call.request?.url.startsWith(server.url));
      assert.equal(call.request?.headers["x-amz-security-token"], "[redacted]");
      assert.match(call.request?.headers.authorization ?? "", /Signature=\[redacted\]$/);
    }
    const codes = new Set(run.calls.map((c) => c.attempts[0]?.errorCode));
    assert.ok(codes.has("AccessDenied") && codes.has("AccessDeniedException"), [...codes].join(","));
  });
});
