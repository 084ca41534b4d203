/**
 * The AWS conventions every command that calls AWS follows (trailblazer today, the S3 and SQS sources
 * next), in one place so that they all behave like the AWS CLI:
 *
 * - profile: `--profile`, else `AWS_PROFILE`; its credentials come from the SDK's default chain
 *   (which, with a profile set, reads the profile rather than AWS_ACCESS_KEY_ID), files from
 *   AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE as usual;
 * - region: `--region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`;
 * - endpoint: `--endpoint-url`, else `AWS_ENDPOINT_URL`;
 * - proxy: `HTTPS_PROXY` (and `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), as `proxy.ts` reads them, for
 *   SDK clients and for trailblazer's own requests; {@link proxyNotice} says which proxy is used.
 *
 * Settings come from flags and the environment ({@link awsSettings}); an SDK client is configured
 * from them ({@link sdkClientConfig}); what the SDK resolves from the profile (region, credentials)
 * is read through one client ({@link resolveAws}), which sends nothing.
 */
import type { Agent } from "node:http";
import { proxyAgentFor, proxyShownFor } from "./proxy.js";

/** Long-term or temporary AWS credentials. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The AWS flags a command takes (each optional). */
export interface AwsFlags {
  readonly profile?: string;
  readonly region?: string;
  readonly endpointUrl?: string;
}

/** The AWS settings after flags and environment, before anything is read from the profile. */
export interface AwsSettings {
  readonly profile?: string;
  /** From the flag or the environment; undefined: the profile's region, if it has one. */
  readonly region?: string;
  readonly endpointUrl?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The first value that is set and not empty. */
function firstSet(...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v !== "");
}

/**
 * Flags beat the environment; the profile's own region comes later, from the SDK ({@link resolveAws}).
 *
 * @example
 * awsSettings({ region: "eu-west-1" }, { AWS_REGION: "us-east-1", AWS_PROFILE: "audit" })
 * // { profile: "audit", region: "eu-west-1" }
 */
export function awsSettings(flags: AwsFlags, env: Env = process.env): AwsSettings {
  const profile = firstSet(flags.profile, env.AWS_PROFILE);
  const region = firstSet(flags.region, env.AWS_REGION, env.AWS_DEFAULT_REGION);
  const endpointUrl = firstSet(flags.endpointUrl, env.AWS_ENDPOINT_URL);
  return {
    ...(profile ? { profile } : {}),
    ...(region ? { region } : {}),
    ...(endpointUrl ? { endpointUrl } : {}),
  };
}

/**
 * The line to print when requests to AWS go through a proxy (without any credentials the proxy URL
 * holds), or undefined when they go directly.
 */
export function proxyNotice(settings: AwsSettings): string | undefined {
  const shown = proxyShownFor(endpointProbe(settings));
  return shown ? `connecting to AWS through the proxy ${shown} (HTTPS_PROXY; NO_PROXY lists exceptions)` : undefined;
}

/** A URL standing for where SDK clients connect: the endpoint when given, else AWS's own domain. */
function endpointProbe(settings: AwsSettings): string {
  return settings.endpointUrl ?? `https://sts.${settings.region ?? "us-east-1"}.amazonaws.com/`;
}

/**
 * The AWS SDK v3 warns on every Node.js below 22 that SDK releases after January 2027 will need
 * Node.js 22. The installed SDK supports Node.js 20 (its engines say >=20), as does firstcall, so the
 * warning only adds noise to every command and test. The SDK's own switch turns off exactly that
 * warning; a user who set it either way keeps their choice.
 */
function quietSdkNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}

/** Configuration for any SDK v3 client (STSClient, S3Client, SQSClient…). */
export interface SdkClientConfig {
  profile?: string;
  region?: string;
  endpoint?: string;
  /** The SDK's HTTP handler options: the proxy agent when the environment names a proxy. */
  requestHandler?: { httpsAgent?: Agent; httpAgent?: Agent };
}

/**
 * Configuration for an SDK v3 client that follows the settings: the profile (for credentials and the
 * profile's region), the region when flags or the environment give one, the endpoint.
 *
 * @example
 * new S3Client({ ...sdkClientConfig(awsSettings(flags)), maxAttempts: 5 })
 */
export function sdkClientConfig(settings: AwsSettings): SdkClientConfig {
  quietSdkNodeVersionWarning();
  const probe = endpointProbe(settings);
  const agent = proxyAgentFor(probe);
  return {
    ...(settings.profile ? { profile: settings.profile } : {}),
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
    ...(agent ? { requestHandler: probe.startsWith("https:") ? { httpsAgent: agent } : { httpAgent: agent } } : {}),
  };
}

/** What the SDK resolved for these settings. */
export interface ResolvedAws {
  /** Undefined when neither flags, environment nor the profile name a region. */
  readonly region?: string;
  readonly credentials?: AwsCredentials;
}

/**
 * Reads the region (when the settings have none: the profile's) and, when asked, the credentials
 * through the SDK's default chain (profile, environment, SSO, instance role…). Sends no request.
 * A missing region is not an error here (the caller knows whether it needs one); missing
 * credentials are the SDK's error.
 */
export async function resolveAws(settings: AwsSettings, want: { credentials: boolean }): Promise<ResolvedAws> {
  const { STSClient } = await import("@aws-sdk/client-sts");
  const client = new STSClient(sdkClientConfig(settings));
  try {
    let region = settings.region;
    if (region === undefined) {
      try {
        region = await client.config.region();
      } catch {
        region = undefined; // no region anywhere: the SDK says "Region is missing"
      }
    }
    if (!want.credentials) return region ? { region } : {};
    const resolved = await client.config.credentials();
    const credentials: AwsCredentials = {
      accessKeyId: resolved.accessKeyId,
      secretAccessKey: resolved.secretAccessKey,
      ...(resolved.sessionToken ? { sessionToken: resolved.sessionToken } : {}),
    };
    return { ...(region ? { region } : {}), credentials };
  } finally {
    client.destroy();
  }
}
