/** Renders an evaluation report as a plain-text table (the JSON form is the report itself). */

import { safeText } from "../safe-text.js";
import type { EvalReport, KindRow } from "./eval.js";

/** `45s`, `3m05s`, `1h02m`; `-` when there is no value. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return "-";
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(seconds);
  if (s < 60) return `${sign}${s}s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${sign}${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function ratio(x: number | null): string {
  return x === null ? "-" : x.toFixed(3);
}

/** Columns are right-aligned (numbers) except those listed in `left`. */
function table(header: readonly string[], rows: readonly (readonly string[])[], left: readonly number[] = [0]): string {
  // Cells can carry input text (session names, addresses from a findings file): escaped before measuring.
  const safeRows = rows.map((r) => r.map(safeText));
  const widths = header.map((h, c) => Math.max(h.length, ...safeRows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (left.includes(c) ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...safeRows.map(line)].join("\n");
}

function kindCells(r: KindRow): string[] {
  return [
    r.kind,
    String(r.incidents),
    String(r.detectable),
    String(r.detected),
    String(r.missed),
    String(r.expectedMisses),
    ratio(r.recall),
    String(r.findings),
    formatDuration(r.delaySeconds.median),
    formatDuration(r.delaySeconds.p90),
    formatDuration(r.delaySeconds.max),
  ];
}

/**
 * @example
 * process.stdout.write(formatEvalText(evaluate(incidents, findings, fleet)));
 */
export function formatEvalText(report: EvalReport): string {
  const parts: string[] = [];
  parts.push(
    table(
      [
        "kind",
        "incidents",
        "detectable",
        "detected",
        "missed",
        "expected-miss",
        "recall",
        "findings",
        "delay-median",
        "p90",
        "max",
      ],
      [...report.kinds.map(kindCells), kindCells(report.total)],
    ),
  );
  const f = report.findings;
  parts.push(
    `findings: ${f.total}   true positives: ${f.truePositives}   false positives: ${f.falsePositives}   precision: ${ratio(f.precision)}`,
  );
  if (report.falsePositivesByCause.length === 0) parts.push("false positives by cause: none");
  else {
    parts.push(
      `false positives by cause:\n${table(
        ["count", "cause", "example"],
        report.falsePositivesByCause.map((g) => [
          String(g.count),
          g.cause,
          g.examples[0] ? `${g.examples[0].session} from ${g.examples[0].sourceIp}` : "",
        ]),
        [1, 2],
      )}`,
    );
  }
  if (report.rules.length) {
    parts.push(
      table(
        ["rule", "findings", "true-pos", "false-pos", "precision"],
        report.rules.map((r) => [
          r.rule,
          String(r.findings),
          String(r.truePositives),
          String(r.falsePositives),
          ratio(r.precision),
        ]),
      ),
    );
  }
  const missed = report.incidents.filter((i) => i.detectable && !i.detected);
  if (missed.length)
    parts.push(`missed:\n${missed.map((i) => `  ${safeText(i.id)}  ${safeText(i.session)}`).join("\n")}`);
  const partial = report.incidents.filter((i) => i.detected && i.rulesMissing.length > 0);
  if (partial.length) {
    parts.push(
      `detected, but an expected rule stayed silent:\n${partial.map((i) => `  ${safeText(i.id)}  missing ${safeText(i.rulesMissing.join(", "))}`).join("\n")}`,
    );
  }
  const expected = report.incidents.filter((i) => !i.detectable);
  if (expected.length) {
    parts.push(
      `labelled undetectable: ${expected
        .map(
          (i) =>
            `${safeText(i.id)} (${i.detected ? `detected anyway by ${safeText(i.rulesFired.join(", "))}` : "not detected"})`,
        )
        .join("; ")}`,
    );
  }
  return `${parts.join("\n\n")}\n`;
}
