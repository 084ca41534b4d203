/** `firstcall serve`: the JSON API, event stream and dashboard over a state file (src/serve/). */
import type { Command } from "commander";
import { type CommandSpec, toOptions } from "./options.js";

export const serveSpec: CommandSpec = {
  name: "serve",
  arguments: "",
  summary:
    "Serves the findings of a state file over HTTP: a JSON API (findings with filters and paging, one finding with its evidence, summary, sessions count), a Server-Sent-Events stream of new, updated, retracted and triaged findings, and a dashboard page where a finding can be acknowledged or suppressed with a reason. The state is opened without the scan's lock, so a scan or watch may write it meanwhile; new findings appear within a poll interval. The only thing serve writes is a finding's status (its own tables, one small transaction, beside a running scan). Authentication is required by default: an API token is generated at start and printed once on stderr, with a one-time login link for the browser; a read-only token may be added.",
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
        "read the API token from this file (at least 16 characters) instead of generating one; a missing file is created (mode 0600) with a new random token, which is then not printed; $FIRSTCALL_SERVE_TOKEN also sets it",
    },
    {
      flags: "--read-only-token-file <file>",
      description:
        "also accept the token in this file, for reading only (acknowledging and suppressing answer 403); created (0600) with a new random token when missing; $FIRSTCALL_SERVE_READ_ONLY_TOKEN also sets it",
    },
    {
      flags: "--read-only-token",
      description: "also generate a read-only token and print it once on stderr",
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
    "firstcall serve --token-file ~/.config/firstcall/admin.token --read-only-token-file ~/.config/firstcall/read.token",
    'curl -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8080/api/v1/findings?minSeverity=high&since=24h&triage=open"',
    'curl -X PUT -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d \'{"status":"suppressed","reason":"red team exercise SEC-123","by":"alice"}\' http://127.0.0.1:8080/api/v1/findings/9094dc6c/status',
  ],
  notes: [
    'API (JSON; errors are `{"error":{"code","message"}}` with codes E_AUTH 401, E_FORBIDDEN 403, E_CSRF 403, E_HOST 403, E_BAD_REQUEST 400, E_NOT_FOUND 404, E_AMBIGUOUS 409, E_STATE 503, E_INTERNAL 500): `GET /api/v1/findings` with `rule`, `severity`, `minSeverity`, `status` (open, retracted), `triage` (open, acknowledged, suppressed), `account`, `region` (lists: repeated or comma-separated), `since`, `until` (like scan\'s --since), `q` (text in the credential: ARN, role, session name, key id, instance id), `address`, `limit` (1–500, default 50) and `cursor` (the previous page\'s `nextCursor`), newest first, each finding with its `triage` ({status, reason, actor, at}); `GET /api/v1/findings/{id}` (id or a unique prefix) the evidence as `firstcall explain --format json` gives it, with `triage` and `triageHistory`; `PUT /api/v1/findings/{id}/status` (or POST) with a JSON body `{"status": "acknowledged"|"suppressed"|"open", "reason": "…" (required but for open, at most 1000 characters), "by": "…" (optional name)}` sets its triage (kept with its history; a suppressed finding is not alerted again by sinks); `GET /api/v1/summary`; `GET /api/v1/sessions/count`; `GET /api/v1/whoami`; `GET /api/v1/events` (Server-Sent Events: `finding` events with `{change: new|updated|retracted, finding}`, the commit time as event id for `Last-Event-ID`; `triage` events with `{id, triage}`).',
    "Authentication: `Authorization: Bearer TOKEN` for programs; a browser opens the one-time login link printed at start (or posts a token on /login) and gets an HttpOnly, SameSite=Strict session cookie of that token's role. The API token comes from --token-file, else $FIRSTCALL_SERVE_TOKEN, else is generated and printed once; a read-only token (--read-only-token-file, $FIRSTCALL_SERVE_READ_ONLY_TOKEN or --read-only-token) reads everything and gets 403 E_FORBIDDEN on a change. A change sent without a bearer token (the dashboard's cookie, or --no-auth) must carry the header `X-Firstcall-Request: 1`, and any change from another origin (`Origin`, `Sec-Fetch-Site`) is refused (E_CSRF). Only Host names of the bound address are answered on loopback (DNS rebinding). Plain HTTP: on another address, put a TLS proxy in front (it must pass the Host header on).",
    "Beside a running scan: the scan holds the state's writer lock; serve writes a status through a connection of its own without that lock, one small transaction that SQLite's WAL mode lets in between the scan's checkpoints (each waits up to 5 s for the other). Statuses are in their own tables, which a checkpoint never writes. A state of schema 3 (before statuses) is served without statuses until a scan or `firstcall state init` upgrades it.",
    "Exit codes: runs until Ctrl-C or SIGTERM (exit 0); 2 on a bad option, a port in use or a refused address; 4 when the state file is missing or cannot be read.",
  ],
};

