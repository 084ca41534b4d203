/**
 * `s3://bucket/prefix` URLs, apart from the S3 source itself so that recognising one does not load
 * the AWS SDK (a scan of local files never does).
 */
import { UsageError } from "../errors.js";

/** A bucket and a key prefix, from `s3://bucket/prefix`. */
export interface S3Location {
  readonly bucket: string;
  /** The key prefix, as given (may be empty; need not end with `/`). */
  readonly prefix: string;
}

/** Whether a command-line input names S3 rather than a local path. */
export function isS3Url(input: string): boolean {
  return input.toLowerCase().startsWith("s3://");
}

/**
 * Splits `s3://bucket/prefix`.
 *
 * @throws UsageError when the bucket name is missing or not one S3 accepts.
 * @example parseS3Url("s3://org-trail/AWSLogs/o-abc123/") // { bucket: "org-trail", prefix: "AWSLogs/o-abc123/" }
 */
export function parseS3Url(url: string): S3Location {
  if (!isS3Url(url)) throw new UsageError("E_USAGE", `${url}: not an s3:// URL`);
  const rest = url.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? "" : rest.slice(slash + 1);
  // S3's bucket naming rules (3-63 characters; lower case letters, digits, dots, hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError("E_USAGE", `${url}: "${bucket}" is not an S3 bucket name (give s3://bucket/prefix)`);
  }
  return { bucket, prefix };
}

/** The name an object goes by in reports and in the state. */
export function s3ObjectId(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
