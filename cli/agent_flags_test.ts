import assert from "node:assert/strict";
import { LaunchError } from "../agent/launch_inputs.ts";
import { launchInputs, refuseSecretFlags } from "./agent_flags.ts";
import { UsageError } from "./usage.ts";

Deno.test("launchInputs: a flag wins over its variable; variables fill the rest", () => {
  const inputs = launchInputs({ name: "db1", "secret-file": "f.secret" }, {
    BURROW_NAME: "db2",
    BURROW_SERVER: "wss://t.example",
    BURROW_SECRET: "s3cret",
    BURROW_TARGET: "http://127.0.0.1:1, http://127.0.0.1:2",
    BURROW_DOMAIN: "app.example.com",
    BURROW_CA_FILE: "",
  });
  assert.deepEqual(inputs, {
    name: { value: "db1", from: "--name" },
    server: { value: "wss://t.example", from: "BURROW_SERVER" },
    domain: { value: "app.example.com", from: "BURROW_DOMAIN" },
    targets: { value: ["http://127.0.0.1:1", "http://127.0.0.1:2"], from: "BURROW_TARGET" },
    secret: { value: { file: "f.secret" }, from: "--secret-file" },
  });
});

Deno.test("launchInputs: BURROW_SECRET and BURROW_SECRET_FILE together are refused", () => {
  assert.throws(
    () => launchInputs({}, { BURROW_SECRET: "a", BURROW_SECRET_FILE: "b" }),
    (e) =>
      e instanceof LaunchError && e.from === "BURROW_SECRET" && /set one of them/.test(e.message),
  );
  // A flag settles it.
  const inputs = launchInputs({ "secret-file": "c" }, {
    BURROW_SECRET: "a",
    BURROW_SECRET_FILE: "b",
  });
  assert.deepEqual(inputs.secret, { value: { file: "c" }, from: "--secret-file" });
  assert.deepEqual(launchInputs({}, { BURROW_DOMAIN_SECRET_FILE: "d" }).domainSecret, {
    value: { file: "d" },
    from: "BURROW_DOMAIN_SECRET_FILE",
  });
});

Deno.test("launchInputs: BURROW_INSECURE takes 1/0 and true/false, and names itself otherwise", () => {
  assert.deepEqual(launchInputs({}, { BURROW_INSECURE: "1" }).insecure, {
    value: true,
    from: "BURROW_INSECURE",
  });
  assert.equal(launchInputs({}, { BURROW_INSECURE: "false" }).insecure?.value, false);
  assert.equal(
    launchInputs({ insecure: true }, { BURROW_INSECURE: "0" }).insecure?.from,
    "--insecure",
  );
  assert.throws(
    () => launchInputs({}, { BURROW_INSECURE: "maybe" }),
    /^LaunchError: BURROW_INSECURE: "maybe" is not 1 or 0/,
  );
});

Deno.test("refuseSecretFlags refuses --secret, --secret=… and --domain-secret, and nothing after --", () => {
  for (const args of [["--secret", "x"], ["--secret=x"], ["--domain-secret", "x"]]) {
    assert.throws(
      () => refuseSecretFlags(args, "usage"),
      (e) => e instanceof UsageError && /would show in 'ps'/.test(e.message),
    );
  }
  refuseSecretFlags(["--secret-file", "f", "--", "--secret"], "usage");
});