interface ServeFlags {
  state?: string;
  host: string;
  port: string;
  tokenFile?: string;
  readOnlyTokenFile?: string;
  readOnlyToken?: boolean;
  auth: boolean;
  config?: string;
  pollInterval: string;
}

export function registerServe(program: Command): void {
  const cmd = program.command(serveSpec.name).description(serveSpec.summary);
  for (const o of toOptions(serveSpec.options)) cmd.addOption(o);
  cmd.action(async (flags: ServeFlags) => {
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
    const { tokenFromFile } = await import("../serve/token-file.js");
    let token: string | undefined;
    let tokenSource = "generated";
    if (flags.tokenFile) {
      const got = tokenFromFile("--token-file", flags.tokenFile);
      token = got.token;
      tokenSource = got.created ? `new, written to ${flags.tokenFile} (mode 0600)` : `from ${flags.tokenFile}`;
    } else if (process.env.FIRSTCALL_SERVE_TOKEN) {
      token = process.env.FIRSTCALL_SERVE_TOKEN.trim();
      tokenSource = "from $FIRSTCALL_SERVE_TOKEN";
    }
    let readOnlyToken: string | undefined;
    let readOnlySource: string | undefined;
    if (flags.readOnlyTokenFile) {
      if (flags.readOnlyToken)
        throw new UsageError("E_USAGE", "--read-only-token and --read-only-token-file: choose one");
      const got = tokenFromFile("--read-only-token-file", flags.readOnlyTokenFile);
      readOnlyToken = got.token;
      readOnlySource = got.created
        ? `new, written to ${flags.readOnlyTokenFile} (mode 0600)`
        : `from ${flags.readOnlyTokenFile}`;
    } else if (flags.readOnlyToken) {
      const { randomSecret } = await import("../serve/auth.js");
      readOnlyToken = randomSecret();
      readOnlySource = "generated";
    } else if (process.env.FIRSTCALL_SERVE_READ_ONLY_TOKEN) {
      readOnlyToken = process.env.FIRSTCALL_SERVE_READ_ONLY_TOKEN.trim();
      readOnlySource = "from $FIRSTCALL_SERVE_READ_ONLY_TOKEN";
    }
    if (!flags.auth && token !== undefined)
      throw new UsageError("E_USAGE", "--no-auth with a token (--token-file or $FIRSTCALL_SERVE_TOKEN): choose one");
    if (!flags.auth && readOnlyToken !== undefined)
      throw new UsageError("E_USAGE", "--no-auth with a read-only token: without authentication anyone may change");
    const config = flags.config ? loadConfig(flags.config) : defaultConfig();
    const statePath = flags.state ?? defaultStatePath();
    const server = await startServer({
      statePath,
      host: flags.host,
      port,
      auth: flags.auth,
      ...(token !== undefined ? { token } : {}),
      ...(readOnlyToken !== undefined ? { readOnlyToken } : {}),
      learnWindowMinutes: config.learnWindowMinutes,
      pollMs,
    });
    const say = (line: string) => process.stderr.write(`firstcall serve: ${line}\n`);
    say(`serving ${safeText(statePath)} (read-only but for finding statuses) on ${server.url}/`);
    if (!flags.auth) {
      say("WARNING: --no-auth: anyone who can reach this address can read every finding");
    } else {
      // Printed once, here only: never logged.
      if (tokenSource === "generated")
        say(`API token (shown once; send as "Authorization: Bearer <token>"): ${server.token}`);
      else say(`API token ${safeText(tokenSource)}`);
      if (readOnlySource === "generated")
        say(`read-only token (shown once; may read, not acknowledge or suppress): ${readOnlyToken}`);
      else if (readOnlySource !== undefined) say(`read-only token ${safeText(readOnlySource)}`);
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
