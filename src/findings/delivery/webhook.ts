/**
 * A generic webhook: the findings as one JSON document per request, signed so the receiver can tell
 * the request came from this firstcall and is fresh.
 *
 * Signature: `X-Firstcall-Signature: sha256=HEX`, the HMAC-SHA256 with the shared key of
 * `TIMESTAMP + "." + BODY`, where `X-Firstcall-Timestamp` is the Unix time in seconds of the send. A
 * receiver recomputes it, compares in constant time and refuses timestamps older than a few minutes
 * (a replay). The key comes from the environment or a file, never from the command line.
 *
 * Body (`format`): `json` (default) `{"schema":"firstcall.findings/v1","findings":[…]}` (each finding
 * as in `--format jsonl`); `jsonl` / `ocsf` one finding / one OCSF Detection Finding event per line
 * (`application/x-ndjson`), as `--format` writes them. `X-Firstcall-Finding-Ids` lists the ids for
 * de-duplication without parsing the body.
 */
import { createHmac } from "node:crypto";
import type { Finding } from "../finding.js";
import { FORMATS } from "../formats/index.js";
import { allFailed, type Destination, retryableStatus, type SendResult } from "./destination.js";
import { postJson, shownUrl } from "./http-post.js";

export interface WebhookOptions {
  readonly url: URL;
  /** The HMAC key; without one the request is not signed (the receiver should then refuse it). */
  readonly signingKey?: string;
  /** `json` (default), `jsonl` or `ocsf`. */
  readonly format?: "json" | "jsonl" | "ocsf";
  readonly timeoutMs?: number;
  /** For tests: the clock. */
  readonly now?: () => number;
}

/**
 * The signature header's value for a body sent at `timestamp` (seconds).
 *
 * @example
 * webhookSignature("key", 1764650000, '{"findings":[]}') // "sha256=…"
 */
export function webhookSignature(key: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** @example new WebhookDestination({ url: new URL("https://siem.example/ingest"), signingKey }) */
export class WebhookDestination implements Destination {
  readonly name: string;
  readonly maxBatch = 100;
  constructor(private readonly options: WebhookOptions) {
    this.name = `webhook ${shownUrl(options.url)}`;
  }

  async send(findings: readonly Finding[]): Promise<SendResult> {
    const lines = this.options.format && this.options.format !== "json" ? FORMATS.get(this.options.format) : undefined;
    const body = lines ? lines.render(findings) : JSON.stringify({ schema: "firstcall.findings/v1", findings });
    const timestamp = Math.floor((this.options.now ?? Date.now)() / 1000);
    const headers: Record<string, string> = {
      "user-agent": "firstcall-webhook/1",
      "x-firstcall-timestamp": String(timestamp),
      "x-firstcall-finding-ids": findings.map((f) => f.id).join(","),
      ...(lines ? { "content-type": "application/x-ndjson" } : {}),
    };
    if (this.options.signingKey)
      headers["x-firstcall-signature"] = webhookSignature(this.options.signingKey, timestamp, body);
    try {
      const answer = await postJson(this.options.url, body, headers, this.options.timeoutMs ?? 10_000);
      if (answer.status >= 200 && answer.status < 300) return { delivered: findings.map((f) => f.id), failed: [] };
      return allFailed(findings, retryableStatus(answer.status), `${this.name} answered ${answer.status}`);
    } catch (e) {
      return allFailed(findings, true, `${this.name}: ${(e as Error).message}`);
    }
  }
}
