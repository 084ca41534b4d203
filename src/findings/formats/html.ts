/**
 * One self-contained HTML page of findings, to mail or attach to a ticket and read offline: a summary
 * at the top, the findings table most severe first, each finding's evidence under it, and the
 * retracted findings apart. No script, no font, image or style sheet from anywhere: one inline style
 * sheet, allowed by its hash in the page's Content-Security-Policy (`default-src 'none'`), so that
 * even injected markup could load or run nothing.
 *
 * Every value from a finding goes through `safeText` (control, bidirectional-override and separator
 * characters become visible escapes: a forged log cannot reorder what a reader sees) and then HTML
 * escaping (`& < > " '`). The page has no time of its own: the same findings give the same bytes.
 */
import { createHash } from "node:crypto";
import { safeText } from "../../safe-text.js";
import { type Finding, SEVERITIES, statusOf } from "../finding.js";
import { PRODUCT, remediationText, ruleTitle } from "./finding-facts.js";
import type { FindingFormat } from "./format.js";
import { credentialLabel, readingOrder } from "./text.js";

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Text from a finding, safe as HTML text or a quoted attribute value.
 *
 * @example html('<script>alert(1)</script>') // "&lt;script&gt;alert(1)&lt;/script&gt;"
 */
export function html(value: string | number | undefined): string {
  return safeText(String(value ?? "")).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const STYLE = `
:root { color-scheme: light dark; --line: #8884; --high: #c0392b; --medium: #d68910; --low: #2874a6; --info: #7f8c8d; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; max-width: 110rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
.muted { opacity: .7; }
.summary { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.summary div { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; min-width: 7rem; }
.summary b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { position: sticky; top: 0; background: Canvas; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
.sev { font-weight: 600; text-transform: uppercase; font-size: 12px; }
.sev-high { color: var(--high); } .sev-medium { color: var(--medium); } .sev-low { color: var(--low); } .sev-info { color: var(--info); }
tr.evidence td { border-bottom: 2px solid var(--line); padding-bottom: .8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .3rem 0 0; }
dt { opacity: .7; } dd { margin: 0; }
`;

/** The CSP hash of the style sheet, so that the page allows exactly this style and nothing else. */
const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");
const CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'`;

function list(values: readonly string[]): string {
  return values.length ? values.map((v) => `<code>${html(v)}</code>`).join(", ") : '<span class="muted">none</span>';
}

function evidenceRow(f: Finding, columns: number): string {
  const e = f.evidence;
  const rows: [string, string][] = [
    ["reason", html(f.reason)],
    [
      "first call",
      `<code>${html(f.event.source)}</code> <code>${html(f.event.name)}</code> event <code>${html(f.event.id)}</code>${f.event.errorCode ? `, error <code>${html(f.event.errorCode)}</code>` : ""}`,
    ],
    [
      "calls",
      `${html(e.count)} from <code>${html(f.sourceIp)}</code> (${html(f.network)}), first ${html(e.firstSeen)}, last ${html(e.lastSeen)}`,
    ],
    ["expected from", list(f.expectedIps)],
    ["events", `${list(e.eventIds)}${e.count > e.eventIds.length ? " …" : ""}`],
    ["API calls", list(e.eventNames)],
    ["access keys", list(e.accessKeyIds)],
    ["user agents", list(e.userAgents)],
    [
      "principal",
      `<code>${html(f.principal.arn)}</code> (${html(f.principal.kind)}${f.covered ? "" : ", issuance not seen"})`,
    ],
    ["what to do", html(remediationText(f.rule))],
    ["finding id", `<code>${html(f.id)}</code> (<code>firstcall explain ${html(f.id.slice(0, 12))}</code>)`],
  ];
  if (f.event.vpcEndpointId) rows.splice(3, 0, ["VPC endpoint", `<code>${html(f.event.vpcEndpointId)}</code>`]);
  if (statusOf(f) === "retracted")
    rows.unshift([
      "retracted",
      `${html(f.retractedAt ?? "")}: ${html(f.retractionReason ?? "explained by evidence read later")}`,
    ]);
  const dl = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  return `<tr class="evidence"><td colspan="${columns}"><dl>${dl}</dl></td></tr>`;
}

const HEAD = [
  "Severity",
  "First seen",
  "Account",
  "Region",
  "Finding",
  "Credential",
  "Source address",
  "Expected",
  "Calls",
];

function table(findings: readonly Finding[], caption: string): string {
  const rows = findings.map((f, i) => {
    const cells = [
      `<span class="sev sev-${html(f.severity)}">${html(f.severity)}</span>`,
      `<span class="mono">${html(f.time)}</span>`,
      `<span class="mono">${html(f.account || "-")}</span>`,
      html(f.region || "-"),
      `${html(ruleTitle(f.rule))}<br><span class="muted mono">${html(f.rule)}</span>`,
      `<code>${html(credentialLabel(f.principal))}</code>`,
      `<code>${html(f.sourceIp)}</code>`,
      f.expectedIps.length ? f.expectedIps.map((ip) => `<code>${html(ip)}</code>`).join("<br>") : "-",
      html(f.evidence.count),
    ];
    return `<tr id="f${i + 1}">${cells.map((c) => `<td>${c}</td>`).join("")}</tr>\n${evidenceRow(f, HEAD.length)}`;
  });
  return `<table><caption class="muted">${caption}</caption><thead><tr>${HEAD.map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead>\n<tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function summary(open: readonly Finding[], retracted: readonly Finding[]): string {
  const all = [...open, ...retracted];
  const count = (n: number, what: string) => `<div><b>${n}</b>${what}</div>`;
  const bySeverity = [...SEVERITIES].reverse().map((s) => count(open.filter((f) => f.severity === s).length, `${s}`));
  const times = all.flatMap((f) => [f.evidence.firstSeen, f.evidence.lastSeen]).sort();
  const span = times.length ? `Calls from ${html(times[0])} to ${html(times[times.length - 1])}.` : "";
  return [
    `<div class="summary">`,
    count(open.length, "open findings"),
    ...bySeverity,
    count(retracted.length, "retracted"),
    count(new Set(all.map((f) => f.principal.arn)).size, "credentials"),
    count(new Set(all.map((f) => f.account)).size, "accounts"),
    `</div>`,
    `<p class="muted">${span} Severity counts are of open findings.</p>`,
  ].join("\n");
}

/** The whole page for these findings. */
export function renderHtml(findings: readonly Finding[]): string {
  const open = readingOrder(findings.filter((f) => statusOf(f) === "open"));
  const retracted = readingOrder(findings.filter((f) => statusOf(f) === "retracted"));
  const body = [
    `<h1>firstcall findings</h1>`,
    `<p class="muted">Temporary AWS credentials used away from their holder, found in CloudTrail by ${html(PRODUCT.name)} ${html(PRODUCT.version)}.</p>`,
    summary(open, retracted),
    `<h2>Findings</h2>`,
    open.length ? table(open, "Most severe first; each finding's evidence below it.") : "<p>No findings.</p>",
    ...(retracted.length
      ? [
          `<h2>Retracted</h2>`,
          `<p class="muted">Reported earlier, then explained by evidence read later.</p>`,
          table(retracted, "Retracted findings."),
        ]
      : []),
  ].join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>firstcall findings</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export const htmlFormat: FindingFormat = {
  name: "html",
  description: "one self-contained HTML page (summary, findings table, evidence), written when the scan ends",
  document: true,
  render: renderHtml,
};
