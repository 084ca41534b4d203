/**
 * `--to` for `scan` and `watch`: the option specs, the destinations from the command line and the
 * config file's `to:` list, and the lines printed about delivery. Kept apart from the commands so
 * that they only wire it in.
 */
import type { AwsSettings } from "../aws/client-config.js";
import type { Config } from "../config/config.js";
import { UsageError } from "../errors.js";
import type { CheckpointDelivery, DeliveryReport } from "../findings/delivery/outbox.js";
import type { Severity } from "../findings/finding.js";
import type { AsffOptions } from "../findings/formats/asff.js";
import { safeText } from "../safe-text.js";
import type { StateStore } from "../state/store.js";
import type { OptionSpec } from "./options.js";

/** The delivery options, shared by `scan` and `watch`. */
export const deliveryOptions: readonly OptionSpec[] = [
  {
    flags: "--to <target>",
    description:
      "also deliver each new finding (and each retraction or raised severity) here, through the state's outbox (at least once, de-duplicate by `id`); repeatable, added to the config file's `to:`: `file:PATH` (`file+ocsf:PATH`, any streaming format), `webhook:URL` (`webhook+ocsf:URL`, `webhook+jsonl:URL`), `slack:URL`, `sns:TOPIC_ARN`, `eventbridge[:BUS]`, `securityhub[:REGION]`; a URL may be given as `env:VARIABLE`, `file:PATH` or `@PATH` to keep it off the command line",
    repeatable: true,
  },
  {
    flags: "--webhook-secret-file <file>",
    description: "the webhooks' HMAC-SHA256 signing key: the first line of this file",
    defaultText: "$FIRSTCALL_WEBHOOK_SECRET, else the file named by $FIRSTCALL_WEBHOOK_SECRET_FILE",
  },
  {
    flags: "--to-backoff-ms <ms>",
    description: "first wait between delivery retries (doubling)",
    defaultValue: "500",
    hidden: true,
  },
];

/** The notes paragraph on delivery, for the generated reference. */
export const deliveryNote =
  "**Delivery (`--to`).** Each finding worth an alert — new, retracted or found again, or raised in severity; not one that only gained calls — at or above `--min-severity` gets one row per destination in the state's outbox, committed in the same transaction as the finding; after each checkpoint the rows are sent (retried with backoff; a destination that is down is tried again later) and marked delivered once the destination acknowledged them. Rows a destination did not take stay in the state: the next checkpoint, the next run with the same `--to`, or (on a shared state) another worker sends them. Delivery is at least once: a process killed between a destination's acknowledgement and its mark sends that batch again; every destination carries the finding's `id` to de-duplicate (webhook header `X-Firstcall-Finding-Ids`, SNS attribute `finding_id`, the EventBridge detail's `id`, the ASFF `Id`). A finding suppressed in the dashboard is not sent (its row is marked skipped). Secrets: a webhook or Slack URL as `env:VARIABLE`, `file:PATH` or `@PATH`; the webhook signing key from `$FIRSTCALL_WEBHOOK_SECRET`, `$FIRSTCALL_WEBHOOK_SECRET_FILE` or `--webhook-secret-file`; messages name a URL by its scheme and host only. AWS destinations use the usual credentials and Region (`--profile`, `--region`) and the SDK's per-service endpoint variables (`AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL_EVENTBRIDGE`, `AWS_ENDPOINT_URL_SECURITYHUB`); `--endpoint-url` stays S3's. A state without an outbox (DynamoDB) refuses `--to` (exit 2).";

export interface DeliveryFlags {
  readonly to?: readonly string[];
  readonly webhookSecretFile?: string;
  readonly toBackoffMs?: string;
}

export interface DeliveryContext {
  readonly config: Config;
  /** The config file's path, to name it in errors about its `to:` entries. */
  readonly configPath?: string;
  readonly aws: AwsSettings;
  readonly asff?: AsffOptions;
  readonly minSeverity: Severity;
  readonly report: (message: string) => void;
  /** Where `env:NAME` secrets and `$FIRSTCALL_WEBHOOK_SECRET(_FILE)` are read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Where `flags.to` came from, to name it and the entry in errors (the Lambda's `FIRSTCALL_TO`);
   * default: the `--to` option, whose errors name the destination kind only.
   */
  readonly toSource?: string;
  /**
   * The destinations serve several runs (a Lambda execution environment's invocations): a run does not
   * close them (their SDK clients keep their connections for the next one).
   */
  readonly keepDestinationsOpen?: boolean;
}

/** What a run adds to the outbox it makes. */
export interface DeliveryRun {
  /** No delivery starts after this time (epoch ms); what is still owed stays for the next run. */
  readonly deadline?: number;
}

