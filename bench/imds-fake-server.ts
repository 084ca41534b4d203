/** The stand-in metadata service as its own process, for bench/imds-proxy.ts: prints its port, stops on SIGTERM. */
import { startFakeImds } from "../src/test-helpers/fake-imds.js";

const imds = await startFakeImds();
process.stdout.write(`fake metadata service on port ${new URL(imds.url).port}\n`);
process.once("SIGTERM", () => void imds.close().then(() => process.exit(0)));
