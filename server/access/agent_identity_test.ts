import assert from "node:assert/strict";
import { hashSecret, verifySecret } from "../../shared/auth/secret.ts";
import { parseSetting, sha512Crypt } from "../../shared/auth/sha512_crypt.ts";
import {
  checkAgentIdentity,
  type IdentityCheck,
  type IdentityClaim,
  type VerifySecret,
} from "./agent_identity.ts";
import { parseAgentFile } from "./agent_file.ts";
import type { AgentFile } from "./types.ts";

const db1 = parseAgentFile(
  "agents.d/db1.jsonc",
  JSON.stringify({ secret: hashSecret("db1-secret"), networks: ["198.51.100.0/24"] }),
);
const web = parseAgentFile("agents.d/web.jsonc", JSON.stringify({ secret: "web-plain" }));

Deno.test("checkAgentIdentity() accepts name + secret + address, refusing with a typed reason", async () => {
  const inside = "198.51.100.7";
  // file found for the name, claim, expected answer
  const cases: [AgentFile | undefined, IdentityClaim, IdentityCheck][] = [
    [db1, { name: "db1", secret: "db1-secret", address: inside }, { ok: true, agent: db1 }],
    [web, { name: "web", secret: "web-plain", address: "203.0.113.1" }, { ok: true, agent: web }],
    [
      db1,
      { name: "db1", secret: "wrong", address: inside },
      { ok: false, reason: "bad-secret", message: "agent db1 presented a wrong secret" },
    ],
    [
      web,
      { name: "web", secret: "", address: inside },
      { ok: false, reason: "bad-secret", message: "agent web presented a wrong secret" },
    ],
    [
      db1,
      { name: "db1", secret: "db1-secret", address: "203.0.113.1" },
      {
        ok: false,
        reason: "network",
        message: "agent db1 connected from 203.0.113.1, outside its networks",
      },
    ],
    [
      undefined,
      { name: "ghost", secret: "x", address: inside },
      { ok: false, reason: "unknown-agent", message: "agent ghost has no agents.d file" },
    ],
    [
      db1,
      { name: "web", secret: "db1-secret", address: inside },
      { ok: false, reason: "unknown-agent", message: "agent web has no agents.d file" },
    ],
  ];
  for (const [agent, claim, expected] of cases) {
    assert.deepEqual(await checkAgentIdentity(agent, claim), expected, JSON.stringify(claim));
  }
});

Deno.test("checkAgentIdentity() verifies a secret for every refusal: an unknown name, a wrong secret, outside the networks", async () => {
  const real = sha512Crypt("db1-secret", "$6$rounds=2000$saltsalt");
  const file = parseAgentFile(
    "agents.d/db1.jsonc",
    JSON.stringify({ secret: real, networks: ["198.51.100.0/24"] }),
  );
  const seen: { stored: string; name: string; decoy: boolean }[] = [];
  const verify: VerifySecret = (plain, stored, { claim, decoy }) => {
    seen.push({ stored, name: claim.name, decoy });
    return verifySecret(plain, stored);
  };
  const check = async (agent: AgentFile | undefined, claim: IdentityClaim) => {
    seen.length = 0;
    const answer = await checkAgentIdentity(agent, claim, verify);
    return { answer, seen: [...seen] };
  };

  const ghost = await check(undefined, { name: "ghost", secret: "x", address: "::1" });
  assert.equal(ghost.seen.length, 1, "an unknown name costs one SHA-512 crypt, like a known one");
  assert.equal(ghost.seen[0]!.decoy, true);
  assert.ok(ghost.seen[0]!.stored.startsWith("$6$"));
  const ghost2 = await check(undefined, { name: "ghost2", secret: "x", address: "::1" });
  assert.notEqual(
    ghost2.seen[0]!.stored,
    ghost.seen[0]!.stored,
    "each unknown name its own decoy: a secret tried twice is hashed twice, as for known names",
  );

  const wrong = await check(file, { name: "db1", secret: "x", address: "198.51.100.2" });
  assert.deepEqual(wrong.seen, [{ stored: real, name: "db1", decoy: false }]);

  // Outside the networks, with the right secret: one check of the same cost, refused.
  const outside = await check(file, { name: "db1", secret: "db1-secret", address: "203.0.113.1" });
  assert.deepEqual(outside.answer, {
    ok: false,
    reason: "network",
    message: "agent db1 connected from 203.0.113.1, outside its networks",
  });
  assert.equal(outside.seen.length, 1, "outside the networks costs one check, like a wrong secret");
  const [off] = outside.seen;
  assert.equal(off!.decoy, true, "a decoy check: the guard counts it as a failure");
  assert.notEqual(off!.stored, real, "never the real hash: its cache would answer a right secret");
  assert.equal(parseSetting(off!.stored).rounds, 2000, "a decoy of the real hash's rounds");

  // A certificate-only agent outside its networks: the unknown name's cost.
  const camFile = parseAgentFile(
    "agents.d/cam.jsonc",
    JSON.stringify({ networks: ["10.0.0.0/8"] }),
  );
  const cam = await check(camFile, { name: "cam", secret: "x", address: "203.0.113.1" });
  assert.equal(cam.answer.ok, false);
  assert.deepEqual(cam.seen.map((s) => [s.decoy, parseSetting(s.stored).rounds]), [[true, 5000]]);
});

Deno.test("checkAgentIdentity() awaits an async verifier", async () => {
  const verify = (plain: string) => Promise.resolve(plain === "db1-secret");
  const answer = await checkAgentIdentity(db1, {
    name: "db1",
    secret: "db1-secret",
    address: "198.51.100.1",
  }, verify);
  assert.equal(answer.ok, true);
});

Deno.test("checkAgentIdentity() refuses every secret for a certificate-only agent, at the cost of a wrong one", async () => {
  const certOnly = parseAgentFile("agents.d/cam.jsonc", "{}");
  const seen: string[] = [];
  const verify: VerifySecret = (plain, stored, { decoy }) => {
    seen.push(`${stored.slice(0, 3)} ${decoy}`);
    return plain === stored; // a verifier that would let "" through against an empty secret
  };
  for (const secret of ["", "anything"]) {
    const answer = await checkAgentIdentity(
      certOnly,
      { name: "cam", secret, address: "192.0.2.1" },
      verify,
    );
    assert.deepEqual(answer, {
      ok: false,
      reason: "bad-secret",
      message: "agent cam identifies by certificate only (no secret)",
    });
  }
  assert.deepEqual(seen, ["$6$ true", "$6$ true"], "a decoy hash each time, never a match");
});
