/**
 * `burrow demo` as a user runs it: a real process, its printed URL and curl
 * line, the page, the SSE clock and the WebSocket echo, then Ctrl-C.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { within } from "../helpers/streams.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

Deno.test({
  name: "burrow demo serves its page, SSE clock and WebSocket echo, and stops cleanly on SIGINT",
  // Windows has no SIGINT to send to a child process.
  ignore: Deno.build.os === "windows",
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "demo", "--port", "0"],
      env: { NO_COLOR: "1" },
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
      const ca = /curl --cacert (\S+) /.exec(out)?.[1];
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
    } finally {
      child.kill("SIGINT");
      const status = await within(10_000, "the demo to stop", child.status);
      await stdout.cancel();
      await errDrain;
      assert.equal(status.code, 0);
    }
    const dir = /--cacert (\S+)\/ca\.pem/.exec(out)![1]!;
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound, "the demo removed its folder");
  },
});
