/**
 * Two hops, the shape of the server's splice: operator session → "server"
 * (serves TcpForward by opening one to the agent and splicing the two mux
 * streams) → agent session → TCP target.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CONN_TYPES } from "../helpers/conn_types.ts";
import { randomBytes } from "../helpers/streams.ts";
import { Session } from "../../shared/mux/mod.ts";
import { serveStream, type StreamHandler, StreamKind } from "../../shared/open/mod.ts";
import { ForwardError, muxChannel, openTcpForward, splice } from "../../shared/forward/mod.ts";
import { echo, tcpTarget, withForwardSessions } from "./helpers.ts";

/** The server's TcpForward handler: forward the open to the agent, pass its verdict back, splice. */
function relayTo(agent: Session): StreamHandler {
  return async (incoming) => {
    let forward;
    try {
      forward = await openTcpForward(
        agent,
        String(incoming.params.host),
        Number(incoming.params.port),
      );
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      await incoming.refuse(e.code, e.message);
      return;
    }
    await incoming.accept({ ...forward.target });
    await splice(muxChannel(incoming.stream), muxChannel(forward.stream));
  };
}

/** Runs `body` with an operator session whose TcpForward streams the "server" relays to an agent. */
async function twoHops(type: string, body: (operator: Session) => Promise<void>): Promise<void> {
  const maker = CONN_TYPES.find((t) => t.name === type)!;
  const agentPair = await maker.make();
  const operatorPair = await maker.make();
  try {
    await withForwardSessions(agentPair.a, agentPair.b, {}, async ({ opener: toAgent }) => {
      const handlers = new Map([[StreamKind.TcpForward, relayTo(toAgent)]]);
      const server = new Session(operatorPair.b, { client: false });
      const operator = new Session(operatorPair.a, { client: true });
      const served: Promise<void>[] = [];
      const accepting = (async () => {
        for (let s = await server.accept(); s !== null; s = await server.accept()) {
          served.push(serveStream(s, handlers));
        }
      })();
      try {
        await body(operator);
      } finally {
        await operator.close();
        await server.close();
        await accepting;
        await Promise.all(served);
      }
    });
  } finally {
    await operatorPair.close();
    await agentPair.close();
  }
}

for (const type of ["memory", "tcp"]) {
  Deno.test(`splice of two mux streams carries 32 MiB both ways intact [${type}]`, async () => {
    await using target = tcpTarget(echo);
    await twoHops(type, async (operator) => {
      const data = randomBytes(32 * 1024 * 1024);
      const forward = await openTcpForward(operator, "127.0.0.1", target.port);
      const sending = (async () => {
        const writer = forward.writable.getWriter();
        for (let at = 0; at < data.length; at += 65536) {
          await writer.write(data.subarray(at, at + 65536));
        }
        await writer.close();
      })();
      const hash = createHash("sha256");
      let n = 0;
      for await (const chunk of forward.readable) {
        hash.update(chunk);
        n += chunk.length;
      }
      await sending;
      assert.equal(n, data.length);
      assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
    });
  });

  Deno.test(`splice carries the operator's FIN through both hops; the target still answers [${type}]`, async () => {
    await using target = tcpTarget(async (conn) => {
      let n = 0;
      const buf = new Uint8Array(1024);
      for (let r = await conn.read(buf); r !== null; r = await conn.read(buf)) n += r;
      await conn.write(new TextEncoder().encode(`got ${n}`));
      await conn.closeWrite();
    });
    await twoHops(type, async (operator) => {
      const forward = await openTcpForward(operator, "127.0.0.1", target.port);
      const writer = forward.writable.getWriter();
      await writer.write(new Uint8Array(5000));
      await writer.close();
      assert.equal(await new Response(forward.readable).text(), "got 5000");
    });
  });

  Deno.test(`splice passes the agent's refusal through unchanged [${type}]`, async () => {
    await twoHops(type, async (operator) => {
      await assert.rejects(openTcpForward(operator, "169.254.169.254", 80), (e: Error) => {
        assert.ok(e instanceof ForwardError);
        assert.equal(e.code, "policy");
        assert.equal(e.message, "refused by agent policy: 169.254.169.254:80 is cloud metadata");
        return true;
      });
    });
  });

  Deno.test(`splice: a reset by the operator reaches the target through both hops [${type}]`, async () => {
    const ended = Promise.withResolvers<string>();
    const open = Promise.withResolvers<void>();
    await using target = tcpTarget(async (conn) => {
      open.resolve();
      try {
        ended.resolve((await conn.read(new Uint8Array(16))) === null ? "EOF" : "data");
      } catch (e) {
        ended.resolve((e as Error).name);
      }
    });
    await twoHops(type, async (operator) => {
      const forward = await openTcpForward(operator, "127.0.0.1", target.port);
      await open.promise;
      forward.stream.reset();
      assert.equal(await ended.promise, "EOF");
    });
  });
}
