/**
 * What `firstcall serve` shows, read from a state that a scan (or watch) in another process may be
 * writing: the findings kept in memory, refreshed incrementally. A refresh first asks SQLite whether
 * anyone committed since the last one (`data_version`, no table read); only then does it read the
 * findings whose commit time is at or after the last one seen (an index on `updated_at`), so polling
 * an idle state costs one pragma and a busy one reads only what each checkpoint wrote.
 */
import type { StoredFinding } from "../engine/engine.js";
import { FirstcallError } from "../errors.js";
import { type Explanation, explain } from "../findings/explain.js";
import { type Finding, SEVERITIES, type Severity, severityRank, statusOf } from "../findings/finding.js";
import { parseTimeArgument } from "../pipeline/time-window.js";
import type { FindingsMark, SqliteStore } from "../state/sqlite.js";
import { FINDING_STATUS_VALUES, type FindingStatus, type FindingStatusValue } from "../state/store.js";

/** Errors the API answers with, each with a stable code and its HTTP status. */
export type ApiErrorCode =
  | "E_AUTH" // no or wrong credentials (401)
  | "E_FORBIDDEN" // a read-only token asked to change something (403)
  | "E_CSRF" // a state-changing request without the custom header, or from another origin (403)
  | "E_HOST" // a Host header this server does not answer to (403): DNS rebinding
  | "E_BAD_REQUEST" // a query parameter that cannot be understood (400)
  | "E_NOT_FOUND" // no such finding or route (404)
  | "E_AMBIGUOUS" // a finding id prefix shared by several findings (409)
  | "E_STATE" // the state cannot be read (503)
  | "E_INTERNAL"; // a bug (500)

/** An error the API turns into `{"error":{"code","message"}}` with `status`. */
export class ApiError extends FirstcallError<ApiErrorCode> {
  constructor(
    code: ApiErrorCode,
    readonly status: 400 | 401 | 403 | 404 | 409 | 500 | 503,
    message: string,
  ) {
    super(code, message);
  }
}

/** A finding as the view keeps it: the stored record and the commit time that last wrote it. */
export interface ViewedFinding {
  readonly stored: StoredFinding;
  readonly updatedAt: string;
}

/** One change a refresh saw: a new finding, a new version of one (evidence grew), or its retraction. */
export interface FindingChange {
  readonly change: "new" | "updated" | "retracted";
  readonly finding: Finding;
  readonly updatedAt: string;
}

/**
 * What people decided about a finding, as the API shows it: `open` (nobody did) or the latest
 * acknowledgement or suppression with its reason, who and when.
 */
export interface Triage {
  readonly status: FindingStatusValue;
  readonly reason?: string;
  readonly actor?: string;
  readonly at?: string;
}

/** A finding of the list with its triage. */
export type TriagedFinding = Finding & { readonly triage: Triage };

/** A triage change (made through this server or by another process), for the event stream. */
export interface TriageChange {
  readonly id: string;
  readonly triage: Triage;
  /** Its place in the state's status history. */
  readonly seq: number;
}

/** Filters of the findings list; every one optional, all of them must hold. */
export interface FindingsQuery {
  readonly rules?: readonly string[];
  readonly severities?: readonly Severity[];
  readonly minSeverity?: Severity;
  readonly status?: "open" | "retracted";
  /** Triage statuses (any of them). */
  readonly triage?: readonly FindingStatusValue[];
  readonly accounts?: readonly string[];
  readonly regions?: readonly string[];
  /** Finding time (first offending call) at or after, ms. */
  readonly since?: number;
  /** Finding time before, ms. */
  readonly until?: number;
  /** Case-insensitive text in the credential: session ARN, role ARN, session name, key ids, instance id. */
  readonly text?: string;
  /** Case-insensitive text in the offending address. */
  readonly address?: string;
}

