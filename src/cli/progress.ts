/**
 * Progress on stderr: a bar on a terminal by default (`--no-progress` turns it off), nothing on a
 * pipe unless asked for with `--progress` — then a plain line every few seconds, which a CI log keeps.
 */
import type { ScanProgress } from "../pipeline/scan.js";

export interface ProgressDisplay {
  update(p: ScanProgress): void;
  stop(): void;
}

/**
 * Whether to show progress: `--progress`/`--no-progress` when given; else on a terminal, unless quiet.
 *
 * @example
 * wantProgress(undefined, false, process.stderr.isTTY === true)
 */
export function wantProgress(flag: boolean | undefined, quiet: boolean, terminal: boolean): boolean {
  return flag ?? (terminal && !quiet);
}

/**
 * The scan's progress display: objects, events per second, findings, ETA.
 *
 * @example
 * const progress = await scanProgress(process.stderr);
 * await runScan({ …, onProgress: (p) => progress.update(p) }); progress.stop();
 */
export async function scanProgress(stream: NodeJS.WriteStream): Promise<ProgressDisplay> {
  const { SingleBar, Presets } = await import("cli-progress");
  const terminal = stream.isTTY === true;
  const bar = new SingleBar(
    {
      stream,
      format: "scan [{bar}] {value}/{total} objects | {rate} events/s | {findings} findings | ETA {eta_formatted}",
      hideCursor: terminal,
      etaBuffer: 50,
      // Asked for on a pipe: a line now and then instead of redrawing.
      noTTYOutput: !terminal,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let running = false;
  return {
    update(p) {
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      const payload = { rate: Math.round(p.events / seconds), findings: p.findings };
      if (!running) {
        bar.start(p.objectsTotal, 0, payload);
        running = true;
      }
      bar.update(p.objectsDone, payload);
    },
    stop() {
      if (running) bar.stop();
    },
  };
}
