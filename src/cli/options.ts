/**
 * One typed table of options per command drives both the commander flags and the generated CLI
 * reference (docs/cli.md, `npm run docs:cli`), so the two cannot drift apart.
 */
import { Option } from "commander";

export interface OptionSpec {
  /** commander flags, e.g. `--state <path>`. */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string | boolean;
  /** What the default means when it is computed (shown in docs instead of the value). */
  readonly defaultText?: string;
  readonly choices?: readonly string[];
  readonly repeatable?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  readonly arguments: string;
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  readonly examples: readonly string[];
}

/** Builds commander options from specs. */
export function toOptions(specs: readonly OptionSpec[]): Option[] {
  return specs.map((s) => {
    const o = new Option(s.flags, s.description);
    if (s.choices) o.choices(s.choices as string[]);
    if (s.defaultValue !== undefined) o.default(s.defaultValue, s.defaultText);
    if (s.repeatable) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    return o;
  });
}

/** Markdown for one command (used by scripts/gen-cli-docs.ts). */
export function renderCommandDoc(spec: CommandSpec): string {
  const lines = [
    `## firstcall ${spec.name} ${spec.arguments}`.trimEnd(),
    "",
    spec.summary,
    "",
    "| option | meaning | default |",
    "| --- | --- | --- |",
  ];
  for (const o of spec.options) {
    const def = o.defaultText ?? (o.defaultValue === undefined ? "" : String(o.defaultValue));
    const choices = o.choices ? ` (${o.choices.join(", ")})` : "";
    lines.push(`| \`${o.flags}\` | ${o.description}${choices} | ${def} |`);
  }
  lines.push("", "Examples:", "", "```sh", ...spec.examples, "```", "");
  return lines.join("\n");
}
