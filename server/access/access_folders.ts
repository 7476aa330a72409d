/**
 * The server's `agents.d` and `operators.d` folders in memory: the shared
 * domain-folder loader (`shared/config/domain_loader.ts`) with the agent and
 * operator file parsers, so they follow the domains folder's rules (which
 * files count; a missing named folder or an invalid file refuses the start;
 * while running, a bad file is rejected with a log line and its previous
 * version stays; a removed file is gone at once).
 *
 * A folder whose key (`agentFiles`, `operatorFiles`) is absent from the main file
 * is simply empty: every agent identity, or every operator token, is
 * refused.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { verifySecret } from "../../shared/auth/secret.ts";
import { type SlowVerify, TokenTable } from "../../shared/auth/token.ts";
import { type DomainChange, DomainLoader } from "../../shared/config/domain_loader.ts";
import type { ServerConfig } from "../config_types.ts";
import { parseAgentFile } from "./agent_file.ts";
import { parseOperatorFile } from "./operator_file.ts";
import type { AgentFile, OperatorFile } from "./types.ts";

/** What changed in either folder. */
export type AccessChange =
  | { folder: "agents"; change: DomainChange<AgentFile> }
  | { folder: "operators"; change: DomainChange<OperatorFile> };

/** Options of {@linkcode AccessFolders}. */
export interface AccessFoldersOptions {
  /** System log. */
  log: Logger;
  /** Verifier of `$6$` operator tokens. Default the shared `verifySecret`. */
  verifySlow?: SlowVerify;
  /** Quiet time before a burst of file changes is applied, in ms. Default 100. */
  debounceMs?: number;
}

/**
 * Agent identities and operators, by name, kept up to date.
 *
 * @example
 * ```ts
 * import { AccessFolders } from "./access_folders.ts";
 * const access = new AccessFolders(config, { log });
 * await access.load(); // throws a ConfigError for a missing folder or a bad file
 * access.watch((change) => log.info("{folder} changed", change));
 * const alice = await access.operatorByToken("burrow_…");
 * await access.close();
 * ```
 */
export class AccessFolders {
  readonly #agents: DomainLoader<AgentFile> | null;
  readonly #operators: DomainLoader<OperatorFile> | null;
  readonly #verifySlow: SlowVerify;
  readonly #debounceMs: number;
  #tokens: TokenTable<OperatorFile>;

  /** Loaders for the folders `config` names (none yet read). */
  constructor(
    config: Pick<ServerConfig, "file" | "agentFiles" | "operatorFiles">,
    options: AccessFoldersOptions,
  ) {
    const common = { log: options.log, mainFile: config.file };
    this.#agents = config.agentFiles === null ? null : new DomainLoader(config.agentFiles, {
      ...common,
      parse: parseAgentFile,
      noun: "agent",
      key: "agentFiles",
    });
    this.#operators = config.operatorFiles === null
      ? null
      : new DomainLoader(config.operatorFiles, {
        ...common,
        parse: parseOperatorFile,
        noun: "operator",
        key: "operatorFiles",
      });
    this.#verifySlow = options.verifySlow ?? verifySecret;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#tokens = this.#tokenTable();
  }

  /** The agent file for `name` (lower case), if any. */
  agent(name: string): AgentFile | undefined {
    return this.#agents?.get(name);
  }

  /** The operator file for `name` (lower case), if any. */
  operator(name: string): OperatorFile | undefined {
    return this.#operators?.get(name);
  }

  /** Every agent file in force, sorted by file. */
  get agents(): AgentFile[] {
    return this.#agents?.domains ?? [];
  }

  /** Every operator file in force, sorted by file. */
  get operators(): OperatorFile[] {
    return this.#operators?.domains ?? [];
  }

  /** Files rejected while watching, in both folders (each was logged). */
  get rejected(): number {
    return (this.#agents?.rejected ?? 0) + (this.#operators?.rejected ?? 0);
  }

  /** The operator whose token hash matches `token` (see `shared/auth/token.ts`). */
  async operatorByToken(token: string): Promise<OperatorFile | undefined> {
    return await this.#tokens.find(token);
  }

  /**
   * Reads both folders.
   *
   * @throws {ConfigError} when a named folder is missing, or for an invalid
   * file: the server must not start with it.
   */
  async load(): Promise<void> {
    await this.#agents?.load();
    await this.#operators?.load();
    this.#tokens = this.#tokenTable();
  }

  /** Watches both folders; `onChange` after each file added, changed or removed. */
  watch(onChange: (change: AccessChange) => void = () => {}): void {
    const options = { debounceMs: this.#debounceMs };
    this.#agents?.watch((changes) => {
      for (const change of changes) onChange({ folder: "agents", change });
    }, options);
    this.#operators?.watch((changes) => {
      this.#tokens = this.#tokenTable();
      for (const change of changes) onChange({ folder: "operators", change });
    }, options);
  }

  /**
   * Re-reads both folders now (SIGHUP); changes reach the `watch` callback as
   * the watcher's do. Resolves to the names changed (`agent db1`,
   * `operator alice`) and the number of files rejected.
   */
  async rescan(): Promise<{ changed: string[]; rejected: number }> {
    const changed: string[] = [];
    let rejected = 0;
    for (
      const [noun, loader] of [["agent", this.#agents], ["operator", this.#operators]] as const
    ) {
      if (loader === null) continue;
      const r = await loader.rescan();
      changed.push(...r.changes.map((c) => `${noun} ${c.name}`));
      rejected += r.rejected;
    }
    return { changed, rejected };
  }

  /** Stops watching. */
  async close(): Promise<void> {
    await this.#agents?.close();
    await this.#operators?.close();
  }

  #tokenTable(): TokenTable<OperatorFile> {
    const entries = this.operators.map((owner) => ({ owner, stored: owner.token }));
    return new TokenTable(entries, { verifySlow: this.#verifySlow });
  }
}
