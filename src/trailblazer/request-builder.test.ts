import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadCatalog } from "./catalog.js";
import type { CatalogService } from "./catalog-types.js";
import { DENY_ALL_POLICY, type PlaceholderContext, placeholderInput, placeholderString } from "./placeholders.js";
import { buildRequest, requestUrl, resolveEndpoint, type UnsignedRequest } from "./request-builder.js";
import { queryParams } from "./serializers.js";
import { parseAuthorization, signRequest, verifySignature } from "./signer.js";

const catalog = loadCatalog();

function build(serviceId: string, operation: string, region = "us-east-1", endpointUrl?: string): UnsignedRequest {
  const service = catalog.services[serviceId] as CatalogService;
  const op = service.operations[operation];
  assert.ok(op, `${serviceId}.${operation}`);
  const ctx: PlaceholderContext = { accountId: "123456789012", region, service: service.signingName };
  return buildRequest(service, op, placeholderInput(op.input, ctx), {
    endpoint: resolveEndpoint(service, region, endpointUrl),
    userAgent: "ua-test",
  });
}

function text(body: UnsignedRequest["body"]): string {
  return body === undefined ? "" : typeof body === "string" ? body : Buffer.from(body).toString("utf8");
}

describe("request builder", () => {
  it("query: form body with Action, Version and required members; global endpoint for IAM", () => {
    const r = build("iam", "CreateRole", "eu-west-1");
    assert.equal(r.method, "POST");
    assert.equal(r.hostname, "iam.amazonaws.com");
    assert.equal(r.path, "/");
    assert.equal(r.headers["content-type"], "application/x-www-form-urlencoded; charset=utf-8");
    const form = new URLSearchParams(text(r.body));
    assert.equal(form.get("Action"), "CreateRole");
    assert.equal(form.get("Version"), "2010-05-08");
    assert.equal(form.get("RoleName"), "firstcall-trailblazer");
    assert.equal(form.get("AssumeRolePolicyDocument"), DENY_ALL_POLICY);
  });

  it("query: lists as Name.member.N, or flattened under the member's name", () => {
    const shape = {
      type: "structure" as const,
      members: {
        Names: { type: "list" as const, member: { type: "string" as const } },
        Items: { type: "list" as const, flattened: true, member: { type: "string" as const, name: "Item" } },
        Tags: { type: "map" as const, key: { type: "string" as const }, value: { type: "string" as const } },
      },
    };
    const value = { Names: ["a", "b"], Items: ["x"], Tags: { k: "v" } };
    assert.deepEqual(queryParams(value, shape, "query"), [
      ["Names.member.1", "a"],
      ["Names.member.2", "b"],
      ["Item.1", "x"],
      ["Tags.entry.1.key", "k"],
      ["Tags.entry.1.value", "v"],
    ]);
    assert.deepEqual(queryParams({ Names: ["a"] }, shape, "ec2"), [["Names.1", "a"]]);
  });

  it("ec2: capitalised names, flat lists, instance-shaped ids", () => {
    const r = build("ec2", "TerminateInstances");
    assert.equal(r.hostname, "ec2.us-east-1.amazonaws.com");
    const form = new URLSearchParams(text(r.body));
    assert.equal(form.get("Action"), "TerminateInstances");
    assert.equal(form.get("InstanceId.1"), "i-0123456789abcdef0");
  });

  it("json: X-Amz-Target and JSON version from the model", () => {
    const r = build("dynamodb", "DescribeTable");
    assert.equal(r.headers["x-amz-target"], "DynamoDB_20120810.DescribeTable");
    assert.equal(r.headers["content-type"], "application/x-amz-json-1.0");
    assert.deepEqual(JSON.parse(text(r.body)), { TableName: "firstcall-trailblazer" });
    const kms = build("kms", "Decrypt");
    assert.equal(kms.headers["content-type"], "application/x-amz-json-1.1");
    assert.equal(typeof JSON.parse(text(kms.body)).CiphertextBlob, "string", "blobs are base64 in JSON");
  });

  it("rest-json: URI labels, query members and JSON body", () => {
    const r = build("lambda", "Invoke");
    assert.equal(r.method, "POST");
    assert.equal(r.path, "/2015-03-31/functions/firstcall-trailblazer/invocations");
    const del = build("lambda", "DeleteFunction");
    assert.equal(del.method, "DELETE");
    assert.equal(del.body, undefined);
  });

  it("rest-xml: greedy labels keep slashes, literal query from the URI, XML payload with namespace and Content-MD5", () => {
    const get = build("s3", "GetObject");
    assert.equal(get.method, "GET");
    assert.equal(get.path, "/firstcall-trailblazer-123456789012/firstcall-trailblazer/placeholder");
    assert.equal(get.hostname, "s3.us-east-1.amazonaws.com");
    const cors = build("s3", "PutBucketCors");
    assert.deepEqual(cors.query, { cors: "" });
    assert.match(
      text(cors.body),
      /^<CORSConfiguration xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><CORSRule><AllowedMethod>/,
    );
    assert.ok(cors.headers["content-md5"]);
    assert.match(requestUrl(cors), /\/firstcall-trailblazer-123456789012\?cors$/);
    const r53 = build("route53", "ChangeResourceRecordSets");
    assert.equal(r53.hostname, "route53.amazonaws.com");
    assert.match(
      text(r53.body),
      /^<ChangeResourceRecordSetsRequest xmlns="https:\/\/route53\.amazonaws\.com\/doc\/2013-04-01\/"><ChangeBatch>/,
    );
  });

  it("applies host prefixes on AWS endpoints, not on an explicit endpoint URL", () => {
    const onAws = build("s3control", "ListAccessPoints");
    assert.equal(onAws.hostname, "123456789012.s3-control.us-east-1.amazonaws.com");
    const local = build("s3control", "ListAccessPoints", "us-east-1", "http://127.0.0.1:9999");
    assert.equal(local.hostname, "127.0.0.1");
    assert.equal(local.port, 9999);
    assert.equal(local.protocol, "http:");
  });

  it("picks placeholder strings from the member name, and overrides win", () => {
    const ctx: PlaceholderContext = { accountId: "123456789012", region: "eu-west-1", service: "sns" };
    assert.equal(
      placeholderString("TopicArn", ctx),
      "arn:aws:sns:eu-west-1:123456789012:firstcall-trailblazer/firstcall-trailblazer",
    );
    assert.equal(placeholderString("RoleArn", ctx), "arn:aws:iam::123456789012:role/firstcall-trailblazer");
    assert.equal(placeholderString("VpcId", ctx), "vpc-0123456789abcdef0");
    assert.equal(placeholderString("Whatever", ctx), "placeholder");
    assert.equal(placeholderString("Bucket", { ...ctx, overrides: { Bucket: "mine" } }), "mine");
  });
});

