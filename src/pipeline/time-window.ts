/**
 * `--since` / `--until`: the time window a scan judges. Parsed here rather than by `new Date()`,
 * which reads a time without a zone in the machine's local zone (the same command then gives other
 * findings on another machine) and accepts free text such as "Jan 1 2024".
 *
 * Accepted, and nothing else:
 * - ISO-8601 / RFC 3339 date and time, `T` or a space between them, seconds and fractions optional,
 *   with `Z` or an offset (`+02:00`, `+0200`, `+02`); **without a zone it is UTC**, as CloudTrail's
 *   `eventTime` is: `2026-11-01T03:00Z`, `2026-11-01 03:00`, `2026-11-01T05:00:00+02:00`.
 * - A date: midnight UTC at its start: `2026-11-01`.
 * - A duration before now, like `aws logs tail --since`: a whole number and a unit, `s` `m` `h`
 *   `d` `w` (seconds, minutes, hours, days, weeks): `30m`, `24h`, `7d`, `2w`.
 */
import { UsageError } from "../errors.js";

/** Help and error text: what the flags accept. */
export const TIME_FORMATS_TEXT =
  "an ISO-8601 time (2026-11-01T03:00Z; without a zone it is UTC), a date (2026-11-01, midnight UTC) or a duration before now (30m, 24h, 7d, 2w)";

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const DURATION = /^(\d{1,9})([smhdw])$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/** Milliseconds since the epoch of a calendar date and time in UTC, or NaN when a field is out of range. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2026-02-30 over to March: a date that does not exist is refused instead.
  return new Date(t).getUTCDate() === day ? t : Number.NaN;
}

/**
 * One time of `--since` or `--until`, in milliseconds since the epoch.
 *
 * @throws UsageError (exit 2) naming the flag and what it accepts, when `text` is none of the forms above.
 * @example
 * parseTimeArgument("2026-11-01 03:00", "--since")            // Date.parse("2026-11-01T03:00:00Z"), whatever TZ is
 * parseTimeArgument("24h", "--since", Date.parse("2026-11-02T00:00:00Z")) // Date.parse("2026-11-01T00:00:00Z")
 */
export function parseTimeArgument(text: string, flag: string, now = Date.now()): number {
  const value = text.trim();
  let t = Number.NaN;
  const duration = DURATION.exec(value);
  const date = DATE.exec(value);
  const dateTime = DATE_TIME.exec(value);
  if (duration) {
    t = now - Number(duration[1]) * (UNIT_MS[duration[2] as string] as number);
  } else if (date) {
    t = utc(Number(date[1]), Number(date[2]), Number(date[3]));
  } else if (dateTime) {
    const [, y, mo, d, h, mi, s, fraction, , sign, offH, offM] = dateTime;
    const ms = fraction ? Math.floor(Number(`0.${fraction}`) * 1000) : 0;
    t = utc(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s ?? 0), ms);
    if (sign) {
      const hours = Number(offH);
      const minutes = Number(offM ?? 0);
      if (hours > 23 || minutes > 59) t = Number.NaN;
      else t -= (sign === "-" ? -1 : 1) * (hours * 60 + minutes) * 60_000;
    }
  }
  if (Number.isNaN(t)) {
    throw new UsageError("E_USAGE", `${flag}: not a time: ${JSON.stringify(text)}; use ${TIME_FORMATS_TEXT}`);
  }
  return t;
}

export interface TimeWindow {
  readonly since?: Date;
  readonly until?: Date;
}

/**
 * The window of `--since` and `--until` (either may be absent). Both durations are taken relative to
 * the same `now`.
 *
 * @throws UsageError (exit 2) for a time it cannot read, or when `since` is not before `until`
 *   (the window `[since, until)` would hold no event).
 * @example
 * parseTimeWindow({ since: "7d" })                                  // { since: <7 days ago> }
 * parseTimeWindow({ since: "2026-11-02", until: "2026-11-01" })     // throws: --since is not before --until
 */
export function parseTimeWindow(flags: { since?: string; until?: string }, now = Date.now()): TimeWindow {
  const since = flags.since === undefined ? undefined : parseTimeArgument(flags.since, "--since", now);
  const until = flags.until === undefined ? undefined : parseTimeArgument(flags.until, "--until", now);
  if (since !== undefined && until !== undefined && since >= until) {
    throw new UsageError(
      "E_USAGE",
      `--since ${new Date(since).toISOString()} is not before --until ${new Date(until).toISOString()}: the window holds no time (events are taken at or after --since and before --until)`,
    );
  }
  return {
    ...(since !== undefined ? { since: new Date(since) } : {}),
    ...(until !== undefined ? { until: new Date(until) } : {}),
  };
}
