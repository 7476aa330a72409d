/**
 * Typed reading of JSONC config values, so each loader reads as "parse → fill
 * defaults → validate" in visible steps:
 *
 * ```ts
 * const r = ObjectReader.root(doc);
 * const active = r.bool("active", false);
 * const concurrency = r.int("concurrency", { min: 1, max: 10000, default: 20 });
 * r.finish(); // rejects keys nobody asked for, with "did you mean"
 * ```
 *
 * Every mistake is a {@link ConfigError} at the offending value. A key whose
 * value is `null` counts as absent (its default applies).
 *
 * @module
 */

import type { Node } from "./jsonc_parser.ts";
import type { CidrSet } from "../net/cidr.ts";
import { type Bounds, describe, Field, type StringOptions } from "./field.ts";
import type { ConfigError, ConfigErrorCode, JsoncDocument, KeyPath } from "./jsonc.ts";

export {
  type Bounds,
  Field,
  type JsonType,
  type LoadOptions,
  type StringOptions,
} from "./field.ts";

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The known key closest to `key`: the same letters ignoring case, `_` and
 * `-` (`body_size` → `bodySize`), or a small edit away; undefined if none.
 */
export function suggestKey(key: string, known: Iterable<string>): string | undefined {
  const normal = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  let best: string | undefined;
  let bestDistance = key.length < 5 ? 1 : 2;
  for (const candidate of known) {
    if (normal(candidate) === normal(key)) return candidate;
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= bestDistance) [best, bestDistance] = [candidate, distance - 1];
  }
  return best;
}

/** An object's key and value nodes. */
interface Property {
  key: Node;
  value: Node;
}

/**
 * Reads the keys of one object of a config document. Each accessor marks its
 * key as known and applies the default when the key is absent (or `null`);
 * {@link ObjectReader.finish} then rejects the keys nobody asked for. An
 * absent object reads as empty, so every key takes its default.
 *
 * @example
 * ```ts
 * import { JsoncDocument } from "./jsonc.ts";
 * import { ObjectReader } from "./fields.ts";
 * const doc = JsoncDocument.parse("d.jsonc", '{ "active": true, "concurrency": 5 }');
 * const r = ObjectReader.root(doc);
 * r.bool("active", false); // true
 * r.int("concurrency", { min: 1, max: 100, default: 20 }); // 5
 * r.finish();
 * ```
 */
export class ObjectReader {
  /** The document the object is in. */
  readonly doc: JsoncDocument;
  /** Where the object is. */
  readonly path: KeyPath;
  /** Its node; undefined when the object is absent. */
  readonly node: Node | undefined;
  readonly #properties = new Map<string, Property>();
  readonly #known = new Set<string>();

  /**
   * A reader of the object `node` at `path` (absent when `node` is undefined).
   *
   * @throws {ConfigError} when `node` is not an object or repeats a key.
   */
  constructor(doc: JsoncDocument, path: KeyPath, node: Node | undefined) {
    this.doc = doc;
    this.path = path;
    this.node = node;
    if (node === undefined || node.type === "null") return;
    if (node.type !== "object") throw new Field(doc, path, node).typeError("an object");
    for (const property of node.children ?? []) {
      const [key, value] = property.children ?? [];
      if (key === undefined || value === undefined) continue;
      const name = key.value as string;
      if (this.#properties.has(name)) {
        throw doc.errorAtOffset(key.offset, "duplicate key", "duplicate-key", [...path, name]);
      }
      this.#properties.set(name, { key, value });
    }
  }

  /** A reader of the object value `field` (which must be an object). */
  static of(field: Field): ObjectReader {
    return new ObjectReader(field.doc, field.path, field.node);
  }

  /** A reader of the document's root, which must be an object. */
  static root(doc: JsoncDocument): ObjectReader {
    return new ObjectReader(doc, [], doc.root);
  }

  /** Whether the object is written in the file. */
  get present(): boolean {
    return this.node !== undefined && this.node.type !== "null";
  }

  /** Whether `key` has a non-null value. */
  has(key: string): boolean {
    const value = this.#properties.get(key)?.value;
    return value !== undefined && value.type !== "null";
  }

  /** The value of `key` as a {@link Field}, or null when absent or null. Marks it known. */
  field(key: string): Field | null {
    this.#known.add(key);
    const value = this.#properties.get(key)?.value;
    if (value === undefined || value.type === "null") return null;
    return new Field(this.doc, [...this.path, key], value);
  }

  /** The value of `key`, which must be present. */
  required(key: string): Field {
    const field = this.field(key);
    if (field === null) throw this.error(key, "is required", "missing");
    return field;
  }

