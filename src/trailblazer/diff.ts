/**
 * `trailblazer map --diff OLD.json`: what changed between two mappings (two runs, or one run
 * mapped before and after more logs arrived): operations that started or stopped being logged,
 * and those logged under another eventSource, eventName or category.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { safeText } from "../safe-text.js";
import { MAPPING_SCHEMA, type Mapping, type OperationMapping } from "./mapper.js";

export type ChangeKind = "added" | "removed" | "now-logged" | "no-longer-logged" | "changed";

export interface MappingChange {
  readonly key: string;
  readonly kind: ChangeKind;
  /** For `changed`: field → [old, new]. */
  readonly fields?: Readonly<Record<string, readonly [unknown, unknown]>>;
}

export interface MappingDiff {
  readonly oldRunId: string;
  readonly newRunId: string;
  readonly changes: readonly MappingChange[];
  readonly counts: Readonly<Record<ChangeKind, number>>;
}

const COMPARED: ReadonlyArray<keyof OperationMapping> = [
  "eventSource",
  "eventName",
  "eventCategory",
  "managementEvent",
  "readOnly",
  "loggedErrorCode",
];

function key(o: OperationMapping): string {
  return `${o.service}.${o.operation}`;
}

/**
 * Compares two mappings operation by operation. Calls that were not sent in either run carry no
 * information and are left out.
 *
 * @example
 * const diff = diffMappings(loadMapping("old.json"), mapping);
 * diff.counts["no-longer-logged"];
 */
export function diffMappings(older: Mapping, newer: Mapping): MappingDiff {
  const before = new Map(older.operations.filter((o) => o.sent).map((o) => [key(o), o]));
  const after = new Map(newer.operations.filter((o) => o.sent).map((o) => [key(o), o]));
  const changes: MappingChange[] = [];
  for (const k of before.keys()) if (!after.has(k)) changes.push({ key: k, kind: "removed" });
  for (const [k, n] of after) {
    const o = before.get(k);
    if (o === undefined) {
      changes.push({ key: k, kind: "added" });
      continue;
    }
    if (!o.logged && n.logged) changes.push({ key: k, kind: "now-logged" });
    else if (o.logged && !n.logged) changes.push({ key: k, kind: "no-longer-logged" });
    else if (o.logged && n.logged) {
      const fields: Record<string, readonly [unknown, unknown]> = {};
      for (const f of COMPARED) if (o[f] !== n[f]) fields[f] = [o[f], n[f]];
      if (Object.keys(fields).length > 0) changes.push({ key: k, kind: "changed", fields });
    }
  }
  changes.sort((a, b) => a.key.localeCompare(b.key));
  const counts: Record<ChangeKind, number> = {
    added: 0,
    removed: 0,
    "now-logged": 0,
    "no-longer-logged": 0,
    changed: 0,
  };
  for (const c of changes) counts[c.kind]++;
  return { oldRunId: older.runId, newRunId: newer.runId, changes, counts };
}

/** Reads a mapping written by `trailblazer map --format json`. */
export function loadMapping(path: string): Mapping {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UsageError("E_USAGE", `--diff: cannot read ${path}: ${(error as Error).message}`);
  }
  const m = parsed as Partial<Mapping>;
  if (m.schema !== MAPPING_SCHEMA || !Array.isArray(m.operations)) {
    throw new UsageError("E_USAGE", `--diff: ${path} is not a trailblazer mapping (write one with map --format json)`);
  }
  return m as Mapping;
}

/** One line per change, then the counts. */
export function renderDiffText(diff: MappingDiff): string {
  const lines = diff.changes.map((c) => {
    // Keys and values come from two mapping files, and through them from the logs.
    if (c.kind !== "changed") return `${c.kind.padEnd(17)} ${safeText(c.key)}`;
    const fields = Object.entries(c.fields ?? {})
      .map(([f, [a, b]]) => `${safeText(f)}: ${safeText(String(a ?? "-"))} → ${safeText(String(b ?? "-"))}`)
      .join("; ");
    return `${"changed".padEnd(17)} ${safeText(c.key)}  ${fields}`;
  });
  const n = diff.counts;
  lines.push(
    "",
    `${safeText(diff.oldRunId)} → ${safeText(diff.newRunId)}: ${n["now-logged"]} now logged, ${n["no-longer-logged"]} no longer logged, ` +
      `${n.changed} logged differently, ${n.added} added, ${n.removed} removed`,
  );
  return `${lines.join("\n")}\n`;
}
