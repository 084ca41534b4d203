/** `firstcall simulate`: writes a realistic fleet's CloudTrail with injected thefts and the ground truth. */
import type { Command } from "commander";
import { commandFromSpec } from "./options.js";
import { simulateSpec } from "./simulate-spec.js";

interface SimulateFlags {
  out: string;
  accounts: string;
  regions: string;
  instances: string;
  hours: string;
  seed: string;
  start: string;
  attacks: string;
  perKind: string;
  rate: string;
  orgTrail: boolean;
  gzipLevel: string;
  force: boolean;
  quiet: boolean;
  format: "text" | "json";
}

/** Registers `simulate` on the program (options and examples: src/cli/simulate-spec.ts). */
export function registerSimulate(program: Command): void {
  commandFromSpec(program, simulateSpec).action(async (flags: SimulateFlags) => {
    const { UsageError } = await import("../errors.js");
    const { simulate } = await import("../simulate/simulate.js");
    const int = (value: string, flag: string, min: number, max: number): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new UsageError("E_USAGE", `${flag}: expected an integer from ${min} to ${max}, got ${value}`);
      }
      return n;
    };
    const hours = Number(flags.hours);
    if (!(hours > 0 && hours <= 24 * 31))
      throw new UsageError("E_USAGE", `--hours: expected 0 < hours <= 744, got ${flags.hours}`);
    const rate = Number(flags.rate);
    if (!(rate > 0 && rate <= 100_000))
      throw new UsageError("E_USAGE", `--rate: expected a positive number, got ${flags.rate}`);
    let result: Awaited<ReturnType<typeof simulate>>;
    try {
      result = await simulate({
        outDir: flags.out,
        accounts: int(flags.accounts, "--accounts", 1, 16),
        regions: int(flags.regions, "--regions", 1, 8),
        instances: int(flags.instances, "--instances", 1, 10_000_000),
        hours,
        seed: int(flags.seed, "--seed", 0, 2 ** 32 - 1),
        start: flags.start,
        attacks: flags.attacks,
        perKind: int(flags.perKind, "--per-kind", 0, 1000),
        rate,
        organizationTrail: flags.orgTrail,
        gzipLevel: int(flags.gzipLevel, "--gzip-level", 0, 9),
        force: flags.force,
        ...(flags.quiet
          ? {}
          : {
              onProgress: (done: number, total: number, records: number) =>
                process.stderr.write(`simulate: hour ${done}/${total}, ${records} records\n`),
            }),
      });
    } catch (e) {
      if (
        e instanceof RangeError ||
        (e instanceof Error && /already holds|unknown attack kind|bad count/.test(e.message))
      ) {
        throw new UsageError("E_USAGE", e.message);
      }
      throw e;
    }
    const w = result.writer;
    const byKind = new Map<string, number>();
    for (const i of result.incidents) byKind.set(i.kind, (byKind.get(i.kind) ?? 0) + 1);
    if (flags.format === "json") {
      process.stdout.write(`${JSON.stringify(simulationReport(result, byKind), null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        `wrote ${result.outDir}: ${result.events} events (${w.records} records with ${w.duplicates} duplicates) in ${w.files} files (${w.lateFiles} late), ${(w.gzBytes / 1e6).toFixed(1)} MB gzipped, ${(w.rawBytes / 1e6).toFixed(1)} MB raw`,
        `fleet: ${result.accounts.length} accounts × ${result.regions.length} regions, ${result.instances} instances, ${result.ecsTasks} ECS tasks, ${result.lambdaEnvironments} Lambda environments, ${result.start} to ${result.end}${result.organizationId ? `, organisation trail ${result.organizationId}` : ""}`,
        `incidents: ${result.incidents.length}${byKind.size ? ` (${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")})` : ""}`,
        ...(result.unplaced.length
          ? [
              `warning: no suitable victim for ${result.unplaced.map((u) => `${u.count} × ${u.kind}`).join(", ")} (use more instances or hours)`,
            ]
          : []),
        `took ${(result.elapsedMs / 1000).toFixed(1)} s`,
        `next: firstcall scan ${result.outDir} --format jsonl --state :memory: --config ${result.outDir}/firstcall.yaml --ip-ranges ${result.outDir}/ip-ranges.json > findings.jsonl`,
        `      firstcall eval --truth ${result.outDir}/truth.jsonl findings.jsonl`,
        "",
      ].join("\n"),
    );
  });
}

/** What `simulate --format json` prints: the numbers of the text report, as one object. */
function simulationReport(
  result: Awaited<ReturnType<typeof import("../simulate/simulate.js").simulate>>,
  byKind: ReadonlyMap<string, number>,
): Record<string, unknown> {
  const w = result.writer;
  return {
    outDir: result.outDir,
    events: result.events,
    records: w.records,
    duplicates: w.duplicates,
    files: w.files,
    lateFiles: w.lateFiles,
    gzBytes: w.gzBytes,
    rawBytes: w.rawBytes,
    accounts: result.accounts.length,
    regions: result.regions.length,
    instances: result.instances,
    ecsTasks: result.ecsTasks,
    lambdaEnvironments: result.lambdaEnvironments,
    start: result.start,
    end: result.end,
    ...(result.organizationId ? { organizationId: result.organizationId } : {}),
    incidents: result.incidents.length,
    incidentsByKind: Object.fromEntries(byKind),
    unplaced: result.unplaced,
    elapsedMs: result.elapsedMs,
  };
}
