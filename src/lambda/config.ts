/**
 * The Lambda function's settings, from its environment (a function has no command line). Every value
 * is checked when the function starts, so a wrong setting fails the first invocation with a message
 * naming the variable, not a scan halfway.
 *
 * | variable                     | meaning                                                                    |
 * | ---------------------------- | -------------------------------------------------------------------------- |
 * | `FIRSTCALL_STATE`            | required: the shared state, `postgres://…` or `dynamodb://TABLE?region=…`   |
 * | `FIRSTCALL_CONFIG`           | a firstcall.yaml packaged with the function                                |
 * | `FIRSTCALL_IP_RANGES`        | an ip-ranges.json packaged with the function (default: shipped snapshot)   |
 * | `FIRSTCALL_FORMAT`           | `jsonl` (default) or `ocsf`: one finding per line in CloudWatch Logs    |
 * | `FIRSTCALL_MIN_SEVERITY`     | `info` (default), `low`, `medium`, `high`                                  |
 * | `FIRSTCALL_LATENESS_MINUTES` | how long ids are remembered against duplicates (default 60)                |
 * | `FIRSTCALL_WORKER`           | the worker's name (default: the execution environment's log stream)        |
 * | `FIRSTCALL_JOBS`             | reader threads (default 0: read on the handler's thread)                   |
 * | `FIRSTCALL_BIND_UNCOVERED`   | `true`: judge calls whose issuance was not seen                            |
 * | `FIRSTCALL_TO`               | destinations, as `--to`, separated by whitespace (PostgreSQL state only)   |
 * | `FIRSTCALL_ASFF_REGION`      | Security Hub: the ASFF `ProductArn`'s Region, as `--asff-region`           |
 * | `FIRSTCALL_ASFF_ACCOUNT`     | Security Hub: the ASFF `ProductArn`'s account, as `--asff-account`         |
 *
 * The PostgreSQL password is best left out of the URL: node-postgres reads `PGPASSWORD`.
 *
 * `FIRSTCALL_TO` entries are separated by whitespace (spaces, tabs or newlines), the one separator a
 * console field or a CloudFormation parameter can hold for several values. No destination syntax needs
 * whitespace — URLs, ARNs, bus names, Regions and variable names hold none — except a file path
 * (`file:PATH`, a secret's `file:PATH` or `@PATH`): a path with whitespace goes in the packaged
 * config's `to:` list, a YAML list that needs no separator. The webhook signing key comes from
 * `FIRSTCALL_WEBHOOK_SECRET` or the file named by `FIRSTCALL_WEBHOOK_SECRET_FILE`, as for the CLI.
 */
import { UsageError } from "../errors.js";
import type { Severity } from "../findings/finding.js";
import type { AsffOptions } from "../findings/formats/asff.js";
import { isSharedStateKind, stateKind } from "../state/open.js";

export interface LambdaSettings {
  readonly state: string;
  readonly configPath?: string;
  readonly ipRangesPath?: string;
  readonly format: string;
  readonly minSeverity: Severity;
  readonly latenessMs: number;
  readonly worker?: string;
  readonly jobs: number;
  readonly bindUncovered: boolean;
  /** `FIRSTCALL_TO`'s entries, as given (parsed by `deliveryFromFlags` with the config's `to:`). */
  readonly to: readonly string[];
  /** Security Hub's ASFF `ProductArn` (checked with the destinations, by `deliveryFromFlags`). */
  readonly asff: AsffOptions;
}

type Env = Readonly<Record<string, string | undefined>>;

const SEVERITIES: readonly Severity[] = ["info", "low", "medium", "high"];
/** Formats that write each finding as it comes, one line each: what a log stream can hold. */
const LINE_FORMATS = ["jsonl", "ocsf"];

function number(env: Env, name: string, fallback: number, allowZero: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new UsageError("E_USAGE", `${name}: not a ${allowZero ? "non-negative" : "positive"} number: ${raw}`);
  return n;
}

/**
 * Reads and checks the settings.
 *
 * @throws UsageError naming the variable that is missing or wrong.
 * @example lambdaSettings({ FIRSTCALL_STATE: "postgres://detector@db/firstcall" }).format // "jsonl"
 */
