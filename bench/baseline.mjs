// The naive baselines the scan is measured against: (a) gunzip every file, (b) gunzip and
// JSON.parse every file. Usage: node bench/baseline.mjs gunzip|parse LISTFILE
// Prints one JSON object: files, gzBytes, rawBytes, records, ms, maxRssKb.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

const [mode, listFile] = process.argv.slice(2);
if ((mode !== "gunzip" && mode !== "parse") || !listFile) {
  console.error("usage: node bench/baseline.mjs gunzip|parse LISTFILE");
  process.exit(2);
}
const files = readFileSync(listFile, "utf8").split("\n").filter(Boolean);
const began = process.hrtime.bigint();
let gzBytes = 0;
let rawBytes = 0;
let records = 0;
for (const f of files) {
  const gz = readFileSync(f);
  gzBytes += gz.length;
  const raw = gunzipSync(gz);
  rawBytes += raw.length;
  if (mode === "parse") records += JSON.parse(raw.toString("utf8")).Records.length;
}
const ms = Number(process.hrtime.bigint() - began) / 1e6;
process.stdout.write(
  `${JSON.stringify({ files: files.length, gzBytes, rawBytes, records, ms, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
