/**
 * AWS Security Finding Format (ASFF) for Security Hub: one JSON array of `AwsSecurityFinding`s, the
 * shape `BatchImportFindings` takes (`aws securityhub batch-import-findings --findings file://x.json`,
 * at most 100 findings per call).
 *
 * - `Id` is `firstcall/<finding id>`: stable, so a finding imported twice (or its retraction) updates
 *   one Security Hub finding instead of making another;
 * - `ProductArn` is a custom integration's, `arn:<partition>:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`.
 *   Security Hub accepts it only from ACCOUNT in REGION, the account and Region the findings are
 *   imported into. By default both are the finding's own (the account and Region of the offending call);
 *   where the findings go to one central account or an aggregation Region, give `--asff-account` and
 *   `--asff-region` (the finding's `AwsAccountId` stays the account the credential belongs to);
 * - `Types` follow the ASFF types taxonomy: `TTPs/<ATT&CK tactic>/<technique>`, plus `Unusual Behaviors/…`
 *   or `Software and Configuration Checks/…` for what the rule observes;
 * - `Resources`: the access key (`AwsIamAccessKey`, with its session issuer), the role (`AwsIamRole`)
 *   and the instance (`AwsEc2Instance`); `Action.AwsApiCallAction` the offending call and address;
 * - a retracted finding: `RecordState` ARCHIVED (the provider's way to say a finding no longer
 *   applies) and `Workflow.Status` SUPPRESSED (which Security Hub takes only on a finding's first import;
 *   it keeps the customer's workflow after that).
 * `UpdatedAt` is the finding's last change (its last call or its retraction, a retraction one
 * millisecond later than the open finding at least, so that Security Hub takes it as newer).
 */
import type { AwsSecurityFinding, Resource, SeverityLabel } from "@aws-sdk/client-securityhub";
import { UsageError } from "../../errors.js";
import { ipFamily } from "../../net/ip.js";
import { safeJsonStringify } from "../../safe-text.js";
import { type Finding, type Severity, statusOf } from "../finding.js";
import {
  arnPartition,
  attacksFor,
  epochMs,
  PRODUCT,
  REVOKE_SESSIONS_URL,
  remediationText,
  ruleTitle,
  truncate,
  updatedTime,
} from "./finding-facts.js";
import type { FindingFormat } from "./format.js";

export interface AsffOptions {
  /** The Region of the Security Hub the findings are imported into (default: each finding's Region). */
  readonly productRegion?: string;
  /** The account that imports them (default: each finding's account). */
  readonly productAccount?: string;
}

const SEVERITY_LABEL: Readonly<Record<Severity, SeverityLabel>> = {
  info: "INFORMATIONAL",
  low: "LOW",
  medium: "MEDIUM",
  high: "HIGH",
};

/** What each rule observes, beyond the ATT&CK techniques (ASFF types taxonomy namespaces and categories). */
const OBSERVED_TYPES: Readonly<Record<string, readonly string[]>> = {
  "credential-ip-mismatch": ["Unusual Behaviors/User/Instance credential used from another address"],
  "imdsv1-credential": ["Software and Configuration Checks/AWS Security Best Practices/IMDSv1 credential delivery"],
  "instance-credential-foreign-agent": ["Unusual Behaviors/User/Instance credential used by client software"],
  "instance-credential-recon": [
    "TTPs/Discovery/Instance credential reconnaissance call",
    "Unusual Behaviors/User/Instance credential reconnaissance call",
  ],
};

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const ACCOUNT = /^\d{12}$/;

/** A usage error when an option is not a Region or an account id. */
export function checkAsffOptions(options: AsffOptions): void {
  if (options.productRegion !== undefined && !REGION.test(options.productRegion))
    throw new UsageError("E_USAGE", `--asff-region: not an AWS Region: ${options.productRegion}`);
  if (options.productAccount !== undefined && !ACCOUNT.test(options.productAccount))
    throw new UsageError("E_USAGE", `--asff-account: not a 12-digit account id: ${options.productAccount}`);
}

/** The ASFF `Types` of a finding: its ATT&CK techniques by tactic, then what the rule observes. */
export function asffTypes(rule: string): string[] {
  const ttps = attacksFor(rule).map((a) => `TTPs/${a.tactic.name}/${a.subTechnique.uid} ${a.subTechnique.name}`);
  return [...new Set([...ttps, ...(OBSERVED_TYPES[rule] ?? [])])];
}

/** ISO 8601 as Security Hub reads it (`2026-11-01T03:10:00.000Z`); the text as it is when it is no time. */
function isoTime(time: string | undefined, fallback: string): string {
  const ms = epochMs(time);
  return ms === undefined ? fallback : new Date(ms).toISOString();
}

