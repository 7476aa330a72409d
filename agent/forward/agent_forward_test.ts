import assert from "node:assert/strict";
import { startAgent } from "../agent.ts";
import { FakeServer } from "../testing/fake_server.ts";
import { eventually, TEST_TUNING, testConfig, testDomain, testLogger } from "../testing/helpers.ts";
import { parseForwardConfig } from "./config.ts";
import { ObjectReader } from "../../shared/config/fields.ts";
import { JsoncDocument } from "../../shared/config/jsonc.ts";
import { ForwardError, openTcpForward, openUdpForward } from "../../shared/forward/mod.ts";
import { echo, tcpTarget, udpEcho } from "../../tests/forward/helpers.ts";

const log = await testLogger();

function forwardConfig(text: string) {
  return parseForwardConfig(ObjectReader.root(JsoncDocument.parse("agent.jsonc", text)));
}

Deno.test("a running agent serves TcpForward and UdpForward streams the server opens", async () => {
  await using tcp = tcpTarget(echo);
  await using udp = await udpEcho();
  await using server = await FakeServer.start();
  const config = testConfig({ forward: forwardConfig('{ "udpIdleTimeout": "10s" }') });
  const agent = await startAgent(config, {
    domains: [testDomain("fwd.test", server)],
    log,
    tuning: TEST_TUNING,
  });
  try {
    await eventually("agent registered", () => agent.status().every((s) => s.registered));
    const session = server.sessions[0]!.session;

    const forward = await openTcpForward(session, "127.0.0.1", tcp.port);
    const writer = forward.writable.getWriter();
    await writer.write(new TextEncoder().encode("over the agent"));
    await writer.close();
    assert.equal(await new Response(forward.readable).text(), "over the agent");

    const flow = await openUdpForward(session, "127.0.0.1", udp.port);
    await flow.send(new TextEncoder().encode("datagram"));
    assert.equal(new TextDecoder().decode((await flow.receive())!), "datagram");
    flow.close();
    assert.equal(await flow.receive(), null);

    await assert.rejects(openTcpForward(session, "169.254.169.254", 80), (e: Error) => {
      assert.ok(e instanceof ForwardError);
      assert.equal(e.message, "refused by agent policy: 169.254.169.254:80 is cloud metadata");
      return true;
    });
  } finally {
    await agent.close();
  }
});