export interface FindingsPage {
  readonly schema: "firstcall.findings-page/v1";
  /** Findings matching the filters, all pages together. */
  readonly total: number;
  /** Newest first (time, then id, both descending): a stable order for cursors. */
  readonly findings: readonly TriagedFinding[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

export interface StateSummary {
  readonly schema: "firstcall.state-summary/v1";
  readonly state: string;
  readonly findings: {
    readonly total: number;
    readonly open: number;
    readonly retracted: number;
    /** Findings acknowledged and suppressed (retracted or not). */
    readonly acknowledged: number;
    readonly suppressed: number;
    /** Open findings per severity. */
    readonly bySeverity: Readonly<Record<Severity, number>>;
    /** Open findings per rule. */
    readonly byRule: Readonly<Record<string, number>>;
    readonly accounts: readonly string[];
    readonly regions: readonly string[];
    readonly firstTime?: string;
    readonly lastTime?: string;
  };
  readonly sessions: {
    /** Credential sessions kept in the state. */
    readonly stored: number;
    /** Of which alive at the newest event time read (their lifetime not over). */
    readonly live: number;
  };
  /**
   * What the state can say about coverage: findings on credentials whose issuance was in the logs
   * (covered) or not. The share of covered calls is a figure of each scan's summary, not kept in the state.
   */
  readonly coverage: { readonly coveredFindings: number; readonly uncoveredFindings: number };
  readonly fleet: {
    /** Newest event time read by the scans (the stream's watermark), if any. */
    readonly newestEvent?: string;
    /** Accounts the trail is about. */
    readonly accounts: number;
    /** NAT gateway and Elastic IP addresses learned from the logs. */
    readonly egressAddresses: number;
    /** VPC endpoints known to be yours (created in the logs) or vouched for by instances. */
    readonly knownEndpoints: number;
  };
  readonly objects: { readonly complete: number; readonly partial: number; readonly lastScannedAt?: string };
}

const TEXT_LIMIT = 200;

/** Newest first: time descending, then id descending. */
function newestFirst(a: Finding, b: Finding): number {
  if (a.time !== b.time) return a.time < b.time ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function encodeCursor(f: Finding): string {
  return Buffer.from(JSON.stringify([f.time, f.id])).toString("base64url");
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") return [v[0], v[1]];
  } catch {
    // fall through to the error
  }
  throw new ApiError("E_BAD_REQUEST", 400, "cursor: not a cursor this server gave (pass nextCursor as it is)");
}

function credentialText(f: Finding): string {
  const p = f.principal;
  return [p.arn, p.roleArn, p.sessionName, p.accessKeyId, p.instanceId, ...f.evidence.accessKeyIds]
    .filter((v): v is string => typeof v === "string")
    .join("\n")
    .toLowerCase();
}

/** Whether a finding passes the filters (`triage`: its triage status, open when unknown). */
export function matches(f: Finding, q: FindingsQuery, triage: FindingStatusValue = "open"): boolean {
  if (q.triage && q.triage.length > 0 && !q.triage.includes(triage)) return false;
  if (q.rules && q.rules.length > 0 && !q.rules.includes(f.rule)) return false;
  if (q.severities && q.severities.length > 0 && !q.severities.includes(f.severity)) return false;
  if (q.minSeverity && severityRank(f.severity) < severityRank(q.minSeverity)) return false;
  if (q.status && statusOf(f) !== q.status) return false;
  if (q.accounts && q.accounts.length > 0 && !q.accounts.includes(f.account)) return false;
  if (q.regions && q.regions.length > 0 && !q.regions.includes(f.region)) return false;
  const t = Date.parse(f.time);
  if (q.since !== undefined && !(t >= q.since)) return false;
  if (q.until !== undefined && !(t < q.until)) return false;
  if (q.text && !credentialText(f).includes(q.text.toLowerCase())) return false;
  if (q.address && !f.sourceIp.toLowerCase().includes(q.address.toLowerCase())) return false;
  return true;
}

function list(params: URLSearchParams, name: string): string[] {
  return params
    .getAll(name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

function severity(value: string, name: string): Severity {
  if ((SEVERITIES as readonly string[]).includes(value)) return value as Severity;
  throw new ApiError("E_BAD_REQUEST", 400, `${name}: not a severity (${SEVERITIES.join(", ")}): ${value.slice(0, 40)}`);
}

function time(params: URLSearchParams, name: string, now: number): number | undefined {
  const v = params.get(name);
  if (v === null || v.trim() === "") return undefined;
  try {
    return parseTimeArgument(v, name, now);
  } catch (e) {
    throw new ApiError("E_BAD_REQUEST", 400, (e as Error).message);
  }
}

function text(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name);
  if (v === null || v.trim() === "") return undefined;
  if (v.length > TEXT_LIMIT) throw new ApiError("E_BAD_REQUEST", 400, `${name}: longer than ${TEXT_LIMIT} characters`);
  return v.trim();
}

/**
 * The filters of `GET /api/v1/findings` from its query string. Lists are repeated parameters or
 * comma-separated; times are ISO-8601 times, dates or durations before now (`24h`), like `--since`.
 * @throws ApiError E_BAD_REQUEST naming the parameter
 * @example parseFindingsQuery(new URLSearchParams("severity=high,medium&since=24h"))
 */
export function parseFindingsQuery(params: URLSearchParams, now = Date.now()): FindingsQuery {
  const status = params.get("status") ?? "";
  if (status !== "" && status !== "open" && status !== "retracted")
    throw new ApiError("E_BAD_REQUEST", 400, `status: open or retracted, not ${status.slice(0, 40)}`);
  const triage = list(params, "triage");
  for (const v of triage)
    if (!(FINDING_STATUS_VALUES as readonly string[]).includes(v))
      throw new ApiError("E_BAD_REQUEST", 400, `triage: ${FINDING_STATUS_VALUES.join(", ")}, not ${v.slice(0, 40)}`);
  const min = params.get("minSeverity");
  const since = time(params, "since", now);
  const until = time(params, "until", now);
  const t = text(params, "q");
  const address = text(params, "address");
  return {
    rules: list(params, "rule"),
    severities: list(params, "severity").map((s) => severity(s, "severity")),
    ...(min ? { minSeverity: severity(min, "minSeverity") } : {}),
    ...(status ? { status } : {}),
    triage: triage as FindingStatusValue[],
    accounts: list(params, "account"),
    regions: list(params, "region"),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(t ? { text: t } : {}),
    ...(address ? { address } : {}),
  };
}

/**
 * The findings of one state, kept current by {@link FindingsView.refresh}.
 *
 * @example
 * const view = new FindingsView(SqliteStore.open(path, { readOnly: true }), 30);
 * for (const c of view.refresh()) console.log(c.change, c.finding.id);
 * view.page({ minSeverity: "high" }, 50);
 */
export class FindingsView {
  private readonly byId = new Map<string, ViewedFinding>();
  private sorted: Finding[] | undefined;
  private mark: FindingsMark | undefined;
  private version: number | undefined;
  private summaryCache: { version: number; triageSeq: number; summary: StateSummary } | undefined;
  /** The latest status of each finding that is not open, and how far the history was read. */
  private readonly triage = new Map<string, FindingStatus>();
  private triageSeq = 0;
  /** Triage changes seen by refreshes and not yet taken by {@link takeTriageChanges}. */
  private pendingTriage: TriageChange[] = [];

  constructor(
    private readonly store: SqliteStore,
    private readonly learnWindowMinutes: number,
  ) {}

  get location(): string {
    return this.store.location;
  }

  /**
   * Reads what was committed since the last call: nothing at all when no one committed. The first
   * call loads every finding and reports none as a change.
   */
  refresh(): FindingChange[] {
    const version = this.store.dataVersion();
    if (this.version !== undefined && version === this.version) return [];
    const first = this.version === undefined;
    this.version = version;
    const { rows, mark } = this.store.findingsChangedSince(this.mark);
    this.mark = mark;
    const changes: FindingChange[] = [];
    for (const row of rows) {
      const id = row.stored.finding.id;
      const before = this.byId.get(id);
      if (before && before.updatedAt === row.updatedAt) continue;
      this.byId.set(id, row);
      this.sorted = undefined;
      if (first) continue;
      const retracted = statusOf(row.stored.finding) === "retracted";
      const change = !before
        ? "new"
        : retracted && statusOf(before.stored.finding) !== "retracted"
          ? "retracted"
          : "updated";
      changes.push({ change, finding: row.stored.finding, updatedAt: row.updatedAt });
    }
    this.readTriage(first);
    return changes;
  }

  /**
   * Reads the status history past what was seen (the first time: all of it, reporting nothing). The
   * history, not the table of latest statuses, so that a change another process made and undid
   * between two refreshes is still reported in order.
   */
  private readTriage(first: boolean): void {
    for (const c of this.store.statusChangesSince(this.triageSeq)) {
      this.triageSeq = c.seq;
      const kept: FindingStatus = { id: c.id, status: c.status, reason: c.reason, actor: c.actor, at: c.at };
      if (c.status === "open") this.triage.delete(c.id);
      else this.triage.set(c.id, kept);
      if (!first) this.pendingTriage.push({ id: c.id, triage: asTriage(kept), seq: c.seq });
    }
    // A server nobody listens to must not pile up changes.
    if (this.pendingTriage.length > 10_000) this.pendingTriage = this.pendingTriage.slice(-10_000);
  }

  /** The triage changes read since the last call (by refreshes or {@link setTriage}), oldest first. */
  takeTriageChanges(): TriageChange[] {
    const out = this.pendingTriage;
    this.pendingTriage = [];
    return out;
  }

  /** A finding's triage (`open` when nobody set one). */
  triageOf(id: string): Triage {
    const s = this.triage.get(id);
    return s ? asTriage(s) : { status: "open" };
  }

  /**
   * Sets a finding's triage (`id` as {@link explain} takes it) through the store's status connection,
   * then reads it back so the change is among the next {@link takeTriageChanges}.
   * @throws ApiError E_BAD_REQUEST, E_NOT_FOUND, E_AMBIGUOUS; FindingStatusError; StateError when it cannot be written
   * @example await view.setTriage("9094dc6c", "suppressed", "red team exercise", "admin")
   */
  async setTriage(id: string, status: FindingStatusValue, reason: string, actor: string): Promise<TriageChange> {
    const finding = this.resolve(id).stored.finding;
    await this.store.setFindingStatus({ id: finding.id, status, reason, actor, at: new Date().toISOString() });
    this.readTriage(false);
    const mine = this.pendingTriage.filter((c) => c.id === finding.id).at(-1);
    return mine ?? { id: finding.id, triage: this.triageOf(finding.id), seq: this.triageSeq };
  }

  /** Every status change of a finding, oldest first (the audit trail). */
  async triageHistory(id: string): Promise<Triage[]> {
    return (await this.store.findingStatusHistory(id)).map(asTriage);
  }

  /** Findings whose latest version was committed after `updatedAt` (a reconnecting stream's catch-up). */
  changedAfter(updatedAt: string): FindingChange[] {
    const out: FindingChange[] = [];
    for (const v of this.byId.values())
      if (v.updatedAt > updatedAt)
        out.push({
          change: statusOf(v.stored.finding) === "retracted" ? "retracted" : "updated",
          finding: v.stored.finding,
          updatedAt: v.updatedAt,
        });
    return out.sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : 0));
  }

  /** The commit time of the newest finding version seen. */
  latestUpdate(): string | undefined {
    return this.mark?.updatedAt;
  }

  private all(): Finding[] {
    if (!this.sorted) this.sorted = [...this.byId.values()].map((v) => v.stored.finding).sort(newestFirst);
    return this.sorted;
  }

  /**
   * One page of the findings matching `query`, newest first, after `cursor` (keyset paging: a page
   * never repeats or skips a finding because others were added meanwhile).
   */
  page(query: FindingsQuery, limit: number, cursor?: string): FindingsPage {
    const after = cursor ? decodeCursor(cursor) : undefined;
    const matching = this.all().filter((f) => matches(f, query, this.triage.get(f.id)?.status));
    let start = 0;
    if (after) {
      const [t, id] = after;
      start = matching.findIndex((f) => f.time < t || (f.time === t && f.id < id));
      if (start < 0) start = matching.length;
    }
    const findings = matching.slice(start, start + limit).map((f) => ({ ...f, triage: this.triageOf(f.id) }));
    const last = findings.at(-1);
    return {
      schema: "firstcall.findings-page/v1",
      total: matching.length,
      findings,
      ...(last && start + limit < matching.length ? { nextCursor: encodeCursor(last) } : {}),
    };
  }

  /**
   * One finding's evidence, as `firstcall explain` gives it. `id` may be a unique prefix (6+ hex).
   * @throws ApiError E_BAD_REQUEST, E_NOT_FOUND or E_AMBIGUOUS
   */
  async explain(id: string): Promise<Explanation> {
    const stored = this.resolve(id).stored;
    const session = (await this.store.loadSessions([stored.session])).get(stored.session);
    return explain(stored, session, await this.store.loadFleet(), this.learnWindowMinutes);
  }

  /** A finding by id or unique prefix. @throws ApiError E_BAD_REQUEST, E_NOT_FOUND or E_AMBIGUOUS */
  private resolve(id: string): ViewedFinding {
    const wanted = id.toLowerCase();
    if (!/^[0-9a-f]{6,64}$/.test(wanted))
      throw new ApiError("E_BAD_REQUEST", 400, "not a finding id (6 to 64 hexadecimal characters)");
    const found = [...this.byId.values()].filter((v) => v.stored.finding.id.startsWith(wanted));
    if (found.length === 0) throw new ApiError("E_NOT_FOUND", 404, `no finding ${wanted} in the state`);
    if (found.length > 1)
      throw new ApiError(
        "E_AMBIGUOUS",
        409,
        `${wanted} is the start of ${found.length} finding ids: give more characters`,
      );
    return found[0] as ViewedFinding;
  }

  async sessionCount(): Promise<number> {
    return this.store.sessionCount();
  }

  /** Figures of the whole state; computed once per commit of the writer. */
  async summary(): Promise<StateSummary> {
    const version = this.store.dataVersion();
    if (this.summaryCache?.version === version && this.summaryCache.triageSeq === this.triageSeq)
      return this.summaryCache.summary;
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    const byRule: Record<string, number> = {};
    const accounts = new Set<string>();
    const regions = new Set<string>();
    let open = 0;
    let covered = 0;
    let firstTime: string | undefined;
    let lastTime: string | undefined;
    const all = this.all();
    for (const f of all) {
      accounts.add(f.account);
      regions.add(f.region);
      if (f.covered) covered++;
      if (firstTime === undefined || f.time < firstTime) firstTime = f.time;
      if (lastTime === undefined || f.time > lastTime) lastTime = f.time;
      if (statusOf(f) !== "open") continue;
      open++;
      bySeverity[f.severity]++;
      byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
    }
    const fleet = await this.store.loadFleet();
    const endpoints = new Set([...fleet.createdEndpoints, ...fleet.endpointVouchers.keys()]);
    const watermark = fleet.watermark > 0 && Number.isFinite(fleet.watermark) ? fleet.watermark : undefined;
    const summary: StateSummary = {
      schema: "firstcall.state-summary/v1",
      state: this.store.location,
      findings: {
        total: all.length,
        open,
        retracted: all.length - open,
        acknowledged: [...this.triage.values()].filter((t) => t.status === "acknowledged" && this.byId.has(t.id))
          .length,
        suppressed: [...this.triage.values()].filter((t) => t.status === "suppressed" && this.byId.has(t.id)).length,
        bySeverity,
        byRule,
        accounts: [...accounts].sort(),
        regions: [...regions].sort(),
        ...(firstTime ? { firstTime } : {}),
        ...(lastTime ? { lastTime } : {}),
      },
      sessions: {
        stored: await this.store.sessionCount(),
        live: watermark === undefined ? 0 : await this.store.liveSessionCount(watermark),
      },
      coverage: { coveredFindings: covered, uncoveredFindings: all.length - covered },
      fleet: {
        ...(watermark !== undefined ? { newestEvent: new Date(watermark).toISOString() } : {}),
        accounts: fleet.accounts.size,
        egressAddresses: fleet.egress.size,
        knownEndpoints: endpoints.size,
      },
      objects: await this.store.objectCounts(),
    };
    this.summaryCache = { version, triageSeq: this.triageSeq, summary };
    return summary;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

function asTriage(s: FindingStatus): Triage {
  return { status: s.status, reason: s.reason, actor: s.actor, at: s.at };
}
