/**
 * `--to` values (and the config file's `to:` list): where findings go besides the output.
 *
 * | value                                 | destination                                                      |
 * | ------------------------------------- | ---------------------------------------------------------------- |
 * | `file:PATH`                           | appended to a file (any streaming `--format`: `file+ocsf:PATH`)  |
 * | `webhook:URL`                         | JSON POST, signed with `$FIRSTCALL_WEBHOOK_SECRET` (or a file)   |
 * | `slack:URL`                           | a Slack incoming webhook                                         |
 * | `sns:TOPIC_ARN`                       | Amazon SNS                                                       |
 * | `eventbridge` / `eventbridge:BUS`     | Amazon EventBridge (the default bus, or a named bus or its ARN)  |
 * | `securityhub` / `securityhub:REGION`  | AWS Security Hub (`BatchImportFindings`, ASFF)                   |
 *
 * A format for the destinations where it matters goes after the kind: `webhook+ocsf:URL` posts OCSF
 * events one per line, `file+csv:PATH` appends CSV rows (default: the `firstcall.findings/v1` JSON
 * envelope for webhooks, JSON lines for files). Slack, SNS and EventBridge carry the finding itself;
 * Security Hub takes ASFF.
 *
 * A URL is a secret (a Slack webhook URL is the credential itself): give it as `env:VARIABLE`,
 * `file:PATH` or `@PATH` instead of on the command line (`slack:env:SLACK_WEBHOOK_URL`), so it stays
 * out of the shell's history and the process list. Destinations are only ever shown by their
 * {@link Destination.name}, which leaves out a URL's path and query.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "../../errors.js";
import { FORMATS } from "../formats/index.js";

/** Formats a webhook can post: the JSON envelope (default) or one JSON object per line. */
export const WEBHOOK_FORMATS = ["json", "jsonl", "ocsf"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export type DeliveryTarget =
  | { readonly kind: "file"; readonly path: string; readonly format: string }
  | { readonly kind: "webhook"; readonly url: URL; readonly signingKey?: string; readonly format: WebhookFormat }
  | { readonly kind: "slack"; readonly url: URL }
  | { readonly kind: "sns"; readonly topicArn: string; readonly region: string }
  | { readonly kind: "eventbridge"; readonly eventBusName: string; readonly region?: string }
  | { readonly kind: "securityhub"; readonly region?: string };

type Env = Readonly<Record<string, string | undefined>>;

/** A value given directly, as `env:NAME`, or as `file:PATH` / `@PATH` (first line, trimmed). */
function secretValue(value: string, what: string, env: Env): string {
  if (value.startsWith("@")) return secretValue(`file:${value.slice(1)}`, what, env);
  if (value.startsWith("env:")) {
    const name = value.slice(4);
    const v = env[name];
    if (!v) throw new UsageError("E_USAGE", `--to ${what}: the environment variable ${name} is not set`);
    return v.trim();
  }
  if (value.startsWith("file:")) {
    const path = value.slice(5);
    try {
      return (readFileSync(path, "utf8").split("\n")[0] ?? "").trim();
    } catch (e) {
      throw new UsageError(
        "E_USAGE",
        `--to ${what}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }
  return value;
}

function httpUrl(value: string, what: string, requireHttps: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError("E_USAGE", `--to ${what}: not a URL`);
  }
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && (!requireHttps || loopback)))
    throw new UsageError("E_USAGE", `--to ${what}: expected an https:// URL${requireHttps ? "" : " (or http://)"}`);
  return url;
}

const SNS_ARN = /^arn:aws[\w-]*:sns:([a-z0-9-]+):\d{12}:[\w.-]{1,256}$/;
const BUS_ARN = /^arn:aws[\w-]*:events:([a-z0-9-]+):\d{12}:event-bus\/[\w.\-/]{1,256}$/;

/** Where the webhook signing key comes from, besides the environment. */
export interface TargetOptions {
  /** A file whose first line is the webhook signing key (`--webhook-secret-file`). */
  readonly webhookSecretFile?: string;
}

/**
 * Parses one `--to` value. Errors never quote the value (it may be a secret URL).
 *
 * @example
 * parseTarget("slack:env:SLACK_WEBHOOK_URL") // { kind: "slack", url: URL(…) }
 * parseTarget("webhook+ocsf:@/run/secrets/siem-url") // { kind: "webhook", format: "ocsf", … }
 */
export function parseTarget(value: string, env: Env = process.env, options: TargetOptions = {}): DeliveryTarget {
  const colon = value.indexOf(":");
  const head = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? "" : value.slice(colon + 1);
  const plus = head.indexOf("+");
  const kind = plus < 0 ? head : head.slice(0, plus);
  const format = plus < 0 ? undefined : head.slice(plus + 1);
  if (format !== undefined && kind !== "webhook" && kind !== "file")
    throw new UsageError(
      "E_USAGE",
      `--to ${kind}: takes no format (only file+FORMAT: and webhook+FORMAT:); Security Hub always takes ASFF, the others the finding as JSON`,
    );
  switch (kind) {
    case "file": {
      if (rest === "") throw new UsageError("E_USAGE", "--to file: expected a path, file:PATH");
      const name = format ?? "jsonl";
      const f = FORMATS.get(name);
      if (!f || f.document)
        throw new UsageError(
          "E_USAGE",
          `--to file+${name}: ${f ? `${name} is one document per run and cannot be appended to` : "unknown format"} (valid: ${[
            ...FORMATS.values(),
          ]
            .filter((x) => !x.document)
            .map((x) => x.name)
            .join(", ")})`,
        );
      return { kind, path: resolve(rest), format: name };
    }
    case "webhook": {
      const name = format ?? "json";
      if (!(WEBHOOK_FORMATS as readonly string[]).includes(name))
        throw new UsageError(
          "E_USAGE",
          `--to webhook+${name.slice(0, 20)}: unknown webhook format (valid: ${WEBHOOK_FORMATS.join(", ")})`,
        );
      const url = httpUrl(secretValue(rest, "webhook", env), "webhook", false);
      const keyFile = options.webhookSecretFile ?? env.FIRSTCALL_WEBHOOK_SECRET_FILE;
      const signingKey =
        (options.webhookSecretFile ? undefined : env.FIRSTCALL_WEBHOOK_SECRET) ??
        (keyFile ? secretValue(`file:${keyFile}`, "webhook", env) : undefined);
      return { kind, url, format: name as WebhookFormat, ...(signingKey ? { signingKey } : {}) };
    }
    case "slack":
      return { kind, url: httpUrl(secretValue(rest, "slack", env), "slack", true) };
    case "sns": {
      const m = SNS_ARN.exec(rest);
      if (!m) throw new UsageError("E_USAGE", "--to sns: expected a topic ARN, sns:arn:aws:sns:REGION:ACCOUNT:TOPIC");
      return { kind, topicArn: rest, region: m[1] as string };
    }
    case "eventbridge": {
      if (rest === "") return { kind, eventBusName: "default" };
      const m = BUS_ARN.exec(rest);
      if (m) return { kind, eventBusName: rest, region: m[1] as string };
      if (!/^[\w.\-/]{1,256}$/.test(rest))
        throw new UsageError("E_USAGE", "--to eventbridge: expected a bus name or ARN");
      return { kind, eventBusName: rest };
    }
    case "securityhub": {
      if (rest === "") return { kind };
      if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(rest))
        throw new UsageError("E_USAGE", "--to securityhub: expected a Region, securityhub:eu-west-1");
      return { kind, region: rest };
    }
    default:
      throw new UsageError(
        "E_USAGE",
        `--to: unknown destination ${JSON.stringify(kind.slice(0, 20))}: expected file:, webhook:, slack:, sns:, eventbridge or securityhub`,
      );
  }
}

/**
 * The destination's key in the outbox: its kind and a hash of everything that makes it another
 * destination (URL, ARN, bus, Region, path, format). Stable across runs, so rows left pending by one
 * run are sent by the next one given the same `--to`; a hash, so the state never holds a secret URL.
 *
 * @example destinationKey(parseTarget("sns:arn:aws:sns:eu-west-1:111122223333:alerts")) // "sns:3f…"
 */
export function destinationKey(target: DeliveryTarget): string {
  const identity =
    target.kind === "file"
      ? [target.path, target.format]
      : target.kind === "webhook"
        ? [target.url.href, target.format]
        : target.kind === "slack"
          ? [target.url.href]
          : target.kind === "sns"
            ? [target.topicArn]
            : target.kind === "eventbridge"
              ? [target.eventBusName, target.region ?? ""]
              : [target.region ?? ""];
  const hash = createHash("sha256")
    .update(JSON.stringify([target.kind, ...identity]))
    .digest("hex")
    .slice(0, 16);
  return `${target.kind}:${hash}`;
}
