import { type CommandSpec, formatOption } from "./options.js";

/** The `eval` command's options: the single source for its flags and its documentation. */
export const evalSpec: CommandSpec = {
  name: "eval",
  arguments: "<findings>",
  summary:
    "Score findings (scan --format jsonl; `-` for standard input) against truth.jsonl: per attack kind detected/missed, recall and detection delay; false positives by cause; precision.",
  options: [
    { flags: "--truth <file>", description: "truth.jsonl written by simulate", required: true },
    {
      flags: "--fleet <file>",
      description: "fleet.jsonl written by simulate",
      defaultText: "next to --truth, when present",
    },
    formatOption(["text", "json"]),
    { flags: "--json-out <file>", description: "also write the JSON report to this file" },
  ],
  examples: [
    "firstcall eval --truth sim/truth.jsonl findings.jsonl",
    "firstcall eval --truth sim/truth.jsonl --format json findings.jsonl > eval.json",
  ],
};
