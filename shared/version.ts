/**
 * Burrow's release version.
 *
 * @module
 */

/**
 * The version of this Burrow build. Keep in sync with `version` in `deno.json`.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(`burrow ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
