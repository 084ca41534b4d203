/**
 * Round trips: a policy generated from logs, then tested on the same logs, denies no legitimate call
 * and denies the stolen credential's calls from the thief's address. On the bundled sample through
 * the CLI, and on a small simulated fleet through the library with its ground truth.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseConfig } from "../config/config.js";
import { judgeWithTruth, OUTSIDE_NETWORKS } from "../simulate/policy-truth.js";
import { simulate } from "../simulate/simulate.js";
import { readTruth } from "../simulate/truth.js";
import { runCli } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { generatePolicies, policySize } from "./generate.js";
import { parsePolicy } from "./iam-eval.js";
import { detect, readRoleCalls } from "./learn.js";
import { formatPolicyTestText, testPolicy } from "./policy-test.js";

const scratchDir = scratchDirs();

test("sample: generate then test on the same logs — the laptop's calls denied, nothing legitimate", (t) => {
  const out = scratchDir();
  const gen = runCli(["policy", "generate", "testdata/sample", "--out", out]);
  assert.equal(gen.status, 0, gen.stderr);
  for (const f of ["policy.json", "scp.json", "policy.md", "policy.tf", "policy.cfn.yaml"]) {
    assert.ok(readFileSync(join(out, f), "utf8").length > 0, f);
  }
  // Terraform heredocs interpolate ${…}: the SCP's policy variables must be escaped there.
  const tf = readFileSync(join(out, "policy.tf"), "utf8");
  assert.match(tf, /"\$\$\{aws:SourceVpc\}"/);
  assert.match(tf, /resource "aws_iam_policy"/);
  const cfn = readFileSync(join(out, "policy.cfn.yaml"), "utf8");
  assert.match(cfn, /Type: AWS::IAM::ManagedPolicy/);
  assert.match(cfn, /Version: "2012-10-17"/, "quoted: a YAML 1.1 reader would take it for a date");
  assert.match(readFileSync(join(out, "policy.md"), "utf8"), /185\.220\.101\.42.*flagged by detection/);

  const json = runCli(["policy", "test", join(out, "policy.json"), "testdata/sample", "--format", "json"]);
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.diagnostic(`sample, managed policy: ${JSON.stringify(report.counts)}`);
  assert.equal(report.counts.deniedLegitimate, 0);
  assert.equal(report.counts.deniedFlagged, 3, "the three calls from the laptop");
  assert.ok(report.deniedFlagged.every((g: { source: string }) => g.source === "185.220.101.42"));

  const scp = runCli(["policy", "test", join(out, "scp.json"), "testdata/sample", "--format", "json"]);
  assert.equal(scp.status, 0, scp.stderr);
  const scpReport = JSON.parse(scp.stdout);
  t.diagnostic(`sample, SCP: ${JSON.stringify(scpReport.counts)}`);
  assert.equal(scpReport.counts.deniedLegitimate, 0);
  assert.equal(scpReport.counts.deniedFlagged, 3);
});

test("sample: generate from a scan's state (its live sessions and stored findings)", () => {
  const dir = scratchDir();
  const state = join(dir, "state.sqlite");
  const scan = runCli(["scan", "testdata/sample", "--state", state, "--format", "jsonl"]);
  assert.equal(scan.status, 1, scan.stderr);
  const gen = runCli(["policy", "generate", "--state", state, "--role", "web-*"]);
  assert.equal(gen.status, 0, gen.stderr);
  const policy = JSON.parse(gen.stdout);
  const ips = policy.Statement[0].Condition.NotIpAddressIfExists["aws:SourceIp"] as string[];
  // The instances' addresses still live in the state; never the laptop's (an open finding).
  assert.ok(ips.includes("54.210.10.11/32"), ips.join(","));
  assert.ok(!ips.some((c) => c.startsWith("185.220.101.42")));
  assert.match(gen.stderr, /policy generate: 1 role\(s\)/);
  const both = runCli(["policy", "generate", "--state", state, "testdata/sample"]);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /not both/);
});

test("policy test exits 6 and names the calls when a policy would break production", () => {
  const dir = scratchDir();
  const path = join(dir, "narrow.json");
  // Only one of the fleet's addresses allowed: the others' calls are legitimate and would be denied.
  const narrow = {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OnlyOneAddress",
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: {
          NotIpAddressIfExists: { "aws:SourceIp": "54.210.10.11/32" },
          Null: { "aws:SourceVpce": "true" },
          BoolIfExists: { "aws:ViaAWSService": "false" },
        },
      },
    ],
  };
  writeFileSync(path, JSON.stringify(narrow));
  const r = runCli(["policy", "test", path, "testdata/sample"]);
  assert.equal(r.status, 6, r.stderr);
  assert.match(r.stdout, /WOULD BREAK PRODUCTION/);
  assert.match(r.stdout, /web-server {2}54\.210\.10\.12 {2}/);
  assert.match(r.stdout, /FAIL: \d+ legitimate call\(s\) would be denied/);
  const bad = join(dir, "bad.json");
  writeFileSync(bad, "{");
  const b = runCli(["policy", "test", bad, "testdata/sample"]);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /bad\.json: not JSON/);
});

test("simulated fleet: every theft from outside the fleet's networks denied, no legitimate call (policy test and truth agree)", async (t) => {
  const dir = scratchDir();
  // Every kind whose thief calls from outside the fleet's networks, ECS tasks, Lambda functions and
  // the thief who calls first included; SSRF and on-box recon come from the holder's own address.
  const sim = await simulate({
    outDir: dir,
    accounts: 1,
    regions: 2,
    instances: 24,
    hours: 4,
    seed: 11,
    attacks:
      "outside-aws:2,other-aws-account:2,attacker-vpc-endpoint:1,imdsv1-theft:1,attacker-first:3,ecs-task-theft:2,lambda-theft:2,ssrf-replay:1",
  });
  const config = parseConfig(readFileSync(join(dir, "firstcall.yaml"), "utf8"));
  const detection = await detect([dir], { config, ipRangesPath: join(dir, "ip-ranges.json") });
  const read = await readRoleCalls([dir]);
  const generated = generatePolicies({
    calls: read.calls,
    trail: read.trail,
    flagged: detection.flagged,
    openFindings: detection.openFindings,
    fleet: detection.fleet,
    ownNetworks: config.ownNetworks,
  });
  assert.ok(generated.managed.fits && generated.scp.fits);
  assert.ok(policySize(generated.managed.policy) <= 6144);
  const truth = readTruth(join(dir, "truth.jsonl"));
  const outside = truth.filter((i) => OUTSIDE_NETWORKS.has(i.attacker.network));
  for (const kind of ["attacker-first", "ecs-task-theft", "lambda-theft", "other-aws-account"] as const) {
    assert.ok(
      outside.some((i) => i.kind === kind),
      `the simulation has a ${kind} incident`,
    );
  }
  // The managed policy is attached to the roles it was generated for: by default every workload role,
  // so the ECS task and Lambda roles the thieves stole from among them.
  const attached = generated.roles.map((r) => r.arn);
  for (const i of outside)
    assert.ok(attached.includes(i.session.roleArn), `${i.id}: role ${i.session.roleArn} covered`);
  const managed = parsePolicy(JSON.parse(JSON.stringify(generated.managed.policy)), "managed");
  const report = testPolicy({
    policy: managed,
    policyName: "managed",
    calls: read.calls,
    trail: read.trail,
    flagged: detection.flagged,
    openFindings: detection.openFindings,
    roles: attached,
  });
  t.diagnostic(`simulated fleet (${sim.events} events), policy test: ${JSON.stringify(report.counts)}`);
  // What policy test says (by detection's flags) …
  assert.equal(report.counts.deniedLegitimate, 0, JSON.stringify(report.deniedLegitimate.slice(0, 3)));
  assert.equal(report.counts.unknown, 0);
  // … and what the ground truth says: every outside thief's call denied, no other call.
  const verdict = judgeWithTruth(managed, read.calls, read.trail, truth, attached);
  t.diagnostic(
    `truth: ${verdict.outsideDenied}/${verdict.outsideCalls} outside thefts' calls denied, ${verdict.legitimateDenied}/${verdict.legitimate} legitimate`,
  );
  assert.ok(verdict.outsideCalls >= 30);
  assert.equal(verdict.outsideDenied, verdict.outsideCalls);
  assert.equal(verdict.legitimateDenied, 0, verdict.legitimateDeniedExamples.join("; "));
  // Detection flagged the thieves' calls, so policy test counts them as stopped: all but the calls
  // of thieves who called first, which it reports apart (their address was the home).
  const firstCalls = verdict.byKind.get("attacker-first")?.calls ?? 0;
  assert.ok(firstCalls > 0);
  assert.equal(report.counts.deniedFlagged + report.counts.deniedSuspect, verdict.outsideDenied);
  // SSRF came from the instance's own address: no network policy can deny it (and this one does not).
  assert.equal(verdict.byKind.get("ssrf-replay")?.denied, 0);

  // The SCP covers instance credentials only (ec2:SourceInstanceARN): no legitimate call denied;
  // endpoint calls are unknown, and say which unrecorded keys make them so.
  const scp = parsePolicy(JSON.parse(JSON.stringify(generated.scp.policy)), "scp");
  const scpReport = testPolicy({
    policy: scp,
    policyName: "scp",
    calls: read.calls,
    trail: read.trail,
    flagged: detection.flagged,
    openFindings: detection.openFindings,
  });
  t.diagnostic(`SCP: ${JSON.stringify(scpReport.counts)} unknown keys ${JSON.stringify(scpReport.unknownKeys)}`);
  assert.equal(scpReport.counts.deniedLegitimate, 0);
  assert.equal(judgeWithTruth(scp, read.calls, read.trail, truth).legitimateDenied, 0);
  if (scpReport.counts.unknown > 0) {
    assert.ok(scpReport.unknown.every((g) => (g.unknownKeys ?? []).length > 0));
    assert.match(formatPolicyTestText(scpReport), /could not be judged/);
  }
});

test("public theft captures (only the thief's calls): nothing is learned from them, and all of them are denied", async (t) => {
  for (const dataset of ["testdata/otrf", "testdata/stratus-red-team"]) {
    const detection = await detect([dataset], { ipRanges: {} });
    const read = await readRoleCalls([dataset]);
    const generated = generatePolicies({
      calls: read.calls,
      trail: read.trail,
      flagged: detection.flagged,
      openFindings: detection.openFindings,
      fleet: detection.fleet,
      anyRole: true,
    });
    assert.deepEqual(generated.managed.cidrs, [], `${dataset}: the thief's address must not be learned`);
    const doc = parsePolicy(JSON.parse(JSON.stringify(generated.managed.policy)), dataset);
    const report = testPolicy({
      policy: doc,
      policyName: dataset,
      calls: read.calls,
      trail: read.trail,
      flagged: detection.flagged,
    });
    t.diagnostic(`${dataset}: ${JSON.stringify(report.counts)}`);
    assert.ok(report.counts.inScope > 0);
    assert.equal(report.counts.deniedFlagged, report.counts.inScope);
    assert.equal(report.counts.deniedLegitimate, 0);
  }
});
