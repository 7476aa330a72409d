/**
 * The one reading of a domains folder, shared by the server, the agent and
 * `burrow check`; each passes the parser of its own domain files. The
 * server's `agents.d` and `operators.d` folders are read the same way, with
 * their own parsers (an entry's `name` is then the agent's or operator's).
 *
 * Which entries are domain files: `*.jsonc` names that do not start with `.`
 * (hidden) or `_` (disabled), regular files or symbolic links to files. A
 * dangling link counts (reading it fails, which is reported). Everything
 * else (sub-folders, other names) is ignored.
 *
 * The rule at start, the same for all three: a missing domains folder, a
 * domain file that does not validate, or two files for one domain (names
 * that differ only in case) is an error: the server and the agent refuse to
 * start, and `burrow check` fails, naming the file. While running, a file
 * that does not validate is rejected with a log line and its previous
 * version (if any) stays in force.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { ConfigError } from "./jsonc.ts";

/** What every parsed domain file has. */
export interface DomainEntry {
  /** The domain name (the file name without `.jsonc`, lower case). */
  readonly name: string;
  /** The file it came from (absolute). */
  readonly file: string;
}

/** Parses the text of one domain file (server's or agent's). */
export type DomainParser<T extends DomainEntry> = (file: string, text: string) => T;

/** The outcome for one domain file of a folder. */
export type DomainFileResult<T> =
  | { file: string; domain: T; error?: undefined }
  | { file: string; domain?: undefined; error: ConfigError };

/**
 * Whether a folder entry's name is a domain file's: `*.jsonc`, not starting
 * with `.` or `_`.
 *
 * @example
 * ```ts
 * import { isDomainFileName } from "./domain_folder.ts";
 * isDomainFileName("www.example.com.jsonc"); // true
 * isDomainFileName("_www.example.com.jsonc"); // false (disabled)
 * ```
 */
export function isDomainFileName(name: string): boolean {
  return name.endsWith(".jsonc") && !/^[._]/.test(name);
}

/**
 * What a folder's files are called in messages: `domain` for the domains
 * folders, `agent` and `operator` for the server's `agents.d` and
 * `operators.d`, which follow the same rules.
 */
export type EntryNoun = "domain" | "agent" | "operator";

/** `noun` with a capital first letter. */
export function capitalized(noun: EntryNoun): string {
  return noun.charAt(0).toUpperCase() + noun.slice(1);
}

/** The error for a domains folder that is missing or cannot be listed. */
function folderError(folder: string, error: unknown, noun: EntryNoun): ConfigError {
  const detail = error instanceof Deno.errors.NotFound
    ? `${capitalized(noun)} folder does not exist`
    : `${capitalized(noun)} folder cannot be read: ${(error as Error).message}`;
  return new ConfigError(detail, { code: "io", file: folder, cause: error });
}

/** Whether a symbolic link points to a file (true when it dangles: reading it reports that). */
async function linksToFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return true;
  }
}

/**
 * Lists the domain files of `folder`, sorted by name, as paths joined to
 * `folder`: see the module doc for which entries count. `noun` names what
 * the files are in the error (default "domain").
 *
 * @throws {ConfigError} code `io` when the folder does not exist or cannot be read.
 * @example
 * ```ts
 * import { listDomainFiles } from "./domain_folder.ts";
 * await listDomainFiles("conf/server.d"); // ["conf/server.d/localhost.jsonc"]
 * ```
 */
export async function listDomainFiles(
  folder: string,
  noun: EntryNoun = "domain",
): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (!isDomainFileName(entry.name)) continue;
      if (entry.isFile || (entry.isSymlink && await linksToFile(join(folder, entry.name)))) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    throw folderError(folder, error, noun);
  }
  names.sort();
  return names.map((name) => join(folder, name));
}

/**
 * Largest domain file read, in bytes: ten thousand `$6$` credentials fit in
 * 1.2 MB. A larger one is refused before it is read, so a link to a log file
 * or a disk image makes a clear error instead of holding it all in memory.
 */
export const MAX_DOMAIN_FILE_BYTES = 16 * 1024 * 1024;

/** Reads and parses one domain file; every failure becomes a ConfigError. */
export async function readDomainFile<T extends DomainEntry>(
  file: string,
  parse: DomainParser<T>,
): Promise<T> {
  let text: string;
  try {
    const { size } = await Deno.stat(file);
    if (size > MAX_DOMAIN_FILE_BYTES) {
      throw new ConfigError(
        `Domain file too large: ${size} bytes, at most ${MAX_DOMAIN_FILE_BYTES}`,
        { code: "io", file },
      );
    }
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : (error as Error).message;
    throw new ConfigError(`Cannot read file: ${reason}`, { code: "io", file, cause: error });
  }
  return parse(file, text);
}

/** The error for a second file naming a domain another file already has. */
export function duplicateError(
  file: string,
  other: string,
  noun: EntryNoun = "domain",
): ConfigError {
  return new ConfigError(`Same ${noun} as ${other}`, { code: "invalid", file });
}

/**
 * Reads every domain file of `folder` with `parse`: one result per file, in
 * name order, each the domain or its {@link ConfigError}. A second file for a
 * domain already read is an error ("Same domain as …"; `noun` names what the
 * files are in messages, default "domain").
 *
 * @throws {ConfigError} code `io` when the folder does not exist or cannot be read.
 * @example
 * ```ts
 * import { readDomainFolder } from "./domain_folder.ts";
 * import { domainNameOfFile } from "./jsonc.ts";
 * const parse = (file: string) => ({ name: domainNameOfFile(file), file });
 * const results = await readDomainFolder("conf/server.d", parse);
 * results[0]?.domain?.name; // "localhost"
 * ```
 */
export async function readDomainFolder<T extends DomainEntry>(
  folder: string,
  parse: DomainParser<T>,
  noun: EntryNoun = "domain",
): Promise<DomainFileResult<T>[]> {
  const results: DomainFileResult<T>[] = [];
  const seen = new Map<string, string>();
  for (const file of await listDomainFiles(folder, noun)) {
    try {
      const domain = await readDomainFile(file, parse);
      const other = seen.get(domain.name);
      if (other !== undefined) throw duplicateError(file, other, noun);
      seen.set(domain.name, file);
      results.push({ file, domain });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      results.push({ file, error });
    }
  }
  return results;
}

/**
 * The domain file a changed path of `folder` stands for (joined to
 * `folder`), or null when it is not one: not directly in the folder (or in
 * `realFolder`, the folder with links resolved, as watchers may report it),
 * or not a domain file's name.
 */
export function domainFileOf(path: string, folder: string, realFolder = folder): string | null {
  const name = basename(path);
  const dir = resolve(path, "..");
  if (dir !== folder && dir !== realFolder) return null;
  return isDomainFileName(name) ? join(folder, name) : null;
}
