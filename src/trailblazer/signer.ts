/**
 * SigV4 signing (and re-checking) of Trailblazer requests with @smithy/signature-v4, the signer
 * the AWS SDK itself uses.
 */
import { createHash } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { UnsignedRequest } from "./request-builder.js";

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SigningOptions {
  readonly region: string;
  readonly service: string;
  readonly signingDate?: Date;
}

/** A signed request: the unsigned one plus `host`, `x-amz-date`, the token and `authorization`. */
export type SignedRequest = UnsignedRequest;

function hostHeader(request: UnsignedRequest): string {
  return request.port === undefined ? request.hostname : `${request.hostname}:${request.port}`;
}

/** S3 signs the path as sent; every other service signs it percent-encoded a second time. */
function escapesPath(service: string): boolean {
  return service !== "s3" && service !== "s3-outposts" && service !== "s3express";
}

/**
 * Signs a request with SigV4. `host` is set from the hostname so the signature covers it.
 *
 * @example
 * const signed = await signRequest(request, creds, { region: "us-east-1", service: "iam" });
 * signed.headers.authorization; // "AWS4-HMAC-SHA256 Credential=ASIA…/20200101/us-east-1/iam/aws4_request, …"
 */
export async function signRequest(
  request: UnsignedRequest,
  credentials: SigningCredentials,
  options: SigningOptions,
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    credentials,
    region: options.region,
    service: options.service,
    sha256: Sha256,
    uriEscapePath: escapesPath(options.service),
  });
  const toSign = {
    ...request,
    headers: { ...request.headers, host: hostHeader(request) },
  };
  const signed = await signer.sign(toSign, options.signingDate ? { signingDate: options.signingDate } : {});
  return { ...request, headers: { ...(signed.headers as Record<string, string>) } };
}

/** The parts of the `authorization` header of a SigV4 request. */
export interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/** Parses `AWS4-HMAC-SHA256 Credential=…/date/region/service/aws4_request, SignedHeaders=…, Signature=…`. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  if (header === undefined) return undefined;
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (!match) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match;
  if (!accessKeyId || !date || !region || !service || !signedHeaders || !signature) return undefined;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(";"), signature };
}

/** A request as a server received it. */
export interface ReceivedRequest {
  readonly method: string;
  /** The raw path from the request line (still percent-encoded). */
  readonly path: string;
  /** Decoded query parameters. */
  readonly query: Record<string, string | string[]>;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * Checks a received request's SigV4 signature by signing the same bytes again, with the secret
 * the verifier knows, at the time the request claims, over the headers it says it signed.
 * Returns a reason when the signature does not hold, undefined when it does.
 */
export async function verifySignature(
  received: ReceivedRequest,
  secretFor: (accessKeyId: string) => SigningCredentials | undefined,
): Promise<string | undefined> {
  const auth = parseAuthorization(received.headers.authorization);
  if (auth === undefined) return "no SigV4 authorization header";
  const credentials = secretFor(auth.accessKeyId);
  if (credentials === undefined) return `unknown access key ${auth.accessKeyId}`;
  const amzDate = received.headers["x-amz-date"];
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) return "no x-amz-date";
  if (!amzDate.startsWith(auth.date)) return "credential scope date differs from x-amz-date";
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = received.headers[name];
    if (value === undefined) return `signed header ${name} missing`;
    if (name !== "authorization") headers[name] = value;
  }
  if (!auth.signedHeaders.includes("host")) return "host is not signed";
  // The signature covers the payload hash header, not the body: check the body against it here.
  const bodyHash = createHash("sha256").update(received.body).digest("hex");
  const claimedHash = received.headers["x-amz-content-sha256"];
  if (claimedHash !== undefined && claimedHash !== "UNSIGNED-PAYLOAD" && claimedHash !== bodyHash) {
    return "x-amz-content-sha256 does not match the body";
  }
  if (credentials.sessionToken !== undefined && received.headers["x-amz-security-token"] !== credentials.sessionToken) {
    return "session token missing or wrong";
  }
  const signer = new SignatureV4({
    credentials,
    region: auth.region,
    service: auth.service,
    sha256: Sha256,
    uriEscapePath: escapesPath(auth.service),
  });
  const again = await signer.sign(
    {
      method: received.method,
      protocol: "http:",
      hostname: headers.host ?? "",
      path: received.path,
      query: received.query,
      headers,
      body: received.body,
    },
    // Only the headers the client signed take part: others (added by the HTTP stack) are ignored.
    { signingDate, signableHeaders: new Set(auth.signedHeaders), unsignableHeaders: new Set() },
  );
  const expected = parseAuthorization((again.headers as Record<string, string>).authorization);
  if (expected === undefined) return "could not re-sign";
  if (expected.signedHeaders.join(";") !== auth.signedHeaders.join(";")) {
    return `signed headers differ: ${expected.signedHeaders.join(";")} vs ${auth.signedHeaders.join(";")}`;
  }
  return expected.signature === auth.signature ? undefined : "signature does not match";
}
