/** `firstcall scan`: the main job. */
import type { Command } from "commander";
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
  progress: boolean;
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
  const { defaultStatePath } = await import("../state/open.js");
  const { FORMATS } = await import("../findings/formats/index.js");

  const parseTime = (v: string | undefined, flag: string): Date | undefined => {
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new UsageError("E_USAGE", `${flag}: not an ISO-8601 time: ${v}`);
    return d;
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

  let bar: import("cli-progress").SingleBar | undefined;
  if (flags.progress) {
    const { SingleBar, Presets } = await import("cli-progress");
    bar = new SingleBar(
      { stream: process.stderr, format: "scan [{bar}] {value}/{total} files", hideCursor: true },
      Presets.shades_classic,
    );
  }
  const since = parseTime(flags.since, "--since");
  const until = parseTime(flags.until, "--until");
  const result = await runScan({
    paths,
    statePath: flags.state ?? defaultStatePath(),
    config,
    ...(flags.ipRanges ? { ipRangesPath: flags.ipRanges } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    bindUncovered: flags.bindUncovered,
    rescan: flags.rescan,
    failOn: flags.failOn,
    ...(maxObjectBytes ? { maxObjectBytes } : {}),
    onObject: (done, total) => {
      if (!bar) return;
      if (done === 1) bar.start(total, 0);
      bar.update(done);
    },
  });
  bar?.stop();

  let findings = result.findings;
  if (flags.all) {
    const { openStore } = await import("../state/open.js");
    const store = openStore(flags.state ?? defaultStatePath());
    findings = (await store.allFindings()).map((f) => f.finding);
    await store.close();
  }
  const { writeOutput, writeFileOutput } = await import("./output.js");
  const { safeJsonStringify } = await import("../safe-text.js");
  await writeOutput(process.stdout, format.render(findings), {
    ...(result.summary.state === ":memory:"
      ? {}
      : { hint: "the findings are in the state file: scan --all prints them again" }),
  });
  const summaryJson = `${safeJsonStringify(result.summary)}\n`;
  if (typeof flags.summaryJson === "string") writeFileOutput(flags.summaryJson, summaryJson);
  if (flags.summaryJson === true) process.stderr.write(summaryJson);
  else if (!flags.quiet) process.stderr.write(renderSummaryText(result.summary));
  return result.exitCode;
}
