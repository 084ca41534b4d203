/**
 * The fast path of the reader: the facts of one record read straight from its JSON text, without
 * building the record. Returns undefined whenever it is not certain, and the caller falls back to
 * `JSON.parse` + `factsOf` — so the fast path can only ever be faster, never different.
 *
 * How it stays exact:
 * - The whole record is validated as JSON while it is scanned (strings, escapes, numbers, literals,
 *   commas, colons, nesting); text that `JSON.parse` would reject gives undefined.
 * - Only the fields `toEngineEvent` reads are kept (`EXTRACTED_PATHS`), as positions in the text, the
 *   last of duplicate keys winning as in `JSON.parse`. Escaped strings are decoded by `JSON.parse`.
 * - The common case — a call made with a role session, every field read a plain string — is built
 *   here, mirroring `toEngineEvent` (the differential test proves them equal). Everything else the
 *   engine may use (STS issuing calls, EC2 address changes, fields of unexpected types) goes through a
 *   stand-in record holding exactly the values `JSON.parse` would give for the fields read, and
 *   `toEngineEvent` itself runs on it.
 *
 * How it is fast: one pass with no allocation while scanning; strings are skipped with `indexOf` (a
 * native search) unless they hold a backslash, when the record holds no control character (checked
 * with a native regular-expression scan that serves all the records up to the first such character);
 * only the strings returned are copied.
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import {
  ADDRESS_EVENTS,
  type Caller,
  type EngineEvent,
  ISSUING_CALLS,
  isInstanceId,
  roleArnOfSession,
  toEngineEvent,
} from "../engine/event.js";
import type { RecordFacts } from "./facts.js";

const TAB = 9;
const LINE_FEED = 10;
const CARRIAGE_RETURN = 13;
const SPACE = 32;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const SLASH = 47;
const DIGIT_0 = 48;
const DIGIT_1 = 49;
const DIGIT_9 = 57;
const COLON = 58;
const UPPER_A = 65;
const UPPER_E = 69;
const UPPER_F = 70;
const UPPER_T = 84;
const UPPER_Z = 90;
const OPEN_BRACKET = 91;
const BACKSLASH = 92;
const CLOSE_BRACKET = 93;
const LOWER_A = 97;
const LOWER_B = 98;
const LOWER_E = 101;
const LOWER_F = 102;
const LOWER_L = 108;
const LOWER_N = 110;
const LOWER_R = 114;
const LOWER_S = 115;
const LOWER_T = 116;
const LOWER_U = 117;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

// ---------------------------------------------------------------------------------------------------
// The fields read, by level. A field with a child level is descended into when its value is an object.

const LEVEL_RECORD = 0;
const LEVEL_IDENTITY = 1;
const LEVEL_SESSION = 2;
const LEVEL_ISSUER = 3;
const LEVEL_SCOPE = 4;
const LEVEL_COUNT = 5;
const NO_CHILD = -1;

/** Top-level keys of the envelopes the decoder reads (`isEnvelope` in read-object.ts): never a plain record's. */
export const ENVELOPE_KEYS = [
  "Records",
  "detail",
  "detail-type",
  "messageType",
  "logEvents",
  "awslogs",
  "Events",
  "CloudTrailEvent",
  "digestStartTime",
  "logFiles",
  "digestS3Object",
] as const;

interface FieldSpec {
  readonly level: number;
  readonly name: string;
  readonly child: number;
}

const FIELDS: readonly FieldSpec[] = [
  { level: LEVEL_RECORD, name: "eventTime", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "@timestamp", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "eventID", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "eventSource", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "eventName", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "awsRegion", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "sourceIPAddress", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "userAgent", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "errorCode", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "recipientAccountId", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "vpcEndpointId", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "vpcEndpointAccountId", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "requestID", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "userIdentity", child: LEVEL_IDENTITY },
  { level: LEVEL_RECORD, name: "requestParameters", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "responseElements", child: NO_CHILD },
  // Not read for the facts: they tell a plain record from an Insights record or an envelope
  // (`fastRecordAt`, which has no cutter to tell it).
  { level: LEVEL_RECORD, name: "eventCategory", child: NO_CHILD },
  { level: LEVEL_RECORD, name: "eventType", child: NO_CHILD },
  ...ENVELOPE_KEYS.map((name) => ({ level: LEVEL_RECORD, name, child: NO_CHILD })),
  { level: LEVEL_IDENTITY, name: "type", child: NO_CHILD },
  { level: LEVEL_IDENTITY, name: "arn", child: NO_CHILD },
  { level: LEVEL_IDENTITY, name: "accountId", child: NO_CHILD },
  { level: LEVEL_IDENTITY, name: "accessKeyId", child: NO_CHILD },
  { level: LEVEL_IDENTITY, name: "invokedBy", child: NO_CHILD },
  { level: LEVEL_IDENTITY, name: "sessionContext", child: LEVEL_SESSION },
  { level: LEVEL_IDENTITY, name: "inScopeOf", child: LEVEL_SCOPE },
  { level: LEVEL_SESSION, name: "ec2RoleDelivery", child: NO_CHILD },
  { level: LEVEL_SESSION, name: "ec2IssuedInVPC", child: NO_CHILD },
  { level: LEVEL_SESSION, name: "sessionIssuer", child: LEVEL_ISSUER },
  { level: LEVEL_ISSUER, name: "arn", child: NO_CHILD },
  { level: LEVEL_SCOPE, name: "issuerType", child: NO_CHILD },
];

function fieldId(level: number, name: string): number {
  const id = FIELDS.findIndex((f) => f.level === level && f.name === name);
  if (id === -1) throw new Error(`fast-extract: no field ${name} at level ${level}`);
  return id;
}

