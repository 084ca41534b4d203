/**
 * Writes data/aws-ip-ranges.json, the compact copy of AWS's ranges shipped with the package (used by
 * `scan` when there is no `--ip-ranges` and no cached copy): AMAZON prefixes and EC2 prefixes per
 * region, contained prefixes dropped, with AWS's syncToken and createDate.
 *
 * Run: npm run ip-ranges:snapshot [-- ip-ranges.json [--out FILE]]
 * The input defaults to the cached copy `firstcall ip-ranges update` keeps. Only a real download
 * from https://ip-ranges.amazonaws.com/ip-ranges.json belongs in the package.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cacheDir } from "../src/cache-dir.js";
import { snapshotOf } from "../src/net/aws-ranges.js";
import { CACHED_RANGES_FILE, shippedSnapshotPath } from "../src/net/ip-ranges-source.js";

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const out = outAt >= 0 ? args[outAt + 1] : shippedSnapshotPath();
const input = args.find((a, i) => !a.startsWith("--") && i !== outAt + 1) ?? join(cacheDir(), CACHED_RANGES_FILE);
if (!out) throw new Error("--out needs a file name");

const snapshot = snapshotOf(readFileSync(input, "utf8"), input);
mkdirSync(dirname(out), { recursive: true });
// One prefix per line: a new snapshot reads as a diff of prefixes.
writeFileSync(out, `${JSON.stringify(snapshot, null, 1)}\n`);
const ec2 = Object.values(snapshot.ec2).reduce((n, l) => n + l.length, 0);
console.log(
  `${out}: syncToken ${snapshot.syncToken ?? "?"}, createDate ${snapshot.createDate ?? "?"}, ${snapshot.amazon.length} AMAZON and ${ec2} EC2 prefixes in ${Object.keys(snapshot.ec2).length} regions (from ${input})`,
);
