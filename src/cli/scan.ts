/** `firstcall scan`: the main job. */
import type { Command } from "commander";
import { EXIT } from "../exit-codes.js";
import { safeText } from "../safe-text.js";
import { defaultStatePath } from "../state/default-path.js";
import type { DeliveryFlags } from "./delivery.js";
import { toOptions } from "./options.js";
import { scanSpec } from "./scan-spec.js";

interface ScanFlags extends DeliveryFlags {
  format: string;
  /** `-f`, the old spelling of --format. */
  f?: string;
  asffRegion?: string;
  asffAccount?: string;
  minSeverity: "info" | "low" | "medium" | "high";
  state?: string;
  config?: string;
  ipRanges?: string;
  since?: string;
  until?: string;
  failOn: "none" | "low" | "medium" | "high";
  bindUncovered: boolean;
  summaryJson?: string | boolean;
  rescan: boolean;
  all: boolean;
  maxObjectBytes?: string;
  output?: string;
  lateness: string;
  reorderBuffer: string;
  jobs?: string;
  profile?: string;
  region?: string;
  endpointUrl?: string;
  s3Concurrency: string;
  checkpointObjects: string;
  checkpointSeconds: string;
  lockTimeout: string;
  worker: string;
  progress?: boolean;
  quiet: boolean;
  verbose: boolean;
}

export function registerScan(program: Command): void {
  const cmd = program.command(scanSpec.name).description(scanSpec.summary).argument(scanSpec.arguments);
  for (const o of toOptions(scanSpec.options)) cmd.addOption(o);
  cmd.addHelpText("after", stateHelpText);
  cmd.action(async (paths: string[], flags: ScanFlags) => {
    // An interval given on the command line is kept exactly; the default one may stretch (see runScan).
    const givenInterval = cmd.getOptionValueSource("checkpointSeconds") !== "default";
    program.setOptionValue("exitCode", await runScanCommand(paths, flags, givenInterval));
  });
}

/**
 * `scan --help`: the state file this run would use, and where that path comes from. The option table
 * (and so docs/cli.md) says only how the default is chosen, since the path differs per machine.
 */
function stateHelpText(): string {
  const from = process.env.FIRSTCALL_STATE
    ? "from FIRSTCALL_STATE"
    : "the default; set FIRSTCALL_STATE or pass --state to use another";
  return `\nState file in use without --state: ${safeText(defaultStatePath())} (${from}).\n`;
}

