/**
 * Value serializers for the AWS wire protocols: query/ec2 form parameters, JSON documents and XML
 * elements, each driven by a catalog shape. Only what the placeholder values need is covered,
 * but that is every shape kind the models use for input.
 */
import type { CatalogShape } from "./catalog-types.js";
import type { PlaceholderValue } from "./placeholders.js";

/** RFC 3986 percent-encoding, as AWS expects in paths, query strings and form bodies. */
export function escapeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function isRecord(value: PlaceholderValue): value is { [member: string]: PlaceholderValue } {
  return (
    typeof value === "object" && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Uint8Array)
  );
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** Formats a timestamp the way a protocol location expects it. */
export function formatTimestamp(date: Date, format: "iso8601" | "unixTimestamp" | "rfc822"): string {
  if (format === "unixTimestamp") return String(Math.floor(date.getTime() / 1000));
  if (format === "rfc822") return date.toUTCString();
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A scalar as text (query parameters, headers, URI labels, XML text). */
export function scalarText(
  value: PlaceholderValue,
  shape: CatalogShape,
  defaultTimestamp: "iso8601" | "rfc822" | "unixTimestamp",
): string {
  if (value instanceof Date) return formatTimestamp(value, shape.timestampFormat ?? defaultTimestamp);
  if (value instanceof Uint8Array) return base64(value);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// query and ec2 (form-encoded parameters)

function ucfirst(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * Flattens a structure into query parameters (`Name.member.1`, `Name.entry.1.key`, …). The ec2
 * dialect capitalises names, prefers `queryName` and never adds `member`.
 */
export function queryParams(
  value: { [member: string]: PlaceholderValue },
  shape: CatalogShape,
  dialect: "query" | "ec2",
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const memberKey = (name: string, member: CatalogShape): string => {
    if (dialect === "ec2") return member.queryName ?? ucfirst(member.name ?? name);
    return member.name ?? name;
  };
  const walk = (prefix: string, v: PlaceholderValue, s: CatalogShape): void => {
    if (s.type === "structure" && isRecord(v)) {
      for (const [name, member] of Object.entries(s.members ?? {})) {
        const child = v[name];
        if (child === undefined) continue;
        const key = memberKey(name, member);
        walk(prefix ? `${prefix}.${key}` : key, child, member);
      }
    } else if (s.type === "list" && Array.isArray(v)) {
      const memberShape = s.member ?? { type: "string" };
      if (v.length === 0) {
        if (dialect === "query") out.push([prefix, ""]);
        return;
      }
      v.forEach((item, i) => {
        let name = prefix;
        let suffix = `.${i + 1}`;
        if (dialect === "ec2") {
          // EC2 lists are always flat: Name.1, Name.2
        } else if (s.flattened) {
          if (memberShape.name) name = [...prefix.split(".").slice(0, -1), memberShape.name].join(".");
        } else {
          suffix = `.${memberShape.name ?? "member"}${suffix}`;
        }
        walk(`${name}${suffix}`, item, memberShape);
      });
    } else if (s.type === "map" && isRecord(v)) {
      let i = 1;
      for (const [k, item] of Object.entries(v)) {
        const position = `${prefix}${s.flattened ? "." : ".entry."}${i++}.`;
        walk(`${position}${s.key?.name ?? "key"}`, k, s.key ?? { type: "string" });
        walk(`${position}${s.value?.name ?? "value"}`, item, s.value ?? { type: "string" });
      }
    } else {
      out.push([prefix, scalarText(v, s, "iso8601")]);
    }
  };
  walk("", value, shape);
  return out;
}

/** Encodes parameters as an `application/x-www-form-urlencoded` body. */
export function formBody(params: ReadonlyArray<readonly [string, string]>): string {
  return params.map(([k, v]) => `${escapeRfc3986(k)}=${escapeRfc3986(v)}`).join("&");
}

// ---------------------------------------------------------------------------------------------
// JSON (json and rest-json bodies)

/** Converts a value to the JSON the json/rest-json protocols expect (timestamps as epoch seconds). */
export function jsonValue(value: PlaceholderValue, shape: CatalogShape): unknown {
  if (shape.type === "structure" && isRecord(value)) {
    if (shape.document) return value;
    const out: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(shape.members ?? {})) {
      const child = value[name];
      if (child === undefined || member.location !== undefined) continue;
      out[member.name ?? name] = jsonValue(child, member);
    }
    return out;
  }
  if (shape.type === "list" && Array.isArray(value))
    return value.map((v) => jsonValue(v, shape.member ?? { type: "string" }));
  if (shape.type === "map" && isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonValue(v, shape.value ?? { type: "string" });
    return out;
  }
  if (value instanceof Date) {
    return shape.timestampFormat && shape.timestampFormat !== "unixTimestamp"
      ? formatTimestamp(value, shape.timestampFormat)
      : Math.floor(value.getTime() / 1000);
  }
  if (value instanceof Uint8Array) return base64(value);
  return value;
}

// ---------------------------------------------------------------------------------------------
// XML (rest-xml bodies)

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Serialises a value as one XML element called `name` (with `xmlns` when the shape has one). */
export function xmlElement(name: string, value: PlaceholderValue, shape: CatalogShape, xmlns?: string): string {
  const ns = xmlns ?? shape.xmlNamespace;
  const open = ns ? `<${name} xmlns="${escapeXml(ns)}">` : `<${name}>`;
  const close = `</${name}>`;
  if (shape.type === "structure" && isRecord(value)) {
    let inner = "";
    for (const [member, memberShape] of Object.entries(shape.members ?? {})) {
      const child = value[member];
      if (child === undefined || memberShape.location !== undefined || memberShape.xmlAttribute) continue;
      const childName = memberShape.name ?? member;
      if (memberShape.type === "list" && memberShape.flattened && Array.isArray(child)) {
        const item = memberShape.member ?? { type: "string" };
        for (const v of child) inner += xmlElement(item.name ?? childName, v, item);
      } else if (memberShape.type === "map" && memberShape.flattened && isRecord(child)) {
        inner += xmlMapEntries(childName, child, memberShape);
      } else {
        inner += xmlElement(childName, child, memberShape);
      }
    }
    return `${open}${inner}${close}`;
  }
  if (shape.type === "list" && Array.isArray(value)) {
    const item = shape.member ?? { type: "string" };
    return `${open}${value.map((v) => xmlElement(item.name ?? "member", v, item)).join("")}${close}`;
  }
  if (shape.type === "map" && isRecord(value)) return `${open}${xmlMapEntries("entry", value, shape)}${close}`;
  return `${open}${escapeXml(scalarText(value, shape, "iso8601"))}${close}`;
}

function xmlMapEntries(entryName: string, value: { [k: string]: PlaceholderValue }, shape: CatalogShape): string {
  let out = "";
  for (const [k, v] of Object.entries(value)) {
    const keyShape = shape.key ?? { type: "string" };
    const valueShape = shape.value ?? { type: "string" };
    out += `<${entryName}>${xmlElement(keyShape.name ?? "key", k, keyShape)}${xmlElement(valueShape.name ?? "value", v, valueShape)}</${entryName}>`;
  }
  return out;
}
