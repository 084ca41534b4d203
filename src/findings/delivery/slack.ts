/**
 * Slack incoming webhook: one readable Block Kit message per finding — what happened, which
 * credential, from where, what to do — with the finding's id in the footer for de-duplication.
 *
 * Every value that came from the logs (user agents, ARNs, addresses) is escaped for Slack's mrkdwn
 * (`&`, `<`, `>`), so a crafted user agent cannot ping `<!channel>` or hide a link, and cut to
 * Slack's field limits. The webhook URL is the secret: it is never shown (see `shownUrl`).
 */
import type { Finding } from "../finding.js";
import { allFailed, type Destination, retryableStatus, type SendResult } from "./destination.js";
import { postJson, shownUrl } from "./http-post.js";

export interface SlackOptions {
  readonly url: URL;
  readonly timeoutMs?: number;
}

/** Escapes text for Slack's mrkdwn and cuts it to `max` characters. */
export function slackText(text: string, max = 300): string {
  const cut = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return cut.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

const TITLES: Record<string, string> = {
  "credential-ip-mismatch": "AWS credential used from a second address",
  "instance-credential-recon": "Instance credential used for reconnaissance",
  "imdsv1-credential": "Instance credential delivered by IMDSv1",
  "instance-credential-foreign-agent": "Instance credential used by foreign software",
};

const ADVICE: Record<string, string> = {
  "credential-ip-mismatch":
    "If the address is not yours: revoke the role's sessions issued before now (IAM → role → *Revoke active sessions*), find how the credential left (SSRF, IMDSv1, a leaked file: `firstcall imds report`), and review what its calls did in CloudTrail.",
  "instance-credential-recon":
    "Check whether the instance's software really needs this call; if not, treat the credential as stolen: revoke the role's sessions and review its calls.",
  "imdsv1-credential":
    "Require IMDSv2 on the instance (`aws ec2 modify-instance-metadata-options --http-tokens required`) once its software uses IMDSv2.",
  "instance-credential-foreign-agent":
    "Servers do not run this software: treat the credential as stolen, revoke the role's sessions and review its calls.",
};

/**
 * The Block Kit message for one finding.
 *
 * @example
 * const message = slackMessage(finding); // { text, blocks: [...] }
 */
export function slackMessage(f: Finding): { text: string; blocks: unknown[] } {
  const retracted = f.status === "retracted";
  const title = `${retracted ? "Retracted: " : ""}${f.severity.toUpperCase()}: ${TITLES[f.rule] ?? f.rule}`;
  const field = (label: string, value: string) => ({ type: "mrkdwn", text: `*${label}*\n${slackText(value, 1900)}` });
  const fields = [
    field("Credential", f.principal.arn),
    field("Access key", f.principal.accessKeyId ?? "—"),
    field("From", `${f.sourceIp} (${f.network})`),
    field("Expected", f.expectedIps.length ? f.expectedIps.join(", ") : "—"),
    field("Account / region", `${f.account} / ${f.region}`),
    field("Calls", `${f.evidence.count}, ${f.evidence.firstSeen} → ${f.evidence.lastSeen}`),
  ];
  if (f.principal.instanceId) fields.push(field("Instance", f.principal.instanceId));
  if (f.evidence.userAgents.length) fields.push(field("User agent", f.evidence.userAgents[0] as string));
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: title.slice(0, 150) } },
    {
      type: "section",
      text: { type: "mrkdwn", text: slackText(retracted ? (f.retractionReason ?? f.reason) : f.reason, 2900) },
    },
    { type: "section", fields: fields.slice(0, 10) },
  ];
  if (!retracted && ADVICE[f.rule])
    blocks.push({ type: "section", text: { type: "mrkdwn", text: `*What to do*\n${ADVICE[f.rule]}` } });
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: `firstcall · rule \`${f.rule}\` · id \`${slackText(f.id, 100)}\`` }],
  });
  return { text: slackText(`${title}: ${f.principal.arn} from ${f.sourceIp}`, 2900), blocks };
}

/** @example new SlackDestination({ url: new URL(process.env.SLACK_WEBHOOK_URL!) }) */
export class SlackDestination implements Destination {
  readonly name: string;
  // One message per finding: a readable alert, and Slack's limit of about one message per second
  // per webhook is met by sending them one after the other.
  readonly maxBatch = 1;
  constructor(private readonly options: SlackOptions) {
    this.name = `slack ${shownUrl(options.url)}`;
  }

  async send(findings: readonly Finding[]): Promise<SendResult> {
    const delivered: string[] = [];
    const failed: SendResult["failed"][number][] = [];
    for (const f of findings) {
      try {
        const answer = await postJson(
          this.options.url,
          JSON.stringify(slackMessage(f)),
          {},
          this.options.timeoutMs ?? 10_000,
        );
        if (answer.status === 200) delivered.push(f.id);
        else
          failed.push({
            id: f.id,
            retryable: retryableStatus(answer.status),
            message: `${this.name} answered ${answer.status} ${answer.body.slice(0, 100)}`,
          });
      } catch (e) {
        failed.push(...allFailed([f], true, `${this.name}: ${(e as Error).message}`).failed);
      }
    }
    return { delivered, failed };
  }
}
