import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { within } from "../helpers/streams.ts";

const CHILD = fileURLToPath(new URL("./accept_child.ts", import.meta.url));
const CLIENTS = 100;

Deno.test({
  name: "a published port out of file descriptors keeps accepting once some are freed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const child = new Deno.Command("bash", {
      args: ["-c", `ulimit -n 64 && exec "${Deno.execPath()}" run -A "${CHILD}"`],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let held = "";
    /** The next whole line of the child's output, or null at its end. */
    const nextLine = async (): Promise<string | null> => {
      while (!held.includes("\n")) {
        const r = await lines.read();
        if (r.done) return null;
        held += r.value;
      }
      const at = held.indexOf("\n");
      const line = held.slice(0, at);
      held = held.slice(at + 1);
      return line;
    };
    const waitFor = async (what: string, match: (line: string) => boolean): Promise<string> => {
      return await within(
        20_000,
        what,
        (async () => {
          for (let line = await nextLine(); line !== null; line = await nextLine()) {
            if (match(line)) return line;
          }
          throw new Error(`Child ended before ${what}`);
        })(),
      );
    };
    const stdin = child.stdin.getWriter();
    const conns: Deno.TcpConn[] = [];
    try {
      const port = Number((await waitFor("port", (l) => l.startsWith("port "))).slice(5));
      // More clients than the child has descriptors: its accepts fail with EMFILE.
      for (let i = 0; i < CLIENTS; i++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      await waitFor("a failed accept", (l) => l.includes("Too many open files"));
      // The waiting channels give up: their sockets close, the rest get accepted.
      await stdin.write(new TextEncoder().encode("release\n"));
      await waitFor(`${CLIENTS} served`, (l) => l === `served ${CLIENTS}`);
    } finally {
      for (const conn of conns) conn.close();
      await stdin.write(new TextEncoder().encode("quit\n")).catch(() => {});
      await stdin.close().catch(() => {});
      await lines.cancel();
      const status = await child.status;
      assert.equal(status.code, 0);
    }
  },
});
