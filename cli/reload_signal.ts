/**
 * `systemctl reload` for the long-running roles: on SIGHUP the role re-reads
 * what it can apply while running (see `ConfigReload`) and logs what it did
 * and what waits for a restart. Windows has no SIGHUP: nothing is listened
 * to there.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type ConfigReload, listForLog } from "../shared/config/config_reload.ts";

/** What a role offers to a reload. */
export interface Reloadable {
  /** Re-reads the configuration; absent when the role has nothing to re-read. */
  reloadConfig?(): Promise<ConfigReload>;
}

/** Listening for SIGHUP; dispose to stop. */
export interface ReloadSignal extends Disposable {
  /** The role started: reloads go to it (one signalled while it started runs now). */
  attach(role: Reloadable): void;
  /** Resolves once no reload is running (wait for it before closing the role). */
  idle(): Promise<void>;
}

/**
 * Re-reads the role's configuration on each SIGHUP, one reload at a time,
 * and logs the outcome: `Reloaded on SIGHUP: changed …; rejected N; read at
 * start only (restart to apply): …`. Listens from the call on, so a SIGHUP
 * while the role starts is not the default action (the end of the process):
 * it waits for {@linkcode ReloadSignal.attach}.
 *
 * @example
 * ```ts
 * using reload = listenForReload(logging.system);
 * const handle = await startServer(config, logging);
 * reload.attach(handle);
 * await waitForShutdown();
 * await reload.idle();
 * await handle.close();
 * ```
 */
export function listenForReload(log: Logger): ReloadSignal {
  const started = Promise.withResolvers<Reloadable>();
  let running: Promise<void> = Promise.resolve();
  const handler = () => {
    running = running.then(() => started.promise).then((role) => reloadOnce(role, log));
  };
  const listening = Deno.build.os !== "windows";
  if (listening) Deno.addSignalListener("SIGHUP", handler);
  return {
    attach: (role) => started.resolve(role),
    idle: () => running,
    [Symbol.dispose]() {
      if (listening) Deno.removeSignalListener("SIGHUP", handler);
    },
  };
}

/** One reload, logged; never throws. */
async function reloadOnce(role: Reloadable, log: Logger): Promise<void> {
  if (role.reloadConfig === undefined) {
    log.warn("SIGHUP: nothing is re-read while running; restart to apply configuration changes");
    return;
  }
  log.info("Reloading configuration on SIGHUP");
  let done: ConfigReload;
  try {
    done = await role.reloadConfig();
  } catch (e) {
    log.error("Reload on SIGHUP failed, configuration unchanged: {error}", {
      error: (e as Error).message,
    });
    return;
  }
  const level = done.rejected > 0 ? "warn" : "info";
  log[level](
    "Reloaded on SIGHUP: changed {changed}; rejected {rejected}; read at start only (restart to apply): {restart}",
    {
      changed: listForLog(done.changed),
      rejected: done.rejected,
      restart: listForLog(done.restart),
    },
  );
}
