/**
 * DNS through `burrow forward --udp` (issue 10: "DNS through it works (`dig
 * @127.0.0.1 -p PORT`)"): a real `dig` asks a small DNS server on the agent's
 * side through the operator's UDP forward, the real server and a real agent.
 * Needs `dig` (Debian's bind9-dnsutils, which `.ci/run` installs).
 */

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { OperatorLink } from "../../operator/link.ts";
import { operatorUrl } from "../../operator/settings.ts";
import { parseForwardSpec } from "../../operator/spec.ts";
import { UdpForwarder } from "../../operator/udp_forward.ts";
import { World } from "./world.ts";

/** The address the test DNS server gives every A question. */
const ANSWER = [192, 0, 2, 55];

/** `dig` on PATH? */
function hasDig(): boolean {
  try {
    new Deno.Command("dig", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/**
 * A DNS server on 127.0.0.1 answering each query with one A record
 * (RFC 1035: the question echoed, QR and RA set, one answer pointing at it).
 */
async function dnsServer(): Promise<{ port: number; asked: string[]; close(): Promise<void> }> {
  const socket = createSocket("udp4");
  const asked: string[] = [];
  socket.on("message", (query, from) => {
    if (query.length < 12) return;
    let at = 12;
    const labels: string[] = [];
    while (at < query.length && query[at] !== 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString());
      at += query[at]! + 1;
    }
    const questionEnd = at + 5; // zero byte, QTYPE, QCLASS
    asked.push(labels.join("."));
    const header = Buffer.from(query.subarray(0, 12));
    header[2] = 0x81; // QR, RD
    header[3] = 0x80; // RA
    header.writeUInt16BE(1, 6); // ANCOUNT
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(0, 10); // no additional (dig's OPT record is dropped)
    const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ANSWER]);
    const reply = Buffer.concat([header, query.subarray(12, questionEnd), answer]);
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return {
    port: socket.address().port,
    asked,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

Deno.test({
  name: "dig through burrow forward --udp gets its answer from a DNS server beside the agent",
  ignore: !hasDig(),
  async fn() {
    const world = await World.create();
    const dns = await dnsServer();
    try {
      await world.agentFile("db1", { secret: "db1-secret" });
      await world.agent({ identity: { name: "db1", secret: "db1-secret" } });
      const token = await world.operator("alice", { kinds: ["udp"] });
      const server = operatorUrl(`https://127.0.0.1:${world.port}`, "test");
      const link = await OperatorLink.connect({
        server,
        token,
        caFile: world.caFile,
        insecure: false,
      });
      const lines: string[] = [];
      const udp = await UdpForwarder.listen({
        link,
        agent: "db1",
        spec: parseForwardSpec(`0:127.0.0.1:${dns.port}`),
        report: (line) => lines.push(line),
      });
      try {
        const out = await new Deno.Command("dig", {
          args: [
            "@127.0.0.1",
            "-p",
            String(udp.addr.port),
            "printer.office.test",
            "A",
            "+short",
            "+time=5",
            "+tries=2",
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout).trim();
        assert.equal(out.code, 0, `${text} ${new TextDecoder().decode(out.stderr)} ${lines}`);
        assert.equal(text, ANSWER.join("."));
        assert.deepEqual(dns.asked, ["printer.office.test"]);
      } finally {
        await Promise.all([udp.close(), link.close()]);
      }
    } finally {
      await dns.close();
      await world.close();
    }
  },
});