  /** A boolean, `fallback` when absent. */
  bool(key: string, fallback: boolean): boolean {
    return this.field(key)?.bool() ?? fallback;
  }

  /** An integer within `min`..`max`; required unless a default is given. */
  int(key: string, options: Bounds & { default?: number }): number {
    const field = options.default === undefined ? this.required(key) : this.field(key);
    return field?.int(options) ?? options.default ?? 0;
  }

  /** A string; required unless a default is given. */
  string(key: string, options: StringOptions & { default?: string } = {}): string {
    const field = options.default === undefined ? this.required(key) : this.field(key);
    return field?.string(options) ?? options.default ?? "";
  }

  /** A string, or null when absent. */
  optionalString(key: string, options: StringOptions = {}): string | null {
    return this.field(key)?.string(options) ?? null;
  }

  /** One of `values`, `fallback` when absent. */
  oneOf<T extends string>(key: string, values: readonly T[], fallback: T): T {
    const field = this.field(key);
    if (field === null) return fallback;
    const value = field.string();
    const found = values.find((v) => v === value);
    if (found === undefined) {
      throw field.error(
        `${describe(value)} is not one of ${values.map((v) => `"${v}"`).join(", ")}`,
      );
    }
    return found;
  }

  /** A duration in ms (`"15s"`, `"500ms"`, `"2m"`, `"1h"` or seconds), bounds in ms. */
  duration(key: string, options: Bounds & { default: number }): number {
    return this.field(key)?.duration(options) ?? options.default;
  }

  /** A size in bytes (`"64kB"`, `"8MB"`, `"1GB"` or bytes), bounds in bytes. */
  size(key: string, options: Bounds & { default: number }): number {
    return this.field(key)?.size(options) ?? options.default;
  }

  /** An array of strings, empty when absent. */
  stringArray(key: string, options: StringOptions = {}): string[] {
    return this.field(key)?.stringArray(options) ?? [];
  }

  /** A set of CIDRs; null when absent or empty (no restriction). */
  cidrs(key: string): CidrSet | null {
    const set = this.field(key)?.cidrs();
    return set === undefined || set.size === 0 ? null : set;
  }

  /** An array, as fields; empty when absent. */
  array(key: string): Field[] {
    return this.field(key)?.array() ?? [];
  }

  /** A nested object; an empty reader when absent. */
  object(key: string): ObjectReader {
    const field = this.field(key);
    return field === null
      ? new ObjectReader(this.doc, [...this.path, key], undefined)
      : ObjectReader.of(field);
  }

  /** A {@link ConfigError} at the value of `key`, or at this object when `key` is absent. */
  error(key: string, detail: string, code: ConfigErrorCode = "invalid"): ConfigError {
    const value = this.#properties.get(key)?.value;
    const offset = value?.offset ?? this.node?.offset ?? this.doc.nearestNode(this.path).offset;
    return this.doc.errorAtOffset(offset, detail, code, [...this.path, key]);
  }

  /**
   * Rejects any key no accessor asked for, naming it and the closest known
   * key (`unknown key (did you mean "bodySize"?)`).
   *
   * @throws {ConfigError} code `unknown-key` at the first unknown key.
   */
  finish(): void {
    for (const [name, { key }] of this.#properties) {
      if (this.#known.has(name)) continue;
      const suggestion = suggestKey(name, this.#known);
      const hint = suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
      throw this.doc.errorAtOffset(
        key.offset,
        `unknown key${hint}`,
        "unknown-key",
        [...this.path, name],
      );
    }
  }
}

/** The roles a main config file can be for. */
export type ConfigMode = "server" | "agent";

/**
 * Reads the required `mode` key of a main config file. With `expected`, any
 * other mode is an error that says which command runs the file.
 *
 * @throws {ConfigError} when `mode` is absent, not "server" or "agent", or not `expected`.
 * @example
 * ```ts
 * const mode = readMode(ObjectReader.root(doc)); // "server" | "agent"
 * ```
 */
export function readMode(r: ObjectReader, expected?: ConfigMode): ConfigMode {
  const field = r.required("mode");
  const mode = field.string();
  if (mode !== "server" && mode !== "agent") {
    throw field.error(`${describe(mode)} is not one of "server", "agent"`);
  }
  if (expected !== undefined && mode !== expected) {
    throw field.error(
      `this is ${mode === "agent" ? "an agent" : "a server"} config, ` +
        `not ${expected === "agent" ? "an agent" : "a server"} one (run it with 'burrow ${mode}')`,
    );
  }
  return mode;
}
