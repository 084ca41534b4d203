import { SEVERITIES } from "../findings/finding.js";
import { FORMATS } from "../findings/formats/index.js";
import { deliveryNote, deliveryOptions } from "./delivery.js";
import { type CommandSpec, formatOption } from "./options.js";

/** The `watch` command's options: the single source for its flags and its documentation. */
export const watchSpec: CommandSpec = {
  name: "watch",
  arguments: "<source>",
  summary:
    "Runs until stopped, reading CloudTrail logs as they arrive and printing findings as they are found: a folder (new and grown files), `-` (JSON lines on standard input) or `sqs://QUEUE_URL` (a queue of S3 notifications for the trail's bucket). Shares the state, the formats and the output file of `scan`.",
  options: [
    formatOption(
      [...FORMATS.keys()],
      "output format: text, json (one array, written when watch stops), jsonl (one finding per line, as found)",
    ),
    ...deliveryOptions,
    {
      flags: "--min-severity <severity>",
      description: "print (and deliver with --to) only findings at or above this severity",
      choices: SEVERITIES,
      defaultValue: "info",
    },
    {
      flags: "-o, --output <file>",
      description: "append findings to this file instead of stdout, each exactly once across stops and restarts",
    },
    {
      flags: "--state <path>",
      description:
        "state file (SQLite), shared with `scan`; `:memory:` for a throw-away run; `postgres://…` for a state shared by several workers (run `firstcall state init` on it first)",
      defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
    },
    {
      flags: "-c, --config <file>",
      description: "YAML configuration (allowlists, your networks, accounts, endpoints)",
    },
    {
      flags: "--ip-ranges <file>",
      description: "AWS ip-ranges.json (default: the copy from `ip-ranges update`, else the shipped snapshot)",
    },
    {
      flags: "--bind-uncovered",
      description: "bind credentials whose issuance was not seen to their first call",
      defaultValue: false,
    },
    {
      flags: "--checkpoint-seconds <s>",
      description:
        "commit the state and deliver findings at the latest this long after the previous checkpoint; sooner when no log arrives and checkpoints are quick (at most a ninth of the time)",
      defaultValue: "1",
    },
    {
      flags: "--checkpoint-objects <n>",
      description: "…or after this many objects, whichever comes first",
      defaultValue: "500",
    },
    {
      flags: "--health-seconds <s>",
      description:
        "a health line on stderr this often: objects, events/s, lag from an object's arrival to its checkpoint, how far behind real time, sessions (0: none)",
      defaultValue: "60",
    },
    {
      flags: "--lateness <minutes>",
      description:
        "how long (event time) a record id is remembered to count a duplicate once, and a session kept after it ends",
      defaultValue: "60",
    },
    {
      flags: "-j, --jobs <n>",
      description: "threads that decompress and read log objects (0: the main thread)",
      defaultText: "the number of cores",
    },
    {
      flags: "--settle-seconds <s>",
      description:
        "folder: read a file once its size and time have not changed for this long (a gzip file that decompresses whole is read at once)",
      defaultValue: "1",
    },
    {
      flags: "--poll-seconds <s>",
      description: "folder: list it again this often, for the changes file-system events missed",
      defaultValue: "10",
    },
    { flags: "--batch-lines <n>", description: "`-`: lines per batch (one checkpoint unit)", defaultValue: "1000" },
    {
      flags: "--batch-seconds <s>",
      description: "`-`: a batch ends this long after its first line even when not full",
      defaultValue: "1",
    },
    {
      flags: "--visibility-seconds <s>",
      description: "SQS: visibility timeout of received messages, renewed while their objects are read and committed",
      defaultValue: "120",
    },
    {
      flags: "--profile <name>",
      description:
        "SQS and AWS destinations (--to sns/eventbridge/securityhub): AWS profile for credentials and region",
      defaultText: "$AWS_PROFILE, else the SDK's default chain",
    },
    {
      flags: "--region <region>",
      description: "SQS: region of the queue and the bucket",
      defaultText: "from the queue URL, else $AWS_REGION, $AWS_DEFAULT_REGION, the profile's",
    },
    {
      flags: "--endpoint-url <url>",
      description:
        "SQS: read S3 objects here instead of AWS (path-style requests); the queue URL names the queue's endpoint",
      defaultText: "$AWS_ENDPOINT_URL",
    },
    {
      flags: "--worker <name>",
      description:
        "with a shared (PostgreSQL) state: this worker's name; each worker running at the same time needs its own, a restarted one takes its old name to resume",
      defaultValue: "default",
    },
    {
      flags: "--lock-timeout <seconds>",
      description: "wait this long for another firstcall using the same state file (0: refuse at once)",
      defaultValue: "0",
    },
    {
      flags: "--summary-json [file]",
      description: "when stopped, write the summary as JSON (to the file, or to stderr instead of the text summary)",
    },
    { flags: "-q, --quiet", description: "no health lines and no text summary on stderr", defaultValue: false },
    {
      flags: "-v, --verbose",
      description: "text: each finding's evidence under its reason",
      defaultValue: false,
    },
  ],
  examples: [
    "firstcall watch AWSLogs/ --format jsonl --output findings.jsonl",
    "while true; do aws s3 sync s3://org-trail-bucket/AWSLogs/ AWSLogs/; sleep 60; done &  firstcall watch AWSLogs/",
    "firstcall watch sqs://https://sqs.eu-west-1.amazonaws.com/123456789012/trail-events --format jsonl",
    "kafka-console-consumer --topic cloudtrail … | firstcall watch - --format jsonl",
    "firstcall watch sqs://https://sqs.eu-west-1.amazonaws.com/123456789012/trail-events --to slack:env:SLACK_WEBHOOK_URL --to securityhub --to webhook:https://siem.example/ingest",
  ],
  notes: [
    '**Sources.** A folder: the log files in it (as `scan` lists them), then every new file and every file that grew, once it is complete: at once for a gzip file that decompresses whole (its trailer proves it was not cut short), else once its size has not changed for `--settle-seconds`; file-system events make it prompt, a listing every `--poll-seconds` catches what they miss; a grown file is read again, skipping the records counted before. `-`: one JSON value per line, each a CloudTrail record or an envelope holding records (EventBridge event, CloudWatch Logs subscription message, `{"Records":[…]}`), cut into batches; batches are not remembered in the state. `sqs://` followed by the queue URL, with or without `https://` (`sqs://https://sqs.eu-west-1.amazonaws.com/123456789012/trail-events`): messages in each shape AWS sends for new objects — S3 event notifications (the `s3:TestEvent` is deleted and ignored), the same through SNS (raw delivery or not), EventBridge `Object Created` events, CloudTrail\'s own SNS notification (`s3Bucket`, `s3ObjectKey`); the objects they name are read from S3 (digest files are not fetched).',
    "**Delivery.** Findings are printed at each checkpoint: every event read is judged then, without waiting for the lateness window (evidence that arrives later retracts a finding, as in `scan`). A folder's files and S3 objects are remembered in the state: a restarted watch, or a `scan` of the same files, skips them. An SQS message is deleted only once every object it names is committed; its visibility is renewed meanwhile. A message that is not a notification, or whose object cannot be read, is not deleted: it comes back after its visibility timeout and the queue's redrive policy moves it to its dead-letter queue after `maxReceiveCount`; each time, stderr names it with its receive count.",
    `${deliveryNote} A destination that is down is tried again after 2 s, doubling up to 5 min, also while no log arrives; it is named once on stderr when it stops taking findings and once when it takes them again. When watch stops, owed rows are tried once more and those still owed are named on stderr (the exit code stays 0: they are in the state for the next run).`,
    "**Stopping.** SIGINT (Ctrl-C) or SIGTERM: the object being read is finished, the state committed, the summary printed, and watch exits 0 (a second signal exits at once with 130; the last checkpoint is still there). Watch also ends, exit 0, when standard input ends. Findings and unreadable objects do not change the exit code of watch (they are in the output, the health lines and the summary); 2, 3 (the queue cannot be read), 4 and 5 mean what they mean for `scan`.",
  ],
};
