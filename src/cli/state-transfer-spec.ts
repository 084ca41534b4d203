/** Specs of `firstcall state export`, `import`, `prune` and `retire-worker`: flags and documentation. */
import { type CommandSpec, formatOption } from "./options.js";

const stateOption = {
  flags: "--state <location>",
  description: "a SQLite state file, or a PostgreSQL database (`postgres://…`)",
  defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
} as const;

const reportFormat = formatOption(["text", "json"], "format of the report (json: one object)");

/** `firstcall state export`. */
export const stateExportSpec: CommandSpec = {
  name: "state export",
  arguments: "",
  summary:
    "Writes every record of a state (sessions, findings, finding statuses with their full history, the delivery outbox, scanned objects, fleet knowledge, stream positions, settings, output lengths, staged events of a shared state) to a dump that any store can import: JSON lines, gzipped when the file ends in .gz, with a header (format version 2; version 1 dumps, which have no statuses or outbox, still import) and a trailer counting the records. An outbox row keeps its state: a delivery still owed is owed by the imported state (claims by running workers are not carried), one delivered is not sent again. The dump is one consistent snapshot: a PostgreSQL state may be exported while its workers run (one transaction), a SQLite state while a scan writes it (one read transaction), a DynamoDB state under its checkpoint lock (workers' checkpoints wait until the export ends; DynamoDB keeps processed event ids without their events, so they are exported with their id and time only). The report (on stderr when the dump goes to standard output) counts the records of each type.",
  options: [
    stateOption,
    {
      flags: "--output <file>",
      description: "write the dump here (created 0600; .gz: gzipped)",
      defaultText: "standard output",
    },
    reportFormat,
  ],
  examples: [
    "firstcall state export --state ~/.local/state/firstcall/state.sqlite --output state.jsonl.gz",
    "firstcall state export --state postgres://detector@db.internal/firstcall --output shared.jsonl.gz",
  ],
  notes: [
    "The dump holds what the state holds: ARNs, access key ids, addresses and the evidence of findings. Keep it as private as the state.",
  ],
};

/** `firstcall state import`. */
export const stateImportSpec: CommandSpec = {
  name: "state import",
  arguments: "<file>",
  summary:
    "Writes a dump made by `state export` into a state, in one transaction: all of it or nothing. A dump that is truncated or damaged (its trailer missing or counting other numbers) imports nothing. A state that already holds data is refused: two states' stream positions (which records were already processed) and scanned objects (which later scans skip) cannot be mixed correctly. A PostgreSQL or DynamoDB target must be initialised first (`state init`) and have no worker running (DynamoDB: the dump is written as one checkpoint, through its redo log). Into SQLite, the positions of several workers are merged into one (every record any of them processed stays de-duplicated), and a dump whose workers left events read but not processed is refused (let them finish first). The report counts the records read and the records the state holds afterwards.",
  options: [
    stateOption,
    {
      flags: "--force",
      description:
        "import into a state that holds data: its content is replaced by the dump's (in the same transaction)",
      defaultValue: false,
    },
    reportFormat,
  ],
  examples: [
    "firstcall state init --state postgres://detector@db.internal/firstcall && firstcall state import --state postgres://detector@db.internal/firstcall state.jsonl.gz",
    "firstcall state import --state ./consolidated.sqlite shared.jsonl.gz",
    "firstcall state init --state dynamodb://firstcall-state?region=eu-west-1 && firstcall state import --state dynamodb://firstcall-state?region=eu-west-1 state.jsonl.gz",
  ],
};

/** `firstcall state prune`. */
export const statePruneSpec: CommandSpec = {
  name: "state prune",
  arguments: "",
  summary:
    "Drops what is older than a cut, in one transaction: findings whose time (first offending call) is before it, with their statuses, status history (audit trail) and settled outbox rows; outbox rows delivered, skipped or rejected last changed before it; sessions whose credentials' validity ended before it, scanned-object records whose object was last modified before it (for S3, when CloudTrail delivered it), and (PostgreSQL) processed staged events before it. Events not processed yet are never dropped, nor is a delivery still owed: a finding older than the cut with a pending outbox row is kept, and the report counts it. The cut must be before the newest event the state has processed, so live sessions are never dropped. Reports the counts; --dry-run only counts. Runs between the checkpoints of a shared state's workers.",
  options: [
    stateOption,
    {
      flags: "--before <time>",
      description: "the cut: an ISO-8601 time, a date, or a duration before now (90d)",
      required: true,
    },
    { flags: "--dry-run", description: "count what would be dropped; change nothing", defaultValue: false },
    reportFormat,
  ],
  examples: [
    "firstcall state prune --before 90d --dry-run",
    "firstcall state prune --state postgres://detector@db.internal/firstcall --before 2026-06-01",
  ],
  notes: [
    "What pruning costs: a pruned object is no longer known as scanned, so if it is presented again (the same folder or bucket prefix scanned again) it is read again, and its calls are judged again on the sessions left, which no longer know the pruned ones: a finding dropped by the prune may come back, and a credential issued before the cut counts as uncovered. Scan windows after the cut (`--since`) to avoid that. A pruned finding is no longer shown by `scan --all`, `explain` or `serve`.",
  ],
};

/** `firstcall state retire-worker`. */
export const stateRetireWorkerSpec: CommandSpec = {
  name: "state retire-worker",
  arguments: "<name>",
  summary:
    "Marks a worker of a shared (PostgreSQL) state that will not come back as finished. A stopped worker's position holds back the processing of every other worker (the stream advances with its slowest worker); once retired it no longer does. Refused while a process runs under that name (its lock is held). The worker's position and output lengths are kept: a process started again under the name resumes from them. The objects it read after its last checkpoint are not recorded as scanned: give them to another worker.",
  options: [stateOption, reportFormat],
  examples: ["firstcall state retire-worker host-c --state postgres://detector@db.internal/firstcall"],
  notes: [
    "When no worker is left running and events wait (the report says how many), they are processed by the next worker run: start any worker once, for example the retired one over no new objects.",
  ],
};
