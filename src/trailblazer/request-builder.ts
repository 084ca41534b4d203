/**
 * Builds one unsigned HTTP request for an operation from its catalog entry and placeholder
 * input, for each protocol the models use (query, ec2, json, rest-json, rest-xml), and works out
 * where it goes (endpoint, signing region and name).
 */
import { createHash } from "node:crypto";
import { FirstcallError } from "../errors.js";
import type { CatalogOperation, CatalogService, CatalogShape } from "./catalog-types.js";
import type { PlaceholderValue } from "./placeholders.js";
import { escapeRfc3986, formBody, jsonValue, queryParams, scalarText, xmlElement } from "./serializers.js";

/** A request ready to be signed: the same structure @smithy/signature-v4 signs. */
export interface UnsignedRequest {
  readonly method: string;
  readonly protocol: "http:" | "https:";
  readonly hostname: string;
  readonly port?: number;
  /** Already percent-encoded path, as it goes on the wire. */
  readonly path: string;
  /** Decoded query parameters; repeated keys as arrays. */
  readonly query: Record<string, string | string[]>;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
}

/** Where requests for a service go and how they are signed. */
export interface ResolvedEndpoint {
  readonly protocol: "http:" | "https:";
  readonly hostname: string;
  readonly port?: number;
  /** The region the request is signed for (the home region for global services). */
  readonly signingRegion: string;
  readonly signingName: string;
  /** True when an explicit endpoint URL replaces AWS: host prefixes are then not applied. */
  readonly overridden: boolean;
}

/** The region an operation of this service is sent to: its home region when it is global. */
export function homeRegion(service: CatalogService, region: string): string {
  return service.global?.region ?? region;
}

/**
 * The endpoint for a service in a region, or the given endpoint URL (tests, LocalStack, VPC
 * endpoints). Global services go to their one endpoint and are signed for their home region.
 *
 * @example
 * resolveEndpoint(catalog.services.iam, "eu-west-1").hostname; // "iam.amazonaws.com"
 */
export function resolveEndpoint(service: CatalogService, region: string, endpointUrl?: string): ResolvedEndpoint {
  const signingRegion = homeRegion(service, region);
  if (endpointUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(endpointUrl);
    } catch (error) {
      throw new FirstcallError("E_ENDPOINT", `not a URL: ${endpointUrl}`, { cause: error });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new FirstcallError("E_ENDPOINT", `endpoint must be http or https: ${endpointUrl}`);
    }
    const base: ResolvedEndpoint = {
      protocol: url.protocol,
      hostname: url.hostname,
      signingRegion,
      signingName: service.signingName,
      overridden: true,
    };
    return url.port ? { ...base, port: Number(url.port) } : base;
  }
  const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  const hostname = service.global?.host ?? `${service.endpointPrefix}.${region}.${suffix}`;
  return { protocol: "https:", hostname, signingRegion, signingName: service.signingName, overridden: false };
}

function isRecord(value: PlaceholderValue | undefined): value is { [member: string]: PlaceholderValue } {
  return (
    value !== undefined &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  );
}

function addQuery(query: Record<string, string | string[]>, key: string, value: string): void {
  const existing = query[key];
  if (existing === undefined) query[key] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else query[key] = [existing, value];
}

/** Fills `{Label}` / `{Label+}` in a request URI; greedy labels keep their slashes. */
function expandPath(
  template: string,
  input: { [member: string]: PlaceholderValue },
  members: Readonly<Record<string, CatalogShape>>,
): string {
  return template.replace(/\{([^}]+)\}/g, (_match, raw: string) => {
    const greedy = raw.endsWith("+");
    const label = greedy ? raw.slice(0, -1) : raw;
    const entry = Object.entries(members).find(([name, m]) => m.location === "uri" && (m.name ?? name) === label);
    const value = entry ? input[entry[0]] : undefined;
    // A label the model does not mark required still has to be filled for the path to parse.
    const text =
      value === undefined || entry === undefined ? "firstcall-trailblazer" : scalarText(value, entry[1], "iso8601");
    return greedy ? text.split("/").map(escapeRfc3986).join("/") : escapeRfc3986(text);
  });
}

/** Expands a host prefix such as `{AccountId}.` from host-label members. */
export function expandHostPrefix(prefix: string, input: { [member: string]: PlaceholderValue }): string {
  return prefix.replace(/\{([^}]+)\}/g, (_m, label: string) => {
    const value = input[label];
    return typeof value === "string" ? value : "firstcall-trailblazer";
  });
}

export interface BuildOptions {
  readonly endpoint: ResolvedEndpoint;
  readonly userAgent: string;
}

/**
 * Builds the unsigned request for one operation.
 *
 * @example
 * const input = placeholderInput(op.input, ctx);
 * const request = buildRequest(service, op, input, { endpoint: resolveEndpoint(service, "us-east-1"), userAgent: "x" });
 */
