import assert from "node:assert/strict";
import {
  endToEndPairs,
  forwardedHeaders,
  headerSize,
  headersToPairs,
  HOP_BY_HOP,
  normalizeIp,
  pairsToHeaders,
  stripHopByHop,
  transactionId,
} from "./headers.ts";

function sorted(h: Headers): [string, string][] {
  return headersToPairs(h).sort(([a], [b]) => a.localeCompare(b));
}

Deno.test("stripHopByHop() drops hop-by-hop headers and those Connection names", () => {
  const cases: {
    name: string;
    in: [string, string][];
    websocket?: boolean;
    out: [string, string][];
  }[] = [
    {
      name: "every listed header",
      in: [
        ["connection", "keep-alive"],
        ["keep-alive", "timeout=5"],
        ["proxy-authenticate", "Basic"],
        ["proxy-authorization", "Basic eA=="],
        ["proxy-connection", "keep-alive"],
        ["te", "trailers"],
        ["trailer", "x-checksum"],
        ["transfer-encoding", "chunked"],
        ["upgrade", "websocket"],
        ["accept", "*/*"],
      ],
      out: [["accept", "*/*"]],
    },
    {
      name: "headers named in Connection, any case and spacing",
      in: [["connection", "close, X-Secret ,x-other"], ["x-secret", "1"], ["x-other", "2"], [
        "x-kept",
        "3",
      ]],
      out: [["x-kept", "3"]],
    },
    {
      name: "a WebSocket upgrade keeps Upgrade and sets Connection: Upgrade",
      in: [
        ["connection", "keep-alive, Upgrade, x-a"],
        ["upgrade", "websocket"],
        ["x-a", "1"],
        ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="],
      ],
      websocket: true,
      out: [
        ["connection", "Upgrade"],
        ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="],
        ["upgrade", "websocket"],
      ],
    },
    {
      name: "upgrade without an Upgrade header adds nothing",
      in: [["connection", "close"], ["host", "a"]],
      websocket: true,
      out: [["host", "a"]],
    },
    {
      name: "Set-Cookie values survive",
      in: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["connection", "close"]],
      out: [["set-cookie", "a=1"], ["set-cookie", "b=2"]],
    },
  ];
  for (const c of cases) {
    const input = pairsToHeaders(c.in);
    const out = stripHopByHop(input, { websocket: c.websocket ?? false });
    assert.deepEqual(sorted(out), c.out, c.name);
    assert.deepEqual(sorted(input), sorted(pairsToHeaders(c.in)), `${c.name}: input untouched`);
  }
  assert.ok(HOP_BY_HOP.has("transfer-encoding"));
});

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
});

Deno.test("headerSize() counts start line, headers and blank line", () => {
  const cases: [string, [string, string][], number][] = [
    ["GET / HTTP/1.1", [], 14 + 2 + 2],
    ["GET / HTTP/1.1", [["host", "a"]], 16 + 9 + 2],
    ["HTTP/1.1 200 OK", [["set-cookie", "a=1"], ["set-cookie", "b=22"]], 17 + 17 + 18 + 2],
    ["GET /é HTTP/1.1", [], 16 + 2 + 2],
  ];
  for (const [line, pairs, want] of cases) {
    assert.equal(headerSize(line, pairsToHeaders(pairs)), want, line);
  }
  const request = new Request("http://example.com/a?b=1", {
    method: "POST",
    headers: { host: "example.com", "x-a": "1" },
  });
  assert.equal(headerSize(request), headerSize("POST /a?b=1 HTTP/1.1", request.headers));
  assert.equal(headerSize(request), 22 + 19 + 8 + 2);
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
