/**
 * Turns the OCSF schema's source definitions (a release of github.com/ocsf/ocsf-schema: dictionary.json,
 * categories.json, events/, objects/, profiles/) into a JSON Schema (draft 2020-12) for one event class,
 * so that events can be checked with a general validator (ajv) instead of the OCSF server.
 *
 * How the definitions are resolved (the OCSF server's rules, as far as a validator needs them):
 * - a class or object `extends` its parent; the attribute definitions are merged deeply, the child's
 *   keys winning (so `activity_id` of Finding keeps Base Event's 0 Unknown and 99 Other and adds its own);
 * - `$include` of `profiles/x.json` adds the profile's attributes tagged with the profile; a class's own
 *   `"profile": null` on an attribute unties it from the profile. Attributes of profiles that are not
 *   applied are left out, so an event carrying them fails (`additionalProperties: false`);
 * - each attribute's definition is the dictionary's entry merged deeply with the class's or object's;
 *   its `type` is a dictionary type (`string_t`, `timestamp_t` → `long_t`, `ip_t` with its regex and
 *   max_len, …) or an object name (a `$ref` into `$defs`); `is_array` makes an array; `enum` keys
 *   become the allowed values; `requirement: "required"` makes it required;
 * - `constraints`: `at_least_one` (anyOf) and `just_one` (oneOf) of the named attributes;
 * - `class_uid` = category uid × 1000 + class uid, `category_uid` its category, `type_uid` =
 *   class_uid × 100 + an `activity_id`; the observable `type_id` values are those the dictionary's
 *   types, attributes and objects declare.
 * Deep merging of enums is the lenient reading: a value allowed by a parent stays allowed.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface OcsfClassSchemaOptions {
  /** The folder holding the OCSF release's sources (dictionary.json, events/, objects/, profiles/). */
  readonly sourceDir: string;
  /** The class's `name`, e.g. `detection_finding`. */
  readonly className: string;
  /** Profiles the events apply (their `metadata.profiles`); the attributes of other profiles are left out. */
  readonly profiles: readonly string[];
}

const JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema";

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `over` merged into `base`: objects key by key, anything else (arrays included) replaced. */
function deepMerge(base: Json | undefined, over: Json | undefined): Json {
  if (over === undefined) return base ?? null;
  if (!isObject(base) || !isObject(over)) return over;
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function readJson(path: string): JsonObject {
  const value = JSON.parse(readFileSync(path, "utf8")) as Json;
  if (!isObject(value)) throw new Error(`${path}: not a JSON object`);
  return value;
}

function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...jsonFiles(path));
    else if (name.endsWith(".json")) out.push(path);
  }
  return out;
}

function byName(paths: readonly string[]): Map<string, JsonObject> {
  const map = new Map<string, JsonObject>();
  for (const path of paths) {
    const def = readJson(path);
    if (typeof def.name !== "string") throw new Error(`${path}: no name`);
    if (map.has(def.name)) throw new Error(`${path}: a second definition named ${def.name}`);
    map.set(def.name, def);
  }
  return map;
}

function sortKeys(o: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k] as Json]),
  );
}

/** The release's sources, read once. */
class OcsfSources {
  readonly dictionary: JsonObject;
  readonly types: JsonObject;
  readonly categories: JsonObject;
  readonly version: string;
  readonly classes: Map<string, JsonObject>;
  readonly objects: Map<string, JsonObject>;

  constructor(readonly dir: string) {
    const dictionary = readJson(join(dir, "dictionary.json"));
    this.dictionary = isObject(dictionary.attributes) ? dictionary.attributes : {};
    this.types = isObject(dictionary.types) && isObject(dictionary.types.attributes) ? dictionary.types.attributes : {};
    const categories = readJson(join(dir, "categories.json"));
    this.categories = isObject(categories.attributes) ? categories.attributes : {};
    this.version = String(readJson(join(dir, "version.json")).version);
    this.classes = byName(jsonFiles(join(dir, "events")));
    this.objects = byName(jsonFiles(join(dir, "objects")));
  }

  /** A definition's own attributes: its `$include`d profiles' (tagged) under its own. */
  private ownAttributes(def: JsonObject, where: string): JsonObject {
    const attributes = isObject(def.attributes) ? def.attributes : {};
    let merged: JsonObject = {};
    const includes = attributes.$include;
    for (const include of Array.isArray(includes) ? includes : []) {
      const profile = readJson(join(this.dir, String(include)));
      const profileName = String(profile.name);
      const profileAttributes = isObject(profile.attributes) ? profile.attributes : {};
      for (const [name, attr] of Object.entries(profileAttributes)) {
        if (!isObject(attr)) throw new Error(`${include}: attribute ${name} is not an object (in ${where})`);
        merged[name] = deepMerge(merged[name], { ...attr, profile: profileName });
      }
    }
    for (const [name, attr] of Object.entries(attributes)) {
      if (name === "$include") continue;
      merged = { ...merged, [name]: deepMerge(merged[name], attr) };
    }
    return merged;
  }

