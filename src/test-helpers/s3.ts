/**
 * S3 for tests: a real S3 REST server (s3rver) on 127.0.0.1, a client for it, uploads of local
 * trees, and a small HTTP proxy in front of it that counts requests and can answer some of them
 * itself with S3 errors (503 SlowDown, 403 AccessDenied). The proxy exists because s3rver has no
 * access control and never throttles: it is the only stand-in in these tests, and says so.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** A running s3rver, storing into `directory`. Close it when done. */
export async function startS3rver(directory: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory });
  fixDelimitedListings(server);
  const { port } = (await server.run()) as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}

interface StoredObject {
  readonly key: string;
}
interface ListResult {
  objects: StoredObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface ListOptions {
  delimiter?: string;
  prefix?: string;
  maxKeys?: number;
  startAfter?: string;
}

/**
 * s3rver 3.7.1 stops its walk of the stored folders below the first delimiter, so a delimited listing
 * (`Delimiter: "/"`) finds a common prefix only when an object lies directly below it: `AWSLogs/`
 * listed with a delimiter shows no `AWSLogs/123456789012/` when the objects are deeper, as they always
 * are in CloudTrail's layout. S3 itself groups every key under the prefix. This replaces that one
 * function of the running server with S3's behaviour: list every key under the prefix (s3rver's own
 * listing without a delimiter), then group them as S3 does.
 */
function fixDelimitedListings(server: S3rver): void {
  const store = (server as unknown as { store: { listObjects(b: string, o: ListOptions): Promise<ListResult> } }).store;
  const original = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const delimiter = options.delimiter ?? "";
    if (delimiter === "") return original(bucket, options);
    const prefix = options.prefix ?? "";
    const maxKeys = options.maxKeys ?? 1000;
    const all = await original(bucket, { ...options, delimiter: "", maxKeys: Number.POSITIVE_INFINITY });
    const objects: StoredObject[] = [];
    const commonPrefixes = new Set<string>();
    for (const o of all.objects) {
      const at = o.key.slice(prefix.length).indexOf(delimiter);
      if (at >= 0) commonPrefixes.add(o.key.slice(0, prefix.length + at + delimiter.length));
      else objects.push(o);
    }
    if (objects.length + commonPrefixes.size > maxKeys) {
      throw new Error("test server: a delimited listing over max-keys is not supported");
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
  };
}

/** An SDK client for a local S3 endpoint (path-style, s3rver's credentials). */
export function localS3Client(endpoint: string): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
}

/** Creates a bucket (if needed) and uploads every file under `dir` to `keyPrefix` + its relative path. */
export async function uploadTree(client: S3Client, bucket: string, dir: string, keyPrefix: string): Promise<string[]> {
  await createBucket(client, bucket);
  const keys: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else keys.push(relative(dir, path).split("\\").join("/"));
    }
  };
  walk(dir);
  await putAll(
    client,
    bucket,
    keys.map((k) => ({ key: keyPrefix + k, body: readFileSync(join(dir, k)) })),
  );
  return keys.map((k) => keyPrefix + k);
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if ((e as Error).name !== "BucketAlreadyOwnedByYou" && (e as Error).name !== "BucketAlreadyExists") throw e;
  }
}

/** Puts objects, a few at a time. */
export async function putAll(
  client: S3Client,
  bucket: string,
  objects: readonly { key: string; body: Uint8Array | string }[],
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const o = objects[next++] as { key: string; body: Uint8Array | string };
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: o.body }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** One request the proxy saw. */
export interface ProxiedRequest {
  readonly method: string;
  /** `ListObjectsV2`, `GetObject`, `HeadObject` or `other`. */
  readonly operation: string;
  readonly bucket: string;
  /** The object key (GET/HEAD of an object), else "". */
  readonly key: string;
  /** The listing's `prefix` parameter, else "". */
  readonly prefix: string;
  readonly delimiter: boolean;
  /** The `If-Match` header sent, if any. */
  readonly ifMatch?: string;
  /** The status the client got. */
  status: number;
}

/** An S3 error the proxy answers instead of the server. */
export interface S3Fault {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export const SLOW_DOWN: S3Fault = { status: 503, code: "SlowDown", message: "Please reduce your request rate." };
export const ACCESS_DENIED: S3Fault = { status: 403, code: "AccessDenied", message: "Access Denied" };

/**
 * An HTTP proxy on 127.0.0.1 in front of a local S3 server (path-style requests only): records every
 * request, and answers with `fault(request, index)` when it returns one, else forwards the request
 * unchanged (headers included, so the signature still holds).
 */
export class S3FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  fault: (request: ProxiedRequest, index: number) => S3Fault | undefined = () => undefined;
  private readonly server: Server;
  private readonly target: URL;

  private constructor(target: string) {
    this.target = new URL(target);
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(target: string): Promise<S3FaultProxy> {
    const proxy = new S3FaultProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The requests of one operation. */
  of(operation: string): ProxiedRequest[] {
    return this.requests.filter((r) => r.operation === operation);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://proxy");
    const [, bucket = "", ...rest] = url.pathname.split("/");
    const key = rest.map((p) => decodeURIComponent(p)).join("/");
    const method = req.method ?? "GET";
    const operation =
      method === "GET" && key === "" && url.searchParams.get("list-type") === "2"
        ? "ListObjectsV2"
        : method === "GET" && key !== ""
          ? "GetObject"
          : method === "HEAD" && key !== ""
            ? "HeadObject"
            : "other";
    const seen: ProxiedRequest = {
      method,
      operation,
      bucket,
      key,
      prefix: url.searchParams.get("prefix") ?? "",
      delimiter: url.searchParams.has("delimiter"),
      ...(typeof req.headers["if-match"] === "string" ? { ifMatch: req.headers["if-match"] } : {}),
      status: 0,
    };
    const index = this.requests.length;
    this.requests.push(seen);
    const fault = this.fault(seen, index);
    if (fault) {
      seen.status = fault.status;
      // Drain the request first: the client is still sending when an error comes back otherwise.
      req.resume();
      req.on("end", () => {
        res.writeHead(fault.status, { "content-type": "application/xml" });
        res.end(
          method === "HEAD"
            ? undefined
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message}</Message><RequestId>proxy-${index}</RequestId></Error>`,
        );
      });
      return;
    }
    const forward = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        seen.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", (e) => {
      seen.status = 502;
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(forward);
  }
}
