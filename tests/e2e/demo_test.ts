/**
 * `burrow demo` as a user runs it: a real process, its printed URL and curl
 * line, the page, the SSE clock and the WebSocket echo, the forward, UDP, SOCKS
 * and admin lines as printed, then Ctrl-C.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { childEnv } from "../helpers/burrow.ts";
import { within } from "../helpers/streams.ts";
import { splitShellLine } from "../../packaging/smoke.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** The command the demo printed after `label` (one line, words without spaces). */
function printed(out: string, label: string): string {
  const line = new RegExp(`^  ${label}\\s+(.+)$`, "m").exec(out)?.[1];
  assert.ok(line, `no ${label} line in:\n${out}`);
  return line.trim();
}

/** Runs a printed command line until it says it listens, runs `use`, then stops it with SIGINT (exit 0). */
async function withPrinted(line: string, use: () => Promise<void>): Promise<void> {
  const [cmd, ...args] = splitShellLine(line);
  const child = new Deno.Command(cmd!, {
    args,
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  try {
    while (!err.includes("listening")) {
      const { value, done } = await within(30_000, `"${line}" to listen`, stderr.read());
      if (done) throw new Error(`"${line}" exited early:\n${err}`);
      err += value;
    }
    await use();
  } finally {
    child.kill("SIGINT");
    const drain = (async () => {
      for (let r = await stderr.read(); !r.done; r = await stderr.read()) err += r.value;
    })();
    const status = await within(10_000, `"${line}" to stop`, child.status);
    await drain;
    assert.equal(status.code, 0, err);
  }
}

/** Reads exactly `n` bytes. */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n;) {
    const got = await within(5000, "bytes", conn.read(out.subarray(at)));
    if (got === null) throw new Error(`connection closed after ${at} of ${n} bytes`);
    at += got;
  }
  return out;
}

Deno.test({
  name: "burrow demo serves its page, SSE clock and WebSocket echo, and stops cleanly on SIGINT",
  // Windows has no SIGINT to send to a child process.
  ignore: Deno.build.os === "windows",
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "demo", "--port", "0"],
      env: childEnv({ NO_COLOR: "1" }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const errDrain = (async () => {
      for (let r = await stderr.read(); !r.done; r = await stderr.read());
    })();
    try {
      while (!out.includes("Press Ctrl-C")) {
        const { value, done } = await within(30_000, "the demo banner", stdout.read());
        if (done) throw new Error(`demo exited early:\n${out}`);
        out += value;
      }
      const url = /Open\s+(https:\/\/localhost:\d+\/)/.exec(out)?.[1];
      const ca = splitShellLine(printed(out, "Or run"))[2];
      assert.ok(url && ca, `no URL or curl line in:\n${out}`);
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(ca)] });
      try {
        const page = await fetch(url, { client });
        assert.equal(page.status, 200);
        assert.match(await page.text(), /came through a Burrow tunnel/);
        const events = await fetch(`${url}events`, { client });
        const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
        const first = await within(5000, "an SSE event", reader.read());
        assert.match(first.value ?? "", /^data: \d{4}-\d\d-\d\dT/);
        await reader.cancel();
        const ws = new WebSocket(`${url.replace("https", "wss")}ws`, { client });
        const echoed = new Promise<string>((resolve, reject) => {
          ws.onopen = () => ws.send("ping through the demo");
          ws.onmessage = (e) => resolve(String(e.data));
          ws.onerror = () => reject(new Error("WebSocket failed"));
        });
        assert.equal(await within(5000, "the echo", echoed), "ping through the demo");
        const closed = new Promise((r) => ws.onclose = r);
        ws.close();
        await closed;
      } finally {
        client.close();
      }
      // The support-team lines, run exactly as printed.
      const forward = printed(out, "Forward");
      const local = Number(/ (\d+):127\.0\.0\.1:\d+$/.exec(forward)![1]);
      // Their local ports are none of the demo's own: those are bound first.
      const own =
        /server on 127\.0\.0\.1:(\d+),.* app on 127\.0\.0\.1:(\d+),\s+a TCP echo on 127\.0\.0\.1:(\d+) and a UDP echo on 127\.0\.0\.1:(\d+)/
          .exec(out)?.slice(1).map(Number);
      assert.ok(own, `no ports line in:\n${out}`);
      const port = (label: string) =>
        Number(/ (\d+)(?::127\.0\.0\.1:\d+)?$/.exec(printed(out, label))![1]);
      for (const tcp of [local, port("SOCKS")]) {
        assert.ok(!own.slice(0, 3).includes(tcp), `printed TCP port ${tcp} is the demo's`);
      }
      assert.notEqual(port("UDP"), own[3], "the printed UDP port is the UDP echo's");
      await withPrinted(forward, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: local });
        try {
          await conn.write(new TextEncoder().encode("hello through the agent\n"));
          const buf = new Uint8Array(64);
          const n = await within(5000, "the echo", conn.read(buf));
          assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "hello through the agent\n");
        } finally {
          conn.close();
        }
      });
      const socks = printed(out, "SOCKS");
      const socksPort = Number(/ (\d+)$/.exec(socks)![1]);
      const appPort = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]);
      await withPrinted(socks, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: socksPort });
        try {
          await conn.write(new Uint8Array([5, 1, 0]));
          await readExactly(conn, 2);
          await conn.write(
            new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, appPort >> 8, appPort & 0xff]),
          );
          const reply = await readExactly(conn, 10);
          assert.equal(reply[1], 0, "SOCKS CONNECT succeeded");
          await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\nHost: x\r\n\r\n"));
          const head = new TextDecoder().decode(await readExactly(conn, 12));
          assert.equal(head, "HTTP/1.0 200");
        } finally {
          conn.close();
        }
      });
      const udp = printed(out, "UDP");
      const udpLocal = Number(/ (\d+):127\.0\.0\.1:\d+$/.exec(udp)![1]);
      await withPrinted(udp, async () => {
        const socket = createSocket("udp4");
        try {
          const answer = new Promise<string>((resolve) => {
            socket.on("message", (m: Uint8Array) => resolve(new TextDecoder().decode(m)));
          });
          await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
          socket.send("datagram through the agent", udpLocal, "127.0.0.1");
          assert.equal(await within(5000, "the UDP echo", answer), "datagram through the agent");
        } finally {
          await new Promise<void>((resolve) => socket.close(() => resolve()));
        }
      });
      // The admin lines, run as printed: the agent "demo" connected, its session open.
      const admin = [["Agents", /^demo +connected /m], [
        "Sessions",
        /^ *\d+ +demo +\S+ \S+ +open /m,
      ]];
      for (const [label, expected] of admin as [string, RegExp][]) {
        const [cmd, ...args] = splitShellLine(printed(out, label));
        const run = await new Deno.Command(cmd!, {
          args,
          // In a shell where the user's own server is exported, the printed lines still
          // reach the demo: their flags outrank the environment.
          env: childEnv({
            BURROW_SERVER: "wss://burrow-env.invalid:1",
            BURROW_TOKEN: "not-the-demo-token",
            BURROW_CA_FILE: "/nonexistent/ca.pem",
          }),
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        })
          .output();
        assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
        assert.match(new TextDecoder().decode(run.stdout), expected, label);
      }
    } finally {
      child.kill("SIGINT");
      const status = await within(10_000, "the demo to stop", child.status);
      await stdout.cancel();
      await errDrain;
      assert.equal(status.code, 0);
    }
    const dir = dirname(splitShellLine(printed(out, "Or run"))[2]!);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound, "the demo removed its folder");
  },
});
