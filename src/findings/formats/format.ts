import type { Finding } from "../finding.js";

/** An output plug-in: renders findings as text. One file per format, listed in ./index.ts. */
export interface FindingFormat {
  readonly name: string;
  readonly description: string;
  /**
   * A whole document (a JSON array, an HTML page): rendered once over every finding to print, never
   * per batch, and never appended to a file.
   */
  readonly document?: boolean;
  /**
   * Written once before the first rendered batch (CSV's header row): at the top of standard output,
   * and into an `--output` file only while it is empty. `render` never includes it.
   */
  readonly header?: string;
  render(findings: readonly Finding[]): string;
}

/**
 * Everything a format writes for one complete set of findings: its header, then the findings.
 *
 * @example renderComplete(csvFormat, findings) // "id,status,…\r\n…"
 */
export function renderComplete(format: FindingFormat, findings: readonly Finding[]): string {
  return `${format.header ?? ""}${format.render(findings)}`;
}
