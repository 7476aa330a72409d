/**
 * Loading JSONC config files (JSON with comments and trailing commas) into a
 * syntax tree that remembers where every value is, and {@link ConfigError},
 * the one error every config mistake becomes: `file:line:column: key: what`.
 *
 * @module
 */

import {
  findNodeAtLocation,
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "./jsonc_parser.ts";
import { basename } from "node:path";
import { isHostname } from "../net/address.ts";

/** A path to a value: object keys and array indexes, outermost first. */
export type KeyPath = readonly (string | number)[];

/** Why a config was rejected. */
export type ConfigErrorCode =
  /** The file could not be read (missing, unreadable, not a file). */
  | "io"
  /** Not valid JSONC. */
  | "syntax"
  /** A value has the wrong JSON type (a string where a number goes, …). */
  | "type"
  /** A value has the right type but is not acceptable (out of range, malformed, …). */
  | "invalid"
  /** A required key is absent. */
  | "missing"
  /** A key that is not part of the format. */
  | "unknown-key"
  /** The same key twice in one object. */
  | "duplicate-key";

/** Where in a file: 1-based line and column (both 0 when unknown). */
export interface Position {
  /** Line, from 1. */
  line: number;
  /** Column, from 1, in UTF-16 code units. */
  column: number;
}

/** Options of {@link ConfigError}. */
export interface ConfigErrorOptions extends Partial<Position> {
  /** Machine-readable reason. */
  code: ConfigErrorCode;
  /** The file, as the user named it. */
  file: string;
  /** Dotted key path (`clients.networks[2]`); empty for the whole file. */
  key?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A config file is unreadable, not JSONC, or holds a value that does not
 * validate. The message names the place and the key:
 * `conf/server.jsonc:12:5: clients.networks[2]: "10.0.0.300/8" is not a valid CIDR`.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./jsonc.ts";
 * const e = new ConfigError('"x" is not a number', {
 *   code: "type", file: "conf/server.jsonc", line: 3, column: 9, key: "limits.bodySize",
 * });
 * e.message; // 'conf/server.jsonc:3:9: limits.bodySize: "x" is not a number'
 * ```
 */
export class ConfigError extends Error {
  /** Always `"ConfigError"`. */
  override name = "ConfigError";
  /** Machine-readable reason. */
  readonly code: ConfigErrorCode;
  /** The file, as the user named it. */
  readonly file: string;
  /** Line, from 1; 0 when the error is about the whole file. */
  readonly line: number;
  /** Column, from 1; 0 when the error is about the whole file. */
  readonly column: number;
  /** Dotted key path; empty when the error is not about one key. */
  readonly key: string;
  /** The message without the place and key prefix. */
  readonly detail: string;

  /** Creates a config error; the message is built from `detail` and the place. */
  constructor(detail: string, options: ConfigErrorOptions) {
    const line = options.line ?? 0;
    const column = options.column ?? 0;
    const key = options.key ?? "";
    const place = line > 0 ? `${options.file}:${line}:${column}` : options.file;
    super(`${place}: ${key === "" ? "" : `${key}: `}${detail}`, { cause: options.cause });
    this.code = options.code;
    this.file = options.file;
    this.line = line;
    this.column = column;
    this.key = key;
    this.detail = detail;
  }
}

/**
 * Formats a key path the way errors show it: `clients.networks[2]`; keys that
 * are not identifiers are quoted (`headers["x-y"]`).
 *
 * @example
 * ```ts
 * import { formatKeyPath } from "./jsonc.ts";
 * formatKeyPath(["clients", "networks", 2]); // "clients.networks[2]"
 * ```
 */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** "CommaExpected" → "comma expected". */
function describeParseError(error: ParseError): string {
  return printParseErrorCode(error.error).replace(/(?<=[a-z])(?=[A-Z])/g, " ").toLowerCase();
}

/**
 * A parsed JSONC file: its syntax tree, and positions of every value.
 *
 * @example
 * ```ts
 * import { JsoncDocument } from "./jsonc.ts";
 * const doc = JsoncDocument.parse("a.jsonc", '{\n  // comment\n  "port": 80,\n}');
 * doc.positionOf(["port"]); // { line: 3, column: 11 }
 * ```
 */
export class JsoncDocument {
  /** The file, as the user named it (used in error messages). */
  readonly file: string;
  /** The file's text. */
  readonly text: string;
  /** Root of the syntax tree. */
  readonly root: Node;
  readonly #lineStarts: number[];

  private constructor(file: string, text: string, root: Node, lineStarts: number[]) {
    this.file = file;
    this.text = text;
    this.root = root;
    this.#lineStarts = lineStarts;
  }

  /**
   * Parses `text` (comments and trailing commas allowed).
   *
   * @throws {ConfigError} code `syntax`, at the first error's line and column.
   */
  static parse(file: string, text: string): JsoncDocument {
    // A byte-order mark is replaced, not removed, so offsets stay right.
    const source = text.startsWith("\uFEFF") ? ` ${text.slice(1)}` : text;
    const lineStarts = [0];
    for (const match of source.matchAll(/\r\n|\r|\n/g)) {
      lineStarts.push(match.index + match[0].length);
    }
    const errors: ParseError[] = [];
    const root = parseTree(source, errors, {
      allowTrailingComma: true,
      disallowComments: false,
    });
    const doc = new JsoncDocument(file, source, root ?? emptyRoot(), lineStarts);
    const first = errors[0];
    if (first !== undefined) {
      throw doc.errorAtOffset(first.offset, `Syntax error: ${describeParseError(first)}`, "syntax");
    }
    if (root === undefined) throw doc.errorAtOffset(0, "Syntax error: value expected", "syntax");
    return doc;
  }

  /** Line and column (1-based) of a character offset. */
  positionAt(offset: number): Position {
    let low = 0;
    let high = this.#lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.#lineStarts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - (this.#lineStarts[low] ?? 0) + 1 };
  }

  /** The node of the value at `path`, or undefined when it is absent. */
  nodeAt(path: KeyPath): Node | undefined {
    return findNodeAtLocation(this.root, [...path]);
  }

  /**
   * Position of the value at `path`, or of its nearest enclosing value that
   * exists (so a missing key points at the object that lacks it).
   */
  positionOf(path: KeyPath): Position {
    return this.positionAt(this.nearestNode(path).offset);
  }

  /** The node at `path`, or of its nearest enclosing value that exists (at worst the root). */
  nearestNode(path: KeyPath): Node {
    for (let length = path.length; length > 0; length--) {
      const node = this.nodeAt(path.slice(0, length));
      if (node !== undefined) return node;
    }
    return this.root;
  }

  /** A {@link ConfigError} at the value at `path` (or its nearest existing parent). */
  errorAt(path: KeyPath, detail: string, code: ConfigErrorCode): ConfigError {
    return new ConfigError(detail, {
      code,
      file: this.file,
      key: formatKeyPath(path),
      ...this.positionOf(path),
    });
  }

  /** A {@link ConfigError} at a character offset, optionally naming a key. */
  errorAtOffset(
    offset: number,
    detail: string,
    code: ConfigErrorCode,
    path: KeyPath = [],
  ): ConfigError {
    return new ConfigError(detail, {
      code,
      file: this.file,
      key: formatKeyPath(path),
      ...this.positionAt(offset),
    });
  }
}

/** An empty object node, for a document whose text holds no value. */
function emptyRoot(): Node {
  return { type: "object", offset: 0, length: 0, children: [] };
}

/**
 * Reads and parses a JSONC file.
 *
 * @throws {ConfigError} code `io` when the file cannot be read, `syntax` when
 * it is not JSONC.
 * @example
 * ```ts
 * import { loadJsonc } from "./jsonc.ts";
 * const doc = await loadJsonc("conf/server.jsonc");
 * ```
 */
export async function loadJsonc(file: string): Promise<JsoncDocument> {
  return JsoncDocument.parse(file, await readConfigText(file));
}

/**
 * Reads a config file as text, turning any failure into a {@link ConfigError}
 * with code `io` (`conf/x.jsonc: Cannot read file: No such file or directory`).
 */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConfigError(`Cannot read file: ${reason}`, { code: "io", file, cause: error });
  }
}

/**
 * The domain a domain file is for: its file name without `.jsonc`, lower-cased.
 *
 * @throws {ConfigError} code `invalid` when that is not a valid host name.
 * @example
 * ```ts
 * import { domainNameOfFile } from "./jsonc.ts";
 * domainNameOfFile("conf/server.d/WWW.Example.com.jsonc"); // "www.example.com"
 * ```
 */
export function domainNameOfFile(file: string): string {
  const base = basename(file);
  const name = (base.endsWith(".jsonc") ? base.slice(0, -".jsonc".length) : base).toLowerCase();
  if (!isHostname(name)) {
    throw new ConfigError(
      `File name must be a domain name followed by ".jsonc", like "www.example.com.jsonc"`,
      { code: "invalid", file },
    );
  }
  return name;
}
