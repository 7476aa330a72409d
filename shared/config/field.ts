/**
 * One value of a JSONC config document and its typed conversions (boolean,
 * integer, string, duration, size, CIDRs, file path, address, regular
 * expression, URL), each throwing a {@link ConfigError} at the value when it
 * does not fit. Objects are read with `ObjectReader` (`fields.ts`).
 *
 * @module
 */

import { getNodeValue, type Node } from "./jsonc_parser.ts";
import { isAbsolute, resolve } from "node:path";
import { type HostPort, parseHostPort } from "../net/address.ts";
import { CidrSet } from "../net/cidr.ts";
import type { ConfigError, ConfigErrorCode, JsoncDocument, KeyPath } from "./jsonc.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.ts";

/** JSON value types, as named in error messages. */
export type JsonType = "object" | "array" | "string" | "number" | "boolean" | "null";

/** Bounds of a number (inclusive). */
export interface Bounds {
  /** Smallest accepted value. */
  min?: number;
  /** Largest accepted value. */
  max?: number;
}

/** Options of {@link Field.string}. */
export interface StringOptions {
  /** The value must match (whole string); `hint` says what it should look like. */
  pattern?: RegExp;
  /** What `pattern` means, for the error: `a URL path starting with "/"`. */
  hint?: string;
  /** Refuse `""`. Default false. */
  nonEmpty?: boolean;
}

/** Options shared by the config loaders. */
export interface LoadOptions {
  /** Also check that every file a config names (certificates, keys, CA) exists. Default false. */
  checkFiles?: boolean;
}

/** Describes a value for an error message: strings quoted, long ones cut. */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}

/** Formats `[min, max]` with `format` for an out-of-range message. */
function rangeText(bounds: Bounds, format: (n: number) => string): string {
  const { min, max } = bounds;
  if (min !== undefined && max !== undefined) return `${format(min)} to ${format(max)}`;
  if (min !== undefined) return `at least ${format(min)}`;
  return `at most ${format(max ?? 0)}`;
}

/**
 * One value of a config document, with typed accessors that throw a
 * {@link ConfigError} at the value when it does not fit. Read an object value
 * with `ObjectReader.of(field)` (`fields.ts`).
 *
 * @example
 * ```ts
 * import { Field } from "./field.ts";
 * import { JsoncDocument } from "./jsonc.ts";
 * const doc = JsoncDocument.parse("a.jsonc", '{ "timeout": "15s" }');
 * new Field(doc, ["timeout"], doc.nodeAt(["timeout"])!).duration({ max: 60_000 }); // 15000
 * ```
 */
export class Field {
  /** The document the value is in. */
  readonly doc: JsoncDocument;
  /** Where the value is. */
  readonly path: KeyPath;
  /** Its syntax-tree node. */
  readonly node: Node;

  /** Wraps the value `node` found at `path` of `doc`. */
  constructor(doc: JsoncDocument, path: KeyPath, node: Node) {
    this.doc = doc;
    this.path = path;
    this.node = node;
  }

  /** The JSON type of the value. */
  get type(): JsonType {
    return this.node.type as JsonType; // a value node is never a "property"
  }

  /** The value as plain JavaScript. */
  get value(): unknown {
    return getNodeValue(this.node);
  }

  /** A {@link ConfigError} at this value. */
  error(detail: string, code: ConfigErrorCode = "invalid"): ConfigError {
    return this.doc.errorAtOffset(this.node.offset, detail, code, this.path);
  }

  /** A `type` error: `expected <what>, got <value>`. */
  typeError(expected: string): ConfigError {
    return this.error(`expected ${expected}, got ${describe(this.value)}`, "type");
  }

  /** The value as a boolean. */
  bool(): boolean {
    if (this.node.type !== "boolean") throw this.typeError("true or false");
    return this.node.value as boolean;
  }

  /** The value as an integer within `bounds`. */
  int(bounds: Bounds = {}): number {
    const value = this.node.value;
    if (this.node.type !== "number" || !Number.isSafeInteger(value)) {
      throw this.typeError("a whole number");
    }
    this.#checkRange(value as number, bounds, String);
    return value as number;
  }

