import { safeJsonStringify } from "../../safe-text.js";
import type { Finding } from "../finding.js";
import type { FindingFormat } from "./format.js";

/**
 * One finding per line, the `firstcall.finding/v1` contract. Characters that JSON leaves raw but a
 * terminal acts on (C1 controls, bidirectional overrides, U+2028 …) are written as `\uXXXX` escapes,
 * so `cat findings.jsonl` is safe; the lines parse to exactly the same values.
 */
export const jsonlFormat: FindingFormat = {
  name: "jsonl",
  description: "one JSON object per finding per line (firstcall.finding/v1)",
  render(findings: readonly Finding[]): string {
    return findings.map((f) => `${safeJsonStringify(f)}\n`).join("");
  },
};
