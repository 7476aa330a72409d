/**
 * Burrow's release version.
 *
 * @module
 */

/**
 * The version of this Burrow source tree. Keep in sync with `version` in
 * `deno.json`; a release tag `vX.Y.Z` must equal it (the release workflow's
 * `packaging/stamp_version.ts` refuses a tag that does not).
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(`burrow ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";

/**
 * What kind of build this is: `"dev"` in the source tree, `"release"` once the
 * release workflow stamped it (`packaging/stamp_version.ts` rewrites this line
 * in its checkout before `deno compile`). Only a stamped build calls itself
 * plain {@link VERSION}.
 */
export const BUILD: "dev" | "release" = "dev";

/**
 * The version a build reports: {@link VERSION} for a release build,
 * `VERSION-dev` otherwise (a source checkout, `deno task compile`).
 *
 * @example
 * ```ts
 * import { buildVersion } from "./version.ts";
 * buildVersion(); // "0.1.0-dev" in a source checkout
 * ```
 */
export function buildVersion(): string {
  return BUILD === "release" ? VERSION : `${VERSION}-dev`;
}
