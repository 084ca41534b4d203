import type { Finding } from "../finding.js";

/** An output plug-in: renders findings as text. One file per format, listed in ./index.ts. */
export interface FindingFormat {
  readonly name: string;
  readonly description: string;
  render(findings: readonly Finding[]): string;
}
