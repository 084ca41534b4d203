/**
 * What the `firstcall trailblazer …` commands do, without commander: the CLI file
 * (src/cli/trailblazer.ts) parses the flags into these option objects and prints what comes back.
 * Heavy modules (the AWS SDK, the log reader) are imported only by the command that needs them, so
 * that `trailblazer catalog` and `--help` start fast.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { type AwsFlags, awsSettings, proxyNotice, resolveAws } from "../aws/client-config.js";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { UsageError } from "../errors.js";
import { safeText } from "../safe-text.js";
import { loadCatalog, parseServiceList, renderCatalogText, selectServices } from "./catalog.js";
import type { Chain, ReplayResult } from "./replay.js";
import type { DryRunLine, RunProgress, RunSummary } from "./runner.js";
import type { SigningCredentials } from "./signer.js";

/** Where a command's main output goes (stdout in the CLI, a buffer in tests). */
export interface Output {
  write(text: string): unknown;
}

/** Where a command's remarks go (stderr in the CLI). */
export type Notice = (line: string) => void;

/** The package version, read from package.json (two levels up from both src/trailblazer and dist/trailblazer). */
export function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * `--placeholder Member=value` (repeatable) as a map; undefined when none was given.
 *
 * @example
 * parsePlaceholders(["Bucket=my-bucket"]) // { Bucket: "my-bucket" }
 */
export function parsePlaceholders(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf("=");
    if (at <= 0) throw new UsageError("E_USAGE", `--placeholder: expected Member=value, got ${v}`);
    out[v.slice(0, at)] = v.slice(at + 1);
  }
  return out;
}

/** A flag's value as a number ≥ 0 (or > 0 without `allowZero`), else a usage error naming the flag. */
export function parseNonNegative(value: string, flag: string, allowZero: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(
      "E_USAGE",
      `${flag}: expected a ${allowZero ? "non-negative" : "positive"} number, got ${value}`,
    );
  }
  return n;
}

/** `trailblazer catalog`: the catalog (or the selected services) as text or JSON. */
export function catalogReport(options: { readonly services?: string; readonly json: boolean }): string {
  const catalog = loadCatalog();
  const filter = parseServiceList(options.services);
  const services = selectServices(catalog, filter);
  if (!options.json) return renderCatalogText(catalog, services, filter !== undefined);
  const selected = filter ? { ...catalog, services: Object.fromEntries(services.map((s) => [s.id, s])) } : catalog;
  return `${JSON.stringify(selected)}\n`;
}

export interface RunCommandOptions extends AwsFlags {
  readonly roleArn?: string;
  readonly services?: string;
  readonly stsEndpointUrl?: string;
  readonly rate: number;
  readonly concurrency: number;
  readonly out?: string;
  readonly resume?: string;
  readonly dryRun: boolean;
  readonly placeholders?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
}

/**
 * `trailblazer run`: checks the flags that go together, finds the region (flag, environment or the
 * profile's, see src/aws/client-config.ts), then calls every selected operation once.
 */
export async function runCommand(options: RunCommandOptions, out: Output, notice: Notice): Promise<RunSummary> {
  if (!options.roleArn) throw new UsageError("E_USAGE", "trailblazer run: --role-arn is required");
  if (options.resume && options.out) {
    throw new UsageError("E_USAGE", "trailblazer run: give --resume or --out, not both");
  }
  const settings = awsSettings(options);
  const { region } = settings.region ? settings : await resolveAws(settings, { credentials: false });
  if (!region) {
    throw new UsageError(
      "E_USAGE",
      "trailblazer run: no region: give --region, set AWS_REGION or AWS_DEFAULT_REGION, or set one in the profile",
    );
  }
  const proxy = proxyNotice(settings);
  if (proxy && !options.dryRun) notice(proxy);
  const { runTrailblazer } = await import("./runner.js");
  const services = parseServiceList(options.services);
  const runFile = options.resume ?? options.out;
  return runTrailblazer({
    catalog: loadCatalog(),
    roleArn: options.roleArn,
    region,
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(services ? { services } : {}),
    ...(settings.endpointUrl ? { endpointUrl: settings.endpointUrl } : {}),
    ...(options.stsEndpointUrl ? { stsEndpointUrl: options.stsEndpointUrl } : {}),
    rate: options.rate,
    concurrency: options.concurrency,
    ...(runFile ? { runFile } : {}),
    resume: options.resume !== undefined,
    dryRun: options.dryRun,
    ...(options.placeholders ? { placeholders: options.placeholders } : {}),
    toolVersion: toolVersion(),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    onDryRun: (line) => out.write(dryRunText(line)),
  });
}

