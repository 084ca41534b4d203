/**
 * `trailblazer replay`: attack simulation. `record` turns one principal's CloudTrail activity into
 * a chain of calls with their timing; `run` plays the chain back with given credentials, so that a
 * detection can be tested against the same sequence.
 *
 * Differences from the original: records are ordered across all files (not per file), steps name
 * the model operation (so a recorded chain replays without renaming), renamed events such as
 * `ListFunctions20150331` are resolved, and calls that could change something are refused unless
 * explicitly allowed.
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { UsageError } from "../errors.js";
import type { Catalog, CatalogOperation, CatalogService } from "./catalog-types.js";
import { errorCode, sendRequest } from "./http.js";
import { placeholderInput } from "./placeholders.js";
import { buildRequest, homeRegion, requestUrl, resolveEndpoint } from "./request-builder.js";
import { type SigningCredentials, signRequest } from "./signer.js";

export const CHAIN_SCHEMA = "firstcall.trailblazer.chain";
export const CHAIN_VERSION = 1;

export interface ChainStep {
  readonly eventSource: string;
  readonly eventName: string;
  readonly awsRegion?: string;
  readonly eventTime: string;
  /** Seconds to wait after the previous step before this one. */
  readonly delaySeconds: number;
  /** The catalog service and operation, when the event could be resolved to one. */
  readonly service?: string;
  readonly operation?: string;
  readonly looksReadOnly?: boolean;
}

export interface Chain {
  readonly schema: typeof CHAIN_SCHEMA;
  readonly version: typeof CHAIN_VERSION;
  readonly principal: string;
  readonly steps: readonly ChainStep[];
}

/** Finds the catalog services that log under an eventSource (`monitoring.amazonaws.com` → cloudwatch). */
export function servicesForEventSource(catalog: Catalog, eventSource: string): CatalogService[] {
  const prefix = eventSource.replace(/\.amazonaws\.com(\.cn)?$/, "");
  return Object.values(catalog.services).filter(
    (s) => s.endpointPrefix === prefix || s.signingName === prefix || s.id === prefix,
  );
}

/**
 * Resolves a logged event to a catalog operation: exact name first, then without the API-version
 * suffix some services log (`ListFunctions20150331`, `GetFunctionConfiguration20150331v2`), then
 * ignoring case.
 */
export function resolveEvent(
  catalog: Catalog,
  eventSource: string,
  eventName: string,
): { service: CatalogService; operation: CatalogOperation } | undefined {
  const services = servicesForEventSource(catalog, eventSource);
  const candidates = [eventName, eventName.replace(/\d{8}(v\d+)?$/, "")];
  for (const name of candidates) {
    for (const service of services) {
      const operation = service.operations[name];
      if (operation) return { service, operation };
    }
  }
  const lower = eventName.toLowerCase();
  for (const service of services) {
    const found = Object.values(service.operations).find((o) => o.name.toLowerCase() === lower);
    if (found) return { service, operation: found };
  }
  return undefined;
}

function principalMatches(record: CloudTrailRecord, principal: string): boolean {
  const arn = record.userIdentity?.arn;
  if (typeof arn !== "string") return false;
  return principal.endsWith("*") ? arn.startsWith(principal.slice(0, -1)) : arn === principal;
}

/**
 * Records the chain of one principal (an ARN, or a prefix ending in `*`) from CloudTrail records,
 * ordered by event time across all of them.
 *
 * @example
 * const chain = await recordChain(catalog, "arn:aws:sts::123456789012:assumed-role/web/i-0abc*", records);
 */
export async function recordChain(
  catalog: Catalog,
  principal: string,
  records: AsyncIterable<CloudTrailRecord> | Iterable<CloudTrailRecord>,
): Promise<Chain> {
  const mine: CloudTrailRecord[] = [];
  for await (const r of records)
    if (principalMatches(r, principal) && r.eventSource && r.eventName && r.eventTime) mine.push(r);
  mine.sort((a, b) => Date.parse(a.eventTime ?? "") - Date.parse(b.eventTime ?? ""));
  let previous: number | undefined;
  const steps = mine.map((r): ChainStep => {
    const time = Date.parse(r.eventTime ?? "");
    const delaySeconds = previous === undefined ? 0 : Math.max(0, (time - previous) / 1000);
    previous = time;
    const eventSource = r.eventSource as string;
    const eventName = r.eventName as string;
    const resolved = resolveEvent(catalog, eventSource, eventName);
    return {
      eventSource,
      eventName,
      ...(r.awsRegion ? { awsRegion: r.awsRegion } : {}),
      eventTime: r.eventTime as string,
      delaySeconds,
      ...(resolved
        ? {
            service: resolved.service.id,
            operation: resolved.operation.name,
            looksReadOnly: resolved.operation.looksReadOnly,
          }
        : {}),
    };
  });
  return { schema: CHAIN_SCHEMA, version: CHAIN_VERSION, principal, steps };
}

