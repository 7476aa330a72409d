/**
 * The server's authentication checks, for agent secrets and Basic auth
 * alike: `$6$` hashes verified in a worker pool (never on the event loop),
 * recent results cached, and failures limited per source address and per
 * account, with lockouts that refuse without checking anything (stealth: a
 * correct secret is refused too until the lockout ends), except for an
 * (address, account) pair that succeeded within the last day. Log lines are
 * bounded: a lockout is logged when it starts, and refusals from an address
 * once per window.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Logger } from "@logtape/logtape";
import { CryptPool, CryptPoolError } from "../shared/auth/crypt_pool.ts";
import { FailureLimiter } from "../shared/auth/failure_limiter.ts";
import { KnownPairs } from "../shared/auth/known_pairs.ts";
import { type CryptFunction, SecretVerifier } from "../shared/auth/secret.ts";
import { addressBlock } from "../shared/net/cidr.ts";
import type { AuthFailureLimits } from "./config_types.ts";

/** Most refusals logged at WARN per window across all addresses; then one summary line. */
const LOG_BUDGET = 20;

/** How long a success lets its (address, account) pair through lockouts: a day. */
const KNOWN_PAIR_TTL = 24 * 60 * 60 * 1000;

/** Longest account name kept as it is; longer ones are cut and tagged with a digest. */
const MAX_ACCOUNT_LENGTH = 160;

/**
 * An account name bounded in length (names come from clients: a Basic-auth
 * user may be kilobytes long, and the tables keep thousands of names).
 */
function accountKey(account: string): string {
  if (account.length <= MAX_ACCOUNT_LENGTH) return account;
  const digest = createHash("sha256").update(account).digest("hex").slice(0, 16);
  return `${account.slice(0, MAX_ACCOUNT_LENGTH - 20)}…#${digest}`;
}

/** One authentication attempt. */
export interface AuthAttempt {
  /** Source address (an IPv6 address counts as its /64). */
  address: string;
  /** What is being authenticated, for limits and logs: `agent app.test`, `user "bob" of app.test`. */
  account: string;
  /** The secret presented. */
  presented: string;
  /** Stored values (plain or `$6$`) to check, all of them (timing must not say which matched). */
  stored: string[];
  /** The stored values are decoys (an unknown user): checked for their cost, never a match. */
  decoy?: boolean;
}

/** The outcome of {@link AuthGuard.verify}. */
export type AuthVerdict =
  | { ok: true }
  | { ok: false; reason: string; busy: boolean };

/** Options of {@link AuthGuard}. */
export interface AuthGuardOptions {
  /** The `$6$` function; default a {@link CryptPool} the guard owns. Tests pass a counting one. */
  crypt?: CryptFunction;
  /** Clock for the limiters, for tests. */
  now?: () => number;
}

/**
 * Authentication for the whole server: one per server, closed with it.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { AuthGuard } from "./auth_guard.ts";
 * import { AUTH_FAILURES } from "./config.ts";
 * const limits = Object.fromEntries(
 *   Object.entries(AUTH_FAILURES).map(([k, v]) => [k, v.default]),
 * ) as unknown as import("./config_types.ts").AuthFailureLimits;
 * const guard = new AuthGuard(limits, getLogger("burrow"));
 * await guard.verify({ address: "192.0.2.7", account: "agent app.test", presented: "s3cret", stored: ["s3cret"] });
 * // { ok: true }
 * guard.close();
 * ```
 */
export class AuthGuard {
  readonly #log: Logger;
  readonly #pool: CryptPool | null;
  readonly #verifier: SecretVerifier;
  readonly #addresses: FailureLimiter;
  readonly #accounts: FailureLimiter;
  /** Refusals per address, for logging only: never locks out. */
  readonly #refusals: FailureLimiter;
  /** (address, account) pairs that succeeded within {@link KNOWN_PAIR_TTL}. */
  readonly #known: KnownPairs;
  readonly #window: number;
  readonly #now: () => number;
  #budgetStart = -Infinity;
  #budgetUsed = 0;
  #budgetSkipped = 0;

