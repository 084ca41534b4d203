import { FORMATS } from "../findings/formats/index.js";
import type { CommandSpec } from "./options.js";

/** The `scan` command's options: the single source for its flags and its documentation. */
export const scanSpec: CommandSpec = {
  name: "scan",
  arguments: "<path...>",
  summary:
    "Reads CloudTrail logs (files, directories in the S3 layout, `-` for stdin), finds temporary credentials used away from their holder, and prints the findings. State (sessions, findings, scanned files) is kept so that a later scan over newer files continues where this one stopped.",
  options: [
    {
      flags: "-f, --format <format>",
      description: "output format",
      choices: [...FORMATS.keys()],
      defaultValue: "text",
    },
    {
      flags: "--state <path>",
      description: "state file (SQLite); `:memory:` for a throw-away run",
      defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
    },
    {
      flags: "-c, --config <file>",
      description: "YAML configuration (allowlists, your networks, accounts, endpoints)",
    },
    {
      flags: "--ip-ranges <file>",
      description:
        "AWS ip-ranges.json, to classify addresses (default: the copy from `ip-ranges update`, else the shipped snapshot)",
    },
    { flags: "--since <time>", description: "only events at or after this ISO-8601 time" },
    { flags: "--until <time>", description: "only events before this ISO-8601 time" },
    {
      flags: "--fail-on <severity>",
      description: "exit 1 when a finding is at or above this severity",
      choices: ["none", "low", "medium", "high"],
      defaultValue: "high",
    },
    {
      flags: "--bind-uncovered",
      description: "bind credentials whose issuance was not seen to their first call",
      defaultValue: false,
    },
    {
      flags: "--summary-json [file]",
      description: "write the summary as JSON (to the file, or to stderr instead of the text summary)",
    },
    {
      flags: "--rescan",
      description: "read files again even if the state says they were scanned",
      defaultValue: false,
    },
    {
      flags: "--all",
      description: "print every finding in the state, not only new or changed ones",
      defaultValue: false,
    },
    {
      flags: "--max-object-bytes <n>",
      description: "largest decompressed log object accepted",
      defaultText: "536870912",
    },
    {
      flags: "-o, --output <file>",
      description:
        "append findings to this file instead of stdout; each finding is written exactly once, even when the scan is killed and run again",
    },
    {
      flags: "--lateness <minutes>",
      description:
        "how late (in event time) a record may arrive and still be put in order; records later than this are processed out of order and counted in the summary",
      defaultValue: "60",
    },
    {
      flags: "-j, --jobs <n>",
      description:
        "threads that decompress and read log objects (0: read on the main thread); results do not depend on it",
      defaultText: "the number of cores",
    },
    {
      flags: "--reorder-buffer <events>",
      description:
        "events always held in the reorder buffer before any is released (a smaller input is put in order whole); memory grows by about 0.5 KB per event",
      defaultValue: "100000",
    },
    {
      flags: "--checkpoint-objects <n>",
      description: "commit state and deliver findings after this many objects",
      defaultValue: "500",
    },
    {
      flags: "--checkpoint-seconds <s>",
      description: "…or after this many seconds, whichever comes first",
      defaultValue: "10",
    },
    {
      flags: "--lock-timeout <seconds>",
      description: "wait this long for another scan using the same state file (0: refuse at once)",
      defaultValue: "0",
    },
    {
      flags: "--progress",
      description: "show progress (objects, events/s, ETA) on stderr",
      defaultText: "on when stderr is a terminal",
    },
    { flags: "--no-progress", description: "never show progress" },
    { flags: "-q, --quiet", description: "no text summary on stderr", defaultValue: false },
  ],
  examples: [
    "firstcall scan AWSLogs/ --format jsonl > findings.jsonl",
    "firstcall scan s3-copy/AWSLogs/o-abc123/ --config firstcall.yaml --ip-ranges ip-ranges.json",
    "zcat file.json.gz | firstcall scan - --state :memory:",
  ],
};
