/**
 * A watched folder as a live source: the log files already there, then new files and files that
 * grew (a folder fed by `aws s3 sync` in a loop, or a log shipper appending lines).
 *
 * `fs.watch` (recursive) says promptly that something changed, but it misses events (renames across
 * folders, network file systems, overflow), so the folder is also listed again every `pollMs` as a
 * safety net. A file is offered once it is complete. A gzip file (CloudTrail writes `.json.gz`) proves
 * it: its last member ends with a trailer holding the CRC-32 and length of what it holds, which a file
 * cut short cannot have, so a gzip file that decompresses whole into a text ending in `}` is offered at
 * once. Any other file, or a gzip file that does not (yet) decompress, is offered once its size and
 * modification time have not changed for `settleMs`, as is every file already there when the watch
 * begins (a folder may start with thousands). A file offered before is offered again
 * when it changed (grown files: the pipeline skips the records it counted before). Files are listed
 * as `scan` lists them (`listLocalObjects`: log file names only, links followed).
 */
import { type FSWatcher, watch } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { deliveryOrderKey } from "../cloudtrail/layout.js";
import { log } from "../log.js";
import { safeText } from "../safe-text.js";
import { type LiveObject, LiveQueue, type LiveSource } from "./live.js";
import { type LogObjectRef, listLocalObjects } from "./local.js";

export interface DirectorySourceOptions {
  /** How long a file's size and modification time must stay the same before it is read (default 1 s). */
  readonly settleMs?: number;
  /** The folder is listed again this often, for the changes `fs.watch` missed (default 10 s). */
  readonly pollMs?: number;
  /** Told of problems listing the folder (unreadable subfolder, dangling link); the source goes on. */
  readonly onProblem?: (message: string) => void;
}

interface Candidate {
  size: number;
  mtimeMs: number;
  /** Since when size and time have been what they are. */
  sameSince: number;
  /** The size and time at which a gzip file was last found incomplete (not tried again until they change). */
  incompleteAt?: { size: number; mtimeMs: number };
  /**
   * Found by the first listing (there before the watch began): waits for the settle time instead of
   * being decompressed an extra time, since a folder may start with thousands of files.
   */
  preexisting?: boolean;
}

const gunzipAsync = promisify(gunzip);
/** Larger gzip files wait for the settle time instead of being decompressed an extra time. */
const COMPLETENESS_CHECK_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Whether a file is a complete gzip stream whose text ends like a JSON document or a JSON line.
 * Decompression runs on libuv's thread pool, off the engine's thread. A truncated stream fails
 * ("unexpected end of file"); so does one whose trailer's CRC-32 or length does not match.
 */
async function isCompleteGzip(path: string): Promise<boolean> {
  try {
    const text = await gunzipAsync(await readFile(path));
    let end = text.length - 1;
    while (end >= 0 && (text[end] === 0x20 || text[end] === 0x0a || text[end] === 0x0d || text[end] === 0x09)) end--;
    return end >= 0 && text[end] === 0x7d; // }
  } catch {
    return false;
  }
}

/**
 * @example
 * const source = new DirectorySource("AWSLogs/", { settleMs: 500 });
 * await runScan({ paths: [], live: source, signal });
 */
export class DirectorySource implements LiveSource {
  readonly name: string;
  private readonly settleMs: number;
  private readonly pollMs: number;
  private readonly queue = new LiveQueue<LiveObject>();
  /** Files waiting to settle. */
  private readonly candidates = new Map<string, Candidate>();
  /** What was last offered of each file (size and time), so that only changes are offered again. */
  private readonly offered = new Map<string, { size: number; mtimeMs: number }>();
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private listing: Promise<void> | undefined;
  private relist = false;
  private listedOnce = false;
  private closed = false;

  constructor(
    private readonly directory: string,
    private readonly options: DirectorySourceOptions = {},
  ) {
    this.name = directory;
    this.settleMs = options.settleMs ?? 1000;
    this.pollMs = options.pollMs ?? 10_000;
  }

  objects(signal: AbortSignal): AsyncIterable<LiveObject> {
    this.start();
    return this.queue.iterate(signal);
  }

