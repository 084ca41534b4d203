/**
 * `firstcall serve` against a real SQLite state made by scanning testdata/sample, over real HTTP on
 * 127.0.0.1: the API's filters, paging and errors, authentication (token, one-time login link,
 * cookie), security headers, and the event stream while a second process (a real scan) writes the
 * state.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { get as httpGet } from "node:http";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { Explanation } from "../findings/explain.js";
import type { Finding } from "../findings/finding.js";
import { openStore } from "../state/open.js";
import { CLI_MAIN, REPO, runCli } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import {
  HOSTILE_AGENT,
  HOSTILE_INSTANCE,
  HOSTILE_ROLE,
  hostileTheftLogs,
  readEvents,
  sampleState,
  scanInAnotherProcess,
  THIEF_IP,
} from "../test-helpers/serve.js";
import { type RunningServer, startServer } from "./server.js";

const scratchDir = scratchDirs("firstcall-serve-");
const execFileAsync = promisify(execFile);

/** The CLI in a child process without blocking this one (the server under test runs here). */
async function runCliAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileAsync(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], {
      cwd: REPO,
      env: { ...process.env, FIRSTCALL_DEBUG: "" },
    });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { status: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/** A GET with a chosen Host header (fetch does not let a caller set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { Host: host, Authorization: `Bearer ${TOKEN}` } }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += String(d);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
}
const TOKEN = "test-token-0123456789abcdef";

interface Page {
  schema: string;
  total: number;
  findings: Finding[];
  nextCursor?: string;
}

describe("firstcall serve: API over the sample's state", () => {
  let server: RunningServer;
  let state: string;
  const get = (path: string, headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }) =>
    fetch(`${server.url}${path}`, { headers, redirect: "manual" });
  const body = async <T>(path: string): Promise<T> => {
    const r = await get(path);
    assert.equal(r.status, 200, `${path}: ${r.status} ${await r.clone().text()}`);
    return (await r.json()) as T;
  };

  before(async () => {
    state = await sampleState(scratchDir());
    server = await startServer({
      statePath: state,
      host: "127.0.0.1",
      port: 0,
      auth: true,
      token: TOKEN,
      learnWindowMinutes: 30,
    });
  });
  after(async () => server?.close());

  test("lists the sample's four findings newest first; every filter narrows them", async (t) => {
    t.diagnostic(`server ${server.url} over ${state} (SQLite, read-only)`);
    const all = await body<Page>("/api/v1/findings");
    assert.equal(all.schema, "firstcall.findings-page/v1");
    assert.equal(all.total, 4);
    assert.deepEqual(all.findings.map((f) => f.rule).sort(), [
      "credential-ip-mismatch",
      "imdsv1-credential",
      "instance-credential-foreign-agent",
      "instance-credential-recon",
    ]);
    const order = all.findings.map((f) => [f.time, f.id].join(" "));
    assert.deepEqual(order, [...order].sort().reverse(), "newest first, then id descending");
    const count = async (query: string) => (await body<Page>(`/api/v1/findings?${query}`)).total;
    assert.equal(await count("rule=credential-ip-mismatch"), 1);
    assert.equal(await count("rule=credential-ip-mismatch,imdsv1-credential"), 2);
    assert.equal(await count("rule=credential-ip-mismatch&rule=imdsv1-credential"), 2);
    assert.equal(await count("minSeverity=high"), 2);
    assert.equal(await count("severity=low"), 1);
    assert.equal(await count("status=open"), 4);
    assert.equal(await count("status=retracted"), 0);
    assert.equal(await count("account=111122223333"), 4);
    assert.equal(await count("account=444455556666"), 0);
    assert.equal(await count("region=us-east-1"), 4);
    assert.equal(await count("region=eu-west-1"), 0);
    assert.equal(await count("since=2026-11-01T03:10:00Z&until=2026-11-01T03:11:00Z"), 4);
    assert.equal(await count("since=2026-11-01T03:10:01Z"), 0);
    assert.equal(await count("until=2026-11-01"), 0);
    assert.equal(await count("q=WEB-SERVER"), 4, "role name, any case");
    assert.equal(await count("q=i-0a1b2c3d4e5f60003"), 4, "instance id");
    assert.equal(await count("q=i-0000000000000dead"), 0);
    assert.equal(await count(`address=${encodeURIComponent(all.findings[0]?.sourceIp ?? "")}`), 4);
    assert.equal(await count("minSeverity=high&rule=imdsv1-credential"), 0, "filters combine");
  });

  test("cursor paging walks every finding once, in the same order", async () => {
    const all = (await body<Page>("/api/v1/findings")).findings.map((f) => f.id);
    const walked: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await body<Page>(`/api/v1/findings?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(page.total, 4);
      walked.push(...page.findings.map((f) => f.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    assert.deepEqual(walked, all);
    const two = await body<Page>("/api/v1/findings?limit=3");
    assert.equal(two.findings.length, 3);
    const rest = await body<Page>(`/api/v1/findings?limit=3&cursor=${two.nextCursor}`);
    assert.deepEqual(
      [...two.findings, ...rest.findings].map((f) => f.id),
      all,
    );
    assert.equal(rest.nextCursor, undefined);
  });

  test("bad parameters are 400 with a stable code naming the parameter", async () => {
    for (const [query, word] of [
      ["severity=urgent", "severity"],
      ["minSeverity=x", "minSeverity"],
      ["status=closed", "status"],
      ["since=yesterday-ish", "since"],
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["cursor=%%%", "cursor"],
      [`q=${"x".repeat(300)}`, "q"],
    ] as const) {
      const r = await get(`/api/v1/findings?${query}`);
      assert.equal(r.status, 400, query);
      const e = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(e.error.code, "E_BAD_REQUEST", query);
      assert.match(e.error.message, new RegExp(word), query);
    }
    const missing = await get("/api/v1/nothing-here");
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "E_NOT_FOUND");
  });

  test("one finding: the same evidence as `firstcall explain --format json`, by id or unique prefix", async () => {
    const mismatch = (await body<Page>("/api/v1/findings?rule=credential-ip-mismatch")).findings[0] as Finding;
    const served = await body<Explanation>(`/api/v1/findings/${mismatch.id}`);
    assert.equal(served.schema, "firstcall.explanation/v1");
    assert.equal(served.finding.id, mismatch.id);
    assert.ok(served.home, "the home address and when it was bound");
    assert.ok(served.notFound.length > 0, "what was looked for and not found");
    const cli = await runCliAsync(["explain", mismatch.id, "--format", "json", "--state", state]);
    assert.equal(cli.status, 0, cli.stderr);
    const { triage, triageHistory, ...evidence } = served as Explanation & { triage: unknown; triageHistory: unknown };
    assert.deepEqual(evidence, JSON.parse(cli.stdout), "the dashboard and the CLI show the same evidence");
    assert.deepEqual(triage, { status: "open" }, "and its triage: nobody acknowledged it");
    assert.deepEqual(triageHistory, []);
    assert.deepEqual(await body<Explanation>(`/api/v1/findings/${mismatch.id.slice(0, 8)}`), served);
    const unknown = await get("/api/v1/findings/abcdef0123456789");
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "E_NOT_FOUND");
    const junk = await get("/api/v1/findings/not-an-id");
    assert.equal(junk.status, 400);
  });

  test("summary and sessions count match the state", async () => {
    const store = openStore(state, { readOnly: true });
    const sessions = await store.sessionCount();
    await store.close();
    const s = await body<{
      schema: string;
      findings: { total: number; open: number; bySeverity: Record<string, number>; byRule: Record<string, number> };
      sessions: { stored: number; live: number };
      coverage: { coveredFindings: number; uncoveredFindings: number };
      objects: { complete: number };
    }>("/api/v1/summary");
    assert.equal(s.schema, "firstcall.state-summary/v1");
    assert.equal(s.findings.total, 4);
    assert.equal(s.findings.open, 4);
    assert.deepEqual(s.findings.bySeverity, { info: 0, low: 1, medium: 1, high: 2 });
    assert.equal(s.findings.byRule["credential-ip-mismatch"], 1);
    assert.equal(s.sessions.stored, sessions);
    assert.ok(sessions >= 3, `the sample's three instances (${sessions})`);
    assert.equal(s.coverage.coveredFindings + s.coverage.uncoveredFindings, 4);
    assert.ok(s.objects.complete > 0);
    assert.deepEqual(await body("/api/v1/sessions/count"), { sessions });
  });
});

describe("firstcall serve: authentication and headers", () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({
      statePath: await sampleState(scratchDir()),
      host: "127.0.0.1",
      port: 0,
      auth: true,
      token: TOKEN,
      learnWindowMinutes: 30,
    });
  });
  after(async () => server?.close());

  test("no token, a wrong token or a malformed header: 401 E_AUTH with WWW-Authenticate", async () => {
    for (const headers of [
      {} as Record<string, string>,
      { Authorization: "Bearer wrong-token-0123456789" },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` },
      { Authorization: TOKEN },
      { Cookie: "firstcall_session=forged" },
    ]) {
      for (const path of ["/api/v1/findings", "/api/v1/summary", "/api/v1/events", "/api/v1/findings/abcdef12"]) {
        const r = await fetch(`${server.url}${path}`, { headers });
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="firstcall"');
        assert.equal(((await r.json()) as { error: { code: string } }).error.code, "E_AUTH");
      }
    }
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 401, "the dashboard without a session shows the login form");
    assert.match(await page.text(), /name="token"/);
  });

  test("the one-time login link gives an HttpOnly SameSite=Strict cookie, once; the token form too; logout ends it", async () => {
    const url = server.loginUrl as string;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/login\?code=[\w-]{43}$/);
    assert.ok(!url.includes(TOKEN), "the link does not carry the API token");
    const login = await fetch(url, { redirect: "manual" });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get("location"), "/");
    const setCookie = login.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^firstcall_session=[\w-]{43};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    const cookie = setCookie.split(";")[0] as string;
    assert.equal((await fetch(`${server.url}/api/v1/summary`, { headers: { Cookie: cookie } })).status, 200);
    const dashboard = await fetch(`${server.url}/`, { headers: { Cookie: cookie } });
    assert.equal(dashboard.status, 200);
    assert.match(await dashboard.text(), /<table id="findings">/);

    const again = await fetch(url, { redirect: "manual" });
    assert.equal(again.status, 401, "a login link works once");
    assert.equal(again.headers.get("set-cookie"), null);

    const wrong = await fetch(`${server.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ token: "not-the-token-at-all" }),
      redirect: "manual",
    });
    assert.equal(wrong.status, 401);
    const byToken = await fetch(`${server.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ token: TOKEN }),
      redirect: "manual",
    });
    assert.equal(byToken.status, 303);
    const cookie2 = (byToken.headers.get("set-cookie") ?? "").split(";")[0] as string;
    assert.equal((await fetch(`${server.url}/api/v1/summary`, { headers: { Cookie: cookie2 } })).status, 200);

    const out = await fetch(`${server.url}/logout`, {
      method: "POST",
      headers: { Cookie: cookie },
      redirect: "manual",
    });
    assert.equal(out.status, 303);
    assert.equal((await fetch(`${server.url}/api/v1/summary`, { headers: { Cookie: cookie } })).status, 401);
    assert.equal((await fetch(`${server.url}/api/v1/summary`, { headers: { Cookie: cookie2 } })).status, 200);
  });

  test("security headers on pages and API; another Host name is refused (DNS rebinding)", async () => {
    for (const path of ["/", "/login", "/api/v1/summary", "/assets/dashboard.js"]) {
      const r = await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const csp = r.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, path);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(r.headers.get("x-frame-options"), "DENY", path);
      assert.equal(r.headers.get("referrer-policy"), "no-referrer", path);
    }
    const port = new URL(server.url).port;
    const rebound = await getWithHost(`${server.url}/api/v1/summary`, `attacker.example:${port}`);
    assert.equal(rebound.status, 403);
    assert.equal((JSON.parse(rebound.body) as { error: { code: string } }).error.code, "E_HOST");
    assert.equal((await getWithHost(`${server.url}/api/v1/summary`, `localhost:${port}`)).status, 200);
  });

  test("no authentication only on loopback, with an explicit flag; short tokens refused", async () => {
    const state = await sampleState(scratchDir());
    await assert.rejects(
      startServer({ statePath: state, host: "0.0.0.0", port: 0, auth: false, learnWindowMinutes: 30 }),
      /refusing to serve without authentication/,
    );
    await assert.rejects(
      startServer({ statePath: state, host: "127.0.0.1", port: 0, auth: true, token: "short", learnWindowMinutes: 30 }),
      /shorter than 16/,
    );
    const open = await startServer({
      statePath: state,
      host: "127.0.0.1",
      port: 0,
      auth: false,
      learnWindowMinutes: 30,
    });
    try {
      assert.equal(open.token, undefined);
      assert.equal((await fetch(`${open.url}/api/v1/summary`)).status, 200);
    } finally {
      await open.close();
    }
    const cli = runCli(["serve", "--state", state, "--host", "0.0.0.0", "--no-auth", "--port", "0"], {
      timeoutMs: 60_000,
    });
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /refusing to serve without authentication/);
    const missing = runCli(["serve", "--state", `${state}.missing`, "--port", "0"], { timeoutMs: 60_000 });
    assert.equal(missing.status, 4, missing.stderr);
    assert.match(missing.stderr, /no state file/);
  });
});

describe("firstcall serve: the command", () => {
  test("prints the token once and a one-time link, serves with them, stops on SIGTERM with exit 0", async (t) => {
    const state = await sampleState(scratchDir());
    const child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, "serve", "--state", state, "--port", "0"], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FIRSTCALL_DEBUG: "", FIRSTCALL_SERVE_TOKEN: "" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      for (let i = 0; i < 1200 && !stderr.includes("login link"); i++) await new Promise((r) => setTimeout(r, 100));
      const token = /API token \(shown once; send as "Authorization: Bearer <token>"\): (\S+)/.exec(stderr)?.[1];
      const link = /one-time login link\): (http:\/\/127\.0\.0\.1:\d+\/login\?code=\S+)/.exec(stderr)?.[1];
      assert.ok(token && link, stderr);
      t.diagnostic(`firstcall serve process on ${new URL(link).origin}`);
      assert.equal(stderr.split(token).length - 1, 1, "the token is printed once");
      assert.equal(stdout, "", "nothing on stdout");
      const base = new URL(link).origin;
      assert.equal((await fetch(`${base}/api/v1/summary`)).status, 401);
      assert.equal(
        (await fetch(`${base}/api/v1/summary`, { headers: { Authorization: `Bearer ${token}` } })).status,
        200,
      );
      assert.equal((await fetch(link, { redirect: "manual" })).status, 303);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
  });

  test("a token from FIRSTCALL_SERVE_TOKEN is used and not printed", async () => {
    const state = await sampleState(scratchDir());
    const secret = "env-token-abcdefghijklmnop";
    const child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, "serve", "--state", state, "--port", "0"], {
      cwd: REPO,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, FIRSTCALL_DEBUG: "", FIRSTCALL_SERVE_TOKEN: secret },
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      for (let i = 0; i < 1200 && !stderr.includes("login link"); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(stderr, /API token from \$FIRSTCALL_SERVE_TOKEN/);
      assert.ok(!stderr.includes(secret), "the token is not echoed");
      const base = /(http:\/\/127\.0\.0\.1:\d+)\/login/.exec(stderr)?.[1] as string;
      assert.equal(
        (await fetch(`${base}/api/v1/summary`, { headers: { Authorization: `Bearer ${secret}` } })).status,
        200,
      );
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
  });
});

describe("firstcall serve: reading while a scan writes", () => {
  test("serves while another process holds the writer's lock; a second writer is still refused", async (t) => {
    const state = await sampleState(scratchDir());
    const writer = openStore(state);
    try {
      const server = await startServer({
        statePath: state,
        host: "127.0.0.1",
        port: 0,
        auth: true,
        token: TOKEN,
        learnWindowMinutes: 30,
      });
      try {
        const r = await fetch(`${server.url}/api/v1/findings`, { headers: { Authorization: `Bearer ${TOKEN}` } });
        assert.equal(r.status, 200);
        assert.equal(((await r.json()) as Page).total, 4);
      } finally {
        await server.close();
      }
      assert.throws(() => openStore(state), /in use by another firstcall process/);
      t.diagnostic("a writer held the lock (in this process) while the server read the state");
    } finally {
      await writer.close();
    }
  });

  test("the event stream pushes a finding a second process writes; hostile strings arrive escaped", async (t) => {
    const dir = scratchDir();
    const state = await sampleState(dir);
    const logs = hostileTheftLogs(scratchDir());
    const server = await startServer({
      statePath: state,
      host: "127.0.0.1",
      port: 0,
      auth: true,
      token: TOKEN,
      learnWindowMinutes: 30,
      pollMs: 100,
    });
    try {
      const controller = new AbortController();
      const stream = await fetch(`${server.url}/api/v1/events`, {
        headers: { Authorization: `Bearer ${TOKEN}` },
        signal: controller.signal,
      });
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
      const writing = scanInAnotherProcess(logs, state);
      const events = await readEvents(
        stream,
        (e) => e.event === "finding" && e.data.includes(THIEF_IP) && e.data.includes('"change":"new"'),
        120_000,
      );
      controller.abort();
      const written = await writing;
      t.diagnostic(`second writer: firstcall scan (separate process) exited ${written.code}`);
      assert.equal(written.code, 1, written.stderr);
      assert.equal(events[0]?.event, "ready");
      const pushed = events.filter((e) => e.event === "finding");
      const hit = pushed.find((e) => e.data.includes(THIEF_IP));
      assert.ok(hit, `a pushed finding from ${THIEF_IP}: ${JSON.stringify(events).slice(0, 500)}`);
      assert.ok(hit.id, "the commit time as event id");
      assert.ok(!hit.data.includes("\u202e") && !hit.data.includes("\x1b"), "bidi override and ESC escaped in JSON");
      const message = JSON.parse(hit.data) as { change: string; finding: Finding };
      assert.equal(message.change, "new");
      assert.equal(message.finding.principal.instanceId, HOSTILE_INSTANCE);
      assert.ok(message.finding.principal.arn.includes(HOSTILE_ROLE), "the ARN comes back exactly");
      assert.ok(
        !pushed.some((e) => !e.data.includes(THIEF_IP) && e.data.includes('"change":"new"')),
        "the sample's findings are not new",
      );

      const page = (await (
        await fetch(`${server.url}/api/v1/findings?address=${THIEF_IP}`, {
          headers: { Authorization: `Bearer ${TOKEN}` },
        })
      ).json()) as Page;
      assert.ok(page.total >= 1);
      const withAgent = page.findings.find((f) => f.evidence.userAgents.includes(HOSTILE_AGENT));
      assert.ok(withAgent, "the hostile user agent is kept exactly (escaping is the reader's job)");

      // A client that reconnects with the last id it saw gets what was committed after it.
      const since = events[0]?.data ? (JSON.parse(events[0].data) as { latest: string }).latest : "";
      const replay = await fetch(`${server.url}/api/v1/events`, {
        headers: { Authorization: `Bearer ${TOKEN}`, "Last-Event-ID": since },
      });
      const replayed = await readEvents(replay, (e) => e.event === "finding" && e.data.includes(THIEF_IP), 30_000);
      assert.ok(
        replayed.some((e) => e.event === "finding" && e.data.includes(THIEF_IP)),
        "caught up after reconnect",
      );
    } finally {
      await server.close();
    }
  });
});
