/**
 * Findings to a stream (standard output): each batch is rendered and handed to `write`, which must
 * resolve only once the text is flushed and reject with `OutputError` when it cannot be written;
 * the checkpoint that counts the findings delivered comes after. A format's header goes before the
 * first batch.
 */
import type { FindingSink } from "../../pipeline/scan.js";
import type { Finding } from "../finding.js";
import type { FindingFormat } from "../formats/format.js";

/** @example await runScan({ …, sink: new StreamSink((text) => writeOutput(process.stdout, text), textFormat) }) */
export class StreamSink implements FindingSink {
  private headerWritten = false;

  constructor(
    private readonly writeFlushed: (text: string) => Promise<void>,
    private readonly format: FindingFormat,
  ) {}

  async write(findings: readonly Finding[]): Promise<undefined> {
    const header = this.format.header !== undefined && !this.headerWritten ? this.format.header : "";
    await this.writeFlushed(`${header}${this.format.render(findings)}`);
    this.headerWritten = true;
    return undefined;
  }
}
