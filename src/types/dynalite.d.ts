/** Types for dynalite 4 (a DynamoDB server for tests; the package ships none): the part the tests use. */
declare module "dynalite" {
  import type { Server } from "node:http";

  export interface DynaliteOptions {
    /** How long tables stay CREATING / DELETING / UPDATING (ms); default 500. */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** Largest item (KB); default 400, as DynamoDB. */
    maxItemSizeKb?: number;
    /** LevelDB folder; in memory when absent. */
    path?: string;
  }

  export default function dynalite(options?: DynaliteOptions): Server;
}
