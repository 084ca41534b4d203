/**
 * The generated CLI reference (docs/cli.md): every command of the program, in the program's order,
 * with its option table from the same spec the command's flags are built from, and the exit codes.
 * `npm run docs:cli` writes it; a test checks the committed file.
 */
import type { Command } from "commander";
import { EXIT_CODES } from "../exit-codes.js";
import { evalSpec } from "./eval-spec.js";
import { explainSpec } from "./explain.js";
import { findingsAckSpec, findingsReopenSpec, findingsStatusSpec, findingsSuppressSpec } from "./findings-spec.js";
import { globalOptions } from "./global-spec.js";
import { imdsProxySpec } from "./imds-proxy-spec.js";
import { imdsReportSpec } from "./imds-report-spec.js";
import { ipRangesUpdateSpec } from "./ip-ranges-spec.js";
import { buildProgram } from "./main.js";
import { type CommandSpec, markdownTable, renderCommandDoc } from "./options.js";
import { policyGenerateSpec, policyTestSpec } from "./policy-spec.js";
import { scanSpec } from "./scan-spec.js";
import { serveSpec } from "./serve.js";
import { simulateSpec } from "./simulate-spec.js";
import { stateInitSpec, stateInspectSpec } from "./state-spec.js";
import { stateExportSpec, stateImportSpec, statePruneSpec, stateRetireWorkerSpec } from "./state-transfer-spec.js";
import { trailblazerSpecs } from "./trailblazer.js";
import { watchSpec } from "./watch-spec.js";

/** Every command's spec. A new command adds its spec here (a test checks that none is missing). */
export const COMMAND_SPECS: readonly CommandSpec[] = [
  scanSpec,
  watchSpec,
  explainSpec,
  findingsAckSpec,
  findingsSuppressSpec,
  findingsReopenSpec,
  findingsStatusSpec,
  simulateSpec,
  evalSpec,
  ipRangesUpdateSpec,
  imdsReportSpec,
  imdsProxySpec,
  stateInitSpec,
  stateInspectSpec,
  stateExportSpec,
  stateImportSpec,
  statePruneSpec,
  stateRetireWorkerSpec,
  ...trailblazerSpecs,
  policyGenerateSpec,
  policyTestSpec,
  serveSpec,
];

/** A command's name below the program, e.g. `trailblazer replay run`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The program's commands, depth first in the order they were added (help commands left out). */
export function programCommands(program: Command = buildProgram()): Command[] {
  return program.commands.flatMap((c) => [c, ...programCommands(c)]);
}

/** Markdown for a command that only groups subcommands. */
function renderGroupDoc(cmd: Command): string {
  const subcommands = cmd.commands.map((c) => `\`${c.name()}\``).join(", ");
  return [`## firstcall ${commandPath(cmd)}`, "", cmd.description(), "", `Subcommands: ${subcommands}.`, ""].join("\n");
}

/** Markdown for every command of the program, from its spec; a command without one is an error. */
export function renderCommandsDoc(program: Command = buildProgram()): string {
  return programCommands(program)
    .map((cmd) => {
      if (cmd.commands.length > 0) return renderGroupDoc(cmd);
      const path = commandPath(cmd);
      const spec = COMMAND_SPECS.find((s) => s.name === path);
      if (!spec) throw new Error(`no option spec for command ${path}: add it to COMMAND_SPECS in src/cli/docs.ts`);
      return renderCommandDoc(spec);
    })
    .join("\n");
}

/** Markdown for the options every command takes, and the output vocabulary they share. */
export function renderGlobalOptionsDoc(): string {
  return [
    "## Options of every command",
    "",
    "Given before or after the command name. Every command that prints something takes `--format` with the same names: `text` (for people), `json` (one document) and `jsonl` (one JSON object per line); a command lists the ones it can produce, and any other is a usage error naming them. A usage error is one line and a pointer to the command's `--help`.",
    "",
    markdownTable(
      ["option", "meaning", "default"],
      globalOptions.map((o) => [
        `\`${o.flags}\``,
        `${o.description}${o.choices ? ` (${o.choices.join(", ")})` : ""}`,
        o.defaultText ?? "",
      ]),
    ),
    "",
  ].join("\n");
}

/** Markdown for the exit codes (from EXIT_CODES in src/exit-codes.ts). */
export function renderExitCodesDoc(): string {
  return [
    "## Exit codes",
    "",
    "`firstcall scan` exits with one of these codes, each with one meaning. The other commands use 0, 2, 5 and 70 in the same sense; `trailblazer run` also exits 1 when the run stopped early or no call got an answer, `trailblazer replay record` when no step was recorded, and `trailblazer replay run` when a step failed on the network; `policy generate` and `policy test` use 3 and 6 as the table says.",
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
    "# CLI reference\n\nGenerated from the commands' option tables (`src/cli/*-spec.ts`, `src/cli/trailblazer.ts`, `src/cli/explain.ts`) and the exit codes in `src/exit-codes.ts` by `npm run docs:cli`; do not edit by hand.\n\n";
  return header + [renderGlobalOptionsDoc(), renderCommandsDoc(), renderExitCodesDoc()].join("\n");
}
