/**
 * The HTTP service of `firstcall serve` (hono): a JSON API over the state, a stream of finding
 * changes (Server-Sent Events) and the dashboard page. The only thing it writes is a finding's triage
 * (acknowledged / suppressed with a reason), in the state's status tables, which a scan never writes.
 *
 * Routes (all but /login, /assets and /healthz need a token or a session cookie):
 * - `GET /api/v1/findings` filters and keyset paging (see {@link parseFindingsQuery}), each finding
 *   with its `triage`;
 * - `GET /api/v1/findings/:id` one finding with its evidence (`firstcall.explanation/v1`), its
 *   `triage` and `triageHistory`;
 * - `PUT` (or `POST`) `/api/v1/findings/:id/status` `{status, reason, by?}`: acknowledge, suppress or
 *   reopen (admin role only; see {@link CSRF_HEADER} for the CSRF rule);
 * - `GET /api/v1/summary`, `GET /api/v1/sessions/count`, `GET /api/v1/whoami` (the caller's role);
 * - `GET /api/v1/events` SSE: `finding` events `{change, finding}` for every new, updated or retracted
 *   finding, with the commit time as event id (a reconnecting browser sends it back as `Last-Event-ID`
 *   and gets what it missed); `triage` events `{id, triage}` for every status change, without an id
 *   (a reconnecting client reloads what it shows);
 * - `GET /` the dashboard; `GET /login?code=…` one-time login; `POST /login` (token) ; `POST /logout`.
 *
 * Errors are `{"error":{"code","message"}}` with a stable code ({@link ApiErrorCode}).
 */

import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { StateError } from "../errors.js";
import { safeJsonStringify } from "../safe-text.js";
import { FindingStatusError, MAX_STATUS_REASON } from "../state/store.js";
import { type Role, SESSION_COOKIE, SESSION_TTL_MS, type ServeAuth } from "./auth.js";
import { DASHBOARD_CSS, DASHBOARD_JS, dashboardPage, loginPage } from "./dashboard.js";
import {
  ApiError,
  type FindingChange,
  type FindingsView,
  parseFindingsQuery,
  type TriageChange,
} from "./findings-view.js";

/**
 * The header a state-changing request must carry unless it sends a bearer token. A page of another
 * origin cannot add a custom header without a CORS preflight, which this server never grants; a
 * form or a "simple" fetch cannot add one at all. So a cookie (or `--no-auth`) alone never changes
 * anything.
 */
export const CSRF_HEADER = "X-Firstcall-Request";

/** The body of `PUT /api/v1/findings/:id/status`. */
const StatusBody = z
  .strictObject({
    status: z.enum(["open", "acknowledged", "suppressed"]),
    reason: z.string().max(MAX_STATUS_REASON).default(""),
    /** Who, as the person says (recorded with the token's role: `alice (admin)`). */
    by: z.string().trim().min(1).max(100).optional(),
  })
  .refine((b) => b.status === "open" || b.reason.trim() !== "", {
    message: "a reason is required to acknowledge or suppress a finding",
    path: ["reason"],
  });

export interface ServeAppOptions {
  readonly view: FindingsView;
  /** Undefined: `--no-auth`. */
  readonly auth: ServeAuth | undefined;
  /** Host header values accepted (lowercase `host:port`); undefined accepts any (a non-loopback bind). */
  readonly allowedHosts?: () => ReadonlySet<string> | undefined;
  /** How often the state is polled for new commits while a stream is open, ms. */
  readonly pollMs?: number;
  /** Keep-alive comment interval on event streams, ms. */
  readonly keepAliveMs?: number;
}

