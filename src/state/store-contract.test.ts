/**
 * The state store contract (src/test-helpers/store-contract.ts) on the embedded stores: SQLite (a
 * real file in a temporary folder, opened again to check what survives) and the in-memory store.
 * PostgreSQL and DynamoDB run the same contract in their own test files.
 */
import { join } from "node:path";
import { scratchDirs } from "../test-helpers/scan.js";
import { storeContract } from "../test-helpers/store-contract.js";
import { MemoryStore } from "./memory.js";
import { SqliteStore } from "./sqlite.js";

const scratchDir = scratchDirs("firstcall-contract-");

storeContract(
  "SQLite",
  async () => {
    const path = join(scratchDir(), "state.sqlite");
    return { open: async () => SqliteStore.open(path), cleanup: async () => {}, server: `file ${path}` };
  },
  { persistent: true },
);

storeContract("memory", async () => {
  // One store per state: opening "again" is the same process-lifetime store.
  const store = new MemoryStore();
  return { open: async () => store, cleanup: async () => {} };
});
