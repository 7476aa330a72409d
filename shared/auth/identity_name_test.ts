import assert from "node:assert/strict";
import { ConfigError } from "../config/jsonc.ts";
import { identityNameOfFile, isIdentityName } from "./identity_name.ts";

Deno.test("isIdentityName() takes host names and machine names, lower case", () => {
  const cases: [string, boolean][] = [
    ["db1", true],
    ["db1.customer-a.example", true],
    ["desktop_7", true],
    ["a", true],
    ["9", true],
    ["a".repeat(253), true],
    ["a".repeat(254), false],
    ["", false],
    ["DB1", false],
    ["-db1", false],
    ["db1-", false],
    ["db1.", false],
    [".db1", false],
    ["db 1", false],
    ["db/1", false],
    ["db:1", false],
  ];
  for (const [name, expected] of cases) assert.equal(isIdentityName(name), expected, name);
});

Deno.test("identityNameOfFile() lower-cases the file name and refuses bad ones", () => {
  assert.equal(identityNameOfFile("/x/agents.d/DB1.jsonc"), "db1");
  assert.throws(() => identityNameOfFile("/x/agents.d/-db1.jsonc"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, "invalid");
    assert.match(e.message, /^\/x\/agents\.d\/-db1\.jsonc: File name must be/);
    return true;
  });
});
