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
import { simulate } from "../simulate/simulate.js";
import { readTruth } from "../simulate/truth.js";
import { runCli } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { contextOf } from "./calls.js";
import { generatePolicies, policySize } from "./generate.js";
import { evaluatePolicy, parsePolicy } from "./iam-eval.js";
import { detect, readRoleCalls } from "./learn.js";
import { testPolicy } from "./policy-test.js";

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

test("simulated fleet: every stolen call from outside the fleet denied, no legitimate call denied", async (t) => {
  const dir = scratchDir();
  const sim = await simulate({
    outDir: dir,
    accounts: 1,
    regions: 1,
    instances: 24,
    hours: 3,
    seed: 11,
    attacks: "outside-aws:3,other-aws-account:2,attacker-vpc-endpoint:1",
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
  // The managed policy is for the roles it was generated for; the SCP for every role.
  const attached = generated.roles.map((r) => r.arn);
  for (const [policy, roles] of [
    [generated.managed.policy, attached],
    [generated.scp.policy, ["*"]],
  ] as const) {
    const doc = parsePolicy(JSON.parse(JSON.stringify(policy)), "generated");
    const report = testPolicy({
      policy: doc,
      policyName: "generated",
      calls: read.calls,
      trail: read.trail,
      flagged: detection.flagged,
      roles,
    });
    t.diagnostic(`simulated fleet (${sim.events} events): ${JSON.stringify(report.counts)}`);
    assert.equal(report.counts.deniedLegitimate, 0, JSON.stringify(report.deniedLegitimate.slice(0, 3)));
  }
  // Ground truth: the thief's calls from outside the fleet's networks, found by session and address.
  const thefts = readTruth(join(dir, "truth.jsonl")).filter(
    (i) => i.attacker.network === "outside-aws" || i.attacker.network === "aws",
  );
  assert.ok(thefts.length >= 3);
  const managed = parsePolicy(JSON.parse(JSON.stringify(generated.managed.policy)), "managed");
  let stolen = 0;
  let denied = 0;
  for (const call of read.calls) {
    const theft = thefts.find((i) => i.session.arn === call.sessionArn && i.attacker.addresses.includes(call.source));
    if (!theft) continue;
    stolen++;
    if (evaluatePolicy(managed, contextOf(call, read.trail)).decision === "denied") denied++;
  }
  t.diagnostic(`stolen calls from outside the fleet: ${stolen}, denied by the managed policy: ${denied}`);
  assert.ok(stolen > 0);
  assert.equal(denied, stolen);
  assert.ok(policySize(generated.managed.policy) <= 6144);
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
