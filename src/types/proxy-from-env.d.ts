/** Types for proxy-from-env 2 (the package ships none). */
declare module "proxy-from-env" {
  /**
   * The proxy URL for `url` from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (and their lower-case forms),
   * honouring NO_PROXY; the empty string for a direct connection.
   */
  export function getProxyForUrl(url: string | URL): string;
}
