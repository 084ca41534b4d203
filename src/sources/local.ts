/**
 * Local log objects: files, directories walked recursively (sorted, so runs are reproducible), and
 * standard input (`-`).
 */
import { lstat, readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { isLogFileName } from "../cloudtrail/layout.js";

/** One log object to read, with the identity used for checkpoints and reports. */
export interface LogObjectRef {
  /** Path, `-` for stdin, or `s3://bucket/key`. */
  readonly id: string;
  readonly size: number;
  /** Modification time (an S3 object's LastModified); 0 when unknown. */
  readonly mtimeMs: number;
  /** A local file the reader may open itself (streaming it); absent: the bytes come from `read()`. */
  readonly path?: string;
  /** An S3 object's ETag (without quotes): with the size, what identifies it for skip-on-rescan. */
  readonly etag?: string;
  read(): Promise<Buffer>;
}

/** A path that could not be listed at all (missing, unreadable directory). */
export interface ListProblem {
  readonly object: string;
  readonly message: string;
}

/** What one path given on the command line held, for "this path had no logs" messages. */
export interface PathListing {
  /** The path as given. */
  readonly path: string;
  /** Log objects listed under it (a file reached earlier under another path counts there). */
  readonly objects: number;
  /** Files under it whose names are not log file names (and sockets, FIFOs, devices). */
  readonly ignored: number;
  /** Problems while listing it (missing, unreadable directory, dangling link). */
  readonly problems: number;
}

/**
 * Lists the log objects under the given paths, in a stable order.
 * Files found by walking a directory are taken only when their name looks like a log file
 * (`.json`, `.json.gz`, `.jsonl`, …); the rest are counted in `ignored`, as are sockets, FIFOs and
 * devices (reading a FIFO would block the scan).
 *
 * Symbolic links are followed, files and directories alike (a synced bucket often links account
 * folders in). Loops and repeats are cut by real path (`fs.realpath`): each real directory is walked
 * once and each real file listed once, under the first path that reaches it. "First" is the walk's
 * order: the given paths in order, each walked depth-first with the entries of a directory sorted by
 * name. A link whose target is missing, or that loops onto itself, is a problem naming the link.
 *
 * @example
 * const { objects, problems, ignored, paths } = await listLocalObjects(["AWSLogs/"]);
 */
export async function listLocalObjects(
  paths: readonly string[],
): Promise<{ objects: LogObjectRef[]; problems: ListProblem[]; ignored: number; paths: PathListing[] }> {
  const objects: LogObjectRef[] = [];
  const problems: ListProblem[] = [];
  const walkedDirectories = new Set<string>();
  const listedFiles = new Set<string>();
  let ignored = 0;

  /** Walks a directory once per real path; `realDir` is its real path. */
  async function walk(dir: string, realDir: string): Promise<void> {
    if (walkedDirectories.has(realDir)) return;
    walkedDirectories.add(realDir);
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
      // Below a real directory, a plain entry's real path is known without asking the file system.
      if (entry.isDirectory()) await walk(path, join(realDir, entry.name));
      else if (entry.isFile()) {
        if (isLogFileName(entry.name)) await addFile(path, join(realDir, entry.name));
        else ignored++;
      } else if (entry.isSymbolicLink()) await followLink(path, entry.name);
      else ignored++;
    }
  }

  async function followLink(path: string, name: string): Promise<void> {
    let target: import("node:fs").Stats;
    let real: string;
    try {
      target = await stat(path);
      real = await realpath(path);
    } catch (e) {
      problems.push({ object: path, message: await brokenLinkMessage(path, e as NodeJS.ErrnoException) });
      return;
    }
    if (target.isDirectory()) await walk(path, real);
    else if (target.isFile() && isLogFileName(name)) await addFile(path, real, target);
    else ignored++;
  }

  async function addFile(path: string, real: string, known?: import("node:fs").Stats): Promise<void> {
    if (listedFiles.has(real)) return;
    listedFiles.add(real);
    try {
      const st = known ?? (await stat(path));
      objects.push({ id: path, path, size: st.size, mtimeMs: st.mtimeMs, read: () => readFile(path) });
    } catch (e) {
      problems.push({ object: path, message: `cannot read: ${(e as Error).message}` });
    }
  }

  const listings: PathListing[] = [];
  for (const p of paths) {
    const before = { objects: objects.length, ignored, problems: problems.length };
    await listPath(p);
    listings.push({
      path: p,
      objects: objects.length - before.objects,
      ignored: ignored - before.ignored,
      problems: problems.length - before.problems,
    });
  }
  return { objects, problems, ignored, paths: listings };

  async function listPath(p: string): Promise<void> {
    if (p === "-") {
      objects.push({ id: "-", size: 0, mtimeMs: 0, read: readStdin });
      return;
    }
    let st: import("node:fs").Stats;
    let real: string;
    try {
      st = await stat(p);
      real = await realpath(p);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const message =
        err.code === "ENOENT" && (await isLink(p))
          ? await brokenLinkMessage(p, err)
          : err.code === "ENOENT"
            ? "no such file or directory"
            : `cannot read: ${err.message}`;
      problems.push({ object: p, message });
      return;
    }
    // A path given by name is read whatever its name; only walked files must look like logs.
    if (st.isDirectory()) await walk(p, real);
    else await addFile(p, real, st);
  }
}

async function isLink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

async function brokenLinkMessage(path: string, error: NodeJS.ErrnoException): Promise<string> {
  let target = "?";
  try {
    target = await readlink(path);
  } catch {
    // the link itself vanished: the error says so
  }
  if (error.code === "ENOENT") return `dangling symbolic link: its target ${target} does not exist`;
  if (error.code === "ELOOP") return `symbolic link loop: ${target} leads back to itself`;
  return `cannot follow symbolic link to ${target}: ${error.message}`;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
