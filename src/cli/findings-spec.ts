/** `firstcall findings ack|suppress|reopen|status`: the single source for their flags and documentation. */
import { type CommandSpec, formatOption } from "./options.js";

const stateOption = {
  flags: "--state <location>",
  description: "the state file a scan writes, or its PostgreSQL database (`postgres://…`)",
  defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
} as const;
const byOption = {
  flags: "--by <name>",
  description: "who is deciding (recorded as `NAME (cli)`; `cli` without it)",
} as const;
const beside =
  "Works while a scan or watch runs on the same state (it does not take the scan's lock: the status is one small transaction in tables a scan never writes), and `firstcall serve` shows the change on open dashboards within a poll interval. A SQLite state of schema 3 must be upgraded first (`firstcall state init`, or the next scan).";

function decideSpec(name: "ack" | "suppress", what: string, example: string): CommandSpec {
  return {
    name: `findings ${name}`,
    arguments: "<finding-id>",
    summary: `${what} The id may be shortened to a unique prefix. The decision is kept with its reason, who and when, and every earlier one (\`findings status ID\`). ${beside}`,
    options: [
      { flags: "--reason <text>", description: "why (required; at most 1000 characters)", required: true },
      byOption,
      stateOption,
    ],
    examples: [example],
  };
}

export const findingsAckSpec = decideSpec(
  "ack",
  "Marks a finding acknowledged: someone has seen it and is handling it.",
  'firstcall findings ack 9094dc6c152f --reason "rotating the role, INC-42" --by alice',
);
export const findingsSuppressSpec = decideSpec(
  "suppress",
  "Marks a finding suppressed: not a threat (a test, a known tool); sinks do not alert it again.",
  'firstcall findings suppress 9094dc6c152f --reason "red team exercise SEC-123"',
);
export const findingsReopenSpec: CommandSpec = {
  name: "findings reopen",
  arguments: "<finding-id>",
  summary: `Clears an acknowledgement or suppression: the finding is open again (the history keeps what it was). ${beside}`,
  options: [{ flags: "--reason <text>", description: "why (optional)" }, byOption, stateOption],
  examples: ["firstcall findings reopen 9094dc6c152f"],
};
export const findingsStatusSpec: CommandSpec = {
  name: "findings status",
  arguments: "[finding-id]",
  summary:
    "Without an id: every finding that is acknowledged or suppressed, with reason, who and when. With an id: that finding's status and every change of it (the audit trail). Reads only.",
  options: [
    stateOption,
    formatOption(["text", "json"], "output format (json: one `firstcall.finding-statuses/v1` object)"),
  ],
  examples: ["firstcall findings status", "firstcall findings status 9094dc6c152f --format json"],
};
