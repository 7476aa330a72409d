/**
 * Helper processes of the HTTP bench: started with `deno run -A`, ready once
 * they print a JSON line on stdout, stopped with SIGTERM (then SIGKILL), and
 * summarised by how they ended and what they wrote to stderr.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** How a helper process ended. */
export interface Exit {
  /** Everything it wrote to stderr. */
  stderr: string;
  /** Its exit code (128 + signal number when a signal ended it). */
  code: number;
  /** Whether it outlived SIGTERM by 5 s and was sent SIGKILL. */
  killed: boolean;
}

/** A helper process of the bench, started and ready. */
export interface Child {
  /** The JSON object it printed on its first stdout line. */
  ready: Record<string, unknown>;
  /** Its process id, for reading its CPU time. */
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<Exit>;
}

/** What to start. */
export interface ChildOptions {
  script: URL;
  /** Deno flags after `run -A` (`--inspect=…`, `--cpu-prof`). */
  flags?: string[];
  /** Arguments after the script. */
  args?: string[];
  env: Record<string, string>;
}

const READY_MS = 20_000;

async function collect(readable: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const s of readable.pipeThrough(new TextDecoderStream())) text += s;
  return text;
}

/**
 * Starts `deno run -A script ...args` and waits for its first stdout line (JSON).
 *
 * @example
 * ```ts
 * const child = await startChild("backend", { script: new URL("../http_backend.ts", import.meta.url), env: {} });
 * console.log(child.ready.port);
 * await child.stop();
 * ```
 */
export async function startChild(name: string, opts: ChildOptions): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...(opts.flags ?? []), fileURLToPath(opts.script), ...(opts.args ?? [])],
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collect(process.stderr);
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async (): Promise<Exit> => {
    try {
      process.kill("SIGTERM");
    } catch { /* already gone */ }
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5000);
    const { code } = await process.status;
    clearTimeout(timer);
    await lines.cancel().catch(() => {});
    return { stderr: await stderr, code, killed };
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name} not ready within ${READY_MS} ms`)),
        READY_MS,
      );
    });
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await Promise.race([lines.read(), timeout]);
      if (done) throw new Error(`${name} exited before it was ready`);
      text += value;
    }
    return { ready: JSON.parse(text.slice(0, text.indexOf("\n"))), pid: process.pid, stop };
  } catch (e) {
    const { stderr } = await stop();
    throw new Error(`${(e as Error).message}; its stderr:\n${stderr}`);
  } finally {
    clearTimeout(timer);
  }
}

/** How a child ended, and the distinct lines of its stderr (numbers folded to N) with counts. */
export function summarize(name: string, exit: Exit): string[] {
  const notes: string[] = [];
  if (exit.killed) notes.push(`${name} did not exit within 5 s of SIGTERM: killed`);
  else if (exit.code !== 0) notes.push(`${name} exited with code ${exit.code}`);
  const counts = new Map<string, number>();
  for (const line of exit.stderr.split("\n")) {
    if (line.trim() === "" || /^[\s}]/.test(line)) continue; // stack frames, object bodies
    const key = line.replace(/\d+/g, "N");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...notes, ...[...counts].map(([line, n]) => `${name} stderr, ${n}x: ${line}`)];
}

/**
 * Helper processes, started in order and stopped in reverse when disposed;
 * how each ended and what it wrote to stderr go to `notes`.
 *
 * @example
 * ```ts
 * const notes: string[] = [];
 * {
 *   await using procs = new Processes(notes);
 *   const ready = await procs.start("backend", { script: new URL("../http_backend.ts", import.meta.url), env: {} });
 * }
 * console.log(notes);
 * ```
 */
export class Processes implements AsyncDisposable {
  #running: [string, Child][] = [];
  #notes: string[];

  /** Collects how each process ended into `notes`. */
  constructor(notes: string[]) {
    this.#notes = notes;
  }

  /** Starts one and resolves with its ready line. */
  async start(name: string, opts: ChildOptions): Promise<Record<string, unknown>> {
    const child = await startChild(name, opts);
    this.#running.push([name, child]);
    return child.ready;
  }

  /** Name and pid of each running one. */
  pids(): [string, number][] {
    return this.#running.map(([name, child]) => [name, child.pid]);
  }

  /** Stops them all, last started first. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (let entry = this.#running.pop(); entry; entry = this.#running.pop()) {
      this.#notes.push(...summarize(entry[0], await entry[1].stop()));
    }
  }
}
