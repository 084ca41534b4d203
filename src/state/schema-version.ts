/** The version check every shared store makes when it opens: one wording for all of them. */
import { StateError } from "../errors.js";

/**
 * Refuses a shared state that is not initialised or not at the version this firstcall reads, saying
 * what to run (`state init` migrates an older one; a newer one needs a newer firstcall).
 *
 * @param noun what the version is called for this store ("state schema", "state layout")
 * @throws StateError `E_STATE_SCHEMA` (not initialised) or `E_STATE_VERSION`
 * @example assertStateVersion(store.location, await schemaVersion(client), PG_SCHEMA_VERSION, "state schema")
 */
export function assertStateVersion(location: string, version: number, expected: number, noun: string): void {
  if (version === 0) {
    throw new StateError(
      "E_STATE_SCHEMA",
      `${location}: not initialised for firstcall; run: firstcall state init --state ${location}`,
    );
  }
  if (version !== expected) {
    throw new StateError(
      "E_STATE_VERSION",
      version < expected
        ? `${location}: ${noun} ${version}, this firstcall needs ${expected}; run: firstcall state init --state ${location}`
        : `${location}: ${noun} ${version} was written by a newer firstcall (this one knows ${expected}): upgrade firstcall.`,
    );
  }
}
