/** The registry of finding formats. */
import type { FindingFormat } from "./format.js";
import { jsonFormat } from "./json.js";
import { jsonlFormat } from "./jsonl.js";
import { textFormat } from "./text.js";

export type { FindingFormat };

export const FORMATS: ReadonlyMap<string, FindingFormat> = new Map([
  [textFormat.name, textFormat],
  [jsonFormat.name, jsonFormat],
  [jsonlFormat.name, jsonlFormat],
]);
