import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { fromInstanceMetadata } from "@smithy/credential-provider-imds";
import { CLI_MAIN, REPO } from "../test-helpers/cli.js";
import { FAKE_ROLE, type FakeImds, startFakeImds } from "../test-helpers/fake-imds.js";
import {
  createImdsProxy,
  type ImdsProxy,
  judgeMetadataRequest,
  type MetadataRequest,
  type RefusalRecord,
} from "./imds-proxy.js";

const CREDS_PATH = `/latest/meta-data/iam/security-credentials/${FAKE_ROLE}`;

// User agents as the SDKs and tools send them (shapes from their source and AWS's documentation).
const SDK_AGENTS = [
  "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/imds#1.16.11",
  "aws-sdk-java/2.25.60 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/UrlConnection cfg/retry-mode#legacy",
  "Botocore/1.34.131 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython",
  "Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.7",
  "aws-cli/2.17.5 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 exec-env/EC2",
  "aws-chalice/1.31.2",
  "aws-sdk-rust/1.3.1 os/linux lang/rust/1.79.0",
];
// What an SSRF or XXE sends: the vulnerable application's own HTTP client, or a browser.
const FOREIGN_AGENTS = [
  "curl/8.5.0",
  "python-requests/2.32.3",
  "Go-http-client/1.1",
  "Java/17.0.11",
  "Apache-HttpClient/4.5.14 (Java/17.0.11)",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  // The prefix must be at the start: appending an SDK's name to one's own agent does not pass.
  "python-requests/2.32.3 aws-sdk-js/3.600.0",
  // Prefixes are case-sensitive, as the SDKs send them.
  "botocore/1.34.131",
];

function get(target: string, headers: Record<string, string> = {}): MetadataRequest {
  return { method: "GET", target, headers };
}

describe("judgeMetadataRequest", () => {
  test("the AWS SDKs' and tools' user agents are allowed", () => {
    for (const agent of SDK_AGENTS)
      assert.deepEqual(judgeMetadataRequest(get(CREDS_PATH, { "user-agent": agent })), { allow: true }, agent);
  });

  test("any other user agent is refused with 401 and the code `agent`", () => {
    for (const agent of FOREIGN_AGENTS) {
      const v = judgeMetadataRequest(get(CREDS_PATH, { "user-agent": agent }));
      assert.equal(v.allow, false, agent);
      assert.ok(!v.allow && v.code === "agent" && v.status === 401, agent);
    }
  });

  test("a request relayed by another proxy is refused even with an SDK's user agent", () => {
    for (const h of ["x-forwarded-for", "forwarded", "via", "x-real-ip", "x-forwarded-host"]) {
      const v = judgeMetadataRequest(get(CREDS_PATH, { "user-agent": SDK_AGENTS[0] as string, [h]: "203.0.113.9" }));
      assert.ok(!v.allow && v.code === "forwarded" && v.status === 403, h);
    }
  });

  test("only GET, HEAD and the token PUT are allowed; proxy-style targets are refused", () => {
    const agent = { "user-agent": SDK_AGENTS[0] as string };
    const ttl = { "x-aws-ec2-metadata-token-ttl-seconds": "21600" };
    assert.deepEqual(
      judgeMetadataRequest({ method: "PUT", target: "/latest/api/token", headers: { ...agent, ...ttl } }),
      {
        allow: true,
      },
    );
    assert.deepEqual(judgeMetadataRequest({ method: "HEAD", target: "/latest/meta-data/", headers: agent }), {
      allow: true,
    });
    for (const [method, target] of [
      ["PUT", "/latest/meta-data/"],
      ["POST", "/latest/api/token"],
      ["DELETE", CREDS_PATH],
    ] as const) {
      const v = judgeMetadataRequest({ method, target, headers: agent });
      assert.ok(!v.allow && v.code === "method" && v.status === 405, `${method} ${target}`);
    }
    const absolute = judgeMetadataRequest(get(`http://169.254.169.254${CREDS_PATH}`, agent));
    assert.ok(!absolute.allow && absolute.code === "target");
  });

  test("without a user agent, only IMDSv2 requests pass (the JavaScript SDK v3 sends none), unless requireAgent", () => {
    const tokenPut: MetadataRequest = {
      method: "PUT",
      target: "/latest/api/token",
      headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" },
    };
    const v2Get = get(CREDS_PATH, { "x-aws-ec2-metadata-token": "AQAEA…" });
    assert.deepEqual(judgeMetadataRequest(tokenPut), { allow: true });
    assert.deepEqual(judgeMetadataRequest(v2Get), { allow: true });
    const v1Get = judgeMetadataRequest(get(CREDS_PATH));
    assert.ok(!v1Get.allow && v1Get.code === "agent" && v1Get.status === 401);
    const empty = judgeMetadataRequest(get(CREDS_PATH, { "user-agent": "" }));
    assert.ok(!empty.allow && empty.code === "agent");
    for (const r of [tokenPut, v2Get]) {
      const v = judgeMetadataRequest(r, { requireAgent: true });
      assert.ok(!v.allow && v.code === "agent");
    }
  });

  test("configured prefixes replace the defaults", () => {
    const opts = { allowedAgentPrefixes: ["Cloud-Init/"] };
    assert.deepEqual(judgeMetadataRequest(get("/latest/user-data", { "user-agent": "Cloud-Init/23.1.1" }), opts), {
      allow: true,
    });
    assert.equal(judgeMetadataRequest(get(CREDS_PATH, { "user-agent": SDK_AGENTS[0] as string }), opts).allow, false);
  });
});

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

