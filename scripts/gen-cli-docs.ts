/**
 * Regenerates docs/cli.md from the commands' option tables and the exit codes. Run: npm run docs:cli
 * (an optional argument writes elsewhere; the docs test uses it to compare with the committed file).
 *
 * Biome, the project's formatter, does not format Markdown: the generator's output is already in its
 * final form (tables padded to equal column widths), so that the file it writes is byte for byte the
 * one committed.
 */
import { writeFileSync } from "node:fs";
import { renderCliReference } from "../src/cli/docs.js";

writeFileSync(process.argv[2] ?? "docs/cli.md", renderCliReference());
