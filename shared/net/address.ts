/**
 * Host names and `host:port` addresses as written in config files.
 *
 * @module
 */

import { isIpAddress } from "./cidr.ts";

/** A parsed `host:port`. */
export interface HostPort {
  /** Host name or IP address, without brackets (`::1`, `example.com`). */
  hostname: string;
  /** TCP port. */
  port: number;
}

/**
 * Whether `name` is a DNS host name: dot-separated labels of letters, digits
 * and inner hyphens, 1–63 characters each, 253 at most in all.
 *
 * @example
 * ```ts
 * import { isHostname } from "./address.ts";
 * isHostname("www.example.com"); // true
 * isHostname("-bad-.example"); // false
 * ```
 */
export function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) =>
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)
  );
}

/**
 * Parses `host:port` (`0.0.0.0:443`, `[::1]:8443`, `tunnel.example.com:443`).
 * The host is a host name or an IP address (IPv6 in brackets); the port is
 * 1–65535, or 0 too when `allowZero` is set (listen on any free port).
 *
 * @throws {TypeError} saying what is wrong.
 * @example
 * ```ts
 * import { parseHostPort } from "./address.ts";
 * parseHostPort("[::1]:8443"); // { hostname: "::1", port: 8443 }
 * ```
 */
export function parseHostPort(text: string, options: { allowZero?: boolean } = {}): HostPort {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text);
  if (match === null) {
    throw new TypeError(
      `${JSON.stringify(text)} is not a host:port address (like "0.0.0.0:443" or "[::1]:443")`,
    );
  }
  const [, v6, name, portText] = match;
  const hostname = v6 ?? name ?? "";
  const validHost = v6 !== undefined
    ? isIpAddress(v6) && v6.includes(":")
    : isHostname(hostname) || isIpAddress(hostname);
  if (!validHost) {
    throw new TypeError(`${JSON.stringify(text)} has an invalid host ${JSON.stringify(hostname)}`);
  }
  const port = Number(portText);
  const min = options.allowZero === true ? 0 : 1;
  if (port < min || port > 65535) {
    throw new TypeError(`${JSON.stringify(text)} has an invalid port (${min} to 65535)`);
  }
  return { hostname, port };
}

/**
 * `host:port` for messages, IPv6 in brackets.
 *
 * @example
 * ```ts
 * formatHostPort("::1", 22); // "[::1]:22"
 * ```
 */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `host:port` of a parsed address, IPv6 in brackets. */
export function formatAddress(at: HostPort): string {
  return formatHostPort(at.hostname, at.port);
}
