/**
 * `systemctl reload` (the units' `ExecReload` sends SIGHUP): a `burrow
 * server` or `burrow agent` process re-reads its folders on SIGHUP, even a
 * change its watcher cannot see. The domain file is a symbolic link to a file
 * outside the watched folder (as Kubernetes ConfigMaps and configuration
 * tools lay them out): writing the target changes nothing in the folder, so
 * only the SIGHUP re-read applies it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { childEnv, MAIN } from "../helpers/burrow.ts";
import { makeCertificates } from "../../shared/tls/self_signed.ts";

const SECRET = "reload-secret-0123456789";
const IS_WINDOWS = Deno.build.os === "windows";

/** A `burrow` child whose standard error is read line by line. */
class Child implements AsyncDisposable {
  readonly process: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters: { test: RegExp; resolve(line: string): void }[] = [];
  readonly #done: Promise<void>;

  constructor(args: string[]) {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, ...args],
      env: childEnv({ NO_COLOR: "1" }),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.process = process;
    this.#done = (async () => {
      let rest = "";
      for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split("\n");
        rest = lines.pop()!;
        for (const line of lines) this.#line(line);
      }
      if (rest !== "") this.#line(rest);
      for (const w of this.#waiters) w.resolve("");
    })();
  }

  #line(line: string): void {
    this.lines.push(line);
    for (const w of [...this.#waiters]) {
      if (!w.test.test(line)) continue;
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve(line);
    }
  }

  /** The first line from now on that matches `test` ("" if the process ends first). */
  next(test: RegExp): Promise<string> {
    const { promise, resolve } = Promise.withResolvers<string>();
    this.#waiters.push({ test, resolve });
    return promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch { /* exited */ }
    await this.process.status;
    await this.#done;
  }
}

/** A folder with `name.d/NAME.jsonc` linked to `targets/NAME.jsonc` holding `domain`. */
async function linkedDomain(name: string, domain: object): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-reload-" });
  await Deno.mkdir(join(dir, "targets"));
  await Deno.mkdir(join(dir, `${name}.d`));
  await Deno.writeTextFile(join(dir, "targets", "app.test.jsonc"), JSON.stringify(domain));
  await Deno.symlink(
    join("..", "targets", "app.test.jsonc"),
    join(dir, `${name}.d`, "app.test.jsonc"),
  );
  return dir;
}

/** One plain-HTTP request for Host app.test (fetch cannot set Host); resolves once answered. */
async function request(port: number): Promise<void> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head = "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n";
  await conn.write(new TextEncoder().encode(head));
  for await (const _ of conn.readable) { /* until the server closes */ }
}

Deno.test({
  name: "burrow server re-reads a domain file on SIGHUP that its watcher cannot see",
  ignore: IS_WINDOWS,
  fn: async () => {
    const dir = await linkedDomain("server", { active: false, secret: SECRET });
    await Deno.writeTextFile(
      join(dir, "server.jsonc"),
      JSON.stringify({
        mode: "server",
        listen: [{ address: "127.0.0.1:0", plain: true }],
        domains: "server.d",
        dataDir: "data",
        log: { access: "console", unavailable: true },
      }),
    );
    try {
      await using server = new Child(["server", "--config", join(dir, "server.jsonc")]);
      const listening = server.next(/Plain HTTP on 127\.0\.0\.1:\d+/);
      assert.match(await server.next(/Server up/), /Server up: 1 domain/);
      const port = Number((await listening).match(/127\.0\.0\.1:(\d+)/)![1]);

      let reason = server.next(/"reason"/);
      await request(port);
      assert.match(await reason, /"reason":"domain inactive"/);

      // Activate the domain behind the link, then reload.
      await Deno.writeTextFile(
        join(dir, "targets", "app.test.jsonc"),
        JSON.stringify({ active: true, secret: SECRET }),
      );
      const reloaded = server.next(/Reloaded on SIGHUP/);
      server.process.kill("SIGHUP");
      assert.match(
        await reloaded,
        /Reloaded on SIGHUP: changed domain app\.test; rejected 0; read at start only \(restart to apply\): none/,
      );
      reason = server.next(/"reason"/);
      await request(port);
      assert.match(await reason, /"reason":"no agent connected"/);

      // A second SIGHUP with nothing new changes nothing (unchanged files are left alone).
      const again = server.next(/Reloaded on SIGHUP/);
      server.process.kill("SIGHUP");
      assert.match(await again, /changed none; rejected 0/);
      assert.equal(server.lines.filter((l) => l.includes("Domain app.test changed")).length, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "burrow server on SIGHUP re-reads its certificates, names main-file keys that wait for a restart, and keeps running",
  ignore: IS_WINDOWS,
  fn: async () => {
    const dir = await linkedDomain("server", { active: true, secret: SECRET });
    const certs = await makeCertificates({ hostnames: ["127.0.0.1"] });
    await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
    await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
    const config = (status: number) =>
      JSON.stringify({
        mode: "server",
        listen: [{ address: "127.0.0.1:0", cert: "cert.pem", key: "key.pem" }],
        domains: "server.d",
        dataDir: "data",
        unavailableStatus: status,
      });
    await Deno.writeTextFile(join(dir, "server.jsonc"), config(404));
    try {
      await using server = new Child(["server", "--config", join(dir, "server.jsonc")]);
      await server.next(/Server up/);
      await Deno.writeTextFile(join(dir, "server.jsonc"), config(503));
      const reloaded = server.next(/Reloaded on SIGHUP/);
      server.process.kill("SIGHUP");
      assert.match(
        await reloaded,
        /changed certificates \(re-read\); rejected 0; read at start only \(restart to apply\): unavailableStatus$/,
      );
      const stopped = server.next(/Stopping on SIGTERM/);
      server.process.kill("SIGTERM");
      assert.match(await stopped, /Stopping on SIGTERM/);
      assert.equal((await server.process.status).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "burrow agent re-reads its domain folder on SIGHUP",
  ignore: IS_WINDOWS,
  fn: async () => {
    // Port 9 on loopback refuses: the agent keeps retrying, which is all this needs.
    const domain = (active: boolean) => ({
      active,
      secret: SECRET,
      remote: "127.0.0.1:9",
      insecure: true,
      targets: [{ target: "http://127.0.0.1:9" }],
    });
    const dir = await linkedDomain("agent", domain(false));
    await Deno.writeTextFile(
      join(dir, "agent.jsonc"),
      JSON.stringify({ mode: "agent", domains: "agent.d" }),
    );
    try {
      await using agent = new Child(["agent", "--config", join(dir, "agent.jsonc")]);
      assert.match(await agent.next(/Agent \w+ started/), /0 active domain/);
      await Deno.writeTextFile(
        join(dir, "targets", "app.test.jsonc"),
        JSON.stringify(domain(true)),
      );
      const reloaded = agent.next(/Reloaded on SIGHUP/);
      agent.process.kill("SIGHUP");
      assert.match(await reloaded, /changed domain app\.test; rejected 0/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
