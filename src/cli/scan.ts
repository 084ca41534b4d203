/** `firstcall scan`: the main job. */
import type { Command } from "commander";
import { EXIT } from "../exit-codes.js";
import { toOptions } from "./options.js";
import { scanSpec } from "./scan-spec.js";

interface ScanFlags {
  format: string;
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
  checkpointObjects: string;
  checkpointSeconds: string;
  lockTimeout: string;
  progress?: boolean;
  quiet: boolean;
}

export function registerScan(program: Command): void {
  const cmd = program.command(scanSpec.name).description(scanSpec.summary).argument(scanSpec.arguments);
  for (const o of toOptions(scanSpec.options)) cmd.addOption(o);
  cmd.action(async (paths: string[], flags: ScanFlags) => {
    program.setOptionValue("exitCode", await runScanCommand(paths, flags));
  });
}

async function runScanCommand(paths: string[], flags: ScanFlags): Promise<number> {
  const { UsageError } = await import("../errors.js");
  const { loadConfig, defaultConfig } = await import("../config/config.js");
  const { runScan } = await import("../pipeline/scan.js");
  const { renderSummaryText } = await import("../pipeline/summary-text.js");
  const { defaultStatePath, openStore } = await import("../state/open.js");
  const { FORMATS } = await import("../findings/formats/index.js");
  const { FileSink } = await import("../findings/sinks/file.js");
  const { StreamSink } = await import("../findings/sinks/stream.js");
  const { writeOutput, writeFileOutput } = await import("./output.js");
  const { safeText } = await import("../safe-text.js");
  const toStdout = (text: string) => writeOutput(process.stdout, text);

  const parseTime = (v: string | undefined, flag: string): Date | undefined => {
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new UsageError("E_USAGE", `${flag}: not an ISO-8601 time: ${v}`);
    return d;
  };
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
  const format = FORMATS.get(flags.format);
  if (!format) throw new UsageError("E_USAGE", `--format: unknown format ${flags.format}`);
  const config = flags.config ? loadConfig(flags.config) : defaultConfig();
  const since = parseTime(flags.since, "--since");
  const until = parseTime(flags.until, "--until");
  const latenessMs = positive(flags.lateness, "--lateness", true) * 60_000;
  const minBuffered = Math.floor(positive(flags.reorderBuffer, "--reorder-buffer", true));
  const jobs = flags.jobs === undefined ? undefined : Math.floor(positive(flags.jobs, "--jobs", true));
  const checkpointObjects = Math.ceil(positive(flags.checkpointObjects, "--checkpoint-objects"));
  const checkpointMs = positive(flags.checkpointSeconds, "--checkpoint-seconds") * 1000;
  const lockTimeoutMs = positive(flags.lockTimeout, "--lock-timeout", true) * 1000;
  const statePath = flags.state ?? defaultStatePath();

  const showProgress = flags.progress ?? (process.stderr.isTTY === true && !flags.quiet);
  let bar: import("cli-progress").SingleBar | undefined;
  if (showProgress) {
    const { SingleBar, Presets } = await import("cli-progress");
    bar = new SingleBar(
      {
        stream: process.stderr,
        format: "scan [{bar}] {value}/{total} objects | {rate} events/s | {findings} findings | ETA {eta_formatted}",
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
  }

  // Ctrl-C: finish the current object, commit, stop. A second Ctrl-C stops at once (the last
  // checkpoint is still there to resume from).
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
    process.stderr.write("\nfirstcall: stopping after the current object (Ctrl-C again to stop at once)…\n");
  };
  process.on("SIGINT", onSigint);

  const fileSink = flags.output ? new FileSink(flags.output, format) : undefined;
  const sink = fileSink ?? new StreamSink(toStdout, format);
  const started = Date.now();
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
      failOn: flags.failOn,
      latenessMs,
      minBuffered,
      ...(jobs !== undefined ? { jobs } : {}),
      checkpointObjects,
      checkpointMs,
      lockTimeoutMs,
      onLockWait: (m) => process.stderr.write(`firstcall: ${safeText(m)}\n`),
      sink,
      signal: controller.signal,
      ...(maxObjectBytes ? { maxObjectBytes } : {}),
      onProgress: (p) => {
        if (!bar) return;
        const seconds = Math.max(0.001, (Date.now() - started) / 1000);
        const payload = { rate: Math.round(p.events / seconds), findings: p.findings };
        if (p.objectsDone === 1) bar.start(p.objectsTotal, 0, payload);
        bar.update(p.objectsDone, payload);
      },
    });
  } finally {
    bar?.stop();
    fileSink?.close();
    process.removeListener("SIGINT", onSigint);
  }

  if (flags.all) {
    const store = openStore(statePath, { lockTimeoutMs });
    try {
      const all = (await store.allFindings()).map((f) => f.finding);
      await toStdout(format.render(all));
    } finally {
      await store.close();
    }
  } else if (result.findings.length === 0 && !fileSink && format.name === "text") {
    await toStdout(format.render([]));
  }
  const { safeJsonStringify } = await import("../safe-text.js");
  const summaryJson = `${safeJsonStringify(result.summary)}\n`;
  if (typeof flags.summaryJson === "string") writeFileOutput(flags.summaryJson, summaryJson);
  if (flags.summaryJson === true) process.stderr.write(summaryJson);
  else if (!flags.quiet) process.stderr.write(renderSummaryText(result.summary));
  if (result.summary.stream.interrupted) {
    process.stderr.write("firstcall: interrupted; the state is committed: run the same scan again to continue.\n");
    return EXIT.interrupted;
  }
  return result.exitCode;
}
