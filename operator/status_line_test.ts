import assert from "node:assert/strict";
import { StatusLine } from "./status_line.ts";

function sink() {
  const out: string[] = [];
  const decoder = new TextDecoder();
  return {
    out,
    writeSync(bytes: Uint8Array) {
      out.push(decoder.decode(bytes));
      return bytes.length;
    },
  };
}

Deno.test("StatusLine off a terminal writes the message lines only", () => {
  const s = sink();
  const status = new StatusLine({ render: () => "1 open", sink: s, live: false });
  status.line("forward a -> db1 b: refused");
  status[Symbol.dispose]();
  assert.deepEqual(s.out, ["forward a -> db1 b: refused\n"]);
  assert.equal(status.live, false);
});

Deno.test("StatusLine on a terminal redraws the status below each message and erases it at the end", () => {
  const s = sink();
  let n = 0;
  const status = new StatusLine({
    render: () => `${++n} open`,
    sink: s,
    live: true,
    interval: 60_000,
  });
  status.line("first");
  status.line("second");
  status[Symbol.dispose]();
  assert.deepEqual(s.out, [
    "first\n",
    "\r\x1b[2K1 open",
    "\r\x1b[2Ksecond\n",
    "\r\x1b[2K2 open",
    "\r\x1b[2K",
  ]);
});
