/**
 * A proxy in front of the instance metadata service (IMDS) that only lets real AWS SDKs through.
 *
 * Why: the credentials this project watches are stolen mostly through the metadata service — a
 * server-side request forgery (SSRF) or XXE in an application makes the server fetch
 * `http://169.254.169.254/latest/meta-data/iam/security-credentials/ROLE` for the attacker. Such a
 * request is made by the application's own HTTP client, so it carries that client's user agent
 * (`python-requests/…`, `Java/…`, `curl/…`, a browser's), not an AWS SDK's. The published defence
 * answers 401 to any request whose user agent does not start with an SDK's prefix, with the
 * firewall sending every process's metadata traffic (but the proxy's own) through the proxy.
 *
 * What it does not stop: an attacker who controls the request's headers can claim an SDK's user
 * agent. IMDSv2 covers much of that case (a token must be fetched with a `PUT` and a custom header,
 * which SSRF through a URL cannot do); the proxy and IMDSv2 together cover more than either.
 *
 * Rules, in order (each refusal has a stable code, logged as a detection signal):
 * 1. `forwarded`: a request carrying `X-Forwarded-For`, `Forwarded`, `Via` (or `X-Real-IP`,
 *    `X-Forwarded-Host`) came through another proxy — the SSRF-through-a-proxy case that IMDSv2's
 *    own token `PUT` also refuses.
 * 2. `target`: the request target is not an origin path (`/latest/…`): absolute URLs and `CONNECT`
 *    are how a client uses an HTTP proxy, never how an SDK talks to IMDS.
 * 3. `method`: only `GET`, `HEAD`, and `PUT` to `/latest/api/token` (the IMDSv2 token).
 * 4. `agent`: the user agent must start with an allowed prefix. A request with no user agent at
 *    all is allowed only when it is an IMDSv2 request (the token `PUT`, or a `GET` carrying the
 *    token): the AWS SDK for JavaScript v3 sends no user agent to IMDS, and a client that can send a
 *    `PUT` with custom headers could send any user agent anyway (see `requireAgent`).
 *
 * Allowed requests are forwarded as they are (hop-by-hop headers dropped, `Host` set to the
 * upstream) and the answer streamed back unchanged: nothing is cached, and no body or token is
 * logged.
 *
 * @example
 * const proxy = createImdsProxy({ onRefusal: (r) => console.error(JSON.stringify(r)) });
 * await proxy.listen({ host: "127.0.0.1", port: 9090 });
 */
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

/**
 * User agents of AWS's SDKs and tools. The first five are the published list; the SDKs of today all
 * start with `aws-sdk-` (`aws-sdk-go-v2/`, `aws-sdk-java/`, `aws-sdk-js/`, `aws-sdk-rust/`,
 * `aws-sdk-php/`, `aws-sdk-ruby3/`, `aws-sdk-dotnet-…`), which the first prefix covers.
 */
export const DEFAULT_ALLOWED_AGENT_PREFIXES: readonly string[] = [
  "aws-sdk-",
  "Botocore/",
  "Boto3/",
  "aws-cli/",
  "aws-chalice/",
];

/** Headers that show a request was relayed by another proxy. */
const FORWARDING_HEADERS = ["x-forwarded-for", "forwarded", "via", "x-real-ip", "x-forwarded-host"] as const;

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

const TOKEN_PATH = "/latest/api/token";
const TOKEN_HEADER = "x-aws-ec2-metadata-token";
const TOKEN_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";

/** Why a request was refused; stable, for alerting on the access log. */
export type RefusalCode = "forwarded" | "target" | "method" | "agent";

export type Verdict =
  | { readonly allow: true }
  | { readonly allow: false; readonly code: RefusalCode; readonly status: number; readonly reason: string };

/** What the proxy looks at in a request. */
export interface MetadataRequest {
  readonly method: string;
  /** The request target as sent (origin form `/latest/…` for a real client). */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
}

