import { DEFAULT_ALLOWED_AGENT_PREFIXES } from "../prevention/imds-proxy.js";
import type { CommandSpec } from "./options.js";

/** The `imds-proxy` command's options: the single source for its flags and its documentation. */
export const imdsProxySpec: CommandSpec = {
  name: "imds-proxy",
  arguments: "",
  summary:
    "A proxy in front of the instance metadata service that only lets AWS SDKs through: a request whose user agent does not start with an SDK's prefix is answered 401, one relayed by another proxy (`X-Forwarded-For`, `Forwarded`, `Via`) 403, and each refusal is written as a JSON line to the access log (a detection signal: something on the host asked for credentials). Allowed requests, the IMDSv2 token flow included, are forwarded unchanged; nothing is cached and no credential or token is logged. A firewall rule sends the host's metadata traffic through it (docs/imds-proxy.md).",
  options: [
    { flags: "--listen <host:port>", description: "where to listen", defaultValue: "127.0.0.1:9090" },
    {
      flags: "--upstream <url>",
      description: "the metadata service (IPv6: http://[fd00:ec2::254])",
      defaultValue: "http://169.254.169.254",
    },
    {
      flags: "--allow-agent <prefix>",
      description: `a user-agent prefix to allow besides the built-in ones (${DEFAULT_ALLOWED_AGENT_PREFIXES.join(", ")}); repeatable`,
      repeatable: true,
    },
    { flags: "--only-agents", description: "allow only the `--allow-agent` prefixes, not the built-in ones" },
    {
      flags: "--require-agent",
      description:
        "refuse requests without a user agent even when they use IMDSv2 (the AWS SDK for JavaScript v3 sends none)",
    },
    {
      flags: "--upstream-timeout <seconds>",
      description: "answer 504 when the metadata service is this slow",
      defaultValue: "5",
    },
    { flags: "--access-log <file>", description: "append refusals (JSON lines) to this file instead of stderr" },
  ],
  notes: [
    "The proxy needs no privileges when it listens above port 1023: run it as its own user, which the firewall rule exempts so that its own requests reach the metadata service. On start it prints one line on stderr with the address it listens on; on SIGINT or SIGTERM it stops, prints what it allowed and refused, and exits 0.",
  ],
  examples: [
    "firstcall imds-proxy",
    "firstcall imds-proxy --listen 127.0.0.1:9090 --access-log /var/log/firstcall/imds-refusals.jsonl",
    "firstcall imds-proxy --allow-agent Cloud-Init/ --allow-agent amazon-ssm-agent/",
  ],
};
