/** The registry of finding formats. */
import { asffFormat } from "./asff.js";
import { csvFormat } from "./csv.js";
import type { FindingFormat } from "./format.js";
import { htmlFormat } from "./html.js";
import { jsonFormat } from "./json.js";
import { jsonlFormat } from "./jsonl.js";
import { ocsfFormat } from "./ocsf.js";
import { textFormat } from "./text.js";

export type { FindingFormat };

export const FORMATS: ReadonlyMap<string, FindingFormat> = new Map([
  [textFormat.name, textFormat],
  [jsonFormat.name, jsonFormat],
  [jsonlFormat.name, jsonlFormat],
  [ocsfFormat.name, ocsfFormat],
  [asffFormat.name, asffFormat],
  [csvFormat.name, csvFormat],
  [htmlFormat.name, htmlFormat],
]);
