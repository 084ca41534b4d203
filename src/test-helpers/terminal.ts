/**
 * Test helpers for output that reaches a terminal: the attack strings an attacker can plant in
 * CloudTrail fields, and a check, written independently of src/safe-text.ts, that rendered text
 * carries none of them raw.
 */

/** One string per attack, by name. */
export const ATTACKS: Readonly<Record<string, string>> = {
  clearScreen: "\x1b[2J\x1b[H",
  oscTitle: "\x1b]0;all clear\x07",
  newlineForgery: "ok\n2. [fake] all clear",
  carriageReturn: "evil\rgood",
  rightToLeftOverride: "user\u202Egpj.exe",
  c1Csi: "\u009B2J",
  nul: "a\u0000b",
  del: "a\u007Fb",
  lineSeparator: "a\u2028b",
  isolate: "\u2066hidden\u2069",
  byteOrderMark: "\uFEFFbom",
};

/** Every attack in one string. */
export const ALL_ATTACKS = Object.values(ATTACKS).join(" ");

/**
 * Code points that must never reach a terminal raw: C0 controls (except the line feeds the program
 * writes itself, when `allowLineFeed`), DEL, C1 controls, bidirectional marks, embeddings, overrides and
 * isolates, the Arabic letter mark, line/paragraph separators and the byte order mark.
 */
export function terminalHazards(text: string, options: { allowLineFeed?: boolean } = {}): string[] {
  const found: string[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (options.allowLineFeed && c === 0x0a) continue;
    const hazard =
      c <= 0x1f ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x061c ||
      c === 0x200e ||
      c === 0x200f ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0xfeff;
    if (hazard) found.push(`U+${c.toString(16).toUpperCase().padStart(4, "0")}`);
  }
  return found;
}
