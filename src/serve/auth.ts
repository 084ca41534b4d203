/**
 * Who may use `firstcall serve`. One secret, the API token: sent as `Authorization: Bearer …` by
 * programs; a browser exchanges it (or a one-time login code printed with it) for a session cookie,
 * so the token never sits in a page, a URL that can be replayed, or JavaScript.
 *
 * - Every secret is compared as a SHA-256 digest with `timingSafeEqual`: equal lengths, constant time,
 *   and the maps below are keyed by digests, so a lookup's timing says nothing about a valid value.
 * - Login codes work once. Sessions live in this process only (a restart logs everyone out) and
 *   expire after {@link SESSION_TTL_MS}.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** The browser session cookie: HttpOnly, SameSite=Strict, whole site. */
export const SESSION_COOKIE = "firstcall_session";
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Shorter tokens are refused: a token is the only thing between the network and the findings. */
export const MIN_TOKEN_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** A new random secret: 32 bytes, base64url (43 characters). */
export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** `a === b` in constant time (over their digests). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The token and the sessions of one server.
 *
 * @example
 * const auth = new ServeAuth(randomSecret());
 * const code = auth.newLoginCode();           // print `${url}/login?code=${code}` once
 * const session = auth.redeemLoginCode(code); // set as the cookie; the code is now spent
 * auth.checkSession(session);                 // true
 */
export class ServeAuth {
  private readonly tokenDigest: Buffer;
  private readonly codes = new Set<string>();
  private readonly sessions = new Map<string, number>();

  constructor(token: string) {
    this.tokenDigest = digest(token);
  }

  /** Whether `candidate` is the token. */
  checkToken(candidate: string): boolean {
    return timingSafeEqual(this.tokenDigest, digest(candidate));
  }

  /** Whether an `Authorization` header carries the token (`Bearer <token>`). */
  checkAuthorization(header: string | undefined): boolean {
    if (!header) return false;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return m !== null && this.checkToken(m[1] as string);
  }

  /** A code that logs a browser in once. */
  newLoginCode(): string {
    const code = randomSecret();
    this.codes.add(digest(code).toString("hex"));
    return code;
  }

  /** A new session for a valid login code (which is spent), else undefined. */
  redeemLoginCode(code: string): string | undefined {
    const key = digest(code).toString("hex");
    if (!this.codes.delete(key)) return undefined;
    return this.newSession();
  }

  /** A new session for the token typed into the login form, else undefined. */
  loginWithToken(token: string): string | undefined {
    return this.checkToken(token) ? this.newSession() : undefined;
  }

  private newSession(): string {
    const session = randomSecret();
    this.sessions.set(digest(session).toString("hex"), Date.now() + SESSION_TTL_MS);
    return session;
  }

  /** Whether a cookie value is a live session. */
  checkSession(session: string | undefined, now = Date.now()): boolean {
    if (!session) return false;
    const key = digest(session).toString("hex");
    const until = this.sessions.get(key);
    if (until === undefined) return false;
    if (until < now) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }

  endSession(session: string | undefined): void {
    if (session) this.sessions.delete(digest(session).toString("hex"));
  }
}