/** Checks a chain read from a file. */
export function parseChain(value: unknown, where: string): Chain {
  const c = value as Partial<Chain>;
  if (c?.schema !== CHAIN_SCHEMA || !Array.isArray(c.steps)) {
    throw new UsageError("E_USAGE", `${where} is not a trailblazer chain (write one with: trailblazer replay record)`);
  }
  return c as Chain;
}

export interface ReplayOptions {
  readonly catalog: Catalog;
  readonly chain: Chain;
  readonly credentials: SigningCredentials;
  /** Default region for steps recorded without one. */
  readonly region: string;
  readonly accountId: string;
  readonly endpointUrl?: string;
  /** Time factor: 2 replays twice as fast; Infinity skips the waits. */
  readonly speed?: number;
  /** Also replay operations that do not look read-only. */
  readonly allowWrites?: boolean;
  readonly dryRun?: boolean;
  readonly userAgent: string;
  readonly placeholders?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly onStep?: (result: ReplayResult) => void;
  readonly signal?: AbortSignal;
}

export interface ReplayResult {
  readonly index: number;
  readonly step: ChainStep;
  readonly outcome: "sent" | "dry-run" | "skipped-unresolved" | "skipped-write" | "network-error";
  readonly method?: string;
  readonly url?: string;
  readonly sentAt?: string;
  readonly status?: number;
  readonly errorCode?: string;
  readonly error?: string;
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Replays a chain, keeping its timing (scaled by `speed`). Each step is one request built from the
 * model with placeholder values, signed with the given credentials.
 */
export async function replayChain(options: ReplayOptions): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const speed = options.speed ?? 1;
  if (!(speed > 0)) throw new UsageError("E_USAGE", "--speed must be greater than 0");
  for (const [index, step] of options.chain.steps.entries()) {
    if (options.signal?.aborted) break;
    const emit = (r: ReplayResult): void => {
      results.push(r);
      options.onStep?.(r);
    };
    const service = step.service ? options.catalog.services[step.service] : undefined;
    const operation = service && step.operation ? service.operations[step.operation] : undefined;
    if (!service || !operation) {
      emit({ index, step, outcome: "skipped-unresolved" });
      continue;
    }
    if (!operation.looksReadOnly && !options.allowWrites) {
      emit({ index, step, outcome: "skipped-write" });
      continue;
    }
    if (!options.dryRun && index > 0) await wait((step.delaySeconds * 1000) / speed, options.signal);
    const region = homeRegion(service, step.awsRegion ?? options.region);
    const endpoint = resolveEndpoint(service, step.awsRegion ?? options.region, options.endpointUrl);
    const input = placeholderInput(operation.input, {
      accountId: options.accountId,
      region,
      service: service.signingName,
      ...(options.placeholders ? { overrides: options.placeholders } : {}),
    });
    const request = buildRequest(service, operation, input, { endpoint, userAgent: options.userAgent });
    const url = requestUrl(request);
    if (options.dryRun) {
      emit({ index, step, outcome: "dry-run", method: request.method, url });
      continue;
    }
    const signed = await signRequest(request, options.credentials, {
      region: endpoint.signingRegion,
      service: endpoint.signingName,
    });
    const sentAt = new Date().toISOString();
    try {
      const answer = await sendRequest(signed, options.timeoutMs ?? 30_000);
      const code = errorCode(answer);
      emit({
        index,
        step,
        outcome: "sent",
        method: request.method,
        url,
        sentAt,
        status: answer.status,
        ...(code ? { errorCode: code } : {}),
      });
    } catch (error) {
      emit({
        index,
        step,
        outcome: "network-error",
        method: request.method,
        url,
        sentAt,
        error: (error as Error).message,
      });
    }
  }
  return results;
}
