/**
 * Proxies, the way the AWS CLI and curl read them: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for
 * http ones, `ALL_PROXY` for both, lower-case forms too, and `NO_PROXY` (host names, domain
 * suffixes, `*`) for the hosts reached directly. One agent per proxy URL is kept, so connections to
 * the proxy are reused.
 *
 * @example
 * const agent = proxyAgentFor("https://sts.us-east-1.amazonaws.com/"); // undefined: connect directly
 */
import type { Agent } from "node:http";
import { HttpProxyAgent } from "http-proxy-agent";
import { HttpsProxyAgent } from "https-proxy-agent";
import { getProxyForUrl } from "proxy-from-env";

const agents = new Map<string, Agent>();

/** The agent that reaches `url` through the environment's proxy, or undefined to connect directly. */
export function proxyAgentFor(url: string): Agent | undefined {
  const proxy = getProxyForUrl(url);
  if (!proxy) return undefined;
  const https = url.startsWith("https:");
  const key = `${https ? "https" : "http"} ${proxy}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = https ? new HttpsProxyAgent(proxy) : new HttpProxyAgent(proxy);
    agents.set(key, agent);
  }
  return agent;
}

/**
 * The proxy `url` would go through, with any user name and password removed (for messages: a proxy
 * URL may carry credentials, which are never printed).
 */
export function proxyShownFor(url: string): string | undefined {
  const proxy = getProxyForUrl(url);
  if (!proxy) return undefined;
  try {
    const u = new URL(proxy);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparsable proxy URL)";
  }
}
