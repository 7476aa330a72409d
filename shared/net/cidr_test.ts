import assert from "node:assert/strict";
import { addressBlock, CidrSet, isIpAddress } from "./cidr.ts";

/** [networks, address, expected] */
const MEMBERSHIP: [string[], string, boolean][] = [
  [["10.0.0.0/8"], "10.0.0.0", true],
  [["10.0.0.0/8"], "10.255.255.255", true],
  [["10.0.0.0/8"], "11.0.0.0", false],
  [["10.0.0.0/8"], "9.255.255.255", false],
  [["10.0.0.0/8"], "::ffff:10.1.2.3", true],
  [["10.0.0.0/8"], "::FFFF:10.1.2.3", true],
  [["10.0.0.0/8"], "::ffff:0a01:0203", true],
  [["10.0.0.0/8"], "::ffff:11.1.2.3", false],
  [["10.0.0.0/8"], "::10.1.2.3", false],
  [["10.0.0.0/8"], "2001:db8::1", false],
  [["10.1.2.3/8"], "10.9.9.9", true],
  [["192.168.1.7"], "192.168.1.7", true],
  [["192.168.1.7"], "192.168.1.8", false],
  [["192.168.1.0/24"], "192.168.1.200", true],
  [["192.168.1.0/24"], "192.168.2.1", false],
  [["192.168.1.128/25"], "192.168.1.127", false],
  [["192.168.1.128/25"], "192.168.1.128", true],
  [["0.0.0.0/0"], "8.8.8.8", true],
  [["0.0.0.0/0"], "::ffff:8.8.8.8", true],
  [["0.0.0.0/0"], "2001:db8::1", false],
  [["::/0"], "2001:db8::1", true],
  [["::/0"], "1.2.3.4", true],
  [["::1/128"], "::1", true],
  [["::1/128"], "0:0:0:0:0:0:0:1", true],
  [["::1/128"], "::2", false],
  [["::1"], "::1", true],
  [["::1"], "[::1]", true],
  [["::1"], "127.0.0.1", false],
  [["127.0.0.0/8"], "127.0.0.1", true],
  [["2001:db8::/32"], "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true],
  [["2001:db8::/32"], "2001:0DB8:0000::1", true],
  [["2001:db8::/32"], "2001:db9::", false],
  [["2001:db8::/33"], "2001:db8:7fff::", true],
  [["2001:db8::/33"], "2001:db8:8000::", false],
  [["fe80::/10"], "fe80::1%eth0", true],
  [["fe80::/10"], "febf::1", true],
  [["fe80::/10"], "fec0::1", false],
  [["::ffff:10.0.0.0/104"], "10.2.3.4", true],
  [["::ffff:10.0.0.0/104"], "::ffff:10.2.3.4", true],
  [["1:2:3:4:5:6:7::"], "1:2:3:4:5:6:7:0", true],
  [["::2:3:4:5:6:7:8"], "0:2:3:4:5:6:7:8", true],
  [["1:2:3:4:5:6:1.2.3.4"], "1:2:3:4:5:6:102:304", true],
  [["10.0.0.0/8", "2001:db8::/32"], "2001:db8::5", true],
  [["10.0.0.0/8", "2001:db8::/32"], "10.5.5.5", true],
  [["10.0.0.0/8", "2001:db8::/32"], "172.16.0.1", false],
  [[], "10.0.0.1", false],
  [["10.0.0.0/8"], "not an ip", false],
  [["10.0.0.0/8"], "", false],
  [["10.0.0.0/8"], "10.0.0", false],
];

Deno.test("CidrSet.contains() matches IPv4, IPv6 and IPv4-mapped addresses", () => {
  for (const [networks, address, expected] of MEMBERSHIP) {
    const set = new CidrSet(networks);
    assert.equal(set.contains(address), expected, `${networks.join(",")} ∋ ${address}`);
  }
});

const INVALID = [
  "10.0.0.300/8",
  "10.0.0.0/33",
  "10.0.0.0/-1",
  "10.0.0.0/",
  "10.0.0.0/08",
  "10.0.0/8",
  "10.0.0.0.0",
  "010.0.0.1",
  "1.2.3.4 ",
  " 1.2.3.4",
  "::1/129",
  "2001:db8:::/32",
  "1::2::3",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7:8::",
  "1:2:3:4:5:6:7",
  "12345::",
  "g::1",
  "fe80::1%eth0",
  "[::1]",
  "::ffff:1.2.3",
  "",
  "localhost",
  "10.0.0.0/8/8",
];

Deno.test("CidrSet rejects invalid entries with a TypeError naming them", () => {
  for (const entry of INVALID) {
    assert.throws(
      () => new CidrSet(["10.0.0.0/8", entry]),
      (e: unknown) => {
        assert.ok(e instanceof TypeError, `${entry}: ${e}`);
        assert.ok(e.message.includes(JSON.stringify(entry)), e.message);
        return true;
      },
      entry,
    );
  }
});

Deno.test("CidrSet keeps its entries and size", () => {
  const set = new CidrSet(["10.0.0.0/8", "::1"]);
  assert.deepEqual(set.entries, ["10.0.0.0/8", "::1"]);
  assert.equal(set.size, 2);
  assert.equal(String(set), "10.0.0.0/8, ::1");
});

Deno.test("isIpAddress() accepts addresses and refuses names and CIDRs", () => {
  for (const ok of ["127.0.0.1", "::", "::1", "2001:db8::1", "::ffff:1.2.3.4"]) {
    assert.equal(isIpAddress(ok), true, ok);
  }
  for (const bad of ["localhost", "10.0.0.0/8", "[::1]", "1.2.3", "example.com"]) {
    assert.equal(isIpAddress(bad), false, bad);
  }
});

Deno.test("addressBlock() keeps IPv4 addresses and cuts IPv6 ones to their /64", () => {
  const cases: [string, string][] = [
    ["192.0.2.7", "192.0.2.7"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["[2001:db8::1]", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["not an address", "not an address"],
  ];
  for (const [input, block] of cases) assert.equal(addressBlock(input), block, input);
});
