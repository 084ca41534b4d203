import { safeText } from "../../safe-text.js";
import { type Finding, statusOf } from "../finding.js";
import type { FindingFormat } from "./format.js";

const SEVERITY_LABEL: Record<string, string> = { high: "HIGH", medium: "MED", low: "LOW", info: "INFO" };

/**
 * A table a person reads, then each finding's reason. Every field goes through `safeText` (parts of a
 * finding were written by whoever made the call), and column widths are measured on the escaped text.
 */
export const textFormat: FindingFormat = {
  name: "text",
  description: "a table for people, with each finding's reason",
  render(all: readonly Finding[]): string {
    const findings = all.filter((f) => statusOf(f) === "open");
    const retractions = retractionLines(all.filter((f) => statusOf(f) === "retracted"));
    if (findings.length === 0) return retractions || "No findings.\n";
    const rows = findings.map((f) =>
      [
        SEVERITY_LABEL[f.severity] ?? f.severity,
        f.time.replace(".000Z", "Z"),
        f.rule,
        f.principal.instanceId ?? f.principal.sessionName ?? f.principal.arn,
        f.sourceIp,
        f.expectedIps.join(",") || "-",
        String(f.evidence.count),
      ].map(safeText),
    );
    const header = ["SEV", "FIRST SEEN", "RULE", "CREDENTIAL", "SOURCE IP", "EXPECTED", "CALLS"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd();
    const out = [line(header), ...rows.map(line), ""];
    findings.forEach((f, i) => {
      out.push(`${i + 1}. [${safeText(f.rule)}] ${safeText(f.reason)}`);
      const e = f.event;
      out.push(
        `   event ${safeText(e.source)} ${safeText(e.name)} ${safeText(e.id)}${e.userAgent ? ` ua="${safeText(e.userAgent)}"` : ""}`,
      );
    });
    return `${out.join("\n")}\n${retractions}`;
  },
};

/** One line per retracted finding: which finding (id, rule, credential, address) and what explains it. */
function retractionLines(retracted: readonly Finding[]): string {
  return retracted
    .map((f) => {
      const who = f.principal.instanceId ?? f.principal.sessionName ?? f.principal.arn;
      const head = `RETRACTED ${f.id} [${f.rule}] ${who} ${f.sourceIp}`;
      return `${safeText(head)}: ${safeText(f.retractionReason ?? "explained by evidence read later")}\n`;
    })
    .join("");
}
