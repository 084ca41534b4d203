/**
 * `--to` values: where findings go besides the output.
 *
 * | value                               | destination                                                    |
 * | ----------------------------------- | -------------------------------------------------------------- |
 * | `webhook:URL`                       | JSON POST, signed with `$FIRSTCALL_WEBHOOK_SECRET` (or `…_FILE`) |
 * | `slack:URL`                         | a Slack incoming webhook                                       |
 * | `sns:TOPIC_ARN`                     | Amazon SNS                                                     |
 * | `eventbridge` / `eventbridge:BUS`   | Amazon EventBridge (the default bus, or a named bus or its ARN) |
 *
 * A URL is a secret (a Slack webhook URL is the credential itself): give it as `env:VARIABLE` or
 * `file:PATH` instead of on the command line (`slack:env:SLACK_WEBHOOK_URL`), so it stays out of the
 * shell's history and the process list. Destinations are only ever shown by their {@link Destination.name},
 * which leaves out a URL's path and query.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../../errors.js";

export type DeliveryTarget =
  | { readonly kind: "webhook"; readonly url: URL; readonly signingKey?: string }
  | { readonly kind: "slack"; readonly url: URL }
  | { readonly kind: "sns"; readonly topicArn: string; readonly region: string }
  | { readonly kind: "eventbridge"; readonly eventBusName: string; readonly region?: string };

type Env = Readonly<Record<string, string | undefined>>;

/** A value given directly, as `env:NAME`, or as `file:PATH` (first line, trimmed). */
function secretValue(value: string, what: string, env: Env): string {
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

/**
 * Parses one `--to` value. Errors never quote the value (it may be a secret URL).
 *
 * @example
 * parseTarget("slack:env:SLACK_WEBHOOK_URL") // { kind: "slack", url: URL(…) }
 */
export function parseTarget(value: string, env: Env = process.env): DeliveryTarget {
  const colon = value.indexOf(":");
  const kind = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? "" : value.slice(colon + 1);
  switch (kind) {
    case "webhook": {
      const url = httpUrl(secretValue(rest, "webhook", env), "webhook", false);
      const keyFile = env.FIRSTCALL_WEBHOOK_SECRET_FILE;
      const signingKey =
        env.FIRSTCALL_WEBHOOK_SECRET ?? (keyFile ? secretValue(`file:${keyFile}`, "webhook", env) : undefined);
      return { kind, url, ...(signingKey ? { signingKey } : {}) };
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
    default:
      throw new UsageError(
        "E_USAGE",
        `--to: unknown destination ${JSON.stringify(kind.slice(0, 20))}: expected webhook:, slack:, sns: or eventbridge`,
      );
  }
}
