/**
 * `firstcall trailblazer …`: learn which AWS API calls CloudTrail logs, and as what.
 * Subcommands: catalog, run, map, replay (record | run). The heavy modules (catalog JSON, AWS SDK,
 * the reader) are imported inside the actions so that the CLI starts fast.
 */
import type { Command } from "commander";
import { safeText } from "../safe-text.js";
import { type CommandSpec, formatOption, toOptions } from "./options.js";

const servicesOption = {
  flags: "--services <list>",
  description: "comma-separated service ids (ec2,iam,s3…), endpoint prefixes or signing names",
} as const;
const placeholderOption = {
  flags: "--placeholder <member=value>",
  description: "value for every required member of that name (e.g. Bucket=my-test-bucket); repeatable",
  repeatable: true,
} as const;

export const trailblazerCatalogSpec: CommandSpec = {
  name: "trailblazer catalog",
  arguments: "",
  summary:
    "Lists every service and operation the AWS SDK models know, with protocol, HTTP method and path, required members and a read-only guess. With --services, lists their operations.",
  options: [
    servicesOption,
    formatOption(["text", "json"], "output format (json: the catalog entries)"),
    { flags: "--json", description: "the same as --format json", hidden: true },
  ],
  examples: [
    "firstcall trailblazer catalog",
    "firstcall trailblazer catalog --services iam,sts",
    "firstcall trailblazer catalog --format json > catalog.json",
  ],
};

export const trailblazerRunSpec: CommandSpec = {
  name: "trailblazer run",
  arguments: "",
  summary:
    "Calls every operation once, each under its own session of the deny-all role, with placeholder values for required members, and records what was sent and answered in a run file (JSON Lines). Resumable.",
  options: [
    { flags: "--role-arn <arn>", description: "the deny-all role to assume (see docs/trailblazer.md)" },
    { flags: "--region <region>", description: "region for regional services (global ones go to their home region)" },
    servicesOption,
    { flags: "--endpoint-url <url>", description: "send every request (and AssumeRole) here instead of AWS" },
    {
      flags: "--sts-endpoint-url <url>",
      description: "send AssumeRole here (default: --endpoint-url, else regional STS)",
    },
    {
      flags: "--rate <n>",
      description: "operations started per second (each is one AssumeRole and one call); 0: no limit",
      defaultValue: "5",
    },
    { flags: "--concurrency <n>", description: "calls in flight at once", defaultValue: "4" },
    { flags: "--out <file>", description: "run file to write", defaultText: "trailblazer-run-<run id>.jsonl" },
    { flags: "--resume <file>", description: "continue this run file: skips calls already answered" },
    {
      flags: "--dry-run",
      description: "print the requests that would be sent; assume nothing, send nothing",
      defaultValue: false,
    },
    placeholderOption,
    { flags: "--no-progress", description: "no progress bar" },
  ],
  examples: [
    "firstcall trailblazer run --role-arn arn:aws:iam::123456789012:role/firstcall-trailblazer --region us-east-1 --services iam,sts",
    "firstcall trailblazer run --role-arn arn:aws:iam::123456789012:role/firstcall-trailblazer --region us-east-1 --resume trailblazer-run-k3x9ab12.jsonl",
    "firstcall trailblazer run --role-arn arn:aws:iam::123456789012:role/firstcall-trailblazer --region us-east-1 --services s3 --dry-run",
  ],
};

export const trailblazerMapSpec: CommandSpec = {
  name: "trailblazer map",
  arguments: "<runfile> <logs...>",
  summary:
    "Matches CloudTrail records to a run's calls and reports, per operation: logged or not, eventSource, eventName (and whether it differs from the operation), management/data, read-only, logged error code, delay.",
  options: [
    formatOption(["text", "json"], "output format (json: the mapping, or the diff)"),
    { flags: "--json", description: "the same as --format json", hidden: true },
    { flags: "-o, --output <file>", description: "write to this file instead of stdout" },
    { flags: "--diff <old.json>", description: "show what changed since an earlier mapping (from map --format json)" },
    {
      flags: "--interesting",
      description: "text: only operations not logged, renamed or logged as several events",
      defaultValue: false,
    },
  ],
  examples: [
    "firstcall trailblazer map trailblazer-run-k3x9ab12.jsonl AWSLogs/123456789012/CloudTrail/",
    "firstcall trailblazer map run.jsonl logs/ --format json -o mapping.json",
    "firstcall trailblazer map run2.jsonl logs/ --diff mapping.json",
  ],
};

