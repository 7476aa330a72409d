/**
 * Which connection holds each agent identity. The rule for two agents with
 * one name: the newer wins. {@link IdentityRegistry.claim} hands back the
 * connection it displaced, for the caller to tell GoAway, log and close;
 * {@link IdentityRegistry.release} from that older connection, when it
 * finally goes, leaves the newer one in place.
 *
 * Generic over what a connection is (the server's agent session), so it
 * holds no I/O and is tested with plain objects.
 *
 * @module
 */

/** The outcome of {@link IdentityRegistry.claim}. */
export interface Claim<S> {
  /** The connection that held the name until now, to be told GoAway and closed; undefined if none. */
  displaced: S | undefined;
}

/**
 * Agent name → the connection holding it.
 *
 * @example
 * ```ts
 * import { IdentityRegistry } from "./identity_registry.ts";
 * const registry = new IdentityRegistry<{ id: number }>();
 * const first = { id: 1 }, second = { id: 2 };
 * registry.claim("db1", first); // { displaced: undefined }
 * registry.claim("db1", second); // { displaced: first }: GoAway to it
 * registry.release("db1", first); // false: second keeps the name
 * registry.holder("db1"); // second
 * ```
 */
export class IdentityRegistry<S> {
  readonly #holders = new Map<string, S>();

  /** Number of names held. */
  get size(): number {
    return this.#holders.size;
  }

  /** The connection holding `name`, if any. */
  holder(name: string): S | undefined {
    return this.#holders.get(name);
  }

  /** Names held, with their connections. */
  entries(): IterableIterator<[string, S]> {
    return this.#holders.entries();
  }

  /**
   * Gives `name` to `session`. Returns the connection that held it (now
   * displaced), or undefined when none did or `session` already held it.
   */
  claim(name: string, session: S): Claim<S> {
    const before = this.#holders.get(name);
    this.#holders.set(name, session);
    return { displaced: before === session ? undefined : before };
  }

  /**
   * Frees `name` if `session` holds it (its connection ended or its
   * identity was revoked); resolves whether it did. A displaced connection
   * releasing late changes nothing.
   */
  release(name: string, session: S): boolean {
    if (this.#holders.get(name) !== session) return false;
    this.#holders.delete(name);
    return true;
  }

  /** Frees every name `session` holds (its connection ended); returns them. */
  releaseAll(session: S): string[] {
    const names: string[] = [];
    for (const [name, holder] of this.#holders) {
      if (holder === session) names.push(name);
    }
    for (const name of names) this.#holders.delete(name);
    return names;
  }
}
