import { Command } from "commander";
import { registerSimulate } from "../src/cli/simulate.ts";
import { registerEval } from "../src/cli/eval.ts";
const p = new Command("firstcall"); registerSimulate(p); registerEval(p);
await p.parseAsync(process.argv);