export const trailblazerReplayRecordSpec: CommandSpec = {
  name: "trailblazer replay record",
  arguments: "<logs...>",
  summary:
    "Records one principal's calls, in time order and with the pauses between them, from CloudTrail into a chain file.",
  options: [
    { flags: "--principal <arn>", description: "userIdentity.arn to follow; a trailing * matches a prefix" },
    { flags: "-o, --output <file>", description: "chain file to write (default: stdout)" },
  ],
  examples: [
    'firstcall trailblazer replay record --principal "arn:aws:sts::123456789012:assumed-role/web/i-0abc*" AWSLogs/ -o chain.json',
  ],
};

export const trailblazerReplayRunSpec: CommandSpec = {
  name: "trailblazer replay run",
  arguments: "<chain>",
  summary:
    "Replays a chain with the credentials of the environment (AWS SDK default chain), keeping its timing. Operations that do not look read-only are skipped unless --allow-writes.",
  options: [
    { flags: "--region <region>", description: "region for steps recorded without one", defaultValue: "us-east-1" },
    { flags: "--endpoint-url <url>", description: "send the requests here instead of AWS" },
    { flags: "--speed <factor>", description: "time factor (2: twice as fast); 0: no waiting", defaultValue: "1" },
    { flags: "--allow-writes", description: "also replay operations that may change something", defaultValue: false },
    { flags: "--dry-run", description: "print the requests, send nothing", defaultValue: false },
    placeholderOption,
  ],
  examples: [
    "firstcall trailblazer replay run chain.json --speed 10",
    "firstcall trailblazer replay run chain.json --dry-run",
  ],
};

/** Every trailblazer command spec, for the generated CLI reference. */
export const trailblazerSpecs: readonly CommandSpec[] = [
  trailblazerCatalogSpec,
  trailblazerRunSpec,
  trailblazerMapSpec,
  trailblazerReplayRecordSpec,
  trailblazerReplayRunSpec,
];

interface CatalogFlags {
  services?: string;
  format: "text" | "json";
  json?: boolean;
}
interface RunFlags {
  roleArn?: string;
  region?: string;
  services?: string;
  endpointUrl?: string;
  stsEndpointUrl?: string;
  rate: string;
  concurrency: string;
  out?: string;
  resume?: string;
  dryRun: boolean;
  placeholder?: string[];
  progress: boolean;
}
interface MapFlags {
  format: "text" | "json";
  json?: boolean;
  output?: string;
  diff?: string;
  interesting: boolean;
}
interface ReplayRecordFlags {
  principal?: string;
  output?: string;
}
interface ReplayRunFlags {
  region: string;
  endpointUrl?: string;
  speed: string;
  allowWrites: boolean;
  dryRun: boolean;
  placeholder?: string[];
}

function addSpec(parent: Command, spec: CommandSpec, name: string): Command {
  const cmd = parent.command(name).description(spec.summary);
  if (spec.arguments) cmd.arguments(spec.arguments);
  for (const o of toOptions(spec.options)) cmd.addOption(o);
  return cmd;
}

/** Where command output goes: stdout, or a buffer in tests. */
export interface Output {
  write(text: string): unknown;
}

