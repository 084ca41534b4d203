/**
 * Regenerates src/trailblazer/catalog/catalog.v1.json from the aws-sdk (v2) service models.
 * Run: npm run trailblazer:catalog   (aws-sdk is a devDependency; the CLI never loads it)
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCatalog, type ModelFile, serializeCatalog } from "../src/trailblazer/catalog-builder.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sdkDir = join(root, "node_modules", "aws-sdk");
const apisDir = join(sdkDir, "apis");
const sdkVersion = (JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")) as { version: string }).version;

const files: ModelFile[] = readdirSync(apisDir)
  .filter((name) => name.endsWith(".min.json"))
  .sort()
  .map((name) => ({
    name: name.slice(0, -".min.json".length),
    model: JSON.parse(readFileSync(join(apisDir, name), "utf8")) as unknown,
  }));

const catalog = buildCatalog(files, sdkVersion);
const out = join(root, "src", "trailblazer", "catalog", "catalog.v1.json");
const text = serializeCatalog(catalog);
writeFileSync(out, text);
const { supersededModels, ...counts } = catalog.counts;
console.log(
  `wrote ${out} (${(text.length / 1024 / 1024).toFixed(1)} MB) from aws-sdk ${sdkVersion}: ${JSON.stringify(counts)}; ` +
    `${supersededModels.length} older model versions left out`,
);
