import { SEVERITIES } from "../findings/finding.js";
import { FORMATS } from "../findings/formats/index.js";
import { deliveryNote, deliveryOptions } from "./delivery.js";
import { type CommandSpec, formatOption } from "./options.js";

/** The `scan` command's options: the single source for its flags and its documentation. */
export const scanSpec: CommandSpec = {
  name: "scan",
  arguments: "<path...>",
  summary:
    "Reads CloudTrail logs (files, directories in the S3 layout, `-` for stdin, `s3://bucket/prefix` straight from S3), finds temporary credentials used away from their holder, and prints the findings. State (sessions, findings, scanned files) is kept so that a later scan over newer files continues where this one stopped.",
  options: [
    formatOption(
      [...FORMATS.keys()],
      "output format: text (a table for people), json (one array, written when the scan ends), jsonl (one finding per line, as found), ocsf (OCSF 1.8.0 Detection Finding events, one per line), asff (one array for Security Hub BatchImportFindings, written when the scan ends), csv (a header and one row per finding, formula-safe), html (one self-contained page, written when the scan ends)",
    ),
    { flags: "-f <format>", description: "the same as --format", hidden: true },
    {
      flags: "--asff-region <region>",
      description:
        "with --format asff or --to securityhub: the Region of the Security Hub the findings are imported into (its ProductArn); needed when findings from several Regions go to one aggregation Region",
      defaultText: "each finding's Region",
    },
    {
      flags: "--asff-account <account-id>",
      description:
        "with --format asff or --to securityhub: the account that imports the findings (its ProductArn); each finding's AwsAccountId stays the credential's account",
      defaultText: "each finding's account",
    },
    ...deliveryOptions,
    {
      flags: "--min-severity <severity>",
      description:
        "print only findings at or above this severity; the exit code considers only what is printed (--fail-on below it acts as --fail-on at it)",
      choices: SEVERITIES,
      defaultValue: "info",
    },
    {
      flags: "--state <path>",
      description:
        "state file (SQLite); `:memory:` for a throw-away run; `postgres://…` or `dynamodb://TABLE?region=…` for a state shared by several workers (run `firstcall state init` on it first)",
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
    {
      flags: "--since <time>",
      description:
        "only events at or after this time: ISO-8601 (2026-11-01T03:00Z; without a zone it is UTC), a date (2026-11-01, midnight UTC) or a duration before now (30m, 24h, 7d, 2w)",
    },
    { flags: "--until <time>", description: "only events before this time (same forms as --since)" },
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
      flags: "--profile <name>",
      description: "s3:// inputs: AWS profile for credentials and region",
      defaultText: "$AWS_PROFILE, else the SDK's default chain",
    },
    {
      flags: "--region <region>",
      description: "s3:// inputs: the bucket's region (a wrong one is followed to the right one)",
      defaultText: "$AWS_REGION, $AWS_DEFAULT_REGION, profile, else us-east-1",
    },
    {
      flags: "--endpoint-url <url>",
      description: "s3:// inputs: send S3 requests here instead of AWS (an S3-compatible server; path-style requests)",
      defaultText: "$AWS_ENDPOINT_URL",
    },
    {
      flags: "--s3-concurrency <n>",
      description:
        "s3:// inputs: S3 requests at a time (listings and GETs); throttled and failed requests are retried with backoff ($AWS_MAX_ATTEMPTS attempts, default 8)",
      defaultValue: "16",
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
      description:
        "…or after this many seconds, whichever comes first (when not given: 10, or nine times the last checkpoint's duration if longer)",
      defaultValue: "10",
    },
    {
      flags: "--worker <name>",
      description:
        "with a shared (PostgreSQL or DynamoDB) state: this worker's name; each worker running at the same time needs its own, a restarted one takes its old name to resume",
      defaultValue: "default",
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
    "firstcall scan AWSLogs/ --format ocsf > findings.ocsf.jsonl",
    "firstcall scan AWSLogs/ --format asff --asff-region eu-west-1 --asff-account 111122223333 > findings.asff.json",
    "firstcall scan AWSLogs/ --format html > findings.html",
    "firstcall scan s3-copy/AWSLogs/o-abc123/ --config firstcall.yaml --ip-ranges ip-ranges.json",
    "zcat file.json.gz | firstcall scan - --state :memory:",
    "firstcall scan AWSLogs/ --since 24h",
    "firstcall scan AWSLogs/ --to slack:env:SLACK_WEBHOOK_URL --to securityhub --to webhook+ocsf:@/run/secrets/siem-url",
    "firstcall scan s3://org-trail-bucket/AWSLogs/o-abc123example/ --since 7d --profile audit",
    'firstcall scan AWSLogs/ --since 2026-11-01 --until "2026-11-01 06:00"',
  ],
  notes: [
    "**Time window.** `--since` and `--until` take an ISO-8601 time with `Z` or an offset (`2026-11-01T03:00Z`, `2026-11-01T05:00+02:00`; `T` or a space between date and time); a time without a zone is UTC, as CloudTrail's `eventTime` is, whatever the machine's zone; a date is midnight UTC at its start (`2026-11-01`); a duration counts back from now, as in `aws logs tail --since` (`30m`, `24h`, `7d`, `2w`; units `s` `m` `h` `d` `w`). Anything else (`\"Jan 1 2024\"`, a bare number) and a `--since` that is not before `--until` are usage errors: one line naming the flag, exit 2.",
    '**Nothing scanned is not "no findings".** When no CloudTrail log is found under any path given (an empty folder, a folder of other files such as `docs/`), stderr says so for each path (`firstcall: docs/: no CloudTrail log found: 4 files ignored, not named like log files (…); nothing was scanned`), nothing else is printed (no "No findings.", no summary) and the exit code is 3. When only some of the paths hold none, a warning names each of them after the summary and the exit code is unchanged.',
    "**A path that does not exist** (or cannot be listed) is reported first, before any finding: `firstcall: logs/: no such file or directory`. When nothing else could be read it is the only line, and the exit code is 3; otherwise the scan goes on, the summary lists it again and the exit code is 3 unless a finding sets 1.",
    "**S3.** `s3://bucket/prefix` reads CloudTrail straight from the bucket with the AWS SDK's credentials (environment, `--profile`, SSO, instance role), in the plain layout (`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`) or an organisation trail's (`AWSLogs/o-…/ACCOUNT/…`); the prefix may point anywhere in that tree. With `--since`/`--until` only the day folders of the window are listed (and the day after `--until`, since CloudTrail files an event under the day it delivered it), not the whole trail. Objects are skipped on a later scan when their ETag and size are unchanged. A prefix or object that cannot be read (access denied) is named on stderr and in the summary, and the exit code is 3, while the rest is scanned. Needs `s3:ListBucket` (on the prefixes) and `s3:GetObject`, and `kms:Decrypt` for a trail encrypted with SSE-KMS. Local paths and `s3://` URLs can be mixed in one scan.",
    "**Symbolic links** are followed, to folders and to files, also when they point outside the path given (a synced bucket often links account folders in): each real folder is walked once and each real file read once, under the first path that reaches it, so link loops end. A dangling link or a link that loops onto itself is an error naming the link (exit 3).",
    "**Formats.** `text`, `jsonl`, `ocsf` and `csv` are written as findings are found (`csv`'s header once, at the top; into an `--output` file only while it is empty); `json`, `asff` and `html` are one document each, written when the scan ends, and cannot be appended to `--output`. `ocsf` events validate against data/ocsf/detection_finding-1.8.0.schema.json. `asff` is an array for `aws securityhub batch-import-findings --findings file://findings.asff.json` (at most 100 findings per call); its `ProductArn` is a custom integration's (`arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`), which Security Hub accepts only from that account in that Region: by default each finding's own, else `--asff-region` and `--asff-account`.",
    `${deliveryNote} After the run every owed row is tried once more; what is still owed is named on stderr and in the summary (\`delivery\`), and the exit code is 7 unless a finding sets 1.`,
    "**`--all`** prints every finding in the state; the exit code follows `--fail-on` over the findings printed, not only this run's new ones.",
    "**State.** A scan skips the files its state (`--state`, `FIRSTCALL_STATE`, or the default path that `firstcall scan --help` prints) has already scanned, and prints only new findings. When nothing new was read, stderr says so: `N files skipped as already scanned in STATE; --all shows the stored findings, --rescan reads them again, or use another --state`. The state keeps a fingerprint of the settings its files were judged with (the configuration with defaults filled in, the content of the `--ip-ranges` file, `--bind-uncovered`); a scan with other settings warns before reading that the files already scanned are not judged again, and that `--rescan` (or a fresh `--state`) judges them with the current ones. A state path that cannot be created (its folder cannot be made, a parent is a file) is a state error, exit 4, at once.",
  ],
};