describe("signer", () => {
  const creds = { accessKeyId: "ASIATESTKEY", secretAccessKey: "secret", sessionToken: "token" };

  it("signs with SigV4 for the service and region, and the signature verifies with the same secret", async () => {
    const r = build("sts", "GetCallerIdentity", "us-east-1", "http://127.0.0.1:1234");
    const signed = await signRequest(r, creds, {
      region: "us-east-1",
      service: "sts",
      signingDate: new Date("2024-05-01T10:00:00Z"),
    });
    const auth = parseAuthorization(signed.headers.authorization);
    assert.equal(auth?.accessKeyId, "ASIATESTKEY");
    assert.equal(auth?.date, "20240501");
    assert.equal(auth?.service, "sts");
    assert.ok(auth?.signedHeaders.includes("host"));
    assert.equal(signed.headers.host, "127.0.0.1:1234");
    assert.equal(signed.headers["x-amz-security-token"], "token");
    const received = {
      method: signed.method,
      path: signed.path,
      query: signed.query,
      headers: signed.headers,
      body: new TextEncoder().encode(text(signed.body)),
    };
    assert.equal(await verifySignature(received, () => creds), undefined);
    assert.equal(
      await verifySignature(received, () => ({ ...creds, secretAccessKey: "other" })),
      "signature does not match",
    );
    const tampered = { ...received, body: new TextEncoder().encode(`${text(signed.body)}&x=1`) };
    assert.equal(await verifySignature(tampered, () => creds), "x-amz-content-sha256 does not match the body");
    const otherPath = { ...received, path: "/other" };
    assert.equal(await verifySignature(otherPath, () => creds), "signature does not match");
  });
});