/** Adds `trailblazer` and its subcommands to the program. */
export function registerTrailblazer(program: Command, out: Output = process.stdout): void {
  const tb = program
    .command("trailblazer")
    .description("Learn which AWS API calls CloudTrail logs, and as what (see docs/trailblazer.md).");
  addSpec(tb, trailblazerCatalogSpec, "catalog").action(async (flags: CatalogFlags) => {
    program.setOptionValue("exitCode", await catalogCommand(flags, out));
  });
  addSpec(tb, trailblazerRunSpec, "run").action(async (flags: RunFlags) => {
    program.setOptionValue("exitCode", await runCommand(flags, out));
  });
  addSpec(tb, trailblazerMapSpec, "map").action(async (runFile: string, logs: string[], flags: MapFlags) => {
    program.setOptionValue("exitCode", await mapCommand(runFile, logs, flags, out));
  });
  const replay = tb
    .command("replay")
    .description("Attack simulation: record a principal's calls from CloudTrail, replay them.");
  addSpec(replay, trailblazerReplayRecordSpec, "record").action(async (logs: string[], flags: ReplayRecordFlags) => {
    program.setOptionValue("exitCode", await replayRecordCommand(logs, flags, out));
  });
  addSpec(replay, trailblazerReplayRunSpec, "run").action(async (chain: string, flags: ReplayRunFlags) => {
    program.setOptionValue("exitCode", await replayRunCommand(chain, flags, out));
  });
}

/** The package version, read from package.json (two levels up from both src/cli and dist/cli). */
async function toolVersion(): Promise<string> {
  const { readFileSync } = await import("node:fs");
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

async function parsePlaceholders(values: readonly string[] | undefined): Promise<Record<string, string> | undefined> {
  if (!values || values.length === 0) return undefined;
  const { UsageError } = await import("../errors.js");
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf("=");
    if (at <= 0) throw new UsageError("E_USAGE", `--placeholder: expected Member=value, got ${v}`);
    out[v.slice(0, at)] = v.slice(at + 1);
  }
  return out;
}

async function positiveNumber(value: string, flag: string, allowZero: boolean): Promise<number> {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    const { UsageError } = await import("../errors.js");
    throw new UsageError(
      "E_USAGE",
      `${flag}: expected a ${allowZero ? "non-negative" : "positive"} number, got ${value}`,
    );
  }
  return n;
}

async function catalogCommand(flags: CatalogFlags, out: Output): Promise<number> {
  const { loadCatalog, selectServices, parseServiceList, renderCatalogText } = await import(
    "../trailblazer/catalog.js"
  );
  const catalog = loadCatalog();
  const filter = parseServiceList(flags.services);
  const services = selectServices(catalog, filter);
  if (flags.format === "json" || flags.json) {
    const selected = filter ? { ...catalog, services: Object.fromEntries(services.map((s) => [s.id, s])) } : catalog;
    out.write(`${JSON.stringify(selected)}\n`);
  } else {
    out.write(renderCatalogText(catalog, services, filter !== undefined));
  }
  return 0;
}

