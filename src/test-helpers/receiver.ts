/**
 * An HTTP receiver on 127.0.0.1 for delivery tests (webhook- and Slack-shaped endpoints): it records
 * every request and answers with what `answer` says — a status, or `"hang"` to keep the request open
 * (for a test that kills the sender mid-request). Close it when done.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  readonly status: number | "hang";
}

export interface Receiver {
  /** `http://127.0.0.1:PORT/hook/SECRETPATH`: the path stands for a webhook URL's secret part. */
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** Finding ids of the requests answered 2xx (from `X-Firstcall-Finding-Ids`, or Slack's footer). */
  acknowledged(): string[];
  close(): Promise<void>;
}

/** @example const r = await startReceiver(() => (down ? 500 : 200)); */
export async function startReceiver(answer: (index: number, body: string) => number | "hang"): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const status = answer(received.length, body);
      received.push({ path: req.url ?? "/", headers: req.headers, body, status });
      if (status === "hang") {
        hanging.push(res);
        return;
      }
      res.writeHead(status);
      res.end(status === 200 ? "ok" : "no");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook/SECRETPATH`,
    received,
    acknowledged: () =>
      received.filter((r) => r.status !== "hang" && r.status >= 200 && r.status < 300).flatMap((r) => findingIdsOf(r)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The finding ids a request carried: the webhook's header, else the id in a Slack message's footer. */
export function findingIdsOf(r: ReceivedRequest): string[] {
  const header = r.headers["x-firstcall-finding-ids"];
  if (typeof header === "string") return header.split(",").filter(Boolean);
  return [...r.body.matchAll(/id `([0-9a-f]{32})`/g)].map((m) => m[1] as string);
}
