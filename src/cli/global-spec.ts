import { LOG_LEVELS } from "../log.js";
import type { OptionSpec } from "./options.js";

/** Options every command takes (before or after the command name): diagnostics for bug reports. */
export const globalOptions: readonly OptionSpec[] = [
  {
    flags: "--log-level <level>",
    description:
      "write diagnostic logs (JSON lines: paths, counts, timings, errors with stacks) to stderr at this level",
    choices: LOG_LEVELS,
    defaultText: "silent",
  },
  { flags: "--debug", description: "the same as --log-level debug" },
];
