/**
 * Builds the Trailblazer catalog from AWS SDK service models (the `aws-sdk` v2 `apis/*.min.json`
 * files). Pure: the caller reads the files; scripts/build-trailblazer-catalog.ts does that.
 */
import { FirstcallError } from "../errors.js";
import {
  CATALOG_SCHEMA,
  CATALOG_VERSION,
  type Catalog,
  type CatalogOperation,
  type CatalogService,
  type CatalogShape,
  type MemberLocation,
  PROTOCOLS,
  type Protocol,
  type ShapeType,
} from "./catalog-types.js";

/** One model file: `name` is the file name without `.min.json`, e.g. `ec2-2016-11-15`. */
export interface ModelFile {
  readonly name: string;
  readonly model: unknown;
}

/**
 * Services with a single global endpoint (standard partition), and the region CloudTrail logs
 * them in. The original Trailblazer skipped these entirely because they list no regions.
 */
export const GLOBAL_SERVICES: Readonly<Record<string, { region: string; host: string }>> = {
  iam: { region: "us-east-1", host: "iam.amazonaws.com" },
  sts: { region: "us-east-1", host: "sts.us-east-1.amazonaws.com" },
  organizations: { region: "us-east-1", host: "organizations.us-east-1.amazonaws.com" },
  route53: { region: "us-east-1", host: "route53.amazonaws.com" },
  route53domains: { region: "us-east-1", host: "route53domains.us-east-1.amazonaws.com" },
  cloudfront: { region: "us-east-1", host: "cloudfront.amazonaws.com" },
  waf: { region: "us-east-1", host: "waf.amazonaws.com" },
  budgets: { region: "us-east-1", host: "budgets.amazonaws.com" },
  ce: { region: "us-east-1", host: "ce.us-east-1.amazonaws.com" },
  shield: { region: "us-east-1", host: "shield.us-east-1.amazonaws.com" },
  globalaccelerator: { region: "us-west-2", host: "globalaccelerator.us-west-2.amazonaws.com" },
  health: { region: "us-east-1", host: "health.us-east-1.amazonaws.com" },
  account: { region: "us-east-1", host: "account.us-east-1.amazonaws.com" },
  networkmanager: { region: "us-west-2", host: "networkmanager.us-west-2.amazonaws.com" },
  cur: { region: "us-east-1", host: "cur.us-east-1.amazonaws.com" },
  billingconductor: { region: "us-east-1", host: "billingconductor.us-east-1.amazonaws.com" },
  savingsplans: { region: "us-east-1", host: "savingsplans.amazonaws.com" },
  importexport: { region: "us-east-1", host: "importexport.amazonaws.com" },
  support: { region: "us-east-1", host: "support.us-east-1.amazonaws.com" },
  freetier: { region: "us-east-1", host: "freetier.us-east-1.amazonaws.com" },
  "cost-optimization-hub": { region: "us-east-1", host: "cost-optimization-hub.us-east-1.amazonaws.com" },
  "bcm-data-exports": { region: "us-east-1", host: "bcm-data-exports.us-east-1.amazonaws.com" },
};

const READ_ONLY_PREFIXES = [
  "Describe",
  "Get",
  "List",
  "Head",
  "Lookup",
  "Search",
  "BatchGet",
  "BatchDescribe",
  "Query",
  "Scan",
  "Select",
  "View",
  "Preview",
  "Estimate",
];

