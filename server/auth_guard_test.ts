import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { AuthGuard } from "./auth_guard.ts";
import { checkBasic } from "./basic_auth.ts";
import { AUTH_FAILURES } from "./config.ts";
import type { AuthFailureLimits, Credential } from "./config_types.ts";
import { parseSetting, sha512Crypt } from "../shared/auth/sha512_crypt.ts";

const DEFAULTS = Object.fromEntries(
  Object.entries(AUTH_FAILURES).map(([key, bounds]) => [key, bounds.default]),
) as unknown as AuthFailureLimits;

/** A guard with a counting crypt function, a clock and a log the test reads. */
function setup(limits: Partial<AuthFailureLimits> = {}) {
  const crypts: string[] = [];
  const warnings: string[] = [];
  const clock = { now: 1_000_000 };
  const log = {
    warn: (message: string) => void warnings.push(message),
    debug: () => {},
  } as unknown as Logger;
  const guard = new AuthGuard({ ...DEFAULTS, ...limits }, log, {
    now: () => clock.now,
    crypt: (plain, setting) => {
      crypts.push(setting);
      return sha512Crypt(plain, setting);
    },
  });
  return { guard, crypts, warnings, clock };
}

function basic(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

const BOB = sha512Crypt("bobs-password", "$6$rounds=2000$saltsalt");
const CREDENTIALS: Credential[] = [{ user: "bob", password: BOB }];

Deno.test("an unknown Basic-auth user costs one hash of the known users' rounds, like a known user", async () => {
  const { guard, crypts } = setup();
  const request = { domain: "app.test", address: "192.0.2.1" };
  const known = await checkBasic(guard, CREDENTIALS, {
    ...request,
    authorization: basic("bob", "wrong"),
  });
  assert.deepEqual(known, {
    ok: false,
    status: 401,
    reason: 'wrong secret for user "bob" of app.test',
  });
  const unknown = await checkBasic(guard, CREDENTIALS, {
    ...request,
    authorization: basic("nobody", "bobs-password"),
  });
  assert.equal(unknown.ok, false);
  assert.equal(crypts.length, 2, "one hash each");
  assert.deepEqual(crypts.map((s) => parseSetting(s).rounds), [2000, 2000]);
  assert.notEqual(crypts[1], crypts[0], "the unknown user's decoy is not bob's hash");
  // A repeated attempt is answered from the cache in both cases.
  await checkBasic(guard, CREDENTIALS, { ...request, authorization: basic("bob", "wrong") });
  await checkBasic(guard, CREDENTIALS, {
    ...request,
    authorization: basic("nobody", "bobs-password"),
  });
  assert.equal(crypts.length, 2);
  const right = await checkBasic(guard, CREDENTIALS, {
    ...request,
    authorization: basic("bob", "bobs-password"),
  });
  assert.deepEqual(right, { ok: true, user: "bob" });
});

Deno.test("a locked-out address is refused without a check, the right secret too, until the lockout ends", async () => {
  const { guard, crypts, warnings, clock } = setup({ perAddress: 3, lockout: 60_000 });
  const attempt = (presented: string, address = "192.0.2.1") =>
    guard.verify({ address, account: "agent secret of app.test", presented, stored: [BOB] });
  for (let i = 0; i < 3; i++) assert.equal((await attempt(`wrong-${i}`)).ok, false);
  assert.equal(crypts.length, 3);
  assert.deepEqual(await attempt("bobs-password"), {
    ok: false,
    reason: "address 192.0.2.1 is locked out",
    busy: false,
  });
  assert.equal(crypts.length, 3, "no hash while locked out");
  assert.equal(warnings.length, 1, "the lockout is logged once");
  assert.equal((await attempt("bobs-password", "192.0.2.2")).ok, true, "other addresses pass");
  clock.now += 60_000;
  assert.equal((await attempt("bobs-password")).ok, true, "the lockout has ended");
});

Deno.test("an account is locked out after perAccount failures from many addresses", async () => {
  const { guard } = setup({ perAddress: 100, perAccount: 5 });
  const attempt = (presented: string, address: string) =>
    guard.verify({ address, account: "agent secret of app.test", presented, stored: ["plain"] });
  for (let i = 0; i < 5; i++) await attempt("wrong", `198.51.100.${i}`);
  const verdict = await attempt("plain", "203.0.113.9");
  assert.deepEqual(verdict, {
    ok: false,
    reason: "agent secret of app.test is locked out",
    busy: false,
  });
  assert.equal(guard.remembered.accounts, 1);
});

Deno.test("IPv6 addresses of one /64 count as one address", async () => {
  const { guard } = setup({ perAddress: 2 });
  const attempt = (address: string) =>
    guard.verify({ address, account: "x", presented: "wrong", stored: ["plain"] });
  await attempt("2001:db8:1:2::a");
  await attempt("2001:db8:1:2::b");
  const verdict = await attempt("2001:db8:1:2:ffff::c");
  assert.equal(verdict.ok === false && verdict.reason, "address 2001:db8:1:2::/64 is locked out");
});

Deno.test("refusals are logged at WARN once per address and window, and at most 20 per window", () => {
  const { guard, warnings, clock } = setup({ window: 60_000 });
  for (let i = 0; i < 100; i++) guard.logRefusal("192.0.2.1", "refused", {});
  assert.equal(warnings.length, 1);
  for (let i = 0; i < 100; i++) guard.logRefusal(`198.51.100.${i}`, "refused", {});
  assert.equal(warnings.length, 20, "the server-wide budget");
  clock.now += 60_000;
  guard.logRefusal("192.0.2.1", "refused", {});
  assert.equal(warnings.length, 22, "a summary of the skipped lines, then the new window's line");
  assert.match(warnings[20]!, /more refusals were logged at debug level/);
});

Deno.test("a Basic-auth user name of any length is remembered under a bounded key", async () => {
  const { guard } = setup({ perAccount: 1 });
  const user = "u".repeat(50_000);
  const verdict = await checkBasic(guard, CREDENTIALS, {
    domain: "app.test",
    address: "192.0.2.1",
    authorization: basic(user, "x"),
  });
  assert.ok(!verdict.ok && verdict.reason.length < 200, "reason and key are cut");
  const again = await checkBasic(guard, CREDENTIALS, {
    domain: "app.test",
    address: "192.0.2.9",
    authorization: basic(user, "bobs-password"),
  });
  assert.ok(!again.ok && again.reason.endsWith("is locked out"));
});

Deno.test("an (address, account) pair that succeeded passes a lockout until it fails once", async () => {
  const { guard, crypts } = setup({ perAddress: 3, perAccount: 3 });
  const attempt = (account: string, presented: string, address = "192.0.2.1") =>
    guard.verify({ address, account, presented, stored: [BOB] });
  assert.equal((await attempt("agent secret of good.test", "bobs-password")).ok, true);
  for (let i = 0; i < 3; i++) await attempt("agent secret of bad.test", `wrong-${i}`);
  assert.equal((await attempt("agent secret of other.test", "bobs-password")).ok, false);
  assert.equal(
    (await attempt("agent secret of good.test", "bobs-password")).ok,
    true,
    "the known pair is checked despite the address lockout",
  );
  for (let i = 0; i < 3; i++) {
    await attempt("agent secret of good.test", `x-${i}`, `198.51.100.${i}`);
  }
  assert.equal(
    (await attempt("agent secret of good.test", "bobs-password")).ok,
    true,
    "and despite the account lockout",
  );
  const before = crypts.length;
  assert.equal((await attempt("agent secret of good.test", "guess")).ok, false);
  assert.equal((await attempt("agent secret of good.test", "bobs-password")).ok, false);
  assert.equal(
    crypts.length,
    before + 1,
    "after its failure the pair is locked out like any other",
  );
});

Deno.test("the guard's tables stay at tableSize under 20k distinct addresses and users", async () => {
  const { guard } = setup({ tableSize: 100 });
  for (let i = 0; i < 20_000; i++) {
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    await guard.verify({ address, account: `user ${i}`, presented: "x", stored: ["plain"] });
    guard.logRefusal(address, "refused", {});
  }
  assert.deepEqual(guard.remembered, { addresses: 100, accounts: 100 });
});

Deno.test("verifyWith() counts a check that fails, and during a lockout refuses without checking", async () => {
  const { guard, clock } = setup({ perAddress: 2, perAccount: 0 });
  let checks = 0;
  const check = (ok: boolean) => () => {
    checks++;
    return Promise.resolve(ok);
  };
  const attempt = { address: "192.0.2.1", account: "operator token #1" };
  for (let i = 0; i < 2; i++) {
    assert.equal((await guard.verifyWith(attempt, check(false))).ok, false);
  }
  const before = checks;
  assert.deepEqual(await guard.verifyWith(attempt, check(true)), {
    ok: false,
    reason: "address 192.0.2.1 is locked out",
    busy: false,
  });
  assert.equal(checks, before, "no check during the lockout");
  clock.now += DEFAULTS.lockout;
  assert.deepEqual(await guard.verifyWith(attempt, check(true)), { ok: true }, "after the lockout");
  guard.close();
});