async function runCommand(flags: RunFlags, out: Output): Promise<number> {
  const { UsageError } = await import("../errors.js");
  if (!flags.roleArn) throw new UsageError("E_USAGE", "trailblazer run: --role-arn is required");
  if (!flags.region) throw new UsageError("E_USAGE", "trailblazer run: --region is required");
  if (flags.resume && flags.out) throw new UsageError("E_USAGE", "trailblazer run: give --resume or --out, not both");
  const { loadCatalog, parseServiceList } = await import("../trailblazer/catalog.js");
  const { runTrailblazer } = await import("../trailblazer/runner.js");
  const rate = await positiveNumber(flags.rate, "--rate", true);
  const concurrency = await positiveNumber(flags.concurrency, "--concurrency", false);
  const placeholders = await parsePlaceholders(flags.placeholder);
  const services = parseServiceList(flags.services);
  const version = await toolVersion();
  const catalog = loadCatalog();

  const controller = new AbortController();
  const onSigint = (): void => {
    process.stderr.write("\ntrailblazer: stopping after the calls in flight (Ctrl-C again to quit now)\n");
    controller.abort();
    process.off("SIGINT", onSigint);
  };
  process.on("SIGINT", onSigint);

  let bar: import("cli-progress").SingleBar | undefined;
  if (flags.progress && !flags.dryRun && process.stderr.isTTY) {
    const { SingleBar, Presets } = await import("cli-progress");
    bar = new SingleBar(
      {
        stream: process.stderr,
        format: "trailblazer [{bar}] {value}/{total} {eta_formatted} {operation}",
        hideCursor: true,
      },
      Presets.shades_classic,
    );
  }
  const runFile = flags.resume ?? flags.out;
  try {
    const summary = await runTrailblazer({
      catalog,
      roleArn: flags.roleArn,
      region: flags.region,
      ...(services ? { services } : {}),
      ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
      ...(flags.stsEndpointUrl ? { stsEndpointUrl: flags.stsEndpointUrl } : {}),
      rate,
      concurrency,
      ...(runFile ? { runFile } : {}),
      resume: flags.resume !== undefined,
      dryRun: flags.dryRun,
      ...(placeholders ? { placeholders } : {}),
      toolVersion: version,
      signal: controller.signal,
      onProgress: (p) => {
        if (!bar) return;
        if (p.done === 1) bar.start(p.total, 0, { operation: "" });
        bar.update(p.done, { operation: safeText(`${p.service}.${p.operation}`) });
      },
      onDryRun: (line) => {
        out.write(
          `${line.seq}\t${safeText(`${line.service}.${line.operation}`)}\t${safeText(line.region)}\t${safeText(line.sessionName)}\t${safeText(line.method)} ${safeText(line.url)}\n`,
        );
        for (const [k, v] of Object.entries(line.headers))
          if (k !== "user-agent") out.write(`\t${safeText(k)}: ${safeText(v)}\n`);
        if (line.body !== undefined && line.body !== "") out.write(`\t${safeText(line.body)}\n`);
      },
    });
    bar?.stop();
    if (flags.dryRun) {
      process.stderr.write(`trailblazer: dry run, ${summary.total - summary.skipped} requests built, none sent\n`);
      return 0;
    }
    const outcomes = Object.entries(summary.byOutcome)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    const statuses = Object.entries(summary.byStatus)
      .map(([k, v]) => `${k}×${v}`)
      .join(" ");
    process.stderr.write(
      `trailblazer: run ${summary.runId} → ${safeText(summary.runFile)}: ${summary.total} operations, ${summary.skipped} already done, ` +
        `${outcomes || "nothing sent"}${statuses ? ` (HTTP ${statuses})` : ""}\n`,
    );
    if (summary.stopped) {
      process.stderr.write(`trailblazer: stopped early; continue with --resume ${safeText(summary.runFile)}\n`);
      return 1;
    }
    const answered = summary.byOutcome.answered ?? 0;
    return answered === 0 && summary.total > summary.skipped ? 1 : 0;
  } finally {
    bar?.stop();
    process.off("SIGINT", onSigint);
  }
}

async function mapCommand(runFile: string, logs: string[], flags: MapFlags, out: Output): Promise<number> {
  const { writeFileSync } = await import("node:fs");
  const { readRunFile } = await import("../trailblazer/run-file.js");
  const { RunMatcher, renderMappingText } = await import("../trailblazer/mapper.js");
  const { readLogs } = await import("../sources/read.js");
  const run = readRunFile(runFile);
  const matcher = new RunMatcher(run);
  let problems = 0;
  for await (const object of readLogs(logs)) {
    for (const p of object.problems) {
      problems++;
      process.stderr.write(`trailblazer map: ${safeText(p.message)}\n`);
    }
    for (const record of object.records) matcher.add(record);
  }
  const mapping = matcher.result();
  const json = flags.format === "json" || flags.json === true;
  let text: string;
  if (flags.diff) {
    const { diffMappings, loadMapping, renderDiffText } = await import("../trailblazer/diff.js");
    const diff = diffMappings(loadMapping(flags.diff), mapping);
    text = json ? `${JSON.stringify(diff, null, 2)}\n` : renderDiffText(diff);
  } else {
    text = json
      ? `${JSON.stringify(mapping, null, 2)}\n`
      : renderMappingText(mapping, { onlyInteresting: flags.interesting });
  }
  if (flags.output) writeFileSync(flags.output, text);
  else out.write(text);
  if (problems > 0) process.stderr.write(`trailblazer map: ${problems} problem(s) reading the logs\n`);
  return 0;
}

