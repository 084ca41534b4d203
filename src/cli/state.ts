/** `firstcall state init` and `firstcall state inspect`: create, migrate and look into a state. */
import type { Command } from "commander";
import { safeText } from "../safe-text.js";
import type { StateInfo } from "../state/store.js";
import { commandFromSpec } from "./options.js";
import { stateInitSpec, stateInspectSpec } from "./state-spec.js";
import { registerStateTransfer } from "./state-transfer.js";

interface StateFlags {
  state?: string;
  format: "text" | "json";
}

export function registerState(program: Command, version = "unknown"): void {
  const group = program
    .command("state")
    .description(
      "Create, migrate, inspect, move (export, import) and prune the state (SQLite, PostgreSQL or DynamoDB).",
    );
  commandFromSpec(group, stateInitSpec).action(async (flags: StateFlags) => {
    const { defaultStatePath, isDynamoLocation, isPostgresLocation } = await import("../state/open.js");
    const location = flags.state ?? defaultStatePath();
    let result: { location: string; from: number; to: number };
    if (isDynamoLocation(location)) {
      const { initDynamo, redactDynamoUrl } = await import("../state/dynamodb.js");
      result = { location: redactDynamoUrl(location), ...(await initDynamo(location)) };
    } else if (isPostgresLocation(location)) {
      const { migratePostgres, redactUrl } = await import("../state/postgres.js");
      result = { location: redactUrl(location), ...(await migratePostgres(location)) };
    } else {
      const { SqliteStore, sqliteInfo, SCHEMA_VERSION } = await import("../state/sqlite.js");
      const { UsageError } = await import("../errors.js");
      if (location === ":memory:") throw new UsageError("E_USAGE", "--state :memory: has nothing to initialise");
      const { existsSync } = await import("node:fs");
      const before = existsSync(location) ? sqliteInfo(location).schemaVersion : 0;
      await SqliteStore.open(location).close();
      result = { location, from: before, to: SCHEMA_VERSION };
    }
    if (flags.format === "json") process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const what =
        result.from === result.to
          ? `already at schema ${result.to}; nothing to do`
          : result.from === 0
            ? `created (schema ${result.to})`
            : `migrated from schema ${result.from} to ${result.to}`;
      process.stdout.write(`${safeText(result.location)}: ${what}\n`);
    }
  });
  commandFromSpec(group, stateInspectSpec).action(async (flags: StateFlags) => {
    const { defaultStatePath, isDynamoLocation, isPostgresLocation } = await import("../state/open.js");
    const location = flags.state ?? defaultStatePath();
    let info: StateInfo;
    if (isDynamoLocation(location)) {
      const { inspectDynamo } = await import("../state/dynamodb.js");
      info = await inspectDynamo(location);
    } else if (isPostgresLocation(location)) {
      const { inspectPostgres } = await import("../state/postgres.js");
      info = await inspectPostgres(location);
    } else {
      const { sqliteInfo } = await import("../state/sqlite.js");
      info = sqliteInfo(location);
    }
    if (flags.format === "json") {
      process.stdout.write(`${JSON.stringify({ schema: "firstcall.state-info/v1", ...info })}\n`);
      return;
    }
    process.stdout.write(renderStateInfo(info));
  });
  registerStateTransfer(group, version);
}

/** The text form of `state inspect`. */
export function renderStateInfo(info: StateInfo): string {
  const lines = [`${info.location} (${info.kind})`];
  if (info.schemaVersion === 0) {
    lines.push(`  not initialised: run firstcall state init --state ${info.location}`);
    return `${lines.map((l) => safeText(l)).join("\n")}\n`;
  }
  const version =
    info.schemaVersion === info.expectedSchemaVersion
      ? `${info.schemaVersion}`
      : `${info.schemaVersion} (this firstcall uses ${info.expectedSchemaVersion}${info.schemaVersion < info.expectedSchemaVersion ? ": run state init" : ""})`;
  lines.push(`  schema version  ${version}`);
  if (info.bytes !== undefined) lines.push(`  size            ${formatBytes(info.bytes)}`);
  lines.push(`  sessions        ${info.sessions ?? 0}`);
  lines.push(`  findings        ${info.findings ?? 0}`);
  lines.push(`  objects         ${info.objects ?? 0}`);
  if (info.statuses)
    lines.push(`  statuses        ${info.statuses.acknowledged} acknowledged, ${info.statuses.suppressed} suppressed`);
  if (info.outbox) {
    const o = info.outbox;
    lines.push(
      `  outbox          ${o.pending} pending, ${o.delivered} delivered, ${o.skipped} skipped, ${o.rejected} rejected`,
    );
  }
  if (info.findingTimes) lines.push(`  finding times   ${info.findingTimes.oldest} … ${info.findingTimes.newest}`);
  if (info.scanTimes) lines.push(`  scanned         ${info.scanTimes.oldest} … ${info.scanTimes.newest}`);
  for (const w of info.workers ?? []) {
    lines.push(
      `  worker ${w.worker}: ${w.finished ? "finished" : "running or stopped"}, processed up to ${w.watermark ?? "nothing yet"} (last checkpoint ${w.updatedAt})`,
    );
  }
  return `${lines.map((l) => safeText(l)).join("\n")}\n`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
