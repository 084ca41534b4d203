/**
 * Acknowledging and suppressing findings through `firstcall serve`, over real HTTP on 127.0.0.1 and a
 * real SQLite state made by scanning testdata/sample: who may (no token 401, a wrong one 401, the
 * read-only token 403, the API token 200), what a change needs (a reason, JSON, and against CSRF a
 * custom header unless a bearer token is sent; never another origin), what is stored (the state's
 * status tables, with the history), how lists show and filter it, and the event stream telling other
 * dashboards — also of a change another process made. A state of schema 3 is served without statuses.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { Finding } from "../findings/finding.js";
import { SqliteStore } from "../state/sqlite.js";
import { CLI_MAIN, REPO } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { readEvents, sampleState } from "../test-helpers/serve.js";
import { CSRF_HEADER } from "./app.js";
import type { Triage } from "./findings-view.js";
import { type RunningServer, startServer } from "./server.js";
import { tokenFromFile } from "./token-file.js";

const scratchDir = scratchDirs("firstcall-triage-");
const TOKEN = "admin-token-0123456789abcdef";
const READ_TOKEN = "read-token-0123456789abcdef";

type Listed = Finding & { triage: Triage };
interface Page {
  total: number;
  findings: Listed[];
}
interface ErrorBody {
  error: { code: string; message: string };
}

describe("firstcall serve: acknowledge and suppress", () => {
  let server: RunningServer;
  let state: string;
  let ids: string[];
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const put = (id: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${server.url}/api/v1/findings/${id}/status`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      redirect: "manual",
    });
  const list = async (query = ""): Promise<Page> => {
    const r = await fetch(`${server.url}/api/v1/findings?${query}`, { headers: bearer(READ_TOKEN) });
    assert.equal(r.status, 200);
    return (await r.json()) as Page;
  };
  const loginCookie = async (token: string): Promise<string> => {
    const r = await fetch(`${server.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ token }),
      redirect: "manual",
    });
    assert.equal(r.status, 303);
    return (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
  };

  before(async () => {
    state = await sampleState(scratchDir());
    server = await startServer({
      statePath: state,
      host: "127.0.0.1",
      port: 0,
      auth: true,
      token: TOKEN,
      readOnlyToken: READ_TOKEN,
      learnWindowMinutes: 30,
      pollMs: 100,
    });
    ids = (await list()).findings.map((f) => f.id);
    assert.equal(ids.length, 4);
  });
  after(async () => server?.close());

  test("no token 401, wrong token 401, read-only token 403 (and may read), API token 200", async (t) => {
    t.diagnostic(`server ${server.url} over ${state} (SQLite)`);
    const id = ids[0] as string;
    const change = { status: "acknowledged", reason: "looking into it" };
    const refused: Record<string, string>[] = [
      {},
      bearer("wrong-token-0123456789abcdef"),
      { Cookie: "firstcall_session=forged" },
    ];
    for (const headers of refused) {
      const r = await put(id, change, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal(((await r.json()) as ErrorBody).error.code, "E_AUTH");
    }
    const readOnly = await put(id, change, bearer(READ_TOKEN));
    assert.equal(readOnly.status, 403);
    assert.equal(((await readOnly.json()) as ErrorBody).error.code, "E_FORBIDDEN");
    const readCookie = await loginCookie(READ_TOKEN);
    const readBySession = await put(id, change, { Cookie: readCookie, [CSRF_HEADER]: "1" });
    assert.equal(readBySession.status, 403, "a session made from the read-only token is read-only too");
    assert.equal(((await readBySession.json()) as ErrorBody).error.code, "E_FORBIDDEN");
    assert.equal((await list()).findings.find((f) => f.id === id)?.triage.status, "open", "nothing changed");
    const whoami = await fetch(`${server.url}/api/v1/whoami`, { headers: bearer(READ_TOKEN) });
    assert.deepEqual(await whoami.json(), { role: "read", auth: true });
    for (const path of ["/api/v1/summary", `/api/v1/findings/${id}`, "/api/v1/sessions/count"])
      assert.equal((await fetch(`${server.url}${path}`, { headers: bearer(READ_TOKEN) })).status, 200, path);

    const ok = await put(id, { ...change, by: "alice" }, bearer(TOKEN));
    assert.equal(ok.status, 200, await ok.clone().text());
    const answer = (await ok.json()) as { schema: string; id: string; triage: Triage };
    assert.equal(answer.schema, "firstcall.finding-triage/v1");
    assert.equal(answer.id, id);
    assert.equal(answer.triage.status, "acknowledged");
    assert.equal(answer.triage.actor, "alice (admin)");
    assert.equal(answer.triage.reason, "looking into it");
    assert.ok(Math.abs(Date.parse(answer.triage.at ?? "") - Date.now()) < 60_000);
  });

  test("stored in the state's status tables with its history; lists, filters, the finding and the summary show it", async () => {
    const [a, b, c] = ids as [string, string, string];
    assert.equal((await put(a, { status: "acknowledged", reason: "looking" }, bearer(TOKEN))).status, 200);
    assert.equal(
      (await put(b.slice(0, 10), { status: "suppressed", reason: "red team SEC-9" }, bearer(TOKEN))).status,
      200,
      "a unique prefix",
    );
    assert.equal((await put(c, { status: "suppressed", reason: "known scanner" }, bearer(TOKEN))).status, 200);
    const reopened = await fetch(`${server.url}/api/v1/findings/${c}/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...bearer(TOKEN) },
      body: JSON.stringify({ status: "open" }),
    });
    assert.equal(reopened.status, 200, "POST does the same as PUT; reopening needs no reason");

    const page = await list();
    const triageOf = (id: string) => page.findings.find((f) => f.id === id)?.triage.status;
    assert.deepEqual([triageOf(a), triageOf(b), triageOf(c)], ["acknowledged", "suppressed", "open"]);
    assert.equal((await list("triage=suppressed")).total, 1);
    assert.equal((await list("triage=acknowledged,suppressed")).total, 2);
    assert.equal((await list("triage=open")).total, 2);
    assert.equal((await list("triage=open&rule=nothing")).total, 0);
    const bad = await fetch(`${server.url}/api/v1/findings?triage=closed`, { headers: bearer(TOKEN) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as ErrorBody).error.message, /triage/);

    const one = (await (await fetch(`${server.url}/api/v1/findings/${c}`, { headers: bearer(TOKEN) })).json()) as {
      triage: Triage;
      triageHistory: Triage[];
    };
    assert.equal(one.triage.status, "open");
    assert.deepEqual(
      one.triageHistory.map((h) => [h.status, h.reason, h.actor]),
      [
        ["suppressed", "known scanner", "admin"],
        ["open", "", "admin"],
      ],
    );
    const summary = (await (await fetch(`${server.url}/api/v1/summary`, { headers: bearer(TOKEN) })).json()) as {
      findings: { acknowledged: number; suppressed: number };
    };
    assert.equal(summary.findings.acknowledged, 1);
    assert.equal(summary.findings.suppressed, 1);

    // What another program (the sinks) reads from the state file.
    const store = SqliteStore.open(state, { readOnly: true });
    try {
      const kept = await store.findingStatuses();
      assert.deepEqual([...kept.keys()].sort(), [a, b].sort());
      assert.equal(kept.get(b)?.reason, "red team SEC-9");
    } finally {
      await store.close();
    }
  });

  test("bad changes are 400 with what to send; an unknown finding is 404", async () => {
    const id = ids[3] as string;
    for (const [body, word, contentType] of [
      [{ status: "acknowledged" }, "reason", undefined],
      [{ status: "acknowledged", reason: "   " }, "reason", undefined],
      [{ status: "closed", reason: "x" }, "status", undefined],
      [{ status: "suppressed", reason: "x", extra: 1 }, "extra|Unrecognized", undefined],
      [{ status: "suppressed", reason: "x".repeat(1001) }, "reason", undefined],
      [{ status: "suppressed", reason: "bell\u0007" }, "control", undefined],
      [{ status: "suppressed", reason: "x", by: "a\nb" }, "control", undefined],
      ["{not json", "not JSON", undefined],
      [{ status: "suppressed", reason: "x" }, "JSON", "text/plain"],
      [{ status: "suppressed", reason: "x".repeat(20_000) }, "16 KiB", undefined],
    ] as const) {
      const r = await fetch(`${server.url}/api/v1/findings/${id}/status`, {
        method: "PUT",
        headers: { "Content-Type": contentType ?? "application/json", ...bearer(TOKEN) },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const e = (await r.json()) as ErrorBody;
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(e.error.code, "E_BAD_REQUEST");
      assert.match(e.error.message, new RegExp(word), JSON.stringify(body).slice(0, 80));
    }
    const unknown = await put("abcdef0123456789", { status: "suppressed", reason: "x" }, bearer(TOKEN));
    assert.equal(unknown.status, 404);
    assert.equal((await list()).findings.find((f) => f.id === id)?.triage.status, "open", "nothing stored");
  });

  test("CSRF: a cookie alone changes nothing; the custom header does; another origin never", async () => {
    const id = ids[3] as string;
    const cookie = await loginCookie(TOKEN);
    const change = { status: "acknowledged", reason: "from the dashboard" };
    const bare = await put(id, change, { Cookie: cookie });
    assert.equal(bare.status, 403);
    assert.equal(((await bare.json()) as ErrorBody).error.code, "E_CSRF");
    const port = new URL(server.url).port;
    const foreign: Record<string, string>[] = [
      { Origin: "http://attacker.example" },
      { Origin: `http://127.0.0.1:${Number(port) + 1}` },
      { Origin: "null" },
      { "Sec-Fetch-Site": "cross-site" },
      { "Sec-Fetch-Site": "same-site" },
    ];
    for (const headers of foreign) {
      const r = await put(id, change, { Cookie: cookie, [CSRF_HEADER]: "1", ...headers });
      assert.equal(r.status, 403, JSON.stringify(headers));
      assert.equal(((await r.json()) as ErrorBody).error.code, "E_CSRF");
      const withToken = await put(id, change, { ...bearer(TOKEN), ...headers });
      assert.equal(withToken.status, 403, `a bearer request from another origin: ${JSON.stringify(headers)}`);
    }
    assert.equal((await list()).findings.find((f) => f.id === id)?.triage.status, "open", "nothing stored");
    const ok = await put(id, change, {
      Cookie: cookie,
      [CSRF_HEADER]: "1",
      Origin: server.url,
      "Sec-Fetch-Site": "same-origin",
    });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(
      (await put(id, { status: "open" }, bearer(TOKEN))).status,
      200,
      "a program with a token needs no header",
    );
  });

  test("the event stream tells other dashboards of a change, also one another process made", async (t) => {
    const id = ids[3] as string;
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/events`, {
      headers: bearer(READ_TOKEN),
      signal: controller.signal,
    });
    assert.equal(stream.status, 200);
    const reading = readEvents(stream, (e) => e.event === "triage" && e.data.includes("other process"), 60_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await put(id, { status: "suppressed", reason: "through the API" }, bearer(TOKEN))).status, 200);
    // Another connection to the state (as `firstcall findings suppress` makes), seen by the poller.
    const other = SqliteStore.open(state, { readOnly: true, statusWrites: true });
    try {
      await other.setFindingStatus({
        id,
        status: "acknowledged",
        reason: "other process",
        actor: "cli",
        at: new Date().toISOString(),
      });
    } finally {
      await other.close();
    }
    const events = (await reading).filter((e) => e.event === "triage");
    controller.abort();
    t.diagnostic(`${events.length} triage event(s) pushed`);
    const pushed = events.map((e) => JSON.parse(e.data) as { id: string; triage: Triage });
    assert.deepEqual(
      pushed.map((p) => [p.id, p.triage.status, p.triage.reason]),
      [
        [id, "suppressed", "through the API"],
        [id, "acknowledged", "other process"],
      ],
    );
    assert.ok(
      events.every((e) => e.id === undefined),
      "no event id: Last-Event-ID stays a commit time",
    );
  });
});

describe("firstcall serve: statuses on other states and setups", () => {
  test("a schema 3 state (before statuses) is served with every finding open; a change is 503 saying what to run", async () => {
    const state = await sampleState(scratchDir());
    const raw = new Database(state);
    raw.exec("DROP TABLE finding_statuses; DROP TABLE finding_status_history;");
    raw.pragma("user_version = 3");
    raw.close();
    const server = await startServer({
      statePath: state,
      host: "127.0.0.1",
      port: 0,
      auth: true,
      token: TOKEN,
      learnWindowMinutes: 30,
    });
    try {
      const page = (await (
        await fetch(`${server.url}/api/v1/findings`, { headers: { Authorization: `Bearer ${TOKEN}` } })
      ).json()) as Page;
      assert.equal(page.total, 4);
      assert.ok(page.findings.every((f) => f.triage.status === "open"));
      const r = await fetch(`${server.url}/api/v1/findings/${page.findings[0]?.id}/status`, {
        method: "PUT",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ status: "suppressed", reason: "x" }),
      });
      assert.equal(r.status, 503);
      const e = (await r.json()) as ErrorBody;
      assert.equal(e.error.code, "E_STATE");
      assert.match(e.error.message, /schema 3.*firstcall state init/);
    } finally {
      await server.close();
    }
  });

  test("--no-auth: a change needs the custom header (a local page could otherwise post one) and is recorded as no-auth", async () => {
    const state = await sampleState(scratchDir());
    const server = await startServer({
      statePath: state,
      host: "127.0.0.1",
      port: 0,
      auth: false,
      learnWindowMinutes: 30,
    });
    try {
      const id = ((await (await fetch(`${server.url}/api/v1/findings`)).json()) as Page).findings[0]?.id as string;
      const send = (headers: Record<string, string>) =>
        fetch(`${server.url}/api/v1/findings/${id}/status`, {
          method: "PUT",
          headers: { "Content-Type": "application/json", ...headers },
          body: JSON.stringify({ status: "acknowledged", reason: "seen" }),
        });
      assert.equal((await send({})).status, 403);
      const ok = await send({ [CSRF_HEADER]: "1" });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { triage: Triage }).triage.actor, "no-auth");
      await assert.rejects(
        startServer({
          statePath: state,
          host: "127.0.0.1",
          port: 0,
          auth: false,
          readOnlyToken: READ_TOKEN,
          learnWindowMinutes: 30,
        }),
        /read-only token with --no-auth/,
      );
      await assert.rejects(
        startServer({
          statePath: state,
          host: "127.0.0.1",
          port: 0,
          auth: true,
          token: TOKEN,
          readOnlyToken: TOKEN,
          learnWindowMinutes: 30,
        }),
        /read-only token is the API token/,
      );
    } finally {
      await server.close();
    }
  });

  test("token files: a missing one is created owner-only with a new token; an existing one is read", () => {
    const dir = scratchDir();
    const file = `${dir}/read.token`;
    const made = tokenFromFile("--read-only-token-file", file);
    assert.equal(made.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(made.token.length, 43);
    const warnings: string[] = [];
    const again = tokenFromFile("--read-only-token-file", file, (w) => warnings.push(w));
    assert.deepEqual(again, { token: made.token, created: false });
    assert.deepEqual(warnings, []);
    assert.throws(() => tokenFromFile("--token-file", `${dir}/no/such/dir/t`), /--token-file .*cannot create: ENOENT/);
  });

  test("the command: --token-file creates the admin token (0600, not printed), --read-only-token prints one once", async (t) => {
    const dir = scratchDir();
    const state = await sampleState(dir);
    const tokenFile = `${dir}/admin.token`;
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CLI_MAIN,
        "serve",
        "--state",
        state,
        "--port",
        "0",
        "--token-file",
        tokenFile,
        "--read-only-token",
      ],
      {
        cwd: REPO,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, FIRSTCALL_DEBUG: "", FIRSTCALL_SERVE_TOKEN: "" },
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      for (let i = 0; i < 1200 && !stderr.includes("login link"); i++) await new Promise((r) => setTimeout(r, 100));
      const admin = readFileSync(tokenFile, "utf8").trim();
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      assert.match(stderr, /API token new, written to .*admin\.token \(mode 0600\)/);
      assert.ok(!stderr.includes(admin), "a token kept in a file is not printed");
      const read = /read-only token \(shown once; may read, not acknowledge or suppress\): (\S+)/.exec(stderr)?.[1];
      assert.ok(read, stderr);
      assert.equal(stderr.split(read).length - 1, 1, "printed once");
      const base = /(http:\/\/127\.0\.0\.1:\d+)\/login/.exec(stderr)?.[1] as string;
      t.diagnostic(`firstcall serve process on ${base}`);
      const id = (
        (await (
          await fetch(`${base}/api/v1/findings`, { headers: { Authorization: `Bearer ${read}` } })
        ).json()) as Page
      ).findings[0]?.id as string;
      const change = (token: string) =>
        fetch(`${base}/api/v1/findings/${id}/status`, {
          method: "PUT",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          body: JSON.stringify({ status: "suppressed", reason: "test" }),
        });
      assert.equal((await change(read)).status, 403);
      assert.equal((await change(admin)).status, 200);
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
  });
});
