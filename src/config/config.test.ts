import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { UsageError } from "../errors.js";
import { runScan } from "../pipeline/scan.js";
import { defaultConfig, parseConfig } from "./config.js";

const root = mkdtempSync(join(tmpdir(), "firstcall-config-"));
after(() => rmSync(root, { recursive: true, force: true }));

function problem(yaml: string): string {
  try {
    parseConfig(yaml, "firstcall.yaml");
  } catch (e) {
    assert.ok(e instanceof UsageError && e.code === "E_CONFIG", String(e));
    return e.message;
  }
  assert.fail(`accepted: ${yaml}`);
}

describe("configuration checks", () => {
  test("every CIDR in ownNetworks and allow.cidrs is parsed; the error names the key path and the value", () => {
    assert.equal(
      problem('allow:\n  cidrs: ["198.51.100.7/32", "10.0.0.0/33"]'),
      'firstcall.yaml: allow.cidrs[1]: not an IP address or CIDR: "10.0.0.0/33" (prefix length 33 is above 32)',
    );
    assert.match(problem('ownNetworks: ["203.0.113.0/24", "nat-gateway"]'), /ownNetworks\[1\]: .*"nat-gateway"/);
    assert.match(problem('ownNetworks: ["010.0.0.1"]'), /ownNetworks\[0\]/, "leading zeros (octal in some tools)");
    assert.match(problem('ownNetworks: ["10.1"]'), /ownNetworks\[0\]/, "short forms");
    assert.match(problem('ownNetworks: ["2001:db8::/129"]'), /above 128/);
    assert.match(problem('ownNetworks: ["10.0.0.0/8x"]'), /not a number/);
  });

  test("valid addresses and CIDRs of both families are accepted", () => {
    const c = parseConfig('ownNetworks: ["203.0.113.0/24", "198.51.100.7", "2001:db8::/32", "::ffff:10.0.0.0/104"]');
    assert.equal(c.ownNetworks.length, 4);
  });

  test("role patterns, user-agent substrings and account ids that could never match are refused", () => {
    assert.match(
      problem('allow:\n  roles: ["arn:aws:sts::111122223333:assumed-role/web/i-0abc"]'),
      /allow\.roles\[0\]: .*not a session ARN/,
    );
    assert.match(problem('recon:\n  allowRoles: ["ci *"]'), /recon\.allowRoles\[0\]/);
    assert.match(problem('allow:\n  roles: [""]'), /allow\.roles\[0\]: .*empty/);
    assert.match(problem('allow:\n  userAgents: [""]'), /allow\.userAgents\[0\]: .*match every call/);
    assert.match(problem('recon:\n  allowUserAgents: [""]'), /recon\.allowUserAgents\[0\]/);
    assert.match(
      problem('recon:\n  allowUserAgents: ["/^my-agent\\/(/"]'),
      /recon\.allowUserAgents\[0\]: .*not a valid regular expression/,
    );
    assert.match(problem("recon:\n  defaultAllowUserAgents: 1"), /recon\.defaultAllowUserAgents/);
    assert.equal(defaultConfig().recon.defaultAllowUserAgents, true, "the built-in agents are on by default");
    assert.match(problem('allow:\n  accounts: ["1111-2222-3333"]'), /allow\.accounts\[0\]: an account id is 12 digits/);
    const ok = parseConfig(
      'allow:\n  roles: ["ci-*", "arn:aws:iam::111122223333:role/path/web-*", "arn:aws-us-gov:iam::*:role/x"]',
    );
    assert.equal(ok.allow.roles.length, 3);
  });

  test("the scan checks a configuration built in code before it lists or reads any log", async () => {
    const logs = join(root, "logs");
    writeFileSync(join(root, "marker.json"), "{}");
    const listed: string[] = [];
    const config = { ...defaultConfig(), allow: { ...defaultConfig().allow, cidrs: ["10.0.0.0/33"] } };
    await assert.rejects(
      runScan({
        paths: [logs, root],
        statePath: ":memory:",
        config,
        onProgress: (p) => listed.push(String(p.objectsDone)),
      }),
      (e: unknown) => e instanceof UsageError && /allow\.cidrs\[0\]/.test(e.message),
    );
    assert.deepEqual(listed, [], "no object was read");
  });
});
