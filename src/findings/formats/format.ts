import type { Finding } from "../finding.js";

/** An output plug-in: renders findings as text. One file per format, listed in ./index.ts. */
export interface FindingFormat {
  readonly name: string;
  readonly description: string;
  /**
   * A whole document (a JSON array): rendered once over every finding to print, never per batch,
   * and never appended to a file.
   */
  readonly document?: boolean;
  render(findings: readonly Finding[]): string;
}
