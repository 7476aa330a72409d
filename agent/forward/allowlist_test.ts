import assert from "node:assert/strict";
import { Allowlist, parseAllowEntry } from "./allowlist.ts";
import { classOf } from "./address_class.ts";

/** [entries (undefined: the default), address, port, name asked for, allowed?, reason contains]. */
const CASES: [string[] | undefined, string, number, string | undefined, boolean, string?][] = [
  // Default: the agent machine itself, any port; nothing else.
  [undefined, "127.0.0.1", 5432, undefined, true],
  [undefined, "127.9.8.7", 1, undefined, true],
  [undefined, "::1", 22, undefined, true],
  [undefined, "::ffff:127.0.0.1", 22, undefined, true],
  [undefined, "127.0.0.1", 22, "localhost", true],
  [undefined, "10.0.0.1", 22, undefined, false, "10.0.0.1:22 is not in the agent's allowlist"],
  [undefined, "192.168.1.5", 80, "nas.lan", false, "nas.lan:80 (192.168.1.5) is not in"],
  [undefined, "169.254.169.254", 80, undefined, false, "169.254.169.254:80 is cloud metadata"],
  [undefined, "fd00:ec2::254", 80, undefined, false, "[fd00:ec2::254]:80 is cloud metadata"],
  [undefined, "169.254.1.1", 80, undefined, false, "is link-local"],
  [undefined, "fe80::1", 80, undefined, false, "is link-local"],
  [undefined, "224.0.0.251", 5353, undefined, false, "is multicast"],
  [undefined, "ff02::fb", 5353, undefined, false, "is multicast"],
  [undefined, "0.0.0.0", 22, undefined, false, "is the unspecified address"],
  [undefined, "::", 22, undefined, false, "is the unspecified address"],
  // Empty list: nothing at all.
  [[], "127.0.0.1", 22, undefined, false, "not in the agent's allowlist"],
  // Exact addresses, ports, ranges, *.
  [["10.1.2.3:22"], "10.1.2.3", 22, undefined, true],
  [["10.1.2.3:22"], "10.1.2.3", 23, undefined, false, "10.1.2.3:23 is not in"],
  [["10.1.2.3:8000-8099"], "10.1.2.3", 8099, undefined, true],
  [["10.1.2.3:8000-8099"], "10.1.2.3", 8100, undefined, false],
  [["10.1.2.3:*"], "10.1.2.3", 65535, undefined, true],
  [["[2001:db8::7]:443"], "2001:db8::7", 443, undefined, true],
  // CIDRs with ports; IPv4 entries match IPv4-mapped addresses.
  [["10.0.0.0/8:1-65535"], "10.200.3.4", 9, undefined, true],
  [["10.0.0.0/8:1-65535"], "::ffff:10.200.3.4", 9, undefined, true],
  [["10.0.0.0/8:1-65535"], "11.0.0.1", 9, undefined, false],
  [["[fd00::/8]:22"], "fd12::1", 22, undefined, true],
  // A broad CIDR never covers guarded classes...
  [["0.0.0.0/0:*"], "8.8.8.8", 53, undefined, true],
  [["0.0.0.0/0:*"], "169.254.169.254", 80, undefined, false, "is cloud metadata"],
  [["0.0.0.0/0:*"], "169.254.10.10", 80, undefined, false, "is link-local"],
  [["0.0.0.0/0:*"], "239.1.1.1", 80, undefined, false, "is multicast"],
  [["0.0.0.0/0:*"], "0.0.0.0", 80, undefined, false, "unspecified"],
  [["[::/0]:*"], "fd00:ec2::254", 80, undefined, false, "is cloud metadata"],
  [["[::/0]:*"], "::ffff:169.254.169.254", 80, undefined, false, "is cloud metadata"],
  // ...and the link-local block does not cover the metadata address inside it...
  [["169.254.0.0/16:*"], "169.254.3.3", 80, undefined, true],
  [["169.254.0.0/16:*"], "169.254.169.254", 80, undefined, false, "is cloud metadata"],
  // ...but an explicit exact entry opens it.
  [["169.254.169.254:80"], "169.254.169.254", 80, undefined, true],
  [["[fd00:ec2::254]:80"], "fd00:ec2::254", 80, undefined, true],
  [["[fe80::/64]:22"], "fe80::1234", 22, undefined, true],
  [["224.0.0.251:5353"], "224.0.0.251", 5353, undefined, true],
  // Names: allowed when that name was asked for, whatever it resolves to (unguarded).
  [["db.lan:5432"], "192.168.7.7", 5432, "db.lan", true],
  [["DB.lan:5432"], "192.168.7.7", 5432, "db.lan", true],
  [["db.lan:5432"], "192.168.7.7", 5432, undefined, false],
  [["db.lan:5432"], "192.168.7.7", 5432, "other.lan", false],
  [["db.lan:5432"], "192.168.7.7", 5433, "db.lan", false],
  // A name never opens a guarded address (DNS rebinding to the metadata service).
  [
    ["evil.example:80"],
    "169.254.169.254",
    80,
    "evil.example",
    false,
    "evil.example:80 (169.254.169.254) is cloud metadata",
  ],
  // localhost with ports.
  [["localhost:5432"], "127.0.0.1", 5432, undefined, true],
  [["localhost:5432"], "::1", 5432, undefined, true],
  [["localhost:5432"], "127.0.0.1", 22, undefined, false],
  [["LOCALHOST"], "127.0.0.1", 22, undefined, true],
];

Deno.test("Allowlist.check() allows and refuses by the table", () => {
  for (const [entries, address, port, name, allowed, reason] of CASES) {
    const verdict = new Allowlist(entries).check(address, port, name);
    const label = `${JSON.stringify(entries ?? "default")} ${address}:${port} (${name})`;
    assert.equal(verdict.allowed, allowed, label);
    if (!verdict.allowed && reason !== undefined) {
      assert.ok(verdict.reason.includes(reason), `${label}: ${verdict.reason}`);
    }
  }
});

Deno.test("parseAllowEntry() rejects malformed entries, quoting them", () => {
  for (
    const [text, why] of [
      ["10.0.0.1", "is not host:ports"],
      ["10.0.0.1:0", "invalid port"],
      ["10.0.0.1:70000", "invalid port"],
      ["10.0.0.1:90-80", "invalid port"],
      ["10.0.0.1:22-", "invalid port"],
      ["::1:22", "is not host:ports"],
      ["[10.0.0.1]:22", "brackets around an IPv4"],
      ["10.0.0.0/33:22", "invalid network"],
      ["[fe80::1%eth0]:22", "neither"],
      ["bad_name!:22", "neither"],
      ["db.lan/8:22", "neither"],
      ["", "is not host:ports"],
    ]
  ) {
    assert.throws(() => parseAllowEntry(text!), (e: Error) => {
      assert.ok(e instanceof TypeError);
      assert.ok(e.message.includes(JSON.stringify(text)), e.message);
      assert.ok(e.message.includes(why!), e.message);
      return true;
    });
  }
});

Deno.test("classOf() puts metadata before link-local and fails closed on non-addresses", () => {
  assert.equal(classOf("169.254.169.254")?.name, "cloud metadata");
  assert.equal(classOf("169.254.169.253")?.name, "link-local");
  assert.equal(classOf("255.255.255.255")?.name, "broadcast");
  assert.equal(classOf("8.8.8.8"), null);
  assert.equal(classOf("not-an-address")?.name, "the unspecified address");
});