async function runScanCommand(paths: string[], flags: ScanFlags, givenInterval: boolean): Promise<number> {
  const { UsageError } = await import("../errors.js");
  const { loadConfig, defaultConfig } = await import("../config/config.js");
  const { runScan } = await import("../pipeline/scan.js");
  const { renderNotice } = await import("../pipeline/summary-text.js");
  const { findingOutput } = await import("./scan-output.js");
  const { effectiveFailOn } = await import("../findings/select.js");
  const { writeOutput } = await import("./output.js");
  const toStdout = (text: string) => writeOutput(process.stdout, text);

  const positive = (v: string, flag: string, allowZero = false): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new UsageError("E_USAGE", `${flag}: not a ${allowZero ? "non-negative" : "positive"} number: ${v}`);
    }
    return n;
  };
  let maxObjectBytes: number | undefined;
  if (flags.maxObjectBytes !== undefined) {
    maxObjectBytes = Number(flags.maxObjectBytes);
    if (!Number.isInteger(maxObjectBytes) || maxObjectBytes <= 0) {
      throw new UsageError("E_USAGE", `--max-object-bytes: not a positive integer: ${flags.maxObjectBytes}`);
    }
  }
  // --asff-region/--asff-account also set the ProductArn of --to securityhub (then with any --format).
  const asffForOutput =
    (flags.f ?? flags.format) === "asff" || !(flags.to ?? []).some((t) => t.startsWith("securityhub"));
  const output = findingOutput({
    format: flags.f ?? flags.format,
    minSeverity: flags.minSeverity,
    ...(flags.output ? { outputPath: flags.output } : {}),
    verbose: flags.verbose,
    ...(flags.asffRegion !== undefined && asffForOutput ? { asffRegion: flags.asffRegion } : {}),
    ...(flags.asffAccount !== undefined && asffForOutput ? { asffAccount: flags.asffAccount } : {}),
    writeStdout: toStdout,
  });
  const format = output.format;
  const config = flags.config ? loadConfig(flags.config) : defaultConfig();
  const { parseTimeWindow } = await import("../pipeline/time-window.js");
  const { since, until } = parseTimeWindow(flags);
  const latenessMs = positive(flags.lateness, "--lateness", true) * 60_000;
  const minBuffered = Math.floor(positive(flags.reorderBuffer, "--reorder-buffer", true));
  const jobs = flags.jobs === undefined ? undefined : Math.floor(positive(flags.jobs, "--jobs", true));
  const checkpointObjects = Math.ceil(positive(flags.checkpointObjects, "--checkpoint-objects"));
  const checkpointMs = positive(flags.checkpointSeconds, "--checkpoint-seconds") * 1000;
  const lockTimeoutMs = positive(flags.lockTimeout, "--lock-timeout", true) * 1000;
  const statePath = flags.state ?? defaultStatePath();
  const s3Concurrency = Math.floor(positive(flags.s3Concurrency, "--s3-concurrency"));
  const { awsSettings, proxyNotice } = await import("../aws/client-config.js");
  const { isS3Url, parseS3Url } = await import("../sources/s3-url.js");
  for (const p of paths) if (isS3Url(p)) parseS3Url(p); // a malformed URL is a usage error, before anything runs
  const aws = awsSettings(flags);
  if (paths.some(isS3Url)) {
    const proxy = proxyNotice(aws);
    if (proxy) process.stderr.write(`firstcall: ${safeText(proxy)}\n`);
  }

  const { deliveryFromFlags } = await import("./delivery.js");
  const delivery = await deliveryFromFlags(flags, {
    config,
    ...(flags.config ? { configPath: flags.config } : {}),
    aws,
    asff: {
      ...(flags.asffRegion !== undefined ? { productRegion: flags.asffRegion } : {}),
      ...(flags.asffAccount !== undefined ? { productAccount: flags.asffAccount } : {}),
    },
    minSeverity: flags.minSeverity,
    report: (m) => process.stderr.write(`firstcall: ${safeText(m)}\n`),
  });

  const { scanProgress, wantProgress } = await import("./progress.js");
  const bar = wantProgress(flags.progress, flags.quiet, process.stderr.isTTY === true)
    ? await scanProgress(process.stderr)
    : undefined;

  // Ctrl-C: finish the current object, commit, stop. A second Ctrl-C stops at once (the last
  // checkpoint is still there to resume from).
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
    process.stderr.write("\nfirstcall: stopping after the current object (Ctrl-C again to stop at once)…\n");
  };
  process.on("SIGINT", onSigint);

  const fileSink = flags.output !== undefined;
  const sink = output.sink;
  // Problems told before the scan reads, so that the end does not repeat them.
  const told = new Set<string>();
  let result: Awaited<ReturnType<typeof runScan>>;
  try {
    result = await runScan({
      paths,
      statePath,
      config,
      // Without --ip-ranges: the cached copy, else the snapshot shipped with the package.
      ...(flags.ipRanges ? { ipRangesPath: flags.ipRanges } : { ipRanges: {} }),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      bindUncovered: flags.bindUncovered,
      rescan: flags.rescan,
      // The exit code considers what is printed: nothing below --min-severity.
      failOn: effectiveFailOn(flags.failOn, flags.minSeverity),
      latenessMs,
      minBuffered,
      ...(jobs !== undefined ? { jobs } : {}),
      s3: { aws, concurrency: s3Concurrency },
      checkpointObjects,
      ...(givenInterval ? { checkpointMs } : {}),
      lockTimeoutMs,
      worker: flags.worker,
      onLockWait: (m) => process.stderr.write(`firstcall: ${safeText(m)}\n`),
      sink,
      ...(delivery ? { delivery } : {}),
      signal: controller.signal,
      ...(maxObjectBytes ? { maxObjectBytes } : {}),
      onNotice: (notice) => {
        if (notice.kind === "path-problem") told.add(notice.problem.message);
        process.stderr.write(renderNotice(notice));
      },
      onProgress: (p) => bar?.update(p),
    });
  } finally {
    bar?.stop();
    output.close();
    process.removeListener("SIGINT", onSigint);
  }

  return reportScan(result, flags, { format, output, toFile: fileSink, statePath, lockTimeoutMs, told });
}