function resources(f: Finding, partition: string): Resource[] {
  const p = f.principal;
  const region = f.region ? { Region: truncate(f.region, 16) } : {};
  const roleName = p.roleArn?.slice(p.roleArn.lastIndexOf("/") + 1);
  const list: Resource[] = [];
  list.push({
    Type: "AwsIamAccessKey",
    Id: truncate(p.accessKeyId ?? p.arn, 512),
    Partition: partition as Resource["Partition"],
    ...region,
    Details: {
      AwsIamAccessKey: {
        ...(p.accessKeyId ? { AccessKeyId: p.accessKeyId } : {}),
        PrincipalName: p.arn,
        PrincipalType: "AssumedRole",
        ...(f.account ? { AccountId: f.account } : {}),
        ...(p.roleArn
          ? {
              SessionContext: {
                SessionIssuer: {
                  Type: "Role",
                  Arn: p.roleArn,
                  ...(roleName ? { UserName: roleName } : {}),
                  ...(f.account ? { AccountId: f.account } : {}),
                },
              },
            }
          : {}),
      },
    },
  });
  if (p.roleArn)
    list.push({
      Type: "AwsIamRole",
      Id: truncate(p.roleArn, 512),
      Partition: partition as Resource["Partition"],
      ...region,
      ...(roleName ? { Details: { AwsIamRole: { RoleName: roleName } } } : {}),
    });
  if (p.instanceId)
    list.push({
      Type: "AwsEc2Instance",
      Id: truncate(`arn:${partition}:ec2:${f.region}:${f.account}:instance/${p.instanceId}`, 512),
      Partition: partition as Resource["Partition"],
      ...region,
    });
  return list;
}

/**
 * One finding in ASFF, ready for `BatchImportFindings`.
 *
 * @example
 * asffFinding(finding, { productRegion: "eu-west-1" }).ProductArn
 * // "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
 */
export function asffFinding(f: Finding, options: AsffOptions = {}): AwsSecurityFinding {
  const retracted = statusOf(f) === "retracted";
  const partition = arnPartition(f.principal.arn);
  const region = options.productRegion ?? f.region;
  const account = options.productAccount ?? f.account;
  const created = isoTime(f.time, f.time);
  const updatedMs = epochMs(updatedTime(f)) ?? 0;
  const updated = new Date(
    retracted ? Math.max(updatedMs, (epochMs(f.evidence.lastSeen) ?? 0) + 1) : updatedMs,
  ).toISOString();
  const severity = { Label: SEVERITY_LABEL[f.severity] ?? "INFORMATIONAL", Original: f.severity };
  const types = asffTypes(f.rule);
  const e = f.event;
  const remoteIp = ipFamily(f.sourceIp) === 4 ? { RemoteIpDetails: { IpAddressV4: f.sourceIp } } : {};
  const productFields: Record<string, string> = {
    "firstcall/rule": f.rule,
    "firstcall/findingId": f.id,
    "firstcall/sourceIp": f.sourceIp,
    "firstcall/expectedIps": f.expectedIps.join(",") || "none",
    "firstcall/network": f.network,
    "firstcall/credentialKind": f.principal.kind,
    "firstcall/calls": String(f.evidence.count),
    "firstcall/eventId": e.id,
    "firstcall/status": statusOf(f),
    ...(e.userAgent ? { "firstcall/userAgent": e.userAgent } : {}),
    ...(f.retractionReason ? { "firstcall/retractionReason": f.retractionReason } : {}),
    ProviderName: PRODUCT.name,
    ProviderVersion: PRODUCT.version,
  };
  const finding: AwsSecurityFinding = {
    SchemaVersion: "2018-10-08",
    Id: truncate(`firstcall/${f.id}`, 512),
    ProductArn: `arn:${partition}:securityhub:${region}:${account}:product/${account}/default`,
    ProductName: PRODUCT.name,
    CompanyName: PRODUCT.vendor,
    GeneratorId: truncate(`firstcall/${f.rule}`, 512),
    AwsAccountId: f.account || account,
    Types: types,
    FirstObservedAt: isoTime(f.evidence.firstSeen, created),
    LastObservedAt: isoTime(f.evidence.lastSeen, created),
    CreatedAt: created,
    UpdatedAt: updated,
    Severity: severity,
    Title: truncate(
      `${ruleTitle(f.rule)}: ${f.principal.instanceId ?? f.principal.sessionName ?? f.principal.arn} from ${f.sourceIp}`,
      256,
    ),
    Description: truncate(f.reason, 1024),
    Remediation: { Recommendation: { Text: truncate(remediationText(f.rule), 512), Url: REVOKE_SESSIONS_URL } },
    ProductFields: Object.fromEntries(Object.entries(productFields).map(([k, v]) => [k, truncate(v, 2048)])),
    Resources: resources(f, partition),
    Action: {
      ActionType: "AWS_API_CALL",
      AwsApiCallAction: {
        Api: truncate(e.name, 128),
        ServiceName: truncate(e.source, 128),
        CallerType: "remoteip",
        ...remoteIp,
        FirstSeen: isoTime(f.evidence.firstSeen, created),
        LastSeen: isoTime(f.evidence.lastSeen, created),
      },
    },
    FindingProviderFields: { Severity: severity, Types: types },
    RecordState: retracted ? "ARCHIVED" : "ACTIVE",
    Workflow: { Status: retracted ? "SUPPRESSED" : "NEW" },
  };
  return finding;
}

/**
 * The ASFF format with the product's Region and account.
 *
 * @example asffFormatWith({ productRegion: "eu-west-1", productAccount: "111122223333" }).render(findings)
 */
export function asffFormatWith(options: AsffOptions = {}): FindingFormat {
  checkAsffOptions(options);
  return {
    name: "asff",
    description:
      "AWS Security Finding Format: one JSON array for Security Hub BatchImportFindings, written when the scan ends",
    document: true,
    render(findings: readonly Finding[]): string {
      if (findings.length === 0) return "[]\n";
      return `[\n${findings.map((f) => `  ${safeJsonStringify(asffFinding(f, options))}`).join(",\n")}\n]\n`;
    },
  };
}

export const asffFormat: FindingFormat = asffFormatWith();
