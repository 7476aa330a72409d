import assert from "node:assert/strict";
import { selfCommand, shellLine } from "./self_command.ts";

Deno.test("selfCommand() runs main.ts with this Deno when not compiled, and the line runs", async () => {
  const words = selfCommand();
  assert.equal(words[0], Deno.execPath());
  assert.match(words.at(-1)!, /main\.ts$/);
  const out = await new Deno.Command(words[0]!, {
    args: [...words.slice(1), "version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stdout), /^burrow /);
});

Deno.test("shellLine() quotes only the words that need it", () => {
  assert.equal(shellLine(["a", "b/c.ts", "127.0.0.1:80"]), "a b/c.ts 127.0.0.1:80");
  assert.equal(shellLine(["with space", "it's"]), `'with space' 'it'"'"'s'`);
});
