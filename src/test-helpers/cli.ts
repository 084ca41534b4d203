/**
 * Runs the CLI from source as a user would: a real `node --import tsx src/cli/main.ts …` process in
 * the repository, with its exit status and both streams. Diagnostics (`FIRSTCALL_DEBUG`) are off
 * unless a test turns them on.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** Added to the environment (after `FIRSTCALL_DEBUG` is cleared). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where stdout goes: piped and returned (default), or a file descriptor. */
  readonly stdout?: "pipe" | number;
  /** Kills a run that hangs: a safety net, not a speed check. */
  readonly timeoutMs?: number;
}

/** @example const r = runCli(["scan", "testdata/sample", "--state", ":memory:"]); */
export function runCli(args: readonly string[], options: CliRunOptions = {}): CliRun {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], {
    cwd: REPO,
    encoding: "utf8",
    stdio: ["ignore", options.stdout ?? "pipe", "pipe"],
    env: { ...process.env, FIRSTCALL_DEBUG: "", ...options.env },
    timeout: options.timeoutMs ?? 120_000,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/**
 * {@link runCli} without blocking this process: for tests whose servers (s3rver, a proxy) run in the
 * test process itself and must answer the CLI while it runs.
 *
 * @example const r = await runCliAsync(["scan", "s3://bucket/", "--endpoint-url", endpoint]);
 */
export function runCliAsync(args: readonly string[], options: Omit<CliRunOptions, "stdout"> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FIRSTCALL_DEBUG: "", ...options.env },
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** A CLI process started by {@link startCli}: what it printed so far, and its exit. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/**
 * Starts the CLI from source and leaves it running (`watch`, `serve`): for tests that feed it, read
 * what it printed so far, signal or kill it. Its stdin is a pipe the test may write to.
 *
 * @example const w = startCli(["watch", dir, "--state", state]); await waitFor(() => w.stdout().includes("\n"), 60_000);
 */
export function startCli(args: readonly string[], options: Pick<CliRunOptions, "env"> = {}): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, FIRSTCALL_DEBUG: "", ...options.env },
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    err += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Polls `condition` until it holds or `ms` have passed (then returns: the test's own assertion says
 * what was missing). A safety net for slow machines, not a speed check.
 *
 * @example await waitFor(() => existsSync(path), 30_000);
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition()) && Date.now() < end) await new Promise((r) => setTimeout(r, everyMs));
}
