/**
 * The DynamoDB store against dynalite (a DynamoDB API server on a loopback port): table creation
 * (twice, and two at once), what a scan says on a table that is not initialised, the store contract
 * (src/test-helpers/store-contract.ts), documents larger than an item, a checkpoint whose worker dies
 * after its commit marker (rolled forward) or before it (discarded), one live process per worker
 * name, and no secret in the printed location.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StateError } from "../errors.js";
import { testTable } from "../test-helpers/dynamodb.js";
import { storeContract } from "../test-helpers/store-contract.js";
import {
  DYNAMO_SCHEMA_VERSION,
  DynamoStore,
  initDynamo,
  inspectDynamo,
  parseDynamoUrl,
  redactDynamoUrl,
} from "./dynamodb.js";

storeContract(
  "DynamoDB",
  async () => {
    const { url, server } = await testTable("&lease=2");
    await initDynamo(url);
    return {
      open: (worker) => DynamoStore.open(url, { worker: worker ?? "default" }),
      cleanup: async () => {},
      server,
    };
  },
  { persistent: true, shared: true },
);

storeContract(
  "DynamoDB, every document split into parts",
  async () => {
    const { url, server } = await testTable("&lease=2");
    await initDynamo(url);
    return {
      open: (worker) => DynamoStore.open(url, { worker: worker ?? "default", inlineBytes: 40 }),
      cleanup: async () => {},
      server,
    };
  },
  { persistent: true, shared: true },
);

describe("DynamoDB store", () => {
  test("state init creates the table once, also when two run at once; a second run changes nothing", async (t) => {
    const { url, server } = await testTable();
    t.diagnostic(server);
    assert.equal((await inspectDynamo(url)).schemaVersion, 0);
    const both = await Promise.all([initDynamo(url), initDynamo(url)]);
    assert.deepEqual(
      both.map((r) => r.to),
      [DYNAMO_SCHEMA_VERSION, DYNAMO_SCHEMA_VERSION],
    );
    assert.deepEqual(await initDynamo(url), { from: DYNAMO_SCHEMA_VERSION, to: DYNAMO_SCHEMA_VERSION });
    const info = await inspectDynamo(url);
    assert.equal(info.kind, "dynamodb");
    assert.equal(info.schemaVersion, DYNAMO_SCHEMA_VERSION);
    assert.equal(info.sessions, 0);
  });

  test("a store on a table that is not initialised refuses and says what to run", async (t) => {
    const { url, server } = await testTable();
    t.diagnostic(server);
    await assert.rejects(
      DynamoStore.open(url),
      (e: StateError) =>
        e.code === "E_STATE_SCHEMA" && e.message.includes(`firstcall state init --state ${redactDynamoUrl(url)}`),
    );
  });

  test("one live process per worker name; the name is free again once it closes", async (t) => {
    const { url, server } = await testTable("&lease=1");
    t.diagnostic(server);
    await initDynamo(url);
    const first = await DynamoStore.open(url, { worker: "w" });
    await assert.rejects(DynamoStore.open(url, { worker: "w" }), (e: StateError) => e.code === "E_STATE_LOCKED");
    await first.close();
    await (await DynamoStore.open(url, { worker: "w" })).close();
  });

  test("URLs: parameters are checked, an endpoint's password never shows", () => {
    assert.deepEqual(parseDynamoUrl("dynamodb://firstcall-state?region=eu-west-1"), {
      table: "firstcall-state",
      region: "eu-west-1",
      leaseMs: 10_000,
    });
    assert.throws(
      () => parseDynamoUrl("dynamodb://ab"),
      (e: StateError) => e.code === "E_STATE",
    );
    assert.throws(() => parseDynamoUrl("dynamodb://table?regoin=x"), /unknown parameter "regoin"/);
    const shown = redactDynamoUrl("dynamodb://t1?endpoint=http://me:s3cret@127.0.0.1:8000&region=x");
    assert.ok(!shown.includes("s3cret"), shown);
  });
});
