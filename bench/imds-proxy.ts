/**
 * `npm run bench:imds-proxy`: what the metadata proxy costs, on loopback. The same load (autocannon,
 * keep-alive connections, an SDK's user agent) is sent to a stand-in metadata service directly and
 * then through `firstcall imds-proxy` running as its own process; the result is the proxied over the
 * direct requests per second and the latency the proxy adds (p50, p99). The servers run in child
 * processes so that the load generator does not share their event loop.
 *
 * @example
 * npm run bench:imds-proxy                        # 10 s per side, 10 connections
 * npm run bench:imds-proxy -- --seconds 20 --connections 50 --save
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..");

interface Args {
  seconds: number;
  connections: number;
  save: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seconds: 10, connections: 10, save: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--seconds") args.seconds = Number(argv[++i]);
    else if (a === "--connections") args.connections = Number(argv[++i]);
    else if (a === "--save") args.save = true;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

/** Starts a child and resolves with the port it announces on stderr or stdout. */
function startChild(args: string[], pattern: RegExp): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  return new Promise((resolvePort, reject) => {
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) resolvePort({ child, port: Number(m[1]) });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`child exited (${code}) before listening: ${seen}`)));
  });
}

interface Side {
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
}

async function load(url: string, args: Args): Promise<Side> {
  const r = await autocannon({
    url,
    connections: args.connections,
    duration: args.seconds,
    headers: { "user-agent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 api/imds#1.16.11" },
  });
  return {
    requestsPerSec: r.requests.average,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const fake = await startChild(["bench/imds-fake-server.ts"], /port (\d+)/);
  const proxy = await startChild(
    [
      "src/cli/main.ts",
      "imds-proxy",
      "--listen",
      "127.0.0.1:0",
      "--upstream",
      `http://127.0.0.1:${fake.port}`,
      "--access-log",
      "/dev/null",
    ],
    /listening on 127\.0\.0\.1:(\d+)/,
  );
  try {
    const path = "/latest/meta-data/instance-id";
    // A short warm-up on each side, so the JIT and the keep-alive pools are not measured.
    await load(`http://127.0.0.1:${fake.port}${path}`, { ...args, seconds: 2 });
    await load(`http://127.0.0.1:${proxy.port}${path}`, { ...args, seconds: 2 });
    const direct = await load(`http://127.0.0.1:${fake.port}${path}`, args);
    const proxied = await load(`http://127.0.0.1:${proxy.port}${path}`, args);
    const result = {
      schema: "firstcall.bench.imds-proxy/v1",
      date: new Date().toISOString(),
      host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", node: process.version, loadavg: loadavg() },
      load: { connections: args.connections, seconds: args.seconds, path, tool: "autocannon" },
      direct,
      proxied,
      ratios: { proxiedOverDirectRequests: round(proxied.requestsPerSec / direct.requestsPerSec) },
      addedLatencyMs: {
        p50: round(proxied.latencyMs.p50 - direct.latencyMs.p50),
        p99: round(proxied.latencyMs.p99 - direct.latencyMs.p99),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (args.save) {
      const stamp = result.date.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
      const out = join(HERE, "results", `${stamp}-imds-proxy.json`);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
      process.stderr.write(`bench: wrote ${out}\n`);
    }
    if (direct.errors + proxied.errors + direct.non2xx + proxied.non2xx > 0) {
      process.stderr.write("bench: some requests failed (see errors / non2xx)\n");
      process.exitCode = 1;
    }
  } finally {
    proxy.child.kill("SIGTERM");
    fake.child.kill("SIGTERM");
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

await main();
