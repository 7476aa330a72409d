/**
 * The TLS side of the server's main file: `listen` entries and certificate
 * rules (`certificates`, global or per listener), each rule an exact name,
 * `*.domain`, `*` or a regular expression. Errors are `ConfigError`s
 * at file:line:column.
 *
 * @module
 */

import { type Field, type LoadOptions, ObjectReader } from "../shared/config/fields.ts";
import type { ListenConfig, SniRule } from "./config_types.ts";
import { formatAddress, isHostname } from "../shared/net/address.ts";
import { listenOverlaps } from "../shared/net/listen_overlap.ts";

/**
 * One `listen` entry: `address` and exactly one of `cert`+`key`, `sni`,
 * `certificates`, `selfSigned`, `plain`. Relative paths are against `baseDir`.
 *
 * @throws {ConfigError} at the first mistake.
 * @example
 * ```ts
 * import { ObjectReader } from "../shared/config/fields.ts";
 * import { JsoncDocument } from "../shared/config/jsonc.ts";
 * import { parseListener } from "./config_listen.ts";
 * const doc = JsoncDocument.parse("s.jsonc", '{ "l": { "address": "[::]:443", "sni": true } }');
 * parseListener(ObjectReader.root(doc).required("l"), "/etc/burrow", {}); // tls: "sni"
 * ```
 */
export function parseListener(field: Field, baseDir: string, options: LoadOptions): ListenConfig {
  const r = ObjectReader.of(field);
  const { hostname, port } = r.required("address").hostPort({ allowZero: true });
  const certField = r.field("cert");
  const keyField = r.field("key");
  const sni = r.bool("sni", false);
  const listField = r.field("certificates");
  const selfSigned = r.bool("selfSigned", false);
  const plain = r.bool("plain", false);
  const modes = [
    certField !== null || keyField !== null,
    sni,
    listField !== null,
    selfSigned,
    plain,
  ];
  const count = modes.filter(Boolean).length;
  if (count !== 1) {
    const what =
      '"cert" and "key", "sni": true, "certificates", "selfSigned": true or "plain": true';
    throw field.error(count === 0 ? `needs one of ${what}` : `must have only one of ${what}`);
  }
  if (listField !== null) {
    const rules = parseSniRules(listField, baseDir, options);
    if (rules.length === 0) throw listField.error("needs at least one certificate");
    r.finish();
    return { hostname, port, tls: rules };
  }
  r.finish();
  if (sni) return { hostname, port, tls: "sni" };
  if (selfSigned) return { hostname, port, tls: "self-signed" };
  if (plain) return { hostname, port, tls: null };
  if (certField === null) throw r.error("cert", 'is required with "key"', "missing");
  if (keyField === null) throw r.error("key", 'is required with "cert"', "missing");
  const cert = certField.filePath(baseDir, options);
  const key = keyField.filePath(baseDir, options);
  return { hostname, port, tls: { cert, key } };
}

/** A `regex` SNI rule's expression: compiled case-insensitive, refused when it does not compile. */
function parseSniRegex(field: Field): RegExp {
  const source = field.string({ nonEmpty: true });
  try {
    return new RegExp(source, "i");
  } catch (e) {
    throw field.error(
      `${JSON.stringify(source)} is not a valid regular expression: ${
        (e as Error).message.replace(/^Invalid regular expression: /, "")
      }`,
    );
  }
}

/** One certificate rule: `pattern` (exact, `*.domain`, `*`) or `regex`, with `cert` and `key`. */
function parseSniRule(field: Field, baseDir: string, options: LoadOptions): SniRule {
  const r = ObjectReader.of(field);
  const patternField = r.field("pattern");
  const regexField = r.field("regex");
  if ((patternField === null) === (regexField === null)) {
    throw field.error('needs exactly one of "pattern" and "regex"');
  }
  let rule: Pick<SniRule, "pattern" | "regex">;
  if (regexField !== null) {
    const regex = parseSniRegex(regexField);
    rule = { pattern: regex.source, regex };
  } else {
    const pattern = patternField!.string().toLowerCase();
    const valid = pattern === "*" ||
      isHostname(pattern.startsWith("*.") ? pattern.slice(2) : pattern);
    if (!valid) {
      throw patternField!.error(
        `${JSON.stringify(pattern)} is not a host name, "*.domain" or "*"`,
      );
    }
    rule = { pattern };
  }
  const cert = r.required("cert").filePath(baseDir, options);
  const key = r.required("key").filePath(baseDir, options);
  r.finish();
  return { ...rule, cert, key };
}

/**
 * A list of certificate rules (the global `certificates` or a listener's), in order.
 *
 * @throws {ConfigError} at the first bad rule.
 */
export function parseSniRules(field: Field, baseDir: string, options: LoadOptions): SniRule[] {
  return field.array().map((item) => parseSniRule(item, baseDir, options));
}

/**
 * Reads the `listen` entries and refuses two that want one socket: the same
 * port (not 0) on the same host, or on a wildcard that covers the other
 * (`[::]` every address, IPv4 too on Linux; `0.0.0.0` the IPv4 ones). The
 * server could not start with them, so `burrow check` must fail too.
 *
 * @throws {ConfigError} at the second entry's `address`.
 * @example
 * ```ts
 * const listen = parseListeners(r.required("listen"), "/etc/burrow", {});
 * ```
 */
export function parseListeners(
  field: Field,
  baseDir: string,
  options: LoadOptions,
): ListenConfig[] {
  const listen: ListenConfig[] = [];
  for (const item of field.array()) {
    const entry = parseListener(item, baseDir, options);
    const other = listen.find((l) => listenOverlaps(entry, l));
    if (other !== undefined) {
      const why = entry.hostname === other.hostname
        ? ""
        : " (a wildcard address takes the port on every address)";
      throw ObjectReader.of(item).error(
        "address",
        `${formatAddress(entry)} collides with the listener ${formatAddress(other)}${why}`,
      );
    }
    listen.push(entry);
  }
  return listen;
}
