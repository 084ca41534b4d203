import type { Finding } from "../finding.js";
import type { FindingFormat } from "./format.js";

const SEVERITY_LABEL: Record<string, string> = { high: "HIGH", medium: "MED", low: "LOW", info: "INFO" };

/** A table a person reads, then each finding's reason. */
export const textFormat: FindingFormat = {
  name: "text",
  description: "a table for people, with each finding's reason",
  render(findings: readonly Finding[]): string {
    if (findings.length === 0) return "No findings.\n";
    const rows = findings.map((f) => [
      SEVERITY_LABEL[f.severity] ?? f.severity,
      f.time.replace(".000Z", "Z"),
      f.rule,
      f.principal.instanceId ?? f.principal.sessionName ?? f.principal.arn,
      f.sourceIp,
      f.expectedIps.join(",") || "-",
      String(f.evidence.count),
    ]);
    const header = ["SEV", "FIRST SEEN", "RULE", "CREDENTIAL", "SOURCE IP", "EXPECTED", "CALLS"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd();
    const out = [line(header), ...rows.map(line), ""];
    findings.forEach((f, i) => {
      out.push(`${i + 1}. [${f.rule}] ${f.reason}`);
      out.push(
        `   event ${f.event.source} ${f.event.name} ${f.event.id}${f.event.userAgent ? ` ua="${f.event.userAgent}"` : ""}`,
      );
    });
    return `${out.join("\n")}\n`;
  },
};