function send(url: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the proxy in front of a metadata service", () => {
  let imds: FakeImds;
  let proxy: ImdsProxy;
  let url: string;
  const refusals: RefusalRecord[] = [];
  const upstreamErrors: unknown[] = [];

  before(async () => {
    // No local implementation of IMDS exists as a library: src/test-helpers/fake-imds.ts plays it.
    imds = await startFakeImds({ httpTokens: "optional" });
    proxy = createImdsProxy({
      upstream: imds.url,
      onRefusal: (r) => refusals.push(r),
      onUpstreamError: (e) => upstreamErrors.push(e),
    });
    const { port } = await proxy.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await proxy.close();
    await imds.close();
  });

  test("the AWS SDK for JavaScript v3 gets the role's credentials through it (IMDSv2, no user agent)", async (t) => {
    t.diagnostic(`fake metadata service at ${imds.url}, proxy at ${url}`);
    const saved = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = url;
    try {
      const before = imds.hits.get("/latest/api/token") ?? 0;
      const creds = await fromInstanceMetadata({ timeout: 2000, maxRetries: 0 })();
      assert.equal(creds.accessKeyId, imds.credentials.AccessKeyId);
      assert.equal(creds.sessionToken, imds.credentials.Token);
      assert.equal((imds.hits.get("/latest/api/token") ?? 0) - before, 1, "the token was fetched through the proxy");
    } finally {
      if (saved === undefined) delete process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
      else process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = saved;
    }
  });

  test("an SDK's IMDSv2 flow is forwarded unchanged, and nothing is cached", async () => {
    const agent = { "user-agent": SDK_AGENTS[2] as string };
    const token = await send(url, "PUT", "/latest/api/token", {
      ...agent,
      "x-aws-ec2-metadata-token-ttl-seconds": "60",
    });
    assert.equal(token.status, 200);
    assert.equal(token.headers["x-aws-ec2-metadata-token-ttl-seconds"], "60");
    const before = imds.hits.get(CREDS_PATH) ?? 0;
    for (let i = 0; i < 2; i++) {
      const r = await send(url, "GET", CREDS_PATH, { ...agent, "x-aws-ec2-metadata-token": token.body });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).SecretAccessKey, imds.credentials.SecretAccessKey);
    }
    assert.equal((imds.hits.get(CREDS_PATH) ?? 0) - before, 2, "each read reached the metadata service");
    const bad = await send(url, "GET", CREDS_PATH, { ...agent, "x-aws-ec2-metadata-token": "forged" });
    assert.equal(bad.status, 401, "the metadata service's own answer comes back as it is");
  });

  test("curl, a browser and a relayed request never reach the metadata service, and each refusal is logged", async () => {
    const hitsBefore = imds.hits.get(CREDS_PATH) ?? 0;
    const logged = refusals.length;
    const curl = await send(url, "GET", `${CREDS_PATH}?x=1`, { "user-agent": "curl/8.5.0" });
    assert.equal(curl.status, 401);
    assert.equal(curl.headers["cache-control"], "no-store");
    const browser = await send(url, "GET", CREDS_PATH, { "user-agent": FOREIGN_AGENTS[5] as string });
    assert.equal(browser.status, 401);
    const relayed = await send(url, "GET", CREDS_PATH, {
      "user-agent": SDK_AGENTS[0] as string,
      "x-forwarded-for": "198.51.100.7",
    });
    assert.equal(relayed.status, 403);
    const v1NoAgent = await send(url, "GET", CREDS_PATH);
    assert.equal(v1NoAgent.status, 401);
    assert.equal(imds.hits.get(CREDS_PATH) ?? 0, hitsBefore, "no refused request was forwarded");
    const mine = refusals.slice(logged);
    assert.deepEqual(
      mine.map((r) => [r.code, r.status, r.method, r.path]),
      [
        ["agent", 401, "GET", CREDS_PATH],
        ["agent", 401, "GET", CREDS_PATH],
        ["forwarded", 403, "GET", CREDS_PATH],
        ["agent", 401, "GET", CREDS_PATH],
      ],
    );
    assert.equal(mine[0]?.userAgent, "curl/8.5.0");
    assert.equal(mine[0]?.remoteAddress, "127.0.0.1");
    assert.equal(mine[3]?.userAgent, null);
    assert.equal(proxy.stats.refused.agent >= 3 && proxy.stats.refused.forwarded >= 1, true);
  });

  test("no token, secret or query string is ever written to the log", async () => {
    const token = await send(url, "PUT", "/latest/api/token", {
      "user-agent": SDK_AGENTS[0] as string,
      "x-aws-ec2-metadata-token-ttl-seconds": "60",
    });
    await send(url, "GET", `${CREDS_PATH}?secret=hunter2`, {
      "user-agent": "python-requests/2.32.3",
      "x-aws-ec2-metadata-token": token.body,
      authorization: "Bearer should-not-appear",
    });
    const log = JSON.stringify([refusals, upstreamErrors]);
    for (const secret of [
      token.body,
      "hunter2",
      "should-not-appear",
      imds.credentials.SecretAccessKey,
      imds.credentials.Token,
    ])
      assert.ok(!log.includes(secret), "a secret reached the log");
  });

  test("a metadata service that cannot be reached gives 502, named in the error callback", async () => {
    const dead = createImdsProxy({ upstream: "http://127.0.0.1:9", onUpstreamError: (e) => upstreamErrors.push(e) });
    const { port } = (await dead.listen({ host: "127.0.0.1", port: 0 })) as AddressInfo;
    try {
      const r = await send(`http://127.0.0.1:${port}`, "GET", "/latest/meta-data/", {
        "user-agent": SDK_AGENTS[0] as string,
      });
      assert.equal(r.status, 502);
      assert.equal(dead.stats.upstreamErrors, 1);
    } finally {
      await dead.close();
    }
  });
});

