import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { ipFamily, isDottedQuad } from "./ip.js";

/** Strings close to dotted quads: the places where a hand-written check could differ from ipaddr.js. */
const nearQuad = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.constantFrom("0", "00", "01", "255", "256", "999", "1000", "", "-1", "+1", " 1", "1 ", "0x1", "1e2", "٣"),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .chain((parts) => fc.constantFrom(".", "..", ":", ",").map((sep) => parts.join(sep === "." ? "." : sep)));

test("isDottedQuad accepts exactly what ipaddr.js's isValidFourPartDecimal accepts", () => {
  fc.assert(
    fc.property(fc.oneof(nearQuad, fc.string({ maxLength: 16 }), fc.ipV4()), (s) => {
      assert.equal(isDottedQuad(s), ipaddr.IPv4.isValidFourPartDecimal(s), JSON.stringify(s));
    }),
    { numRuns: 20_000 },
  );
  for (const s of ["0.0.0.0", "255.255.255.255", "10.0.0.1", "1.2.3.4"]) assert.equal(isDottedQuad(s), true, s);
  for (const s of ["01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "", "1..2.3", "0x1.2.3.4"])
    assert.equal(isDottedQuad(s), false, s);
});

test("ipFamily: dotted quads, IPv6, IPv4-mapped IPv6 and service names", () => {
  assert.equal(ipFamily("203.0.113.7"), 4);
  assert.equal(ipFamily("2001:db8::1"), 6);
  assert.equal(ipFamily("::ffff:203.0.113.7"), 4);
  assert.equal(ipFamily("ec2.amazonaws.com"), undefined);
  assert.equal(ipFamily("AWS Internal"), undefined);
  assert.equal(ipFamily("010.0.0.1"), undefined);
});

test("ipFamily remembers other strings without changing its answers", () => {
  for (let round = 0; round < 3; round++) {
    assert.equal(ipFamily("2001:db8::7"), 6);
    assert.equal(ipFamily("::ffff:10.1.2.3"), 4);
    assert.equal(ipFamily("lambda.amazonaws.com"), undefined);
  }
});
