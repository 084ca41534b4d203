/**
 * Which instances and roles can still hand out credentials through IMDSv1, learned from CloudTrail.
 *
 * IMDSv1 answers a plain `GET`, which is all a server-side request forgery can send; IMDSv2 needs a
 * token fetched with a `PUT` and a custom header. So an instance whose metadata options allow
 * IMDSv1 (`HttpTokens optional`) is one SSRF away from losing its role's credentials. CloudTrail
 * shows this three ways, and this module combines them:
 *
 * - **use**: every call made with instance credentials says how they were delivered
 *   (`userIdentity.sessionContext.ec2RoleDelivery`: `1.0` for IMDSv1, `2.0` for IMDSv2). Credentials
 *   delivered by IMDSv1 are proof that IMDSv1 is on and used on that instance.
 * - **configuration**: `RunInstances` (its `metadataOptions`, or the launch template it names),
 *   `ModifyInstanceMetadataOptions`, launch templates (`CreateLaunchTemplate`,
 *   `CreateLaunchTemplateVersion`) and the account's defaults (`ModifyInstanceMetadataDefaults`).
 *   For each field the latest successful call that sets it wins (by event time, then event id, so
 *   the result does not depend on the order logs are read). Failed calls (`errorCode`) change
 *   nothing.
 * - **containers**: the hop limit of the IMDSv2 token response decides whether a container on the
 *   instance can reach the metadata service; calls by the ECS agent or Kubernetes node software with
 *   the instance's credentials show that containers run there.
 *
 * CloudTrail spells the EC2 parameters differently from one API to another (`metadataOptions` with
 * `httpTokens` in `RunInstances`, `ModifyInstanceMetadataOptionsRequest` with `HttpTokens`), so
 * field names are matched without regard to case.
 *
 * @example
 * const posture = new ImdsPosture();
 * for await (const obj of readLogs(["AWSLogs/"])) for (const r of obj.records) posture.add(r);
 * const report = posture.report();
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";

export type HttpTokens = "required" | "optional";

/** A metadata setting with the call that made it (for the evidence and for latest-wins). */
interface Setting<T> {
  readonly value: T;
  readonly time: string;
  readonly eventId: string;
  readonly eventName: string;
}

interface MetadataSettings {
  httpTokens?: Setting<HttpTokens>;
  hopLimit?: Setting<number>;
  httpEndpoint?: Setting<"enabled" | "disabled">;
}

interface InstanceFacts {
  readonly instanceId: string;
  account?: string;
  region?: string;
  launchedAt?: string;
  template?: { readonly ref: string; readonly version?: string };
  readonly settings: MetadataSettings;
  readonly roles: Set<string>;
  v1Deliveries: number;
  v2Deliveries: number;
  lastV1?: string;
  containers?: string;
}

interface TemplateFacts {
  readonly ref: string;
  account?: string;
  region?: string;
  /** The template's settings per version number (as CloudTrail shows them). */
  readonly versions: Map<string, MetadataSettings>;
  latestVersion?: string;
}

/** Where an instance stands. */
export type ImdsStatus =
  /** IMDSv1 delivered this instance's credentials. */
  | "imdsv1-in-use"
  /** IMDSv1 is allowed by its settings, though no credential delivered by it was seen. */
  | "imdsv1-allowed"
  /** Only IMDSv2 (or the metadata service is off). */
  | "imdsv2-required"
  /** The logs show neither its settings nor a delivery by IMDSv1. */
  | "unknown";

export interface InstanceImdsReport {
  readonly instanceId: string;
  readonly account: string | null;
  readonly region: string | null;
  readonly roles: readonly string[];
  readonly status: ImdsStatus;
  /** The effective setting as far as the logs show, with the call that made it. */
  readonly httpTokens: { readonly value: HttpTokens; readonly by: string; readonly time: string } | null;
  readonly hopLimit: { readonly value: number; readonly by: string; readonly time: string } | null;
  readonly httpEndpoint: "enabled" | "disabled" | null;
  readonly launchTemplate: string | null;
  readonly deliveries: { readonly imdsv1: number; readonly imdsv2: number; readonly lastImdsv1: string | null };
  /** What shows containers run on it (ECS agent, Kubernetes node software), if anything. */
  readonly containers: string | null;
  readonly notes: readonly string[];
  /** The AWS CLI commands that fix it, empty when nothing needs fixing. */
  readonly remediation: readonly string[];
}

