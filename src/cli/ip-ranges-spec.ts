import { type CommandSpec, formatOption } from "./options.js";

/** The `ip-ranges update` command's options: the single source for its flags and its documentation. */
export const ipRangesUpdateSpec: CommandSpec = {
  name: "ip-ranges update",
  arguments: "",
  summary:
    "Downloads AWS's published ip-ranges.json into the cache folder, where `scan` finds it when `--ip-ranges` is not given. The request is conditional (ETag, Last-Modified), so an unchanged list is not downloaded again; a failed or unusable download leaves the cached copy as it was. The download goes through `HTTPS_PROXY` (with `NO_PROXY` exceptions) when set; `--from` installs a copy fetched another way.",
  options: [
    {
      flags: "--url <url>",
      description: "where to download from",
      defaultText: "https://ip-ranges.amazonaws.com/ip-ranges.json (or $FIRSTCALL_IP_RANGES_URL)",
    },
    {
      flags: "--from <file>",
      description: "install this ip-ranges.json instead of downloading (checked the same way)",
    },
    {
      flags: "--cache-dir <dir>",
      description: "the cache folder",
      defaultText: "$XDG_CACHE_HOME/firstcall, else ~/.cache/firstcall",
    },
    { flags: "--timeout <seconds>", description: "give up the download after this long", defaultValue: "30" },
    formatOption(["text", "json"], "output format (json: the result as one object)"),
    { flags: "--json", description: "the same as --format json", hidden: true },
  ],
  examples: [
    "firstcall ip-ranges update",
    "curl -o ip-ranges.json https://ip-ranges.amazonaws.com/ip-ranges.json && firstcall ip-ranges update --from ip-ranges.json",
  ],
};
