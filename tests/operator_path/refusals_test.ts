import assert from "node:assert/strict";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { AGENT, openForward, refusedWith, withOperatorChannels } from "./fixture.ts";

Deno.test("the server answers bad-params itself for malformed operator params", async () => {
  await withOperatorChannels({}, async ({ operator, agentStreams }) => {
    const cases: [Record<string, unknown>, boolean, string][] = [
      [
        { agent: AGENT, host: "127.0.0.1", port: 22, extra: 1 },
        false,
        'Unknown TcpForward parameter "extra"',
      ],
      [
        { agent: AGENT, host: "127.0.0.1", port: 22, kind: "socks" },
        true,
        'Unknown UdpForward parameter "kind"',
      ],
      [{ agent: "Bad Name!", host: "127.0.0.1", port: 22 }, false, 'Forward parameter "agent"'],
      [{ host: "127.0.0.1", port: 22 }, false, 'Forward parameter "agent"'],
      [{ agent: AGENT, host: "127.0.0.1", port: 0 }, false, "Forward port must be an integer"],
      [{ agent: AGENT, host: "a b", port: 22 }, false, "neither an IP address nor a host name"],
      [{ agent: AGENT, host: "127.0.0.1", port: 22, kind: "shell" }, false, '"kind" must be'],
    ];
    for (const [params, udp, message] of cases) {
      await assert.rejects(openForward(operator, params, udp), refusedWith("bad-params", message));
    }
    assert.equal(agentStreams.length, 0, "no stream reached the agent");
  });
});

Deno.test("operator refusals: kind, agent, offline agent, agent policy, connection refused — each an ERROR and an audit row", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = closed.addr.port;
  closed.close();
  await withOperatorChannels(
    { operator: { agents: ["db1", "db9"], kinds: ["forward"] } },
    async ({ operator, channels, agentStreams }) => {
      await assert.rejects(
        openForward(operator, { agent: AGENT, host: "127.0.0.1", port: 53 }, true),
        refusedWith("unauthorized", "operator alice may not use kind udp"),
      );
      await assert.rejects(
        openForward(operator, { agent: AGENT, host: "127.0.0.1", port: 22, kind: "socks" }),
        refusedWith("unauthorized", "operator alice may not use kind socks"),
      );
      await assert.rejects(
        openForward(operator, { agent: "db2", host: "127.0.0.1", port: 22 }),
        refusedWith("unauthorized", "agent db2 is not in operator alice's agents"),
      );
      assert.equal(agentStreams.length, 0, "no refused stream reached the agent");
      await assert.rejects(
        openForward(operator, { agent: "db9", host: "127.0.0.1", port: 22 }),
        refusedWith("agent-offline", "agent db9 is not connected"),
      );
      await assert.rejects(
        openForward(operator, { agent: AGENT, host: "169.254.169.254", port: 80 }),
        refusedWith("policy", "refused by agent policy: 169.254.169.254:80 is cloud metadata"),
      );
      await assert.rejects(
        openForward(operator, { agent: AGENT, host: "10.1.2.3", port: 5432 }),
        refusedWith("policy", "refused by agent policy"),
      );
      await assert.rejects(
        openForward(operator, { agent: AGENT, host: "127.0.0.1", port: closedPort }),
        refusedWith("connection-refused", `connection refused by 127.0.0.1:${closedPort}`),
      );
      const rows = channels().map((c) => [c.kind, c.agent, c.result, c.detail]);
      assert.deepEqual(rows, [
        ["udp", "db1", "refused", "operator alice may not use kind udp"],
        ["socks", "db1", "refused", "operator alice may not use kind socks"],
        ["forward", "db2", "refused", "agent db2 is not in operator alice's agents"],
        ["forward", "db9", "failed", "agent db9 is not connected"],
        [
          "forward",
          "db1",
          "refused",
          "refused by agent policy: 169.254.169.254:80 is cloud metadata",
        ],
        ["forward", "db1", "refused", rows[5]![3]],
        ["forward", "db1", "failed", `connection refused by 127.0.0.1:${closedPort}`],
      ]);
    },
  );
});

Deno.test("an operator allowed by group reaches the agent; socks kind is authorised as socks", async () => {
  await using target = tcpTarget(echo);
  await withOperatorChannels(
    { operator: { agents: ["group:prod-*"], kinds: ["socks"] }, groups: ["prod-eu"] },
    async ({ operator, channels }) => {
      const opened = await openForward(operator, {
        agent: AGENT,
        host: "127.0.0.1",
        port: target.port,
        kind: "socks",
      });
      opened.stream.closeWrite();
      assert.equal((await Array.fromAsync(opened.readable)).length, 0);
      assert.equal(channels()[0]!.kind, "socks");
    },
  );
});

Deno.test("an operator connection over operators.maxStreams channels gets ERROR busy", async () => {
  await using target = tcpTarget(echo);
  await withOperatorChannels({ maxStreams: 2 }, async ({ operator }) => {
    const params = { agent: AGENT, host: "127.0.0.1", port: target.port };
    const a = await openForward(operator, params);
    const b = await openForward(operator, params);
    await assert.rejects(
      openForward(operator, params),
      refusedWith("busy", "operators.maxStreams"),
    );
    a.stream.closeWrite();
    await Array.fromAsync(a.readable);
    await a.stream.closed;
    // A slot is free again once a channel ended on both sides.
    let c;
    for (let i = 0; i < 100 && c === undefined; i++) {
      c = await openForward(operator, params).catch(() => undefined);
      if (c === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(c !== undefined, "a channel opens again after one ended");
    for (const s of [b, c]) {
      s.stream.closeWrite();
      await Array.fromAsync(s.readable);
    }
  });
});