  private start(): void {
    if (this.watcher || this.pollTimer) return;
    try {
      this.watcher = watch(this.directory, { recursive: true }, () => this.scheduleListing());
      this.watcher.on("error", (e) => {
        // The folder vanished or the watch failed: the periodic listing still runs and reports.
        log().warn({ err: e, folder: safeText(this.directory) }, "folder watch failed; listing it periodically");
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (e) {
      log().warn({ err: e, folder: safeText(this.directory) }, "cannot watch the folder; listing it periodically");
    }
    this.pollTimer = setInterval(() => this.scheduleListing(), this.pollMs);
    this.scheduleListing();
  }

  /**
   * Lists the folder (one listing at a time; a change during a listing lists once more after it).
   * fs.watch names files, but a rename of a folder names only the folder: listing the whole tree is
   * the one way to catch everything, and its cost is a `stat` per file.
   */
  private scheduleListing(): void {
    if (this.closed) return;
    if (this.listing) {
      this.relist = true;
      return;
    }
    this.listing = this.list()
      .catch((e) => this.options.onProblem?.(`${this.directory}: cannot list: ${(e as Error).message}`))
      .finally(() => {
        this.listing = undefined;
        if (this.relist) {
          this.relist = false;
          this.scheduleListing();
        }
      });
  }

  private async list(): Promise<void> {
    const { objects, problems } = await listLocalObjects([this.directory]);
    if (this.closed) return;
    for (const p of problems) this.options.onProblem?.(`${p.object}: ${p.message}`);
    const now = Date.now();
    for (const ref of objects) this.note(ref, now, !this.listedOnce);
    this.listedOnce = true;
    // Within the listing, so that two listings never offer the same file twice.
    await this.checkCandidates();
  }

  private note(ref: LogObjectRef, now: number, preexisting: boolean): void {
    const last = this.offered.get(ref.id);
    if (last && last.size === ref.size && last.mtimeMs === ref.mtimeMs) return;
    const c = this.candidates.get(ref.id);
    if (!c) this.candidates.set(ref.id, { size: ref.size, mtimeMs: ref.mtimeMs, sameSince: now, preexisting });
    else if (c.size !== ref.size || c.mtimeMs !== ref.mtimeMs) {
      c.size = ref.size;
      c.mtimeMs = ref.mtimeMs;
      c.sameSince = now;
    }
  }

  /** Offers the candidates that have settled, in delivery order; checks again while some are waiting. */
  private async checkCandidates(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    const ready: { path: string; c: Candidate }[] = [];
    for (const [path, c] of this.candidates) {
      if (now - c.sameSince >= this.settleMs || (await this.provenComplete(path, c))) ready.push({ path, c });
      if (this.closed) return;
    }
    ready.sort((a, b) => {
      const ka = deliveryOrderKey(a.path);
      const kb = deliveryOrderKey(b.path);
      return ka < kb ? -1 : ka > kb ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
    });
    // Settled by the listing: confirm with a fresh stat that nothing changed since (a stat is cheap).
    await this.offerSettled(ready);
    if (this.candidates.size > 0 && this.settleTimer === undefined) {
      this.settleTimer = setTimeout(
        () => {
          this.settleTimer = undefined;
          this.scheduleListing();
        },
        Math.max(50, Math.ceil(this.settleMs / 2)),
      );
    }
  }

  /** A gzip file not yet settled that proves it is complete; checked once per size and time. */
  private async provenComplete(path: string, c: Candidate): Promise<boolean> {
    if (
      this.settleMs === 0 ||
      c.preexisting ||
      !path.endsWith(".gz") ||
      c.size === 0 ||
      c.size > COMPLETENESS_CHECK_MAX_BYTES
    ) {
      return false;
    }
    if (c.incompleteAt?.size === c.size && c.incompleteAt.mtimeMs === c.mtimeMs) return false;
    const { size, mtimeMs } = c;
    if (await isCompleteGzip(path)) return true;
    c.incompleteAt = { size, mtimeMs };
    return false;
  }

  private async offerSettled(ready: readonly { path: string; c: Candidate }[]): Promise<void> {
    for (const { path, c } of ready) {
      let size: number;
      let mtimeMs: number;
      try {
        const st = await stat(path);
        size = st.size;
        mtimeMs = st.mtimeMs;
      } catch {
        this.candidates.delete(path); // gone again (a temporary file): nothing to read
        continue;
      }
      if (this.closed) return;
      if (size !== c.size || mtimeMs !== c.mtimeMs) {
        Object.assign(c, { size, mtimeMs, sameSince: Date.now() });
        continue;
      }
      this.candidates.delete(path);
      this.offered.set(path, { size, mtimeMs });
      this.queue.push(this.liveObject(path, mtimeMs));
    }
  }

  private liveObject(path: string, mtimeMs: number): LiveObject {
    return {
      id: path,
      availableAt: mtimeMs,
      remember: true,
      appendOnly: true,
      open: async () => {
        // Identity at the time of reading; a file that changed since is offered again after it settles.
        const st = await stat(path);
        return { size: st.size, mtimeMs: st.mtimeMs, source: { id: path, path, size: st.size } };
      },
      // Nothing to forget: a file is offered again only when it changes, read or not (an unreadable
      // file is not read in a loop; the pipeline reports it, and a later run tries it again).
      settle: () => {},
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.pollTimer);
    clearTimeout(this.settleTimer);
    this.queue.end();
    await this.listing;
  }
}