  /** A guard with empty tables; workers start on the first `$6$` check. */
  constructor(limits: AuthFailureLimits, log: Logger, options: AuthGuardOptions = {}) {
    this.#log = log;
    this.#now = options.now ?? Date.now;
    this.#window = limits.window;
    this.#pool = options.crypt === undefined
      ? new CryptPool({
        onFallback: (reason) =>
          log.error(
            "Hash workers cannot start ({reason}): $6$ checks now run on the event loop, " +
              "where wrong passwords slow every domain down",
            { reason },
          ),
      })
      : null;
    const pool = this.#pool;
    this.#verifier = new SecretVerifier({
      crypt: options.crypt ?? ((plain, setting) => pool!.crypt(plain, setting)),
    });
    const common = {
      window: limits.window,
      lockout: limits.lockout,
      maxLockout: limits.maxLockout,
      capacity: limits.tableSize,
      now: this.#now,
    };
    this.#addresses = new FailureLimiter({ ...common, max: limits.perAddress });
    this.#accounts = new FailureLimiter({ ...common, max: limits.perAccount });
    this.#refusals = new FailureLimiter({ ...common, max: 0 });
    this.#known = new KnownPairs({
      capacity: limits.tableSize,
      ttl: KNOWN_PAIR_TTL,
      now: this.#now,
    });
  }

  /** Addresses and accounts remembered (each table is bounded by `tableSize`). */
  get remembered(): { addresses: number; accounts: number } {
    return { addresses: this.#addresses.size, accounts: this.#accounts.size };
  }

  /**
   * Checks an attempt. Refused without any check while its address or its
   * account is locked out; "busy" (not counted as a failure) when the hash
   * workers' queue is full.
   */
  verify(attempt: AuthAttempt): Promise<AuthVerdict> {
    return this.verifyWith(attempt, async () => {
      let ok = false;
      for (const stored of attempt.stored) {
        if (await this.#verifier.verify(attempt.presented, stored)) ok = true;
      }
      return ok && attempt.decoy !== true;
    });
  }

  /**
   * Checks an attempt whose secret `check` verifies itself (an operator
   * token, looked up among every stored hash): the same lockouts, counts
   * and known pairs as {@linkcode verify}, and `check` is not called at all
   * while the address or the account is locked out.
   *
   * @example
   * ```ts ignore
   * const verdict = await guard.verifyWith(
   *   { address: "192.0.2.7", account: "operator token #1a2b3c4d" },
   *   async () => (await access.operatorByToken(token)) !== undefined,
   * );
   * ```
   */
  async verifyWith(
    attempt: Pick<AuthAttempt, "address" | "account">,
    check: () => Promise<boolean>,
  ): Promise<AuthVerdict> {
    const address = addressBlock(attempt.address);
    const account = accountKey(attempt.account);
    // A pair that succeeded recently is checked even during a lockout; a failure forgets it.
    const known = this.#known.has(address, account);
    const locked = known
      ? null
      : this.#addresses.locked(address) !== null
      ? `address ${address} is locked out`
      : this.#accounts.locked(account) !== null
      ? `${account} is locked out`
      : null;
    if (locked !== null) return { ok: false, reason: locked, busy: false };
    let ok: boolean;
    try {
      ok = await check();
    } catch (e) {
      // Busy, closed (the server stops) or a worker that died: not the client's failure.
      if (!(e instanceof CryptPoolError)) throw e;
      return { ok: false, reason: `authentication ${e.code}: ${e.message}`, busy: true };
    }
    if (ok) {
      this.#known.add(address, account);
      return { ok: true };
    }
    this.#known.delete(address, account);
    this.#failed(address, account);
    return { ok: false, reason: `wrong secret for ${account}`, busy: false };
  }

  /**
   * Logs a refusal of `address` at WARN when it is the first in its window
   * (and the server-wide budget of {@link LOG_BUDGET} lines per window
   * allows), at DEBUG otherwise.
   */
  logRefusal(address: string, message: string, properties: Record<string, unknown>): void {
    if (this.#refusals.fail(addressBlock(address)).first && this.#spend()) {
      this.#log.warn(`${message} (more from this address within {window} s: debug level)`, {
        ...properties,
        window: this.#window / 1000,
      });
    } else this.#log.debug(message, properties);
  }

  /** Terminates the hash workers. */
  close(): void {
    this.#pool?.close();
  }

  #failed(address: string, account: string): void {
    const byAddress = this.#addresses.fail(address);
    const byAccount = this.#accounts.fail(account);
    for (
      const [who, outcome] of [[`address ${address}`, byAddress], [account, byAccount]] as const
    ) {
      if (outcome.lockout === 0) continue;
      this.#log.warn(
        "Authentication: {who} locked out for {seconds} s after too many failures " +
          "(last: {account} from {address}); attempts are refused unchecked until then",
        { who, seconds: outcome.lockout / 1000, account, address },
      );
    }
  }

  /** Takes one line from this window's log budget; false when spent. */
  #spend(): boolean {
    const now = this.#now();
    if (now - this.#budgetStart >= this.#window) {
      if (this.#budgetSkipped > 0) {
        this.#log.warn("{count} more refusals were logged at debug level only", {
          count: this.#budgetSkipped,
        });
      }
      this.#budgetStart = now;
      this.#budgetUsed = 0;
      this.#budgetSkipped = 0;
    }
    if (this.#budgetUsed < LOG_BUDGET) {
      this.#budgetUsed++;
      return true;
    }
    this.#budgetSkipped++;
    return false;
  }
}