export function buildRequest(
  service: CatalogService,
  operation: CatalogOperation,
  input: { [member: string]: PlaceholderValue },
  options: BuildOptions,
): UnsignedRequest {
  const { endpoint } = options;
  const hostname =
    operation.hostPrefix !== undefined && !endpoint.overridden
      ? `${expandHostPrefix(operation.hostPrefix, input)}${endpoint.hostname}`
      : endpoint.hostname;
  const headers: Record<string, string> = { "user-agent": options.userAgent };
  const query: Record<string, string | string[]> = {};
  const shape: CatalogShape = operation.input ?? { type: "structure", members: {} };
  let method = operation.method;
  let path = "/";
  let body: string | Uint8Array | undefined;

  switch (service.protocol) {
    case "query":
    case "ec2": {
      method = "POST";
      const params: Array<[string, string]> = [
        ["Action", operation.name],
        ["Version", service.apiVersion],
        ...queryParams(input, shape, service.protocol),
      ];
      headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
      body = formBody(params);
      break;
    }
    case "json": {
      method = "POST";
      headers["content-type"] = `application/x-amz-json-${service.jsonVersion ?? "1.0"}`;
      if (service.targetPrefix !== undefined) headers["x-amz-target"] = `${service.targetPrefix}.${operation.name}`;
      body = JSON.stringify(jsonValue(input, shape));
      break;
    }
    case "rest-json":
    case "rest-xml": {
      const members = shape.members ?? {};
      const [rawPath, rawQuery] = splitOnce(operation.path, "?");
      path = expandPath(rawPath, input, members);
      if (rawQuery) {
        for (const part of rawQuery.split("&")) {
          if (part === "") continue;
          const [k, v] = splitOnce(part, "=");
          addQuery(query, decodeURIComponent(k), v === undefined ? "" : decodeURIComponent(v));
        }
      }
      const bodyMembers: Record<string, CatalogShape> = {};
      for (const [name, member] of Object.entries(members)) {
        const value = input[name];
        if (value === undefined) continue;
        const wireName = member.name ?? name;
        if (member.location === "uri") continue;
        if (member.location === "querystring") {
          if (Array.isArray(value))
            for (const v of value)
              addQuery(query, wireName, scalarText(v, member.member ?? { type: "string" }, "iso8601"));
          else if (isRecord(value) && member.type === "map")
            for (const [k, v] of Object.entries(value))
              addQuery(query, k, scalarText(v, member.value ?? { type: "string" }, "iso8601"));
          else addQuery(query, wireName, scalarText(value, member, "iso8601"));
        } else if (member.location === "header") {
          headers[wireName.toLowerCase()] = member.jsonValue
            ? Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64")
            : Array.isArray(value)
              ? value.map((v) => scalarText(v, member.member ?? { type: "string" }, "rfc822")).join(",")
              : scalarText(value, member, "rfc822");
        } else if (member.location === "headers") {
          if (isRecord(value))
            for (const [k, v] of Object.entries(value))
              headers[`${wireName}${k}`.toLowerCase()] = scalarText(v, member.value ?? { type: "string" }, "rfc822");
        } else {
          bodyMembers[name] = member;
        }
      }
      body = restBody(service, shape, input, bodyMembers, method, headers);
      break;
    }
  }
  // A member bound to x-amz-content-sha256 (CodeArtifact assets) must be the body's real hash, or
  // the signature (which trusts that header) would not match the body.
  if (headers["x-amz-content-sha256"] !== undefined) {
    headers["x-amz-content-sha256"] = createHash("sha256")
      .update(body ?? "")
      .digest("hex");
  }
  if (operation.checksumRequired && body !== undefined) {
    headers["content-md5"] = createHash("md5").update(body).digest("base64");
  }
  const base = { method, protocol: endpoint.protocol, hostname, path, query, headers };
  const withPort = endpoint.port === undefined ? base : { ...base, port: endpoint.port };
  return body === undefined ? withPort : { ...withPort, body };
}

function restBody(
  service: CatalogService,
  shape: CatalogShape,
  input: { [member: string]: PlaceholderValue },
  bodyMembers: Record<string, CatalogShape>,
  method: string,
  headers: Record<string, string>,
): string | Uint8Array | undefined {
  const payloadName = shape.payload;
  if (payloadName !== undefined) {
    const payloadShape = shape.members?.[payloadName];
    const value = input[payloadName];
    if (payloadShape === undefined || value === undefined) return undefined;
    if (payloadShape.type === "blob" || payloadShape.type === "string") {
      if (!headers["content-type"]) headers["content-type"] = "application/octet-stream";
      return value instanceof Uint8Array ? value : scalarText(value, payloadShape, "iso8601");
    }
    if (service.protocol === "rest-json") {
      headers["content-type"] = "application/json";
      return JSON.stringify(jsonValue(value, payloadShape));
    }
    headers["content-type"] = "application/xml";
    return xmlElement(payloadShape.name ?? payloadName, value, payloadShape);
  }
  const hasBodyMembers = Object.keys(bodyMembers).length > 0;
  if (service.protocol === "rest-json") {
    if (!hasBodyMembers && (method === "GET" || method === "HEAD" || method === "DELETE")) return undefined;
    headers["content-type"] = "application/json";
    return JSON.stringify(jsonValue(input, { ...shape, members: bodyMembers }));
  }
  if (!hasBodyMembers) return undefined;
  headers["content-type"] = "application/xml";
  const rootName = shape.name ?? "Request";
  return xmlElement(rootName, input, { ...shape, members: bodyMembers }, shape.xmlNamespace ?? service.xmlNamespace);
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** The request as a URL string (for the run file and `--dry-run`). */
export function requestUrl(request: UnsignedRequest): string {
  const port = request.port === undefined ? "" : `:${request.port}`;
  const query = queryString(request.query);
  return `${request.protocol}//${request.hostname}${port}${request.path}${query ? `?${query}` : ""}`;
}

/** Encodes decoded query parameters, sorted, as they go on the wire. */
export function queryString(query: Record<string, string | string[]>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const values = Array.isArray(value) ? value : [value ?? ""];
    for (const v of values) parts.push(v === "" ? escapeRfc3986(key) : `${escapeRfc3986(key)}=${escapeRfc3986(v)}`);
  }
  return parts.join("&");
}