describe("firstcall imds-proxy", () => {
  test("listens, refuses curl with a JSON line on stderr, forwards an SDK, and exits 0 on SIGTERM", async (t) => {
    const imds = await startFakeImds();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", CLI_MAIN, "imds-proxy", "--listen", "127.0.0.1:0", "--upstream", imds.url],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8");
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000);
        child.stderr.on("data", (d: string) => {
          stderr += d;
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.on("exit", () => reject(new Error(`exited early: ${stderr}`)));
      });
      t.diagnostic(`proxy process on 127.0.0.1:${port}, fake metadata service at ${imds.url}`);
      const url = `http://127.0.0.1:${port}`;
      assert.equal((await send(url, "GET", CREDS_PATH, { "user-agent": "curl/8.5.0" })).status, 401);
      const ok = await send(url, "GET", "/latest/meta-data/instance-id", { "user-agent": SDK_AGENTS[3] as string });
      assert.equal(ok.body, "i-0123456789abcdef0");
      const code = await new Promise<number | null>((resolve) => {
        child.on("exit", (c) => resolve(c));
        child.kill("SIGTERM");
      });
      assert.equal(code, 0);
      const refusal = stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as RefusalRecord);
      assert.equal(refusal.length, 1);
      assert.equal(refusal[0]?.userAgent, "curl/8.5.0");
      assert.match(stderr, /stopped; allowed 1, refused forwarded 0, target 0, method 0, agent 1/);
    } finally {
      child.kill("SIGKILL");
      await imds.close();
    }
  });
});
