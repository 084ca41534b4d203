/**
 * CSV for spreadsheets and line tools: a header, then one row per finding (RFC 4180: comma-separated,
 * CRLF line ends, a cell with a comma or a double quote is quoted and its quotes doubled).
 *
 * Parts of a finding were written by whoever made the call (user agent, session name …), and a
 * spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or tab or carriage return) as a formula
 * (CSV injection, CWE-1236). Such a cell is neutralised as OWASP recommends: a single quote in front,
 * and the cell quoted. Control, bidirectional and separator characters are written as backslash
 * escapes (as in the text format), so a row is always one physical line and `cat` is safe.
 */
import { safeText } from "../../safe-text.js";
import { type Finding, statusOf } from "../finding.js";
import { ruleTitle } from "./finding-facts.js";
import type { FindingFormat } from "./format.js";
import { credentialLabel } from "./text.js";

/** The columns, in order: header name and value. */
const COLUMNS: readonly [string, (f: Finding) => string | number | undefined][] = [
  ["id", (f) => f.id],
  ["status", (f) => statusOf(f)],
  ["severity", (f) => f.severity],
  ["rule", (f) => f.rule],
  ["title", (f) => ruleTitle(f.rule)],
  ["first_seen", (f) => f.evidence.firstSeen],
  ["last_seen", (f) => f.evidence.lastSeen],
  ["account", (f) => f.account],
  ["region", (f) => f.region],
  ["credential", (f) => credentialLabel(f.principal)],
  ["credential_kind", (f) => f.principal.kind],
  ["principal_arn", (f) => f.principal.arn],
  ["role_arn", (f) => f.principal.roleArn],
  ["session_name", (f) => f.principal.sessionName],
  ["access_key_id", (f) => f.principal.accessKeyId],
  ["instance_id", (f) => f.principal.instanceId],
  ["source_ip", (f) => f.sourceIp],
  ["network", (f) => f.network],
  ["expected_ips", (f) => f.expectedIps.join(" ")],
  ["calls", (f) => f.evidence.count],
  ["event_id", (f) => f.event.id],
  ["event_source", (f) => f.event.source],
  ["event_name", (f) => f.event.name],
  ["user_agent", (f) => f.event.userAgent],
  ["access_key_ids", (f) => f.evidence.accessKeyIds.join(" ")],
  ["reason", (f) => f.reason],
  ["retracted_at", (f) => f.retractedAt],
  ["retraction_reason", (f) => f.retractionReason],
];

/** A cell a spreadsheet would run as a formula: its first (non-blank) character, or a leading tab/CR/LF. */
const FORMULA_START = /^(?:[\t\r\n]|\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/;

/**
 * One CSV cell: escaped for terminals, neutralised if it could start a formula, quoted when needed.
 *
 * @example csvCell('=HYPERLINK("http://x")') // "\"'=HYPERLINK(\"\"http://x\"\")\""
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return "";
  const raw = String(value);
  // Checked on the raw text, so that an escaped tab (`\t`) is still caught.
  const formula = FORMULA_START.test(raw);
  const text = formula ? `'${safeText(raw)}` : safeText(raw);
  return formula || /[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const HEADER = `${COLUMNS.map(([name]) => name).join(",")}\r\n`;

export const csvFormat: FindingFormat = {
  name: "csv",
  description: "comma-separated values, one row per finding under a header (formula-safe for spreadsheets)",
  header: HEADER,
  render(findings: readonly Finding[]): string {
    return findings.map((f) => `${COLUMNS.map(([, value]) => csvCell(value(f))).join(",")}\r\n`).join("");
  },
};
