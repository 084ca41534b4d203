import { SEVERITIES } from "../findings/finding.js";
import { FORMATS } from "../findings/formats/index.js";
import { type CommandSpec, formatOption } from "./options.js";

/** The `scan` command's options: the single source for its flags and its documentation. */
export const scanSpec: CommandSpec = {
  name: "scan",
  arguments: "<path...>",
  summary:
    "Reads CloudTrail logs (files, directories in the S3 layout, `-` for stdin), finds temporary credentials used away from their holder, and prints the findings. State (sessions, findings, scanned files) is kept so that a later scan over newer files continues where this one stopped.",
  options: [
    formatOption(
      [...FORMATS.keys()],
      "output format: text (a table for people), json (one array, written when the scan ends), jsonl (one finding per line, as found)",
    ),
    { flags: "-f <format>", description: "the same as --format", hidden: true },
    {
      flags: "--min-severity <severity>",
      description:
        "print only findings at or above this severity; the exit code considers only what is printed (--fail-on below it acts as --fail-on at it)",
      choices: SEVERITIES,
      defaultValue: "info",
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
    { flags: "--ip-ranges <file>", description: "AWS ip-ranges.json, to classify addresses as inside or outside AWS" },
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
      description: "show progress (objects, events/s, findings, ETA) on stderr; on a pipe, a line every 5 seconds",
      defaultText: "on when stderr is a terminal (and no -q)",
    },
    { flags: "--no-progress", description: "never show progress" },
    { flags: "-q, --quiet", description: "no text summary on stderr", defaultValue: false },
    {
      flags: "-v, --verbose",
      description: "text: each finding's evidence (calls, event ids, names, keys, agents) under its reason",
      defaultValue: false,
    },
  ],
  examples: [
    "firstcall scan AWSLogs/ --format jsonl > findings.jsonl",
    "firstcall scan s3-copy/AWSLogs/o-abc123/ --config firstcall.yaml --ip-ranges ip-ranges.json",
    "zcat file.json.gz | firstcall scan - --state :memory:",
  ],
};