const EVENT_TIME = fieldId(LEVEL_RECORD, "eventTime");
const TIMESTAMP = fieldId(LEVEL_RECORD, "@timestamp");
const EVENT_ID = fieldId(LEVEL_RECORD, "eventID");
const EVENT_SOURCE = fieldId(LEVEL_RECORD, "eventSource");
const EVENT_NAME = fieldId(LEVEL_RECORD, "eventName");
const AWS_REGION = fieldId(LEVEL_RECORD, "awsRegion");
const SOURCE_IP = fieldId(LEVEL_RECORD, "sourceIPAddress");
const USER_AGENT = fieldId(LEVEL_RECORD, "userAgent");
const ERROR_CODE = fieldId(LEVEL_RECORD, "errorCode");
const RECIPIENT_ACCOUNT = fieldId(LEVEL_RECORD, "recipientAccountId");
const VPC_ENDPOINT = fieldId(LEVEL_RECORD, "vpcEndpointId");
const VPC_ENDPOINT_ACCOUNT = fieldId(LEVEL_RECORD, "vpcEndpointAccountId");
const REQUEST_ID = fieldId(LEVEL_RECORD, "requestID");
const USER_IDENTITY = fieldId(LEVEL_RECORD, "userIdentity");
const REQUEST_PARAMETERS = fieldId(LEVEL_RECORD, "requestParameters");
const RESPONSE_ELEMENTS = fieldId(LEVEL_RECORD, "responseElements");
const EVENT_CATEGORY = fieldId(LEVEL_RECORD, "eventCategory");
const EVENT_TYPE = fieldId(LEVEL_RECORD, "eventType");
/** The keys that make the decoder read an object as an envelope (`isEnvelope` in read-object.ts), when present. */
const ENVELOPE_FIELDS = Int8Array.from(ENVELOPE_KEYS.map((name) => fieldId(LEVEL_RECORD, name)));
const IDENTITY_TYPE = fieldId(LEVEL_IDENTITY, "type");
const IDENTITY_ARN = fieldId(LEVEL_IDENTITY, "arn");
const IDENTITY_ACCOUNT = fieldId(LEVEL_IDENTITY, "accountId");
const IDENTITY_KEY = fieldId(LEVEL_IDENTITY, "accessKeyId");
const IDENTITY_INVOKED_BY = fieldId(LEVEL_IDENTITY, "invokedBy");
const SESSION_CONTEXT = fieldId(LEVEL_IDENTITY, "sessionContext");
const IN_SCOPE_OF = fieldId(LEVEL_IDENTITY, "inScopeOf");
const ROLE_DELIVERY = fieldId(LEVEL_SESSION, "ec2RoleDelivery");
const ISSUED_IN_VPC = fieldId(LEVEL_SESSION, "ec2IssuedInVPC");
const SESSION_ISSUER = fieldId(LEVEL_SESSION, "sessionIssuer");
const ISSUER_ARN = fieldId(LEVEL_ISSUER, "arn");
const ISSUER_TYPE = fieldId(LEVEL_SCOPE, "issuerType");

/**
 * The record paths the fast path finds (`requestParameters` and `responseElements` whole). Every
 * field `toEngineEvent` reads must be one of them; the differential test checks this with a proxy.
 */
export const EXTRACTED_PATHS: readonly string[] = FIELDS.map((f) => {
  const path: string[] = [f.name];
  let level = f.level;
  while (level !== LEVEL_RECORD) {
    const parent = FIELDS.find((p) => p.child === level);
    if (!parent) throw new Error("fast-extract: orphan level");
    path.unshift(parent.name);
    level = parent.level;
  }
  return path.join(".");
});

const FIELD_LEVEL = Int8Array.from(FIELDS, (f) => f.level);
const FIELD_CHILD = Int8Array.from(FIELDS, (f) => f.child);
const FIELD_NAME = FIELDS.map((f) => f.name);
const FIELD_LENGTH = Int8Array.from(FIELDS, (f) => f.name.length);
const LEVEL_FIRST = Int8Array.from({ length: LEVEL_COUNT }, (_, l) => FIELD_LEVEL.indexOf(l));
const LEVEL_END = Int8Array.from({ length: LEVEL_COUNT }, (_, l) => FIELD_LEVEL.lastIndexOf(l) + 1);
const MAX_NAME_LENGTH = Math.max(...FIELD_LENGTH);

/**
 * Keys are looked up by a hash of their level, length and three of their characters (the first, the
 * one just after the middle and the next to last); a hit is then confirmed with `startsWith`. Built once; two wanted keys
 * never share a slot (checked here).
 */
const KEY_TABLE_BITS = 11;
const KEY_TABLE_MASK = (1 << KEY_TABLE_BITS) - 1;

function keySlot(level: number, length: number, first: number, middle: number, nextToLast: number): number {
  return (length * 977 + level * 131 + first * 29 + middle * 7 + nextToLast * 5) & KEY_TABLE_MASK;
}

const KEY_TABLE = new Int8Array(1 << KEY_TABLE_BITS).fill(-1);
for (let id = 0; id < FIELDS.length; id++) {
  const name = FIELD_NAME[id] as string;
  const n = name.length;
  const slot = keySlot(
    FIELD_LEVEL[id] as number,
    n,
    name.charCodeAt(0),
    name.charCodeAt((n >> 1) + 1),
    name.charCodeAt(n - 2),
  );
  if (KEY_TABLE[slot] !== -1) throw new Error(`fast-extract: key table collision for ${name}`);
  KEY_TABLE[slot] = id;
}

/** Keys written with escapes (never seen in CloudTrail) are decoded and looked up by name. */
const KEYS_BY_LEVEL: readonly Map<string, number>[] = Array.from({ length: LEVEL_COUNT }, (_, level) => {
  const m = new Map<string, number>();
  FIELDS.forEach((f, id) => {
    if (f.level === level) m.set(f.name, id);
  });
  return m;
});

// ---------------------------------------------------------------------------------------------------
// Scan state. One call at a time (JavaScript is single-threaded and nothing here calls back out), so
// the slots live in module-level typed arrays and nothing is allocated while scanning.

/** What a slot holds. */
const ABSENT = 0;
/** A string without escapes: the characters `[start, end)`. */
const PLAIN_STRING = 1;
/** A string with escapes: the characters `[start, end)`, to be decoded. */
const ESCAPED_STRING = 2;
/** Any other value (number, literal, array, object not descended into): the JSON text `[start, end)`. */
const OTHER_VALUE = 3;
/**
 * An object descended into: its fields are in the child level's slots. Slots of a level are valid only
 * when its parent's slot says so in the record at hand.
 */
const DESCENDED_OBJECT = 4;

const slotKind = new Int8Array(FIELDS.length);
const slotStart = new Int32Array(FIELDS.length);
const slotEnd = new Int32Array(FIELDS.length);

/** Set by `closingQuote` and `quickClosingQuote`: the string just scanned held a backslash escape. */
let sawEscape = false;

/** Deepest nesting the skippers follow; deeper records go to `JSON.parse` (which has no such limit). */
const MAX_DEPTH = 1024;
const containerStack = new Uint8Array(MAX_DEPTH);
const IN_OBJECT = 1;
const IN_ARRAY = 2;

/** The longest run without a control character, from `lastIndex`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const NO_CONTROL_RUN = /[^\u0000-\u001f]*/y;

/**
 * Matched against an empty string after the scan above: a successful match makes V8 keep its subject
 * (for the legacy `RegExp.input`), and that subject is the whole text.
 */
const FORGET_SUBJECT = /^/;

/** No backslash in the rest of the record. */
const NO_BACKSLASH = 0x7fffffff;
/** Index of the next backslash in the record being read by the quick scanner, or NO_BACKSLASH. */
let nextBackslash = NO_BACKSLASH;
/** End of the record being read (for bounded searches). */
let recordEnd = 0;

