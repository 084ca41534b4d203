/**
 * `firstcall trailblazer …`: learn which AWS API calls CloudTrail logs, and as what.
 * Subcommands: catalog, run, map, replay (record | run). This file parses the flags and prints; what
 * the commands do is in src/trailblazer/commands.ts, imported inside the actions so that the CLI
 * starts fast.
 */
import type { Command } from "commander";
import { safeText } from "../safe-text.js";
import type { Output } from "../trailblazer/commands.js";
import { type CommandSpec, commandFromSpec, formatOption } from "./options.js";

const servicesOption = {
  flags: "--services <list>",
  description: "comma-separated service ids (ec2,iam,s3…), endpoint prefixes or signing names",
} as const;
const profileOption = {
  flags: "--profile <name>",
  description: "AWS profile for credentials and region",
  defaultText: "$AWS_PROFILE, else the SDK's default chain",
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
    profileOption,
    {
      flags: "--region <region>",
      description: "region for regional services (global ones go to their home region)",
      defaultText: "$AWS_REGION, $AWS_DEFAULT_REGION, the profile's region",
    },
    servicesOption,
    {
      flags: "--endpoint-url <url>",
      description: "send every request (and AssumeRole) here instead of AWS",
      defaultText: "$AWS_ENDPOINT_URL",
    },
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
    "Replays a chain with the credentials of the profile or the environment (AWS SDK default chain), keeping its timing. Operations that do not look read-only are skipped unless --allow-writes.",
  options: [
    profileOption,
    {
      flags: "--region <region>",
      description: "region for steps recorded without one",
      defaultText: "$AWS_REGION, $AWS_DEFAULT_REGION, the profile's region, else us-east-1",
    },
    {
      flags: "--endpoint-url <url>",
      description: "send the requests here instead of AWS",
      defaultText: "$AWS_ENDPOINT_URL",
    },
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
  profile?: string;
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
  profile?: string;
  region?: string;
  endpointUrl?: string;
  speed: string;
  allowWrites: boolean;
  dryRun: boolean;
  placeholder?: string[];
}

/** Where command output goes: stdout, or a buffer in tests. */
export type { Output };

/** Adds `trailblazer` and its subcommands to the program. */
export function registerTrailblazer(program: Command, out: Output = process.stdout): void {
  const tb = program
    .command("trailblazer")
    .description("Learn which AWS API calls CloudTrail logs, and as what (see docs/trailblazer.md).");
  commandFromSpec(tb, trailblazerCatalogSpec).action(async (flags: CatalogFlags) => {
    program.setOptionValue("exitCode", await catalogCommand(flags, out));
  });
  commandFromSpec(tb, trailblazerRunSpec).action(async (flags: RunFlags) => {
    program.setOptionValue("exitCode", await runCommand(flags, out));
  });
  commandFromSpec(tb, trailblazerMapSpec).action(async (runFile: string, logs: string[], flags: MapFlags) => {
    program.setOptionValue("exitCode", await mapCommand(runFile, logs, flags, out));
  });
  const replay = tb
    .command("replay")
    .description("Attack simulation: record a principal's calls from CloudTrail, replay them.");
  commandFromSpec(replay, trailblazerReplayRecordSpec).action(async (logs: string[], flags: ReplayRecordFlags) => {
    program.setOptionValue("exitCode", await replayRecordCommand(logs, flags, out));
  });
  commandFromSpec(replay, trailblazerReplayRunSpec).action(async (chain: string, flags: ReplayRunFlags) => {
    program.setOptionValue("exitCode", await replayRunCommand(chain, flags, out));
  });
}

const stderrLine = (prefix: string) => (line: string) => process.stderr.write(`${prefix}: ${line}\n`);

async function catalogCommand(flags: CatalogFlags, out: Output): Promise<number> {
  const { catalogReport } = await import("../trailblazer/commands.js");
  out.write(catalogReport({ ...flags, json: flags.format === "json" || flags.json === true }));
  return 0;
}

async function runCommand(flags: RunFlags, out: Output): Promise<number> {
  const tb = await import("../trailblazer/commands.js");
  const rate = tb.parseNonNegative(flags.rate, "--rate", true);
  const concurrency = tb.parseNonNegative(flags.concurrency, "--concurrency", false);
  const placeholders = tb.parsePlaceholders(flags.placeholder);

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
  try {
    const summary = await tb.runCommand(
      {
        ...flags,
        rate,
        concurrency,
        ...(placeholders ? { placeholders } : {}),
        signal: controller.signal,
        onProgress: (p) => {
          if (!bar) return;
          if (p.done === 1) bar.start(p.total, 0, { operation: "" });
          bar.update(p.done, { operation: safeText(`${p.service}.${p.operation}`) });
        },
      },
      out,
      stderrLine("trailblazer"),
    );
    bar?.stop();
    const outcome = tb.runOutcome(summary, flags.dryRun);
    for (const line of outcome.lines) process.stderr.write(`${line}\n`);
    return outcome.exitCode;
  } finally {
    bar?.stop();
    process.off("SIGINT", onSigint);
  }
}

async function mapCommand(runFile: string, logs: string[], flags: MapFlags, out: Output): Promise<number> {
  const tb = await import("../trailblazer/commands.js");
  const { text, problems } = await tb.mapCommand(
    runFile,
    logs,
    { ...flags, json: flags.format === "json" || flags.json === true },
    stderrLine("trailblazer map"),
  );
  tb.writeTo(flags.output, text, out);
  if (problems > 0) process.stderr.write(`trailblazer map: ${problems} problem(s) reading the logs\n`);
  return 0;
}

async function replayRecordCommand(logs: string[], flags: ReplayRecordFlags, out: Output): Promise<number> {
  const tb = await import("../trailblazer/commands.js");
  const chain = await tb.replayRecordCommand(logs, flags.principal, stderrLine("trailblazer replay"));
  tb.writeTo(flags.output, `${JSON.stringify(chain, null, 2)}\n`, out);
  const unresolved = chain.steps.filter((s) => s.operation === undefined).length;
  process.stderr.write(
    `trailblazer replay: ${chain.steps.length} steps recorded, ${unresolved} not matched to a catalog operation\n`,
  );
  return chain.steps.length > 0 ? 0 : 1;
}

async function replayRunCommand(chainPath: string, flags: ReplayRunFlags, out: Output): Promise<number> {
  const tb = await import("../trailblazer/commands.js");
  const placeholders = tb.parsePlaceholders(flags.placeholder);
  const { results, replayId } = await tb.replayRunCommand(
    chainPath,
    {
      ...flags,
      speed: tb.parseNonNegative(flags.speed, "--speed", true),
      ...(placeholders ? { placeholders } : {}),
    },
    out,
    stderrLine("trailblazer replay"),
  );
  const failed = results.filter((r) => r.outcome === "network-error").length;
  process.stderr.write(`trailblazer replay: ${results.length} steps, user agent marker replay/${replayId}\n`);
  return failed > 0 ? 1 : 0;
}
