import type { Finding } from "../finding.js";
import type { FindingFormat } from "./format.js";

/** One finding per line, the `firstcall.finding/v1` contract. */
export const jsonlFormat: FindingFormat = {
  name: "jsonl",
  description: "one JSON object per finding per line (firstcall.finding/v1)",
  render(findings: readonly Finding[]): string {
    return findings.map((f) => `${JSON.stringify(f)}\n`).join("");
  },
};
