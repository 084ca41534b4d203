/**
 * One typed table of options per command drives both the commander flags and the generated CLI
 * reference (docs/cli.md, `npm run docs:cli`), so the two cannot drift apart.
 */
import { type Command, Option } from "commander";

export interface OptionSpec {
  /** commander flags, e.g. `--state <path>`. */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string | boolean;
  /** What the default means when it is computed (shown in docs instead of the value). */
  readonly defaultText?: string;
  readonly choices?: readonly string[];
  readonly repeatable?: boolean;
  /** The command fails without it. */
  readonly required?: boolean;
  /** Left out of --help and the reference: a knob for tests and benchmarks, or an old spelling kept working. */
  readonly hidden?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  readonly arguments: string;
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  readonly examples: readonly string[];
  /** Behaviours the option table cannot say (messages, exit codes), one paragraph each, in the generated reference. */
  readonly notes?: readonly string[];
}

/**
 * Adds a command under `parent` from its spec: the last word of the spec's name, its arguments and
 * options. The caller adds the action.
 */
export function commandFromSpec(parent: Command, spec: CommandSpec): Command {
  const cmd = parent.command(spec.name.split(" ").at(-1) ?? spec.name).description(spec.summary);
  if (spec.arguments) cmd.arguments(spec.arguments);
  for (const o of toOptions(spec.options)) cmd.addOption(o);
  return cmd;
}

/** Builds commander options from specs. */
export function toOptions(specs: readonly OptionSpec[]): Option[] {
  return specs.map((s) => {
    const o = new Option(s.flags, s.description);
    if (s.choices) o.choices(s.choices as string[]);
    if (s.defaultValue !== undefined) o.default(s.defaultValue, s.defaultText);
    if (s.repeatable) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    if (s.required) o.makeOptionMandatory();
    if (s.hidden) o.hideHelp();
    return o;
  });
}

/**
 * A Markdown table with its columns padded to equal width, so that the generated file reads well as
 * plain text too. A `|` inside a cell is escaped.
 *
 * @example
 * markdownTable(["code", "meaning"], [["0", "ok"]])
 * // "| code | meaning |\n| ---- | ------- |\n| 0    | ok      |"
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [header, ...rows].map((r) => header.map((_, i) => (r[i] ?? "").replaceAll("|", "\\|")));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const [head, ...body] = cells;
  return [line(head ?? []), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/**
 * The output vocabulary every command shares: `--format` with these names. A command offers the
 * ones it can produce; any other is a usage error naming the valid ones (commander's choices).
 */
export const OUTPUT_FORMATS = ["text", "json", "jsonl", "ocsf", "asff", "csv", "html"] as const;

/**
 * The `--format` option of a command that can produce `formats`.
 *
 * @example
 * formatOption(["text", "json"]) // --format <format>, choices text and json, default text
 */
export function formatOption(formats: readonly string[], description = "output format"): OptionSpec {
  return { flags: "--format <format>", description, choices: formats, defaultValue: "text" };
}

/** Markdown for one command (used by the generated CLI reference, src/cli/docs.ts). */
export function renderCommandDoc(spec: CommandSpec): string {
  const rows = spec.options
    .filter((o) => !o.hidden)
    .map((o) => {
      const def = o.required
        ? "required"
        : (o.defaultText ?? (o.defaultValue === undefined ? "" : String(o.defaultValue)));
      const choices = o.choices ? ` (${o.choices.join(", ")})` : "";
      return [`\`${o.flags}\``, `${o.description}${choices}`, def];
    });
  const lines = [
    `## firstcall ${spec.name} ${spec.arguments}`.trimEnd(),
    "",
    spec.summary,
    "",
    markdownTable(["option", "meaning", "default"], rows),
  ];
  for (const note of spec.notes ?? []) lines.push("", note);
  lines.push("", "Examples:", "", "```sh", ...spec.examples, "```", "");
  return lines.join("\n");
}
