/**
 * Findings to a stream (standard output): each batch is written and flushed before the checkpoint
 * that counts it delivered. A failed write (disk full, closed pipe) rejects with `OutputError`.
 */
import { OutputError } from "../../errors.js";
import type { FindingSink } from "../../pipeline/scan.js";
import type { Finding } from "../finding.js";
import type { FindingFormat } from "../formats/format.js";

/** @example await runScan({ …, sink: new StreamSink(process.stdout, textFormat) }) */
export class StreamSink implements FindingSink {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly format: FindingFormat,
    private readonly name = "standard output",
  ) {}

  write(findings: readonly Finding[]): Promise<undefined> {
    const text = this.format.render(findings);
    return writeFlushed(this.stream, text, this.name);
  }
}

/** Writes text and resolves once the stream has flushed it; rejects with OutputError on any error. */
export function writeFlushed(stream: NodeJS.WritableStream, text: string, name: string): Promise<undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      stream.removeListener("error", fail);
      reject(new OutputError("E_OUTPUT", `cannot write findings to ${name}: ${e.message}`, { cause: e }));
    };
    stream.on("error", fail);
    stream.write(text, (err?: Error | null) => {
      if (err) return fail(err);
      if (settled) return;
      settled = true;
      stream.removeListener("error", fail);
      resolve(undefined);
    });
  });
}
