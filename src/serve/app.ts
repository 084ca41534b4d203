/**
 * The HTTP service of `firstcall serve` (hono): a read-only JSON API over the state, a stream of
 * finding changes (Server-Sent Events) and the dashboard page. It never writes the state.
 *
 * Routes (all but /login, /assets and /healthz need the token or a session cookie):
 * - `GET /api/v1/findings` filters and keyset paging (see {@link parseFindingsQuery});
 * - `GET /api/v1/findings/:id` one finding with its evidence (`firstcall.explanation/v1`);
 * - `GET /api/v1/summary`, `GET /api/v1/sessions/count`;
 * - `GET /api/v1/events` SSE: `finding` events `{change, finding}` for every new, updated or retracted
 *   finding, with the commit time as event id (a reconnecting browser sends it back as `Last-Event-ID`
 *   and gets what it missed);
 * - `GET /` the dashboard; `GET /login?code=…` one-time login; `POST /login` (token) ; `POST /logout`.
 *
 * Errors are `{"error":{"code","message"}}` with a stable code ({@link ApiErrorCode}).
 */

import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { safeJsonStringify } from "../safe-text.js";
import { SESSION_COOKIE, SESSION_TTL_MS, type ServeAuth } from "./auth.js";
import { DASHBOARD_CSS, DASHBOARD_JS, dashboardPage, loginPage } from "./dashboard.js";
import { ApiError, type FindingChange, type FindingsView, parseFindingsQuery } from "./findings-view.js";

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

function json(c: Context, body: unknown, status: 200 | 400 | 401 | 403 | 404 | 409 | 500 | 503 = 200): Response {
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
  const listeners = new Set<(changes: FindingChange[]) => void>();
  const pollMs = options.pollMs ?? 1000;

  let pollError: string | undefined;
  /** Reads new commits and hands them to every open stream. */
  const poll = (): void => {
    try {
      const changes = view.refresh();
      pollError = undefined;
      if (changes.length > 0) for (const l of listeners) l(changes);
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

  const authorized = (c: Context): boolean =>
    auth === undefined ||
    auth.checkAuthorization(c.req.header("authorization")) ||
    auth.checkSession(getCookie(c, SESSION_COOKIE));

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
    view.refresh();
    const params = new URL(c.req.url).searchParams;
    const query = parseFindingsQuery(params);
    const limitText = params.get("limit");
    const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new ApiError("E_BAD_REQUEST", 400, `limit: a whole number from 1 to ${MAX_LIMIT}`);
    return json(c, view.page(query, limit, params.get("cursor") ?? undefined));
  });
  app.get("/api/v1/findings/:id", async (c) => {
    view.refresh();
    return json(c, await view.explain(c.req.param("id")));
  });
  app.get("/api/v1/summary", async (c) => {
    view.refresh();
    return json(c, await view.summary());
  });
  app.get("/api/v1/sessions/count", async (c) => json(c, { sessions: await view.sessionCount() }));

  app.get("/api/v1/events", (c) => {
    view.refresh();
    const lastEventId = c.req.header("last-event-id");
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    return streamSSE(c, async (stream) => {
      const queue: FindingChange[] = lastEventId ? view.changedAfter(lastEventId) : [];
      let wake: (() => void) | undefined;
      const listener = (changes: FindingChange[]) => {
        queue.push(...changes);
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
            const change = queue.shift() as FindingChange;
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
      for (const l of listeners) l([]);
      listeners.clear();
    },
  };
}
