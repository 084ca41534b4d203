/**
 * `firstcall findings ack|suppress|reopen|status`: what people decided about findings, for scripts
 * (the dashboard of `firstcall serve` does the same with buttons).
 */
import type { Command } from "commander";
import type { FindingStatusValue, StateStore } from "../state/store.js";
import { findingsAckSpec, findingsReopenSpec, findingsStatusSpec, findingsSuppressSpec } from "./findings-spec.js";
import { commandFromSpec } from "./options.js";

interface DecideFlags {
  reason?: string;
  by?: string;
  state?: string;
}
interface StatusFlags {
  state?: string;
  format: "text" | "json";
}

/**
 * Opens the state for statuses: a SQLite file without the scan's lock (a connection that may write
 * statuses only), a PostgreSQL database or DynamoDB table without registering as a worker.
 */
async function openForStatuses(location: string | undefined): Promise<StateStore> {
  const { existsSync } = await import("node:fs");
  const { StateError } = await import("../errors.js");
  const { defaultStatePath, isSharedLocation, openAnyStore } = await import("../state/open.js");
  const { SqliteStore } = await import("../state/sqlite.js");
  const { safeText } = await import("../safe-text.js");
  const statePath = location ?? defaultStatePath();
  if (isSharedLocation(statePath)) return openAnyStore(statePath, { readOnly: true });
  if (statePath === ":memory:" || !existsSync(statePath))
    throw new StateError(
      "E_STATE",
      `${safeText(statePath)}: no state file: run firstcall scan with this --state first`,
    );
  return SqliteStore.open(statePath, { readOnly: true, statusWrites: true });
}

async function decide(status: FindingStatusValue, id: string, flags: DecideFlags): Promise<void> {
  const { UsageError } = await import("../errors.js");
  const { findStoredFinding } = await import("../findings/find.js");
  const { FindingStatusError } = await import("../state/store.js");
  const { safeText } = await import("../safe-text.js");
  const store = await openForStatuses(flags.state);
  try {
    if (!store.setFindingStatus) throw new UsageError("E_USAGE", `${store.location}: this state keeps no statuses`);
    const finding = findStoredFinding(await store.allFindings(), id).finding;
    const by = flags.by?.trim();
    try {
      await store.setFindingStatus({
        id: finding.id,
        status,
        reason: flags.reason ?? "",
        actor: by ? `${by} (cli)` : "cli",
        at: new Date().toISOString(),
      });
    } catch (e) {
      if (e instanceof FindingStatusError) throw new UsageError("E_USAGE", e.message);
      throw e;
    }
    process.stdout.write(`${finding.id}: ${status}\n`);
    process.stderr.write(
      `firstcall: ${safeText(finding.rule)} ${safeText(finding.principal.arn)} from ${safeText(finding.sourceIp)}\n`,
    );
  } finally {
    await store.close();
  }
}

export function registerFindings(program: Command): void {
  const group = program
    .command("findings")
    .description("Acknowledge, suppress or reopen findings, and show what was decided (with who, when and why).");
  commandFromSpec(group, findingsAckSpec).action((id: string, flags: DecideFlags) => decide("acknowledged", id, flags));
  commandFromSpec(group, findingsSuppressSpec).action((id: string, flags: DecideFlags) =>
    decide("suppressed", id, flags),
  );
  commandFromSpec(group, findingsReopenSpec).action((id: string, flags: DecideFlags) => decide("open", id, flags));
  commandFromSpec(group, findingsStatusSpec).action(async (id: string | undefined, flags: StatusFlags) => {
    const { findStoredFinding } = await import("../findings/find.js");
    const { safeJsonStringify, safeText } = await import("../safe-text.js");
    const { writeOutput } = await import("./output.js");
    const store = await openForStatuses(flags.state);
    try {
      const all = await store.allFindings();
      if (id !== undefined) {
        const finding = findStoredFinding(all, id).finding;
        const current = (await store.findingStatuses?.([finding.id]))?.get(finding.id);
        const history = (await store.findingStatusHistory?.(finding.id)) ?? [];
        const out = { id: finding.id, status: current ?? { id: finding.id, status: "open" }, history };
        if (flags.format === "json") {
          await writeOutput(
            process.stdout,
            `${safeJsonStringify({ schema: "firstcall.finding-statuses/v1", findings: [out] })}\n`,
          );
          return;
        }
        const lines = [`${finding.id}  ${current?.status ?? "open"}`];
        for (const h of history)
          lines.push(`  ${h.at}  ${h.status.padEnd(12)}  ${h.actor}${h.reason ? `: ${h.reason}` : ""}`);
        if (history.length === 0) lines.push("  (never acknowledged or suppressed)");
        await writeOutput(process.stdout, `${lines.map((l) => safeText(l)).join("\n")}\n`);
        return;
      }
      const statuses = (await store.findingStatuses?.()) ?? new Map();
      const known = new Set(all.map((s) => s.finding.id));
      const rows = [...statuses.values()].filter((s) => known.has(s.id)).sort((a, b) => (a.at < b.at ? 1 : -1));
      if (flags.format === "json") {
        await writeOutput(
          process.stdout,
          `${safeJsonStringify({ schema: "firstcall.finding-statuses/v1", findings: rows.map((s) => ({ id: s.id, status: s })) })}\n`,
        );
        return;
      }
      const lines = rows.map((s) => `${s.id.slice(0, 12)}  ${s.status.padEnd(12)}  ${s.at}  ${s.actor}: ${s.reason}`);
      if (lines.length === 0) lines.push("no finding is acknowledged or suppressed");
      await writeOutput(process.stdout, `${lines.map((l) => safeText(l)).join("\n")}\n`);
    } finally {
      await store.close();
    }
  });
}
