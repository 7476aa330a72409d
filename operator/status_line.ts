/**
 * The operator commands' stderr: one-line messages, and below them a status
 * line redrawn in place, but only on a terminal (a log file or a pipe gets
 * the messages alone).
 *
 * @module
 */

/** Where the lines go: `Deno.stderr` or a test's sink. */
export interface LineSink {
  /** Writes bytes synchronously. */
  writeSync(bytes: Uint8Array): number;
}

/** Options of {@linkcode StatusLine}. */
export interface StatusLineOptions {
  /** Draw the status line (a terminal). Default `Deno.stderr.isTerminal()` when `sink` is stderr. */
  live?: boolean;
  /** What the status line says, asked at every redraw. */
  render: () => string;
  /** Milliseconds between redraws. Default 1,000. */
  interval?: number;
  /** Where to write. Default `Deno.stderr`. */
  sink?: LineSink;
}

/** Erase the current line and return to its start (ANSI `EL`). */
const CLEAR = "\r\x1b[2K";

/**
 * Messages and a live status line on one stream.
 *
 * @example
 * ```ts
 * using status = new StatusLine({ render: () => stats.map((s) => s.summary()).join(" | ") });
 * status.line("forward 127.0.0.1:15432 -> db1 127.0.0.1:5432: connection refused by 127.0.0.1:5432");
 * ```
 */
export class StatusLine implements Disposable {
  readonly #sink: LineSink;
  readonly #live: boolean;
  readonly #render: () => string;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #encoder = new TextEncoder();
  #drawn = false;

  /** Starts redrawing (on a terminal). */
  constructor(options: StatusLineOptions) {
    this.#sink = options.sink ?? Deno.stderr;
    this.#live = options.live ?? (options.sink === undefined && Deno.stderr.isTerminal());
    this.#render = options.render;
    if (this.#live) {
      this.#timer = setInterval(() => this.#draw(), options.interval ?? 1000);
    }
  }

  /** True when the status line is drawn. */
  get live(): boolean {
    return this.#live;
  }

  /** Prints one message line (above the status line). */
  line(text: string): void {
    const clear = this.#drawn ? CLEAR : "";
    this.#drawn = false;
    this.#write(`${clear}${text}\n`);
    if (this.#live) this.#draw();
  }

  /** Stops redrawing and erases the status line. */
  [Symbol.dispose](): void {
    clearInterval(this.#timer);
    if (this.#drawn) this.#write(CLEAR);
    this.#drawn = false;
  }

  #draw(): void {
    let text = this.#render();
    const columns = terminalColumns();
    if (columns > 1 && text.length >= columns) text = `${text.slice(0, columns - 2)}…`;
    this.#write(`${CLEAR}${text}`);
    this.#drawn = true;
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    let at = 0;
    try {
      while (at < bytes.length) at += this.#sink.writeSync(bytes.subarray(at));
    } catch {
      // stderr closed: nothing to tell.
    }
  }
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 0;
  }
}
