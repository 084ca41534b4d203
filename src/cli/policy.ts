/** `firstcall policy generate` and `firstcall policy test`: flags and printing only (logic in src/prevention/). */
import type { Command } from "commander";
import { commandFromSpec } from "./options.js";
import { policyGenerateSpec, policyTestSpec } from "./policy-spec.js";

interface DetectionFlags {
  config?: string;
  ipRanges?: string;
}

interface GenerateFlags extends DetectionFlags {
  state?: string;
  role?: string[];
  anyRole?: boolean;
  name?: string;
  out?: string;
  emit: "policy" | "scp" | "markdown" | "terraform" | "cloudformation";
}

interface TestFlags extends DetectionFlags {
  role?: string[];
  format: "text" | "json";
}

async function detectionOptions(flags: DetectionFlags) {
  const { loadConfig, defaultConfig } = await import("../config/config.js");
  const config = flags.config ? loadConfig(flags.config) : defaultConfig();
  return { config, ...(flags.ipRanges ? { ipRangesPath: flags.ipRanges } : { ipRanges: {} }) };
}

/** Registers `policy generate` and `policy test` (options: src/cli/policy-spec.ts). */
export function registerPolicy(program: Command): void {
  const policy = program
    .command("policy")
    .description("Enforcement policies learned from the logs (generate) and checked against them (test).");

  commandFromSpec(policy, policyGenerateSpec).action(async (paths: string[], flags: GenerateFlags) => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { UsageError } = await import("../errors.js");
    const { EXIT } = await import("../exit-codes.js");
    const { safeLines } = await import("../safe-text.js");
    const { detect, readRoleCalls, readState } = await import("../prevention/learn.js");
    const { generatePolicies } = await import("../prevention/generate.js");
    const render = await import("../prevention/render.js");
    if (flags.state && paths.length > 0) throw new UsageError("E_USAGE", "give log paths or --state, not both");
    if (!flags.state && paths.length === 0) throw new UsageError("E_USAGE", "give log paths to learn from, or --state");
    const options = await detectionOptions(flags);
    let generated: ReturnType<typeof generatePolicies>;
    let problems = 0;
    const common = {
      ownNetworks: options.config.ownNetworks,
      ...(flags.role ? { roles: flags.role } : {}),
      ...(flags.anyRole ? { anyRole: true } : {}),
      ...(flags.name ? { name: flags.name } : {}),
    };
    if (flags.state) {
      const { existsSync } = await import("node:fs");
      if (!existsSync(flags.state)) throw new UsageError("E_USAGE", `--state ${flags.state}: no such file`);
      const s = await readState(flags.state);
      generated = generatePolicies({
        calls: s.calls,
        counts: s.counts,
        trail: s.trail,
        flagged: s.detection.flagged,
        openFindings: s.detection.openFindings,
        fleet: s.detection.fleet,
        ...common,
      });
    } else {
      const detection = await detect(paths, options);
      const read = await readRoleCalls(paths);
      problems = read.problems.length;
      for (const p of read.problems) process.stderr.write(safeLines(`firstcall: ${p.message}\n`));
      generated = generatePolicies({
        calls: read.calls,
        trail: read.trail,
        flagged: detection.flagged,
        openFindings: detection.openFindings,
        fleet: detection.fleet,
        ...common,
      });
    }
    const files = {
      "policy.json": render.renderManagedJson(generated),
      "scp.json": render.renderScpJson(generated),
      "policy.md": render.renderMarkdown(generated),
      "policy.tf": render.renderTerraform(generated),
      "policy.cfn.yaml": render.renderCloudFormation(generated),
    };
    if (flags.out) {
      mkdirSync(flags.out, { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(flags.out, name), text);
    } else {
      const pick = {
        policy: files["policy.json"],
        scp: files["scp.json"],
        markdown: files["policy.md"],
        terraform: files["policy.tf"],
        cloudformation: files["policy.cfn.yaml"],
      } as const;
      process.stdout.write(pick[flags.emit]);
    }
    const g = generated;
    const note = [
      `policy generate: ${g.roles.length} role(s), ${g.legitimateCalls} legitimate call(s); ${g.managed.cidrs.length} address block(s), ${g.endpoints.length} endpoint(s), ${g.vpcs.length} VPC(s)`,
      `managed policy ${g.managed.size}/${g.managed.limit} characters${g.managed.widenings.length ? `, ${g.managed.widenings.length} merge(s) widened it` : ""}; SCP ${g.scp.size}/${g.scp.limit}${g.scp.widenings.length ? `, ${g.scp.widenings.length} merge(s)` : ""}`,
      `left out: ${g.leftOut.reduce((n, l) => n + l.calls, 0)} call(s) (${g.leftOut.filter((l) => l.reason === "flagged").reduce((n, l) => n + l.calls, 0)} flagged by detection)${flags.out ? `; files in ${flags.out}` : ""}`,
    ];
    if (g.roles.length === 0)
      note.push("warning: no role matched: the policy denies every call of the roles you attach it to");
    for (const [what, p] of [
      ["managed policy", g.managed],
      ["SCP", g.scp],
    ] as const) {
      if (!p.fits)
        note.push(
          `warning: the ${what} does not fit IAM's limit (${p.size} > ${p.limit}): split the roles with --role`,
        );
    }
    process.stderr.write(safeLines(`${note.join("\n")}\n`));
    const exit = !g.managed.fits || !g.scp.fits ? EXIT.policyDenies : problems > 0 ? EXIT.input : EXIT.ok;
    program.setOptionValue("exitCode", exit);
  });

  commandFromSpec(policy, policyTestSpec).action(async (policyPath: string, paths: string[], flags: TestFlags) => {
    const { readFileSync } = await import("node:fs");
    const { UsageError } = await import("../errors.js");
    const { EXIT } = await import("../exit-codes.js");
    const { parsePolicy } = await import("../prevention/iam-eval.js");
    const { detect, readRoleCalls } = await import("../prevention/learn.js");
    const { formatPolicyTestText, testPolicy } = await import("../prevention/policy-test.js");
    let text: string;
    try {
      text = readFileSync(policyPath, "utf8");
    } catch (e) {
      throw new UsageError("E_USAGE", `${policyPath}: cannot read: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new UsageError("E_USAGE", `${policyPath}: not JSON: ${(e as Error).message}`);
    }
    const policyDoc = parsePolicy(json, policyPath);
    const options = await detectionOptions(flags);
    const detection = await detect(paths, options);
    const read = await readRoleCalls(paths);
    if (read.objects === 0 && read.problems.length === 0) {
      throw new UsageError("E_USAGE", `no CloudTrail log found in ${paths.join(", ")}`);
    }
    const report = testPolicy({
      policy: policyDoc,
      policyName: policyPath,
      calls: read.calls,
      trail: read.trail,
      flagged: detection.flagged,
      openFindings: detection.openFindings,
      ...(flags.role ? { roles: flags.role } : {}),
      problems: read.problems,
    });
    process.stdout.write(
      flags.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatPolicyTestText(report),
    );
    const exit =
      report.counts.deniedLegitimate > 0 ? EXIT.policyDenies : read.problems.length > 0 ? EXIT.input : EXIT.ok;
    program.setOptionValue("exitCode", exit);
  });
}
