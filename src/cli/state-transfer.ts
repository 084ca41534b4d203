/**
 * `firstcall state export`, `import`, `prune` and `retire-worker`: move a state between stores
 * through a dump (src/state/state-dump.ts), drop what is old, retire a dead worker of a shared state.
 * The work is done by the stores (`exportRecords`, `importRecords`, `prune`), so a store that
 * implements them takes part without changes here.
 */
import type { Command } from "commander";
import { safeText } from "../safe-text.js";
import type { ImportResult, PruneResult, RecordCounts, StateStore } from "../state/store.js";
import { commandFromSpec } from "./options.js";
import { stateExportSpec, stateImportSpec, statePruneSpec, stateRetireWorkerSpec } from "./state-transfer-spec.js";

interface Flags {
  state?: string;
  format: "text" | "json";
}

/** The store at `location` for a maintenance command: a shared store without registering a worker, SQLite with its writer's lock. */
async function openForMaintenance(location: string, options: { readOnly: boolean }): Promise<StateStore> {
  const { openAnyStore, isSharedLocation } = await import("../state/open.js");
  const { UsageError } = await import("../errors.js");
  if (location === ":memory:")
    throw new UsageError("E_USAGE", "--state :memory: holds nothing to export, import or prune");
  // A shared store's "read-only" open only means "not a worker": it takes no name and holds no other worker back.
  return openAnyStore(location, { readOnly: options.readOnly || isSharedLocation(location) });
}

async function unsupported(store: StateStore, what: string): Promise<never> {
  const { StateError } = await import("../errors.js");
  await store.close();
  throw new StateError("E_STATE", `${store.location}: this kind of state cannot ${what}`);
}

function write(flags: Flags, json: object, text: string, toStderr = false): void {
  const out = toStderr ? process.stderr : process.stdout;
  // Each line made safe on its own: names from the state or the dump may hold control characters.
  out.write(
    flags.format === "json"
      ? `${JSON.stringify(json)}\n`
      : `${text
          .split("\n")
          .map((l) => safeText(l))
          .join("\n")}\n`,
  );
}

