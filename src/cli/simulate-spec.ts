import { type CommandSpec, formatOption } from "./options.js";

/** The `simulate` command's options: the single source for its flags and its documentation. */
export const simulateSpec: CommandSpec = {
  name: "simulate",
  arguments: "",
  summary:
    "Write a simulated fleet's CloudTrail (S3 layout, gzipped, late and duplicate deliveries) with injected credential thefts, plus truth.jsonl, fleet.jsonl, firstcall.yaml and ip-ranges.json.",
  options: [
    { flags: "--out <dir>", description: "output directory", required: true },
    { flags: "--accounts <n>", description: "AWS accounts (1-16)", defaultValue: "3" },
    { flags: "--regions <n>", description: "regions (1-8)", defaultValue: "2" },
    {
      flags: "--instances <n>",
      description: "EC2 instances (ECS tasks and Lambda environments scale with it)",
      defaultValue: "500",
    },
    { flags: "--hours <n>", description: "length of the period", defaultValue: "12" },
    { flags: "--seed <n>", description: "seed: the same seed writes the same bytes", defaultValue: "7" },
    {
      flags: "--start <iso>",
      description: "start of the period (UTC, whole minute)",
      defaultValue: "2024-06-03T18:00:00Z",
    },
    {
      flags: "--attacks <list>",
      description:
        "all, none, or kind[:count],… (outside-aws, other-aws-account, attacker-vpc-endpoint, attacker-first, ssrf-replay, recon, imdsv1-theft, ecs-task-theft, lambda-theft)",
      defaultValue: "all",
    },
    {
      flags: "--per-kind <n>",
      description: "incidents per attack kind when the list gives no count",
      defaultValue: "3",
    },
    {
      flags: "--rate <n>",
      description: "application calls per workload-hour (instances add 12 SSM heartbeats)",
      defaultValue: "36",
    },
    {
      flags: "--org-trail",
      description: "write an organisation trail's layout (AWSLogs/o-…/ACCOUNT/…)",
      defaultValue: false,
    },
    { flags: "--gzip-level <n>", description: "gzip compression level", defaultValue: "6", hidden: true },
    { flags: "--force", description: "replace a simulation already in --out", defaultValue: false },
    { flags: "-q, --quiet", description: "no progress on stderr", defaultValue: false },
    formatOption(["text", "json"], "report format"),
  ],
  examples: [
    "firstcall simulate --out sim --accounts 3 --regions 2 --instances 500 --hours 12 --seed 7",
    "firstcall simulate --out sim --attacks outside-aws:5,recon --org-trail",
  ],
};
