/**
 * Who may use `firstcall serve`. The API token (role `admin`: may also acknowledge and suppress
 * findings) and, optionally, a read-only token (role `read`: sees everything, changes nothing): sent
 * as `Authorization: Bearer …` by programs; a browser exchanges one (or a one-time login code printed
 * with the admin token) for a session cookie of the same role, so a token never sits in a page, a
 * URL that can be replayed, or JavaScript.
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

/** What a token, and a session made from it, may do: `admin` reads and changes triage, `read` only reads. */
export type Role = "admin" | "read";

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
  private readonly readTokenDigest: Buffer | undefined;
  private readonly codes = new Map<string, Role>();
  private readonly sessions = new Map<string, { until: number; role: Role }>();

  /**
   * @param token the admin token
   * @param readOnlyToken a token that may only read (must differ from the admin token)
   */
  constructor(token: string, readOnlyToken?: string) {
    if (readOnlyToken !== undefined && sameSecret(token, readOnlyToken))
      throw new Error("the read-only token must differ from the API token");
    this.tokenDigest = digest(token);
    this.readTokenDigest = readOnlyToken === undefined ? undefined : digest(readOnlyToken);
  }

  /** Whether `candidate` is the admin token. */
  checkToken(candidate: string): boolean {
    return this.roleOfToken(candidate) === "admin";
  }

  /**
   * The role of a token, if it is one. Both digests are always compared (constant time each), so the
   * time taken does not tell which token was close.
   */
  roleOfToken(candidate: string): Role | undefined {
    const d = digest(candidate);
    const admin = timingSafeEqual(this.tokenDigest, d);
    const read = this.readTokenDigest !== undefined && timingSafeEqual(this.readTokenDigest, d);
    return admin ? "admin" : read ? "read" : undefined;
  }

  /** Whether an `Authorization` header carries a token (`Bearer <token>`) of any role. */
  checkAuthorization(header: string | undefined): boolean {
    return this.roleOfAuthorization(header) !== undefined;
  }

  /** The role of the token an `Authorization` header carries, if any. */
  roleOfAuthorization(header: string | undefined): Role | undefined {
    if (!header) return undefined;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return m === null ? undefined : this.roleOfToken(m[1] as string);
  }

  /** A code that logs a browser in once, with `role` (the admin's by default). */
  newLoginCode(role: Role = "admin"): string {
    const code = randomSecret();
    this.codes.set(digest(code).toString("hex"), role);
    return code;
  }

  /** A new session for a valid login code (which is spent), else undefined. */
  redeemLoginCode(code: string): string | undefined {
    const key = digest(code).toString("hex");
    const role = this.codes.get(key);
    if (role === undefined) return undefined;
    this.codes.delete(key);
    return this.newSession(role);
  }

  /** A new session for a token typed into the login form (of the token's role), else undefined. */
  loginWithToken(token: string): string | undefined {
    const role = this.roleOfToken(token);
    return role === undefined ? undefined : this.newSession(role);
  }

  private newSession(role: Role): string {
    const session = randomSecret();
    this.sessions.set(digest(session).toString("hex"), { until: Date.now() + SESSION_TTL_MS, role });
    return session;
  }

  /** Whether a cookie value is a live session. */
  checkSession(session: string | undefined, now = Date.now()): boolean {
    return this.roleOfSession(session, now) !== undefined;
  }

  /** The role of a live session, if the cookie value is one. */
  roleOfSession(session: string | undefined, now = Date.now()): Role | undefined {
    if (!session) return undefined;
    const key = digest(session).toString("hex");
    const s = this.sessions.get(key);
    if (s === undefined) return undefined;
    if (s.until < now) {
      this.sessions.delete(key);
      return undefined;
    }
    return s.role;
  }

  endSession(session: string | undefined): void {
    if (session) this.sessions.delete(digest(session).toString("hex"));
  }
}
