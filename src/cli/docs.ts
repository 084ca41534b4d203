/**
 * The generated CLI reference (docs/cli.md): the commands' option tables and the exit codes, from the
 * same tables the program runs on. `npm run docs:cli` writes it; a test checks the committed file.
 */
import { EXIT_CODES } from "../exit-codes.js";
import { ipRangesUpdateSpec } from "./ip-ranges-spec.js";
import { markdownTable, renderCommandDoc } from "./options.js";
import { scanSpec } from "./scan-spec.js";

/** Markdown for the exit codes (from EXIT_CODES in src/exit-codes.ts). */
export function renderExitCodesDoc(): string {
  return [
    "## Exit codes",
    "",
    "`firstcall scan` exits with one of these codes, each with one meaning. The other commands use 0, 2, 5 and 70 in the same sense; `trailblazer run` also exits 1 when the run stopped early or no call got an answer, `trailblazer replay record` when no step was recorded, and `trailblazer replay run` when a step failed on the network.",
    "",
    markdownTable(
      ["code", "meaning"],
      EXIT_CODES.map((e) => [String(e.code), e.meaning]),
    ),
    "",
  ].join("\n");
}

/**
 * The whole of docs/cli.md.
 *
 * @example
 * writeFileSync("docs/cli.md", renderCliReference())
 */
export function renderCliReference(): string {
  const header =
    "# CLI reference\n\nGenerated from the option tables in `src/cli/*-spec.ts` and the exit codes in `src/exit-codes.ts` by `npm run docs:cli`; do not edit by hand.\n\n";
  return header + [renderCommandDoc(scanSpec), renderCommandDoc(ipRangesUpdateSpec), renderExitCodesDoc()].join("\n");
}
