import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import type { Config } from "../config/config.js";
import { parseConfig } from "../config/config.js";
import type { Finding } from "../findings/finding.js";
import { runScan, type ScanOptions, type ScanResult } from "../pipeline/scan.js";

export function tempDir(prefix = "firstcall-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A maker of temporary folders for one test file: every folder it made is removed when the file's
 * tests end, also when one of them failed. Call it at the top level of the test file.
 *
 * @example
 * const scratchDir = scratchDirs();
 * const dir = scratchDir();
 */
export function scratchDirs(prefix?: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = tempDir(prefix);
    made.push(dir);
    return dir;
  };
}

/** Writes records as one gzipped `{"Records":[…]}` file per group, like S3 delivery. */
export function writeLogFiles(dir: string, groups: CloudTrailRecord[][]): string[] {
  return groups.map((records, i) => {
    const path = join(dir, `${String(i).padStart(4, "0")}.json.gz`);
    writeFileSync(path, gzipSync(JSON.stringify({ Records: records })));
    return path;
  });
}

/** Scans records (one file) in memory and returns the result. */
export async function scanRecords(
  records: CloudTrailRecord[],
  options: Partial<ScanOptions> & { yaml?: string } = {},
): Promise<ScanResult> {
  const dir = tempDir();
  try {
    writeLogFiles(dir, [records]);
    const config: Config | undefined = options.yaml !== undefined ? parseConfig(options.yaml) : options.config;
    return await runScan({ statePath: ":memory:", ...options, ...(config ? { config } : {}), paths: [dir] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The parts of a finding a scenario test asserts on. */
export function brief(f: Finding): { rule: string; severity: string; ip: string; session: string; count: number } {
  return {
    rule: f.rule,
    severity: f.severity,
    ip: f.sourceIp,
    session: f.principal.sessionName ?? f.principal.arn,
    count: f.evidence.count,
  };
}

/**
 * How many objects the SQLite state at `path` has committed (0 before its first checkpoint), read
 * beside the process that writes it: how a test knows a scan or watch it will kill has made progress.
 *
 * @example await waitFor(() => committedObjects(state) > 0, 60_000); child.kill("SIGKILL");
 */
export function committedObjects(path: string): number {
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM objects").get() as { n: number }).n;
  } catch {
    return 0; // not initialised yet
  } finally {
    db.close();
  }
}
