import assert from "node:assert/strict";
import { CryptPool, CryptPoolError, defaultPoolSize } from "./crypt_pool.ts";
import { sha512Crypt } from "./sha512_crypt.ts";

// openssl passwd -6 -salt saltsalt secret
const OPENSSL =
  "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

/** Polls `check` every few ms, for at most `ms`. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function isCode(code: string) {
  return (e: unknown) => e instanceof CryptPoolError && e.code === code;
}

Deno.test("defaultPoolSize() leaves a core to the event loop, 1 to 2 workers", () => {
  assert.deepEqual([1, 2, 3, 4, 64].map((n) => defaultPoolSize(n)), [1, 1, 2, 2, 2]);
});

Deno.test("CryptPool.crypt() gives SHA-512 crypt's hash; workers start on the first job", async () => {
  const pool = new CryptPool({ size: 2 });
  try {
    assert.equal(pool.workers, 0);
    assert.equal(await pool.crypt("secret", OPENSSL), OPENSSL);
    assert.equal(pool.workers, 1);
    const settings = ["$6$rounds=1000$a", "$6$rounds=1000$b", "$6$rounds=1000$c"];
    const hashes = await Promise.all(settings.map((s) => pool.crypt("pässwörd", s)));
    assert.deepEqual(hashes, settings.map((s) => sha512Crypt("pässwörd", s)));
    assert.equal(pool.workers, 2, "never more than size");
  } finally {
    pool.close();
  }
});

Deno.test("CryptPool refuses at once with busy when its queue is full", async () => {
  const pool = new CryptPool({ size: 1, queue: 2 });
  try {
    const setting = "$6$rounds=20000$saltsalt";
    const accepted = [pool.crypt("a", setting), pool.crypt("b", setting), pool.crypt("c", setting)];
    assert.equal(pool.queued, 2);
    await assert.rejects(pool.crypt("d", setting), isCode("busy"));
    const hashes = await Promise.all(accepted);
    assert.equal(hashes[2], sha512Crypt("c", setting));
    assert.equal(await pool.crypt("d", setting), sha512Crypt("d", setting), "room again");
  } finally {
    pool.close();
  }
});

Deno.test("CryptPool fails a malformed setting and keeps serving", async () => {
  const pool = new CryptPool({ size: 1 });
  try {
    await assert.rejects(pool.crypt("x", "$6$rounds=1$salt"), isCode("failed"));
    assert.equal(await pool.crypt("secret", OPENSSL), OPENSSL);
  } finally {
    pool.close();
  }
});

Deno.test("CryptPool terminates idle workers and starts them again when needed", async () => {
  const pool = new CryptPool({ size: 1, idleTimeout: 30 });
  try {
    await pool.crypt("secret", OPENSSL);
    await until("idle workers to end", () => pool.workers === 0);
    assert.equal(await pool.crypt("secret", OPENSSL), OPENSSL);
    assert.equal(pool.started, 2);
  } finally {
    pool.close();
  }
});

Deno.test("CryptPool.close() fails running and queued jobs and refuses new ones", async () => {
  const pool = new CryptPool({ size: 1 });
  const setting = "$6$rounds=50000$saltsalt";
  const jobs = [pool.crypt("a", setting), pool.crypt("b", setting)];
  pool.close();
  for (const job of jobs) await assert.rejects(job, isCode("closed"));
  await assert.rejects(pool.crypt("c", setting), isCode("closed"));
  assert.equal(pool.workers, 0);
});

Deno.test("the event loop keeps turning while the pool hashes", async () => {
  const pool = new CryptPool({ size: 1 });
  try {
    // Each of these takes tens of milliseconds of CPU: run on this thread,
    // the 6 would leave no turn of the event loop between them.
    const setting = "$6$rounds=20000$saltsalt";
    let ticks = 0;
    let done = false;
    const ticker = (async () => {
      while (!done) {
        await new Promise((r) => setTimeout(r, 0));
        ticks++;
      }
    })();
    const jobs = Array.from({ length: 6 }, (_, i) => pool.crypt(`wrong-${i}`, setting));
    await Promise.all(jobs);
    done = true;
    await ticker;
    assert.ok(ticks >= 6, `the event loop turned ${ticks} times during 6 hashes`);
  } finally {
    pool.close();
  }
});

Deno.test("CryptPool hashes on the calling thread, and says so once, when workers cannot start", async () => {
  const reasons: string[] = [];
  const pool = new CryptPool({
    size: 1,
    workerUrl: new URL("./no_such_worker.ts", import.meta.url),
    onFallback: (reason) => reasons.push(reason),
  });
  try {
    const first = [pool.crypt("secret", OPENSSL), pool.crypt("other", OPENSSL)];
    assert.deepEqual(await Promise.all(first), [OPENSSL, sha512Crypt("other", OPENSSL)]);
    assert.equal(await pool.crypt("secret", OPENSSL), OPENSSL);
    await assert.rejects(pool.crypt("x", "$6$rounds=1$salt"), isCode("failed"));
    assert.equal(reasons.length, 1);
    assert.equal(pool.fallback, reasons[0]);
    assert.equal(pool.workers, 0);
  } finally {
    pool.close();
  }
});
