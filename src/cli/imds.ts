/** `firstcall imds report` (src/prevention/imds-posture.ts) and `firstcall imds-proxy` live in their own files. */
import type { Command } from "commander";
import type { ImdsPostureReport, InstanceImdsReport } from "../prevention/imds-posture.js";
import { imdsReportSpec } from "./imds-report-spec.js";
import { commandFromSpec } from "./options.js";

interface ReportFlags {
  format: "text" | "json";
}

export function registerImds(program: Command): void {
  const group = program
    .command("imds")
    .description("The instance metadata service: where instance credentials are handed out.");
  commandFromSpec(group, imdsReportSpec).action(async (paths: string[], flags: ReportFlags) => {
    const { readLogs } = await import("../sources/read.js");
    const { ImdsPosture } = await import("../prevention/imds-posture.js");
    const { safeText } = await import("../safe-text.js");
    const { EXIT } = await import("../exit-codes.js");
    const posture = new ImdsPosture();
    let objects = 0;
    let problems = 0;
    for await (const obj of readLogs(paths)) {
      for (const p of obj.problems) {
        problems++;
        process.stderr.write(`firstcall: ${safeText(p.message)}\n`);
      }
      if (obj.skipped) continue;
      if (obj.records.length > 0 || obj.problems.length === 0) objects++;
      for (const r of obj.records) posture.add(r);
    }
    const report = posture.report();
    if (flags.format === "json") process.stdout.write(`${JSON.stringify({ ...report, objects, problems })}\n`);
    else process.stdout.write(renderText(report, objects, problems, safeText));
    if (objects === 0) process.stderr.write("firstcall: no CloudTrail log was found in the given paths\n");
    const code =
      report.counts["imdsv1-in-use"] > 0 ? EXIT.findings : problems > 0 || objects === 0 ? EXIT.input : EXIT.ok;
    program.setOptionValue("exitCode", code);
  });
}

function renderText(report: ImdsPostureReport, objects: number, problems: number, safe: (s: string) => string): string {
  const c = report.counts;
  const lines: string[] = [
    `IMDS posture from ${objects} log objects${problems ? ` (${problems} could not be read, see above)` : ""}: ${report.instances.length} instances — ${c["imdsv1-in-use"]} IMDSv1 in use, ${c["imdsv1-allowed"]} IMDSv1 allowed, ${c["imdsv2-required"]} IMDSv2 required, ${c.unknown} unknown`,
  ];
  const section = (title: string, list: readonly InstanceImdsReport[]) => {
    if (list.length === 0) return;
    lines.push("", title);
    for (const i of list) {
      const where = [i.account, i.region].filter(Boolean).join(" ");
      const tokens = i.httpTokens
        ? `tokens ${i.httpTokens.value} (${i.httpTokens.by} ${i.httpTokens.time})`
        : "tokens not in the logs";
      const used = i.deliveries.imdsv1
        ? `; ${i.deliveries.imdsv1} calls with credentials from IMDSv1, last ${i.deliveries.lastImdsv1}`
        : "";
      lines.push(
        `  ${i.instanceId}${where ? ` (${where})` : ""}${i.roles.length ? ` role ${i.roles.join(", ")}` : ""}: ${tokens}${used}`,
      );
      for (const n of i.notes) lines.push(`    note: ${n}`);
      for (const r of i.remediation) lines.push(`    fix: ${r}`);
    }
  };
  section(
    "IMDSv1 in use (credentials delivered by IMDSv1):",
    report.instances.filter((i) => i.status === "imdsv1-in-use"),
  );
  section(
    "IMDSv1 allowed:",
    report.instances.filter((i) => i.status === "imdsv1-allowed"),
  );
  section(
    "Unknown (settings not in the logs):",
    report.instances.filter((i) => i.status === "unknown"),
  );
  const hopOnly = report.instances.filter((i) => i.status === "imdsv2-required" && i.remediation.length > 0);
  section("IMDSv2 required, hop limit above 1 without containers:", hopOnly);
  const v1Roles = report.roles.filter((r) => r.imdsv1Deliveries > 0);
  if (v1Roles.length) {
    lines.push("", "Roles whose credentials IMDSv1 delivered:");
    for (const r of v1Roles)
      lines.push(
        `  ${r.role}: ${r.imdsv1Deliveries} calls on ${r.instances.length} instance(s): ${r.instances.join(", ")}`,
      );
  }
  const templates = report.launchTemplates.filter((t) => t.remediation.length > 0);
  if (templates.length) {
    lines.push("", "Launch templates that do not require IMDSv2:");
    for (const t of templates) {
      lines.push(
        `  ${t.launchTemplate}${t.version ? ` version ${t.version}` : ""}: tokens ${t.httpTokens ?? "not set"}`,
      );
      for (const r of t.remediation) lines.push(`    fix: ${r}`);
    }
  }
  const defaults = report.accountDefaults.filter((d) => d.remediation.length > 0);
  if (defaults.length) {
    lines.push("", "Account defaults for new instances (not set to require IMDSv2, as far as the logs show):");
    for (const d of defaults) {
      lines.push(`  ${d.account} ${d.region}: ${d.httpTokens ?? "not set in the logs"}`);
      for (const r of d.remediation) lines.push(`    fix: ${r}`);
    }
  }
  return `${lines.map(safe).join("\n")}\n`;
}
