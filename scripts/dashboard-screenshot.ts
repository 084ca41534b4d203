/**
 * Makes docs/dashboard.png: simulated findings (`firstcall simulate`, a small fleet with one incident
 * of each attack kind), scanned into a temporary state, two of them acknowledged and suppressed, the
 * dashboard opened in Debian's Chromium (/usr/bin/chromium) with one finding's page shown. Everything
 * runs on 127.0.0.1 and the temporary folder is removed at the end.
 *
 * Run: node --import tsx scripts/dashboard-screenshot.ts [out.png]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "../src/serve/server.js";
import { SqliteStore } from "../src/state/sqlite.js";
import { CLI_MAIN, REPO } from "../src/test-helpers/cli.js";

const out = process.argv[2] ?? join(REPO, "docs", "dashboard.png");
const dir = mkdtempSync(join(tmpdir(), "fc-shot-"));
const cli = (args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, FIRSTCALL_DEBUG: "" },
  });
try {
  const logs = join(dir, "AWSLogs");
  const state = join(dir, "state.sqlite");
  cli([
    "simulate",
    "--out",
    logs,
    "--accounts",
    "2",
    "--regions",
    "2",
    "--instances",
    "40",
    "--hours",
    "4",
    "--per-kind",
    "1",
    "-q",
  ]);
  try {
    cli(["scan", logs, "--state", state, "-q", "--no-progress", "--format", "jsonl"]);
  } catch (e) {
    if ((e as { status?: number }).status !== 1) throw e; // 1: high findings, as expected
  }
  const store = SqliteStore.open(state, { readOnly: true, statusWrites: true });
  const findings = (await store.allFindings()).map((s) => s.finding);
  const high = findings.filter((f) => f.severity === "high");
  const at = new Date().toISOString();
  if (high[1])
    await store.setFindingStatus({
      id: high[1].id,
      status: "acknowledged",
      reason: "rotating the role, INC-42",
      actor: "alice (admin)",
      at,
    });
  const low = findings.find((f) => f.severity === "low");
  if (low)
    await store.setFindingStatus({
      id: low.id,
      status: "suppressed",
      reason: "known IMDSv1 host, migration planned",
      actor: "bob (admin)",
      at,
    });
  await store.close();

  const server = await startServer({
    statePath: state,
    host: "127.0.0.1",
    port: 0,
    auth: true,
    learnWindowMinutes: 30,
  });
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const page = await context.newPage();
    await page.goto(server.loginUrl as string);
    await page.locator("#live.on").waitFor({ timeout: 30_000 });
    await page.locator("#findings tbody tr", { hasText: "credential-ip-mismatch" }).first().click();
    await page.locator("#triage-current").waitFor({ timeout: 30_000 });
    await page.fill("#triage-reason", "credential used from outside AWS at night");
    await page.screenshot({ path: out, fullPage: true });
    process.stderr.write(`${out}: ${findings.length} simulated findings\n`);
  } finally {
    await context.close();
    await server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