export interface RoleImdsReport {
  readonly role: string;
  readonly instances: readonly string[];
  /** The instances where IMDSv1 delivered this role's credentials. */
  readonly imdsv1Instances: readonly string[];
  readonly imdsv1Deliveries: number;
  readonly imdsv2Deliveries: number;
}

export interface TemplateImdsReport {
  readonly launchTemplate: string;
  readonly account: string | null;
  readonly region: string | null;
  readonly version: string | null;
  readonly httpTokens: HttpTokens | null;
  readonly remediation: readonly string[];
}

export interface AccountDefaultReport {
  readonly account: string;
  readonly region: string;
  /** The account's default for new instances in this region, if the logs show it set. */
  readonly httpTokens: HttpTokens | "no-preference" | null;
  readonly remediation: readonly string[];
}

export interface ImdsPostureReport {
  readonly schema: "firstcall.imds-report/v1";
  readonly instances: readonly InstanceImdsReport[];
  readonly roles: readonly RoleImdsReport[];
  readonly launchTemplates: readonly TemplateImdsReport[];
  readonly accountDefaults: readonly AccountDefaultReport[];
  readonly counts: Readonly<Record<ImdsStatus, number>>;
}

/** Calls that only container orchestration software makes with an instance's credentials. */
const ECS_AGENT_CALLS = new Set([
  "RegisterContainerInstance",
  "SubmitTaskStateChange",
  "SubmitContainerStateChange",
  "DiscoverPollEndpoint",
]);
const KUBERNETES_AGENTS = ["kubelet", "amazon-vpc-cni-k8s", "aws-node", "eks-pod-identity-agent", "aws-ebs-csi-driver"];

