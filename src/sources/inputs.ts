/**
 * The inputs of a scan, local and S3 mixed: each `s3://` URL is listed by the S3 source, everything
 * else by the local walk, and the results come back in the order the inputs were given.
 */
import { type ListProblem, type LogObjectRef, listLocalObjects, type PathListing } from "./local.js";
import type { ListWindow, S3Source } from "./s3.js";
import { isS3Url } from "./s3-url.js";

export interface InputListing {
  readonly objects: LogObjectRef[];
  readonly problems: ListProblem[];
  readonly ignored: number;
  /** One per input, in the order given; the objects are in that order too, each input's together. */
  readonly paths: PathListing[];
}

/**
 * Lists every input. Local paths are walked together (so that a file reached under two of them is
 * listed once); `s3://` URLs are listed with `s3()` (called only when there is one, so the AWS SDK is loaded only then), pruned to the
 * days of `window`.
 *
 * @example
 * const { objects, problems } = await listInputs(["AWSLogs/", "s3://trail/AWSLogs/"], { s3: async () => source, window: {} });
 */
export async function listInputs(
  inputs: readonly string[],
  options: { readonly s3: () => Promise<S3Source>; readonly window?: ListWindow },
): Promise<InputListing> {
  const local = inputs.filter((p) => !isS3Url(p));
  const localListing = await listLocalObjects(local);
  const remote = await Promise.all(
    inputs.filter(isS3Url).map(async (url) => ({ url, listing: await (await options.s3()).list(url, options.window) })),
  );
  const objects: LogObjectRef[] = [];
  const problems: ListProblem[] = [...localListing.problems];
  const paths: PathListing[] = [];
  let ignored = localListing.ignored;
  let localIndex = 0;
  let localObject = 0;
  let remoteIndex = 0;
  for (const input of inputs) {
    if (isS3Url(input)) {
      const { listing } = remote[remoteIndex++] as (typeof remote)[number];
      objects.push(...listing.objects);
      problems.push(...listing.problems);
      ignored += listing.ignored;
      paths.push({
        path: input,
        objects: listing.objects.length,
        ignored: listing.ignored,
        problems: listing.problems.length,
      });
    } else {
      const listed = localListing.paths[localIndex++] as PathListing;
      objects.push(...localListing.objects.slice(localObject, localObject + listed.objects));
      localObject += listed.objects;
      paths.push(listed);
    }
  }
  return { objects, problems, ignored, paths };
}
