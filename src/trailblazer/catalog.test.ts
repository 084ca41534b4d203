import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UsageError } from "../errors.js";
import {
  CATALOG_FILE,
  catalogCandidates,
  listOperations,
  loadCatalog,
  parseServiceList,
  renderCatalogText,
  selectServices,
} from "./catalog.js";
import { buildCatalog, looksReadOnly, serializeCatalog } from "./catalog-builder.js";
import { PROTOCOLS } from "./catalog-types.js";

const apis = join(process.cwd(), "node_modules", "aws-sdk", "apis");

describe("trailblazer catalog", () => {
  const catalog = loadCatalog();

  it("is the versioned catalog, with counts that add up", () => {
    assert.equal(catalog.schema, "firstcall.trailblazer.catalog");
    assert.equal(catalog.version, 1);
    assert.equal(catalog.source.package, "aws-sdk");
    const services = Object.values(catalog.services);
    assert.equal(services.length, catalog.counts.services);
    const ops = services.reduce((n, s) => n + Object.keys(s.operations).length, 0);
    assert.equal(ops, catalog.counts.operations);
    assert.equal(
      Object.values(catalog.counts.byProtocol).reduce((a, b) => a + b, 0),
      ops,
    );
    for (const p of PROTOCOLS) assert.ok((catalog.counts.byProtocol[p] ?? 0) > 0, `no ${p} operations`);
    assert.ok(catalog.counts.operations > 15000, String(catalog.counts.operations));
  });

  it("is exactly what the build script makes from the installed aws-sdk models (regenerate with npm run trailblazer:catalog)", () => {
    const files = readdirSync(apis)
      .filter((f) => f.endsWith(".min.json"))
      .sort()
      .map((f) => ({ name: f.slice(0, -9), model: JSON.parse(readFileSync(join(apis, f), "utf8")) as unknown }));
    const version = (JSON.parse(readFileSync(join(apis, "..", "package.json"), "utf8")) as { version: string }).version;
    const rebuilt = buildCatalog(files, version);
    // Every model file is accounted for: kept, or superseded by a newer API version.
    assert.equal(rebuilt.counts.services + rebuilt.counts.supersededModels.length, files.length);
    const committed = readFileSync(catalogCandidates()[catalogCandidates().length - 1] ?? "", "utf8");
    assert.equal(serializeCatalog(rebuilt), committed);
  });

  it("keeps global services with their home region and the newest API version of each service", () => {
    assert.deepEqual(catalog.services.iam?.global, { region: "us-east-1", host: "iam.amazonaws.com" });
    assert.equal(catalog.services.sts?.global?.region, "us-east-1");
    assert.equal(catalog.services.organizations?.global?.region, "us-east-1");
    assert.equal(catalog.services.rds?.apiVersion, "2014-10-31");
    assert.ok(catalog.counts.supersededModels.includes("rds-2013-01-10"));
    assert.equal(catalog.services.ec2?.global, undefined);
  });

  it("records protocol, method, path and required members of operations", () => {
    const put = catalog.services.s3?.operations.PutObject;
    assert.equal(put?.method, "PUT");
    assert.equal(put?.path, "/{Bucket}/{Key+}");
    assert.deepEqual(put?.required, ["Bucket", "Key"]);
    assert.equal(put?.looksReadOnly, false);
    const assume = catalog.services.sts?.operations.AssumeRole;
    assert.deepEqual(assume?.required, ["RoleArn", "RoleSessionName"]);
    assert.equal(catalog.services.ec2?.operations.DescribeInstances?.looksReadOnly, true);
    assert.equal(catalog.services.dynamodb?.protocol, "json");
    assert.equal(catalog.services.dynamodb?.targetPrefix, "DynamoDB_20120810");
  });

  it("guesses read-only from the verb, not from a prefix of another word", () => {
    assert.equal(looksReadOnly("GetObject", "GET"), true);
    assert.equal(looksReadOnly("ListBuckets", "POST"), true);
    assert.equal(looksReadOnly("Getaway", "POST"), false);
    assert.equal(looksReadOnly("DeleteBucket", "DELETE"), false);
    assert.equal(looksReadOnly("Lookup", "POST"), true);
  });

  it("selects services by id, endpoint prefix or signing name, and rejects unknown ones", () => {
    // CloudWatch's model file (and so its id) is "monitoring"; its serviceId finds it too.
    assert.deepEqual(
      selectServices(catalog, ["cloudwatch"]).map((s) => s.id),
      ["monitoring"],
    );
    assert.deepEqual(
      selectServices(catalog, ["EMR"]).map((s) => s.id),
      ["elasticmapreduce"],
    );
    assert.deepEqual(
      selectServices(catalog, ["IAM", "sts"]).map((s) => s.id),
      ["iam", "sts"],
    );
    assert.throws(
      () => selectServices(catalog, ["nope", "iam"]),
      (e: unknown) => e instanceof UsageError && /nope/.test(e.message),
    );
    assert.equal(selectServices(catalog).length, catalog.counts.services);
    assert.deepEqual(parseServiceList(" iam, ,sts "), ["iam", "sts"]);
    assert.equal(parseServiceList(""), undefined);
    const ops = listOperations(selectServices(catalog, ["sts"]));
    assert.equal(ops.length, Object.keys(catalog.services.sts?.operations ?? {}).length);
    assert.deepEqual(
      ops.map((o) => o.operation.name),
      [...ops.map((o) => o.operation.name)].sort(),
    );
  });

  it("renders a listing with operations when services are picked", () => {
    const text = renderCatalogText(catalog, selectServices(catalog, ["sts"]), true);
    assert.match(
      text,
      /^sts {2}query {2}\d+ operations {2}AWS Security Token Service {2}global: sts\.us-east-1\.amazonaws\.com \(us-east-1\)$/m,
    );
    assert.match(text, /^ {2}AssumeRole {2}POST \/ {2}required: RoleArn, RoleSessionName$/m);
    assert.match(text, /^ {2}GetCallerIdentity {2}POST \/ {2}\[read-only\]$/m);
  });

  it("is found from the source tree, and the loader rejects a file of another schema", () => {
    assert.ok(
      catalogCandidates().some((c) => c.endsWith(join("src", "trailblazer", "catalog", CATALOG_FILE)) && existsSync(c)),
    );
    assert.throws(() => loadCatalog(join(process.cwd(), "package.json")), /expected firstcall\.trailblazer\.catalog/);
  });
});
