import assert from "node:assert/strict";
import { establishedOn, formatHexAddress, readTcpTable } from "./tcp_table.ts";
import { socketFds } from "./libc.ts";
import { HAS_IPV6_LOOPBACK, LOOPBACKS } from "../../tests/helpers/ipv6.ts";

const linuxOnly = { ignore: Deno.build.os !== "linux" };

Deno.test("formatHexAddress() prints /proc addresses the way Deno prints NetAddr hostnames", () => {
  const table: [string, string][] = [
    ["0100007F", "127.0.0.1"],
    ["00000000", "0.0.0.0"],
    ["0A01A8C0", "192.168.1.10"],
    ["00000000000000000000000001000000", "::1"],
    ["00000000000000000000000000000000", "::"],
    ["0000000000000000FFFF00000100007F", "::ffff:127.0.0.1"],
    ["B80D0120000000000000000001000000", "2001:db8::1"],
    ["B80D0120000001000000000001000000", "2001:db8:1::1"],
    ["B80D0120010000000000000001000000", "2001:db8:0:1::1"],
    ["00000100010000000000000001000100", "1::1:0:0:1:1"],
    ["B80D012001000000010000000100E0FF", "2001:db8:0:1:0:1:ffe0:1"],
    ["000080FE00000000A3B2C1D04F3E2D1C", "fe80::d0c1:b2a3:1c2d:3e4f"],
  ];
  for (const [hex, text] of table) assert.equal(formatHexAddress(hex), text, hex);
});

Deno.test(
  `formatHexAddress() agrees with Deno on the addresses of real connections${
    HAS_IPV6_LOOPBACK ? "" : " (IPv4-mapped only: no ::1 here)"
  }`,
  linuxOnly,
  async () => {
    using listener = Deno.listen({ hostname: "::", port: 0 });
    for (const hostname of LOOPBACKS) {
      using client = await Deno.connect({ hostname, port: listener.addr.port });
      using accepted = await listener.accept();
      const remote = `${accepted.remoteAddr.hostname}:${accepted.remoteAddr.port}`;
      assert.equal(accepted.remoteAddr.port, client.localAddr.port);
      const found = establishedOn(listener.addr).find((c) => c.remote === remote);
      assert.ok(found, `${remote} in ${JSON.stringify(establishedOn(listener.addr))}`);
    }
  },
);

Deno.test(
  "establishedOn() lists accepted connections of one local address, with their fds",
  linuxOnly,
  async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using accepted = await listener.accept();
    const found = establishedOn(listener.addr);
    assert.deepEqual(found.map((c) => c.remote), [`127.0.0.1:${client.localAddr.port}`]);
    const fds = socketFds(new Set([found[0]!.inode]));
    assert.equal(fds.size, 1);
    assert.ok(accepted);
    assert.deepEqual(establishedOn({ ...listener.addr, hostname: "127.0.0.2" }), []);
    // The asynchronous read sees the same table.
    const table = await readTcpTable(listener.addr);
    assert.deepEqual(table.connections, found);
    // Both ends of the connection and the listener, at least.
    assert.ok(table.sockets >= 3, `${table.sockets} sockets`);
    const other = await readTcpTable({ ...listener.addr, hostname: "127.0.0.2" });
    assert.deepEqual(other.connections, []);
  },
);