export function registerStateTransfer(group: Command, version: string): void {
  commandFromSpec(group, stateExportSpec).action(async (flags: Flags & { output?: string }) => {
    const { defaultStatePath, isDynamoLocation, isPostgresLocation } = await import("../state/open.js");
    const { writeDump, describeCounts } = await import("../state/state-dump.js");
    const location = flags.state ?? defaultStatePath();
    const store = await openForMaintenance(location, { readOnly: true });
    try {
      if (!store.exportRecords) return await unsupported(store, "be exported");
      const source = isPostgresLocation(location)
        ? { kind: "postgres", schemaVersion: (await import("../state/postgres.js")).PG_SCHEMA_VERSION }
        : isDynamoLocation(location)
          ? { kind: "dynamodb", schemaVersion: (await import("../state/dynamodb.js")).DYNAMO_SCHEMA_VERSION }
          : { kind: "sqlite", schemaVersion: (await import("../state/sqlite.js")).SCHEMA_VERSION };
      const { counts, bytes } = await writeDump(
        store.exportRecords(),
        { firstcall: version, source, createdAt: new Date().toISOString() },
        flags.output,
      );
      const where = flags.output ?? "standard output";
      write(
        flags,
        { from: store.location, to: where, counts, bytes },
        `${store.location} → ${where}: ${describeCounts(counts)}${flags.output ? ` (${bytes} bytes)` : ""}`,
        flags.output === undefined,
      );
    } finally {
      await store.close();
    }
  });

  commandFromSpec(group, stateImportSpec).action(async (file: string, flags: Flags & { force: boolean }) => {
    const { defaultStatePath } = await import("../state/open.js");
    const { openDump } = await import("../state/state-dump.js");
    const location = flags.state ?? defaultStatePath();
    // The dump's header is checked before the target is opened (or created).
    const { header, records } = await openDump(file);
    const store = await openForMaintenance(location, { readOnly: false });
    try {
      if (!store.importRecords) return await unsupported(store, "be imported into");
      const result = await store.importRecords(records, { replace: flags.force });
      write(
        flags,
        { from: file, to: store.location, source: header.source, dumpedBy: header.firstcall, ...result },
        renderImport(file, store.location, header.source, result),
      );
    } finally {
      await store.close();
    }
  });

  commandFromSpec(group, statePruneSpec).action(async (flags: Flags & { before: string; dryRun: boolean }) => {
    const { defaultStatePath } = await import("../state/open.js");
    const { parseTimeArgument } = await import("../pipeline/time-window.js");
    const { UsageError } = await import("../errors.js");
    const before = parseTimeArgument(flags.before, "--before");
    const location = flags.state ?? defaultStatePath();
    const store = await openForMaintenance(location, { readOnly: false });
    try {
      if (!store.prune) return await unsupported(store, "be pruned");
      // Sessions still live at the newest processed event must never go: the next scan would bind
      // their credentials afresh, from whichever address calls next.
      const newest = (await store.loadFleet()).watermark;
      if (newest > 0 && before > newest)
        throw new UsageError(
          "E_USAGE",
          `--before ${flags.before} is after the newest event this state has processed (${new Date(newest).toISOString()}): it would drop live sessions. Give a cut before that time.`,
        );
      const result = await store.prune({ before, dryRun: flags.dryRun });
      write(
        flags,
        { state: store.location, before: new Date(before).toISOString(), dryRun: flags.dryRun, ...result },
        renderPrune(store.location, before, flags.dryRun, result),
      );
    } finally {
      await store.close();
    }
  });

  commandFromSpec(group, stateRetireWorkerSpec).action(async (name: string, flags: Flags) => {
    const { defaultStatePath, isPostgresLocation } = await import("../state/open.js");
    const { UsageError } = await import("../errors.js");
    const location = flags.state ?? defaultStatePath();
    if (!isPostgresLocation(location))
      throw new UsageError(
        "E_USAGE",
        "retire-worker applies to a shared state (--state postgres://…); a SQLite state has one writer and no workers",
      );
    const { PostgresStore } = await import("../state/postgres.js");
    const store = await PostgresStore.open(location, { readOnly: true });
    try {
      const r = await store.retireWorker(name);
      const next =
        r.stillRunning.length > 0
          ? `still running or stopped: ${r.stillRunning.join(", ")}`
          : r.waitingEvents > 0
            ? `no worker left running; ${r.waitingEvents} events wait to be processed: run any worker once (e.g. firstcall scan --state … --worker ${name} over no new objects)`
            : "no worker left running; nothing waits";
      write(
        flags,
        { state: store.location, ...r },
        `${store.location}: worker ${name} ${r.alreadyFinished ? "was already finished; nothing changed" : "retired"} (read up to ${r.readPosition ?? "nothing"}); ${next}`,
      );
    } finally {
      await store.close();
    }
  });
}

function countsLine(counts: RecordCounts): string {
  return (Object.keys(counts) as (keyof RecordCounts)[]).map((k) => `${k} ${counts[k]}`).join(", ");
}

/** The text report of `state import`: what was read, what the state holds, what was replaced or merged. */
export function renderImport(
  file: string,
  target: string,
  source: { kind: string; schemaVersion: number },
  r: ImportResult,
): string {
  const lines = [
    `${file} (from ${source.kind}, schema ${source.schemaVersion}) → ${target}`,
    `  read    ${countsLine(r.read)}`,
    `  stored  ${countsLine(r.stored)}`,
  ];
  if (Object.values(r.replaced).some((n) => n > 0))
    lines.push(`  replaced what the state held: ${countsLine(r.replaced)}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join("\n");
}

/** The text report of `state prune`. */
export function renderPrune(location: string, before: number, dryRun: boolean, r: PruneResult): string {
  const verb = dryRun ? "would drop" : "dropped";
  const lines = [
    `${location}: ${verb} ${r.findings} findings, ${r.sessions} sessions, ${r.objects} scanned-object records, ${r.events} processed staged events, the pruned findings' ${r.statuses} statuses and ${r.statusHistory} status changes, and ${r.outbox} settled outbox rows older than ${new Date(before).toISOString()}${dryRun ? " (dry run: nothing changed)" : ""}`,
  ];
  // Never silently: a delivery still owed keeps its finding, and the user learns why it stayed.
  if (r.keptPending > 0)
    lines.push(
      `  kept ${r.keptPending} older findings whose delivery is still owed (pending outbox rows): they go once delivered, or once their destination's rows are settled`,
    );
  return lines.join("\n");
}
