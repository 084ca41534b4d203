/**
 * A findings file written exactly once per finding, even across kills: the state keeps the length of
 * the file that holds delivered findings, and a run that finds the file longer (findings written by
 * a run killed before its checkpoint committed) cuts it back before going on — those findings are
 * computed and written again from the objects that were not committed.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { OutputError } from "../../errors.js";
import type { FindingSink } from "../../pipeline/scan.js";
import type { Finding } from "../finding.js";
import type { FindingFormat } from "../formats/format.js";

/** @example const sink = new FileSink("findings.jsonl", jsonlFormat); await runScan({ …, sink }); sink.close(); */
export class FileSink implements FindingSink {
  readonly path: string;
  private fd: number | undefined;

  constructor(
    path: string,
    private readonly format: FindingFormat,
  ) {
    this.path = resolve(path);
  }

  async open(committedBytes: number | undefined): Promise<void> {
    try {
      this.fd = openSync(this.path, "a+", 0o600);
      const size = fstatSync(this.fd).size;
      if (committedBytes !== undefined && size > committedBytes) ftruncateSync(this.fd, committedBytes);
    } catch (e) {
      throw new OutputError("E_OUTPUT", `${this.path}: cannot open for writing: ${(e as Error).message}`, { cause: e });
    }
  }

  async write(findings: readonly Finding[]): Promise<number> {
    if (this.fd === undefined) await this.open(undefined);
    const fd = this.fd as number;
    try {
      // A header only at the top of the file: a file appended to already has one.
      const header = this.format.header !== undefined && fstatSync(fd).size === 0 ? this.format.header : "";
      writeSync(fd, `${header}${this.format.render(findings)}`);
      fsyncSync(fd);
      return fstatSync(fd).size;
    } catch (e) {
      throw new OutputError("E_OUTPUT", `${this.path}: cannot write findings: ${(e as Error).message}`, { cause: e });
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