/**
 * The text the two searches below were made in (records of one text are read one after the other:
 * each search, made from one record, serves every record up to what it found, so the text is searched
 * once in all rather than once per record). `forgetFastText` lets it go.
 */
let searchedText = "";
/** The first control character at or after `controlFrom` in `searchedText` (its length when none). */
let controlFrom = 0;
let controlAt = -1;
/** The first backslash at or after `backslashFrom` in `searchedText` (its length when none). */
let backslashFrom = 0;
let backslashAt = -1;

/**
 * Drops the reader's hold on the last text it read (the searches above keep it); call when an object
 * is done, so that its text is not kept while the next one is fetched.
 */
export function forgetFastText(): void {
  searchedText = "";
  controlAt = -1;
  backslashAt = -1;
}

/**
 * Prepares the quick scanner for `text[start, end)` and returns true when the record holds no control
 * character (so no whitespace but spaces); otherwise the general scanner must read it.
 */
function prepareQuickScan(text: string, start: number, end: number): boolean {
  if (text !== searchedText) {
    searchedText = text;
    controlAt = -1;
    backslashAt = -1;
  }
  if (start < controlFrom || start > controlAt) {
    NO_CONTROL_RUN.lastIndex = start;
    NO_CONTROL_RUN.test(text);
    controlFrom = start;
    controlAt = NO_CONTROL_RUN.lastIndex;
    FORGET_SUBJECT.test("");
  }
  if (start < backslashFrom || start > backslashAt) {
    const at = text.indexOf("\\", start);
    backslashFrom = start;
    backslashAt = at === -1 ? text.length : at;
  }
  recordEnd = end;
  nextBackslash = backslashAt < end ? backslashAt : NO_BACKSLASH;
  return controlAt >= end;
}

function skipDigits(t: string, i: number): number {
  let c = t.charCodeAt(i);
  while (c >= DIGIT_0 && c <= DIGIT_9) c = t.charCodeAt(++i);
  return i;
}

/** Index after the JSON number, `true`, `false` or `null` starting at `i` with `c`, or -1. */
function skipNumberOrLiteral(t: string, i: number, c: number): number {
  if (c === LOWER_T) {
    return t.charCodeAt(i + 1) === LOWER_R && t.charCodeAt(i + 2) === LOWER_U && t.charCodeAt(i + 3) === LOWER_E
      ? i + 4
      : -1;
  }
  if (c === LOWER_F) {
    return t.charCodeAt(i + 1) === LOWER_A &&
      t.charCodeAt(i + 2) === LOWER_L &&
      t.charCodeAt(i + 3) === LOWER_S &&
      t.charCodeAt(i + 4) === LOWER_E
      ? i + 5
      : -1;
  }
  if (c === LOWER_N) {
    return t.charCodeAt(i + 1) === LOWER_U && t.charCodeAt(i + 2) === LOWER_L && t.charCodeAt(i + 3) === LOWER_L
      ? i + 4
      : -1;
  }
  if (c === MINUS) c = t.charCodeAt(++i);
  if (c === DIGIT_0) i++;
  else if (c >= DIGIT_1 && c <= DIGIT_9) i = skipDigits(t, i + 1);
  else return -1;
  c = t.charCodeAt(i);
  if (c === DOT) {
    const digits = i + 1;
    i = skipDigits(t, digits);
    if (i === digits) return -1;
    c = t.charCodeAt(i);
  }
  if (c === LOWER_E || c === UPPER_E) {
    c = t.charCodeAt(++i);
    if (c === PLUS || c === MINUS) i++;
    const digits = i;
    i = skipDigits(t, digits);
    if (i === digits) return -1;
  }
  return i;
}

/** The wanted field at `level` whose key is the escape-free string `t[start, end)`, or -1. */
function plainKeyField(t: string, start: number, end: number, level: number): number {
  const n = end - start;
  if (n === 0 || n > MAX_NAME_LENGTH) return -1;
  // (A key of one character reads the quote before it as its next-to-last: no wanted key is that short.)
  const id = KEY_TABLE[
    keySlot(level, n, t.charCodeAt(start), t.charCodeAt(start + (n >> 1) + 1), t.charCodeAt(end - 2))
  ] as number;
  if (id === -1 || FIELD_LEVEL[id] !== level || FIELD_LENGTH[id] !== n) return -1;
  return t.startsWith(FIELD_NAME[id] as string, start) ? id : -1;
}

/** The wanted field at `level` whose key is the escaped string with quotes at `open` and `close`, or -1. */
function escapedKeyField(t: string, open: number, close: number, level: number): number {
  return (KEYS_BY_LEVEL[level] as Map<string, number>).get(JSON.parse(t.slice(open, close + 1)) as string) ?? -1;
}

// ---------------------------------------------------------------------------------------------------
// The quick scanner, for records without control characters (nearly all): a string ends at the next
// quote, found natively with `indexOf`, unless a backslash comes first — then that string (a rare
// one) is read character by character. The only whitespace possible is the space.

/**
 * Index of the quote closing the string that opens at `i`, or -1 when the string is not valid JSON.
 * Sets `sawEscape`.
 */
function quickClosingQuote(t: string, i: number): number {
  const q = t.indexOf('"', i + 1);
  if (q < nextBackslash) {
    sawEscape = false;
    return q; // -1 as well when the text ends first
  }
  // A backslash comes first: it is in this string (outside strings it would not have been skipped).
  const end = closingQuote(t, i);
  if (end !== -1) {
    const next = t.indexOf("\\", end + 1);
    backslashFrom = end + 1;
    backslashAt = next === -1 ? t.length : next;
    nextBackslash = backslashAt < recordEnd ? backslashAt : NO_BACKSLASH;
  }
  return end;
}

function skipQuickSpaces(t: string, i: number): number {
  while (t.charCodeAt(i) === SPACE) i++;
  return i;
}

/**
 * Index of the first character of the value of the object member whose key opens at `i` (after the
 * key, the colon and any spaces), or -1.
 */
function quickMemberValue(t: string, i: number): number {
  if (t.charCodeAt(i) !== QUOTE) return -1;
  const keyEnd = quickClosingQuote(t, i);
  if (keyEnd === -1) return -1;
  let j = keyEnd + 1;
  let c = t.charCodeAt(j);
  if (c === SPACE) {
    j = skipQuickSpaces(t, j);
    c = t.charCodeAt(j);
  }
  if (c !== COLON) return -1;
  return t.charCodeAt(j + 1) === SPACE ? skipQuickSpaces(t, j + 1) : j + 1;
}

/**
 * Index after the JSON value starting at `i` with `c`, validating it, or -1. Nesting is followed
 * with an explicit stack, not recursion.
 */
