/**
 * Starting and stopping `firstcall serve`: opens the state read-only (with a connection that may
 * write finding statuses only, beside a running scan: `SqliteOpenOptions.statusWrites`), checks the
 * bind address against the authentication choice, listens, and says once where to go.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import ipaddr from "ipaddr.js";
import { UsageError } from "../errors.js";
import { SqliteStore } from "../state/sqlite.js";
import { createServeApp } from "./app.js";
import { MIN_TOKEN_LENGTH, randomSecret, ServeAuth } from "./auth.js";
import { FindingsView } from "./findings-view.js";

export interface StartServerOptions {
  readonly statePath: string;
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** `false`: no authentication (`--no-auth`), loopback only. */
  readonly auth: boolean;
  /** The API token (may also acknowledge and suppress); a random one is made when absent. */
  readonly token?: string;
  /** A token that may only read (403 on changes); none when absent. */
  readonly readOnlyToken?: string;
  readonly learnWindowMinutes: number;
  readonly pollMs?: number;
  readonly keepAliveMs?: number;
}

export interface RunningServer {
  /** `http://host:port` as bound (the real port when 0 was asked). */
  readonly url: string;
  readonly port: number;
  /** The API token (undefined with `--no-auth`): the caller prints it once, never logs it. */
  readonly token: string | undefined;
  /** A one-time login link for a browser (undefined with `--no-auth`). */
  readonly loginUrl: string | undefined;
  /** A new one-time login link. */
  newLoginUrl(): string | undefined;
  close(): Promise<void>;
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost") return true;
  if (!ipaddr.isValid(h)) return false;
  const addr = ipaddr.process(h);
  return addr.range() === "loopback";
}

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * Opens the state read-only and starts listening.
 * @throws UsageError for a non-loopback address without authentication, a short token, or a port in use;
 *   StateError when the state cannot be read.
 * @example
 * const s = await startServer({ statePath, host: "127.0.0.1", port: 0, auth: true, learnWindowMinutes: 30 });
 * console.error(s.loginUrl); await s.close();
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  if (!options.auth && !isLoopback(options.host))
    throw new UsageError(
      "E_USAGE",
      `--host ${options.host}: refusing to serve without authentication on an address other machines can reach; drop --no-auth or bind to 127.0.0.1`,
    );
  if (options.token !== undefined && options.token.length < MIN_TOKEN_LENGTH)
    throw new UsageError("E_USAGE", `the API token is shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (options.readOnlyToken !== undefined && options.readOnlyToken.length < MIN_TOKEN_LENGTH)
    throw new UsageError("E_USAGE", `the read-only token is shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (options.readOnlyToken !== undefined && !options.auth)
    throw new UsageError("E_USAGE", "a read-only token with --no-auth: without authentication anyone may change");
  if (options.readOnlyToken !== undefined && options.token !== undefined && options.readOnlyToken === options.token)
    throw new UsageError("E_USAGE", "the read-only token is the API token: give it another value");
  if (options.statePath === ":memory:")
    throw new UsageError("E_USAGE", "--state :memory: holds nothing to serve: give the state file a scan writes");
  const store = SqliteStore.open(options.statePath, { readOnly: true, statusWrites: true });
  const view = new FindingsView(store, options.learnWindowMinutes);
  try {
    view.refresh();
  } catch (e) {
    await store.close();
    throw e;
  }
  const token = options.auth ? (options.token ?? randomSecret()) : undefined;
  const auth = token !== undefined ? new ServeAuth(token, options.readOnlyToken) : undefined;
  let allowed: Set<string> | undefined;
  const service = createServeApp({
    view,
    auth,
    allowedHosts: () => allowed,
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: service.app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
    s.once("error", (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "EADDRINUSE"
          ? "the port is in use: choose another --port"
          : e.code === "EADDRNOTAVAIL"
            ? "no such address on this machine"
            : e.message;
      reject(new UsageError("E_USAGE", `cannot listen on ${options.host}:${options.port}: ${why}`));
    });
  }).catch(async (e) => {
    service.close();
    await store.close();
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://${urlHost(options.host)}:${port}`;
  if (isLoopback(options.host))
    allowed = new Set(
      [urlHost(options.host), "127.0.0.1", "localhost", "[::1]"].map((h) => `${h.toLowerCase()}:${port}`),
    );
  const newLoginUrl = () => (auth ? `${base}/login?code=${auth.newLoginCode()}` : undefined);
  return {
    url: base,
    port,
    token,
    loginUrl: newLoginUrl(),
    newLoginUrl,
    async close() {
      service.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeAllConnections" in server) server.closeAllConnections();
      });
      await view.close();
    },
  };
}
