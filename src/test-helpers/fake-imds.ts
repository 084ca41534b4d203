/**
 * A stand-in for the EC2 instance metadata service on 127.0.0.1, for the metadata proxy's tests and
 * load figures. No local implementation of IMDS exists as a library here, so this one implements the
 * parts the proxy touches, as AWS documents them: the IMDSv2 token `PUT /latest/api/token` with
 * `X-aws-ec2-metadata-token-ttl-seconds` (1–21600, refused when `X-Forwarded-For` is present),
 * the token header on reads (required when `httpTokens` is `required`), and the role credentials
 * under `/latest/meta-data/iam/security-credentials/`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeImds {
  readonly url: string;
  readonly server: Server;
  /** Requests received, by path. */
  readonly hits: Map<string, number>;
  /** Every user agent received (undefined when absent). */
  readonly agents: (string | undefined)[];
  /** The credentials it hands out (to check they are never logged). */
  readonly credentials: { readonly AccessKeyId: string; readonly SecretAccessKey: string; readonly Token: string };
  close(): Promise<void>;
}

export const FAKE_ROLE = "firstcall-test-role";

/**
 * Starts the fake on 127.0.0.1 and an ephemeral port.
 *
 * @example
 * const imds = await startFakeImds({ httpTokens: "required" });
 * // … GET `${imds.url}/latest/meta-data/instance-id` with a token …
 * await imds.close();
 */
export async function startFakeImds(options: { httpTokens?: "optional" | "required" } = {}): Promise<FakeImds> {
  const tokens = new Set<string>();
  const hits = new Map<string, number>();
  const agents: (string | undefined)[] = [];
  const credentials = {
    AccessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
    SecretAccessKey: `secret-${randomBytes(16).toString("hex")}`,
    Token: `token-${randomBytes(24).toString("hex")}`,
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    agents.push(req.headers["user-agent"]);
    const send = (status: number, body: string, type = "text/plain") => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (path === "/latest/api/token") {
      if (req.method !== "PUT") return send(405, "");
      if (req.headers["x-forwarded-for"] !== undefined) return send(403, "");
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(400, "");
      const token = randomBytes(24).toString("base64url");
      tokens.add(token);
      res.setHeader("x-aws-ec2-metadata-token-ttl-seconds", String(ttl));
      return send(200, token);
    }
    const token = req.headers["x-aws-ec2-metadata-token"];
    if (token !== undefined && !tokens.has(String(token))) return send(401, "");
    if (token === undefined && options.httpTokens === "required") return send(401, "");
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "");
    if (path === "/latest/meta-data/instance-id") return send(200, "i-0123456789abcdef0");
    if (path === "/latest/meta-data/iam/security-credentials/") return send(200, FAKE_ROLE);
    if (path === `/latest/meta-data/iam/security-credentials/${FAKE_ROLE}`) {
      const body = JSON.stringify({
        Code: "Success",
        LastUpdated: new Date().toISOString(),
        Type: "AWS-HMAC",
        ...credentials,
        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
      });
      return send(200, body, "application/json");
    }
    return send(404, "");
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    hits,
    agents,
    credentials,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
