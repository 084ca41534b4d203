/**
 * A local stand-in for AWS, used by the tests (and handy for trying `run --endpoint-url`): an
 * HTTP server on 127.0.0.1 that answers STS AssumeRole with fresh fake credentials, records every
 * other request with the session it was signed for, checks its SigV4 signature with the secret it
 * handed out, and answers it like a deny-all role would (403 AccessDenied in the protocol's
 * format). It is a test double for AWS: it talks to nobody else.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  parseAuthorization,
  type ReceivedRequest,
  type SigningCredentials,
  verifySignature,
} from "../trailblazer/signer.js";

export interface RecordedRequest extends ReceivedRequest {
  /** The session name the signing credentials were issued for (undefined: not ours). */
  readonly sessionName?: string;
  readonly accessKeyId?: string;
  /** Why the signature does not hold; undefined when it is valid. */
  readonly signatureProblem?: string;
  readonly status: number;
}

export interface CannedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface RecordingServerOptions {
  /** The caller's long-term credentials: the only ones allowed to call AssumeRole. */
  readonly sourceCredentials: SigningCredentials;
  /** Other credentials whose requests are recorded like a session's (e.g. for replay). */
  readonly knownCredentials?: readonly SigningCredentials[];
  /** Overrides the answer to a recorded request (e.g. throttle the first try). */
  readonly answer?: (request: RecordedRequest, index: number) => CannedAnswer | undefined;
}

interface IssuedSession {
  readonly credentials: SigningCredentials;
  readonly sessionName: string;
  readonly roleArn: string;
}

function parseQuery(search: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (search === "") return out;
  for (const part of search.split("&")) {
    if (part === "") continue;
    const at = part.indexOf("=");
    const key = decodeURIComponent(at < 0 ? part : part.slice(0, at));
    const value = at < 0 ? "" : decodeURIComponent(part.slice(at + 1));
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A running recording server. Close it when done. */
export class RecordingServer {
  readonly requests: RecordedRequest[] = [];
  readonly assumeRoleCalls: Array<{
    sessionName: string;
    roleArn: string;
    policy?: string;
    userAgent?: string;
    /** The region of the signature's credential scope. */
    signingRegion?: string;
  }> = [];
  private readonly sessions = new Map<string, IssuedSession>();
  private readonly server: Server;
  private counter = 0;

  private constructor(private readonly options: RecordingServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
  }

  /** Starts a server on 127.0.0.1 with an ephemeral port. */
  static async start(options: RecordingServerOptions): Promise<RecordingServer> {
    const server = new RecordingServer(options);
    await new Promise<void>((resolve) => server.server.listen(0, "127.0.0.1", resolve));
    return server;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** The credentials issued for a session name (tests use them to sign expectations). */
  sessionFor(accessKeyId: string): IssuedSession | undefined {
    return this.sessions.get(accessKeyId);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }

  private secretFor = (accessKeyId: string): SigningCredentials | undefined => {
    if (accessKeyId === this.options.sourceCredentials.accessKeyId) return this.options.sourceCredentials;
    return (
      this.sessions.get(accessKeyId)?.credentials ??
      this.options.knownCredentials?.find((c) => c.accessKeyId === accessKeyId)
    );
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = new Uint8Array(Buffer.concat(chunks));
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
    const received: ReceivedRequest = {
      method: req.method ?? "GET",
      path: q < 0 ? rawUrl : rawUrl.slice(0, q),
      query: parseQuery(q < 0 ? "" : rawUrl.slice(q + 1)),
      headers,
      body,
    };
    const auth = parseAuthorization(headers.authorization);
    const signatureProblem = await verifySignature(received, this.secretFor);

    if (auth?.accessKeyId === this.options.sourceCredentials.accessKeyId) {
      const form = parseQuery(Buffer.from(body).toString("utf8").replace(/\+/g, "%20"));
      if (form.Action === "AssumeRole" && signatureProblem === undefined) {
        this.assumeRole(form, headers["user-agent"], auth.region, res);
        return;
      }
      res.writeHead(403, { "content-type": "text/xml" });
      res.end(
        `<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>${xmlEscape(signatureProblem ?? "not AssumeRole")}</Message></Error></ErrorResponse>`,
      );
      return;
    }
    const session = auth ? this.sessions.get(auth.accessKeyId) : undefined;
    const base = {
      ...received,
      ...(session ? { sessionName: session.sessionName } : {}),
      ...(auth ? { accessKeyId: auth.accessKeyId } : {}),
      ...(signatureProblem ? { signatureProblem } : {}),
    };
    const canned = this.options.answer?.({ ...base, status: 0 }, this.requests.length);
    const known = session !== undefined || (auth !== undefined && this.secretFor(auth.accessKeyId) !== undefined);
    const answer = canned ?? this.denied(received, known ? undefined : "InvalidClientTokenId");
    this.requests.push({ ...base, status: answer.status });
    res.writeHead(answer.status, { "x-amzn-requestid": `req-${this.requests.length}`, ...answer.headers });
    res.end(received.method === "HEAD" ? undefined : answer.body);
  }

  private assumeRole(
    form: Record<string, string | string[]>,
    userAgent: string | undefined,
    signingRegion: string,
    res: ServerResponse,
  ): void {
    const sessionName = String(form.RoleSessionName ?? "");
    const roleArn = String(form.RoleArn ?? "");
    this.counter++;
    const credentials: SigningCredentials = {
      accessKeyId: `ASIATEST${this.counter.toString(36).toUpperCase().padStart(12, "0")}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(48).toString("base64"),
    };
    this.sessions.set(credentials.accessKeyId, { credentials, sessionName, roleArn });
    const policy = typeof form.Policy === "string" ? form.Policy : undefined;
    this.assumeRoleCalls.push({
      sessionName,
      roleArn,
      ...(policy ? { policy } : {}),
      ...(userAgent ? { userAgent } : {}),
      signingRegion,
    });
    const expiration = new Date(Date.now() + 900_000).toISOString();
    const account = /::(\d{12}):/.exec(roleArn)?.[1] ?? "123456789012";
    const role = roleArn.split("/").pop() ?? "role";
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
        `<AssumedRoleUser><AssumedRoleId>AROATEST:${xmlEscape(sessionName)}</AssumedRoleId>` +
        `<Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(role)}/${xmlEscape(sessionName)}</Arn></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${credentials.accessKeyId}</AccessKeyId><SecretAccessKey>${credentials.secretAccessKey}</SecretAccessKey>` +
        `<SessionToken>${credentials.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `</AssumeRoleResult><ResponseMetadata><RequestId>sts-${this.counter}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  }

  /** A deny-all answer in the request's own protocol. */
  private denied(request: ReceivedRequest, code = "AccessDenied"): CannedAnswer {
    const message = "User is not authorized to perform this action with an explicit deny";
    if (request.headers["x-amz-target"] !== undefined) {
      return {
        status: 400,
        headers: { "content-type": "application/x-amz-json-1.1" },
        body: JSON.stringify({ __type: `com.amazon.coral.service#${code}Exception`, message }),
      };
    }
    if ((request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return {
        status: 403,
        headers: { "content-type": "text/xml" },
        body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
      };
    }
    if (
      (request.headers["content-type"] ?? "").includes("json") ||
      request.headers["x-amz-content-sha256"] === undefined
    ) {
      return {
        status: 403,
        headers: { "x-amzn-errortype": `${code}Exception`, "content-type": "application/json" },
        body: JSON.stringify({ message }),
      };
    }
    return {
      status: 403,
      headers: { "content-type": "application/xml" },
      body: `<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    };
  }
}