  /** The value as a string, checked against `options`. */
  string(options: StringOptions = {}): string {
    if (this.node.type !== "string") throw this.typeError("a string");
    const value = this.node.value as string;
    if (options.nonEmpty === true && value === "") throw this.error("must not be empty");
    if (options.pattern !== undefined && !options.pattern.test(value)) {
      throw this.error(`${describe(value)} is not ${options.hint ?? "valid"}`);
    }
    return value;
  }

  /** The value as a duration in ms (`"15s"` or seconds) within `bounds` (ms). */
  duration(bounds: Bounds = {}): number {
    let ms: number;
    try {
      ms = parseDuration(this.value);
    } catch (error) {
      throw this.error((error as Error).message, "type");
    }
    this.#checkRange(ms, bounds, formatDuration);
    return ms;
  }

  /** The value as a size in bytes (`"8MB"` or bytes) within `bounds` (bytes). */
  size(bounds: Bounds = {}): number {
    let bytes: number;
    try {
      bytes = parseSize(this.value);
    } catch (error) {
      throw this.error((error as Error).message, "type");
    }
    this.#checkRange(bytes, bounds, formatSize);
    return bytes;
  }

  /** The value as an array of fields. */
  array(): Field[] {
    if (this.node.type !== "array") throw this.typeError("an array");
    return (this.node.children ?? []).map((child, i) =>
      new Field(this.doc, [...this.path, i], child)
    );
  }

  /** The value as an array of strings, each checked against `options`. */
  stringArray(options: StringOptions = {}): string[] {
    return this.array().map((item) => item.string(options));
  }

  /** The value as an array of CIDRs. */
  cidrs(): CidrSet {
    const items = this.array();
    return new CidrSet(items.map((item) => {
      const text = item.string();
      try {
        new CidrSet([text]);
      } catch {
        throw item.error(`${describe(text)} is not a valid CIDR`);
      }
      return text;
    }));
  }

  /**
   * The value as a file path, resolved against `baseDir` (the config file's
   * folder) unless absolute. With `checkFiles`, the file must exist.
   */
  filePath(baseDir: string, options: LoadOptions = {}): string {
    const text = this.string({ nonEmpty: true });
    const path = isAbsolute(text) ? text : resolve(baseDir, text);
    if (options.checkFiles === true) {
      let isFile = false;
      try {
        isFile = Deno.statSync(path).isFile;
      } catch {
        // missing or unreadable: isFile stays false
      }
      if (!isFile) throw this.error(`file ${JSON.stringify(path)} does not exist`, "io");
    }
    return path;
  }

  /** The value as a `host:port` address; port 0 only with `allowZero`. */
  hostPort(options: { allowZero?: boolean } = {}): HostPort {
    const text = this.string();
    try {
      return parseHostPort(text, options);
    } catch (error) {
      throw this.error((error as Error).message);
    }
  }

  /** The value as a regular expression compiled with `flags`. */
  regex(flags = ""): RegExp {
    const source = this.string();
    try {
      return new RegExp(source, flags);
    } catch (error) {
      throw this.error(
        `${describe(source)} is not a valid regular expression: ${(error as Error).message}`,
      );
    }
  }

  /** The value as an absolute URL whose scheme is one of `protocols` (`["http:", "https:"]`). */
  url(protocols: readonly string[]): URL {
    const text = this.string();
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw this.error(`${describe(text)} is not a URL`);
    }
    if (!protocols.includes(url.protocol)) {
      const names = protocols.map((p) => p.slice(0, -1)).join(" or ");
      throw this.error(`${describe(text)} must be an ${names} URL`);
    }
    return url;
  }

  #checkRange(value: number, bounds: Bounds, format: (n: number) => string): void {
    const { min, max } = bounds;
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      throw this.error(`${describe(this.value)} is out of range (${rangeText(bounds, format)})`);
    }
  }
}
