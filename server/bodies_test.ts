import assert from "node:assert/strict";
import { clientResponse } from "./bodies.ts";

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
