import assert from "node:assert/strict";
import { ruleMatches } from "./tls.ts";

const pair = { cert: "c.pem", key: "k.pem" };

Deno.test("ruleMatches() tests patterns and regex rules; a regex never matches a missing name", () => {
  const regex = {
    pattern: "^.*\\.dev\\.example\\.com$",
    regex: /^.*\.dev\.example\.com$/i,
    ...pair,
  };
  assert.equal(ruleMatches(regex, "a.b.dev.example.com"), true);
  assert.equal(ruleMatches(regex, "dev.example.com"), false);
  assert.equal(ruleMatches({ pattern: "any", regex: /.*/, ...pair }, ""), false);
  assert.equal(ruleMatches({ pattern: "*", ...pair }, ""), true);
  assert.equal(ruleMatches({ pattern: "*.example.com", ...pair }, "a.example.com"), true);
  assert.equal(ruleMatches({ pattern: "*.example.com", ...pair }, "a.b.example.com"), false);
  assert.equal(ruleMatches({ pattern: "www.example.com", ...pair }, "www.example.com"), true);
});
