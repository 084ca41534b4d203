/** `firstcall ip-ranges update`: keeps the cached copy of AWS's ip-ranges.json current. */
import type { Command } from "commander";
import { ipRangesUpdateSpec } from "./ip-ranges-spec.js";
import { toOptions } from "./options.js";

interface UpdateFlags {
  url?: string;
  from?: string;
  cacheDir?: string;
  timeout: string;
  format: "text" | "json";
  json?: boolean;
}

export function registerIpRanges(program: Command): void {
  const group = program
    .command("ip-ranges")
    .description("AWS's published address ranges, which classify addresses as AWS's or not.");
  const cmd = group.command("update").description(ipRangesUpdateSpec.summary);
  for (const o of toOptions(ipRangesUpdateSpec.options)) cmd.addOption(o);
  cmd.action(async (flags: UpdateFlags) => {
    const { UsageError } = await import("../errors.js");
    const { safeText } = await import("../safe-text.js");
    const { updateIpRanges } = await import("../net/ip-ranges-update.js");
    const timeout = Number(flags.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw new UsageError("E_USAGE", `--timeout: expected a positive number of seconds, got ${flags.timeout}`);
    if (flags.url && flags.from) throw new UsageError("E_USAGE", "--url and --from: give one of them");
    const r = await updateIpRanges({
      ...(flags.url ? { url: flags.url } : {}),
      ...(flags.from ? { fromFile: flags.from } : {}),
      ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
      timeoutMs: timeout * 1000,
    });
    if (flags.format === "json" || flags.json === true) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    const made = r.createDate
      ? `created ${r.createDate}${r.ageDays !== undefined ? `, ${r.ageDays} days old` : ""}`
      : "no createDate";
    const token = r.syncToken ? `syncToken ${r.syncToken}` : "no syncToken";
    const line =
      r.status === "updated"
        ? `updated: ${r.path} from ${r.source} (${token}, ${made}${r.previousSyncToken ? `; was syncToken ${r.previousSyncToken}` : ""})`
        : r.status === "unchanged"
          ? `unchanged: ${r.path} is current (${token}, ${made})`
          : `kept: ${r.source} served an older list than the cached copy (${token}, ${made}); nothing changed`;
    process.stdout.write(`${safeText(line)}\n`);
  });
}
