import { safeJsonStringify } from "../../safe-text.js";
import type { Finding } from "../finding.js";
import type { FindingFormat } from "./format.js";

/**
 * One JSON array of findings (each a `firstcall.finding/v1` object), for tools that read a whole
 * document. It cannot be streamed or appended to, so a scan writes it once, at the end: use `jsonl`
 * to see findings as they are found or to append to a file.
 */
export const jsonFormat: FindingFormat = {
  name: "json",
  description: "one JSON array of findings (firstcall.finding/v1), written when the scan ends",
  document: true,
  render(findings: readonly Finding[]): string {
    if (findings.length === 0) return "[]\n";
    return `[\n${findings.map((f) => `  ${safeJsonStringify(f)}`).join(",\n")}\n]\n`;
  },
};
