/**
 * The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core,
 * with a fresh profile. It logs in through the one-time link, shows the sample's findings, filters
 * them, opens one, acknowledges it with a reason — which a second open page shows at once through
 * the event stream — and shows a finding that a second process (a real scan) writes meanwhile, whose
 * user agent and role name are hostile markup, which must show as text and never run.
 *
 * No browser, no pass: when /usr/bin/chromium is missing this test fails (CI installs the `chromium`
 * package).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { SqliteStore } from "../state/sqlite.js";
import { scratchDirs } from "../test-helpers/scan.js";
import {
  HOSTILE_AGENT,
  HOSTILE_INSTANCE,
  hostileTheftLogs,
  sampleState,
  scanInAnotherProcess,
  THIEF_IP,
} from "../test-helpers/serve.js";
import { startServer } from "./server.js";

const CHROMIUM = "/usr/bin/chromium";
const READ_TOKEN = "read-only-token-0123456789abcdef";

/**
 * Waits until the table's count says `n` (the page's script has applied a filter). Polled from here:
 * the page's CSP forbids the string evaluation `waitForFunction` would use.
 */
async function totalIs(page: import("playwright-core").Page, n: string): Promise<void> {
  let seen: string | null = null;
  for (let i = 0; i < 300; i++) {
    seen = await page.locator("#total").textContent();
    if (seen === n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the table counts ${seen} finding(s), not ${n}`);
}
/** Waits until `read()` gives `want` (the page's script has caught up). Polled, for the same reason. */
async function until(what: string, read: () => Promise<string | null>, want: string): Promise<void> {
  let seen: string | null = null;
  for (let i = 0; i < 300; i++) {
    seen = await read();
    if (seen === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: ${seen}, not ${want}`);
}
const scratchDir = scratchDirs("firstcall-dashboard-");

test("dashboard in Chromium: log in by link, see, filter and open findings, get a new one live; hostile text stays text", async (t) => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium) to run the dashboard test`,
  );
  const version = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8" }).trim();
  t.diagnostic(`browser: ${CHROMIUM} (${version})`);

  const state = await sampleState(scratchDir());
  const server = await startServer({
    statePath: state,
    host: "127.0.0.1",
    port: 0,
    auth: true,
    readOnlyToken: READ_TOKEN,
    learnWindowMinutes: 30,
    pollMs: 200,
  });
  const context = await chromium.launchPersistentContext(scratchDir(), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    t.diagnostic(
      `server: ${server.url} over ${state}; browser reports ${context.browser()?.version() ?? "(persistent context)"}`,
    );
    const page = await context.newPage();
    const foreign: string[] = [];
    const dialogs: string[] = [];
    const cspViolations: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(`${server.url}/`)) foreign.push(r.url());
    });
    page.on("dialog", async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    // Without a session: the login form, and no data.
    await page.goto(`${server.url}/`);
    assert.equal(await page.locator("input[name=token]").count(), 1);

    // The one-time link logs in (cookie) and lands on the dashboard.
    await page.goto(server.loginUrl as string);
    assert.equal(new URL(page.url()).pathname, "/");
    const rows = page.locator("#findings tbody tr");
    await rows.nth(3).waitFor({ timeout: 30_000 });
    assert.equal(await rows.count(), 4, "the sample's four findings");
    assert.equal(await page.locator("#total").textContent(), "4");
    const cookies = await context.cookies(server.url);
    const session = cookies.find((c) => c.name === "firstcall_session");
    assert.ok(session?.httpOnly && session.sameSite === "Strict", "HttpOnly, SameSite=Strict session cookie");
    assert.equal(await page.evaluate("document.cookie"), "", "the session is not readable by script");
    await page.locator("#live.on").waitFor({ timeout: 30_000 });

    // Filters.
    await page.selectOption("#filter-rule", "credential-ip-mismatch");
    await totalIs(page, "1");
    assert.equal(await page.locator("#total").textContent(), "1");
    assert.match((await rows.first().textContent()) ?? "", /credential-ip-mismatch/);
    await page.selectOption("#filter-rule", "");
    await page.selectOption("#filter-severity", "high");
    await totalIs(page, "2");
    assert.equal(await rows.count(), 2);
    await page.fill("#filter-q", "i-0000000000000dead");
    await page.press("#filter-q", "Enter");
    await totalIs(page, "0");
    await page.fill("#filter-q", "");
    await page.selectOption("#filter-severity", "");
    await totalIs(page, "4");

    // Open a finding: its evidence, worded as `firstcall explain` words it.
    await page.locator("#findings tbody tr", { hasText: "credential-ip-mismatch" }).click();
    await page.locator("#detail h3", { hasText: "Looked for and not found" }).waitFor({ timeout: 30_000 });
    const detail = (await page.locator("#detail").textContent()) ?? "";
    assert.match(detail, /HIGH credential-ip-mismatch/);
    assert.match(detail, /home \S+ bound by/);
    assert.match(detail, /an address change of instance i-/);

    // Acknowledge it with a reason, while a second page is open: that page updates by itself.
    const second = await context.newPage();
    second.on("request", (r) => {
      if (!r.url().startsWith(`${server.url}/`)) foreign.push(r.url());
    });
    await second.goto(`${server.url}/`);
    await second.locator("#findings tbody tr").nth(3).waitFor({ timeout: 30_000 });
    await second.locator("#live.on").waitFor({ timeout: 30_000 });
    const id = (await page.locator("#detail").getAttribute("data-id")) as string;
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(await page.locator("#triage-current .triage").textContent(), "open");
    await page.click("#triage-acknowledged");
    assert.match((await page.locator("#error").textContent()) ?? "", /Give a reason/, "no reason, no change");
    await page.fill("#triage-reason", "rotating the role <b>now</b>, INC-42");
    await page.click("#triage-acknowledged");
    await until("this page's status", () => page.locator("#triage-current .triage").textContent(), "acknowledged");
    assert.match(
      (await page.locator("#triage-current").textContent()) ?? "",
      /by admin at .*: rotating the role <b>now<\/b>, INC-42/,
    );
    assert.match((await page.locator("#detail ol.history").textContent()) ?? "", /acknowledged by admin: rotating/);
    const otherRow = second.locator(`#findings tbody tr[data-id="${id}"]`);
    await until("the second page's row", () => otherRow.getAttribute("data-triage"), "acknowledged");
    assert.equal(await otherRow.locator(".triage").textContent(), "acknowledged");
    t.diagnostic("acknowledged in one page; the other page's table showed it through the event stream");
    await second.selectOption("#filter-triage", "acknowledged");
    await until("second page, acknowledged", () => second.locator("#total").textContent(), "1");
    await second.selectOption("#filter-triage", "open");
    await until("second page, open", () => second.locator("#total").textContent(), "3");
    await second.close();
    const store = SqliteStore.open(state, { readOnly: true });
    try {
      const kept = (await store.findingStatuses([id])).get(id);
      assert.equal(kept?.status, "acknowledged");
      assert.equal(kept?.actor, "admin");
      assert.equal(kept?.reason, "rotating the role <b>now</b>, INC-42");
    } finally {
      await store.close();
    }

    // A second process writes a new finding into the state: it appears without reloading.
    const writing = scanInAnotherProcess(hostileTheftLogs(scratchDir()), state);
    const fresh = page.locator("#findings tbody tr", { hasText: THIEF_IP });
    await fresh.first().waitFor({ timeout: 120_000 });
    const written = await writing;
    assert.equal(written.code, 1, written.stderr);
    t.diagnostic(`live: ${await fresh.count()} finding(s) from ${THIEF_IP} appeared while the page was open`);
    assert.ok((await rows.count()) > 4);

    // Its hostile strings are shown as text, escaped, and nothing of them runs.
    await fresh.first().click();
    const agents = page.locator("#detail ul.agents li");
    await agents.first().waitFor({ timeout: 30_000 });
    const shown = (await agents.allTextContents()).join("\n");
    assert.ok(shown.includes('<img src=x onerror="document.title='), `markup shown as text: ${shown}`);
    assert.ok(shown.includes("\\u202e") && shown.includes("\\x1b[2J"), "bidi override and ESC shown as escapes");
    assert.ok(!shown.includes("\u202e") && !shown.includes("\x1b"));
    assert.ok(HOSTILE_AGENT.includes("<script>"));
    assert.equal(
      await page.locator("#detail img, #detail script, #detail b, #findings b").count(),
      0,
      "no element from log text",
    );
    assert.match((await page.locator("#detail").textContent()) ?? "", new RegExp(HOSTILE_INSTANCE));
    assert.match((await page.locator("#detail").textContent()) ?? "", /ops<b>bold<\/b>&amp;/, "the role name as text");
    assert.equal(await page.title(), "firstcall", "no injected script ran");

    // Logged in with the read-only token: the status shows, the buttons do not.
    await context.clearCookies();
    await page.goto(`${server.url}/login`);
    await page.fill("input[name=token]", READ_TOKEN);
    await page.click("button[type=submit]");
    await page.locator(`#findings tbody tr[data-id="${id}"]`).click();
    await page.locator("#triage-current").waitFor({ timeout: 30_000 });
    assert.equal(await page.locator("#triage-current .triage").textContent(), "acknowledged");
    assert.equal(await page.locator("#triage button, #triage textarea").count(), 0, "no way to change");
    assert.match((await page.locator("#triage").textContent()) ?? "", /Read-only access/);
    assert.deepEqual(dialogs, [], "no alert");
    assert.deepEqual(foreign, [], "no request to another origin");
    assert.deepEqual(cspViolations, [], "nothing the CSP had to block");
  } finally {
    await context.close();
    await server.close();
  }
});
