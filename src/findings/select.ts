/**
 * Which findings are printed (`--min-severity`) and which of them set the exit code (`--fail-on`).
 * The rule: the exit code considers only what is printed, so a script never fails on a finding the
 * user did not see, and a printed finding at or above `--fail-on` always fails the run.
 */
import type { FindingSink } from "../pipeline/scan.js";
import { type Finding, type Severity, severityRank } from "./finding.js";

/** `--fail-on`: a severity, or `none` (never exit 1). */
export type FailThreshold = Severity | "none";

/**
 * The findings at or above `min`, in their order.
 *
 * @example
 * atOrAbove(findings, "medium") // drops low and info
 */
export function atOrAbove(findings: readonly Finding[], min: Severity): Finding[] {
  return findings.filter((f) => severityRank(f.severity) >= severityRank(min));
}

/**
 * The `--fail-on` that applies to the printed findings: the higher of the two thresholds, since a
 * finding below `--min-severity` is not printed and so does not count.
 *
 * @example
 * effectiveFailOn("low", "medium") // "medium"
 * effectiveFailOn("high", "low")   // "high"
 * effectiveFailOn("none", "high")  // "none"
 */
export function effectiveFailOn(failOn: FailThreshold, minSeverity: Severity): FailThreshold {
  if (failOn === "none") return "none";
  return severityRank(minSeverity) > severityRank(failOn) ? minSeverity : failOn;
}

/**
 * A sink that passes on only the findings at or above `min`; a batch with none left writes nothing
 * (so a text sink prints no empty table and a file keeps its committed length).
 */
export class MinSeveritySink implements FindingSink {
  readonly path?: string;

  constructor(
    private readonly inner: FindingSink,
    private readonly min: Severity,
  ) {
    if (inner.path !== undefined) this.path = inner.path;
  }

  async open(committedBytes: number | undefined): Promise<void> {
    await this.inner.open?.(committedBytes);
  }

  async write(findings: readonly Finding[]): Promise<number | undefined> {
    const kept = atOrAbove(findings, this.min);
    if (kept.length === 0) return undefined;
    return this.inner.write(kept);
  }
}

/** Keeps the findings for a format that is one document (`json`), written once when the scan ends. */
export class CollectingSink implements FindingSink {
  readonly findings: Finding[] = [];

  async write(findings: readonly Finding[]): Promise<undefined> {
    this.findings.push(...findings);
    return undefined;
  }
}
