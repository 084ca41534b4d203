import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../errors.js";
import { parseTimeArgument, parseTimeWindow } from "./time-window.js";

const NOW = Date.parse("2026-11-10T12:00:00Z");
const parse = (text: string) => new Date(parseTimeArgument(text, "--since", NOW)).toISOString();

describe("parseTimeArgument", () => {
  test("ISO-8601 with Z or an offset, in any spelling RFC 3339 allows", () => {
    assert.equal(parse("2026-11-01T03:00:00Z"), "2026-11-01T03:00:00.000Z");
    assert.equal(parse("2026-11-01T03:00Z"), "2026-11-01T03:00:00.000Z");
    assert.equal(parse("2026-11-01t03:00:00.250z"), "2026-11-01T03:00:00.250Z");
    assert.equal(parse("2026-11-01T05:00:00+02:00"), "2026-11-01T03:00:00.000Z");
    assert.equal(parse("2026-11-01T05:00+0200"), "2026-11-01T03:00:00.000Z");
    assert.equal(parse("2026-10-31T23:00:00-04"), "2026-11-01T03:00:00.000Z");
  });

  test("a time without a zone is UTC, whatever the machine's zone", () => {
    assert.equal(parse("2026-11-01 03:00"), "2026-11-01T03:00:00.000Z");
    assert.equal(parse("2026-11-01T03:00:00"), "2026-11-01T03:00:00.000Z");
  });

  test("a date is midnight UTC at its start", () => {
    assert.equal(parse("2026-11-01"), "2026-11-01T00:00:00.000Z");
  });

  test("a duration counts back from now (s, m, h, d, w)", () => {
    assert.equal(parse("30s"), "2026-11-10T11:59:30.000Z");
    assert.equal(parse("30m"), "2026-11-10T11:30:00.000Z");
    assert.equal(parse("24h"), "2026-11-09T12:00:00.000Z");
    assert.equal(parse("7d"), "2026-11-03T12:00:00.000Z");
    assert.equal(parse("2w"), "2026-10-27T12:00:00.000Z");
  });

  test("anything else is a usage error that names the flag and the accepted forms", () => {
    for (const bad of [
      "Jan 1 2024",
      "yesterday",
      "",
      "1700000000",
      "2026-11-01T03",
      "2026-02-30",
      "2026-13-01",
      "2026-11-01T24:00Z",
      "2026-11-01T03:00+25:00",
      "24 h",
      "-7d",
      "7y",
      "Sun, 01 Nov 2026 03:00:00 GMT",
    ]) {
      assert.throws(
        () => parseTimeArgument(bad, "--since", NOW),
        (e: unknown) =>
          e instanceof UsageError &&
          e.code === "E_USAGE" &&
          e.message.startsWith(`--since: not a time: ${JSON.stringify(bad)}`) &&
          /without a zone it is UTC/.test(e.message),
        bad,
      );
    }
  });
});

describe("parseTimeWindow", () => {
  test("either end may be absent", () => {
    assert.deepEqual(parseTimeWindow({}, NOW), {});
    assert.deepEqual(parseTimeWindow({ since: "1d" }, NOW), { since: new Date("2026-11-09T12:00:00Z") });
    assert.deepEqual(parseTimeWindow({ until: "2026-11-01" }, NOW), { until: new Date("2026-11-01T00:00:00Z") });
  });

  test("an inverted or empty window is a usage error", () => {
    for (const [since, until] of [
      ["2026-11-02", "2026-11-01"],
      ["2026-11-01T00:00Z", "2026-11-01"],
      ["1h", "2h"],
    ]) {
      assert.throws(
        () => parseTimeWindow({ since, until }, NOW),
        (e: unknown) => e instanceof UsageError && /^--since .* is not before --until /.test(e.message),
        `${since} .. ${until}`,
      );
    }
    assert.deepEqual(parseTimeWindow({ since: "2h", until: "1h" }, NOW), {
      since: new Date("2026-11-10T10:00:00Z"),
      until: new Date("2026-11-10T11:00:00Z"),
    });
  });
});
