/** Regenerates docs/cli.md from the commands' option tables. Run: npm run docs:cli */
import { writeFileSync } from "node:fs";
import { renderCommandDoc } from "../src/cli/options.js";
import { scanSpec } from "../src/cli/scan-spec.js";

const header =
  "# CLI reference\n\nGenerated from the option tables in `src/cli/*-spec.ts` by `npm run docs:cli`; do not edit by hand.\n\n";
writeFileSync("docs/cli.md", header + [scanSpec].map(renderCommandDoc).join("\n"));
