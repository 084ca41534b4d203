import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { safeJsonStringify, safeLines, safeText } from "./safe-text.js";
import { ALL_ATTACKS, ATTACKS, terminalHazards } from "./test-helpers/terminal.js";

/** The inverse of safeText's notation, written from its documentation. */
function unescapeSafeText(text: string): string {
  return text.replace(/\\(?:n|r|t|\\|x([0-9a-f]{2})|u\{([0-9a-f]+)\}|u([0-9a-f]{4}))/g, (all, x, braced, u) => {
    if (all === "\\n") return "\n";
    if (all === "\\r") return "\r";
    if (all === "\\t") return "\t";
    if (all === "\\\\") return "\\";
    return String.fromCodePoint(Number.parseInt(x ?? braced ?? u, 16));
  });
}

/** Strings mixing attack pieces, backslashes, escapes-lookalikes and arbitrary code points. */
const hostileString = fc
  .array(
    fc.oneof(
      fc.constantFrom(...Object.values(ATTACKS), "\\", "\\x1b", "\\u202e", "\\n", "\uD800", "\uDC00", "\u{E0041}"),
      fc.string({ unit: "binary" }),
    ),
  )
  .map((parts) => parts.join(""));

describe("safeText", () => {
  test("each attack string comes out as visible escapes", () => {
    assert.equal(safeText(ATTACKS.clearScreen as string), "\\x1b[2J\\x1b[H");
    assert.equal(safeText(ATTACKS.oscTitle as string), "\\x1b]0;all clear\\x07");
    assert.equal(safeText(ATTACKS.newlineForgery as string), "ok\\n2. [fake] all clear");
    assert.equal(safeText(ATTACKS.rightToLeftOverride as string), "user\\u202egpj.exe");
    assert.equal(safeText(ATTACKS.c1Csi as string), "\\x9b2J");
    assert.equal(safeText(ATTACKS.nul as string), "a\\x00b");
    assert.equal(safeText(ATTACKS.del as string), "a\\x7fb");
    assert.equal(safeText("\t\r"), "\\t\\r");
    assert.equal(
      safeText("a\u2028b\u2029c\uFEFF\u061C\u200E\u200F\u2066\u2069"),
      "a\\u2028b\\u2029c\\ufeff\\u061c\\u200e\\u200f\\u2066\\u2069",
    );
    assert.equal(safeText("tag\u{E0041}"), "tag\\u{e0041}");
    assert.equal(safeText("lone\uD800"), "lone\\ud800");
    assert.deepEqual(terminalHazards(safeText(ALL_ATTACKS)), []);
  });

  test("a backslash is doubled, so escapes in the input cannot pass for escapes made here", () => {
    assert.equal(safeText("C:\\logs\\x1b"), "C:\\\\logs\\\\x1b");
    assert.notEqual(safeText("\x1b"), safeText("\\x1b"));
  });

  test("ordinary text is left as it is: scripts, emoji, spaces, punctuation", () => {
    for (const s of ["aws-cli/2.15.0 Python/3.11.6", "Grüße", "東京リージョン", "مرحبا", "🚀", "a b", ""]) {
      assert.equal(safeText(s), s);
    }
  });

  test("property: the output has no hazard and unescapes to the input", () => {
    fc.assert(
      fc.property(hostileString, (s) => {
        const out = safeText(s);
        assert.deepEqual(terminalHazards(out), []);
        assert.equal(unescapeSafeText(out), s);
      }),
      { numRuns: 500 },
    );
  });

  test("safeLines keeps the program's own line breaks and escapes the rest", () => {
    assert.equal(safeLines("error: bad '\x1b[2J'\nUsage: x\n"), "error: bad '\\x1b[2J'\nUsage: x\n");
  });
});

describe("safeJsonStringify", () => {
  test("control and bidirectional characters come out as JSON escapes; the JSON parses to the same value", () => {
    const value = { ua: ALL_ATTACKS, nested: [ATTACKS.c1Csi, { k: "\u{E0041}\u2029" }] };
    const json = safeJsonStringify(value);
    assert.deepEqual(terminalHazards(json), []);
    assert.ok(!json.includes("\x1b"), "no raw ESC byte");
    assert.ok(json.includes("\\u202e"), "U+202E is escaped, which JSON.stringify alone would leave raw");
    assert.ok(json.includes("\\u009b"), "C1 CSI is escaped");
    assert.deepEqual(JSON.parse(json), value);
  });

  test("property: valid JSON, same value, no hazard", () => {
    fc.assert(
      fc.property(fc.dictionary(hostileString, hostileString), hostileString, (obj, s) => {
        const json = safeJsonStringify({ obj, s });
        assert.deepEqual(terminalHazards(json), []);
        assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify({ obj, s })));
      }),
      { numRuns: 300 },
    );
  });

  test("output without such characters is byte for byte JSON.stringify's", () => {
    const value = { a: "plain", b: [1, 2.5, null, true], c: 'Grüße \\ "quoted"\n' };
    assert.equal(safeJsonStringify(value), JSON.stringify(value));
  });
});
