/**
 * A file as a destination (`--to file:PATH`, `--to file+ocsf:PATH`): each batch is appended in a
 * streaming format and flushed to disk (`fsync`) before it counts as delivered. Unlike `--output`,
 * whose committed length makes it exactly-once, a file destination is at-least-once like every
 * destination: a kill between the write and the outbox's mark writes the batch again on the next
 * run, so readers keep the last line per finding `id`.
 */
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { Finding } from "../finding.js";
import type { FindingFormat } from "../formats/format.js";
import { allFailed, type Destination, type SendResult } from "./destination.js";

/** @example new FileDestination("/var/log/firstcall/findings.ocsf.jsonl", ocsfFormat) */
export class FileDestination implements Destination {
  readonly name: string;
  readonly maxBatch = 500;

  constructor(
    private readonly path: string,
    private readonly format: FindingFormat,
  ) {
    this.name = `file ${path}`;
  }

  async send(findings: readonly Finding[]): Promise<SendResult> {
    let fd: number | undefined;
    try {
      fd = openSync(this.path, "a", 0o600);
      // A header (CSV's) only at the top of the file: a file appended to already has one.
      const header = this.format.header !== undefined && fstatSync(fd).size === 0 ? this.format.header : "";
      writeSync(fd, `${header}${this.format.render(findings)}`);
      fsyncSync(fd);
      return { delivered: findings.map((f) => f.id), failed: [] };
    } catch (e) {
      // A full disk or a missing folder may be fixed by the next run: kept pending, not dropped.
      const err = e as NodeJS.ErrnoException;
      return allFailed(findings, true, `${this.name}: ${err.code ?? err.message}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
