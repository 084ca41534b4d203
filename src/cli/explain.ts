/** `firstcall explain <finding-id>`: the evidence of one finding, from the state a scan left. */
import type { Command } from "commander";
import { type CommandSpec, formatOption, toOptions } from "./options.js";

export const explainSpec: CommandSpec = {
  name: "explain",
  arguments: "<finding-id>",
  summary:
    "Prints the evidence of one finding kept in the state: the credential's home address and when it was bound, the offending calls (event ids, names, first and last time, count, keys, user agents), and the evidence that was looked for and not found. The id may be shortened to a unique prefix (the text table shows 12 characters).",
  options: [
    formatOption(["text", "json"], "output format (json: the explanation as one object)"),
    {
      flags: "--state <path>",
      description: "state file the scan wrote, or its shared state (`postgres://…`, `dynamodb://…`)",
      defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
    },
    { flags: "-c, --config <file>", description: "the configuration the scan used (for the learning window)" },
    {
      flags: "--lock-timeout <seconds>",
      description: "wait this long for a scan using the same state file (0: refuse at once)",
      defaultValue: "0",
    },
  ],
  examples: ["firstcall explain 9094dc6c152f", "firstcall explain 9094dc6c152f --format json --state state.sqlite"],
};

interface ExplainFlags {
  format: "text" | "json";
  state?: string;
  config?: string;
  lockTimeout: string;
}

export function registerExplain(program: Command): void {
  const cmd = program.command(explainSpec.name).description(explainSpec.summary).argument(explainSpec.arguments);
  for (const o of toOptions(explainSpec.options)) cmd.addOption(o);
  cmd.action(async (id: string, flags: ExplainFlags) => {
    const { existsSync } = await import("node:fs");
    const { StateError, UsageError } = await import("../errors.js");
    const { defaultConfig, loadConfig } = await import("../config/config.js");
    const { defaultStatePath, isSharedLocation, openAnyStore } = await import("../state/open.js");
    const { findStoredFinding } = await import("../findings/find.js");
    const { explain, renderExplanationText } = await import("../findings/explain.js");
    const { safeJsonStringify, safeText } = await import("../safe-text.js");
    const { writeOutput } = await import("./output.js");
    const lockSeconds = Number(flags.lockTimeout);
    if (!Number.isFinite(lockSeconds) || lockSeconds < 0)
      throw new UsageError("E_USAGE", `--lock-timeout: not a non-negative number: ${flags.lockTimeout}`);
    const config = flags.config ? loadConfig(flags.config) : defaultConfig();
    const statePath = flags.state ?? defaultStatePath();
    if (statePath === ":memory:" || (!isSharedLocation(statePath) && !existsSync(statePath)))
      throw new StateError(
        "E_STATE",
        `${safeText(statePath)}: no state file: run firstcall scan with this --state first`,
      );
    const store = await openAnyStore(statePath, { lockTimeoutMs: lockSeconds * 1000, readOnly: true });
    try {
      const stored = findStoredFinding(await store.allFindings(), id);
      const session = (await store.loadSessions([stored.session])).get(stored.session);
      const explanation = explain(stored, session, await store.loadFleet(), config.learnWindowMinutes);
      await writeOutput(
        process.stdout,
        flags.format === "json" ? `${safeJsonStringify(explanation)}\n` : renderExplanationText(explanation),
      );
    } finally {
      await store.close();
    }
  });
}
