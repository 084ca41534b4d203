/**
 * `trailblazer run`: for every selected operation, assume the deny-all role under a session name
 * that names the operation, send one request built from the model, signed with those temporary
 * credentials, and append what was sent and answered to the run file.
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { sdkClientConfig } from "../aws/client-config.js";
import { FirstcallError, UsageError } from "../errors.js";
import { listOperations, type OperationRef, selectServices } from "./catalog.js";
import type { Catalog, CatalogOperation, CatalogService } from "./catalog-types.js";
import { errorCode, isThrottled, requestId, sendRequest } from "./http.js";
import { DENY_ALL_POLICY, placeholderInput } from "./placeholders.js";
import { buildRequest, homeRegion, requestUrl, resolveEndpoint, type UnsignedRequest } from "./request-builder.js";
import {
  bodyForRecord,
  type CallAttempt,
  type CallRecord,
  RUN_SCHEMA,
  RUN_VERSION,
  RunFileWriter,
  type RunHeader,
  readRunFile,
  redactHeaders,
} from "./run-file.js";
import { newRunId, runUserAgent, runUserAgentPairs, sessionName } from "./session-name.js";
import { type SigningCredentials, signRequest } from "./signer.js";

export interface RunProgress {
  readonly done: number;
  readonly total: number;
  readonly service: string;
  readonly operation: string;
  readonly outcome: CallRecord["outcome"];
}

export interface RunOptions {
  readonly catalog: Catalog;
  /** The deny-all role: `arn:aws:iam::<account>:role/<name>`. */
  readonly roleArn: string;
  readonly region: string;
  readonly services?: readonly string[];
  /** Send every request (and the AssumeRole calls) here instead of AWS. */
  readonly endpointUrl?: string;
  /** Where AssumeRole goes; defaults to `endpointUrl`, else the regional STS endpoint. */
  readonly stsEndpointUrl?: string;
  /** Operations started per second; 0 means no limit. */
  readonly rate: number;
  /** Calls in flight at once. */
  readonly concurrency?: number;
  /** The run file to create, or (with `resume`) to continue; default `trailblazer-run-<run id>.jsonl`. */
  readonly runFile?: string;
  readonly resume?: boolean;
  /** Build every request and report it, but assume nothing and send nothing. */
  readonly dryRun?: boolean;
  /** `--placeholder Member=value` overrides. */
  readonly placeholders?: Readonly<Record<string, string>>;
  /** The AWS profile whose credentials call AssumeRole (default: AWS_PROFILE, else the SDK's default chain). */
  readonly profile?: string;
  /** Credentials for AssumeRole; default: the SDK's default chain (environment, profile, …). */
  readonly sourceCredentials?: SigningCredentials;
  readonly toolVersion: string;
  /** Retries of a throttled call (each try is recorded). */
  readonly maxRetries?: number;
  /** Base pause before a retry, doubled each time. */
  readonly retryBaseMs?: number;
  readonly timeoutMs?: number;
  readonly onProgress?: (progress: RunProgress) => void;
  /** Dry run: receives each request that would be sent. */
  readonly onDryRun?: (line: DryRunLine) => void;
  /** Stop early (Ctrl-C): calls in flight finish, nothing new starts. */
  readonly signal?: AbortSignal;
}