/** One dry-run request: a tab-separated line, then its headers and body indented. */
export function dryRunText(line: DryRunLine): string {
  let text = `${line.seq}\t${safeText(`${line.service}.${line.operation}`)}\t${safeText(line.region)}\t${safeText(line.sessionName)}\t${safeText(line.method)} ${safeText(line.url)}\n`;
  for (const [k, v] of Object.entries(line.headers)) {
    if (k !== "user-agent") text += `\t${safeText(k)}: ${safeText(v)}\n`;
  }
  if (line.body !== undefined && line.body !== "") text += `\t${safeText(line.body)}\n`;
  return text;
}

/**
 * What a run tells the user at the end (stderr lines) and its exit code: 1 when it stopped early or
 * no call got an answer.
 */
export function runOutcome(summary: RunSummary, dryRun: boolean): { lines: string[]; exitCode: number } {
  if (dryRun) {
    return {
      lines: [`trailblazer: dry run, ${summary.total - summary.skipped} requests built, none sent`],
      exitCode: 0,
    };
  }
  const outcomes = Object.entries(summary.byOutcome)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const statuses = Object.entries(summary.byStatus)
    .map(([k, v]) => `${k}×${v}`)
    .join(" ");
  const lines = [
    `trailblazer: run ${summary.runId} → ${safeText(summary.runFile)}: ${summary.total} operations, ${summary.skipped} already done, ` +
      `${outcomes || "nothing sent"}${statuses ? ` (HTTP ${statuses})` : ""}`,
  ];
  if (summary.stopped) {
    lines.push(`trailblazer: stopped early; continue with --resume ${safeText(summary.runFile)}`);
    return { lines, exitCode: 1 };
  }
  const answered = summary.byOutcome.answered ?? 0;
  return { lines, exitCode: answered === 0 && summary.total > summary.skipped ? 1 : 0 };
}

/** Every record of the logs, reporting each reading problem (escaped) to `notice`. */
async function* logRecords(logs: readonly string[], notice: Notice): AsyncGenerator<CloudTrailRecord> {
  const { readLogs } = await import("../sources/read.js");
  for await (const object of readLogs([...logs])) {
    for (const p of object.problems) notice(safeText(p.message));
    yield* object.records;
  }
}

export interface MapCommandOptions {
  readonly json: boolean;
  readonly diff?: string;
  readonly interesting: boolean;
}

/**
 * `trailblazer map`: the mapping of a run against CloudTrail (or its difference to an earlier
 * mapping), as text or JSON, and how many problems reading the logs had.
 */
export async function mapCommand(
  runFile: string,
  logs: readonly string[],
  options: MapCommandOptions,
  notice: Notice,
): Promise<{ text: string; problems: number }> {
  const { readRunFile } = await import("./run-file.js");
  const { mapRun, renderMappingText } = await import("./mapper.js");
  let problems = 0;
  const mapping = await mapRun(
    readRunFile(runFile),
    logRecords(logs, (line) => {
      problems++;
      notice(line);
    }),
  );
  if (options.diff) {
    const { diffMappings, loadMapping, renderDiffText } = await import("./diff.js");
    const diff = diffMappings(loadMapping(options.diff), mapping);
    return { text: options.json ? `${JSON.stringify(diff, null, 2)}\n` : renderDiffText(diff), problems };
  }
  const text = options.json
    ? `${JSON.stringify(mapping, null, 2)}\n`
    : renderMappingText(mapping, { onlyInteresting: options.interesting });
  return { text, problems };
}

