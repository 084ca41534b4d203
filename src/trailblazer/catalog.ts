/**
 * Loads the committed Trailblazer catalog (src/trailblazer/catalog/catalog.v1.json) at run time,
 * from the source tree (tsx) or from a compiled dist/ next to it, and selects services from it.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FirstcallError, UsageError } from "../errors.js";
import {
  CATALOG_SCHEMA,
  CATALOG_VERSION,
  type Catalog,
  type CatalogOperation,
  type CatalogService,
} from "./catalog-types.js";

export const CATALOG_FILE = "catalog.v1.json";

/**
 * Where the catalog may be: beside this module (src/trailblazer/catalog/ under tsx, or
 * dist/trailblazer/catalog/ if the build copies it), else the source tree next to dist/
 * (tsc does not copy JSON it does not import). FIRSTCALL_TRAILBLAZER_CATALOG overrides both.
 */
export function catalogCandidates(): string[] {
  const fromEnv = process.env.FIRSTCALL_TRAILBLAZER_CATALOG;
  const candidates = [
    fileURLToPath(new URL(`./catalog/${CATALOG_FILE}`, import.meta.url)),
    fileURLToPath(new URL(`../../src/trailblazer/catalog/${CATALOG_FILE}`, import.meta.url)),
  ];
  return fromEnv ? [fromEnv, ...candidates] : candidates;
}

let cached: Catalog | undefined;

/**
 * Reads and checks the catalog (cached after the first call).
 *
 * @example
 * const catalog = loadCatalog();
 * console.log(catalog.counts.operations);
 */
export function loadCatalog(path?: string): Catalog {
  if (path === undefined && cached !== undefined) return cached;
  const candidates = path === undefined ? catalogCandidates() : [path];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new FirstcallError("E_CATALOG", `trailblazer catalog not found (looked in ${candidates.join(", ")})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(found, "utf8"));
  } catch (error) {
    throw new FirstcallError("E_CATALOG", `${found}: not a readable catalog`, { cause: error });
  }
  const catalog = parsed as Partial<Catalog>;
  if (
    catalog.schema !== CATALOG_SCHEMA ||
    catalog.version !== CATALOG_VERSION ||
    typeof catalog.services !== "object"
  ) {
    throw new FirstcallError(
      "E_CATALOG",
      `${found}: expected ${CATALOG_SCHEMA} version ${CATALOG_VERSION}, found ${String(catalog.schema)} ${String(catalog.version)}`,
    );
  }
  if (path === undefined) cached = catalog as Catalog;
  return catalog as Catalog;
}

/** One operation with the service it belongs to. */
export interface OperationRef {
  readonly service: CatalogService;
  readonly operation: CatalogOperation;
}

/**
 * Picks services by id (`ec2`), endpoint prefix or signing name (`monitoring`), case-insensitive.
 * Throws a UsageError naming the unknown ones. No filter means every service.
 */
export function selectServices(catalog: Catalog, filter?: readonly string[]): CatalogService[] {
  const all = Object.values(catalog.services);
  if (filter === undefined || filter.length === 0) return all;
  const picked = new Map<string, CatalogService>();
  const unknown: string[] = [];
  for (const raw of filter) {
    const wanted = raw.trim().toLowerCase();
    if (wanted === "") continue;
    const matches = all.filter(
      (s) =>
        s.id.toLowerCase() === wanted ||
        s.endpointPrefix.toLowerCase() === wanted ||
        s.signingName.toLowerCase() === wanted ||
        s.serviceId.toLowerCase() === wanted,
    );
    if (matches.length === 0) unknown.push(raw);
    for (const m of matches) picked.set(m.id, m);
  }
  if (unknown.length > 0) {
    throw new UsageError("E_USAGE", `unknown service(s): ${unknown.join(", ")} (see: firstcall trailblazer catalog)`);
  }
  return [...picked.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Every operation of the given services, in a stable order (service id, then operation name). */
export function listOperations(services: readonly CatalogService[]): OperationRef[] {
  const refs: OperationRef[] = [];
  for (const service of [...services].sort((a, b) => a.id.localeCompare(b.id))) {
    for (const name of Object.keys(service.operations).sort()) {
      const operation = service.operations[name];
      if (operation !== undefined) refs.push({ service, operation });
    }
  }
  return refs;
}

/** Splits a comma-separated `--services` value. */
export function parseServiceList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return list.length > 0 ? list : undefined;
}

/**
 * Text listing for `trailblazer catalog`: one line per service (with a filter, one per
 * operation: HTTP method and path, required members, read-only guess), then the counts.
 */
export function renderCatalogText(
  catalog: Catalog,
  services: readonly CatalogService[],
  showOperations: boolean,
): string {
  const lines: string[] = [];
  for (const s of services) {
    const ops = Object.values(s.operations);
    const global = s.global ? `  global: ${s.global.host} (${s.global.region})` : "";
    lines.push(`${s.id}  ${s.protocol}  ${ops.length} operations  ${s.fullName}${global}`);
    if (!showOperations) continue;
    for (const o of ops) {
      const required = o.required.length > 0 ? `  required: ${o.required.join(", ")}` : "";
      const flags = [
        o.looksReadOnly ? "read-only" : "",
        o.deprecated ? "deprecated" : "",
        o.authType ? `auth=${o.authType}` : "",
      ]
        .filter((f) => f !== "")
        .join(" ");
      lines.push(`  ${o.name}  ${o.method} ${o.path}${required}${flags ? `  [${flags}]` : ""}`);
    }
  }
  const shownOps = services.reduce((n, s) => n + Object.keys(s.operations).length, 0);
  const c = catalog.counts;
  const protocols = Object.entries(c.byProtocol)
    .map(([p, n]) => `${p} ${n}`)
    .join(", ");
  lines.push(
    "",
    `${services.length} of ${c.services} services, ${shownOps} of ${c.operations} operations ` +
      `(catalog v${catalog.version} from ${catalog.source.package} ${catalog.source.version}; by protocol: ${protocols})`,
  );
  return `${lines.join("\n")}\n`;
}
