/**
 * Sends a signed request with node:http(s), exactly as built (no header rewriting), and reads the
 * AWS error code out of the answer, whatever the protocol.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { proxyAgentFor } from "../aws/proxy.js";
import { queryString } from "./request-builder.js";
import type { SignedRequest } from "./signer.js";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** At most the first 64 KiB. */
  readonly body: string;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/** Sends the request; rejects on network errors and after `timeoutMs` without an answer. */
export function sendRequest(request: SignedRequest, timeoutMs: number): Promise<HttpAnswer> {
  const send = request.protocol === "http:" ? httpRequest : httpsRequest;
  const query = queryString(request.query);
  const body =
    request.body === undefined
      ? undefined
      : typeof request.body === "string"
        ? Buffer.from(request.body)
        : request.body;
  const headers: Record<string, string> = { ...request.headers };
  if (body !== undefined) headers["content-length"] = String(body.byteLength);
  const defaultPort = request.protocol === "http:" ? 80 : 443;
  const origin = `${request.protocol}//${request.hostname}${request.port && request.port !== defaultPort ? `:${request.port}` : ""}`;
  // Through the environment's proxy (HTTPS_PROXY & co., NO_PROXY), else a fresh direct connection.
  const agent = proxyAgentFor(`${origin}/`) ?? false;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        method: request.method,
        hostname: request.hostname,
        port: request.port,
        path: `${request.path}${query ? `?${query}` : ""}`,
        headers,
        timeout: timeoutMs,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on("end", () => {
          const answerHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) answerHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: answerHeaders,
            body: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString("utf8"),
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

/** The AWS error code of an answer (`AccessDenied`, `AccessDeniedException`, …), if it has one. */
export function errorCode(answer: HttpAnswer): string | undefined {
  if (answer.status < 300) return undefined;
  const typeHeader = answer.headers["x-amzn-errortype"];
  if (typeHeader) return cleanCode(typeHeader);
  const xml = /<Code>([^<]+)<\/Code>/.exec(answer.body);
  if (xml?.[1]) return xml[1].trim();
  try {
    const json = JSON.parse(answer.body) as Record<string, unknown>;
    for (const key of ["__type", "code", "Code", "errorCode"]) {
      const value = json[key];
      if (typeof value === "string" && value !== "") return cleanCode(value);
    }
  } catch {
    // not JSON: fall through to the status code
  }
  return `HTTP${answer.status}`;
}

/** `com.amazon.coral#AccessDeniedException:http://…` → `AccessDeniedException`. */
function cleanCode(raw: string): string {
  const noUrl = raw.split(":")[0] ?? raw;
  const noNamespace = noUrl.split("#").pop() ?? noUrl;
  return noNamespace.trim();
}

/** The request id AWS gave the answer, for the run file. */
export function requestId(answer: HttpAnswer): string | undefined {
  const header = answer.headers["x-amzn-requestid"] ?? answer.headers["x-amz-request-id"];
  if (header) return header;
  return /<RequestI[dD]>([^<]+)<\/RequestI[dD]>/.exec(answer.body)?.[1];
}

const THROTTLING_CODES = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "SlowDown",
  "ProvisionedThroughputExceededException",
  "BandwidthLimitExceeded",
]);

/** True when the answer says "slow down": the call is retried after a pause. */
export function isThrottled(status: number, code: string | undefined): boolean {
  return status === 429 || (code !== undefined && THROTTLING_CODES.has(code));
}
