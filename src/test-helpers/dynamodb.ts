/**
 * DynamoDB for tests: a real DynamoDB API server (dynalite, in this process, in memory: nothing on
 * disk) on a loopback port, shared by the tests of one file and gone with the process, and a uniquely
 * named table per test, deleted when that test ends. Child processes reach the same server through
 * the URL.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { after } from "node:test";
import dynalite from "dynalite";

export interface TestTable {
  /** `dynamodb://TABLE?region=…&endpoint=…` of a new, not yet initialised table. */
  readonly url: string;
  /** What served it, for the test's diagnostic line. */
  readonly server: string;
}

let running: Promise<{ endpoint: string }> | undefined;

/**
 * dynalite needs credentials in the request (it ignores their value); the tests and the workers
 * they start use these, never a profile of the machine.
 */
function useTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = "dynalite";
  process.env.AWS_SECRET_ACCESS_KEY = "dynalite";
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}

function start(): Promise<{ endpoint: string }> {
  running ??= new Promise((resolve, reject) => {
    useTestCredentials();
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      // The server lives as long as the test process (it keeps no file), without holding it open.
      server.unref();
      resolve({ endpoint: `http://127.0.0.1:${port}` });
    });
  });
  return running;
}

/**
 * A new table name on the test server (created by `state init` / `initDynamo`, deleted when the calling test ends).
 * @example const { url, server } = await testTable(); t.diagnostic(server); await initDynamo(url);
 */
export async function testTable(params = ""): Promise<TestTable> {
  const { endpoint } = await start();
  const table = `firstcall_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  after(async () => {
    const { DynamoDBClient, DeleteTableCommand } = await import("@aws-sdk/client-dynamodb");
    const client = new DynamoDBClient({ region: "us-east-1", endpoint });
    await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
    client.destroy();
  });
  return {
    url: `dynamodb://${table}?region=us-east-1&endpoint=${endpoint}${params}`,
    server: `dynalite 4 (in-memory DynamoDB API) at ${endpoint}`,
  };
}

/**
 * {@link testTable} created and initialised (`state init`), its server named in the test's diagnostics.
 * @example const url = await initialisedTestTable(t, "&lease=1");
 */
export async function initialisedTestTable(t: { diagnostic(message: string): void }, params = ""): Promise<string> {
  const { url, server } = await testTable(params);
  t.diagnostic(server);
  const { initDynamo } = await import("../state/dynamodb.js");
  await initDynamo(url);
  return url;
}
