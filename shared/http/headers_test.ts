import assert from "node:assert/strict";
import {
  endToEndPairs,
  forwardedHeaders,
  headersToPairs,
  normalizeIp,
  PairList,
  pairsToHeaders,
  transactionId,
} from "./headers.ts";

function sorted(h: Headers): [string, string][] {
  return headersToPairs(h).sort(([a], [b]) => a.localeCompare(b));
}

Deno.test("endToEndPairs() drops hop-by-hop headers in one pass, keeping order and repeats", () => {
  const pairs: [string, string][] = [
    ["Accept", "*/*"],
    ["Connection", "keep-alive, X-Secret"],
    ["x-secret", "1"],
    ["transfer-encoding", "chunked"],
    ["cookie", "a=1"],
    ["connection", " x-other "],
    ["x-other", "2"],
    ["cookie", "b=2"],
  ];
  assert.deepEqual(endToEndPairs(pairs), [["accept", "*/*"], ["cookie", "a=1"], ["cookie", "b=2"]]);
  assert.equal(pairs.length, 8, "input untouched");
  const headers = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"], ["te", "trailers"]]);
  assert.deepEqual(endToEndPairs(headers), [["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
  assert.deepEqual(endToEndPairs([]), []);
});

Deno.test("forwardedHeaders() trusts the chain only behind a trusted peer", () => {
  const trusted = (ip: string) => ip.startsWith("10.") || ip === "::1";
  const cases: {
    name: string;
    clientIp: string;
    in: [string, string][];
    xff: string;
    proto: string;
    host: string;
    effective: string;
  }[] = [
    {
      name: "untrusted peer replaces a forged chain and headers",
      clientIp: "203.0.113.7",
      in: [["x-forwarded-for", "1.2.3.4"], ["x-forwarded-proto", "https"], [
        "x-forwarded-host",
        "evil",
      ]],
      xff: "203.0.113.7",
      proto: "http",
      host: "example.com",
      effective: "203.0.113.7",
    },
    {
      name: "untrusted peer, no prior headers",
      clientIp: "203.0.113.7",
      in: [],
      xff: "203.0.113.7",
      proto: "http",
      host: "example.com",
      effective: "203.0.113.7",
    },
    {
      name: "trusted peer appends and keeps its proto and host",
      clientIp: "10.0.0.2",
      in: [["x-forwarded-for", "198.51.100.1"], ["x-forwarded-proto", "https"], [
        "x-forwarded-host",
        "www.example.com",
      ]],
      xff: "198.51.100.1, 10.0.0.2",
      proto: "https",
      host: "www.example.com",
      effective: "198.51.100.1",
    },
    {
      name: "walk from the right stops at the first untrusted address",
      clientIp: "10.0.0.2",
      in: [["x-forwarded-for", "6.6.6.6, 198.51.100.1,10.0.0.9"]],
      xff: "6.6.6.6, 198.51.100.1, 10.0.0.9, 10.0.0.2",
      proto: "http",
      host: "example.com",
      effective: "198.51.100.1",
    },
    {
      name: "all trusted: the left-most",
      clientIp: "::1",
      in: [["x-forwarded-for", "10.0.0.1, 10.0.0.9"]],
      xff: "10.0.0.1, 10.0.0.9, ::1",
      proto: "http",
      host: "example.com",
      effective: "10.0.0.1",
    },
    {
      name: "trusted peer without a chain is the client",
      clientIp: "10.0.0.2",
      in: [],
      xff: "10.0.0.2",
      proto: "http",
      host: "example.com",
      effective: "10.0.0.2",
    },
    {
      name: "garbage ends the walk at the hop that reported it",
      clientIp: "10.0.0.2",
      in: [["x-forwarded-for", "198.51.100.1, unknown, 10.0.0.9"]],
      xff: "198.51.100.1, unknown, 10.0.0.9, 10.0.0.2",
      proto: "http",
      host: "example.com",
      effective: "10.0.0.9",
    },
    {
      name: "ports and brackets are removed",
      clientIp: "10.0.0.2",
      in: [["x-forwarded-for", "[2001:db8::1]:443, 198.51.100.1:5000"]],
      xff: "[2001:db8::1]:443, 198.51.100.1:5000, 10.0.0.2",
      proto: "http",
      host: "example.com",
      effective: "198.51.100.1",
    },
    {
      name: "repeated X-Forwarded-For headers form one chain",
      clientIp: "10.0.0.2",
      in: [["x-forwarded-for", "198.51.100.1"], ["x-forwarded-for", "10.0.0.3"]],
      xff: "198.51.100.1, 10.0.0.3, 10.0.0.2",
      proto: "http",
      host: "example.com",
      effective: "198.51.100.1",
    },
  ];
  for (const c of cases) {
    const headers = pairsToHeaders(c.in);
    const { headers: out, clientIp: ip } = forwardedHeaders({
      headers,
      clientIp: c.clientIp,
      trusted,
      proto: "http",
      host: "example.com",
    });
    assert.equal(ip, c.effective, c.name);
    assert.equal(out, headers, "same object");
    assert.equal(headers.get("x-forwarded-for"), c.xff, c.name);
    assert.equal(headers.get("x-forwarded-proto"), c.proto, c.name);
    assert.equal(headers.get("x-forwarded-host"), c.host, c.name);
  }
});

Deno.test("normalizeIp() accepts addresses and rejects the rest", () => {
  const cases: [string, string | null][] = [
    ["192.0.2.1", "192.0.2.1"],
    [" 192.0.2.1 ", "192.0.2.1"],
    ["192.0.2.1:8080", "192.0.2.1"],
    ["2001:db8::1", "2001:db8::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["[2001:db8::1]:443", "2001:db8::1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["256.0.0.1", null],
    ["01.2.3.4", null],
    ["unknown", null],
    ["example.com", null],
    ["2001:db8:::1", null],
    ["", null],
  ];
  for (const [input, want] of cases) assert.equal(normalizeIp(input), want, input);
});

Deno.test("transactionId() is 26 Crockford characters, time-sortable and unique", async () => {
  const a = transactionId();
  await new Promise((r) => setTimeout(r, 2));
  const b = transactionId();
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.ok(a.slice(0, 10) < b.slice(0, 10), `${a} sorts before ${b}`);
  // The time prefix decodes back to now.
  let ms = 0;
  for (const ch of b.slice(0, 10)) ms = ms * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(ch);
  assert.ok(Math.abs(Date.now() - ms) < 1000);
  const many = new Set(Array.from({ length: 10_000 }, transactionId));
  assert.equal(many.size, 10_000);
  // Every random position takes all 32 characters (no bit lost or stuck).
  for (let position = 10; position < 26; position++) {
    const seen = new Set([...many].map((id) => id[position]));
    assert.equal(seen.size, 32, `position ${position}`);
  }
});

Deno.test("headersToPairs() and pairsToHeaders() keep every Set-Cookie", () => {
  const pairs: [string, string][] = [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],
    ["Set-Cookie", "b=2"],
    ["X-Multi", "1"],
    ["X-Multi", "2"],
  ];
  const headers = pairsToHeaders(pairs);
  assert.deepEqual(headers.getSetCookie(), [
    "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
    "b=2",
  ]);
  const back = headersToPairs(headers);
  assert.deepEqual(back.filter(([n]) => n === "set-cookie").length, 2);
  assert.deepEqual(back, [
    ["content-type", "text/plain"],
    ["x-multi", "1, 2"],
    ["set-cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],
    ["set-cookie", "b=2"],
  ]);
  assert.deepEqual(sorted(pairsToHeaders(back)), sorted(headers));
  assert.throws(() => pairsToHeaders([["bad name", "x"]]), TypeError);
});

Deno.test("endToEndPairs() adds the size of every header, hop-by-hop included", () => {
  const size = { bytes: 10 };
  endToEndPairs([["Host", "a"], ["connection", "close"]], { size });
  assert.equal(size.bytes, 10 + (4 + 1 + 4) + (10 + 5 + 4));
});

Deno.test("PairList edits pairs in place like the Headers calls it mirrors", () => {
  const pairs: [string, string][] = [["x-a", "1"], ["host", "h"], ["x-a", "2"]];
  const list = new PairList(pairs);
  assert.equal(list.get("x-a"), "1, 2");
  assert.equal(list.get("nope"), null);
  assert.ok(list.has("host") && !list.has("nope"));
  list.set("x-a", "3");
  assert.deepEqual(pairs, [["host", "h"], ["x-a", "3"]]);
  list.delete("host");
  assert.deepEqual(list.pairs, [["x-a", "3"]]);
  const { clientIp } = forwardedHeaders({
    headers: list,
    clientIp: "203.0.113.7",
    trusted: () => false,
    proto: "https",
    host: "example.com",
  });
  assert.equal(clientIp, "203.0.113.7");
  assert.deepEqual(list.pairs, [
    ["x-a", "3"],
    ["x-forwarded-for", "203.0.113.7"],
    ["x-forwarded-proto", "https"],
    ["x-forwarded-host", "example.com"],
  ]);
});

Deno.test("endToEndPairs() with reuse filters the caller's own pairs in place", () => {
  const pairs: [string, string][] = [
    ["Host", "a"],
    ["Connection", "x-drop"],
    ["x-keep", "1"],
    ["X-Drop", "2"],
  ];
  const first = pairs[0]!;
  const size = { bytes: 0 };
  const out = endToEndPairs(pairs, { size, reuse: true });
  assert.deepEqual(out, [["host", "a"], ["x-keep", "1"]]);
  assert.equal(out[0], first, "no pair copied");
  assert.equal(size.bytes, (4 + 1 + 4) + (10 + 6 + 4) + (6 + 1 + 4) + (6 + 1 + 4));
  const kept: [string, string][] = [["Accept", "*/*"], ["te", "trailers"], ["x-a", "1"]];
  assert.equal(endToEndPairs(kept, { reuse: true }), kept, "the same array back");
  assert.deepEqual(kept, [["accept", "*/*"], ["x-a", "1"]]);
});