/** True when the operation name (or, for REST, a GET/HEAD method) suggests it changes nothing. */
export function looksReadOnly(operation: string, method: string): boolean {
  for (const prefix of READ_ONLY_PREFIXES) {
    if (operation.startsWith(prefix)) {
      const next = operation.charAt(prefix.length);
      // "Getaway" is not "Get"; a verb is followed by an upper-case letter or nothing.
      if (next === "" || (next >= "A" && next <= "Z") || (next >= "0" && next <= "9")) return true;
    }
  }
  return method === "GET" || method === "HEAD";
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

const SHAPE_TYPES = new Set<ShapeType>([
  "string",
  "integer",
  "long",
  "float",
  "double",
  "boolean",
  "timestamp",
  "blob",
  "structure",
  "list",
  "map",
]);
const LOCATIONS = new Set<string>(["uri", "querystring", "header", "headers"]);
const MAX_DEPTH = 12;

class ShapeReducer {
  constructor(
    private readonly shapes: Json,
    private readonly where: string,
  ) {}

  /** Resolves a reference (`{shape: "S4", ...member traits}`) into one merged object. */
  private resolve(ref: Json): Json {
    const target = str(ref.shape);
    if (target === undefined) return ref;
    const base = this.shapes[target];
    if (!isObject(base)) throw new FirstcallError("E_MODEL", `${this.where}: unknown shape ${target}`);
    const { shape: _ignored, ...traits } = ref;
    return { ...this.resolve(base), ...traits, __id: target };
  }

  reduce(ref: unknown, seen: readonly string[] = []): CatalogShape {
    if (!isObject(ref)) return { type: "string" };
    const shape = this.resolve(ref);
    const id = str(shape.__id);
    const rawType = str(shape.type) ?? "string";
    const type: ShapeType = SHAPE_TYPES.has(rawType as ShapeType) ? (rawType as ShapeType) : "string";
    const out: { -readonly [K in keyof CatalogShape]: CatalogShape[K] } = { type };
    const name = str(shape.locationName);
    if (name !== undefined) out.name = name;
    const queryName = str(shape.queryName);
    if (queryName !== undefined) out.queryName = queryName;
    const location = str(shape.location);
    if (location !== undefined && LOCATIONS.has(location)) out.location = location as MemberLocation;
    if (shape.flattened === true) out.flattened = true;
    if (isObject(shape.xmlNamespace) && typeof shape.xmlNamespace.uri === "string") {
      out.xmlNamespace = shape.xmlNamespace.uri;
    }
    if (shape.xmlAttribute === true) out.xmlAttribute = true;
    const tsf = str(shape.timestampFormat);
    if (tsf === "iso8601" || tsf === "unixTimestamp" || tsf === "rfc822") out.timestampFormat = tsf;
    if (shape.jsonvalue === true) out.jsonValue = true;
    if (shape.document === true) out.document = true;
    if (shape.streaming === true) out.streaming = true;
    if (shape.idempotencyToken === true) out.idempotencyToken = true;
    if (shape.hostLabel === true) out.hostLabel = true;

    if (id !== undefined && seen.includes(id)) return { ...out, recursive: true };
    if (seen.length > MAX_DEPTH) return { ...out, recursive: true };
    const path = id === undefined ? seen : [...seen, id];

    if (type === "structure") {
      const members = isObject(shape.members) ? shape.members : {};
      const required = Array.isArray(shape.required) ? shape.required.filter((r) => typeof r === "string") : [];
      const keep: Record<string, CatalogShape> = {};
      if (shape.union === true) {
        out.union = true;
        const first = Object.keys(members)[0];
        if (first !== undefined) keep[first] = this.reduce(members[first], path);
      } else {
        for (const memberName of required) {
          if (memberName in members) keep[memberName] = this.reduce(members[memberName], path);
        }
      }
      out.members = keep;
      if (required.length > 0) out.required = required;
      const payload = str(shape.payload);
      if (payload !== undefined) out.payload = payload;
    } else if (type === "list") {
      out.member = this.reduce(shape.member, path);
    } else if (type === "map") {
      out.key = this.reduce(shape.key, path);
      out.value = this.reduce(shape.value, path);
    }
    return out;
  }
}

/** Splits `rds-2014-10-31` into `rds` and `2014-10-31`. */
export function splitModelName(name: string): { id: string; version: string } {
  const match = /^(.*)-(\d{4}-\d{2}-\d{2})$/.exec(name);
  if (!match || match[1] === undefined || match[2] === undefined) {
    throw new FirstcallError("E_MODEL", `model file name without a date: ${name}`);
  }
  return { id: match[1], version: match[2] };
}

function buildService(id: string, name: string, model: Json): CatalogService {
  const metadata = isObject(model.metadata) ? model.metadata : {};
  const protocol = str(metadata.protocol);
  if (protocol === undefined || !PROTOCOLS.includes(protocol as Protocol)) {
    throw new FirstcallError("E_MODEL", `${name}: unknown protocol ${String(protocol)}`);
  }
  const shapes = isObject(model.shapes) ? model.shapes : {};
  const operations = isObject(model.operations) ? model.operations : {};
  const reducer = new ShapeReducer(shapes, name);
  const ops: Record<string, CatalogOperation> = {};
  for (const opName of Object.keys(operations).sort()) {
    const op = operations[opName];
    if (!isObject(op)) continue;
    const http = isObject(op.http) ? op.http : {};
    const method = str(http.method) ?? "POST";
    const path = str(http.requestUri) ?? "/";
    const input = isObject(op.input) ? reducer.reduce(op.input) : undefined;
    const entry: { -readonly [K in keyof CatalogOperation]: CatalogOperation[K] } = {
      name: opName,
      method,
      path,
      required: input?.required ?? [],
      looksReadOnly: looksReadOnly(opName, method),
    };
    if (input !== undefined && (Object.keys(input.members ?? {}).length > 0 || input.payload !== undefined)) {
      entry.input = input;
    }
    if (isObject(op.endpoint) && typeof op.endpoint.hostPrefix === "string") entry.hostPrefix = op.endpoint.hostPrefix;
    const checksum = isObject(op.httpChecksum) && op.httpChecksum.requestChecksumRequired === true;
    if (op.httpChecksumRequired === true || checksum) entry.checksumRequired = true;
    const authType = str(op.authtype);
    if (authType !== undefined && authType !== "v4") entry.authType = authType;
    if (op.deprecated === true) entry.deprecated = true;
    ops[opName] = entry;
  }
  const endpointPrefix = str(metadata.endpointPrefix) ?? id;
  const service: { -readonly [K in keyof CatalogService]: CatalogService[K] } = {
    id,
    model: name,
    serviceId: str(metadata.serviceId) ?? id,
    fullName: str(metadata.serviceFullName) ?? id,
    apiVersion: str(metadata.apiVersion) ?? "",
    protocol: protocol as Protocol,
    protocols: Array.isArray(metadata.protocols) ? metadata.protocols.filter((p) => typeof p === "string") : [protocol],
    endpointPrefix,
    signingName: str(metadata.signingName) ?? endpointPrefix,
    signatureVersion: str(metadata.signatureVersion) ?? "v4",
    operations: ops,
  };
  const targetPrefix = str(metadata.targetPrefix);
  if (targetPrefix !== undefined) service.targetPrefix = targetPrefix;
  const jsonVersion = str(metadata.jsonVersion);
  if (jsonVersion !== undefined) service.jsonVersion = jsonVersion;
  const xmlNamespace = str(metadata.xmlNamespace);
  if (xmlNamespace !== undefined) service.xmlNamespace = xmlNamespace;
  const global = GLOBAL_SERVICES[id];
  if (global !== undefined) service.global = global;
  return service;
}

/**
 * Builds the catalog from model files. Where the models ship several API versions of a service
 * (rds, cloudfront, lambda…), only the newest is kept: the older ones are listed in the counts.
 *
 * @example
 * const catalog = buildCatalog([{ name: "sts-2011-06-15", model: JSON.parse(text) }], "2.1693.0");
 * catalog.counts.operations; // 13
 */
export function buildCatalog(files: readonly ModelFile[], sdkVersion: string): Catalog {
  const newest = new Map<string, ModelFile & { version: string }>();
  const superseded: string[] = [];
  for (const file of files) {
    const { id, version } = splitModelName(file.name);
    const current = newest.get(id);
    if (current === undefined || current.version < version) {
      if (current !== undefined) superseded.push(current.name);
      newest.set(id, { ...file, version });
    } else {
      superseded.push(file.name);
    }
  }
  const services: Record<string, CatalogService> = {};
  const byProtocol: Record<string, number> = {};
  const servicesByProtocol: Record<string, number> = {};
  let operations = 0;
  let readOnly = 0;
  let globalServices = 0;
  for (const id of [...newest.keys()].sort()) {
    const file = newest.get(id);
    if (file === undefined || !isObject(file.model)) continue;
    const service = buildService(id, file.name, file.model);
    services[id] = service;
    const count = Object.keys(service.operations).length;
    operations += count;
    readOnly += Object.values(service.operations).filter((o) => o.looksReadOnly).length;
    byProtocol[service.protocol] = (byProtocol[service.protocol] ?? 0) + count;
    servicesByProtocol[service.protocol] = (servicesByProtocol[service.protocol] ?? 0) + 1;
    if (service.global !== undefined) globalServices++;
  }
  return {
    schema: CATALOG_SCHEMA,
    version: CATALOG_VERSION,
    source: { package: "aws-sdk", version: sdkVersion, models: "apis/*.min.json" },
    counts: {
      services: Object.keys(services).length,
      operations,
      byProtocol,
      servicesByProtocol,
      looksReadOnly: readOnly,
      globalServices,
      supersededModels: superseded.sort(),
    },
    services,
  };
}

/**
 * Serialises the catalog with one operation per line, so a regenerated catalog diffs readably
 * in git while staying compact.
 */
export function serializeCatalog(catalog: Catalog): string {
  const { services, ...head } = catalog;
  const lines: string[] = [];
  const headJson = JSON.stringify(head, null, 2);
  lines.push(`${headJson.slice(0, -2)},\n  "services": {`);
  const ids = Object.keys(services);
  ids.forEach((id, i) => {
    const service = services[id];
    if (service === undefined) return;
    const { operations, ...meta } = service;
    lines.push(`    ${JSON.stringify(id)}: ${JSON.stringify(meta).slice(0, -1)}, "operations": {`);
    const names = Object.keys(operations);
    names.forEach((name, j) => {
      lines.push(
        `      ${JSON.stringify(name)}: ${JSON.stringify(operations[name])}${j < names.length - 1 ? "," : ""}`,
      );
    });
    lines.push(`    }}${i < ids.length - 1 ? "," : ""}`);
  });
  lines.push("  }\n}\n");
  return lines.join("\n");
}
