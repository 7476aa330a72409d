import assert from "node:assert/strict";
import { join } from "node:path";
import type { LogConfig } from "./config_types.ts";
import { type AccessEntry, setupLogging } from "./setup.ts";

function entry(i: number): AccessEntry {
  return {
    domain: "example.com",
    client: "203.0.113.7",
    method: "GET",
    path: `/item/${i}`,
    status: i % 5 === 0 ? 404 : 200,
    bytesIn: 0,
    bytesOut: 100 + i,
    durationMs: i / 3,
    tid: `tid-${i}`,
    agent: i % 5 === 0 ? null : "a1b2",
    ...(i % 5 === 0 ? { reason: "no-agent" } : {}),
  };
}

function readLines(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("access log rotates by size, keeps maxFiles old files, one JSON object per line", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "nested", "logs", "access.log");
    const config: LogConfig = {
      level: "info",
      system: [],
      access: [{ type: "file", path, maxSize: 2048, maxFiles: 2 }],
      unavailable: false,
    };
    const logging = await setupLogging(config, { role: "server" });
    for (let i = 0; i < 200; i++) {
      logging.access(entry(i));
      // Let the background flush run now and then, as a live server would: a
      // timer turn, not just a macrotask, so its write completes even when the
      // parallel suite loads the machine (with 0 ms, one run in many flushed
      // everything in three writes and nothing rotated out: "200 lines kept").
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
    }
    await logging.close();

    assert.ok(exists(`${path}.1`), "rotated once");
    assert.ok(exists(`${path}.2`), "rotated twice");
    assert.ok(!exists(`${path}.3`), "older files removed");
    const files = [`${path}.2`, `${path}.1`, path];
    const indexes: number[] = [];
    for (const file of files) {
      for (const line of readLines(file)) {
        const obj = JSON.parse(line);
        const i = Number(obj.path.slice("/item/".length));
        const want = entry(i);
        assert.equal(typeof obj.time, "string");
        assert.ok(!Number.isNaN(Date.parse(obj.time)), `time ${obj.time}`);
        assert.deepEqual(obj, {
          ...want,
          time: obj.time,
          durationMs: Math.round(want.durationMs * 10) / 10,
          reason: want.reason ?? null,
        });
        indexes.push(i);
      }
    }
    // The newest lines survive, in order, ending with the last one written.
    assert.ok(indexes.length > 0 && indexes.length < 200, `${indexes.length} lines kept`);
    assert.deepEqual(indexes, indexes.map((_, k) => 200 - indexes.length + k));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("system log files hold JSON lines at the configured level and above", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "system.log");
    const logging = await setupLogging({
      level: "warning",
      system: [{ type: "file", path, maxSize: 1 << 20, maxFiles: 3 }],
      access: [],
      unavailable: false,
    }, { role: "agent" });
    const log = logging.child("agent#a1b2", "domain:example.com");
    log.info("dropped");
    log.warn("slow upstream {ms}", { ms: 1500, upstream: "127.0.0.1:3000" });
    logging.system.error("failed", { error: new Error("boom") });
    logging.access(entry(1)); // no access sinks: ignored
    await logging.close();

    const lines = readLines(path).map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { ...lines[0], "@timestamp": undefined },
      {
        "@timestamp": undefined,
        level: "WARN",
        message: "slow upstream 1500",
        logger: "burrow.agent.agent#a1b2.domain:example.com",
        properties: { ms: 1500, upstream: "127.0.0.1:3000" },
      },
    );
    assert.equal(lines[1].logger, "burrow.agent");
    assert.equal(lines[1].properties.error.message, "boom");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("setupLogging() twice replaces the first setup", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const config = (name: string): LogConfig => ({
      level: "info",
      system: [{ type: "file", path: join(dir, `${name}.log`), maxSize: 1 << 20, maxFiles: 1 }],
      access: [{
        type: "file",
        path: join(dir, `${name}.access.log`),
        maxSize: 1 << 20,
        maxFiles: 1,
      }],
      unavailable: false,
    });
    const first = await setupLogging(config("first"), { role: "server" });
    first.system.info("one");
    const second = await setupLogging(config("second"), { role: "server" });
    first.access(entry(1)); // replaced: ignored
    await first.close(); // must not reset the second setup
    second.system.info("two");
    second.access(entry(2));
    await second.close();
    await second.close();

    assert.deepEqual(readLines(join(dir, "first.log")).map((l) => JSON.parse(l).message), ["one"]);
    assert.deepEqual(readLines(join(dir, "first.access.log")), []);
    assert.deepEqual(readLines(join(dir, "second.log")).map((l) => JSON.parse(l).message), ["two"]);
    assert.deepEqual(
      readLines(join(dir, "second.access.log")).map((l) => JSON.parse(l).tid),
      ["tid-2"],
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("setupLogging() rejects two sinks on one file and leaves no file open", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "same.log");
    await assert.rejects(
      setupLogging({
        level: "info",
        system: [{ type: "file", path, maxSize: 1024, maxFiles: 1 }],
        access: [{ type: "file", path: join(dir, ".", "same.log"), maxSize: 1024, maxFiles: 1 }],
        unavailable: false,
      }, { role: "server" }),
      { name: "TypeError", message: /same\.log" is written by two sinks/ },
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("setupLogging() names the file it cannot open", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(join(dir, "file"), "");
    await assert.rejects(
      setupLogging({
        level: "info",
        system: [{ type: "file", path: join(dir, "file", "x.log"), maxSize: 1024, maxFiles: 1 }],
        access: [],
        unavailable: false,
      }, { role: "server" }),
      { message: /^Cannot open log file ".*x\.log": / },
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
