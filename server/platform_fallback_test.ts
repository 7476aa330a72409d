/**
 * The server's fallbacks for each Deno internal or OS facility that may be
 * missing (`shared/platform/check.ts`), each forced through the platform
 * check's probes (or by removing the internal itself) and then used.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { checkPlatform, resetPlatform } from "../shared/platform/check.ts";
import { listenHttp, listenHttps } from "./listen.ts";
import { Janitor } from "./janitor.ts";
import { CertificateStore } from "./tls.ts";
import { readHead } from "./request_head.ts";

const missing = () => false;

/** Two certificate pairs for `localhost` from two CAs: `named` for the rule `localhost`, `other` for `*`. */
async function twoPairs(dir: string) {
  const [named, other] = await Promise.all([
    makeCertificates({ hostnames: ["localhost"] }),
    makeCertificates({ hostnames: ["localhost"] }),
  ]);
  const files = { namedCert: "", namedKey: "", otherCert: "", otherKey: "" };
  for (
    const [k, text] of Object.entries({
      namedCert: named.cert,
      namedKey: named.key,
      otherCert: other.cert,
      otherKey: other.key,
    })
  ) {
    files[k as keyof typeof files] = join(dir, `${k}.pem`);
    await Deno.writeTextFile(join(dir, `${k}.pem`), text);
  }
  const store = new CertificateStore([
    { pattern: "localhost", cert: files.namedCert, key: files.namedKey },
    { pattern: "*", cert: files.otherCert, key: files.otherKey },
  ]);
  await store.load();
  return { store, namedCa: named.caCert, otherCa: other.caCert };
}

/** Status and body of `https://localhost:<port>/` for a client trusting only `ca`, or the error. */
async function get(port: number, ca: string): Promise<string> {
  using client = Deno.createHttpClient({ caCerts: [ca] });
  try {
    const res = await fetch(`https://localhost:${port}/`, { client });
    return `${res.status} ${await res.text()}`;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

Deno.test("without the SNI resolver every name gets the listener's one certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-sni-fallback-" });
  const { store, namedCa, otherCa } = await twoPairs(dir);
  const ok = () => new Response("ok");
  try {
    // With the resolver, `localhost` gets its own pair.
    resetPlatform();
    const sni = listenHttps({ hostname: "127.0.0.1", port: 0 }, store, ok);
    try {
      assert.equal(await get(sni.addr.port, namedCa), "200 ok");
    } finally {
      await sni.shutdown();
    }
    checkPlatform({ role: "server", probes: { sniResolver: missing } });
    const one = listenHttps({ hostname: "127.0.0.1", port: 0 }, store, ok);
    try {
      assert.equal(await get(one.addr.port, otherCa), "200 ok");
      assert.match(await get(one.addr.port, namedCa), /^error: /);
    } finally {
      await one.shutdown();
    }
  } finally {
    resetPlatform();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without Deno's internal serve loop HTTPS is served by Deno.serve", async () => {
  // deno-lint-ignore no-explicit-any
  const d = Deno as any;
  const internal = d[d.internal];
  const loop = internal.serveHttpOnListener;
  const pem = await makeCertificates({ hostnames: ["localhost"] });
  internal.serveHttpOnListener = undefined;
  try {
    resetPlatform();
    // The default probe sees it gone.
    assert.equal(checkPlatform({ role: "server" }).serveLoop, false);
    const server = listenHttps(
      { hostname: "127.0.0.1", port: 0 },
      CertificateStore.fromPem(pem),
      () => new Response("ok"),
    );
    try {
      assert.equal(await get(server.addr.port, pem.caCert), "200 ok");
    } finally {
      await server.shutdown();
    }
  } finally {
    internal.serveHttpOnListener = loop;
    resetPlatform();
  }
});

Deno.test("without Deno.serve's raw header list the proxy reads req.headers", async () => {
  /** The `x-rep` pairs readHead gives for a request sending `X-Rep: 1` and `X-Rep: 2`. */
  const pairs = async () => {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => Response.json(readHead(req, "/").headers.pairs.filter(([n]) => n === "x-rep")),
    );
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Rep: 1\r\nX-Rep: 2\r\nConnection: close\r\n\r\n",
      ),
    );
    const text = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
  };
  try {
    resetPlatform();
    assert.deepEqual(await pairs(), [["x-rep", "1"], ["x-rep", "2"]], "the raw list: as sent");
    checkPlatform({ role: "server", probes: { rawHeaders: missing } });
    assert.deepEqual(await pairs(), [["x-rep", "1, 2"]], "Headers joins repeats");
  } finally {
    resetPlatform();
  }
});

for (const internal of ["libc", "tcpTable"] as const) {
  Deno.test(`without ${internal} there is no janitor and listeners serve all the same`, async () => {
    try {
      checkPlatform({ role: "server", probes: { [internal]: missing } });
      assert.equal(Janitor.create({ readTimeout: 1000, idleTimeout: 1000 }), null);
      const server = listenHttp(
        { hostname: "127.0.0.1", port: 0, timeouts: { readTimeout: 1000, idleTimeout: 1000 } },
        () => new Response("ok"),
      );
      try {
        const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
        assert.equal(await res.text(), "ok");
      } finally {
        await server.shutdown();
      }
      const pem = await makeCertificates({ hostnames: ["localhost"] });
      const tls = listenHttps(
        { hostname: "127.0.0.1", port: 0 },
        CertificateStore.fromPem(pem),
        () => new Response("ok"),
      );
      try {
        assert.equal(await get(tls.addr.port, pem.caCert), "200 ok");
      } finally {
        await tls.shutdown();
      }
    } finally {
      resetPlatform();
    }
  });
}
