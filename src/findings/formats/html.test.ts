/**
 * The HTML report: escaping of hostile values, no external resource, and — in a real headless
 * Chromium (Debian's /usr/bin/chromium through playwright-core) — that the page loads offline, makes
 * no request, runs nothing, and shows the hostile text as text.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { safeText } from "../../safe-text.js";
import { findingCorpus } from "../../test-helpers/finding-corpus.js";
import { scratchDirs } from "../../test-helpers/scan.js";
import { ALL_ATTACKS, terminalHazards } from "../../test-helpers/terminal.js";
import type { Finding } from "../finding.js";
import { html, htmlFormat, renderHtml } from "./html.js";

const scratchDir = scratchDirs();
const corpus = await findingCorpus();
const CHROMIUM = "/usr/bin/chromium";

const HOSTILE_SCRIPT = `<script>document.title="pwned"</script><img src=x onerror="alert(1)">"'><iframe src="https://evil.example/">`;
const BIDI = "user\u202egnp.exe\u2066x\u2069";

function hostileFinding(): Finding {
  const base = corpus.find((c) => c.label === "sample credential-ip-mismatch")?.finding as Finding;
  return {
    ...base,
    id: `${base.id}-hostile`,
    reason: `${HOSTILE_SCRIPT} ${ALL_ATTACKS}`,
    principal: { ...base.principal, sessionName: BIDI, instanceId: undefined, kind: "assumed-role" },
    event: { ...base.event, userAgent: `${HOSTILE_SCRIPT}${BIDI}` },
    evidence: { ...base.evidence, userAgents: [HOSTILE_SCRIPT, BIDI] },
  };
}

describe("HTML report", () => {
  const findings = [...corpus.map((c) => c.finding), hostileFinding()];
  const page = htmlFormat.render(findings);

  test("escapes: no markup from a finding survives, no raw control or bidirectional character", () => {
    assert.equal(html(`<a href="x">'&`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
    assert.ok(!page.includes("<script"), "no script element at all");
    assert.ok(!/<img|<iframe/i.test(page));
    for (const tag of page.match(/<[a-z][^>]*>/gi) ?? []) assert.doesNotMatch(tag, /\son\w+=/i, tag);
    assert.ok(page.includes("&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;"));
    assert.deepEqual(terminalHazards(page, { allowLineFeed: true }), []);
    assert.ok(page.includes(html(BIDI)) && html(BIDI).includes("\\u202e"), "the override is shown, escaped");
  });

  test("self-contained: no URL to load anything, a CSP that allows only its own style", () => {
    const tags = page.match(/<[a-z][^>]*>/gi) ?? [];
    for (const tag of tags) assert.doesNotMatch(tag, /\s(src|href|srcset|action|poster|data)=/i, tag);
    assert.ok(!/url\(|@import|@font-face/i.test(page));
    assert.match(
      page,
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+';/,
    );
  });

  test("the same findings in any order give the same bytes; summary and sections", () => {
    assert.equal(renderHtml([...findings].reverse()), page);
    assert.match(page, /<b>\d+<\/b>open findings/);
    assert.match(page, /<h2>Retracted<\/h2>/);
    assert.equal(htmlFormat.document, true);
    assert.match(renderHtml([]), /<p>No findings\.<\/p>/);
  });

  test("in Chromium, offline: loads with no request, runs nothing, shows the hostile text as text, styled", async (t) => {
    // Fails, never skips, without the browser: CI installs Debian's chromium (.ci/run).
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
    const file = join(scratchDir(), "findings.html");
    writeFileSync(file, page);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    t.diagnostic(`real browser: ${CHROMIUM} ${browser.version()}`);
    try {
      const context = await browser.newContext({ offline: true, javaScriptEnabled: true });
      const tab = await context.newPage();
      const requests: string[] = [];
      const dialogs: string[] = [];
      const consoleErrors: string[] = [];
      tab.on("request", (r) => requests.push(r.url()));
      tab.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      tab.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
      const url = pathToFileURL(file).href;
      await tab.goto(url);
      assert.deepEqual(requests, [url], "only the page itself");
      assert.deepEqual(dialogs, []);
      assert.deepEqual(consoleErrors, [], "no CSP violation (the style's hash matches)");
      assert.equal(await tab.title(), "firstcall findings");
      assert.equal(await tab.locator("script, img, iframe").count(), 0);
      const rows = await tab.locator("tbody tr:not(.evidence)").count();
      assert.equal(rows, findings.length);
      const text = await tab.locator("body").innerText();
      assert.ok(text.includes(safeText(HOSTILE_SCRIPT)), "the hostile markup is shown as text");
      assert.ok(text.includes(safeText(BIDI)));
      // A real function (not a string): Playwright passes it the element; the DOM's getComputedStyle is
      // reached through globalThis because this file is type-checked without the DOM library.
      const position = await tab
        .locator("th")
        .first()
        .evaluate(
          (th) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } }).getComputedStyle(th)
              .position,
        );
      assert.equal(position, "sticky", "the inline style applies under the CSP");
    } finally {
      await browser.close();
    }
  });
});
