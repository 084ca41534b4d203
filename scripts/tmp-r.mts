import { readLogs } from "../src/sources/read.js";
const t = Date.now();
let n = 0, files = 0; const shapes: Record<string, number> = {};
for await (const o of readLogs(process.argv.slice(2))) { files++; n += o.records.length; if (o.problems.length || o.skipped) console.log(o.object, o.skipped, o.problems); }
console.log({ files, n, ms: Date.now() - t });
