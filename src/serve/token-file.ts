/**
 * Token files of `firstcall serve` (`--token-file`, `--read-only-token-file`): read when present
 * (with a warning when other users may read it), created with a new random token when missing —
 * owner-only from the first byte (`open(…, "wx", 0o600)`), so the token is never readable by others,
 * not even for a moment.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { UsageError } from "../errors.js";
import { safeText } from "../safe-text.js";
import { MIN_TOKEN_LENGTH, randomSecret } from "./auth.js";

/**
 * The token in `file`, or a new one written there when the file does not exist.
 * @param flag the option that named the file, for messages
 * @throws UsageError naming the flag and file when it cannot be read or created, or holds a short token
 * @example const { token, created } = tokenFromFile("--token-file", "/home/me/.config/firstcall/token")
 */
export function tokenFromFile(
  flag: string,
  file: string,
  warn: (line: string) => void = (line) => process.stderr.write(`firstcall serve: ${line}\n`),
): { token: string; created: boolean } {
  let fd: number | undefined;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST")
      throw new UsageError(
        "E_USAGE",
        `${flag} ${safeText(file)}: cannot create: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
  }
  if (fd !== undefined) {
    const token = randomSecret();
    try {
      writeSync(fd, `${token}\n`);
    } finally {
      closeSync(fd);
    }
    return { token, created: true };
  }
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new UsageError(
      "E_USAGE",
      `${flag} ${safeText(file)}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (token.length < MIN_TOKEN_LENGTH)
    throw new UsageError(
      "E_USAGE",
      `${flag} ${safeText(file)}: the token is shorter than ${MIN_TOKEN_LENGTH} characters`,
    );
  if (process.platform !== "win32" && (statSync(file).mode & 0o077) !== 0)
    warn(`WARNING: ${safeText(file)} can be read by other users: chmod 600 it`);
  return { token, created: false };
}
