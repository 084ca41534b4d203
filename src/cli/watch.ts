/** `firstcall watch`: the scan as a long-running process over a live source. */
import type { Command } from "commander";
import { EXIT } from "../exit-codes.js";
import type { LiveHealth } from "../pipeline/scan.js";
import { safeText } from "../safe-text.js";
import type { LiveSource } from "../sources/live.js";
import type { DeliveryFlags } from "./delivery.js";
import { toOptions } from "./options.js";
import { watchSpec } from "./watch-spec.js";

interface WatchFlags extends DeliveryFlags {
  format: string;
  minSeverity: "info" | "low" | "medium" | "high";
  output?: string;
  state?: string;
  config?: string;
  ipRanges?: string;
  bindUncovered: boolean;
  checkpointSeconds: string;
  checkpointObjects: string;
  healthSeconds: string;
  lateness: string;
  jobs?: string;
  settleSeconds: string;
  pollSeconds: string;
  batchLines: string;
  batchSeconds: string;
  visibilitySeconds: string;
  profile?: string;
  region?: string;
  endpointUrl?: string;
  lockTimeout: string;
  worker: string;
  summaryJson?: string | boolean;
  quiet: boolean;
  verbose: boolean;
}

export function registerWatch(program: Command): void {
  const cmd = program.command(watchSpec.name).description(watchSpec.summary).argument(watchSpec.arguments);
  for (const o of toOptions(watchSpec.options)) cmd.addOption(o);
  cmd.action(async (source: string, flags: WatchFlags) => {
    program.setOptionValue("exitCode", await runWatchCommand(source, flags));
  });
}

/**
 * One health line, e.g. `firstcall: health: 12 objects (+3), 250 events/s, lag p50 0.8 s max 1.2 s,
 * 3.2 min behind, 42 sessions, 4 findings, 0 waiting, 0 unreadable`.
 *
 * @example
 * healthLine({ intervalMs: 60000, objects: 3, objectsTotal: 12, … })
 */
export function healthLine(h: LiveHealth): string {
  const seconds = (ms: number) => (ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);
  const lag = h.lagMs ? `lag p50 ${seconds(h.lagMs.p50)} max ${seconds(h.lagMs.max)}` : "no object committed";
  const behind = h.behindMs === null ? "no event yet" : `newest event ${seconds(Math.max(0, h.behindMs))} ago`;
  return `firstcall: health: ${h.objectsTotal} objects (+${h.objects}), ${Math.round(h.eventsPerSecond)} events/s, ${lag}, ${behind}, ${h.sessions} sessions, ${h.findings} findings, ${h.waiting} waiting, ${h.failed} unreadable\n`;
}

