/**
 * Turns parsed `--to` targets into {@link Destination}s. The AWS SDK clients are loaded only for the
 * destinations that need them, and follow the AWS conventions of every command (profile, Region,
 * proxy: src/aws/client-config.ts); `--endpoint-url` is S3's only, so a destination's endpoint is the
 * SDK's own per-service variable when set (`AWS_ENDPOINT_URL_SNS`, `…_EVENTBRIDGE`, `…_SECURITYHUB`).
 */
import { type AwsSettings, sdkClientConfig } from "../../aws/client-config.js";
import type { AsffOptions } from "../formats/asff.js";
import { FORMATS } from "../formats/index.js";
import type { Destination } from "./destination.js";
import { FileDestination } from "./file.js";
import { SlackDestination } from "./slack.js";
import { type DeliveryTarget, destinationKey } from "./targets.js";
import { WebhookDestination } from "./webhook.js";

/** A destination with its outbox key (see {@link destinationKey}). */
export interface KeyedDestination {
  readonly key: string;
  readonly destination: Destination;
}

export interface OpenDestinationOptions {
  /** Profile and Region for the AWS destinations (the endpoint is ignored: it is S3's). */
  readonly aws?: AwsSettings;
  /** Security Hub: the importing Region and account of the ASFF `ProductArn` (`--asff-region`, `--asff-account`). */
  readonly asff?: AsffOptions;
}

/**
 * @example
 * const [slack] = await openDestinations([parseTarget("slack:env:SLACK_WEBHOOK_URL")]);
 */
export async function openDestinations(
  targets: readonly DeliveryTarget[],
  options: OpenDestinationOptions = {},
): Promise<KeyedDestination[]> {
  const out: KeyedDestination[] = [];
  const seen = new Set<string>();
  for (const target of targets) {
    const key = destinationKey(target);
    // The same destination given twice (command line and config file) is one destination.
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, destination: await openDestination(target, options) });
  }
  return out;
}

async function openDestination(target: DeliveryTarget, options: OpenDestinationOptions): Promise<Destination> {
  const sdk = (region: string | undefined) => {
    const { endpointUrl: _s3Only, ...settings } = options.aws ?? {};
    return sdkClientConfig({ ...settings, ...(region ? { region } : {}) });
  };
  switch (target.kind) {
    case "file": {
      const format = FORMATS.get(target.format);
      if (!format) throw new Error(`unknown format ${target.format}`); // parseTarget checked it
      return new FileDestination(target.path, format);
    }
    case "webhook":
      return new WebhookDestination({
        url: target.url,
        format: target.format,
        ...(target.signingKey ? { signingKey: target.signingKey } : {}),
      });
    case "slack":
      return new SlackDestination({ url: target.url });
    case "sns": {
      const { SNSClient } = await import("@aws-sdk/client-sns");
      const { SnsDestination } = await import("./sns.js");
      return new SnsDestination(new SNSClient(sdk(target.region)), target.topicArn);
    }
    case "eventbridge": {
      const { EventBridgeClient } = await import("@aws-sdk/client-eventbridge");
      const { EventBridgeDestination } = await import("./eventbridge.js");
      return new EventBridgeDestination(new EventBridgeClient(sdk(target.region)), target.eventBusName);
    }
    case "securityhub": {
      const { SecurityHubClient } = await import("@aws-sdk/client-securityhub");
      const { SecurityHubDestination } = await import("./securityhub.js");
      return new SecurityHubDestination(new SecurityHubClient(sdk(target.region)), options.asff ?? {});
    }
  }
}
