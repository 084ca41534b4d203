import { type CommandSpec, formatOption } from "./options.js";

const stateOption = {
  flags: "--state <location>",
  description:
    "a SQLite state file, a PostgreSQL database (`postgres://…`) or a DynamoDB table (`dynamodb://TABLE?region=…`)",
  defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
} as const;

/** `firstcall state init`: the single source for its flags and its documentation. */
export const stateInitSpec: CommandSpec = {
  name: "state init",
  arguments: "",
  summary:
    "Creates the state, or migrates it to this firstcall's schema. For PostgreSQL this is the only command that changes the schema (scans refuse an uninitialised or older database and say to run it); it is safe to run twice and from several hosts at once (an advisory lock makes them take turns, each migration is applied once). For DynamoDB it creates the table (on-demand capacity) if missing, waits until it is active and writes its layout items; safe to run twice and at once. For SQLite it creates the file if missing and checks it (scans create it themselves).",
  options: [stateOption, formatOption(["text", "json"], "output format (json: the result as one object)")],
  examples: [
    "firstcall state init --state postgres://detector@db.internal/firstcall",
    "firstcall state init --state dynamodb://firstcall-state?region=eu-west-1",
    "firstcall state init --state ~/firstcall.sqlite",
  ],
  notes: [
    "The PostgreSQL role needs the right to create tables in the database's current schema; the tables are named `firstcall_*`. Scanning workers then need only SELECT, INSERT, UPDATE and DELETE on them.",
    "DynamoDB: `dynamodb://TABLE?region=REGION` (also `profile=`, `endpoint=` for a DynamoDB-compatible server, `lease=SECONDS` for the checkpoint lock's lease, default 10); credentials come from the usual AWS chain. `state init` needs `dynamodb:CreateTable` and `DescribeTable`; workers need `GetItem`, `PutItem`, `UpdateItem`, `Query`, `BatchGetItem` and `BatchWriteItem` on the table (`state inspect` also `Scan` and `DescribeTable`; `state export`, `import --force` and `prune` also `Scan`).",
  ],
};

/** `firstcall state inspect`: the single source for its flags and its documentation. */
export const stateInspectSpec: CommandSpec = {
  name: "state inspect",
  arguments: "",
  summary:
    "Shows what a state holds: schema version, size, sessions, findings and scanned objects, the event times of the oldest and newest finding, when objects were scanned, and for a shared state each worker's position. Reads only; a password in the URL is never printed.",
  options: [stateOption, formatOption(["text", "json"], "output format (json: one `firstcall.state-info/v1` object)")],
  examples: [
    "firstcall state inspect --state postgres://detector@db.internal/firstcall",
    "firstcall state inspect --format json",
  ],
};
