/** `firstcall serve`: the JSON API, event stream and dashboard over a state file (src/serve/). */
import type { Command } from "commander";
import { type CommandSpec, toOptions } from "./options.js";

export const serveSpec: CommandSpec = {
  name: "serve",
  arguments: "",
  summary:
    "Serves the findings of a state file over HTTP: a JSON API (findings with filters and paging, one finding with its evidence, summary, sessions count), a Server-Sent-Events stream of new, updated and retracted findings, and a dashboard page. The state is opened read-only, so a scan or watch may write it meanwhile; new findings appear within a poll interval. Authentication is required by default: an API token is generated at start and printed once on stderr, with a one-time login link for the browser.",
  options: [
    {
      flags: "--state <path>",
      description: "state file a scan writes",
      defaultText: "$XDG_STATE_HOME/firstcall/state.sqlite (or $FIRSTCALL_STATE)",
    },
    { flags: "--host <address>", description: "address to listen on", defaultValue: "127.0.0.1" },
    { flags: "--port <number>", description: "port to listen on (0: any free port)", defaultValue: "8080" },
    {
      flags: "--token-file <file>",
      description:
        "read the API token from this file (at least 16 characters) instead of generating one; $FIRSTCALL_SERVE_TOKEN also sets it",
    },
    {
      flags: "--no-auth",
      description: "serve without authentication (warned on stderr; refused unless --host is a loopback address)",
    },
    { flags: "-c, --config <file>", description: "the configuration the scans use (for the learning window)" },
    {
      flags: "--poll-interval <ms>",
      description: "how often the state is checked for new commits",
      defaultValue: "1000",
      hidden: true,
    },
  ],
  examples: [
    "firstcall serve",
    "firstcall serve --state ~/.local/state/firstcall/state.sqlite --port 8081",
    "FIRSTCALL_SERVE_TOKEN=$(cat ~/.config/firstcall/token) firstcall serve",
    'curl -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8080/api/v1/findings?minSeverity=high&since=24h"',
  ],
  notes: [
    'API (JSON; errors are `{"error":{"code","message"}}` with codes E_AUTH 401, E_HOST 403, E_BAD_REQUEST 400, E_NOT_FOUND 404, E_AMBIGUOUS 409, E_STATE 503, E_INTERNAL 500): `GET /api/v1/findings` with `rule`, `severity`, `minSeverity`, `status` (open, retracted), `account`, `region` (lists: repeated or comma-separated), `since`, `until` (like scan\'s --since), `q` (text in the credential: ARN, role, session name, key id, instance id), `address`, `limit` (1–500, default 50) and `cursor` (the previous page\'s `nextCursor`), newest first; `GET /api/v1/findings/{id}` (id or a unique prefix) the evidence as `firstcall explain --format json` gives it; `GET /api/v1/summary`; `GET /api/v1/sessions/count`; `GET /api/v1/events` (Server-Sent Events: `finding` events with `{change: new|updated|retracted, finding}`, the commit time as event id for `Last-Event-ID`).',
    "Authentication: `Authorization: Bearer TOKEN` for programs; a browser opens the one-time login link printed at start (or posts the token on /login) and gets an HttpOnly, SameSite=Strict session cookie. The token comes from --token-file, else $FIRSTCALL_SERVE_TOKEN, else is generated and printed once. Only Host names of the bound address are answered on loopback (DNS rebinding). Plain HTTP: on another address, put a TLS proxy in front.",
    "Exit codes: runs until Ctrl-C or SIGTERM (exit 0); 2 on a bad option, a port in use or a refused address; 4 when the state file is missing or cannot be read.",
  ],
};

interface ServeFlags {
  state?: string;
  host: string;
  port: string;
  tokenFile?: string;
  auth: boolean;
  config?: string;
  pollInterval: string;
}

export function registerServe(program: Command): void {
  const cmd = program.command(serveSpec.name).description(serveSpec.summary);
  for (const o of toOptions(serveSpec.options)) cmd.addOption(o);
  cmd.action(async (flags: ServeFlags) => {
    const { readFileSync } = await import("node:fs");
    const { UsageError } = await import("../errors.js");
    const { defaultConfig, loadConfig } = await import("../config/config.js");
    const { defaultStatePath } = await import("../state/default-path.js");
    const { safeText } = await import("../safe-text.js");
    const { startServer } = await import("../serve/server.js");
    const port = Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError("E_USAGE", `--port: not a port number: ${safeText(flags.port)}`);
    const pollMs = Number(flags.pollInterval);
    if (!Number.isFinite(pollMs) || pollMs < 10)
      throw new UsageError("E_USAGE", `--poll-interval: milliseconds, at least 10: ${safeText(flags.pollInterval)}`);
    let token: string | undefined;
    let tokenSource = "generated";
    if (flags.tokenFile) {
      try {
        token = readFileSync(flags.tokenFile, "utf8").trim();
      } catch (e) {
        throw new UsageError(
          "E_USAGE",
          `--token-file ${safeText(flags.tokenFile)}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      tokenSource = `from ${flags.tokenFile}`;
      const { statSync } = await import("node:fs");
      if (process.platform !== "win32" && (statSync(flags.tokenFile).mode & 0o077) !== 0)
        process.stderr.write(
          `firstcall serve: WARNING: ${safeText(flags.tokenFile)} can be read by other users: chmod 600 it\n`,
        );
    } else if (process.env.FIRSTCALL_SERVE_TOKEN) {
      token = process.env.FIRSTCALL_SERVE_TOKEN.trim();
      tokenSource = "from $FIRSTCALL_SERVE_TOKEN";
    }
    if (!flags.auth && token !== undefined)
      throw new UsageError("E_USAGE", "--no-auth with a token (--token-file or $FIRSTCALL_SERVE_TOKEN): choose one");
    const config = flags.config ? loadConfig(flags.config) : defaultConfig();
    const statePath = flags.state ?? defaultStatePath();
    const server = await startServer({
      statePath,
      host: flags.host,
      port,
      auth: flags.auth,
      ...(token !== undefined ? { token } : {}),
      learnWindowMinutes: config.learnWindowMinutes,
      pollMs,
    });
    const say = (line: string) => process.stderr.write(`firstcall serve: ${line}\n`);
    say(`serving ${safeText(statePath)} (read-only) on ${server.url}/`);
    if (!flags.auth) {
      say("WARNING: --no-auth: anyone who can reach this address can read every finding");
    } else {
      // Printed once, here only: never logged.
      if (tokenSource === "generated")
        say(`API token (shown once; send as "Authorization: Bearer <token>"): ${server.token}`);
      else say(`API token ${safeText(tokenSource)}`);
      say(`open in a browser (one-time login link): ${server.loginUrl}`);
    }
    if (!(await import("../serve/server.js")).isLoopback(flags.host))
      say(
        `WARNING: listening on ${safeText(flags.host)}: plain HTTP, so the token crosses the network in clear; put a TLS proxy in front`,
      );
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    say("stopping");
    await server.close();
  });
}
