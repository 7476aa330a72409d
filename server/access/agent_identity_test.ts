import assert from "node:assert/strict";
import { hashSecret } from "../../shared/auth/secret.ts";
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

Deno.test("checkAgentIdentity() verifies a dummy hash for an unknown name, none off-network", async () => {
  const seen: string[] = [];
  const verify: VerifySecret = (_plain, stored, { claim, decoy }) => {
    seen.push(`${stored.slice(0, 3)} ${claim.name} ${decoy}`);
    return false;
  };
  await checkAgentIdentity(undefined, { name: "ghost", secret: "x", address: "::1" }, verify);
  assert.deepEqual(
    seen,
    ["$6$ ghost true"],
    "an unknown name costs one SHA-512 crypt, like a known one",
  );
  seen.length = 0;
  await checkAgentIdentity(db1, { name: "db1", secret: "x", address: "198.51.100.2" }, verify);
  assert.deepEqual(seen, ["$6$ db1 false"], "the context names the claim for the AuthGuard");
  seen.length = 0;
  await checkAgentIdentity(db1, { name: "db1", secret: "x", address: "203.0.113.1" }, verify);
  assert.deepEqual(seen, [], "outside the networks: no hash at all");
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
