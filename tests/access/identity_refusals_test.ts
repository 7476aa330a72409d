/**
 * Identify refusals through the server's own wiring (`AgentIdentities` over
 * real `agents.d` files and the `AuthGuard`, on in-memory mux sessions):
 * every refusal gives the agent one answer and costs one secret check, an
 * address outside the name's `networks` included, so neither the answer nor
 * the time tells a prober which names exist or have networks; and the
 * guard's limits bound what a loop of such claims costs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { AccessFolders } from "../../server/access/access_folders.ts";
import { IDENTITY_REFUSED } from "../../server/access/identify_service.ts";
import { AgentIdentities } from "../../server/agent_identities.ts";
import { AuthGuard } from "../../server/auth_guard.ts";
import { AUTH_FAILURES } from "../../server/config.ts";
import type { AuthFailureLimits } from "../../server/config_types.ts";
import { identifyMessage } from "../../shared/identify.ts";
import { Session } from "../../shared/mux/mod.ts";
import { OpenError, openStream, serveStream, StreamKind } from "../../shared/open/mod.ts";
import { parseSetting, sha512Crypt } from "../../shared/auth/sha512_crypt.ts";
import { memoryPair } from "../../shared/transport/memory.ts";

const log = getLogger(["burrow-test", "identity-refusals"]);
const LIMITS = Object.fromEntries(
  Object.entries(AUTH_FAILURES).map(([key, bounds]) => [key, bounds.default]),
) as unknown as AuthFailureLimits;
/** db1's stored secret: 1000 rounds, the fewest, to keep the test fast. */
const DB1_HASH = sha512Crypt("db1-secret", "$6$rounds=1000$db1salt");
const INSIDE = "198.51.100.7";
const OUTSIDE = "203.0.113.1";

/** The server side of identities, with a guard whose `$6$` checks are counted. */
async function withIdentities(
  body: (w: {
    identities: AgentIdentities;
    guard: AuthGuard;
    crypts: string[];
    link: (address: string) => Promise<Session>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-identity-" });
  await Deno.mkdir(join(dir, "agents.d"));
  await Deno.writeTextFile(
    join(dir, "agents.d", "db1.jsonc"),
    JSON.stringify({ secret: DB1_HASH, networks: ["198.51.100.0/24"] }),
  );
  const access = new AccessFolders({
    file: join(dir, "server.jsonc"),
    agentFiles: join(dir, "agents.d"),
    operatorFiles: null,
  }, { log });
  await access.load();
  const crypts: string[] = [];
  const guard = new AuthGuard(LIMITS, log, {
    crypt: (plain, setting) => {
      crypts.push(setting);
      return sha512Crypt(plain, setting);
    },
  });
  const identities = new AgentIdentities({
    access,
    auth: guard,
    audit: null,
    log,
    onIdentified: () => {},
    holdTime: 0,
  });
  const closers: (() => Promise<void>)[] = [];
  const link = (address: string): Promise<Session> => {
    const [a, b] = memoryPair();
    const client = new Session(a, { client: true });
    const server = new Session(b, { client: false });
    const handlers = new Map([[StreamKind.Identify, identities.handler(server, address)]]);
    const serving = (async () => {
      const tasks: Promise<void>[] = [];
      for (let s = await server.accept(); s !== null; s = await server.accept()) {
        tasks.push(serveStream(s, handlers));
      }
      await Promise.all(tasks);
    })();
    closers.push(async () => {
      await client.close();
      await server.close();
      await serving;
    });
    return Promise.resolve(client);
  };
  try {
    await body({ identities, guard, crypts, link });
  } finally {
    for (const close of closers) await close();
    identities.close();
    guard.close();
    await access.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the agent reads of a refused Identify: the error's code and message. */
async function refusal(client: Session, name: string, secret: string): Promise<string> {
  const agent = { id: "a1", version: "0.1.0", host: name, os: "linux" };
  try {
    const opened = await openStream(client, identifyMessage({ name, secret, agent }));
    opened.stream.reset();
    return "accepted";
  } catch (e) {
    if (!(e instanceof OpenError)) throw e;
    return `${e.remoteCode}: ${e.message}`;
  }
}

Deno.test("an Identify from outside the name's networks costs one secret check and gets the wrong-secret answer", async () => {
  await withIdentities(async ({ crypts, link }) => {
    const wrong = await refusal(await link(INSIDE), "db1", "not-the-secret");
    assert.deepEqual(crypts.map((s) => s === DB1_HASH), [true], "a wrong secret: the real hash");
    assert.match(wrong, new RegExp(`^${IDENTITY_REFUSED.code}: .*${IDENTITY_REFUSED.message}`));

    crypts.length = 0;
    // The right secret, from outside db1's networks: refused all the same.
    const outside = await refusal(await link(OUTSIDE), "db1", "db1-secret");
    assert.equal(
      outside,
      wrong,
      "the agent cannot tell 'outside the networks' from a wrong secret",
    );
    assert.equal(crypts.length, 1, "one SHA-512 crypt, as for a wrong secret");
    assert.notEqual(crypts[0], DB1_HASH, "against a decoy, not the real hash");
    assert.equal(parseSetting(crypts[0]!).rounds, 1000, "a decoy of the real hash's rounds");

    crypts.length = 0;
    const unknown = await refusal(await link(OUTSIDE), "ghost", "x");
    assert.equal(unknown, wrong);
    assert.equal(crypts.length, 1, "an unknown name: one crypt too");

    assert.equal(await refusal(await link(INSIDE), "db1", "db1-secret"), "accepted");
  });
});

Deno.test("10,000 Identify claims from outside the name's networks cost perAddress secret checks", async () => {
  await withIdentities(async ({ guard, crypts, link }) => {
    const client = await link(OUTSIDE);
    const answers = new Set<string>();
    for (let i = 0; i < 10_000; i++) answers.add(await refusal(client, "db1", `guess-${i}`));
    assert.equal(answers.size, 1, "one answer throughout, before and during the lockout");
    // perAddress (10 by default) checks, then the address is locked out: refused unchecked.
    assert.equal(crypts.length, LIMITS.perAddress);
    assert.deepEqual(guard.remembered, { addresses: 1, accounts: 1 });
    // The lockout stops claims from that address for every name, db1's right secret included.
    assert.equal(await refusal(client, "db1", "db1-secret"), [...answers][0]);
    assert.equal(crypts.length, LIMITS.perAddress);
  });
});
