/**
 * Writes data/ocsf/detection_finding-1.8.0.schema.json: the JSON Schema of the OCSF Detection Finding
 * class (2004) with the profiles firstcall applies, resolved from the OCSF 1.8.0 sources
 * (src/findings/ocsf/json-schema.ts), and copies the OCSF LICENSE and NOTICE beside it.
 *
 * Run: npm run ocsf:schema [-- SOURCE_DIR]   (that is: node --import tsx scripts/gen-ocsf-schema.ts [SOURCE_DIR])
 * SOURCE_DIR defaults to $OCSF_SCHEMA_DIR, else ../shared/reference/ocsf-schema-1.8.0 beside the checkout.
 * src/findings/ocsf/json-schema.test.ts fails when the committed file is not what this writes.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  DETECTION_FINDING_SCHEMA_PATH,
  defaultOcsfSourceDir,
  detectionFindingSchemaText,
} from "../src/findings/ocsf/json-schema.js";

const sourceDir = process.argv[2] ?? defaultOcsfSourceDir();
const text = detectionFindingSchemaText(sourceDir);
const outDir = dirname(DETECTION_FINDING_SCHEMA_PATH);
mkdirSync(outDir, { recursive: true });
writeFileSync(DETECTION_FINDING_SCHEMA_PATH, text);
// Copied as text (not with their read-only mode) so that a later run can overwrite them.
for (const name of ["LICENSE", "NOTICE"]) writeFileSync(join(outDir, name), readFileSync(join(sourceDir, name)));
console.log(`${DETECTION_FINDING_SCHEMA_PATH}: ${text.length} bytes from ${sourceDir}`);
