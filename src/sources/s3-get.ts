/**
 * The smallest {@link S3ObjectReader}: one GetObject per object with the AWS SDK, configured like every
 * AWS client of firstcall (`src/aws/client-config.ts`). The S3 source's shared reader (retries with
 * backoff, bounded concurrency) is meant to replace it behind the same interface.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { S3ObjectBody, S3ObjectReader } from "./watch-sqs.js";

/**
 * @example
 * const reader = new GetObjectReader(new S3Client({ ...sdkClientConfig(settings), maxAttempts: 5 }));
 * const { body } = await reader.getObject("trail-bucket", "AWSLogs/…json.gz");
 */
export class GetObjectReader implements S3ObjectReader {
  constructor(private readonly s3: S3Client) {}

  async getObject(bucket: string, key: string, signal?: AbortSignal): Promise<S3ObjectBody> {
    const out = await this.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key }),
      signal ? { abortSignal: signal } : {},
    );
    if (!out.Body) throw new Error("GetObject returned no body");
    const body = await out.Body.transformToByteArray();
    return {
      body,
      size: out.ContentLength ?? body.length,
      lastModifiedMs: out.LastModified?.getTime() ?? 0,
    };
  }
}
