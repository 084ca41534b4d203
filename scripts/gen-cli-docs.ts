/** Regenerates docs/cli.md from the commands' option tables and the exit codes. Run: npm run docs:cli */
import { writeFileSync } from "node:fs";
import { renderCliReference } from "../src/cli/docs.js";

writeFileSync("docs/cli.md", renderCliReference());
