/**
 * Local log objects: files, directories walked recursively (sorted, so runs are reproducible), and
 * standard input (`-`).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { isLogFileName } from "../cloudtrail/layout.js";

/** One log object to read, with the identity used for checkpoints and reports. */
export interface LogObjectRef {
  /** Path, `-` for stdin, or `s3://bucket/key`. */
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  read(): Promise<Buffer>;
}

/** A path that could not be listed at all (missing, unreadable directory). */
export interface ListProblem {
  readonly object: string;
  readonly message: string;
}

/**
 * Lists the log objects under the given paths, in a stable order.
 * Files found by walking a directory are taken only when their name looks like a log file
 * (`.json`, `.json.gz`, `.jsonl`, …); the rest are counted in `ignored`.
 */
export async function listLocalObjects(
  paths: readonly string[],
): Promise<{ objects: LogObjectRef[]; problems: ListProblem[]; ignored: number }> {
  const objects: LogObjectRef[] = [];
  const problems: ListProblem[] = [];
  let ignored = 0;

  async function walk(dir: string): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      problems.push({ object: dir, message: `cannot list directory: ${(e as Error).message}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        if (isLogFileName(entry.name)) await addFile(path, true);
        else ignored++;
      }
    }
  }

  async function addFile(path: string, fromWalk: boolean): Promise<void> {
    try {
      const st = await stat(path);
      if (st.isDirectory()) return walk(path);
      objects.push({ id: path, size: st.size, mtimeMs: st.mtimeMs, read: () => readFile(path) });
    } catch (e) {
      if (fromWalk) problems.push({ object: path, message: `cannot read: ${(e as Error).message}` });
      else
        problems.push({ object: path, message: `no such file or directory, or unreadable: ${(e as Error).message}` });
    }
  }

  for (const p of paths) {
    if (p === "-") objects.push({ id: "-", size: 0, mtimeMs: 0, read: readStdin });
    else await addFile(p, false);
  }
  return { objects, problems, ignored };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
