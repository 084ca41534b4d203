/**
 * `scan --format ocsf|asff|csv|html` end to end: the real CLI over testdata/sample, each output read
 * back and checked (OCSF against the generated schema with ajv, ASFF against Security Hub's limits).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { AwsSecurityFinding } from "@aws-sdk/client-securityhub";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { DETECTION_FINDING_SCHEMA_PATH } from "../findings/ocsf/json-schema.js";
import { asffProblems } from "../test-helpers/asff-limits.js";
import { runCli } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";

const scratchDir = scratchDirs();
const SAMPLE = "testdata/sample";
const scan = (...args: string[]) => runCli(["scan", SAMPLE, "--state", ":memory:", "--quiet", ...args]);

describe("scan --format", () => {
  test("ocsf: one Detection Finding per line, each valid against the generated schema", () => {
    const r = scan("--format", "ocsf");
    assert.equal(r.status, 1, r.stderr);
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(DETECTION_FINDING_SCHEMA_PATH, "utf8")));
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(events.length, 4);
    for (const e of events) assert.ok(validate(e), JSON.stringify(validate.errors));
    assert.deepEqual(new Set(events.map((e) => e.class_uid)), new Set([2004]));
  });

  test("asff with the importing Region and account: an array Security Hub accepts", () => {
    const r = scan("--format", "asff", "--asff-region", "eu-west-1", "--asff-account", "444455556666");
    assert.equal(r.status, 1, r.stderr);
    const findings = JSON.parse(r.stdout) as AwsSecurityFinding[];
    assert.equal(findings.length, 4);
    for (const f of findings) {
      assert.deepEqual(asffProblems(f), []);
      assert.equal(f.ProductArn, "arn:aws:securityhub:eu-west-1:444455556666:product/444455556666/default");
    }
  });

  test("csv to stdout, and appended to --output by two runs: one header", () => {
    const r = scan("--format", "csv");
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.split("\r\n");
    assert.equal(lines.length, 6, "header, four rows, the end");
    assert.match(lines[0] ?? "", /^id,status,severity,rule,/);
    const file = join(scratchDir(), "findings.csv");
    for (let run = 0; run < 2; run++) assert.equal(scan("--format", "csv", "--output", file).status, 1);
    const written = readFileSync(file, "utf8").split("\r\n");
    assert.equal(written.filter((l) => l.startsWith("id,status,")).length, 1);
    assert.equal(written.length, 1 + 8 + 1);
    // --all prints the stored findings whole: the header too.
    const state = join(scratchDir(), "state.sqlite");
    assert.equal(runCli(["scan", SAMPLE, "--state", state, "--format", "csv", "-q"]).status, 1);
    const all = runCli(["scan", SAMPLE, "--state", state, "--format", "csv", "--all", "-q"]);
    assert.equal(all.status, 1, all.stderr);
    const allLines = all.stdout.split("\r\n");
    assert.match(allLines[0] ?? "", /^id,status,/);
    assert.equal(allLines.length, 6);
  });

  test("html: one page on stdout; a document cannot be appended to --output; --asff-* only with asff", () => {
    const r = scan("--format", "html");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^<!doctype html>\n/);
    assert.equal((r.stdout.match(/<tr id="f\d+">/g) ?? []).length, 4);
    const toFile = scan("--format", "html", "--output", join(scratchDir(), "x.html"));
    assert.equal(toFile.status, 2);
    assert.match(toFile.stderr, /--format html is one document and cannot be appended to --output/);
    const misplaced = scan("--format", "json", "--asff-region", "eu-west-1");
    assert.equal(misplaced.status, 2);
    assert.match(misplaced.stderr, /--asff-region and --asff-account go with --format asff/);
    const badRegion = scan("--format", "asff", "--asff-region", "mars");
    assert.equal(badRegion.status, 2);
    assert.match(badRegion.stderr, /--asff-region: not an AWS Region: mars/);
  });
});
