/**
 * Stamps a source tree as the release of a tag, before `deno compile`:
 * `deno run -A packaging/stamp_version.ts vX.Y.Z [ROOT]`.
 *
 * The tag must name the version the tree already says it is (`version` in
 * `deno.json` and `VERSION` in `shared/version.ts`): a release is cut by
 * committing the bump and tagging that commit, so a checkout of the tag and
 * the binaries built from it agree. Then the `BUILD` line of
 * `shared/version.ts` is rewritten from `"dev"` to `"release"`, so the binary
 * reports plain `X.Y.Z` where a source checkout or a local `deno task
 * compile` reports `X.Y.Z-dev`. Prints the version on stdout; exits 1, changing
 * nothing, when the tag does not match.
 *
 * @module
 */

import { join } from "node:path";

/** A tag this script accepts: `v` then a SemVer version (pre-release and build parts allowed). */
const TAG = /^v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;

/** The `VERSION` and `BUILD` lines of `shared/version.ts`. */
const VERSION_LINE = /^export const VERSION = "([^"]*)";$/m;
const BUILD_LINE = /^export const BUILD: "dev" \| "release" = "dev";$/m;

/** A tag that cannot be released from this tree. */
export class StampError extends Error {
  override name = "StampError";
  /** Always `"EVERSION"`. */
  readonly code = "EVERSION";
}

/**
 * The version a release tag names: `"1.2.3"` for `"v1.2.3"`.
 *
 * @throws {StampError} when `tag` is not `v` followed by a SemVer version.
 */
export function tagVersion(tag: string): string {
  const version = TAG.exec(tag)?.[1];
  if (version === undefined) {
    throw new StampError(`Tag "${tag}" is not a release tag (v<major>.<minor>.<patch>)`);
  }
  return version;
}

/**
 * `shared/version.ts`'s text stamped as the release of `tag`.
 *
 * @example
 * ```ts
 * const stamped = stampVersionSource(source, "v0.1.0", "0.1.0");
 * ```
 * @throws {StampError} when the tag, `deno.json`'s version (`packageVersion`)
 * and the source's `VERSION` are not one version, or the source has no
 * unstamped `BUILD` line.
 */
export function stampVersionSource(source: string, tag: string, packageVersion: string): string {
  const version = tagVersion(tag);
  const inSource = VERSION_LINE.exec(source)?.[1];
  if (inSource !== version || packageVersion !== version) {
    throw new StampError(
      `Tag "${tag}" says ${version} but shared/version.ts says ${inSource ?? "nothing"} ` +
        `and deno.json says ${packageVersion}: commit the version bump, then tag that commit`,
    );
  }
  if (!BUILD_LINE.test(source)) {
    throw new StampError("shared/version.ts has no unstamped BUILD line (stamped twice?)");
  }
  return source.replace(BUILD_LINE, `export const BUILD: "dev" | "release" = "release";`);
}

/** Stamps the tree at `root` for `tag`; resolves to the version. */
export async function stampTree(root: string, tag: string): Promise<string> {
  const file = join(root, "shared", "version.ts");
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as {
    version?: unknown;
  };
  const source = await Deno.readTextFile(file);
  const stamped = stampVersionSource(source, tag, String(config.version));
  await Deno.writeTextFile(file, stamped);
  return tagVersion(tag);
}

if (import.meta.main) {
  const [tag, root = join(import.meta.dirname!, "..")] = Deno.args;
  if (tag === undefined) {
    console.error("Usage: deno run -A packaging/stamp_version.ts <tag> [root]");
    Deno.exit(2);
  }
  try {
    console.log(await stampTree(root, tag));
  } catch (e) {
    if (!(e instanceof StampError)) throw e;
    console.error(`stamp_version: ${e.message}`);
    Deno.exit(1);
  }
}
