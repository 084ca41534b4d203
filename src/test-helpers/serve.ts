/**
 * Fixtures for `firstcall serve` tests: a real SQLite state made by scanning the sample, logs of one
 * more theft with hostile strings in the fields an attacker controls, and a second process (a real
 * `firstcall scan`) that writes that theft into the state while a server reads it.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { runScan } from "../pipeline/scan.js";
import { CLI_MAIN, REPO } from "./cli.js";
import { at, call, ec2Issuance } from "./records.js";
import { writeLogFiles } from "./scan.js";

/** A user agent built to break a page or a terminal: markup, a bidi override, an escape sequence. */
export const HOSTILE_AGENT =
  "<img src=x onerror=\"document.title='pwned'\">\u202Eexe.txt\x1b[2J</td><script>alert(1)</script>";
/** A role name (so: in ARNs) with markup in it. */
export const HOSTILE_ROLE = "ops<b>bold</b>&amp;";
export const HOSTILE_INSTANCE = "i-0ffeeda7a5e7e0001";
export const THIEF_IP = "198.51.100.66";

/** Scans testdata/sample into `<dir>/state.sqlite` (a real scan, in this process) and returns the path. */
export async function sampleState(dir: string): Promise<string> {
  const statePath = join(dir, "state.sqlite");
  await runScan({ paths: [join(REPO, "testdata", "sample")], statePath });
  return statePath;
}

/**
 * Writes one gzipped log file into `dir`: an instance credential issued, used at home, then used from
 * {@link THIEF_IP} with {@link HOSTILE_AGENT} (after the sample's day, so it is judged like new logs).
 */
export function hostileTheftLogs(dir: string): string {
  const base = "2026-11-01T07:00:00Z";
  const key = "ASIAHOSTILE000000001";
  writeLogFiles(dir, [
    [
      ec2Issuance(HOSTILE_INSTANCE, key, at(0, base), { role: HOSTILE_ROLE }),
      call(HOSTILE_INSTANCE, key, "54.210.1.10", at(1, base), { role: HOSTILE_ROLE }),
      call(HOSTILE_INSTANCE, key, THIEF_IP, at(20, base), {
        role: HOSTILE_ROLE,
        name: "ListBuckets",
        source: "s3.amazonaws.com",
        userAgent: HOSTILE_AGENT,
      }),
    ],
  ]);
  return dir;
}

/**
 * Runs `firstcall scan <logs> --state <state>` as a separate process (asynchronously, so a server in
 * this process keeps answering), resolving with its exit code and stderr.
 */
export function scanInAnotherProcess(logs: string, state: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", CLI_MAIN, "scan", logs, "--state", state, "--format", "jsonl", "-q", "--no-progress"],
    { cwd: REPO, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, FIRSTCALL_DEBUG: "" } },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

/** Reads Server-Sent Events from a fetch response until `done` says stop or the time runs out. */
export async function readEvents(
  response: Response,
  done: (event: { event: string; id?: string; data: string }) => boolean,
  timeoutMs: number,
): Promise<{ event: string; id?: string; data: string }[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { event: string; id?: string; data: string }[] = [];
  let buffer = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), Math.max(1, deadline - Date.now())).unref()),
      ]);
      if (chunk === "timeout" || chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: { event: string; id?: string; data: string } = { event: "message", data: "" };
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) e.event = line.slice(7);
          else if (line.startsWith("id: ")) e.id = line.slice(4);
          else if (line.startsWith("data: ")) e.data += line.slice(6);
        }
        if (block.startsWith(":")) continue;
        events.push(e);
        if (done(e)) return events;
      }
    }
    return events;
  } finally {
    await reader.cancel().catch(() => {});
  }
}
