/**
 * The demo's local web app: a page, a WebSocket echo and a Server-Sent Events
 * clock, served on loopback for the demo agent to expose.
 *
 * @module
 */

/** A running demo app. */
export interface DemoApp {
  /** Where it listens (127.0.0.1, random port). */
  addr: Deno.NetAddr;
  /** Stops it. */
  close(): Promise<void>;
}

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Burrow demo</title>
<style>body{font:16px system-ui;margin:2rem auto;max-width:40rem}code{background:#eee;padding:0 .3em}</style>
<h1>It works: this page came through a Burrow tunnel</h1>
<p>Server → wss → agent → this app on loopback. Every request, the WebSocket and the event
stream below share one multiplexed connection between the agent and the server.</p>
<h2>Server-Sent Events clock</h2>
<p id="clock">waiting…</p>
<h2>WebSocket echo</h2>
<input id="msg" value="hello through the tunnel"> <button id="send">send</button>
<pre id="log"></pre>
<script>
const clock = document.getElementById("clock");
new EventSource("/events").onmessage = (e) => clock.textContent = e.data;
const log = document.getElementById("log");
const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
ws.onmessage = (e) => log.textContent += "echo: " + e.data + "\\n";
document.getElementById("send").onclick = () => ws.send(document.getElementById("msg").value);
</script>
`;

/** Starts the demo app on 127.0.0.1 (port 0 picks a free one). */
export function startDemoApp(port = 0): DemoApp {
  const clocks = new Set<ReturnType<typeof setInterval>>();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/ws" && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    }
    if (url.pathname === "/events") return clock(clocks);
    if (url.pathname === "/") {
      return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    return new Response("Not found\n", { status: 404 });
  });
  return {
    addr: server.addr,
    async close() {
      for (const t of clocks) clearInterval(t);
      await server.shutdown();
    },
  };
}

/** An SSE stream sending the time every second until the client leaves (the body is cancelled). */
function clock(clocks: Set<ReturnType<typeof setInterval>>): Response {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval>;
  const stop = () => {
    clearInterval(timer);
    clocks.delete(timer);
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const tick = () =>
        controller.enqueue(encoder.encode(`data: ${new Date().toISOString()}\n\n`));
      tick();
      timer = setInterval(tick, 1000);
      clocks.add(timer);
    },
    cancel: stop,
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}
