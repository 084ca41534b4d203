/**
 * Where `scan` puts its findings: the chosen format, filtered by `--min-severity`, to stdout or
 * appended to `--output`; a format that is one document (`json`, `asff`, `html`) is held back and
 * written once at the end; a format's header (`csv`) goes once before the first finding. Kept apart from scan.ts so that the command file only wires options together.
 */
import { UsageError } from "../errors.js";
import type { Finding, Severity } from "../findings/finding.js";
import { asffFormatWith } from "../findings/formats/asff.js";
import { renderComplete } from "../findings/formats/format.js";
import { type FindingFormat, FORMATS } from "../findings/formats/index.js";
import { textFormatWith } from "../findings/formats/text.js";
import { CollectingSink, MinSeveritySink } from "../findings/select.js";
import { FileSink } from "../findings/sinks/file.js";
import { StreamSink } from "../findings/sinks/stream.js";
import type { FindingSink } from "../pipeline/scan.js";

export interface FindingOutput {
  readonly format: FindingFormat;
  readonly sink: FindingSink;
  /** Findings handed to the format so far (after `--min-severity`). */
  readonly printed: () => number;
  /**
   * After the scan: writes a held-back document (or, with no finding printed, a format's header).
   * Also when the scan failed (what was found is shown).
   */
  finish(): Promise<void>;
  /** Closes the `--output` file, if any. */
  close(): void;
}

/**
 * The format named by `--format`; a usage error naming the valid ones otherwise.
 *
 * @example
 * findingFormat("jsonl").name // "jsonl"
 */
export function findingFormat(name: string): FindingFormat {
  const format = FORMATS.get(name);
  if (!format)
    throw new UsageError("E_USAGE", `--format: unknown format ${name} (valid: ${[...FORMATS.keys()].join(", ")})`);
  return format;
}

/**
 * Builds the sink chain for a scan.
 *
 * @example
 * const out = findingOutput({ format: "jsonl", minSeverity: "medium", writeStdout });
 * await runScan({ …, sink: out.sink }); await out.finish(); out.close();
 */
export function findingOutput(options: {
  readonly format: string;
  readonly minSeverity: Severity;
  readonly outputPath?: string;
  /** Text: each finding's evidence under its reason. */
  readonly verbose?: boolean;
  /** ASFF: the Region and account of the Security Hub the findings are imported into. */
  readonly asffRegion?: string;
  readonly asffAccount?: string;
  readonly writeStdout: (text: string) => Promise<void>;
}): FindingOutput {
  const named = findingFormat(options.format);
  if ((options.asffRegion !== undefined || options.asffAccount !== undefined) && named.name !== "asff")
    throw new UsageError("E_USAGE", "--asff-region and --asff-account go with --format asff (or --to securityhub)");
  const format =
    named.name === "text" && options.verbose
      ? textFormatWith({ verbose: true })
      : named.name === "asff"
        ? asffFormatWith({
            ...(options.asffRegion !== undefined ? { productRegion: options.asffRegion } : {}),
            ...(options.asffAccount !== undefined ? { productAccount: options.asffAccount } : {}),
          })
        : named;
  if (format.document && options.outputPath !== undefined) {
    throw new UsageError(
      "E_USAGE",
      `--format ${format.name} is one document and cannot be appended to --output: use --format jsonl`,
    );
  }
  const file = options.outputPath !== undefined ? new FileSink(options.outputPath, format) : undefined;
  const collected = format.document ? new CollectingSink() : undefined;
  const target: FindingSink = file ?? collected ?? new StreamSink(options.writeStdout, format);
  let printed = 0;
  const counting: FindingSink = {
    ...(target.path !== undefined ? { path: target.path } : {}),
    open: (bytes) => target.open?.(bytes) ?? Promise.resolve(),
    write: async (findings: readonly Finding[]) => {
      printed += findings.length;
      return target.write(findings);
    },
  };
  return {
    format,
    sink: options.minSeverity === "info" ? counting : new MinSeveritySink(counting, options.minSeverity),
    printed: () => printed,
    finish: async () => {
      if (collected) await options.writeStdout(renderComplete(format, collected.findings));
      // A header-only output (CSV with no findings) still tells a reader the columns.
      else if (format.header !== undefined && !file && printed === 0) await options.writeStdout(format.header);
    },
    close: () => file?.close(),
  };
}
