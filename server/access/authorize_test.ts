import assert from "node:assert/strict";
import { hashToken } from "../../shared/auth/token.ts";
import { type Authorization, authorizeOperator, type OperatorRequest } from "./authorize.ts";
import { parseOperatorFile } from "./operator_file.ts";

const alice = parseOperatorFile(
  "operators.d/alice.jsonc",
  JSON.stringify({
    token: hashToken("burrow_alice"),
    agents: ["db1", "web-*", "group:customer-*"],
    kinds: ["forward", "socks", "admin"],
    networks: ["10.1.0.0/16", "2001:db8::/32"],
  }),
);
const bob = parseOperatorFile(
  "operators.d/bob.jsonc",
  JSON.stringify({ token: hashToken("burrow_bob"), agents: ["*"], kinds: ["udp"] }),
);

const ok: Authorization = { allowed: true };
const no = (reason: "network" | "kind" | "agent", message: string): Authorization => ({
  allowed: false,
  reason,
  message,
});

Deno.test("authorizeOperator() decides by network, then kind, then agent, saying why", () => {
  const inside = "10.1.2.3";
  // operator, request, answer
  const cases: [typeof alice, OperatorRequest, Authorization][] = [
    [alice, { kind: "forward", agentName: "db1", clientAddr: inside }, ok],
    [alice, { kind: "socks", agentName: "web-eu", clientAddr: "2001:db8::5" }, ok],
    [
      alice,
      { kind: "forward", agentName: "x", agentGroups: ["customer-acme"], clientAddr: inside },
      ok,
    ],
    [alice, { kind: "forward", agentName: "db1", clientAddr: "::ffff:10.1.0.9" }, ok],
    [alice, { kind: "admin", clientAddr: inside }, ok],
    [
      alice,
      { kind: "shell", agentName: "db1", clientAddr: inside },
      no("kind", "operator alice may not use kind shell"),
    ],
    [
      alice,
      { kind: "udp", agentName: "db1", clientAddr: inside },
      no("kind", "operator alice may not use kind udp"),
    ],
    [
      alice,
      { kind: "forward", agentName: "db2", agentGroups: ["linux"], clientAddr: inside },
      no("agent", "agent db2 is not in operator alice's agents"),
    ],
    [
      alice,
      { kind: "forward", clientAddr: inside },
      no("agent", "kind forward needs an agent, and none was named"),
    ],
    [
      alice,
      { kind: "forward", agentName: "db1", clientAddr: "10.0.0.5" },
      no("network", "client 10.0.0.5 is outside operator alice's networks"),
    ],
    [
      alice,
      { kind: "shell", agentName: "db2", clientAddr: "10.0.0.5" },
      no("network", "client 10.0.0.5 is outside operator alice's networks"),
    ],
    [
      alice,
      { kind: "forward", agentName: "db1", clientAddr: "not-an-ip" },
      no("network", "client not-an-ip is outside operator alice's networks"),
    ],
    [bob, { kind: "udp", agentName: "anything", clientAddr: "192.0.2.1" }, ok],
    [
      bob,
      { kind: "admin", clientAddr: "192.0.2.1" },
      no("kind", "operator bob may not use kind admin"),
    ],
  ];
  for (const [operator, request, expected] of cases) {
    assert.deepEqual(authorizeOperator(operator, request), expected, JSON.stringify(request));
  }
});

Deno.test("authorizeOperator() grants nothing to an operator file with no agents or kinds", () => {
  const nobody = parseOperatorFile(
    "operators.d/nobody.jsonc",
    JSON.stringify({ token: hashToken("burrow_n") }),
  );
  for (const kind of ["forward", "udp", "socks", "admin", "shell"] as const) {
    const answer = authorizeOperator(nobody, { kind, agentName: "db1", clientAddr: "127.0.0.1" });
    assert.equal(answer.allowed, false, kind);
  }
  const kindsOnly = parseOperatorFile(
    "operators.d/k.jsonc",
    JSON.stringify({ token: hashToken("burrow_k"), kinds: ["forward"] }),
  );
  assert.deepEqual(
    authorizeOperator(kindsOnly, { kind: "forward", agentName: "db1", clientAddr: "127.0.0.1" }),
    no("agent", "agent db1 is not in operator k's agents"),
  );
});