function skipQuickValue(t: string, i: number, c: number): number {
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET && c !== QUOTE) return skipNumberOrLiteral(t, i, c);
  let depth = 0;
  for (;;) {
    // `i` is at the first character of a value, `c`.
    if (c === QUOTE) {
      const q = quickClosingQuote(t, i);
      if (q === -1) return -1;
      i = q + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === MAX_DEPTH) return -1;
      const inObject = c === OPEN_BRACE;
      containerStack[depth++] = inObject ? IN_OBJECT : IN_ARRAY;
      i++;
      c = t.charCodeAt(i);
      if (c === SPACE) {
        i = skipQuickSpaces(t, i);
        c = t.charCodeAt(i);
      }
      if (c !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
        if (inObject) {
          i = quickMemberValue(t, i);
          if (i < 0) return -1;
          c = t.charCodeAt(i);
        }
        continue;
      }
      depth--;
      i++;
    } else {
      i = skipNumberOrLiteral(t, i, c);
      if (i < 0) return -1;
    }
    // After a value: close containers until a comma leads to the next value.
    for (;;) {
      if (depth === 0) return i;
      c = t.charCodeAt(i);
      if (c === SPACE) {
        i = skipQuickSpaces(t, i);
        c = t.charCodeAt(i);
      }
      const inObject = containerStack[depth - 1] === IN_OBJECT;
      if (c === COMMA) {
        i++;
        if (t.charCodeAt(i) === SPACE) i = skipQuickSpaces(t, i);
        if (inObject) {
          i = quickMemberValue(t, i);
          if (i < 0) return -1;
        }
        c = t.charCodeAt(i);
        break;
      }
      if (c !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return -1;
      depth--;
      i++;
    }
  }
}

/**
 * Scans the object opening at `i` (a `{`) whose wanted fields belong to `level`, filling their slots;
 * returns the index after the object, or -1.
 */