  /** Every attribute of a class or object, its `extends` chain resolved. */
  resolved(kind: "class" | "object", name: string): { def: JsonObject; attributes: JsonObject; chain: string[] } {
    const table = kind === "class" ? this.classes : this.objects;
    const def = table.get(name);
    if (!def) throw new Error(`OCSF ${kind} ${name} is not defined in ${this.dir}`);
    const parentName = typeof def.extends === "string" && def.extends !== "object" ? def.extends : undefined;
    const own = this.ownAttributes(def, `${kind} ${name}`);
    if (!parentName) return { def, attributes: own, chain: [name] };
    const parent = this.resolved(kind, parentName);
    const attributes = deepMerge(parent.attributes, own) as JsonObject;
    const constraints = deepMerge(parent.def.constraints ?? undefined, def.constraints ?? undefined);
    return {
      def: { ...parent.def, ...def, ...(isObject(constraints) ? { constraints } : {}) },
      attributes,
      chain: [...parent.chain, name],
    };
  }

  /** The observable type ids the release declares (types, dictionary attributes, objects, class attributes). */
  observableTypeIds(): number[] {
    const ids = new Set<number>([0, 99]);
    const add = (v: Json | undefined) => typeof v === "number" && ids.add(v);
    for (const t of Object.values(this.types)) if (isObject(t)) add(t.observable);
    for (const a of Object.values(this.dictionary)) if (isObject(a)) add(a.observable);
    for (const table of [this.objects, this.classes]) {
      for (const def of table.values()) {
        add(def.observable);
        if (isObject(def.attributes)) for (const a of Object.values(def.attributes)) if (isObject(a)) add(a.observable);
      }
    }
    return [...ids].sort((a, b) => a - b);
  }
}

/** The JSON Schema of a dictionary type (`string_t`, `ip_t`, `timestamp_t` …), its base types followed. */
function primitiveSchema(sources: OcsfSources, type: string): JsonObject {
  switch (type) {
    case "string_t":
      return { type: "string" };
    case "integer_t":
    case "long_t":
      return { type: "integer" };
    case "float_t":
      return { type: "number" };
    case "boolean_t":
      return { type: "boolean" };
    case "json_t":
      return {};
  }
  const def = sources.types[type];
  if (!isObject(def) || typeof def.type !== "string") throw new Error(`OCSF type ${type} is not defined`);
  const schema: JsonObject = { ...primitiveSchema(sources, def.type) };
  if (typeof def.regex === "string") schema.pattern = def.regex;
  if (typeof def.max_len === "number") schema.maxLength = def.max_len;
  if (Array.isArray(def.range)) {
    schema.minimum = def.range[0] as number;
    schema.maximum = def.range[1] as number;
  }
  return schema;
}

/** Builds `$defs` entries on demand, one per object, so recursive objects become recursive `$ref`s. */
class SchemaBuilder {
  readonly defs = new Map<string, JsonObject>();
  private readonly observableTypeIds: number[];

  constructor(
    private readonly sources: OcsfSources,
    private readonly profiles: ReadonlySet<string>,
  ) {
    this.observableTypeIds = sources.observableTypeIds();
  }

  /** The schema of one attribute of `owner` (a class or object name). */
  attributeSchema(owner: string, name: string, attr: JsonObject): JsonObject {
    const dictionaryEntry = this.sources.dictionary[name];
    if (!isObject(dictionaryEntry)) throw new Error(`OCSF attribute ${name} (of ${owner}) is not in the dictionary`);
    const merged = deepMerge(dictionaryEntry, attr) as JsonObject;
    const type = String(merged.type);
    let schema: JsonObject;
    if (type === "object") schema = { type: "object" };
    else if (type.endsWith("_t")) schema = primitiveSchema(this.sources, type);
    else {
      this.objectDef(type);
      schema = { $ref: `#/$defs/${type}` };
    }
    if (owner === "observable" && name === "type_id") schema.enum = this.observableTypeIds;
    else if (isObject(merged.enum)) {
      const keys = Object.keys(merged.enum);
      schema.enum = schema.type === "integer" ? keys.map(Number).sort((a, b) => a - b) : keys.sort();
    }
    if (merged.is_array === true) schema = { type: "array", items: schema };
    return schema;
  }

  /** An object's properties, required list and constraints. */
  private shape(owner: string, attributes: JsonObject, constraints: Json | undefined): JsonObject {
    const properties: JsonObject = {};
    const required: string[] = [];
    for (const name of Object.keys(attributes).sort()) {
      const attr = attributes[name];
      if (!isObject(attr)) continue;
      if (typeof attr.profile === "string" && !this.profiles.has(attr.profile)) continue;
      properties[name] = this.attributeSchema(owner, name, attr);
      if (attr.requirement === "required") required.push(name);
    }
    const schema: JsonObject = { type: "object", properties, additionalProperties: false };
    if (required.length) schema.required = required;
    if (isObject(constraints)) {
      const present = (names: Json | undefined) =>
        (Array.isArray(names) ? names : []).map(String).filter((n) => n in properties);
      const atLeastOne = present(constraints.at_least_one);
      const justOne = present(constraints.just_one);
      if (atLeastOne.length) schema.anyOf = atLeastOne.map((n) => ({ required: [n] }));
      if (justOne.length)
        schema.oneOf = justOne.map((n) => ({
          required: [n],
          not: { anyOf: justOne.filter((o) => o !== n).map((o) => ({ required: [o] })) },
        }));
    }
    return schema;
  }

