import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { cidrContains, cidrSize, exactCover, formatCidr, parseCidr, widenOnce } from "./cidr.js";

test("exactCover merges adjacent and overlapping blocks without adding an address", () => {
  assert.deepEqual(exactCover(["10.0.0.0/25", "10.0.0.128/25", "10.0.0.5"]).map(formatCidr), ["10.0.0.0/24"]);
  assert.deepEqual(exactCover(["198.51.100.1", "198.51.100.2"]).map(formatCidr), [
    "198.51.100.1/32",
    "198.51.100.2/32",
  ]);
  assert.deepEqual(exactCover(["198.51.100.2", "198.51.100.3"]).map(formatCidr), ["198.51.100.2/31"]);
  assert.deepEqual(exactCover(["2001:db8::1", "2001:db8::/127", "203.0.113.9"]).map(formatCidr), [
    "203.0.113.9/32",
    "2001:db8::/127",
  ]);
  assert.deepEqual(exactCover(["::ffff:192.0.2.1"]).map(formatCidr), ["192.0.2.1/32"], "IPv4-mapped counts as IPv4");
});

test("exactCover covers exactly the input addresses (property)", () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 40 }), (lasts) => {
      const addresses = lasts.map((n) => `192.0.2.${n}`);
      const cover = exactCover(addresses);
      for (let n = 0; n < 256; n++) {
        const inCover = cover.some((c) => cidrContains(c, parseCidr(`192.0.2.${n}`)));
        assert.equal(inCover, lasts.includes(n), `192.0.2.${n}`);
      }
    }),
    { numRuns: 200 },
  );
});

test("widenOnce merges the neighbours that add the fewest addresses, and says how many", () => {
  const cover = exactCover(["198.51.100.1", "198.51.100.6", "203.0.113.1"]);
  const step = widenOnce(cover);
  assert.ok(step);
  assert.deepEqual(step.step.merged, ["198.51.100.1/32", "198.51.100.6/32"]);
  assert.equal(step.step.into, "198.51.100.0/29");
  assert.equal(step.step.addedAddresses, 6n);
  assert.equal(step.cover.length, 2);
  const total = step.cover.reduce((n, c) => n + cidrSize(c), 0n);
  assert.equal(total, 8n + 1n);
  assert.equal(widenOnce(exactCover(["198.51.100.1", "2001:db8::1"])), undefined, "never across families");
});