export interface ServeApp {
  readonly app: Hono;
  /** Stops polling and ends the open event streams. */
  close(): void;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

function json(c: Context, body: unknown, status: 200 | 400 | 401 | 403 | 404 | 409 | 413 | 500 | 503 = 200): Response {
  // safeJsonStringify: control and bidirectional characters from the logs arrive as \u escapes.
  return c.body(safeJsonStringify(body), status, { "Content-Type": "application/json; charset=utf-8" });
}

function apiError(c: Context, e: ApiError): Response {
  if (e.code === "E_AUTH") c.header("WWW-Authenticate", 'Bearer realm="firstcall"');
  return json(c, { error: { code: e.code, message: e.message } }, e.status);
}

/**
 * Builds the service.
 * @example
 * const { app, close } = createServeApp({ view, auth: new ServeAuth(token) });
 * serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 8080 });
 */
export function createServeApp(options: ServeAppOptions): ServeApp {
  const { view, auth } = options;
  const app = new Hono();
  const listeners = new Set<(changes: FindingChange[], triage: TriageChange[]) => void>();
  const pollMs = options.pollMs ?? 1000;

  let pollError: string | undefined;
  /** Hands what the view has read and not yet passed on to every open stream. */
  const publish = (changes: FindingChange[]): void => {
    const triage = view.takeTriageChanges();
    if (changes.length > 0 || triage.length > 0) for (const l of listeners) l(changes, triage);
  };
  /**
   * Reads new commits and hands them to every open stream. Requests refresh through it too, so a
   * change a request's refresh happens to read first still reaches the streams.
   */
  const refresh = (): void => {
    publish(view.refresh());
  };
  const poll = (): void => {
    try {
      refresh();
      pollError = undefined;
    } catch (e) {
      pollError = (e as Error).message;
    }
  };
  const timer = setInterval(() => {
    if (listeners.size > 0) poll();
  }, pollMs);
  timer.unref();

  app.onError((e, c) => {
    if (e instanceof ApiError) return apiError(c, e);
    if (e instanceof FindingStatusError) return apiError(c, new ApiError("E_BAD_REQUEST", 400, e.message));
    const code = (e as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_") || code.startsWith("E_STATE"))
      return apiError(c, new ApiError("E_STATE", 503, `the state cannot be read: ${e.message}`));
    return apiError(c, new ApiError("E_INTERNAL", 500, "internal error (a bug in firstcall)"));
  });
  app.notFound((c) => apiError(c, new ApiError("E_NOT_FOUND", 404, "no such route")));

  // DNS rebinding: a page of another site that resolves its name to 127.0.0.1 sends its own name as
  // Host. Checked first, before anything else answers.
  app.use("*", async (c, next) => {
    const allowed = options.allowedHosts?.();
    const host = (c.req.header("host") ?? "").toLowerCase();
    if (allowed && !allowed.has(host))
      return apiError(c, new ApiError("E_HOST", 403, "this server does not answer to that Host name"));
    await next();
  });
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
      crossOriginResourcePolicy: "same-origin",
      crossOriginOpenerPolicy: "same-origin",
      strictTransportSecurity: false,
    }),
  );
  app.use("*", async (c, next) => {
    await next();
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  /** Who is asking: the role, and whether a bearer token said so (not a cookie, not `--no-auth`). */
  const identify = (c: Context): { role: Role; bearer: boolean } | undefined => {
    if (auth === undefined) return { role: "admin", bearer: false };
    const byToken = auth.roleOfAuthorization(c.req.header("authorization"));
    if (byToken) return { role: byToken, bearer: true };
    const bySession = auth.roleOfSession(getCookie(c, SESSION_COOKIE));
    return bySession ? { role: bySession, bearer: false } : undefined;
  };
  const authorized = (c: Context): boolean => identify(c) !== undefined;

  /**
   * Cross-site request forgery: a state-changing request that is not authorised by a bearer token
   * (a cookie rides along on any request to this origin; `--no-auth` has nothing at all) must carry
   * {@link CSRF_HEADER}; and any such request that says where it comes from (`Origin`,
   * `Sec-Fetch-Site`) must come from this origin.
   */
  const checkCsrf = (c: Context, bearer: boolean): void => {
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      let host = "";
      try {
        host = new URL(origin).host.toLowerCase();
      } catch {
        // "null" and junk: not this origin
      }
      if (host === "" || host !== (c.req.header("host") ?? "").toLowerCase())
        throw new ApiError("E_CSRF", 403, "a change requested from another origin is refused");
    }
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin" && site !== "none")
      throw new ApiError("E_CSRF", 403, `a change requested by a ${site.slice(0, 20)} page is refused`);
    if (!bearer && c.req.header(CSRF_HEADER) !== "1")
      throw new ApiError(
        "E_CSRF",
        403,
        `a change needs the header ${CSRF_HEADER}: 1 (or a bearer token); the dashboard sends it`,
      );
  };

  const startSession = (c: Context, session: string): Response => {
    setCookie(c, SESSION_COOKIE, session, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return c.redirect("/", 303);
  };

  app.get("/healthz", (c) => json(c, { ok: true }));
  app.get("/assets/dashboard.js", (c) =>
    c.body(DASHBOARD_JS, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" }),
  );
  app.get("/assets/dashboard.css", (c) =>
    c.body(DASHBOARD_CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-cache" }),
  );

  app.get("/login", (c) => {
    if (!auth) return c.redirect("/", 303);
    const code = c.req.query("code");
    if (code) {
      const session = auth.redeemLoginCode(code);
      if (session) return startSession(c, session);
      return c.html(loginPage("This login link was already used or is not valid: paste the API token."), 401);
    }
    return c.html(loginPage(), authorized(c) ? 200 : 401);
  });
  app.post("/login", async (c) => {
    if (!auth) return c.redirect("/", 303);
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const session = token ? auth.loginWithToken(token) : undefined;
    if (session) return startSession(c, session);
    return c.html(loginPage("Wrong token."), 401);
  });
  app.post("/logout", (c) => {
    auth?.endSession(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login", 303);
  });

  app.get("/", (c) => {
    if (!authorized(c)) return c.html(loginPage(), 401);
    return c.html(dashboardPage());
  });

  app.use("/api/*", async (c, next) => {
    if (!authorized(c))
      return apiError(
        c,
        new ApiError("E_AUTH", 401, "authentication required: send Authorization: Bearer <token> (printed at start)"),
      );
    await next();
  });

  app.get("/api/v1/findings", (c) => {
    refresh();
    const params = new URL(c.req.url).searchParams;
    const query = parseFindingsQuery(params);
    const limitText = params.get("limit");
    const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new ApiError("E_BAD_REQUEST", 400, `limit: a whole number from 1 to ${MAX_LIMIT}`);
    return json(c, view.page(query, limit, params.get("cursor") ?? undefined));
  });
  app.get("/api/v1/findings/:id", async (c) => {
    refresh();
    const explanation = await view.explain(c.req.param("id"));
    const id = explanation.finding.id;
    return json(c, { ...explanation, triage: view.triageOf(id), triageHistory: await view.triageHistory(id) });
  });
  const setStatus = async (c: Context): Promise<Response> => {
    const who = identify(c);
    if (!who) throw new ApiError("E_AUTH", 401, "authentication required");
    checkCsrf(c, who.bearer);
    if (who.role !== "admin")
      throw new ApiError(
        "E_FORBIDDEN",
        403,
        "this token may only read: acknowledging and suppressing need the API token",
      );
    if (!/^application\/json\b/i.test(c.req.header("content-type") ?? ""))
      throw new ApiError("E_BAD_REQUEST", 400, "send the body as JSON (Content-Type: application/json)");
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new ApiError("E_BAD_REQUEST", 400, "the body is not JSON");
    }
    const parsed = StatusBody.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(
        "E_BAD_REQUEST",
        400,
        `${issue?.path.join(".") || "body"}: ${issue?.message ?? "not a status change"} (expected {"status": "acknowledged"|"suppressed"|"open", "reason": "…", "by"?: "…"})`,
      );
    }
    const body = parsed.data;
    const role = auth === undefined ? "no-auth" : who.role;
    refresh();
    let change: TriageChange;
    try {
      change = await view.setTriage(
        c.req.param("id") ?? "",
        body.status,
        body.reason,
        body.by ? `${body.by} (${role})` : role,
      );
    } catch (e) {
      if (e instanceof StateError) throw new ApiError("E_STATE", 503, `the status was not stored: ${e.message}`);
      throw e;
    }
    publish([]);
    return json(c, { schema: "firstcall.finding-triage/v1", id: change.id, triage: change.triage });
  };
  // A reason is a paragraph: anything much larger is not a status change.
  const limit = bodyLimit({
    maxSize: 16 * 1024,
    onError: (c) => apiError(c, new ApiError("E_BAD_REQUEST", 400, "the body is larger than 16 KiB")),
  });
  app.put("/api/v1/findings/:id/status", limit, setStatus);
  app.post("/api/v1/findings/:id/status", limit, setStatus);
  app.get("/api/v1/whoami", (c) => json(c, { role: identify(c)?.role, auth: auth !== undefined }));
  app.get("/api/v1/summary", async (c) => {
    refresh();
    return json(c, await view.summary());
  });
  app.get("/api/v1/sessions/count", async (c) => json(c, { sessions: await view.sessionCount() }));

  app.get("/api/v1/events", (c) => {
    refresh();
    const lastEventId = c.req.header("last-event-id");
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    return streamSSE(c, async (stream) => {
      const queue: (FindingChange | TriageChange)[] = lastEventId ? view.changedAfter(lastEventId) : [];
      let wake: (() => void) | undefined;
      const listener = (changes: FindingChange[], triage: TriageChange[]) => {
        queue.push(...changes, ...triage);
        wake?.();
      };
      listeners.add(listener);
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: "ready", data: safeJsonStringify({ latest: view.latestUpdate() ?? null }) });
        while (open) {
          while (queue.length > 0 && open) {
            const change = queue.shift() as FindingChange | TriageChange;
            if ("triage" in change)
              await stream.writeSSE({
                event: "triage",
                data: safeJsonStringify({ id: change.id, triage: change.triage }),
              });
            else
              await stream.writeSSE({
                event: "finding",
                id: change.updatedAt,
                data: safeJsonStringify({ change: change.change, finding: change.finding }),
              });
          }
          if (pollError !== undefined)
            await stream.writeSSE({ event: "state-error", data: safeJsonStringify({ message: pollError }) });
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, keepAliveMs).unref();
          });
          wake = undefined;
          if (open && queue.length === 0) await stream.write(": keep-alive\n\n");
        }
      } finally {
        listeners.delete(listener);
      }
    });
  });

  return {
    app,
    close() {
      clearInterval(timer);
      for (const l of listeners) l([], []);
      listeners.clear();
    },
  };
}
