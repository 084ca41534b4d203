/**
 * The recon rule's built-in list of server software, and how user agents are matched: at the start
 * of the agent, so a thief cannot pass by appending a known name to his own agent. Each attack sits
 * next to the legitimate look-alike it imitates. Run through the real pipeline (in-memory store).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { scanRecords } from "../test-helpers/scan.js";
import { agentMatcher, DEFAULT_RECON_AGENTS } from "./rules/user-agents.js";

const I = "i-0fedcba9876543210";
const K = "ASIAKEYRECONAAAAAAA1";
const HOME = "52.95.255.121";

/** Real agents of the software on the built-in list, as CloudTrail records them. */
const LEGITIMATE = {
  authenticator: "aws-iam-authenticator/0.6.20 (linux; amd64)",
  authenticatorBare: "aws-iam-authenticator/v0.5.9",
  ssm: "aws-sdk-go/1.44.260 (go1.21.8; linux; amd64) amazon-ssm-agent/3.3.380.0",
  cloudwatch: "CWAgent/1.300034.1b536 (go1.21.8; linux; amd64) ip-10-0-1-12",
};

/** Thieves' tools with a known name appended (user_agent_extra, --user-agent-extra, AWS_SDK_UA_APP_ID). */
const BORROWED = {
  cliAppended:
    "aws-cli/2.15.58 Python/3.11.8 Linux/6.8.0-35-generic exe/x86_64.ubuntu.24 prompt/off command/sts.get-caller-identity aws-iam-authenticator",
  boto3Appended:
    "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9 Botocore/1.34.120 aws-iam-authenticator/0.6",
  boto3Ssm: "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#6.8.0 Botocore/1.34.120 amazon-ssm-agent/3.3.380.0",
  goSdkSsmThenMore: "aws-sdk-go/1.44.260 (go1.21.8; linux; amd64) amazon-ssm-agent/3.3.380.0 exfil/1.0",
  lookAlikeName: "aws-iam-authenticatorx/0.6.20",
  cwInMiddle: "python-requests/2.31.0 CWAgent/1.300034.1",
};

/** Each call from its own address, so that each agent gets its own finding (evidence keeps five agents). */
function getCallerIdentity(minute: number, userAgent: string) {
  return call(I, K, `52.95.255.${10 + minute}`, at(minute), {
    name: "GetCallerIdentity",
    source: "sts.amazonaws.com",
    userAgent,
  });
}

async function reconAgents(agents: readonly string[], yaml?: string): Promise<string[]> {
  const records = [
    ec2Issuance(I, K, at(0)),
    call(I, K, HOME, at(0)),
    ...agents.map((ua, i) => getCallerIdentity(1 + i, ua)),
  ];
  const { findings } = await scanRecords(records, { jobs: 0, ...(yaml !== undefined ? { yaml } : {}) });
  return findings
    .filter((f) => f.rule === "instance-credential-recon")
    .flatMap((f) => f.evidence.userAgents)
    .sort();
}

describe("recon rule: built-in server software", () => {
  test("EKS authenticator, SSM agent and CloudWatch agent calling GetCallerIdentity raise nothing", async () => {
    assert.deepEqual(await reconAgents(Object.values(LEGITIMATE)), []);
  });

  test("the same call from a thief's agent with a known name appended is reported, every one of them", async () => {
    assert.deepEqual(await reconAgents(Object.values(BORROWED)), Object.values(BORROWED).sort());
  });

  test("an unknown agent making the same call is still reported", async () => {
    const onBox =
      "aws-cli/2.15.58 Python/3.11.8 Linux/5.10.219-208.866.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/sts.get-caller-identity";
    assert.deepEqual(await reconAgents([onBox, LEGITIMATE.authenticator]), [onBox]);
  });

  test("recon.defaultAllowUserAgents: false turns the built-in list off; configured entries still apply", async () => {
    const off = await reconAgents(Object.values(LEGITIMATE), "recon: { defaultAllowUserAgents: false }");
    assert.deepEqual(off, Object.values(LEGITIMATE).sort());
    const onlyConfigured = await reconAgents(
      Object.values(LEGITIMATE),
      "recon: { defaultAllowUserAgents: false, allowUserAgents: ['aws-iam-authenticator/'] }",
    );
    assert.deepEqual(onlyConfigured, [LEGITIMATE.cloudwatch, LEGITIMATE.ssm].sort());
  });

  test("configured entries extend the list and match at the start only; /regex/ entries match as written", async () => {
    const inventory = "inventory-agent/2.1 (linux)";
    const borrowedInventory = "Boto3/1.34.120 Botocore/1.34.120 inventory-agent/2.1";
    const goApp = "aws-sdk-go/1.50.0 (go1.22; linux; amd64) inventory-agent/2.1";
    const yaml =
      "recon: { allowUserAgents: ['inventory-agent/', '/^aws-sdk-go\\/\\S+ \\([^()]*\\) inventory-agent\\/[\\d.]+$/'] }";
    const hits = await reconAgents([inventory, borrowedInventory, goApp, LEGITIMATE.authenticator], yaml);
    assert.deepEqual(hits, [borrowedInventory]);
  });
});

describe("user-agent matcher", () => {
  test("one pair of CloudTrail's surrounding brackets is ignored; nothing matches an empty agent", () => {
    const allowed = agentMatcher(["my-agent/"], DEFAULT_RECON_AGENTS);
    assert.equal(allowed(`[${LEGITIMATE.authenticator}]`), true);
    assert.equal(allowed("[my-agent/1.0]"), true);
    assert.equal(allowed("x[my-agent/1.0]"), false);
    assert.equal(allowed(""), false);
    assert.equal(allowed(undefined), false);
    assert.equal(agentMatcher([])("anything"), false);
  });

  test("allow.userAgents no longer matches a substring for the foreign-agent rule either", async () => {
    const mac = "aws-cli/2.16.4 Python/3.11.9 Darwin/23.5.0 exe/x86_64 prompt/off command/s3.cp my-inventory-agent/1";
    const own = "my-inventory-agent/1.4 Darwin/23.5.0";
    const records = [
      ec2Issuance(I, K, at(0)),
      call(I, K, HOME, at(1), { userAgent: mac }),
      call(I, K, HOME, at(2), { userAgent: own }),
    ];
    const { findings } = await scanRecords(records, {
      jobs: 0,
      yaml: "allow: { userAgents: ['my-inventory-agent/'] }",
    });
    const foreign = findings.filter((f) => f.rule === "instance-credential-foreign-agent");
    assert.deepEqual(
      foreign.flatMap((f) => f.evidence.userAgents),
      [mac],
    );
  });
});
