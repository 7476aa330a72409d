import assert from "node:assert/strict";
import { isHostname, parseHostPort } from "./address.ts";

Deno.test("isHostname() accepts DNS names and refuses malformed ones", () => {
  for (
    const ok of ["localhost", "www.example.com", "a", "x-1.y2", "127.0.0.1", "A.B", "a".repeat(63)]
  ) {
    assert.equal(isHostname(ok), true, ok);
  }
  const bad = [
    "",
    "-a",
    "a-",
    "a..b",
    ".a",
    "a.",
    "a_b",
    "a b",
    "*.example.com",
    "a".repeat(64),
    "é.com",
  ];
  for (const name of bad) assert.equal(isHostname(name), false, name);
  assert.equal(isHostname(`${"a".repeat(63)}.`.repeat(4).slice(0, 254)), false);
});

Deno.test("parseHostPort() reads names, IPv4 and bracketed IPv6", () => {
  const cases: [string, string, number][] = [
    ["0.0.0.0:443", "0.0.0.0", 443],
    ["127.0.0.1:8443", "127.0.0.1", 8443],
    ["[::]:443", "::", 443],
    ["[::1]:8443", "::1", 8443],
    ["tunnel.example.com:443", "tunnel.example.com", 443],
    ["localhost:65535", "localhost", 65535],
  ];
  for (const [text, hostname, port] of cases) {
    assert.deepEqual(parseHostPort(text), { hostname, port }, text);
  }
  assert.deepEqual(parseHostPort("127.0.0.1:0", { allowZero: true }), {
    hostname: "127.0.0.1",
    port: 0,
  });
});

Deno.test("parseHostPort() refuses bad addresses with a TypeError saying why", () => {
  const cases: [string, RegExp][] = [
    ["localhost", /is not a host:port address/],
    [":443", /invalid host ""/],
    ["::1:443", /is not a host:port address/],
    ["[::1]", /is not a host:port address/],
    ["[example.com]:443", /invalid host/],
    ["[1.2.3.4]:443", /invalid host/],
    ["bad_host:443", /invalid host "bad_host"/],
    ["localhost:0", /invalid port \(1 to 65535\)/],
    ["localhost:65536", /invalid port/],
    ["localhost:123456", /is not a host:port address/],
    ["localhost:http", /is not a host:port address/],
    ["https://localhost:443", /is not a host:port address/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseHostPort(text), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, message, text);
      return true;
    }, text);
  }
});
