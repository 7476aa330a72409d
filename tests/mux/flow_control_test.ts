/**
 * Flow control end to end: a reader that does not read stalls the writer and
 * holds at most its window; once it reads, everything arrives intact.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withConnTypes } from "../helpers/conn_types.ts";
import { randomBytes, settled, within } from "../helpers/streams.ts";
import { Session } from "../../shared/mux/mod.ts";
import { INITIAL_WINDOW } from "../../shared/frame/header.ts";

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;

withConnTypes(
  "64 MiB into a reader that does not read stalls, then arrives intact",
  async ({ a, b }) => {
    const client = new Session(a, { client: true });
    const server = new Session(b, { client: false });
    try {
      const stream = await client.open();
      const sent = createHash("sha256");
      let written = 0;
      const pattern = randomBytes(CHUNK * 16);
      const writing = (async () => {
        const writer = stream.writable.getWriter();
        for (let i = 0; written < TOTAL; i++) {
          const chunk = pattern.subarray((i % 16) * CHUNK, (i % 16 + 1) * CHUNK).slice();
          chunk[0] = i & 0xff; // every chunk differs, so reordering would show in the hash
          chunk[1] = (i >> 8) & 0xff;
          sent.update(chunk);
          await writer.write(chunk);
          written += chunk.length;
        }
        await writer.close();
      })();
      const s = (await server.accept())!;

      // The writer stalls: nothing is read, so no window comes back.
      const stalledAt = await settled(() => written, 200, 10_000);
      assert.ok(stalledAt <= INITIAL_WINDOW, `writer got ${stalledAt} bytes through`);
      assert.ok(s.buffered <= s.receiveWindow, `${s.buffered} buffered > window`);
      assert.equal(s.receiveWindow, INITIAL_WINDOW);
      assert.ok(s.buffered >= INITIAL_WINDOW - CHUNK, `only ${s.buffered} arrived`);

      // Drain: everything arrives, in order, and the buffer never exceeds the window.
      const got = createHash("sha256");
      let received = 0;
      let maxBuffered = 0;
      for await (const chunk of s.readable) {
        got.update(chunk);
        received += chunk.length;
        maxBuffered = Math.max(maxBuffered, s.buffered);
        assert.ok(s.buffered <= s.receiveWindow);
      }
      await within(30_000, "writer to finish", writing);
      assert.equal(received, TOTAL);
      assert.equal(got.digest("hex"), sent.digest("hex"));
      assert.ok(s.receiveWindow <= client.config.maxStreamWindow);
    } finally {
      await client.close();
      await server.close();
    }
  },
);

withConnTypes(
  "window auto-tuning grows for a fast reader, within maxStreamWindow",
  async ({ a, b }) => {
    const max = 2 * 1024 * 1024;
    const client = new Session(a, { client: true, maxStreamWindow: max });
    const server = new Session(b, { client: false, maxStreamWindow: max });
    try {
      await client.ping();
      const stream = await client.open();
      const writing = (async () => {
        const writer = stream.writable.getWriter();
        const chunk = new Uint8Array(CHUNK);
        for (let n = 0; n < 128 * 1024 * 1024; n += CHUNK) await writer.write(chunk);
        await writer.close();
      })();
      const s = (await server.accept())!;
      let received = 0;
      for await (const chunk of s.readable) received += chunk.length;
      await writing;
      assert.equal(received, 128 * 1024 * 1024);
      assert.ok(s.receiveWindow > INITIAL_WINDOW, `window stayed at ${s.receiveWindow}`);
      assert.ok(s.receiveWindow <= max);
    } finally {
      await client.close();
      await server.close();
    }
  },
);
