/**
 * fast-check arbitraries for JSON *text* (not values): CloudTrail-like objects written with the
 * freedoms JSON allows and serialisers rarely use — whitespace anywhere, `\uXXXX` escapes in keys and
 * values, duplicate keys, nested look-alike keys — to test code that reads JSON text without parsing it.
 */
import fc from "fast-check";

/** One character of a string and whether to write it as a `\uXXXX` escape. */
interface StringChar {
  readonly c: string;
  readonly u: boolean;
}

function writeString(chars: readonly StringChar[]): string {
  let out = '"';
  for (const { c, u } of chars) {
    const code = c.charCodeAt(0);
    if (u && c.length === 1) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else if (c === '"') out += '\\"';
    else if (c === "\\") out += "\\\\";
    else if (c === "\n") out += "\\n";
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += c;
  }
  return `${out}"`;
}

/** A given word written as a JSON string, some of its characters escaped (rarely). */
function wordText(word: string): fc.Arbitrary<string> {
  return fc
    .array(fc.integer({ min: 0, max: 19 }), { minLength: word.length, maxLength: word.length })
    .map((rolls) => writeString([...word].map((c, i) => ({ c, u: (rolls[i] ?? 1) === 0 }))));
}

const TRICKY_CHARS = ["a", "I", "n", '"', "\\", "{", "}", "[", "]", ",", ":", " ", "é", "😀", "\u2028", "\n", "/", "u"];

/** A short string of characters that trouble scanners (quotes, backslashes, brackets, non-ASCII). */
export const trickyStringText: fc.Arbitrary<string> = fc
  .array(fc.record({ c: fc.constantFrom(...TRICKY_CHARS), u: fc.boolean() }), { maxLength: 10 })
  .map(writeString);

const space = fc.constantFrom("", "", "", "", " ", "\n", "\r\n  ", "\t");

const TIMES = ["2026-11-01T00:00:00Z", "2026-11-01T00:01:00.000Z", "yesterday", ""];
const KEYS = [
  "eventName",
  "eventSource",
  "eventVersion",
  "eventTime",
  "@timestamp",
  "eventID",
  "eventCategory",
  "eventType",
  "Records",
  "detail",
  "detail-type",
  "awslogs",
  "userAgent",
  "requestParameters",
  "x",
];

const scalarText: fc.Arbitrary<string> = fc.oneof(
  trickyStringText,
  fc.constantFrom(...TIMES, "Insight", "AwsCloudTrailInsight", "Management").chain(wordText),
  fc.constantFrom("0", "-1.5e3", "true", "false", "null", "17"),
);

/** A JSON value as text: scalars, arrays and objects with CloudTrail's keys, to a small depth. */
export const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalarText, tie("object"), tie("array")),
  array: fc
    .tuple(fc.array(fc.tuple(space, tie("value"), space), { maxLength: 3 }), space)
    .map(([items, s]) => (items.length === 0 ? `[${s}]` : `[${items.map(([a, v, b]) => `${a}${v}${b}`).join(",")}]`)),
  object: fc
    .tuple(
      fc.array(fc.tuple(space, fc.constantFrom(...KEYS).chain(wordText), space, space, tie("value"), space), {
        maxLength: 5,
      }),
      space,
    )
    .map(([members, s]) =>
      members.length === 0
        ? `{${s}}`
        : `{${members.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(",")}}`,
    ),
})).value;

/** An object that is usually a record: time, name and source mostly present, plus random members. */
export const recordText: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...TIMES, undefined).map((t) => (t === undefined ? undefined : JSON.stringify(t))),
    fc.option(fc.constantFrom("eventName", "eventSource").chain(wordText)),
    fc.option(fc.constantFrom("Insight", "Management", "Data").chain(wordText)),
    fc.array(fc.tuple(fc.constantFrom(...KEYS).chain(wordText), valueText, space), { maxLength: 4 }),
    fc.uuid(),
    space,
  )
  .map(([time, nameKey, category, extra, id, s]) => {
    const members = [`"eventVersion":"1.08"`, `${s}"eventID":"${id}"`];
    if (time !== undefined) members.push(`"eventTime":${time}`);
    if (nameKey) members.push(`${nameKey}:"GetObject"`);
    if (category) members.push(`"eventCategory":${category}`);
    for (const [k, v, sp] of extra) members.push(`${sp}${k}${sp}:${v}`);
    return `{${members.join(",")}}`;
  });
