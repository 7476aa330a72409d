/**
 * The agent's identity on one session: an Identify stream opened right
 * after the session is up and held while the identity lasts
 * (`docs/protocol.md`, "Identify streams"). A refusal, or a `revoked`
 * notice, is retried with backoff; a `replaced` notice (another connection
 * took the name) is reported to the caller, which should then stay away
 * for its longest backoff so two machines with one name do not fight. The
 * agent ends the identity with FIN ({@linkcode IdentityClaim.stop}).
 *
 * The piece the agent's connection will run next to its domain
 * registrations; nothing runs it yet.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { Backoff, sleep } from "../shared/time/backoff.ts";
import type { AgentIdentityConfig } from "./config_types.ts";
import { readIdentitySecret } from "./identity_config.ts";
import type { AgentIdentity } from "./registration.ts";
import { identifyMessage, type IdentityEnd, readIdentityEnd } from "../shared/identify.ts";
import { MuxError, type Session } from "../shared/mux/mod.ts";
import { type OpenedStream, OpenError, openStream } from "../shared/open/mod.ts";

/** What an {@linkcode IdentityClaim} needs from its connection. */
export interface IdentityClaimOptions {
  /** The agent process, sent with the request (its `os` is added). */
  agent: AgentIdentity;
  /** Logger of the connection's scope. */
  log: Logger;
  /** Backoff of retries, in ms: first ceiling, largest ceiling, and how long a hold resets it. */
  backoff: { min: number; max: number; reset: number };
  /** Told when a newer connection took the name (the server closes this session next). */
  onReplaced?: (end: IdentityEnd) => void;
  /** Told each time the server accepts the identity (for status). */
  onIdentified?: () => void;
}

/**
 * The identity of the agent on a connection.
 *
 * @example
 * ```ts
 * const claim = new IdentityClaim(config.identity!, { agent, log, backoff, onReplaced });
 * const held = claim.run(session, sessionDown.signal); // until the session ends
 * claim.stop(); // FIN: the server forgets the identity
 * await held;
 * ```
 */
export class IdentityClaim {
  /** The identity config in force. */
  readonly identity: AgentIdentityConfig;
  /** True while the server holds the identity. */
  identified = false;
  /** The last refusal, notice or failure; null once identified. */
  lastError: string | null = null;

  readonly #options: IdentityClaimOptions;
  readonly #stop = new AbortController();
  #stream: OpenedStream | null = null;

  /** A claim of `identity`, not yet running. */
  constructor(identity: AgentIdentityConfig, options: IdentityClaimOptions) {
    this.identity = identity;
    this.#options = options;
  }

  /**
   * Identifies on `session` and holds the identity until `down` aborts, the
   * session closes, the server replaces it, or {@linkcode stop} is called.
   * Resolves with the server's last end notice, if any.
   */
  async run(session: Session, down: AbortSignal): Promise<IdentityEnd | null> {
    const signal = AbortSignal.any([this.#stop.signal, down]);
    const { min, max, reset } = this.#options.backoff;
    const backoff = new Backoff({ min, max });
    let end: IdentityEnd | null = null;
    while (!signal.aborted) {
      let stream: OpenedStream;
      try {
        const secret = await readIdentitySecret(this.identity);
        const agent = { ...this.#options.agent, os: Deno.build.os };
        stream = await openStream(
          session,
          identifyMessage({ name: this.identity.name, secret, agent }),
        );
      } catch (e) {
        if (signal.aborted || session.isClosed || (e instanceof MuxError && e.code === "go-away")) {
          break;
        }
        if (!await this.#retry(backoff, `identity refused: ${describe(e)}`, signal)) break;
        continue;
      }
      this.#held(stream);
      if (signal.aborted) finish(stream);
      const since = performance.now();
      end = await readIdentityEnd(stream.readable).catch(() => null);
      finish(stream); // the server has ended it: our FIN closes the stream
      this.#stream = null;
      this.identified = false;
      if (end?.code === "replaced") {
        this.lastError = `identity replaced: ${end.message}`;
        this.#options.log.error("Identity {name} {error}", {
          name: this.identity.name,
          error: end.message,
        });
        this.#options.onReplaced?.(end);
        break;
      }
      if (signal.aborted || session.isClosed || end === null) break;
      if (performance.now() - since >= reset) backoff.reset();
      if (!await this.#retry(backoff, `identity revoked: ${end.message}`, signal)) break;
    }
    this.identified = false;
    return end;
  }

  /** Ends the identity: FIN on its Identify stream, no more retries. Idempotent. */
  stop(): void {
    this.#stop.abort();
    if (this.#stream !== null) finish(this.#stream);
  }

  #held(stream: OpenedStream): void {
    this.#stream = stream;
    this.identified = true;
    this.lastError = null;
    this.#options.log.info("Identified as {name}", { name: this.identity.name });
    this.#options.onIdentified?.();
  }

  /** Records and logs `error` (warning the first time, debug while it repeats); sleeps a backoff. */
  async #retry(backoff: Backoff, error: string, signal: AbortSignal): Promise<boolean> {
    const delay = backoff.next();
    const repeated = this.lastError === error;
    this.lastError = error;
    const fields = { name: this.identity.name, error, delay };
    if (repeated) {
      this.#options.log.debug("Identity {name}: {error}; retrying in {delay} ms", fields);
    } else this.#options.log.warn("Identity {name}: {error}; retrying in {delay} ms", fields);
    return await sleep(delay, signal);
  }
}

/** Ends the identity from the agent's side: FIN on the Identify stream. */
function finish(stream: OpenedStream): void {
  stream.writable.close().catch(() => {});
}

function describe(e: unknown): string {
  if (e instanceof OpenError && e.code === "refused" && e.remoteCode === "unknown-kind") {
    return "this server does not accept agent identities (it is older than the Identify stream)";
  }
  if (e instanceof OpenError && e.code === "refused") return e.message;
  return e instanceof Error ? e.message : String(e);
}
