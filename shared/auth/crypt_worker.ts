/**
 * The body of a {@link CryptPool} worker: computes SHA-512 crypt hashes off
 * the main thread. Each message is one job; each answer carries its id.
 *
 * @module
 */

import { sha512Crypt } from "./sha512_crypt.ts";

/** A job sent to the worker. */
export interface CryptJob {
  /** Matches the answer to the job. */
  id: number;
  /** Presented password. */
  plain: string;
  /** `$6$` setting or stored hash. */
  setting: string;
}

/** The worker's answer: the hash, or why it could not be computed. */
export type CryptAnswer =
  | { id: number; hash: string }
  | { id: number; error: string };

/** The worker's global scope, as far as it is used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<CryptJob>) => void) | null;
  postMessage(answer: CryptAnswer): void;
}

const scope = self as unknown as WorkerScope;

scope.onmessage = ({ data: { id, plain, setting } }) => {
  try {
    scope.postMessage({ id, hash: sha512Crypt(plain, setting) });
  } catch (e) {
    scope.postMessage({ id, error: (e as Error).message });
  }
};
