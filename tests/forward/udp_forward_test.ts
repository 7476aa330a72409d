import assert from "node:assert/strict";
import { withConnTypes } from "../helpers/conn_types.ts";
import { randomBytes, settled, within } from "../helpers/streams.ts";
import { ForwardError, openUdpForward } from "../../shared/forward/mod.ts";
import { udpEcho, withForwardSessions } from "./helpers.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => b === null ? "(end)" : new TextDecoder().decode(b);

withConnTypes(
  "UdpForward keeps two flows apart, each getting its own replies",
  async ({ a, b }) => {
    await using target = await udpEcho();
    await withForwardSessions(a, b, {}, async ({ opener }) => {
      const one = await openUdpForward(opener, "127.0.0.1", target.port);
      const two = await openUdpForward(opener, "127.0.0.1", target.port);
      assert.deepEqual(one.target, { address: "127.0.0.1", port: target.port });
      for (let i = 0; i < 5; i++) {
        await Promise.all([one.send(text(`one ${i}`)), two.send(text(`two ${i}`))]);
        // UDP on loopback does not lose these: each reply comes back, in order.
        assert.equal(str(await one.receive()), `one ${i}`);
        assert.equal(str(await two.receive()), `two ${i}`);
      }
      one.close();
      two.close();
      assert.equal(await one.receive(), null);
      assert.equal(await two.receive(), null);
    });
  },
);

withConnTypes("UdpForward carries a 60 KB datagram whole, and an empty one", async ({ a, b }) => {
  await using target = await udpEcho();
  await withForwardSessions(a, b, {}, async ({ opener }) => {
    const flow = await openUdpForward(opener, "localhost", target.port);
    const big = randomBytes(60_000);
    await flow.send(big);
    assert.deepEqual(await flow.receive(), big);
    await flow.send(new Uint8Array(0));
    assert.deepEqual(await flow.receive(), new Uint8Array(0));
    flow.close();
    assert.equal(await flow.receive(), null);
  });
});

withConnTypes("UdpForward closes a flow idle for the configured timeout", async ({ a, b }) => {
  await using target = await udpEcho();
  const idleTimeout = 200;
  await withForwardSessions(a, b, { idleTimeout }, async ({ opener }) => {
    const flow = await openUdpForward(opener, "127.0.0.1", target.port);
    await flow.send(text("ping"));
    assert.equal(str(await flow.receive()), "ping");
    const quietSince = performance.now();
    // The agent ends the flow (FIN) once it has been quiet for idleTimeout (a flow that
    // never expires fails here instead of hanging the suite).
    assert.equal(await within(10_000, "the idle flow's FIN", flow.receive()), null);
    const quiet = performance.now() - quietSince;
    assert.ok(quiet >= idleTimeout * 0.9, `ended after ${quiet.toFixed(0)} ms of quiet`);
    flow.close();
    await flow.stream.closed;
  });
});

withConnTypes("UdpForward refuses targets outside the allowlist", async ({ a, b }) => {
  await withForwardSessions(a, b, {}, async ({ opener }) => {
    for (
      const [host, message] of [
        ["169.254.169.254", "refused by agent policy: 169.254.169.254:53 is cloud metadata"],
        ["10.0.0.53", "refused by agent policy: 10.0.0.53:53 is not in the agent's allowlist"],
        ["224.0.0.251", "refused by agent policy: 224.0.0.251:53 is multicast"],
        // The system resolver reads a bare number as an IPv4 address: the address is what counts.
        [
          "2852039166",
          "refused by agent policy: 2852039166:53 (169.254.169.254) is cloud metadata",
        ],
      ]
    ) {
      await assert.rejects(openUdpForward(opener, host!, 53), (e: Error) => {
        assert.ok(e instanceof ForwardError);
        assert.equal(e.code, "policy");
        assert.equal(e.message, message);
        return true;
      });
    }
  });
}, { except: ["wss"] });

withConnTypes(
  "UdpForward drops what an opener that does not read leaves waiting, within bounds",
  async ({ a, b }) => {
    await using target = await udpEcho();
    const udpMaxQueued = 16 * 1024;
    await withForwardSessions(a, b, { udpMaxQueued }, async ({ opener }) => {
      const flow = await openUdpForward(opener, "127.0.0.1", target.port);
      const count = 2000;
      const datagram = new Uint8Array(1024);
      // 2 MB of echoes come back while nobody reads the flow.
      for (let i = 0; i < count; i++) await flow.send(datagram);
      await settled(() => flow.stream.buffered, 200, 10_000);
      let received = 0;
      const reading = (async () => {
        while ((await flow.receive()) !== null) received++;
      })();
      await settled(() => received, 300, 10_000);
      flow.close();
      await reading;
      // What came through: at most the stream's initial window plus the agent's queue.
      const bound = Math.ceil((256 * 1024 + udpMaxQueued) / (datagram.length + 2)) + 1;
      assert.ok(
        received > 0 && received <= bound,
        `received ${received} of ${count}, bound ${bound}`,
      );
    });
  },
);

withConnTypes(
  "UdpForward keeps a flow with traffic open past its idle timeout",
  async ({ a, b }) => {
    await using target = await udpEcho();
    const idleTimeout = 1000;
    await withForwardSessions(a, b, { idleTimeout }, async ({ opener }) => {
      const flow = await openUdpForward(opener, "127.0.0.1", target.port);
      const start = performance.now();
      // A datagram each 100 ms for 1.5 idle timeouts: the flow must stay open throughout.
      for (let i = 0; performance.now() - start < idleTimeout * 1.5; i++) {
        await flow.send(text(`ping ${i}`));
        assert.equal(str(await flow.receive()), `ping ${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      flow.close();
      assert.equal(await flow.receive(), null);
    });
  },
  { except: ["wss"] },
);