  objectDef(name: string): void {
    if (this.defs.has(name)) return;
    this.defs.set(name, {}); // placeholder: a recursive reference finds it
    const { def, attributes, chain } = this.sources.resolved("object", name);
    const schema = this.shape(name, attributes, def.constraints ?? undefined);
    this.defs.set(name, {
      title: String(def.caption ?? name),
      $comment: `OCSF object ${chain.join(" > ")}`,
      ...schema,
    });
  }

  classSchema(name: string): JsonObject {
    const { def, attributes, chain } = this.sources.resolved("class", name);
    const category = this.sources.categories[String(def.category)];
    if (!isObject(category) || typeof category.uid !== "number" || typeof def.uid !== "number")
      throw new Error(`OCSF class ${name}: no category or uid`);
    const classUid = category.uid * 1000 + def.uid;
    const schema = this.shape(name, attributes, def.constraints ?? undefined);
    const properties = schema.properties as JsonObject;
    const activityIds = ((properties.activity_id as JsonObject | undefined)?.enum ?? []) as number[];
    properties.class_uid = { type: "integer", const: classUid };
    properties.category_uid = { type: "integer", const: category.uid };
    properties.type_uid = { type: "integer", enum: activityIds.map((a) => classUid * 100 + a) };
    return {
      title: `OCSF ${String(def.caption)} (class_uid ${classUid}), schema ${this.sources.version}`,
      $comment: `class ${chain.join(" > ")}; profiles applied: ${[...this.profiles].sort().join(", ") || "none"}`,
      ...schema,
    };
  }
}

/**
 * The JSON Schema (draft 2020-12) of one OCSF event class with the given profiles applied: the same
 * sources give the same text, byte for byte (keys are sorted, nothing depends on the file order).
 *
 * @example
 * const schema = ocsfClassJsonSchema({ sourceDir: "ocsf-schema-1.8.0", className: "detection_finding", profiles: ["cloud"] });
 * new Ajv2020({ strict: false }).compile(schema);
 */
export function ocsfClassJsonSchema(options: OcsfClassSchemaOptions): JsonObject {
  const sources = new OcsfSources(options.sourceDir);
  const builder = new SchemaBuilder(sources, new Set(options.profiles));
  const root = builder.classSchema(options.className);
  const defs: JsonObject = {};
  for (const name of [...builder.defs.keys()].sort()) defs[name] = builder.defs.get(name) as JsonObject;
  return {
    $schema: JSON_SCHEMA_DRAFT,
    $id: `urn:firstcall:ocsf:${sources.version}:${options.className}:${[...options.profiles].sort().join("+")}`,
    ...root,
    $defs: sortKeys(defs),
  };
}

/** The release's version (its version.json). */
export function ocsfVersion(sourceDir: string): string {
  return String(readJson(join(sourceDir, "version.json")).version);
}

/** The profiles firstcall's Detection Findings apply (`metadata.profiles`). */
export const DETECTION_FINDING_PROFILES = ["cloud"] as const;
export const OCSF_SCHEMA_VERSION = "1.8.0";

/** The generated schema shipped with the package, and the OCSF licence notice beside it. */
export const DETECTION_FINDING_SCHEMA_PATH = fileURLToPath(
  new URL(`../../../data/ocsf/detection_finding-${OCSF_SCHEMA_VERSION}.schema.json`, import.meta.url),
);

/**
 * Where the OCSF sources are looked for: `$OCSF_SCHEMA_DIR`, else `../shared/reference/ocsf-schema-1.8.0`
 * beside the checkout.
 */
export function defaultOcsfSourceDir(): string {
  return (
    process.env.OCSF_SCHEMA_DIR ??
    fileURLToPath(new URL(`../../../../shared/reference/ocsf-schema-${OCSF_SCHEMA_VERSION}`, import.meta.url))
  );
}

/**
 * The text of the committed Detection Finding schema, generated from the sources.
 *
 * @example
 * writeFileSync(DETECTION_FINDING_SCHEMA_PATH, detectionFindingSchemaText(defaultOcsfSourceDir()));
 */
export function detectionFindingSchemaText(sourceDir: string): string {
  const version = ocsfVersion(sourceDir);
  if (version !== OCSF_SCHEMA_VERSION)
    throw new Error(`${sourceDir}: OCSF ${version}, expected ${OCSF_SCHEMA_VERSION}`);
  const schema = ocsfClassJsonSchema({
    sourceDir,
    className: "detection_finding",
    profiles: DETECTION_FINDING_PROFILES,
  });
  return `${JSON.stringify(schema, null, 1)}\n`;
}