export function lambdaSettings(env: Env): LambdaSettings {
  const state = env.FIRSTCALL_STATE ?? "";
  if (state === "") {
    throw new UsageError(
      "E_USAGE",
      "FIRSTCALL_STATE is not set: a Lambda function needs a shared state (postgres://USER@HOST/DB or dynamodb://TABLE?region=REGION)",
    );
  }
  const kind = stateKind(state);
  if (!isSharedStateKind(kind)) {
    // Each execution environment has its own /tmp and memory: a per-process state would split every
    // session's calls between environments and miss the thefts that span them.
    throw new UsageError(
      "E_USAGE",
      `FIRSTCALL_STATE: a ${kind === "memory" ? "memory" : "SQLite"} state is not shared between the function's execution environments; use postgres://USER@HOST/DB or dynamodb://TABLE?region=REGION`,
    );
  }
  const format = env.FIRSTCALL_FORMAT || "jsonl";
  if (!LINE_FORMATS.includes(format))
    throw new UsageError("E_USAGE", `FIRSTCALL_FORMAT: ${format}: use one of ${LINE_FORMATS.join(", ")}`);
  const minSeverity = (env.FIRSTCALL_MIN_SEVERITY || "info") as Severity;
  if (!SEVERITIES.includes(minSeverity))
    throw new UsageError("E_USAGE", `FIRSTCALL_MIN_SEVERITY: ${minSeverity}: use one of ${SEVERITIES.join(", ")}`);
  const bind = env.FIRSTCALL_BIND_UNCOVERED ?? "";
  if (!["", "true", "false"].includes(bind))
    throw new UsageError("E_USAGE", `FIRSTCALL_BIND_UNCOVERED: ${bind}: use true or false`);
  const asffRegion = env.FIRSTCALL_ASFF_REGION || undefined;
  if (asffRegion !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(asffRegion))
    throw new UsageError("E_USAGE", `FIRSTCALL_ASFF_REGION: not an AWS Region: ${asffRegion}`);
  const asffAccount = env.FIRSTCALL_ASFF_ACCOUNT || undefined;
  if (asffAccount !== undefined && !/^\d{12}$/.test(asffAccount))
    throw new UsageError("E_USAGE", `FIRSTCALL_ASFF_ACCOUNT: not a 12-digit account id: ${asffAccount}`);
  const to = (env.FIRSTCALL_TO ?? "").split(/\s+/).filter((v) => v !== "");
  if (to.length > 0 && kind === "dynamodb") throw noOutbox("FIRSTCALL_TO");
  return {
    state,
    ...(env.FIRSTCALL_CONFIG ? { configPath: env.FIRSTCALL_CONFIG } : {}),
    ...(env.FIRSTCALL_IP_RANGES ? { ipRangesPath: env.FIRSTCALL_IP_RANGES } : {}),
    format,
    minSeverity,
    latenessMs: number(env, "FIRSTCALL_LATENESS_MINUTES", 60, true) * 60_000,
    ...(env.FIRSTCALL_WORKER ? { worker: env.FIRSTCALL_WORKER } : {}),
    jobs: Math.floor(number(env, "FIRSTCALL_JOBS", 0, true)),
    bindUncovered: bind === "true",
    to,
    asff: {
      ...(asffRegion !== undefined ? { productRegion: asffRegion } : {}),
      ...(asffAccount !== undefined ? { productAccount: asffAccount } : {}),
    },
  };
}

/**
 * The refusal of destinations on a DynamoDB state, which keeps no delivery outbox (as the CLI refuses
 * `--to` there): `what` names where they were given.
 *
 * @example throw noOutbox("FIRSTCALL_TO")
 */
export function noOutbox(what: string): UsageError {
  return new UsageError(
    "E_USAGE",
    `${what}: a DynamoDB state keeps no delivery outbox, so findings cannot be delivered without being lost or repeated; use a postgres:// FIRSTCALL_STATE, or leave out the destinations (findings still go to CloudWatch Logs)`,
  );
}
