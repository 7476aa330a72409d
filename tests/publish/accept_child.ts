/**
 * Child process of `published_port_accept_test.ts`: run under a low file
 * descriptor limit (`ulimit -n 64`), it publishes one port whose channels
 * wait until the parent writes `release` on stdin. Prints `port N`, each
 * failed accept the port logs (`accept failed: …`), and `served N` as
 * channels are asked for; `quit` on stdin closes the port and exits.
 *
 * @module
 */

import { configure, getLogger, type LogRecord } from "@logtape/logtape";
import { PublishedPorts } from "../../server/publish/mod.ts";
import type { OpenChannel } from "../../server/agent_directory.ts";

await configure({
  sinks: {
    stdout: (record: LogRecord) => console.log(record.message.map(String).join("")),
  },
  loggers: [
    { category: ["child"], sinks: ["stdout"], lowestLevel: "warning" },
    { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
  ],
});

// Deno 2.9.6 sets up its signal handling lazily, a few hundred ms after start, and panics
// when it gets no file descriptor then: set it up now, while descriptors are left.
const noSignal = () => {};
Deno.addSignalListener("SIGINT", noSignal);
const release = Promise.withResolvers<void>();
let served = 0;
const openChannel: OpenChannel = async () => {
  await release.promise;
  console.log(`served ${++served}`);
  return { ok: false, code: "agent-offline", message: "released" };
};
const ports = new PublishedPorts({ openChannel, log: getLogger(["child"]) });
await ports.start([{
  key: "127.0.0.1:0",
  listen: { hostname: "127.0.0.1", port: 0 },
  agent: "db1",
  target: { hostname: "127.0.0.1", port: 9 },
  clients: null,
  maxConnections: 10_000,
}]);
console.log(`port ${ports.get("127.0.0.1:0")!.addr.port}`);

const decoder = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  const text = decoder.decode(chunk);
  if (text.includes("release")) release.resolve();
  if (text.includes("quit")) break;
}
release.resolve();
await ports.close();
Deno.removeSignalListener("SIGINT", noSignal);
