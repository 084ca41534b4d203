/** `firstcall imds-proxy`: the metadata proxy as a long-running process (src/prevention/imds-proxy.ts). */
import type { Command } from "commander";
import { imdsProxySpec } from "./imds-proxy-spec.js";
import { commandFromSpec } from "./options.js";

interface ImdsProxyFlags {
  listen: string;
  upstream: string;
  allowAgent?: string[];
  onlyAgents?: boolean;
  requireAgent?: boolean;
  upstreamTimeout: string;
  accessLog?: string;
}

/** `host:port`, `[v6]:port` → parts; a usage error otherwise. */
function parseListen(
  value: string,
  UsageError: typeof import("../errors.js").UsageError,
): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UsageError("E_USAGE", `--listen: expected host:port, got ${value}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export function registerImdsProxy(program: Command): void {
  commandFromSpec(program, imdsProxySpec).action(async (flags: ImdsProxyFlags) => {
    const { UsageError } = await import("../errors.js");
    const { safeText } = await import("../safe-text.js");
    const { createWriteStream } = await import("node:fs");
    const { isIP } = await import("node:net");
    const { createImdsProxy, DEFAULT_ALLOWED_AGENT_PREFIXES } = await import("../prevention/imds-proxy.js");
    const at = parseListen(flags.listen, UsageError);
    const timeout = Number(flags.upstreamTimeout);
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw new UsageError(
        "E_USAGE",
        `--upstream-timeout: expected a positive number of seconds, got ${flags.upstreamTimeout}`,
      );
    const extra = flags.allowAgent ?? [];
    if (flags.onlyAgents && extra.length === 0)
      throw new UsageError("E_USAGE", "--only-agents: give the allowed prefixes with --allow-agent");
    const prefixes = flags.onlyAgents ? extra : [...DEFAULT_ALLOWED_AGENT_PREFIXES, ...extra];
    let upstream: URL;
    try {
      upstream = new URL(flags.upstream);
    } catch {
      throw new UsageError("E_USAGE", `--upstream: not a URL: ${flags.upstream}`);
    }
    if (upstream.protocol !== "http:")
      throw new UsageError("E_USAGE", `--upstream: expected an http:// URL, got ${flags.upstream}`);
    const accessLog = flags.accessLog
      ? createWriteStream(flags.accessLog, { flags: "a", mode: 0o600 })
      : process.stderr;
    const proxy = createImdsProxy({
      upstream,
      upstreamTimeoutMs: timeout * 1000,
      allowedAgentPrefixes: prefixes,
      requireAgent: flags.requireAgent === true,
      onRefusal: (r) => accessLog.write(`${JSON.stringify(r)}\n`),
      onUpstreamError: (e) =>
        process.stderr.write(`imds-proxy: metadata service error on ${safeText(e.path)}: ${safeText(e.message)}\n`),
    });
    const bound = await proxy.listen(at);
    const loopback = at.host === "localhost" || (isIP(at.host) !== 0 && /^(127\.|::1$)/.test(at.host));
    if (!loopback)
      process.stderr.write(
        `imds-proxy: warning: listening on ${safeText(at.host)}, not loopback: whatever can reach this address can ask it for the instance's credentials\n`,
      );
    const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
    process.stderr.write(
      `imds-proxy: listening on ${host}:${bound.port}, forwarding to ${safeText(upstream.origin)}; allowed user agents: ${safeText(prefixes.join(" "))}\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await proxy.close();
    const s = proxy.stats;
    const refused = Object.entries(s.refused)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    process.stderr.write(
      `imds-proxy: stopped; allowed ${s.allowed}, refused ${refused}, upstream errors ${s.upstreamErrors}\n`,
    );
    if (accessLog !== process.stderr)
      await new Promise<void>((r) => (accessLog as import("node:fs").WriteStream).end(r));
  });
}