/** A field of an object whatever its case (CloudTrail's EC2 events mix `httpTokens` and `HttpTokens`). */
function field(obj: unknown, name: string): unknown {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function items(v: unknown): unknown[] {
  const list = field(v, "items") ?? v;
  return Array.isArray(list) ? list : [];
}

/** Reads metadata options (`{httpTokens, httpPutResponseHopLimit, httpEndpoint}` in any case). */
function readOptions(options: unknown): {
  httpTokens?: HttpTokens;
  hopLimit?: number;
  httpEndpoint?: "enabled" | "disabled";
} {
  const out: { httpTokens?: HttpTokens; hopLimit?: number; httpEndpoint?: "enabled" | "disabled" } = {};
  const tokens = str(field(options, "httpTokens"))?.toLowerCase();
  if (tokens === "required" || tokens === "optional") out.httpTokens = tokens;
  const hop = Number(field(options, "httpPutResponseHopLimit"));
  if (Number.isInteger(hop) && hop >= 1 && hop <= 64) out.hopLimit = hop;
  const endpoint = str(field(options, "httpEndpoint"))?.toLowerCase();
  if (endpoint === "enabled" || endpoint === "disabled") out.httpEndpoint = endpoint;
  return out;
}

/** True when `a` happened after `b` (time, then event id: a total order independent of reading order). */
function later(a: { time: string; eventId: string }, b: { time: string; eventId: string } | undefined): boolean {
  if (!b) return true;
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  return ta !== tb ? ta > tb : a.eventId > b.eventId;
}

function apply(
  target: MetadataSettings,
  opts: ReturnType<typeof readOptions>,
  at: Omit<Setting<unknown>, "value">,
): void {
  if (opts.httpTokens && later(at, target.httpTokens)) target.httpTokens = { value: opts.httpTokens, ...at };
  if (opts.hopLimit !== undefined && later(at, target.hopLimit)) target.hopLimit = { value: opts.hopLimit, ...at };
  if (opts.httpEndpoint && later(at, target.httpEndpoint)) target.httpEndpoint = { value: opts.httpEndpoint, ...at };
}

const INSTANCE_ARN = /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/([^/]+)\/(i-[0-9a-f]{8,17})$/;

/** Collects what CloudTrail shows about the metadata service of each instance; see the module comment. */
export class ImdsPosture {
  private readonly instances = new Map<string, InstanceFacts>();
  private readonly templates = new Map<string, TemplateFacts>();
  private readonly defaults = new Map<
    string,
    { account: string; region: string; setting?: Setting<HttpTokens | "no-preference"> }
  >();

  private instance(id: string): InstanceFacts {
    let f = this.instances.get(id);
    if (!f) {
      f = { instanceId: id, settings: {}, roles: new Set(), v1Deliveries: 0, v2Deliveries: 0 };
      this.instances.set(id, f);
    }
    return f;
  }

  private template(ref: string): TemplateFacts {
    let t = this.templates.get(ref);
    if (!t) {
      t = { ref, versions: new Map() };
      this.templates.set(ref, t);
    }
    return t;
  }

  /** Takes one record into account (any record: those that say nothing about IMDS are ignored). */
  add(r: CloudTrailRecord): void {
    const time = str(r.eventTime);
    const eventId = str(r.eventID) ?? "";
    const eventName = str(r.eventName) ?? "";
    if (!time || Number.isNaN(Date.parse(time))) return;
    const account = str(r.recipientAccountId) ?? str(r.userIdentity?.accountId);
    const region = str(r.awsRegion);
    const at = { time, eventId, eventName };

    // Use: who got credentials from which version of the metadata service.
    const arn = str(r.userIdentity?.arn);
    const m = arn ? INSTANCE_ARN.exec(arn) : null;
    if (m) {
      const f = this.instance(m[2] as string);
      f.roles.add(m[1] as string);
      f.account ??= str(r.userIdentity?.accountId) ?? account;
      f.region ??= region;
      const delivery = str(r.userIdentity?.sessionContext?.ec2RoleDelivery);
      if (delivery === "1.0") {
        f.v1Deliveries++;
        if (!f.lastV1 || Date.parse(time) > Date.parse(f.lastV1)) f.lastV1 = time;
      } else if (delivery === "2.0") f.v2Deliveries++;
      if (!f.containers) {
        const agent = str(r.userAgent) ?? "";
        if (r.eventSource === "ecs.amazonaws.com" && ECS_AGENT_CALLS.has(eventName))
          f.containers = `ECS agent (${eventName})`;
        else {
          const k8s = KUBERNETES_AGENTS.find((a) => agent.includes(a));
          if (k8s) f.containers = `Kubernetes node software (${k8s})`;
        }
      }
    }

    if (r.eventSource !== "ec2.amazonaws.com" || r.errorCode !== undefined) return;
    const req = r.requestParameters ?? {};
    const res = r.responseElements ?? {};
    switch (eventName) {
      case "RunInstances": {
        const requested = readOptions(field(req, "metadataOptions"));
        const lt = field(req, "launchTemplate");
        const ltRef = str(field(lt, "launchTemplateId")) ?? str(field(lt, "launchTemplateName"));
        for (const item of items(field(res, "instancesSet"))) {
          const id = str(field(item, "instanceId"));
          if (!id) continue;
          const f = this.instance(id);
          f.account ??= account;
          f.region ??= region;
          f.launchedAt = time;
          if (ltRef) {
            const version = str(field(lt, "version"));
            f.template = { ref: ltRef, ...(version ? { version } : {}) };
          }
          // The response states the options the instance got (request, template and defaults
          // combined); older records only have the request's.
          const granted = readOptions(field(item, "metadataOptions"));
          apply(f.settings, { ...requested, ...granted }, at);
        }
        return;
      }
      case "ModifyInstanceMetadataOptions": {
        const inner = field(req, "ModifyInstanceMetadataOptionsRequest") ?? req;
        const id = str(field(inner, "instanceId"));
        if (!id) return;
        const f = this.instance(id);
        f.account ??= account;
        f.region ??= region;
        const response = field(field(res, "ModifyInstanceMetadataOptionsResponse") ?? res, "instanceMetadataOptions");
        apply(f.settings, { ...readOptions(inner), ...readOptions(response) }, at);
        return;
      }
      case "CreateLaunchTemplate":
      case "CreateLaunchTemplateVersion": {
        const inner = field(req, `${eventName}Request`) ?? req;
        const data = field(inner, "LaunchTemplateData");
        const resInner = field(res, `${eventName}Response`) ?? res;
        const made = field(resInner, eventName === "CreateLaunchTemplate" ? "launchTemplate" : "launchTemplateVersion");
        const ref =
          str(field(made, "launchTemplateId")) ??
          str(field(inner, "LaunchTemplateId")) ??
          str(field(made, "launchTemplateName")) ??
          str(field(inner, "LaunchTemplateName"));
        if (!ref) return;
        const t = this.template(ref);
        t.account ??= account;
        t.region ??= region;
        const version =
          str(
            String(field(made, eventName === "CreateLaunchTemplate" ? "latestVersionNumber" : "versionNumber") ?? ""),
          ) ?? "1";
        const settings: MetadataSettings = {};
        apply(settings, readOptions(field(data, "MetadataOptions")), at);
        t.versions.set(version, settings);
        if (t.latestVersion === undefined || Number(version) > Number(t.latestVersion)) t.latestVersion = version;
        // A template is known by its id and its name: file the name as an alias of the same facts.
        const name = str(field(made, "launchTemplateName")) ?? str(field(inner, "LaunchTemplateName"));
        if (name && name !== ref && !this.templates.has(name)) this.templates.set(name, t);
        return;
      }
      case "ModifyInstanceMetadataDefaults": {
        if (!account || !region) return;
        const inner = field(req, "ModifyInstanceMetadataDefaultsRequest") ?? req;
        const tokens = str(field(inner, "HttpTokens"))?.toLowerCase();
        if (tokens !== "required" && tokens !== "optional" && tokens !== "no-preference") return;
        const key = `${account}/${region}`;
        const d = this.defaults.get(key) ?? { account, region };
        if (later(at, d.setting)) d.setting = { value: tokens, ...at };
        this.defaults.set(key, d);
        return;
      }
    }
  }

  /** The report, in a stable order (account, region, id). */
  report(): ImdsPostureReport {
    const counts: Record<ImdsStatus, number> = {
      "imdsv1-in-use": 0,
      "imdsv1-allowed": 0,
      "imdsv2-required": 0,
      unknown: 0,
    };
    const instances = [...this.instances.values()]
      .map((f) => this.instanceReport(f))
      .sort(
        (a, b) =>
          (a.account ?? "").localeCompare(b.account ?? "") ||
          (a.region ?? "").localeCompare(b.region ?? "") ||
          a.instanceId.localeCompare(b.instanceId),
      );
    for (const i of instances) counts[i.status]++;

    const roles = new Map<string, { instances: Set<string>; v1Instances: Set<string>; v1: number; v2: number }>();
    for (const f of this.instances.values())
      for (const role of f.roles) {
        const r = roles.get(role) ?? { instances: new Set(), v1Instances: new Set(), v1: 0, v2: 0 };
        r.instances.add(f.instanceId);
        if (f.v1Deliveries > 0) r.v1Instances.add(f.instanceId);
        // Deliveries are counted per instance; an instance with two roles (rare: a profile change) counts for both.
        r.v1 += f.v1Deliveries;
        r.v2 += f.v2Deliveries;
        roles.set(role, r);
      }

    const seenTemplates = new Set<TemplateFacts>();
    const launchTemplates: TemplateImdsReport[] = [];
    for (const t of this.templates.values()) {
      if (seenTemplates.has(t)) continue;
      seenTemplates.add(t);
      const latest = t.latestVersion;
      const tokens = latest ? (t.versions.get(latest)?.httpTokens?.value ?? null) : null;
      const region = t.region ? ` --region ${t.region}` : "";
      launchTemplates.push({
        launchTemplate: t.ref,
        account: t.account ?? null,
        region: t.region ?? null,
        version: latest ?? null,
        httpTokens: tokens,
        remediation:
          tokens === "required"
            ? []
            : [
                `aws ec2 create-launch-template-version${region} ${t.ref.startsWith("lt-") ? "--launch-template-id" : "--launch-template-name"} ${t.ref}${latest ? ` --source-version ${latest}` : ""} --launch-template-data '{"MetadataOptions":{"HttpTokens":"required","HttpEndpoint":"enabled"}}'`,
                `aws ec2 modify-launch-template${region} ${t.ref.startsWith("lt-") ? "--launch-template-id" : "--launch-template-name"} ${t.ref} --default-version <the new version>`,
              ],
      });
    }
    launchTemplates.sort((a, b) => a.launchTemplate.localeCompare(b.launchTemplate));

    // Account defaults: shown for every account and region with an instance that is not IMDSv2-only.
    const places = new Map<string, { account: string; region: string }>();
    for (const i of instances)
      if (i.status !== "imdsv2-required" && i.account && i.region)
        places.set(`${i.account}/${i.region}`, { account: i.account, region: i.region });
    for (const [k, d] of this.defaults) places.set(k, { account: d.account, region: d.region });
    const accountDefaults = [...places.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, p]) => {
        const value = this.defaults.get(k)?.setting?.value ?? null;
        return {
          account: p.account,
          region: p.region,
          httpTokens: value,
          remediation:
            value === "required"
              ? []
              : [
                  `aws ec2 modify-instance-metadata-defaults --region ${p.region} --http-tokens required --http-put-response-hop-limit 2`,
                ],
        };
      });

    return {
      schema: "firstcall.imds-report/v1",
      instances,
      roles: [...roles.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([role, r]) => ({
          role,
          instances: [...r.instances].sort(),
          imdsv1Instances: [...r.v1Instances].sort(),
          imdsv1Deliveries: r.v1,
          imdsv2Deliveries: r.v2,
        })),
      launchTemplates,
      accountDefaults,
      counts,
    };
  }

  private instanceReport(f: InstanceFacts): InstanceImdsReport {
    const s = f.settings;
    // A launch template's setting applies when the launch itself said nothing.
    let tokens = s.httpTokens;
    if (!tokens && f.template) {
      const t = this.templates.get(f.template.ref);
      const version = f.template.version && /^\d+$/.test(f.template.version) ? f.template.version : t?.latestVersion;
      const fromTemplate = version ? t?.versions.get(version)?.httpTokens : undefined;
      if (fromTemplate)
        tokens = { ...fromTemplate, eventName: `${fromTemplate.eventName} (launch template ${f.template.ref})` };
    }
    const endpoint = s.httpEndpoint?.value ?? null;
    const v1Since = tokens
      ? f.lastV1 !== undefined && Date.parse(f.lastV1) >= Date.parse(tokens.time)
      : f.v1Deliveries > 0;
    const status: ImdsStatus =
      endpoint === "disabled" && !v1Since
        ? "imdsv2-required"
        : v1Since || (f.v1Deliveries > 0 && tokens?.value !== "required")
          ? "imdsv1-in-use"
          : tokens?.value === "optional"
            ? "imdsv1-allowed"
            : tokens?.value === "required"
              ? "imdsv2-required"
              : "unknown";
    const notes: string[] = [];
    const hop = s.hopLimit?.value;
    if (f.v1Deliveries > 0 && tokens?.value === "required" && !v1Since)
      notes.push(`IMDSv1 delivered credentials before IMDSv2 was required (${tokens.time})`);
    if (hop !== undefined && hop > 1)
      notes.push(
        f.containers
          ? `hop limit ${hop}: containers on it (${f.containers}) can reach the instance's credentials`
          : `hop limit ${hop}: a container or forwarded packet on it can reach the metadata service; 1 is enough without containers`,
      );
    if (status !== "imdsv2-required" && f.containers && hop === undefined)
      notes.push(
        `containers run on it (${f.containers}): with IMDSv1 allowed, every container can read the instance's credentials`,
      );
    if (status === "unknown")
      notes.push("the logs show neither its metadata options nor a credential delivered by IMDSv1");
    if (status === "imdsv1-in-use")
      notes.push(
        "software on it still uses IMDSv1: update it to an SDK version that uses IMDSv2 before requiring tokens, or it loses its credentials",
      );
    const region = f.region ? ` --region ${f.region}` : "";
    const remediation: string[] = [];
    if (status !== "imdsv2-required") {
      const hopFix =
        hop !== undefined && hop > 1 && !f.containers
          ? " --http-put-response-hop-limit 1"
          : f.containers && (hop ?? 1) < 2
            ? " --http-put-response-hop-limit 2"
            : "";
      remediation.push(
        `aws ec2 modify-instance-metadata-options${region} --instance-id ${f.instanceId} --http-tokens required --http-endpoint enabled${hopFix}`,
      );
    } else if (hop !== undefined && hop > 1 && !f.containers)
      remediation.push(
        `aws ec2 modify-instance-metadata-options${region} --instance-id ${f.instanceId} --http-put-response-hop-limit 1`,
      );
    return {
      instanceId: f.instanceId,
      account: f.account ?? null,
      region: f.region ?? null,
      roles: [...f.roles].sort(),
      status,
      httpTokens: tokens ? { value: tokens.value, by: tokens.eventName, time: tokens.time } : null,
      hopLimit: s.hopLimit ? { value: s.hopLimit.value, by: s.hopLimit.eventName, time: s.hopLimit.time } : null,
      httpEndpoint: endpoint,
      launchTemplate: f.template ? `${f.template.ref}${f.template.version ? `:${f.template.version}` : ""}` : null,
      deliveries: { imdsv1: f.v1Deliveries, imdsv2: f.v2Deliveries, lastImdsv1: f.lastV1 ?? null },
      containers: f.containers ?? null,
      notes,
      remediation,
    };
  }
}
