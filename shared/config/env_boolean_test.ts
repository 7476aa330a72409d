import assert from "node:assert/strict";
import { parseEnvBoolean } from "./env_boolean.ts";

Deno.test("parseEnvBoolean reads 1/true and 0/false in any case, nothing else", () => {
  for (const on of ["1", "true", "TRUE", "True"]) assert.equal(parseEnvBoolean(on), true);
  for (const off of ["0", "false", "FALSE"]) assert.equal(parseEnvBoolean(off), false);
  for (const bad of ["", "yes", "2", " 1"]) assert.equal(parseEnvBoolean(bad), null);
});
