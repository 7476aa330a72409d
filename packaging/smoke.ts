/**
 * The release smoke test, run on each target's own runner against the built
 * binary (and in the suite against `deno run -A main.ts`):
 *
 * ```sh
 * deno run -A packaging/smoke.ts [--conf DIR] [--version V] [--target T] -- BURROW [ARGS...]
 * ```
 *
 * 1. `BURROW version` prints `burrow V (deno D, T)` (V and T checked when given);
 * 2. `BURROW check` accepts every `*.jsonc` sample in DIR (default `conf`);
 * 3. `BURROW demo --port 0` starts a server, an agent and an app on loopback:
 *    one HTTPS request through the tunnel (the printed curl line's URL and CA),
 *    then the printed Forward line, run as printed, carries one TCP connection
 *    to the demo's echo through the agent.
 *
 * Prints one `smoke: ...` line per step; exits 0 when all pass, 1 otherwise.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

/** How long any one step may take before the smoke fails. */
const STEP_MS = 60_000;

/** The signal that stops a child cleanly: Windows can only terminate it. */
const STOP: Deno.Signal = Deno.build.os === "windows" ? "SIGTERM" : "SIGINT";

/** Rejects with "Timed out waiting for `what`" unless `promise` settles within `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Splits a POSIX shell line as `burrow demo` prints it (`shellLine`): bare
 * words, and words in single quotes with `'"'"'` for a quote inside.
 *
 * @example
 * ```ts
 * splitShellLine(`'C:\\a b\\burrow.exe' forward x`); // ["C:\\a b\\burrow.exe", "forward", "x"]
 * ```
 */