export interface DryRunLine {
  readonly seq: number;
  readonly service: string;
  readonly operation: string;
  readonly region: string;
  readonly sessionName: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface RunSummary {
  readonly runId: string;
  readonly runFile: string;
  readonly total: number;
  readonly skipped: number;
  readonly sent: number;
  readonly byOutcome: Readonly<Record<string, number>>;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly stopped: boolean;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/[\w+=,.@/-]+$/;

/** Checks the role ARN and returns its account id. */
export function accountOfRole(roleArn: string): string {
  const match = ROLE_ARN.exec(roleArn);
  if (!match || match[2] === undefined) {
    throw new UsageError(
      "E_USAGE",
      `--role-arn must be an IAM role ARN (arn:aws:iam::123456789012:role/name), got ${roleArn}`,
    );
  }
  return match[2];
}

/** Spaces out operation starts to at most `rate` per second. */
class RateLimiter {
  private next = 0;
  constructor(private readonly rate: number) {}
  async take(signal?: AbortSignal): Promise<void> {
    if (this.rate <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    if (at > now) await sleep(at - now, signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

interface PlannedCall {
  readonly seq: number;
  readonly ref: OperationRef;
}

/** Assigns sequence numbers in catalog order, so a resumed run gives each operation the same one. */
function planCalls(refs: readonly OperationRef[]): PlannedCall[] {
  return refs.map((ref, i) => ({ seq: i + 1, ref }));
}

function unsignedFor(
  service: CatalogService,
  operation: CatalogOperation,
  options: RunOptions,
  accountId: string,
  userAgent: string,
): { request: UnsignedRequest; region: string; signingRegion: string; signingName: string } {
  const region = homeRegion(service, options.region);
  const endpoint = resolveEndpoint(service, options.region, options.endpointUrl);
  const input = placeholderInput(operation.input, {
    accountId,
    region,
    service: service.signingName,
    ...(options.placeholders ? { overrides: options.placeholders } : {}),
  });
  const request = buildRequest(service, operation, input, { endpoint, userAgent });
  return { request, region, signingRegion: endpoint.signingRegion, signingName: endpoint.signingName };
}

/**
 * Runs Trailblazer over the selected operations.
 *
 * @example
 * const summary = await runTrailblazer({
 *   catalog: loadCatalog(), roleArn: "arn:aws:iam::123456789012:role/firstcall-trailblazer",
 *   region: "us-east-1", rate: 5, runFile: "run.jsonl", toolVersion: "0.1.0",
 * });
 */
export async function runTrailblazer(options: RunOptions): Promise<RunSummary> {
  const accountId = accountOfRole(options.roleArn);
  if (!Number.isFinite(options.rate) || options.rate < 0)
    throw new UsageError("E_USAGE", "--rate must be a number ≥ 0");
  const services = selectServices(options.catalog, options.services);
  const planned = planCalls(listOperations(services));
  let header: RunHeader;
  const finished = new Set<number>();
  if (options.resume) {
    if (options.runFile === undefined) throw new UsageError("E_USAGE", "resume needs the run file");
    const previous = readRunFile(options.runFile);
    header = previous.header;
    if (header.roleArn !== options.roleArn || header.region !== options.region) {
      throw new UsageError(
        "E_USAGE",
        `${options.runFile} was started with ${header.roleArn} in ${header.region}; resume it with the same --role-arn and --region`,
      );
    }
    const sameServices = JSON.stringify(header.services ?? null) === JSON.stringify(options.services ?? null);
    if (!sameServices) throw new UsageError("E_USAGE", `${options.runFile} was started with other --services`);
    for (const call of previous.calls) if (call.outcome === "answered") finished.add(call.seq);
  } else {
    const runId = newRunId();
    header = {
      type: "run",
      schema: RUN_SCHEMA,
      version: RUN_VERSION,
      runId,
      startedAt: new Date().toISOString(),
      roleArn: options.roleArn,
      accountId,
      region: options.region,
      userAgent: runUserAgent(options.toolVersion, runId),
      catalog: {
        source: `${options.catalog.source.package}@${options.catalog.source.version}`,
        operations: planned.length,
      },
      ...(options.endpointUrl ? { endpointUrl: options.endpointUrl } : {}),
      ...(options.services ? { services: options.services } : {}),
    };
  }
  const runId = header.runId;
  const runFile = options.runFile ?? `trailblazer-run-${runId}.jsonl`;
  const writer = new RunFileWriter(runFile);
  const todo = planned.filter((p) => !finished.has(p.seq));

  if (options.dryRun) {
    for (const { seq, ref } of todo) {
      const built = unsignedFor(
        ref.service,
        ref.operation,
        options,
        accountId,
        runUserAgent(options.toolVersion, runId, seq),
      );
      const body = bodyForRecord(built.request.body).body;
      options.onDryRun?.({
        seq,
        service: ref.service.id,
        operation: ref.operation.name,
        region: built.region,
        sessionName: sessionName(runId, seq, ref.service.id, ref.operation.name),
        method: built.request.method,
        url: requestUrl(built.request),
        headers: built.request.headers,
        ...(body === undefined ? {} : { body }),
      });
    }
    return {
      runId,
      runFile,
      total: planned.length,
      skipped: finished.size,
      sent: 0,
      byOutcome: {},
      byStatus: {},
      stopped: false,
    };
  }

  if (options.resume) writer.resume();
  else writer.create(header);

  const stsEndpointUrl = options.stsEndpointUrl ?? options.endpointUrl;
  const sts = new STSClient({
    ...sdkClientConfig({
      region: options.region,
      ...(options.profile ? { profile: options.profile } : {}),
      ...(stsEndpointUrl ? { endpointUrl: stsEndpointUrl } : {}),
    }),
    maxAttempts: 5,
    customUserAgent: runUserAgentPairs(options.toolVersion, runId),
    ...(options.sourceCredentials ? { credentials: options.sourceCredentials } : {}),
  });
  const limiter = new RateLimiter(options.rate);
  const byOutcome: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let done = 0;
  let sent = 0;
  let next = 0;

  const callOne = async ({ seq, ref }: PlannedCall): Promise<CallRecord> => {
    const { service, operation } = ref;
    const name = sessionName(runId, seq, service.id, operation.name);
    const userAgent = runUserAgent(options.toolVersion, runId, seq);
    const base = {
      type: "call" as const,
      seq,
      service: service.id,
      operation: operation.name,
      protocol: service.protocol,
      region: homeRegion(service, options.region),
      sessionName: name,
    };
    let built: ReturnType<typeof unsignedFor>;
    try {
      built = unsignedFor(service, operation, options, accountId, userAgent);
    } catch (error) {
      return { ...base, attempts: [], outcome: "build-failed", error: (error as Error).message };
    }
    let credentials: SigningCredentials;
    try {
      const answer = await sts.send(
        new AssumeRoleCommand({
          RoleArn: options.roleArn,
          RoleSessionName: name,
          DurationSeconds: 900,
          // A session policy that denies everything: even a role with permissions cannot act.
          Policy: DENY_ALL_POLICY,
        }),
      );
      const c = answer.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey)
        throw new FirstcallError("E_ASSUME_ROLE", "AssumeRole returned no credentials");
      credentials = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      };
    } catch (error) {
      return { ...base, attempts: [], outcome: "assume-role-failed", error: describeError(error) };
    }
    const attempts: CallAttempt[] = [];
    const maxRetries = options.maxRetries ?? 3;
    let signedHeaders: Record<string, string> = {};
    for (let attempt = 0; ; attempt++) {
      const signed = await signRequest(built.request, credentials, {
        region: built.signingRegion,
        service: built.signingName,
      });
      signedHeaders = signed.headers;
      const sentAt = new Date();
      sent++;
      try {
        const answer = await sendRequest(signed, options.timeoutMs ?? 30_000);
        const code = errorCode(answer);
        const id = requestId(answer);
        attempts.push({
          sentAt: sentAt.toISOString(),
          durationMs: Date.now() - sentAt.getTime(),
          status: answer.status,
          ...(code ? { errorCode: code } : {}),
          ...(id ? { requestId: id } : {}),
        });
        if (!isThrottled(answer.status, code) || attempt >= maxRetries) break;
      } catch (error) {
        attempts.push({
          sentAt: sentAt.toISOString(),
          durationMs: Date.now() - sentAt.getTime(),
          error: describeError(error),
        });
        if (attempt >= maxRetries) break;
      }
      await sleep((options.retryBaseMs ?? 1000) * 2 ** attempt, options.signal);
      if (options.signal?.aborted) break;
    }
    const last = attempts[attempts.length - 1];
    return {
      ...base,
      accessKeyId: credentials.accessKeyId,
      request: {
        method: built.request.method,
        url: requestUrl(built.request),
        headers: redactHeaders(signedHeaders),
        ...bodyForRecord(built.request.body),
      },
      attempts,
      outcome: last?.status === undefined ? "network-error" : "answered",
    };
  };

  const worker = async (): Promise<void> => {
    while (!options.signal?.aborted) {
      const call = todo[next++];
      if (call === undefined) return;
      await limiter.take(options.signal);
      if (options.signal?.aborted) return;
      const record = await callOne(call);
      writer.append(record);
      done++;
      byOutcome[record.outcome] = (byOutcome[record.outcome] ?? 0) + 1;
      const status = record.attempts[record.attempts.length - 1]?.status;
      if (status !== undefined) byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
      options.onProgress?.({
        done,
        total: todo.length,
        service: call.ref.service.id,
        operation: call.ref.operation.name,
        outcome: record.outcome,
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  } finally {
    sts.destroy();
  }
  return {
    runId,
    runFile,
    total: planned.length,
    skipped: finished.size,
    sent,
    byOutcome,
    byStatus,
    stopped: options.signal?.aborted === true && done < todo.length,
  };
}

/** An error message without anything secret (SDK errors carry no credentials in their message). */
function describeError(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name && error.name !== "Error" ? `${error.name}: ` : "";
    return `${name}${error.message}`.slice(0, 500);
  }
  return String(error).slice(0, 500);
}