/**
 * Everything printed after the scan: `--all`'s findings or "No findings.", the summary and the
 * notices, and the exit code. When no CloudTrail log was found at all, stderr holds only the errors
 * and the paths that held none (no summary, no "No findings."), and the exit code is 3.
 */
async function reportScan(
  result: import("../pipeline/scan.js").ScanResult,
  flags: ScanFlags,
  context: {
    format: import("../findings/formats/index.js").FindingFormat;
    output: import("./scan-output.js").FindingOutput;
    toFile: boolean;
    statePath: string;
    lockTimeoutMs: number;
    told: ReadonlySet<string>;
  },
): Promise<number> {
  const { openAnyStore } = await import("../state/open.js");
  const { exitCodeFor } = await import("../pipeline/scan.js");
  const { atOrAbove, effectiveFailOn } = await import("../findings/select.js");
  const text = await import("../pipeline/summary-text.js");
  const { writeOutput, writeFileOutput } = await import("./output.js");
  const { safeJsonStringify } = await import("../safe-text.js");
  const toStdout = (t: string) => writeOutput(process.stdout, t);
  const { summary } = result;
  const nothingScanned = summary.objects.cloudTrail === 0 && !summary.stream.interrupted;
  let exitCode = result.exitCode;

  if (flags.all) {
    const store = await openAnyStore(context.statePath, {
      lockTimeoutMs: context.lockTimeoutMs,
      readOnly: true,
    });
    try {
      const all = atOrAbove(
        (await store.allFindings()).map((f) => f.finding),
        flags.minSeverity,
      );
      const { renderComplete } = await import("../findings/formats/format.js");
      await toStdout(renderComplete(context.format, all));
      // The exit code is about what is printed: the stored findings, not only this run's new ones.
      exitCode = exitCodeFor(all, effectiveFailOn(flags.failOn, flags.minSeverity), result.exitCode === EXIT.input);
    } finally {
      await store.close();
    }
  } else if (context.format.document || (context.format.header !== undefined && !nothingScanned)) {
    await context.output.finish();
  } else if (context.output.printed() === 0 && !context.toFile && context.format.name === "text" && !nothingScanned) {
    await toStdout(context.format.render([]));
  }
  const summaryJson = `${safeJsonStringify(summary)}\n`;
  if (typeof flags.summaryJson === "string") writeFileOutput(flags.summaryJson, summaryJson);
  if (flags.summaryJson === true) process.stderr.write(summaryJson);
  if (nothingScanned) process.stderr.write(text.renderNothingScanned(summary, context.told));
  else {
    if (flags.summaryJson !== true && !flags.quiet) process.stderr.write(text.renderSummaryText(summary));
    process.stderr.write(text.renderPathsWithoutLogs(summary));
    if (!flags.all && !flags.quiet) process.stderr.write(text.renderAlreadyScannedHint(summary));
  }
  if (summary.delivery) {
    const { renderDeliveryWarnings } = await import("./delivery.js");
    process.stderr.write(
      renderDeliveryWarnings(summary.delivery, flags.quiet || flags.summaryJson === true, summary.state === ":memory:"),
    );
  }
  if (summary.stream.interrupted) {
    process.stderr.write("firstcall: interrupted; the state is committed: run the same scan again to continue.\n");
    return EXIT.interrupted;
  }
  return exitCode;
}