function scanQuickObject(t: string, i: number, level: number): number {
  const levelEnd = LEVEL_END[level] as number;
  for (let id = LEVEL_FIRST[level] as number; id < levelEnd; id++) slotKind[id] = ABSENT;
  i++;
  let c = t.charCodeAt(i);
  if (c === SPACE) {
    i = skipQuickSpaces(t, i);
    c = t.charCodeAt(i);
  }
  if (c === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (c !== QUOTE) return -1;
    const keyEnd = quickClosingQuote(t, i);
    if (keyEnd === -1) return -1;
    const id = sawEscape ? escapedKeyField(t, i, keyEnd, level) : plainKeyField(t, i + 1, keyEnd, level);
    i = keyEnd + 1;
    c = t.charCodeAt(i);
    if (c === SPACE) {
      i = skipQuickSpaces(t, i);
      c = t.charCodeAt(i);
    }
    if (c !== COLON) return -1;
    i++;
    c = t.charCodeAt(i);
    if (c === SPACE) {
      i = skipQuickSpaces(t, i);
      c = t.charCodeAt(i);
    }
    if (c === QUOTE) {
      const valueEnd = quickClosingQuote(t, i);
      if (valueEnd === -1) return -1;
      if (id !== -1) {
        slotKind[id] = sawEscape ? ESCAPED_STRING : PLAIN_STRING;
        slotStart[id] = i + 1;
        slotEnd[id] = valueEnd;
      }
      i = valueEnd + 1;
    } else if (id === -1) {
      i = skipQuickValue(t, i, c);
    } else if (c === OPEN_BRACE && FIELD_CHILD[id] !== NO_CHILD) {
      slotKind[id] = DESCENDED_OBJECT;
      i = scanQuickObject(t, i, FIELD_CHILD[id] as number);
    } else {
      slotKind[id] = OTHER_VALUE;
      slotStart[id] = i;
      i = skipQuickValue(t, i, c);
      slotEnd[id] = i;
    }
    if (i < 0) return -1;
    c = t.charCodeAt(i);
    if (c === SPACE) {
      i = skipQuickSpaces(t, i);
      c = t.charCodeAt(i);
    }
    if (c === CLOSE_BRACE) return i + 1;
    if (c !== COMMA) return -1;
    i++;
    c = t.charCodeAt(i);
    if (c === SPACE) {
      i = skipQuickSpaces(t, i);
      c = t.charCodeAt(i);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The general scanner, for records with escapes or other whitespace: strings are read character by
// character, checking escapes and rejecting control characters. Same structure as the quick scanner.

/** Index of the first character at or after `i` that is not JSON whitespace. */
function skipSpaces(t: string, i: number): number {
  for (;;) {
    const c = t.charCodeAt(i);
    if (c > SPACE || (c !== SPACE && c !== LINE_FEED && c !== CARRIAGE_RETURN && c !== TAB)) return i;
    i++;
  }
}

function isHexDigit(c: number): boolean {
  return (c >= DIGIT_0 && c <= DIGIT_9) || (c >= LOWER_A && c <= LOWER_F) || (c >= UPPER_A && c <= UPPER_F);
}

/**
 * Index of the quote closing the string that opens at `i`, or -1 when the string is not valid JSON
 * (a control character, a bad escape, or the text ends first). Sets `sawEscape`.
 */
function closingQuote(t: string, i: number): number {
  sawEscape = false;
  let j = i + 1;
  for (;;) {
    const c = t.charCodeAt(j);
    if (c === QUOTE) return j;
    if (c === BACKSLASH) {
      sawEscape = true;
      const e = t.charCodeAt(j + 1);
      if (
        e === QUOTE ||
        e === BACKSLASH ||
        e === SLASH ||
        e === LOWER_B ||
        e === LOWER_F ||
        e === LOWER_N ||
        e === LOWER_R ||
        e === LOWER_T
      ) {
        j += 2;
      } else if (
        e === LOWER_U &&
        isHexDigit(t.charCodeAt(j + 2)) &&
        isHexDigit(t.charCodeAt(j + 3)) &&
        isHexDigit(t.charCodeAt(j + 4)) &&
        isHexDigit(t.charCodeAt(j + 5))
      ) {
        j += 6;
      } else {
        return -1;
      }
    } else if (c >= SPACE) {
      j++;
    } else {
      return -1; // a control character, or NaN past the end of the text
    }
  }
}

/** As `quickMemberValue`. */
function memberValue(t: string, i: number): number {
  if (t.charCodeAt(i) !== QUOTE) return -1;
  const q = closingQuote(t, i);
  if (q < 0) return -1;
  const colon = skipSpaces(t, q + 1);
  if (t.charCodeAt(colon) !== COLON) return -1;
  return skipSpaces(t, colon + 1);
}

/** As `skipQuickValue`. */
function skipValue(t: string, i: number, c: number): number {
  if (c === QUOTE) {
    const q = closingQuote(t, i);
    return q < 0 ? -1 : q + 1;
  }
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) return skipNumberOrLiteral(t, i, c);
  let depth = 0;
  for (;;) {
    if (c === QUOTE) {
      const q = closingQuote(t, i);
      if (q < 0) return -1;
      i = q + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === MAX_DEPTH) return -1;
      const inObject = c === OPEN_BRACE;
      containerStack[depth++] = inObject ? IN_OBJECT : IN_ARRAY;
      i = skipSpaces(t, i + 1);
      c = t.charCodeAt(i);
      if (c !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
        if (inObject) {
          i = memberValue(t, i);
          if (i < 0) return -1;
          c = t.charCodeAt(i);
        }
        continue;
      }
      depth--;
      i++;
    } else {
      i = skipNumberOrLiteral(t, i, c);
      if (i < 0) return -1;
    }
    for (;;) {
      if (depth === 0) return i;
      i = skipSpaces(t, i);
      c = t.charCodeAt(i);
      const inObject = containerStack[depth - 1] === IN_OBJECT;
      if (c === COMMA) {
        i = skipSpaces(t, i + 1);
        if (inObject) {
          i = memberValue(t, i);
          if (i < 0) return -1;
        }
        c = t.charCodeAt(i);
        break;
      }
      if (c !== (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return -1;
      depth--;
      i++;
    }
  }
}

/** As `scanQuickObject`; keys written with escapes are decoded before they are looked up. */
function scanObject(t: string, i: number, level: number): number {
  const levelEnd = LEVEL_END[level] as number;
  for (let id = LEVEL_FIRST[level] as number; id < levelEnd; id++) slotKind[id] = ABSENT;
  i = skipSpaces(t, i + 1);
  let c = t.charCodeAt(i);
  if (c === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (c !== QUOTE) return -1;
    const keyEnd = closingQuote(t, i);
    if (keyEnd < 0) return -1;
    const id = sawEscape ? escapedKeyField(t, i, keyEnd, level) : plainKeyField(t, i + 1, keyEnd, level);
    i = skipSpaces(t, keyEnd + 1);
    if (t.charCodeAt(i) !== COLON) return -1;
    i = skipSpaces(t, i + 1);
    c = t.charCodeAt(i);
    if (id === -1) {
      i = skipValue(t, i, c);
    } else if (c === QUOTE) {
      const valueEnd = closingQuote(t, i);
      if (valueEnd < 0) return -1;
      slotKind[id] = sawEscape ? ESCAPED_STRING : PLAIN_STRING;
      slotStart[id] = i + 1;
      slotEnd[id] = valueEnd;
      i = valueEnd + 1;
    } else if (c === OPEN_BRACE && FIELD_CHILD[id] !== NO_CHILD) {
      slotKind[id] = DESCENDED_OBJECT;
      i = scanObject(t, i, FIELD_CHILD[id] as number);
    } else {
      slotKind[id] = OTHER_VALUE;
      slotStart[id] = i;
      i = skipValue(t, i, c);
      slotEnd[id] = i;
    }
    if (i < 0) return -1;
    i = skipSpaces(t, i);
    c = t.charCodeAt(i);
    if (c === CLOSE_BRACE) return i + 1;
    if (c !== COMMA) return -1;
    i = skipSpaces(t, i + 1);
    c = t.charCodeAt(i);
  }
}

// ---------------------------------------------------------------------------------------------------
// From slots to values, exactly as JSON.parse would give them.
//
// The strings returned must not be slices of `text`: V8 makes a slice of 13 characters or more a view
// that keeps its whole parent alive, and the reader and the engine keep these strings (event ids for
// de-duplication, session ARNs and keys for hours) — every file read would stay in memory. So the
// plain strings a record returns are joined and flattened once into a small string of their own, the
// arena, and sliced from there; the event id, kept longest, gets a copy of its own. Escaped strings
// and other values are parsed, which copies them.

let arena = "";
/** Where each slot's string starts in the arena, or -1 when it is short enough to be copied by `slice`. */
const arenaOffset = new Int32Array(FIELDS.length);
/** V8 copies a slice shorter than this instead of making it a view (SlicedString::kMinLength). */
const SHORTEST_VIEW = 13;

/** A copy of `t[start, end)` that does not keep `t` alive. */
function detached(t: string, start: number, end: number): string {
  return end - start < SHORTEST_VIEW ? t.slice(start, end) : ` ${t.slice(start, end)}`.slice(1);
}

/** Bit `level` set when the slots of that level describe the record at hand (every object above was descended into). */
function validLevels(): number {
  let levels = 1 << LEVEL_RECORD;
  if (slotKind[USER_IDENTITY] !== DESCENDED_OBJECT) return levels;
  levels |= 1 << LEVEL_IDENTITY;
  if (slotKind[IN_SCOPE_OF] === DESCENDED_OBJECT) levels |= 1 << LEVEL_SCOPE;
  if (slotKind[SESSION_CONTEXT] !== DESCENDED_OBJECT) return levels;
  levels |= 1 << LEVEL_SESSION;
  if (slotKind[SESSION_ISSUER] === DESCENDED_OBJECT) levels |= 1 << LEVEL_ISSUER;
  return levels;
}

/** Fills the arena with the plain strings of `fields` (those of valid levels) that `slice` would not copy. */
function fillArena(t: string, fields: Int8Array): void {
  const levels = validLevels();
  let joined = " "; // sliced off below: slicing the joined string flattens it into a fresh one
  let offset = 0;
  for (let k = 0; k < fields.length; k++) {
    const id = fields[k] as number;
    arenaOffset[id] = -1;
    if (slotKind[id] !== PLAIN_STRING || ((levels >> (FIELD_LEVEL[id] as number)) & 1) === 0) continue;
    const start = slotStart[id] as number;
    const end = slotEnd[id] as number;
    if (end - start < SHORTEST_VIEW) continue;
    arenaOffset[id] = offset;
    offset += end - start;
    joined += t.slice(start, end);
  }
  arena = offset === 0 ? "" : joined.slice(1);
}

function isString(id: number): boolean {
  const kind = slotKind[id];
  return kind === PLAIN_STRING || kind === ESCAPED_STRING;
}

/** A string that is not empty (what `toEngineEvent`'s `str` accepts). An escaped one never is. */
function isNonEmptyString(id: number): boolean {
  const kind = slotKind[id];
  return kind === ESCAPED_STRING || (kind === PLAIN_STRING && slotEnd[id] !== slotStart[id]);
}

/** An escaped string slot's value, decoded (a fresh string). */
function decodedStringOf(t: string, id: number): string {
  return JSON.parse(t.slice((slotStart[id] as number) - 1, (slotEnd[id] as number) + 1)) as string;
}

/** A string slot's value, from the arena (filled for it), copied when short, or decoded. */
function stringOf(t: string, id: number): string {
  if (slotKind[id] !== PLAIN_STRING) return decodedStringOf(t, id);
  const offset = arenaOffset[id] as number;
  return offset === -1
    ? t.slice(slotStart[id], slotEnd[id])
    : arena.slice(offset, offset + (slotEnd[id] as number) - (slotStart[id] as number));
}

/** A string slot's value for a look, not to be kept (it may be a slice of `t`). */
function transientStringOf(t: string, id: number): string {
  return slotKind[id] === PLAIN_STRING ? t.slice(slotStart[id], slotEnd[id]) : decodedStringOf(t, id);
}

/** `str(value)` of `toEngineEvent`: the string when the slot holds a non-empty one. */
function nonEmptyStringOf(t: string, id: number): string | undefined {
  return isNonEmptyString(id) ? stringOf(t, id) : undefined;
}

/** True when the slot holds a string equal to `s`, without slicing when it has no escapes. */
function stringEquals(t: string, id: number, s: string): boolean {
  const kind = slotKind[id];
  if (kind === PLAIN_STRING) {
    const start = slotStart[id] as number;
    return (slotEnd[id] as number) - start === s.length && t.startsWith(s, start);
  }
  return kind === ESCAPED_STRING && transientStringOf(t, id) === s;
}

/** The slot's value as `JSON.parse` would give it (descended objects hold only the wanted fields). */
function slotValue(t: string, id: number): unknown {
  switch (slotKind[id]) {
    case PLAIN_STRING:
    case ESCAPED_STRING:
      return stringOf(t, id);
    case OTHER_VALUE:
      return JSON.parse(t.slice(slotStart[id], slotEnd[id]));
    case DESCENDED_OBJECT:
      return objectOf(t, FIELD_CHILD[id] as number);
    default:
      return undefined;
  }
}

/** The stand-in for a descended object: every wanted field of its level (undefined when absent). */
function objectOf(t: string, level: number): Record<string, unknown> {
  switch (level) {
    case LEVEL_IDENTITY:
      return {
        type: slotValue(t, IDENTITY_TYPE),
        arn: slotValue(t, IDENTITY_ARN),
        accountId: slotValue(t, IDENTITY_ACCOUNT),
        accessKeyId: slotValue(t, IDENTITY_KEY),
        invokedBy: slotValue(t, IDENTITY_INVOKED_BY),
        sessionContext: slotValue(t, SESSION_CONTEXT),
        inScopeOf: slotValue(t, IN_SCOPE_OF),
      };
    case LEVEL_SESSION:
      return {
        ec2RoleDelivery: slotValue(t, ROLE_DELIVERY),
        ec2IssuedInVPC: slotValue(t, ISSUED_IN_VPC),
        sessionIssuer: slotValue(t, SESSION_ISSUER),
      };
    case LEVEL_ISSUER:
      return { arn: slotValue(t, ISSUER_ARN) };
    case LEVEL_SCOPE:
      return { issuerType: slotValue(t, ISSUER_TYPE) };
    default:
      throw new Error(`fast-extract: no stand-in for level ${level}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// The engine's view.

/** An STS issuing call or an EC2 address-change event: `toEngineEvent` then reads the request and response. */
function isIssuingOrAddress(t: string): boolean {
  if (!isString(EVENT_SOURCE) || !isString(EVENT_NAME)) return false;
  if (stringEquals(t, EVENT_SOURCE, "sts.amazonaws.com")) return ISSUING_CALLS.has(transientStringOf(t, EVENT_NAME));
  if (stringEquals(t, EVENT_SOURCE, "ec2.amazonaws.com")) return ADDRESS_EVENTS.has(transientStringOf(t, EVENT_NAME));
  return false;
}

/** Every field whose value can be a string, for the stand-in path's arena. */
const ALL_STRING_FIELDS = Int8Array.from(
  FIELDS.map((f, id) =>
    f.child === NO_CHILD && id !== REQUEST_PARAMETERS && id !== RESPONSE_ELEMENTS ? id : -1,
  ).filter((id) => id !== -1),
);

/** Returned by `standInEvent` when `toEngineEvent` throws: the caller's `factsOf` should throw the same. */
const THREW = Symbol("toEngineEvent threw");

/**
 * `toEngineEvent` on a stand-in record holding exactly the values `JSON.parse` would give for the fields
 * read. It can throw on strange records (a template literal of an object whose `toString` is not a
 * function); then `THREW`, and `fastFacts` leaves the record to the fallback.
 */
function standInEvent(t: string, timeField: number, issuingOrAddress: boolean): EngineEvent | undefined | typeof THREW {
  fillArena(t, ALL_STRING_FIELDS);
  const standIn: Record<string, unknown> = {
    eventTime: stringOf(t, timeField),
    eventID: slotValue(t, EVENT_ID),
    eventSource: slotValue(t, EVENT_SOURCE),
    eventName: slotValue(t, EVENT_NAME),
    awsRegion: slotValue(t, AWS_REGION),
    sourceIPAddress: slotValue(t, SOURCE_IP),
    userAgent: slotValue(t, USER_AGENT),
    errorCode: slotValue(t, ERROR_CODE),
    recipientAccountId: slotValue(t, RECIPIENT_ACCOUNT),
    vpcEndpointId: slotValue(t, VPC_ENDPOINT),
    vpcEndpointAccountId: slotValue(t, VPC_ENDPOINT_ACCOUNT),
    requestID: slotValue(t, REQUEST_ID),
    userIdentity: slotValue(t, USER_IDENTITY),
    requestParameters: issuingOrAddress ? slotValue(t, REQUEST_PARAMETERS) : undefined,
    responseElements: issuingOrAddress ? slotValue(t, RESPONSE_ELEMENTS) : undefined,
  };
  try {
    return toEngineEvent(standIn as CloudTrailRecord);
  } catch {
    return THREW;
  }
}

/** Fields the direct path reads as strings (or absent); all but the event id may be returned. */
const DIRECT_STRINGS = Int8Array.from([
  EVENT_TIME,
  TIMESTAMP,
  EVENT_SOURCE,
  EVENT_NAME,
  AWS_REGION,
  SOURCE_IP,
  USER_AGENT,
  ERROR_CODE,
  RECIPIENT_ACCOUNT,
  VPC_ENDPOINT,
  VPC_ENDPOINT_ACCOUNT,
  REQUEST_ID,
  IDENTITY_ARN,
  IDENTITY_ACCOUNT,
  IDENTITY_KEY,
  IDENTITY_INVOKED_BY,
  ROLE_DELIVERY,
  ISSUER_ARN,
]);

function isStringOrAbsent(id: number): boolean {
  const kind = slotKind[id];
  return kind === PLAIN_STRING || kind === ESCAPED_STRING || kind === ABSENT;
}

function isObjectOrAbsent(id: number): boolean {
  const kind = slotKind[id];
  return kind === DESCENDED_OBJECT || kind === ABSENT;
}

/**
 * True when every field the direct path reads is a string or absent, and every object it reads into
 * is an object or absent (`userIdentity` is known to be an object). Otherwise the stand-in path runs.
 */
function isDirectShape(): boolean {
  for (let k = 0; k < DIRECT_STRINGS.length; k++) {
    const id = DIRECT_STRINGS[k] as number;
    const level = FIELD_LEVEL[id] as number;
    if ((level === LEVEL_RECORD || level === LEVEL_IDENTITY) && !isStringOrAbsent(id)) return false;
  }
  if (!isObjectOrAbsent(IN_SCOPE_OF)) return false;
  if (slotKind[IN_SCOPE_OF] === DESCENDED_OBJECT && !isStringOrAbsent(ISSUER_TYPE)) return false;
  if (!isObjectOrAbsent(SESSION_CONTEXT)) return false;
  if (slotKind[SESSION_CONTEXT] !== DESCENDED_OBJECT) return true;
  if (!isStringOrAbsent(ROLE_DELIVERY) || !isStringOrAbsent(ISSUED_IN_VPC) || !isObjectOrAbsent(SESSION_ISSUER))
    return false;
  return slotKind[SESSION_ISSUER] !== DESCENDED_OBJECT || isStringOrAbsent(ISSUER_ARN);
}

/** What `callerOf` derives from a session ARN alone. */
interface SessionParts {
  readonly arn: string;
  /** After the last `/`, or "". */
  readonly name: string;
  /** `isInstanceId(name)`. */
  readonly instanceNamed: boolean;
  /** `roleArnOfSession(arn)`. */
  readonly roleArn: string | undefined;
}

/**
 * The parts of session ARNs seen lately: a session makes many calls, so its parts are worked out once
 * (two regular expressions and a slice) and then found by comparing the ARN.
 */
const SESSION_BITS = 10;
const sessionParts: (SessionParts | undefined)[] = new Array(1 << SESSION_BITS).fill(undefined);

function sessionOf(arn: string): SessionParts {
  // Any slot will do as long as the ARN is compared; its length and last characters spread them.
  const n = arn.length;
  const slot =
    (n * 977 + arn.charCodeAt(n - 1) * 31 + arn.charCodeAt(n - 2) * 7 + arn.charCodeAt(n - 4)) &
    ((1 << SESSION_BITS) - 1);
  const known = sessionParts[slot];
  if (known !== undefined && known.arn === arn) return known;
  const slash = arn.lastIndexOf("/");
  const name = slash === -1 ? "" : arn.slice(slash + 1);
  const parts: SessionParts = { arn, name, instanceNamed: isInstanceId(name), roleArn: roleArnOfSession(arn) };
  sessionParts[slot] = parts;
  return parts;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * `toEngineEvent` for a call made with a role session (`userIdentity.type` is `AssumedRole`) that is
 * neither an issuing call nor an address change, when `isDirectShape()`: the same result, built from the
 * slots without a stand-in.
 */
function roleCallEvent(
  t: string,
  time: number,
  timeField: number,
  eventId: string | undefined,
): EngineEvent | undefined {
  if (!isNonEmptyString(IDENTITY_ARN)) return undefined; // no caller: callerOf gives undefined
  fillArena(t, DIRECT_STRINGS);
  // callerOf
  const arn = stringOf(t, IDENTITY_ARN);
  const session = sessionOf(arn);
  const sessionName = session.name;
  const inSession = slotKind[SESSION_CONTEXT] === DESCENDED_OBJECT;
  const ec2RoleDelivery = inSession ? nonEmptyStringOf(t, ROLE_DELIVERY) : undefined;
  const instanceHint =
    ec2RoleDelivery !== undefined ||
    (slotKind[IN_SCOPE_OF] === DESCENDED_OBJECT && stringEquals(t, ISSUER_TYPE, "AWS::EC2::Instance")) ||
    (inSession && isNonEmptyString(ISSUED_IN_VPC)) ||
    session.instanceNamed;
  const roleArn =
    (inSession && slotKind[SESSION_ISSUER] === DESCENDED_OBJECT ? nonEmptyStringOf(t, ISSUER_ARN) : undefined) ??
    session.roleArn;
  const caller: Mutable<Caller> = { arn, sessionName, instanceHint };
  const accessKeyId = nonEmptyStringOf(t, IDENTITY_KEY);
  if (accessKeyId !== undefined) caller.accessKeyId = accessKeyId;
  const invokedBy = nonEmptyStringOf(t, IDENTITY_INVOKED_BY);
  if (invokedBy !== undefined) caller.invokedBy = invokedBy;
  if (roleArn !== undefined) caller.roleArn = roleArn;
  if (ec2RoleDelivery !== undefined) caller.ec2RoleDelivery = ec2RoleDelivery;
  // toEngineEvent
  const timeIso = stringOf(t, timeField);
  const source = slotKind[EVENT_SOURCE] === ABSENT ? undefined : stringOf(t, EVENT_SOURCE);
  const name = slotKind[EVENT_NAME] === ABSENT ? undefined : stringOf(t, EVENT_NAME);
  const event: Mutable<EngineEvent> = {
    time,
    timeIso,
    id: eventId ?? `${timeIso}/${source}/${name}/${nonEmptyStringOf(t, REQUEST_ID) ?? ""}`,
    name: name ?? "",
    source: source ?? "",
    region: slotKind[AWS_REGION] === ABSENT ? "" : stringOf(t, AWS_REGION),
    account: nonEmptyStringOf(t, RECIPIENT_ACCOUNT) ?? nonEmptyStringOf(t, IDENTITY_ACCOUNT) ?? "",
    sourceIp: nonEmptyStringOf(t, SOURCE_IP) ?? "",
  };
  const userAgent = nonEmptyStringOf(t, USER_AGENT);
  if (userAgent !== undefined) event.userAgent = userAgent;
  const errorCode = nonEmptyStringOf(t, ERROR_CODE);
  if (errorCode !== undefined) event.errorCode = errorCode;
  const vpcEndpointId = nonEmptyStringOf(t, VPC_ENDPOINT);
  if (vpcEndpointId !== undefined) event.vpcEndpointId = vpcEndpointId;
  const vpcEndpointAccountId = nonEmptyStringOf(t, VPC_ENDPOINT_ACCOUNT);
  if (vpcEndpointAccountId !== undefined) event.vpcEndpointAccountId = vpcEndpointAccountId;
  event.caller = caller;
  return event;
}

function engineEventOf(
  t: string,
  time: number,
  timeField: number,
  eventId: string | undefined,
): EngineEvent | undefined | typeof THREW {
  const issuingOrAddress = isIssuingOrAddress(t);
  if (!issuingOrAddress) {
    // toEngineEvent's three gates: with no AssumedRole caller, no issuance and no address change, no event.
    if (slotKind[USER_IDENTITY] !== DESCENDED_OBJECT || !stringEquals(t, IDENTITY_TYPE, "AssumedRole"))
      return undefined;
    if (isDirectShape()) return roleCallEvent(t, time, timeField, eventId);
  }
  return standInEvent(t, timeField, issuingOrAddress);
}

/**
 * `Date.parse` of `YYYY-MM-DDTHH:MM:SSZ` (CloudTrail's form) computed directly, or NaN to ask for
 * `Date.parse` itself. Only plainly valid times are taken (day up to 28, hour up to 23, second up to 59)
 * so that rolling over is never involved.
 */
function plainIsoTime(t: string, start: number, end: number): number {
  if (
    end - start !== 20 ||
    t.charCodeAt(start + 4) !== MINUS ||
    t.charCodeAt(start + 7) !== MINUS ||
    t.charCodeAt(start + 10) !== UPPER_T ||
    t.charCodeAt(start + 13) !== COLON ||
    t.charCodeAt(start + 16) !== COLON ||
    t.charCodeAt(start + 19) !== UPPER_Z
  )
    return Number.NaN;
  const year = digits(t, start, 4);
  const month = digits(t, start + 5, 2);
  const day = digits(t, start + 8, 2);
  const hour = digits(t, start + 11, 2);
  const minute = digits(t, start + 14, 2);
  const second = digits(t, start + 17, 2);
  if (
    year < 1000 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 28 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59
  )
    return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** The decimal number written with `count` digits at `start`, or -1. */
function digits(t: string, start: number, count: number): number {
  let n = 0;
  for (let k = start; k < start + count; k++) {
    const d = t.charCodeAt(k) - DIGIT_0;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `factsOf`, on the slots; undefined when `factsOf` would throw. */
function factsOfSlots(t: string): RecordFacts | undefined {
  const eventId = !isNonEmptyString(EVENT_ID)
    ? undefined
    : slotKind[EVENT_ID] === PLAIN_STRING
      ? detached(t, slotStart[EVENT_ID] as number, slotEnd[EVENT_ID] as number)
      : decodedStringOf(t, EVENT_ID);
  let timeField = EVENT_TIME;
  let timestampFallback = false;
  if (!isString(EVENT_TIME)) {
    if (!isString(TIMESTAMP))
      return { eventId, time: Number.NaN, timestampFallback: false, malformed: "no-time", event: undefined };
    timeField = TIMESTAMP;
    timestampFallback = true;
  }
  let time =
    slotKind[timeField] === PLAIN_STRING
      ? plainIsoTime(t, slotStart[timeField] as number, slotEnd[timeField] as number)
      : Number.NaN;
  if (Number.isNaN(time)) time = Date.parse(transientStringOf(t, timeField));
  if (Number.isNaN(time)) return { eventId, time, timestampFallback, malformed: "bad-time", event: undefined };
  const event = engineEventOf(t, time, timeField, eventId);
  if (event === THREW) return undefined;
  if (
    slotKind[USER_IDENTITY] === DESCENDED_OBJECT &&
    stringEquals(t, IDENTITY_TYPE, "AssumedRole") &&
    !isNonEmptyString(IDENTITY_ARN)
  ) {
    return { eventId, time, timestampFallback, malformed: "bad-identity", event };
  }
  return { eventId, time, timestampFallback, event };
}

/**
 * Facts of the record whose JSON text is `text.slice(start, end)` (one object, `start` at its `{`),
 * or undefined to ask for the `JSON.parse` fallback. Equal (`deepStrictEqual`) to
 * `factsOf(JSON.parse(text.slice(start, end)))` whenever it is not undefined; undefined as well when
 * that text is not valid JSON.
 *
 * @example
 * for (const span of splitValues(text, recordsStart, recordsEnd)) {
 *   const facts = fastFacts(text, span.start, span.end) ?? factsOf(JSON.parse(text.slice(span.start, span.end)));
 * }
 */
export function fastFacts(text: string, start: number, end: number): RecordFacts | undefined {
  if (start < 0 || end > text.length || text.charCodeAt(start) !== OPEN_BRACE) return undefined;
  const close = prepareQuickScan(text, start, end)
    ? scanQuickObject(text, start, LEVEL_RECORD)
    : scanObject(text, start, LEVEL_RECORD);
  if (close < 0 || close > end || skipSpaces(text, close) < end) return undefined;
  return factsOfSlots(text);
}

/** Index just past the record read by the last `fastRecordAt` that gave facts. */
let recordAtEnd = 0;

/** Where the record read by the last `fastRecordAt` that gave facts ends (index just past its `}`). */
export function fastRecordEnd(): number {
  return recordAtEnd;
}

/**
 * Facts of the record that opens at `text[start]` (a `{`) and ends wherever its JSON ends, when it
 * is certainly a plain CloudTrail record (what the records cutter would call one: `eventName` or
 * `eventSource` a string, no Insights marker, no envelope key), at most `maxChars` long and read by
 * the quick scanner; `fastRecordEnd()` then tells where it ends. Undefined otherwise, and the caller
 * cuts the record out and reads it as before. It spares the cutter's pass over the record: the
 * extractor's own pass finds its end.
 *
 * @example
 * const facts = fastRecordAt(text, i, limit);
 * if (facts !== undefined) i = fastRecordEnd();
 */
export function fastRecordAt(text: string, start: number, maxChars: number): RecordFacts | undefined {
  if (text.charCodeAt(start) !== OPEN_BRACE) return undefined;
  // The end is not known yet: backslashes are looked for up to the end of the text (only a bound for
  // the searches), and a control character is allowed nowhere before the record's end, checked after.
  prepareQuickScan(text, start, text.length);
  const close = scanQuickObject(text, start, LEVEL_RECORD);
  if (close < 0 || controlAt < close || close - start > maxChars || !isPlainRecordSlots(text)) return undefined;
  const facts = factsOfSlots(text);
  if (facts !== undefined) recordAtEnd = close;
  return facts;
}

/**
 * True when the slots prove that the decoder would read the record as a CloudTrail record that is not
 * an Insights record (`looksLikeRecord`, and its Insights test) and that no envelope key is present,
 * so that parsing and classifying it would give `factsOf` of it, as the fast path does.
 */
function isPlainRecordSlots(t: string): boolean {
  if (!isString(EVENT_NAME) && !isString(EVENT_SOURCE)) return false;
  if (stringEquals(t, EVENT_CATEGORY, "Insight") || stringEquals(t, EVENT_TYPE, "AwsCloudTrailInsight")) return false;
  for (let k = 0; k < ENVELOPE_FIELDS.length; k++) if (slotKind[ENVELOPE_FIELDS[k] as number] !== ABSENT) return false;
  return true;
}