async function replayRecordCommand(logs: string[], flags: ReplayRecordFlags, out: Output): Promise<number> {
  const { UsageError } = await import("../errors.js");
  if (!flags.principal) throw new UsageError("E_USAGE", "trailblazer replay record: --principal is required");
  const { writeFileSync } = await import("node:fs");
  const { loadCatalog } = await import("../trailblazer/catalog.js");
  const { recordChain } = await import("../trailblazer/replay.js");
  const { readLogs } = await import("../sources/read.js");
  async function* records(): AsyncGenerator<import("../cloudtrail/record.js").CloudTrailRecord> {
    for await (const object of readLogs(logs)) {
      for (const p of object.problems) process.stderr.write(`trailblazer replay: ${safeText(p.message)}\n`);
      yield* object.records;
    }
  }
  const chain = await recordChain(loadCatalog(), flags.principal, records());
  const text = `${JSON.stringify(chain, null, 2)}\n`;
  if (flags.output) writeFileSync(flags.output, text);
  else out.write(text);
  const unresolved = chain.steps.filter((s) => s.operation === undefined).length;
  process.stderr.write(
    `trailblazer replay: ${chain.steps.length} steps recorded, ${unresolved} not matched to a catalog operation\n`,
  );
  return chain.steps.length > 0 ? 0 : 1;
}

async function replayRunCommand(chainPath: string, flags: ReplayRunFlags, out: Output): Promise<number> {
  const { readFileSync } = await import("node:fs");
  const { UsageError } = await import("../errors.js");
  const { loadCatalog } = await import("../trailblazer/catalog.js");
  const { parseChain, replayChain } = await import("../trailblazer/replay.js");
  const { newRunId, USER_AGENT_PRODUCT } = await import("../trailblazer/session-name.js");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(chainPath, "utf8"));
  } catch (error) {
    throw new UsageError("E_USAGE", `cannot read chain ${chainPath}: ${(error as Error).message}`);
  }
  const chain = parseChain(raw, chainPath);
  const speedValue = await positiveNumber(flags.speed, "--speed", true);
  const speed = speedValue === 0 ? Number.POSITIVE_INFINITY : speedValue;
  const placeholders = await parsePlaceholders(flags.placeholder);
  const accountId = /^arn:[^:]+:[^:]+::(\d{12}):/.exec(chain.principal)?.[1] ?? "123456789012";
  let credentials = {
    accessKeyId: "DRYRUNKEY",
    secretAccessKey: "dry-run",
  } as import("../trailblazer/signer.js").SigningCredentials;
  if (!flags.dryRun) {
    const { STSClient } = await import("@aws-sdk/client-sts");
    // The STS client only resolves the default credential chain here; it sends nothing.
    const client = new STSClient({ region: flags.region });
    const resolved = await client.config.credentials();
    client.destroy();
    credentials = {
      accessKeyId: resolved.accessKeyId,
      secretAccessKey: resolved.secretAccessKey,
      ...(resolved.sessionToken ? { sessionToken: resolved.sessionToken } : {}),
    };
  }
  const replayId = newRunId();
  const results = await replayChain({
    catalog: loadCatalog(),
    chain,
    credentials,
    region: flags.region,
    accountId,
    ...(flags.endpointUrl ? { endpointUrl: flags.endpointUrl } : {}),
    speed,
    allowWrites: flags.allowWrites,
    dryRun: flags.dryRun,
    userAgent: `${USER_AGENT_PRODUCT}/${await toolVersion()} replay/${replayId}`,
    ...(placeholders ? { placeholders } : {}),
    onStep: (r) => {
      const what =
        r.step.service && r.step.operation
          ? `${r.step.service}.${r.step.operation}`
          : `${r.step.eventSource} ${r.step.eventName}`;
      const detail =
        r.outcome === "sent"
          ? `${r.status ?? "?"} ${r.errorCode ?? "OK"}`
          : r.outcome === "dry-run"
            ? `${r.method} ${r.url}`
            : r.outcome === "network-error"
              ? (r.error ?? "")
              : "";
      out.write(`${r.index + 1}\t${safeText(what)}\t${r.outcome}\t${safeText(detail)}\n`);
    },
  });
  const failed = results.filter((r) => r.outcome === "network-error").length;
  process.stderr.write(`trailblazer replay: ${results.length} steps, user agent marker replay/${replayId}\n`);
  return failed > 0 ? 1 : 0;
}
