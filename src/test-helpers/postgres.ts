/**
 * A real PostgreSQL database for a test: `FIRSTCALL_TEST_PG` (a connection URL), else the machine's
 * server at postgres://postgres@127.0.0.1:5432/test. Each call creates a uniquely named database on
 * that server and drops it when the test file ends. No server is a failure with what to do, never a
 * skip.
 */
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import pg from "pg";
import { migratePostgres } from "../state/postgres.js";

export const TEST_PG_URL = process.env.FIRSTCALL_TEST_PG || "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  /** URL of the new, empty database. */
  readonly url: string;
  /** `SELECT version()` of the server, for the test's diagnostic line. */
  readonly server: string;
}

/** A URL for another database on the same server. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Creates a fresh database (dropped after the test file's tests, also when they failed).
 * @example const { url, server } = await testDatabase(); t.diagnostic(`PostgreSQL: ${server}`);
 */
export async function testDatabase(): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(
      `No PostgreSQL server at ${TEST_PG_URL} (${(e as Error).message}). These tests need a real one: start it, or set FIRSTCALL_TEST_PG to a URL of a database on a server where this role may CREATE DATABASE.`,
    );
  }
  const name = `firstcall_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  try {
    const server = (await admin.query<{ version: string }>("SELECT version()")).rows[0]?.version ?? "?";
    await admin.query(`CREATE DATABASE ${name}`);
    after(async () => {
      const c = new pg.Client({ connectionString: TEST_PG_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    });
    return { url: withDatabase(TEST_PG_URL, name), server };
  } finally {
    await admin.end();
  }
}

/**
 * {@link testDatabase} with firstcall's schema applied (`state init`), its server named in the test's
 * diagnostics.
 * @example const url = await initialisedTestDatabase(t);
 */
export async function initialisedTestDatabase(t: { diagnostic(message: string): void }): Promise<string> {
  const { url, server } = await testDatabase();
  t.diagnostic(`PostgreSQL server: ${server}`);
  await migratePostgres(url);
  return url;
}

/**
 * Takes an initialised database back to what firstcall's PostgreSQL schema 1 was (no finding status
 * or outbox tables, no ETag column, version 1 recorded), for migration tests.
 * @example await backToSchema1(url); await migratePostgres(url) // { from: 1, to: PG_SCHEMA_VERSION }
 */
export async function backToSchema1(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `DROP TABLE firstcall_finding_statuses, firstcall_finding_status_history, firstcall_outbox;
       ALTER TABLE firstcall_objects DROP COLUMN etag;
       DELETE FROM firstcall_schema WHERE version > 1`,
    );
  } finally {
    await c.end();
  }
}
