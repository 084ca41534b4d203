import { safeText } from "../../safe-text.js";
import { type Finding, type FindingPrincipal, severityRank, statusOf } from "../finding.js";
import type { FindingFormat } from "./format.js";

const SEVERITY_LABEL: Record<string, string> = { high: "HIGH", medium: "MED", low: "LOW", info: "INFO" };

/** The last part of an ARN's resource (`…:role/path/name` → `name`). */
function lastSegment(arn: string | undefined): string | undefined {
  if (!arn) return undefined;
  const name = arn.slice(arn.lastIndexOf("/") + 1);
  return name || undefined;
}

/**
 * How a credential is named in a table: what a person recognises. An instance by its id; a Lambda
 * function's session is named after the function; an ECS task's session name is its task id (a
 * hash), so the task role's name comes first and the id is shortened; other sessions as role/session.
 *
 * @example
 * credentialLabel({ kind: "ecs-task", arn: "…", roleArn: "arn:aws:iam::1:role/orders-task", sessionName: "5f1c2a3b4d5e6f70" })
 * // "ecs orders-task/5f1c2a3b"
 */
export function credentialLabel(p: FindingPrincipal): string {
  const role = lastSegment(p.roleArn);
  switch (p.kind) {
    case "ec2-instance":
      return p.instanceId ?? p.sessionName ?? p.arn;
    case "lambda":
      return `lambda ${p.sessionName ?? role ?? p.arn}`;
    case "ecs-task": {
      const task = p.sessionName && /^[0-9a-f]{16,}$/i.test(p.sessionName) ? p.sessionName.slice(0, 8) : p.sessionName;
      return `ecs ${[role, task].filter(Boolean).join("/") || p.arn}`;
    }
    default:
      return role && p.sessionName ? `${role}/${p.sessionName}` : (p.sessionName ?? p.arn);
  }
}

/**
 * The order a person reads findings in: most severe first, then by time of the first offending call
 * (then by id, so that equal rows keep one order whatever order they were found in).
 */
export function readingOrder(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (a.time < b.time ? -1 : a.time > b.time ? 1 : 0) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** The evidence a finding carries, a few lines under its reason (`scan --verbose`). */
function evidenceLines(f: Finding): string[] {
  const e = f.evidence;
  const t = safeText;
  const lines = [
    `   calls ${e.count} from ${t(f.sourceIp)} (${t(f.network)}), first ${t(e.firstSeen)}, last ${t(e.lastSeen)}; expected ${f.expectedIps.map(t).join(", ") || "none in the logs"}`,
    `   events ${e.eventIds.map(t).join(", ")}${e.count > e.eventIds.length ? ", …" : ""}`,
    `   names ${e.eventNames.map(t).join(", ")}${e.accessKeyIds.length ? `; keys ${e.accessKeyIds.map(t).join(", ")}` : ""}`,
  ];
  for (const ua of e.userAgents) lines.push(`   agent ${t(ua)}`);
  return lines;
}

/**
 * A table a person reads, then each finding's reason (and, `verbose`, its evidence). Every field
 * goes through `safeText` (parts of a finding were written by whoever made the call), and column
 * widths are measured on the escaped text.
 *
 * @example
 * textFormatWith({ verbose: true }).render(findings)
 */
export function textFormatWith(options: { readonly verbose?: boolean } = {}): FindingFormat {
  return {
    name: "text",
    description: "a table for people (most severe first), with each finding's reason",
    render: (findings) => renderText(findings, options.verbose === true),
  };
}

export const textFormat: FindingFormat = textFormatWith();

function renderText(all: readonly Finding[], verbose: boolean): string {
  {
    const retractions = retractionLines(all.filter((f) => statusOf(f) === "retracted"));
    const open = all.filter((f) => statusOf(f) === "open");
    if (open.length === 0) return retractions || "No findings.\n";
    const findings = readingOrder(open);
    const rows = findings.map((f) =>
      [
        SEVERITY_LABEL[f.severity] ?? f.severity,
        f.time.replace(".000Z", "Z"),
        f.account || "-",
        f.region || "-",
        f.rule,
        credentialLabel(f.principal),
        f.sourceIp,
        f.expectedIps.join(",") || "-",
        String(f.evidence.count),
      ].map(safeText),
    );
    const header = ["SEV", "FIRST SEEN", "ACCOUNT", "REGION", "RULE", "CREDENTIAL", "SOURCE IP", "EXPECTED", "CALLS"];
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
      if (verbose) out.push(...evidenceLines(f));
      out.push(`   id ${safeText(f.id)} (firstcall explain ${safeText(f.id.slice(0, 12))})`);
    });
    return `${out.join("\n")}\n${retractions}`;
  }
}

/** One line per retracted finding: which finding (id, rule, credential, address) and what explains it. */
function retractionLines(retracted: readonly Finding[]): string {
  return retracted
    .map((f) => {
      const head = `RETRACTED ${f.id} [${f.rule}] ${credentialLabel(f.principal)} ${f.sourceIp}`;
      return `${safeText(head)}: ${safeText(f.retractionReason ?? "explained by evidence read later")}\n`;
    })
    .join("");
}