async function runWatchCommand(sourceArg: string, flags: WatchFlags): Promise<number> {
  const { UsageError } = await import("../errors.js");
  const { loadConfig, defaultConfig } = await import("../config/config.js");
  const { runScan } = await import("../pipeline/scan.js");
  const { renderNotice, renderSummaryText } = await import("../pipeline/summary-text.js");
  const { findingOutput } = await import("./scan-output.js");
  const { writeOutput, writeFileOutput } = await import("./output.js");
  const { safeJsonStringify } = await import("../safe-text.js");
  const { defaultStatePath } = await import("../state/default-path.js");

  const number = (v: string, flag: string, allowZero = false): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new UsageError("E_USAGE", `${flag}: not a ${allowZero ? "non-negative" : "positive"} number: ${v}`);
    }
    return n;
  };
  const checkpointMs = number(flags.checkpointSeconds, "--checkpoint-seconds") * 1000;
  const checkpointObjects = Math.ceil(number(flags.checkpointObjects, "--checkpoint-objects"));
  const healthMs = number(flags.healthSeconds, "--health-seconds", true) * 1000;
  const latenessMs = number(flags.lateness, "--lateness", true) * 60_000;
  const jobs = flags.jobs === undefined ? undefined : Math.floor(number(flags.jobs, "--jobs", true));
  const lockTimeoutMs = number(flags.lockTimeout, "--lock-timeout", true) * 1000;
  const statePath = flags.state ?? defaultStatePath();
  const output = findingOutput({
    format: flags.format,
    minSeverity: flags.minSeverity,
    ...(flags.output ? { outputPath: flags.output } : {}),
    verbose: flags.verbose,
    writeStdout: (text) => writeOutput(process.stdout, text),
  });
  const config = flags.config ? loadConfig(flags.config) : defaultConfig();
  const report = (message: string) => process.stderr.write(`firstcall: ${safeText(message)}\n`);
  const { deliveryFromFlags, renderDeliveryWarnings } = await import("./delivery.js");
  const { awsSettings } = await import("../aws/client-config.js");
  // Destinations are checked (and their secrets read) before the source is opened.
  const delivery = await deliveryFromFlags(flags, {
    config,
    ...(flags.config ? { configPath: flags.config } : {}),
    aws: awsSettings(flags),
    minSeverity: flags.minSeverity,
    report,
  });
  const source = await openSource(sourceArg, flags, number, report);

  // SIGINT/SIGTERM: finish the current object, commit, exit 0. A second signal stops at once (the
  // last checkpoint is still there to resume from).
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
    process.stderr.write(`firstcall: ${signal}: stopping after the current object (again to stop at once)…\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let result: Awaited<ReturnType<typeof runScan>>;
  try {
    result = await runScan({
      paths: [],
      live: source,
      statePath,
      config,
      ...(flags.ipRanges ? { ipRangesPath: flags.ipRanges } : { ipRanges: {} }),
      bindUncovered: flags.bindUncovered,
      failOn: "none",
      latenessMs,
      ...(jobs !== undefined ? { jobs } : {}),
      checkpointObjects,
      checkpointMs,
      lockTimeoutMs,
      worker: flags.worker,
      onLockWait: (m) => report(m),
      sink: output.sink,
      ...(delivery ? { delivery } : {}),
      signal: controller.signal,
      onNotice: (notice) => process.stderr.write(renderNotice(notice)),
      ...(healthMs > 0 && !flags.quiet
        ? { healthIntervalMs: healthMs, onHealth: (h: LiveHealth) => process.stderr.write(healthLine(h)) }
        : {}),
    });
    await output.finish();
  } finally {
    output.close();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
  const summaryJson = `${safeJsonStringify(result.summary)}\n`;
  if (typeof flags.summaryJson === "string") writeFileOutput(flags.summaryJson, summaryJson);
  if (flags.summaryJson === true) process.stderr.write(summaryJson);
  else if (!flags.quiet) process.stderr.write(renderSummaryText(result.summary));
  if (result.summary.delivery)
    process.stderr.write(
      renderDeliveryWarnings(
        result.summary.delivery,
        flags.quiet || flags.summaryJson === true,
        result.summary.state === ":memory:",
      ),
    );
  return EXIT.ok;
}

/** The live source the argument names: `-`, `sqs://…`, or a folder. */
async function openSource(
  arg: string,
  flags: WatchFlags,
  number: (v: string, flag: string, allowZero?: boolean) => number,
  report: (message: string) => void,
): Promise<LiveSource> {
  const { UsageError } = await import("../errors.js");
  if (arg === "-") {
    const { LineSource } = await import("../sources/watch-stdin.js");
    return new LineSource(process.stdin, {
      batchLines: Math.ceil(number(flags.batchLines, "--batch-lines")),
      batchMs: number(flags.batchSeconds, "--batch-seconds") * 1000,
    });
  }
  if (arg.startsWith("sqs://")) {
    const { parseSqsSource, SqsSource } = await import("../sources/watch-sqs.js");
    const parsed = parseSqsSource(arg);
    if (!parsed) {
      throw new UsageError(
        "E_USAGE",
        `${arg}: not a queue URL: use sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE (or without https://)`,
      );
    }
    const { awsSettings, sdkClientConfig, proxyNotice } = await import("../aws/client-config.js");
    const settings = awsSettings(flags);
    const region = settings.region ?? parsed.region;
    const { SQSClient } = await import("@aws-sdk/client-sqs");
    const { S3Source } = await import("../sources/s3.js");
    const notice = proxyNotice(settings);
    if (notice) report(notice);
    // The queue URL says where the queue is (the SDK sends to its host); --endpoint-url is for S3.
    const { endpoint: _s3Only, ...sqsConfig } = sdkClientConfig({ ...settings, ...(region ? { region } : {}) });
    // A queue outside AWS's hosts (a local SQS): its origin is the endpoint, said so to the SDK
    // rather than left for it to warn about on every request.
    const sqsEndpoint = parsed.region === undefined ? { endpoint: new URL(parsed.queueUrl).origin } : {};
    const sqs = new SQSClient({ ...sqsConfig, ...sqsEndpoint, maxAttempts: 5 });
    // The S3 source's reader: retries with backoff, bounded requests, objects identified by ETag.
    const s3 = new S3Source({ aws: { ...settings, ...(region ? { region } : {}) } });
    return new SqsSource(sqs, parsed.queueUrl, s3, {
      visibilitySeconds: number(flags.visibilitySeconds, "--visibility-seconds"),
      onReport: report,
    });
  }
  const { stat } = await import("node:fs/promises");
  const st = await stat(arg).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new UsageError(
      "E_USAGE",
      `${arg}: ${st ? "not a folder" : "no such folder"}: watch takes a folder, - (standard input) or sqs://QUEUE_URL`,
    );
  }
  const { DirectorySource } = await import("../sources/watch-directory.js");
  return new DirectorySource(arg, {
    settleMs: number(flags.settleSeconds, "--settle-seconds", true) * 1000,
    pollMs: number(flags.pollSeconds, "--poll-seconds") * 1000,
    onProblem: report,
  });
}