export function splitShellLine(line: string): string[] {
  const words: string[] = [];
  const word = /\s*((?:[^\s'"]+|'[^']*'|"[^"]*")+)/y;
  for (let m = word.exec(line); m !== null; m = word.exec(line)) {
    words.push(m[1]!.replace(/'([^']*)'|"([^"]*)"/g, (_, s, d) => s ?? d));
  }
  if (line.slice(word.lastIndex).trim() !== "" && words.length === 0) {
    throw new Error(`Cannot split ${JSON.stringify(line)}`);
  }
  return words;
}

/** The text after `label` on the demo's banner line `  <label>  <text>`. */
export function printedLine(banner: string, label: string): string {
  const line = new RegExp(`^  ${label}\\s+(.+)$`, "m").exec(banner)?.[1];
  if (line === undefined) throw new Error(`No ${label} line in the demo's banner:\n${banner}`);
  return line.trim();
}

/** A child process whose stdout and stderr are collected as text. */
class Child {
  readonly #process: Deno.ChildProcess;
  readonly #drained: Promise<void>;
  out = "";
  err = "";
  #changed = Promise.withResolvers<void>();

  constructor(words: string[]) {
    this.#process = new Deno.Command(words[0]!, {
      args: words.slice(1),
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const drain = async (stream: ReadableStream<Uint8Array>, into: "out" | "err") => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this[into] += text;
        this.#changed.resolve();
        this.#changed = Promise.withResolvers<void>();
      }
    };
    this.#drained = Promise.all([
      drain(this.#process.stdout, "out"),
      drain(this.#process.stderr, "err"),
    ]).then(() => this.#changed.resolve());
  }

  /** Resolves once stdout or stderr (as `which` says) contains `text`; rejects if the child ends first. */
  async waitFor(which: "out" | "err", text: string, what: string): Promise<void> {
    const exited = this.#process.status.then((s) => s);
    await within(
      STEP_MS,
      what,
      (async () => {
        while (!this[which].includes(text)) {
          const ended = await Promise.race([this.#changed.promise.then(() => null), exited]);
          if (ended !== null && !this[which].includes(text)) {
            await this.#drained;
            if (this[which].includes(text)) return;
            throw new Error(`Exited (${ended.code}) before ${what}:\n${this.out}${this.err}`);
          }
        }
      })(),
    );
  }

  /** Stops the child and resolves to its exit status once its output is drained. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#process.kill(STOP);
    } catch {
      // Already exited.
    }
    const status = await within(STEP_MS, "the process to stop", this.#process.status);
    await this.#drained;
    return status;
  }
}

async function run(words: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = await within(
    STEP_MS,
    words.join(" "),
    new Deno.Command(words[0]!, { args: words.slice(1), stdin: "null" }).output(),
  );
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, out: text(out.stdout), err: text(out.stderr) };
}

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

/** Step 1: `burrow version`. */
async function smokeVersion(burrow: string[], version?: string, target?: string): Promise<void> {
  const { code, out, err } = await run([...burrow, "version"]);
  check(code === 0, `version exited ${code}: ${err}`);
  const m = /^burrow (\S+) \(deno (\S+), (\S+)\)\r?\n$/.exec(out);
  check(m !== null, `version printed ${JSON.stringify(out)}`);
  check(version === undefined || m[1] === version, `version is ${m[1]}, expected ${version}`);
  check(target === undefined || m[3] === target, `target is ${m[3]}, expected ${target}`);
  console.log(`smoke: version ok: ${out.trim()}`);
}

/** Step 2: `burrow check` on every sample. */
async function smokeCheck(burrow: string[], conf: string): Promise<void> {
  const files: string[] = [];
  for await (const e of Deno.readDir(conf)) {
    if (e.isFile && e.name.endsWith(".jsonc")) files.push(join(conf, e.name));
  }
  check(files.length > 0, `no *.jsonc samples in ${conf}`);
  const { code, out, err } = await run([...burrow, "check", ...files.sort()]);
  check(code === 0, `check exited ${code}:\n${out}${err}`);
  console.log(`smoke: check ok: ${files.length} samples`);
}

/** Step 3: the demo, one proxied request and one forwarded connection. */
async function smokeTunnel(burrow: string[]): Promise<void> {
  const demo = new Child([...burrow, "demo", "--port", "0"]);
  try {
    await demo.waitFor("out", "Press Ctrl-C", "the demo's banner");
    // "curl --cacert CA URL", the CA path shell-quoted when it needs to be.
    const curl = splitShellLine(printedLine(demo.out, "Or run")).slice(1);
    check(curl[0] === "--cacert" && curl.length === 3, `no curl line in:\n${demo.out}`);
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(curl[1]!)] });
    try {
      const page = await within(STEP_MS, "the proxied page", fetch(curl[2]!, { client }));
      const body = await page.text();
      check(page.status === 200, `the page answered ${page.status}`);
      check(body.includes("Burrow tunnel"), `unexpected page:\n${body}`);
    } finally {
      client.close();
    }
    console.log(`smoke: proxied request ok: ${curl[2]}`);
    await smokeForward(printedLine(demo.out, "Forward"));
  } finally {
    const status = await demo.stop();
    check(STOP === "SIGTERM" || status.code === 0, `demo exited ${status.code}:\n${demo.err}`);
  }
}

async function smokeForward(line: string): Promise<void> {
  const words = splitShellLine(line);
  const local = Number(/^(\d+):/.exec(words.at(-1) ?? "")?.[1]);
  check(Number.isInteger(local), `no local port in the Forward line: ${line}`);
  const forward = new Child(words);
  try {
    await forward.waitFor("err", "listening", "the forward to listen");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: local });
    try {
      const sent = "hello through the agent\n";
      await conn.write(new TextEncoder().encode(sent));
      let got = "";
      const buf = new Uint8Array(256);
      while (got.length < sent.length) {
        const n = await within(STEP_MS, "the echo", conn.read(buf));
        if (n === null) break;
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
      check(got === sent, `the echo answered ${JSON.stringify(got)}`);
    } finally {
      conn.close();
    }
  } finally {
    const status = await forward.stop();
    check(
      STOP === "SIGTERM" || status.code === 0,
      `forward exited ${status.code}:\n${forward.err}`,
    );
  }
  console.log(`smoke: forwarded connection ok: 127.0.0.1:${local}`);
}

/** Runs the three steps; resolves to the exit code. */
export async function smoke(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      conf: { type: "string", default: "conf" },
      version: { type: "string" },
      target: { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    console.error("Usage: smoke.ts [--conf DIR] [--version V] [--target T] -- BURROW [ARGS...]");
    return 2;
  }
  // A binary named by a relative path is run by its absolute one (Windows resolves "a/b.exe" oddly).
  const [first, ...rest] = positionals;
  const burrow = [/[\\/]/.test(first!) ? resolve(first!) : first!, ...rest];
  try {
    await smokeVersion(burrow, values.version, values.target);
    await smokeCheck(burrow, values.conf);
    await smokeTunnel(burrow);
  } catch (e) {
    console.error(`smoke: FAILED: ${(e as Error).message}`);
    return 1;
  }
  console.log("smoke: all ok");
  return 0;
}

if (import.meta.main) Deno.exit(await smoke(Deno.args));
