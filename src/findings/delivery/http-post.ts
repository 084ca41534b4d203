/**
 * One JSON `POST` over node:http(s), through `HTTPS_PROXY`/`HTTP_PROXY` when set (src/aws/proxy.ts),
 * with a timeout. Used by the webhook and Slack destinations.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { proxyAgentFor } from "../../aws/proxy.js";

export interface PostAnswer {
  readonly status: number;
  readonly body: string;
  readonly retryAfterMs?: number;
}

/**
 * Posts `body`; resolves with the answer whatever its status, rejects on a network error or timeout.
 *
 * @example
 * const { status } = await postJson(new URL("https://siem.example/ingest"), "{}", { "x-id": "1" }, 10_000);
 */
export function postJson(
  url: URL,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostAnswer> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const agent = proxyAgentFor(url.href);
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
        timeout: timeoutMs,
        ...(agent ? { agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          // Keep a little of the answer for the error message, not whatever a broken server sends.
          if (size < 4096) chunks.push(c);
          size += c.length;
        });
        res.on("end", () => {
          const retryAfter = Number(res.headers["retry-after"]);
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8").slice(0, 4096),
            ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** A URL as it may be shown: scheme, host and port only (a webhook's path and query are its secret). */
export function shownUrl(url: URL): string {
  return `${url.protocol}//${url.host}/…`;
}
