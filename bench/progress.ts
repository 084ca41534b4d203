/**
 * The bench's progress on a terminal: a bar while a corpus is written, and a line per measured step
 * with its time. Nothing extra on a pipe (the bench's own "bench: …" lines stay), so logs stay short.
 */
import cliProgress from "cli-progress";

const terminal = process.stderr.isTTY === true;

/**
 * Runs one measured step and, on a terminal, says what runs and how long it took.
 *
 * @example
 * const t = step("run 1/3: gunzip", () => timed(…));
 */
export function step<T>(label: string, run: () => T): T {
  if (!terminal) return run();
  process.stderr.write(`bench: ${label} …`);
  const began = process.hrtime.bigint();
  const result = run();
  process.stderr.write(` ${(Number(process.hrtime.bigint() - began) / 1e9).toFixed(1)} s\n`);
  return result;
}

/**
 * A progress callback for `simulate` (hours written), drawing a bar on a terminal; undefined on a pipe.
 *
 * @example
 * const progress = corpusProgress("main"); await simulate({ …, ...(progress ? { onProgress: progress.update } : {}) }); progress?.stop();
 */
export function corpusProgress(
  name: string,
): { update: (done: number, total: number, records: number) => void; stop: () => void } | undefined {
  if (!terminal) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `bench: corpus ${name} [{bar}] hour {value}/{total} | {records} records | ETA {eta_formatted}`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, records) {
      if (!started) {
        bar.start(total, 0, { records });
        started = true;
      }
      bar.update(done, { records });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
