import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { runCli } from "../test-helpers/cli.js";
import { ImdsPosture, type ImdsPostureReport } from "./imds-posture.js";

const ACCOUNT = "111122223333";
let seq = 0;

function ec2(
  eventName: string,
  time: string,
  requestParameters: unknown,
  responseElements: unknown = null,
  extra: Partial<CloudTrailRecord> = {},
): CloudTrailRecord {
  return {
    eventVersion: "1.09",
    eventTime: time,
    eventSource: "ec2.amazonaws.com",
    eventName,
    eventID: `00000000-0000-4000-8000-${String(++seq).padStart(12, "0")}`,
    awsRegion: "eu-west-1",
    recipientAccountId: ACCOUNT,
    sourceIPAddress: "203.0.113.10",
    userIdentity: { type: "IAMUser", accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ops` },
    requestParameters: requestParameters as Record<string, unknown>,
    responseElements: responseElements as Record<string, unknown> | null,
    ...extra,
  };
}

/** A call made with an instance's role credentials, delivered by IMDS version `delivery`. */
function instanceCall(
  instanceId: string,
  time: string,
  delivery: "1.0" | "2.0",
  extra: Partial<CloudTrailRecord> = {},
): CloudTrailRecord {
  return {
    eventVersion: "1.09",
    eventTime: time,
    eventSource: "s3.amazonaws.com",
    eventName: "ListBuckets",
    eventID: `00000000-0000-4000-9000-${String(++seq).padStart(12, "0")}`,
    awsRegion: "eu-west-1",
    recipientAccountId: ACCOUNT,
    sourceIPAddress: "198.51.100.4",
    userAgent: "aws-cli/1.18.0 Python/3.7 Linux/4.14 botocore/1.15.0",
    userIdentity: {
      type: "AssumedRole",
      accountId: ACCOUNT,
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/${instanceId}`,
      accessKeyId: "ASIAEXAMPLEEXAMPLE01",
      sessionContext: {
        sessionIssuer: { type: "Role", arn: `arn:aws:iam::${ACCOUNT}:role/app-role`, userName: "app-role" },
        ec2RoleDelivery: delivery,
      },
    },
    ...extra,
  };
}

function launch(
  instanceId: string,
  time: string,
  request: Record<string, unknown>,
  granted?: Record<string, unknown>,
): CloudTrailRecord {
  return ec2(
    "RunInstances",
    time,
    { instancesSet: { items: [{ imageId: "ami-0abcdef1234567890", minCount: 1, maxCount: 1 }] }, ...request },
    {
      instancesSet: { items: [{ instanceId, ...(granted ? { metadataOptions: granted } : {}) }] },
    },
  );
}

function report(records: readonly CloudTrailRecord[]): ImdsPostureReport {
  const p = new ImdsPosture();
  for (const r of records) p.add(r);
  return p.report();
}

function instance(r: ImdsPostureReport, id: string) {
  const i = r.instances.find((x) => x.instanceId === id);
  assert.ok(i, `no report for ${id}`);
  return i;
}

