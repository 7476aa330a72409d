import assert from "node:assert/strict";
import { clientResponse, peekBody } from "./bodies.ts";
import { Watchdog } from "../shared/time/watchdog.ts";

Deno.test("clientResponse() gives the headers the Response constructor gives, and its errors", () => {
  const pairs: [string, string][] = [
    ["content-type", "text/plain"],
    ["set-cookie", "a=1; Path=/"],
    ["set-cookie", "b=2"],
    ["x-multi", "1"],
    ["x-multi", "2"],
    ["x-space", "  padded\t"],
    ["X-Upper", "v"],
  ];
  const body = new TextEncoder().encode("hello");
  const made = clientResponse(body, 201, pairs);
  const built = new Response(body, { status: 201, headers: pairs });
  assert.equal(made.status, 201);
  assert.deepEqual([...made.headers], [...built.headers]);
  assert.deepEqual(made.headers.getSetCookie(), ["a=1; Path=/", "b=2"]);
  assert.equal(made.headers.get("content-length"), null, "no header the pairs do not hold");
  for (const bad of [[["bad name", "v"]], [["x-a", "line\nbreak"]], [["x-a", "é€"]]]) {
    const list = bad as [string, string][];
    assert.throws(() => new Response(null, { headers: list }), TypeError);
    assert.throws(() => clientResponse(null, 200, list), TypeError);
  }
  assert.equal(clientResponse(null, 304, pairs).status, 304);
});

Deno.test("peekBody() tells an empty body, a body (first piece kept) and a silent one apart", async () => {
  const watchdog = new Watchdog(10);
  try {
    const empty = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(0));
        c.close();
      },
    });
    assert.equal(await peekBody(empty, watchdog, 1000), null);
    const some = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("ab"));
        c.enqueue(new TextEncoder().encode("cd"));
        c.close();
      },
    });
    const peeked = await peekBody(some, watchdog, 1000);
    assert.ok(peeked instanceof ReadableStream);
    assert.equal(await new Response(peeked).text(), "abcd");
    let cancelled = false;
    const silent = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    // The watchdog's timer does not keep the process alive; this one does, meanwhile.
    const alive = setTimeout(() => {}, 5000);
    try {
      assert.equal(await peekBody(silent, watchdog, 50), "timeout");
    } finally {
      clearTimeout(alive);
    }
    assert.ok(cancelled);
  } finally {
    watchdog.close();
  }
});
