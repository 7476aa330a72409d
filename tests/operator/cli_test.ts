import assert from "node:assert/strict";
import { MAIN, ROOT } from "../helpers/burrow.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { within } from "../helpers/streams.ts";
import { TestOperatorServer } from "./server.ts";

/** Environment of a child: no operator config file, no inherited BURROW_* settings. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  return {
    NO_COLOR: "1",
    XDG_CONFIG_HOME: "/nonexistent-burrow-test",
    BURROW_SERVER: "",
    BURROW_TOKEN: "",
    BURROW_TOKEN_FILE: "",
    BURROW_CA_FILE: "",
    BURROW_INSECURE: "",
    BURROW_CONFIG: "",
    ...extra,
  };
}

/** Starts `burrow ...args` with its stderr read line by line. */
function spawn(args: string[], env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd: ROOT,
    env: childEnv(env),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waker: { wake: (() => void) | null } = { wake: null };
  const reading = (async () => {
    let rest = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      waker.wake?.();
    }
    if (rest) lines.push(rest);
    waker.wake?.();
  })();
  return {
    child,
    lines,
    reading,
    /** The first line matching `pattern` (waiting for it). */
    async line(pattern: RegExp): Promise<RegExpExecArray> {
      for (;;) {
        for (const l of lines) {
          const m = pattern.exec(l);
          if (m) return m;
        }
        await new Promise<void>((resolve) => (waker.wake = resolve));
      }
    },
  };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`burrow forward runs as a command: forwards, and exits 0 on ${signal}`, async () => {
    await using server = await TestOperatorServer.start();
    await using target = tcpTarget(echo);
    const run = spawn(
      [
        "forward",
        "db1",
        `0:127.0.0.1:${target.port}`,
        "--server",
        server.url,
        "--ca-file",
        server.caFile,
      ],
      { BURROW_TOKEN: server.token },
    );
    try {
      const [, port] = await within(
        30_000,
        `listening line (stderr so far: ${JSON.stringify(run.lines)})`,
        run.line(/^127\.0\.0\.1:(\d+) -> db1 127\.0\.0\.1:\d+: listening$/),
      );
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      await conn.write(new TextEncoder().encode("hello"));
      const buf = new Uint8Array(5);
      let got = 0;
      while (got < 5) got += (await conn.read(buf.subarray(got))) ?? 5;
      assert.equal(new TextDecoder().decode(buf), "hello");
      // Ctrl-C (or SIGTERM) with a connection open: listeners and streams close, exit code 0.
      run.child.kill(signal);
      const status = await within(15_000, `exit after ${signal}`, run.child.status);
      assert.equal(await conn.read(buf), null, "the open connection was closed");
      conn.close();
      await run.reading;
      assert.equal(status.code, 0, run.lines.join("\n"));
      assert.ok(run.lines.includes(`stopping on ${signal}`), run.lines.join("\n"));
    } finally {
      try {
        run.child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await run.child.status;
      await run.reading;
    }
  });
}

Deno.test("burrow forward and socks: settings and usage mistakes are one line, exit 1 or 2", async () => {
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [
      ["forward", "db1", "1:h:2"],
      {},
      1,
      /^burrow forward: no server: pass --server, set BURROW_SERVER/,
    ],
    [
      ["forward", "db1", "1:h:2", "--server", "wss://127.0.0.1:1"],
      {},
      1,
      /^burrow forward: no token: pass --token-file/,
    ],
    [
      ["socks", "db1", "1080", "--server", "wss://127.0.0.1:1"],
      { BURROW_TOKEN: "t" },
      1,
      /^burrow socks: cannot reach|^burrow socks: Cannot dial/,
    ],
    [["forward", "db1", "15432:db:x"], {}, 2, /invalid target port "x"/],
    [["forward", "db1"], {}, 2, /Give an agent and at least one/],
    [["socks", "db1", "1080", "--token", "x"], {}, 2, /Unknown option '--token'/],
    [
      ["forward", "db1", "1:h:2", "--udp-idle", "5s"],
      {},
      2,
      /--udp-idle and --udp-max-flows go with --udp/,
    ],
    [
      ["forward", "--udp", "db1", "1:h:2", "--udp-idle", "soon"],
      {},
      2,
      /--udp-idle: "soon" is not a valid duration/,
    ],
    [["forward", "Bad Name", "1:h:2"], {}, 2, /Agent "Bad Name" is not/],
  ];
  for (const [args, env, code, message] of cases) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, ...args],
      cwd: ROOT,
      env: childEnv(env),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, code, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message, args.join(" "));
  }
});