/** `trailblazer replay record`: one principal's calls from the logs, as a chain. */
export async function replayRecordCommand(
  logs: readonly string[],
  principal: string | undefined,
  notice: Notice,
): Promise<Chain> {
  if (!principal) throw new UsageError("E_USAGE", "trailblazer replay record: --principal is required");
  const { recordChain } = await import("./replay.js");
  return recordChain(loadCatalog(), principal, logRecords(logs, notice));
}

/** Writes text to a file when one is given, else to the output. */
export function writeTo(file: string | undefined, text: string, out: Output): void {
  if (file) writeFileSync(file, text);
  else out.write(text);
}

export interface ReplayRunCommandOptions extends AwsFlags {
  /** Time factor; 0 means no waiting. */
  readonly speed: number;
  readonly allowWrites: boolean;
  readonly dryRun: boolean;
  readonly placeholders?: Readonly<Record<string, string>>;
}

/** The region of steps recorded without one, when flags, environment and profile name none. */
export const REPLAY_FALLBACK_REGION = "us-east-1";

/**
 * `trailblazer replay run`: replays a chain file with the credentials of the profile or the
 * environment (the SDK's default chain), printing one line per step.
 */
export async function replayRunCommand(
  chainPath: string,
  options: ReplayRunCommandOptions,
  out: Output,
  notice: Notice,
): Promise<{ results: ReplayResult[]; replayId: string }> {
  const { parseChain, replayChain } = await import("./replay.js");
  const { newRunId, USER_AGENT_PRODUCT } = await import("./session-name.js");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(chainPath, "utf8"));
  } catch (error) {
    throw new UsageError("E_USAGE", `cannot read chain ${chainPath}: ${(error as Error).message}`);
  }
  const chain = parseChain(raw, chainPath);
  const accountId = /^arn:[^:]+:[^:]+::(\d{12}):/.exec(chain.principal)?.[1] ?? "123456789012";
  const settings = awsSettings(options);
  const resolved = await resolveAws(settings, { credentials: !options.dryRun });
  const region = resolved.region ?? REPLAY_FALLBACK_REGION;
  const credentials: SigningCredentials = resolved.credentials ?? {
    accessKeyId: "DRYRUNKEY",
    secretAccessKey: "dry-run",
  };
  const proxy = proxyNotice(settings);
  if (proxy && !options.dryRun) notice(proxy);
  const replayId = newRunId();
  const results = await replayChain({
    catalog: loadCatalog(),
    chain,
    credentials,
    region,
    accountId,
    ...(settings.endpointUrl ? { endpointUrl: settings.endpointUrl } : {}),
    speed: options.speed === 0 ? Number.POSITIVE_INFINITY : options.speed,
    allowWrites: options.allowWrites,
    dryRun: options.dryRun,
    userAgent: `${USER_AGENT_PRODUCT}/${toolVersion()} replay/${replayId}`,
    ...(options.placeholders ? { placeholders: options.placeholders } : {}),
    onStep: (r) => out.write(replayStepText(r)),
  });
  return { results, replayId };
}

/** One replayed step: number, operation, outcome and detail, tab-separated. */
export function replayStepText(r: ReplayResult): string {
  const what =
    r.step.service && r.step.operation
      ? `${r.step.service}.${r.step.operation}`
      : `${r.step.eventSource} ${r.step.eventName}`;
  const detail =
    r.outcome === "sent"
      ? `${r.status ?? "?"} ${r.errorCode ?? "OK"}`
      : r.outcome === "dry-run"
        ? `${r.method} ${r.url}`
        : r.outcome === "network-error"
          ? (r.error ?? "")
          : "";
  return `${r.index + 1}\t${safeText(what)}\t${r.outcome}\t${safeText(detail)}\n`;
}