export interface JudgeOptions {
  /** Allowed user-agent prefixes (case-sensitive, as the SDKs send them). */
  readonly allowedAgentPrefixes?: readonly string[];
  /** Refuse requests without a user agent even when they use IMDSv2 (breaks the JavaScript SDK v3). */
  readonly requireAgent?: boolean;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

/**
 * Decides whether a request may reach the metadata service (pure: no I/O).
 *
 * @example
 * judgeMetadataRequest({ method: "GET", target: "/latest/meta-data/", headers: { "user-agent": "curl/8.5.0" } })
 * // → { allow: false, code: "agent", status: 401, reason: "user agent curl/8.5.0 is not an AWS SDK's" }
 */
export function judgeMetadataRequest(req: MetadataRequest, options: JudgeOptions = {}): Verdict {
  const prefixes = options.allowedAgentPrefixes ?? DEFAULT_ALLOWED_AGENT_PREFIXES;
  const relayedBy = FORWARDING_HEADERS.filter((h) => req.headers[h] !== undefined);
  if (relayedBy.length > 0)
    return { allow: false, code: "forwarded", status: 403, reason: `relayed by a proxy (${relayedBy.join(", ")})` };
  if (!req.target.startsWith("/") || req.method === "CONNECT")
    return { allow: false, code: "target", status: 400, reason: "not an origin-form request to the metadata service" };
  const path = pathOf(req.target);
  const isTokenRequest = req.method === "PUT" && path === TOKEN_PATH;
  if (!(req.method === "GET" || req.method === "HEAD" || isTokenRequest))
    return { allow: false, code: "method", status: 405, reason: `method ${req.method} is not allowed on ${path}` };
  const agent = header(req.headers, "user-agent");
  if (agent === undefined || agent === "") {
    const usesV2 = isTokenRequest
      ? header(req.headers, TOKEN_TTL_HEADER) !== undefined
      : header(req.headers, TOKEN_HEADER) !== undefined;
    if (usesV2 && !options.requireAgent) return { allow: true };
    return {
      allow: false,
      code: "agent",
      status: 401,
      reason: usesV2 ? "no user agent" : "no user agent and no IMDSv2 token",
    };
  }
  if (prefixes.some((p) => agent.startsWith(p))) return { allow: true };
  return { allow: false, code: "agent", status: 401, reason: "user agent is not an AWS SDK's" };
}

/** One refused request, as written to the access log (no header values but the user agent). */
export interface RefusalRecord {
  readonly event: "imds-refusal";
  readonly time: string;
  readonly code: RefusalCode;
  readonly status: number;
  readonly reason: string;
  readonly method: string;
  /** The path only: a query string is not logged. */
  readonly path: string;
  /** At most 256 characters of it. */
  readonly userAgent: string | null;
  readonly remoteAddress: string | null;
  readonly remotePort: number | null;
}

export interface ImdsProxyOptions extends JudgeOptions {
  /** The metadata service (default `http://169.254.169.254`; IPv6: `http://[fd00:ec2::254]`). */
  readonly upstream?: string | URL;
  /** Give up on the upstream after this long (default 5 s): the client gets 504. */
  readonly upstreamTimeoutMs?: number;
  readonly onRefusal?: (record: RefusalRecord) => void;
  /** Called when the upstream cannot be reached (no secret in it). */
  readonly onUpstreamError?: (error: {
    readonly code: string;
    readonly message: string;
    readonly path: string;
  }) => void;
}

export interface ImdsProxyStats {
  allowed: number;
  refused: Record<RefusalCode, number>;
  upstreamErrors: number;
}

export interface ImdsProxy {
  readonly server: Server;
  readonly stats: ImdsProxyStats;
  /** Starts listening; resolves with the bound address. */
  listen(at: { host: string; port: number }): Promise<AddressInfo>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4096;

/**
 * Creates the proxy (not yet listening).
 *
 * @example
 * const proxy = createImdsProxy({ upstream: "http://169.254.169.254" });
 * const { port } = await proxy.listen({ host: "127.0.0.1", port: 9090 });
 */
export function createImdsProxy(options: ImdsProxyOptions = {}): ImdsProxy {
  const upstream = new URL(options.upstream ?? "http://169.254.169.254");
  if (upstream.protocol !== "http:") throw new TypeError(`upstream must be an http:// URL, got ${upstream.protocol}`);
  const timeoutMs = options.upstreamTimeoutMs ?? 5000;
  const stats: ImdsProxyStats = {
    allowed: 0,
    refused: { forwarded: 0, target: 0, method: 0, agent: 0 },
    upstreamErrors: 0,
  };

  function refuse(req: IncomingMessage, res: ServerResponse, verdict: Extract<Verdict, { allow: false }>): void {
    stats.refused[verdict.code]++;
    const agent = header(req.headers, "user-agent");
    options.onRefusal?.({
      event: "imds-refusal",
      time: new Date().toISOString(),
      code: verdict.code,
      status: verdict.status,
      reason: verdict.reason,
      method: req.method ?? "",
      path: pathOf(req.url ?? "").slice(0, 512),
      userAgent: agent === undefined ? null : agent.slice(0, 256),
      remoteAddress: req.socket.remoteAddress ?? null,
      remotePort: req.socket.remotePort ?? null,
    });
    // Drain what the client sent so the connection can be reused, but never more than a little.
    req.resume();
    const body = `${verdict.reason}\n`;
    res.writeHead(verdict.status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
    });
    res.end(body);
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || name === "host") continue;
      headers[name] = value;
    }
    headers.host = upstream.host;
    const path = pathOf(req.url ?? "/");
    let received = 0;
    const upstreamReq = request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: upstream.port || 80,
        method: req.method,
        path: req.url,
        headers,
        timeout: timeoutMs,
        agent: upstreamAgent,
      },
      (upstreamRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value === undefined || HOP_BY_HOP.has(name)) continue;
          out[name] = value;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, out);
        upstreamRes.pipe(res);
      },
    );
    let failed = false;
    const fail = (status: number, code: string, message: string) => {
      if (failed) return;
      failed = true;
      stats.upstreamErrors++;
      options.onUpstreamError?.({ code, message, path });
      if (!res.headersSent) {
        res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end(`metadata service: ${message}\n`);
      } else res.destroy();
    };
    upstreamReq.on("timeout", () => {
      upstreamReq.destroy();
      fail(504, "timeout", `no answer within ${timeoutMs} ms`);
    });
    upstreamReq.on("error", (e: NodeJS.ErrnoException) => fail(502, e.code ?? "error", e.code ?? "unreachable"));
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_BODY_BYTES) {
        failed = true;
        upstreamReq.destroy();
        if (!res.headersSent) {
          res.writeHead(413, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
          res.end("request body too large\n");
        }
        return;
      }
      upstreamReq.write(chunk);
    });
    req.on("end", () => upstreamReq.end());
    req.on("error", () => upstreamReq.destroy());
  }

  // Keep-alive to the upstream: IMDS answers in well under a millisecond, so a new TCP connection per
  // request would dominate the proxy's added latency.
  const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 64 });

  const server = createServer((req, res) => {
    const verdict = judgeMetadataRequest(
      { method: req.method ?? "", target: req.url ?? "", headers: req.headers },
      options,
    );
    if (!verdict.allow) {
      refuse(req, res, verdict);
      return;
    }
    stats.allowed++;
    forward(req, res);
  });
  // A client may send a CONNECT (an HTTP proxy tunnel): refuse it like any other non-origin request.
  server.on("connect", (req: IncomingMessage, socket) => {
    stats.refused.target++;
    options.onRefusal?.({
      event: "imds-refusal",
      time: new Date().toISOString(),
      code: "target",
      status: 400,
      reason: "CONNECT is not a metadata request",
      method: "CONNECT",
      path: "",
      userAgent: header(req.headers, "user-agent")?.slice(0, 256) ?? null,
      remoteAddress: req.socket.remoteAddress ?? null,
      remotePort: req.socket.remotePort ?? null,
    });
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  // Slow or idle clients must not hold the proxy's sockets forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  return {
    server,
    stats,
    listen(at) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(at.port, at.host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      upstreamAgent.destroy();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