describe("ImdsPosture", () => {
  test("an instance whose credentials IMDSv1 delivered is in use, with the command that fixes it", () => {
    const r = report([
      launch("i-0aaa0000000000000", "2026-11-01T00:00:00Z", {}),
      instanceCall("i-0aaa0000000000000", "2026-11-01T00:05:00Z", "1.0"),
      instanceCall("i-0aaa0000000000000", "2026-11-01T00:06:00Z", "2.0"),
    ]);
    const i = instance(r, "i-0aaa0000000000000");
    assert.equal(i.status, "imdsv1-in-use");
    assert.deepEqual(i.deliveries, { imdsv1: 1, imdsv2: 1, lastImdsv1: "2026-11-01T00:05:00Z" });
    assert.deepEqual(i.remediation, [
      "aws ec2 modify-instance-metadata-options --region eu-west-1 --instance-id i-0aaa0000000000000 --http-tokens required --http-endpoint enabled",
    ]);
    assert.deepEqual(r.roles, [
      {
        role: "app-role",
        instances: ["i-0aaa0000000000000"],
        imdsv1Instances: ["i-0aaa0000000000000"],
        imdsv1Deliveries: 1,
        imdsv2Deliveries: 1,
      },
    ]);
  });

  test("launched with tokens optional is IMDSv1 allowed; a later ModifyInstanceMetadataOptions makes it IMDSv2 only, whatever the order", () => {
    const records = [
      launch("i-0bbb0000000000000", "2026-11-01T00:00:00Z", {
        metadataOptions: { httpTokens: "optional", httpPutResponseHopLimit: 1, httpEndpoint: "enabled" },
      }),
      // CloudTrail's shape for this API: the request wrapped in ModifyInstanceMetadataOptionsRequest, PascalCase.
      ec2("ModifyInstanceMetadataOptions", "2026-11-02T00:00:00Z", {
        ModifyInstanceMetadataOptionsRequest: { InstanceId: "i-0bbb0000000000000", HttpTokens: "required" },
      }),
    ];
    assert.equal(instance(report(records.slice(0, 1)), "i-0bbb0000000000000").status, "imdsv1-allowed");
    const forward = report(records);
    assert.equal(instance(forward, "i-0bbb0000000000000").status, "imdsv2-required");
    assert.deepEqual(instance(forward, "i-0bbb0000000000000").httpTokens, {
      value: "required",
      by: "ModifyInstanceMetadataOptions",
      time: "2026-11-02T00:00:00Z",
    });
    assert.deepEqual(
      report([...records].reverse()),
      forward,
      "the latest call wins by event time, not by reading order",
    );
  });

  test("a failed ModifyInstanceMetadataOptions changes nothing", () => {
    const r = report([
      launch("i-0ccc0000000000000", "2026-11-01T00:00:00Z", { metadataOptions: { httpTokens: "optional" } }),
      ec2(
        "ModifyInstanceMetadataOptions",
        "2026-11-02T00:00:00Z",
        { ModifyInstanceMetadataOptionsRequest: { InstanceId: "i-0ccc0000000000000", HttpTokens: "required" } },
        null,
        {
          errorCode: "Client.UnauthorizedOperation",
        },
      ),
    ]);
    assert.equal(instance(r, "i-0ccc0000000000000").status, "imdsv1-allowed");
  });

  test("IMDSv1 deliveries before tokens were required are history, not current use (the legitimate look-alike)", () => {
    const r = report([
      launch("i-0ddd0000000000000", "2026-11-01T00:00:00Z", {}),
      instanceCall("i-0ddd0000000000000", "2026-11-01T01:00:00Z", "1.0"),
      ec2("ModifyInstanceMetadataOptions", "2026-11-01T02:00:00Z", {
        ModifyInstanceMetadataOptionsRequest: { InstanceId: "i-0ddd0000000000000", HttpTokens: "required" },
      }),
      instanceCall("i-0ddd0000000000000", "2026-11-01T03:00:00Z", "2.0"),
    ]);
    const i = instance(r, "i-0ddd0000000000000");
    assert.equal(i.status, "imdsv2-required");
    assert.deepEqual(i.remediation, []);
    assert.match(i.notes.join("\n"), /before IMDSv2 was required/);
  });

  test("the response's metadata options win over the request's (they include the template and defaults)", () => {
    const r = report([
      launch(
        "i-0eee0000000000000",
        "2026-11-01T00:00:00Z",
        {},
        { state: "pending", httpTokens: "required", httpPutResponseHopLimit: 2, httpEndpoint: "enabled" },
      ),
    ]);
    const i = instance(r, "i-0eee0000000000000");
    assert.equal(i.status, "imdsv2-required");
    assert.equal(i.hopLimit?.value, 2);
    // Hop limit 2 with no sign of containers: the fix brings it back to 1.
    assert.deepEqual(i.remediation, [
      "aws ec2 modify-instance-metadata-options --region eu-west-1 --instance-id i-0eee0000000000000 --http-put-response-hop-limit 1",
    ]);
  });

  test("hop limit 2 where the ECS agent runs is explained, not 'fixed' to 1", () => {
    const r = report([
      launch("i-0fff0000000000000", "2026-11-01T00:00:00Z", {
        metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 },
      }),
      instanceCall("i-0fff0000000000000", "2026-11-01T00:01:00Z", "2.0", {
        eventSource: "ecs.amazonaws.com",
        eventName: "RegisterContainerInstance",
      }),
    ]);
    const i = instance(r, "i-0fff0000000000000");
    assert.equal(i.containers, "ECS agent (RegisterContainerInstance)");
    assert.deepEqual(i.remediation, []);
    assert.match(i.notes.join("\n"), /hop limit 2: containers on it/);
  });

  test("a launch template's setting applies when the launch says nothing, and the template gets its own fix", () => {
    const r = report([
      ec2(
        "CreateLaunchTemplate",
        "2026-10-01T00:00:00Z",
        {
          CreateLaunchTemplateRequest: {
            LaunchTemplateName: "web",
            LaunchTemplateData: { MetadataOptions: { HttpTokens: "optional" } },
          },
        },
        {
          CreateLaunchTemplateResponse: {
            launchTemplate: {
              launchTemplateId: "lt-0123456789abcdef0",
              launchTemplateName: "web",
              latestVersionNumber: 1,
            },
          },
        },
      ),
      launch("i-09990000000000000", "2026-11-01T00:00:00Z", {
        launchTemplate: { launchTemplateId: "lt-0123456789abcdef0", version: "1" },
      }),
    ]);
    const i = instance(r, "i-09990000000000000");
    assert.equal(i.status, "imdsv1-allowed");
    assert.equal(i.launchTemplate, "lt-0123456789abcdef0:1");
    assert.match(i.httpTokens?.by ?? "", /launch template lt-0123456789abcdef0/);
    assert.equal(r.launchTemplates.length, 1);
    assert.equal(r.launchTemplates[0]?.httpTokens, "optional");
    assert.match(
      r.launchTemplates[0]?.remediation[0] ?? "",
      /create-launch-template-version --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --source-version 1/,
    );
  });

  test("an account default that requires IMDSv2 needs no fix; without one, the fix is offered where instances allow IMDSv1", () => {
    const allowed = launch("i-0abc0000000000000", "2026-11-01T00:00:00Z", {
      metadataOptions: { httpTokens: "optional" },
    });
    assert.deepEqual(report([allowed]).accountDefaults, [
      {
        account: ACCOUNT,
        region: "eu-west-1",
        httpTokens: null,
        remediation: [
          "aws ec2 modify-instance-metadata-defaults --region eu-west-1 --http-tokens required --http-put-response-hop-limit 2",
        ],
      },
    ]);
    const withDefault = report([
      allowed,
      ec2("ModifyInstanceMetadataDefaults", "2026-11-03T00:00:00Z", {
        ModifyInstanceMetadataDefaultsRequest: { HttpTokens: "required" },
      }),
    ]);
    assert.deepEqual(withDefault.accountDefaults[0]?.remediation, []);
    assert.equal(withDefault.accountDefaults[0]?.httpTokens, "required");
  });

  test("an instance seen only through IMDSv2 deliveries is unknown: v2 use does not show v1 is off", () => {
    const r = report([instanceCall("i-01230000000000000", "2026-11-01T00:00:00Z", "2.0")]);
    assert.equal(instance(r, "i-01230000000000000").status, "unknown");
  });
});

describe("firstcall imds report", () => {
  test("on the sample: the instance whose credentials IMDSv1 delivered, exit 1, as JSON", () => {
    const run = runCli(["imds", "report", "testdata/sample", "--format", "json"]);
    assert.equal(run.status, 1, run.stderr);
    const out = JSON.parse(run.stdout) as ImdsPostureReport & { objects: number };
    assert.equal(out.objects, 66, "the sample's 67 files less its digest file");
    const inUse = out.instances.filter((i) => i.status === "imdsv1-in-use").map((i) => i.instanceId);
    assert.deepEqual(inUse, ["i-0a1b2c3d4e5f60003"]);
    assert.ok(out.instances.every((i) => i.roles.includes("web-server")));
  });

  test("a path with no logs exits 3 and says so", () => {
    const run = runCli(["imds", "report", "docs"]);
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /no CloudTrail log was found/);
  });
});
