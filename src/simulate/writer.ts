/**
 * Writes records the way CloudTrail delivers them to S3:
 * `AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM16.json.gz`,
 * one gzipped `{"Records":[…]}` per account, region and ~5 minutes, records in no order, the file
 * name stamped with the delivery time. Some batches are delivered late (by up to 20 minutes) and a
 * few records are delivered twice (same eventID, in a later file).
 *
 * Compression runs on libuv's thread pool with a bounded number of files in flight, so writing keeps
 * pace with generation and memory stays flat however long the simulated period.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { ALNUM, type Rng } from "./prng.js";
import type { JsonObject } from "./records.js";

const gzip = promisify(gzipCallback);

export interface TrailWriterOptions {
  readonly outDir: string;
  /** `o-…`: write an organisation trail's layout. */
  readonly organizationId?: string;
  /** Share of (account, region, window) batches of which part is delivered late. */
  readonly lateBatchShare?: number;
  /** Share of records delivered a second time. */
  readonly duplicateShare?: number;
  /** Larger batches are split over several files, as CloudTrail does. */
  readonly maxRecordsPerFile?: number;
  readonly gzipLevel?: number;
}

export interface WriterStats {
  files: number;
  /** Records written, duplicates included. */
  records: number;
  duplicates: number;
  lateFiles: number;
  rawBytes: number;
  gzBytes: number;
}

interface PendingFile {
  readonly deliverAt: number;
  readonly account: string;
  readonly region: string;
  readonly records: string[];
  readonly late: boolean;
}

const MINUTE = 60_000;

/**
 * @example
 * const w = new TrailWriter(rng, { outDir: "out" });
 * w.add("111122223333", "us-east-1", record);
 * await w.closeWindow(windowEndMs);
 * await w.finish();
 */
export class TrailWriter {
  readonly stats: WriterStats = { files: 0, records: 0, duplicates: 0, lateFiles: 0, rawBytes: 0, gzBytes: 0 };
  /** Every file written, relative to outDir, in the order written. */
  readonly files: string[] = [];
  private readonly batches = new Map<string, { account: string; region: string; records: string[] }>();
  /** Duplicates waiting for the next window's file of their account and region. */
  private readonly carried = new Map<string, string[]>();
  private late: PendingFile[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly madeDirs = new Set<string>();
  private failure: unknown;
  private readonly lateShare: number;
  private readonly dupShare: number;
  private readonly maxPerFile: number;
  private readonly level: number;

  constructor(
    private readonly rng: Rng,
    private readonly options: TrailWriterOptions,
  ) {
    this.lateShare = options.lateBatchShare ?? 0.06;
    this.dupShare = options.duplicateShare ?? 0.002;
    this.maxPerFile = options.maxRecordsPerFile ?? 2500;
    this.level = options.gzipLevel ?? 6;
  }

  /** Adds a record to the current window's batch for its account and region. */
  add(account: string, region: string, record: JsonObject): void {
    const key = `${account}/${region}`;
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { account, region, records: [] };
      this.batches.set(key, batch);
    }
    batch.records.push(JSON.stringify(record));
  }

  /** Delivers the window that ends at `windowEnd`, and any late files now due. */
  async closeWindow(windowEnd: number): Promise<void> {
    const keys = [...this.batches.keys()].sort();
    for (const key of keys) {
      const batch = this.batches.get(key);
      if (!batch) continue;
      const records = batch.records;
      const carried = this.carried.get(key);
      this.carried.delete(key);
      if (carried) records.push(...carried);
      const dups: string[] = [];
      for (const r of records) if (this.rng.chance(this.dupShare)) dups.push(r);
      if (dups.length) this.carried.set(key, dups);
      this.stats.duplicates += dups.length;

      let onTime = records;
      if (records.length > 1 && this.rng.chance(this.lateShare)) {
        this.rng.shuffle(records);
        const cut = this.rng.between(1, records.length - 1);
        onTime = records.slice(0, cut);
        this.late.push({
          deliverAt: windowEnd + this.rng.between(5, 20) * MINUTE,
          account: batch.account,
          region: batch.region,
          records: records.slice(cut),
          late: true,
        });
      }
      await this.deliver({
        deliverAt: windowEnd + this.rng.between(0, 4) * MINUTE,
        account: batch.account,
        region: batch.region,
        records: onTime,
        late: false,
      });
    }
    this.batches.clear();
    const due = this.late.filter((f) => f.deliverAt <= windowEnd);
    this.late = this.late.filter((f) => f.deliverAt > windowEnd);
    for (const f of due) await this.deliver(f);
  }

  /** Delivers everything still held back and waits for the disk. */
  async finish(windowEnd: number): Promise<void> {
    await this.closeWindow(windowEnd);
    for (const [key, records] of [...this.carried.entries()].sort()) {
      const [account = "", region = ""] = key.split("/");
      await this.deliver({ deliverAt: windowEnd + 5 * MINUTE, account, region, records, late: false });
    }
    this.carried.clear();
    for (const f of this.late) await this.deliver(f);
    this.late = [];
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async deliver(file: PendingFile): Promise<void> {
    if (file.records.length === 0) return;
    this.rng.shuffle(file.records);
    for (let i = 0; i < file.records.length; i += this.maxPerFile) {
      await this.writeOne(file, file.records.slice(i, i + this.maxPerFile));
    }
  }

  private async writeOne(file: PendingFile, records: string[]): Promise<void> {
    const d = new Date(file.deliverAt);
    const yyyy = String(d.getUTCFullYear());
    const mm = String(d.getUTCMonth() + 1).padStart(2, "0");
    const dd = String(d.getUTCDate()).padStart(2, "0");
    const hhmm = `${String(d.getUTCHours()).padStart(2, "0")}${String(d.getUTCMinutes()).padStart(2, "0")}`;
    const org = this.options.organizationId ? [this.options.organizationId] : [];
    const dir = join("AWSLogs", ...org, file.account, "CloudTrail", file.region, yyyy, mm, dd);
    const name = `${file.account}_CloudTrail_${file.region}_${yyyy}${mm}${dd}T${hhmm}Z_${this.rng.chars(16, ALNUM)}.json.gz`;
    const rel = join(dir, name);
    const text = `{"Records":[${records.join(",")}]}`;
    this.files.push(rel);
    this.stats.files++;
    this.stats.records += records.length;
    if (file.late) this.stats.lateFiles++;
    this.stats.rawBytes += Buffer.byteLength(text);

    const absDir = join(this.options.outDir, dir);
    if (!this.madeDirs.has(absDir)) {
      await mkdir(absDir, { recursive: true });
      this.madeDirs.add(absDir);
    }
    const job: Promise<void> = (async () => {
      const gz = await gzip(text, { level: this.level });
      this.stats.gzBytes += gz.length;
      await writeFile(join(this.options.outDir, rel), gz);
    })()
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
    // Back-pressure: two compressions per core keep the thread pool busy without piling up text.
    if (this.inFlight.size >= 8) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }
}