/** The `delivery` option of `runScan`, with what a run adds (the Lambda's deadline). */
export type DeliveryFactory = (store: StateStore, run?: DeliveryRun) => CheckpointDelivery;

/**
 * The `delivery` option of `runScan` for these flags, or undefined when no destination is given.
 * Every target is parsed (and its secrets read) before anything is scanned: a typo is exit 2 at once.
 *
 * @example
 * const delivery = await deliveryFromFlags(flags, { config, aws, minSeverity: "info", report });
 * await runScan({ …, ...(delivery ? { delivery } : {}) });
 */
export async function deliveryFromFlags(
  flags: DeliveryFlags,
  context: DeliveryContext,
): Promise<DeliveryFactory | undefined> {
  const { parseTarget } = await import("../findings/delivery/targets.js");
  const env = context.env ?? process.env;
  const targetOptions = flags.webhookSecretFile ? { webhookSecretFile: flags.webhookSecretFile } : {};
  const given = flags.to ?? [];
  const targets = given.map((v, i) => {
    if (context.toSource === undefined) return parseTarget(v, env, targetOptions);
    try {
      return parseTarget(v, env, targetOptions);
    } catch (e) {
      // Named by its place and kind only: the rest may be a secret URL.
      const kind = /^[\w+-]{1,30}/.exec(v)?.[0] ?? "";
      const reason = (e as Error).message.replace(/^--to:? ?/, "");
      throw new UsageError(
        "E_USAGE",
        `${context.toSource}: entry ${i + 1} of ${given.length} (${kind ? `${kind}:…` : "…"}): ${reason}`,
      );
    }
  });
  (context.config.to ?? []).forEach((v, i) => {
    try {
      targets.push(parseTarget(v, env, targetOptions));
    } catch (e) {
      throw new UsageError("E_CONFIG", `${context.configPath ?? "<config>"}: to[${i}]: ${(e as Error).message}`);
    }
  });
  if (targets.length === 0) return undefined;
  const backoff = Number(flags.toBackoffMs ?? "500");
  if (!Number.isFinite(backoff) || backoff < 0)
    throw new UsageError("E_USAGE", `--to-backoff-ms: not a non-negative number: ${flags.toBackoffMs}`);
  if (context.asff) {
    const { checkAsffOptions } = await import("../findings/formats/asff.js");
    checkAsffOptions(context.asff);
  }
  const { openDestinations } = await import("../findings/delivery/open.js");
  const { Outbox } = await import("../findings/delivery/outbox.js");
  const destinations = await openDestinations(targets, {
    aws: context.aws,
    ...(context.asff ? { asff: context.asff } : {}),
  });
  return (store, run = {}) =>
    new Outbox(store, {
      destinations,
      ...(run.deadline !== undefined ? { deadline: run.deadline } : {}),
      ...(context.keepDestinationsOpen ? { keepDestinationsOpen: true } : {}),
      minSeverity: context.minSeverity,
      retry: { baseDelayMs: backoff, maxDelayMs: Math.max(backoff, 30_000) },
      downDelayMs: Math.max(backoff * 4, 1),
      onReport: context.report,
    });
}

/**
 * Lines on stderr after a run with destinations: one per destination with rows still owed (or
 * refused); unless `quiet`, also what each took in this run.
 *
 * @example renderDeliveryWarnings(report) // "firstcall: slack https://hooks.slack.com/…: 3 findings not delivered (…); kept in the state, the next run retries them\n"
 */
export function renderDeliveryWarnings(report: DeliveryReport, quiet = true, memoryState = false): string {
  // A throw-away state keeps nothing for a next run: say what becomes of the owed findings.
  const kept = memoryState ? "lost with this --state :memory: run" : "kept in the state, the next run retries them";
  let out = "";
  for (const d of report.destinations) {
    const why = d.lastError ? ` (${d.lastError})` : "";
    if (!quiet && d.delivered + d.skipped > 0)
      out += `firstcall: delivery: ${safeText(d.name)}: ${d.delivered} delivered${d.skipped > 0 ? `, ${d.skipped} skipped (suppressed)` : ""}\n`;
    if (d.pending > 0)
      out += `firstcall: ${safeText(d.name)}: ${d.pending} finding${d.pending === 1 ? "" : "s"} not delivered${safeText(why)}; ${kept}\n`;
    if (d.rejected > 0)
      out += `firstcall: ${safeText(d.name)}: ${d.rejected} finding${d.rejected === 1 ? "" : "s"} refused for good${safeText(why)}\n`;
  }
  return out;
}
