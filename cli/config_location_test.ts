import assert from "node:assert/strict";
import {
  chooseConfig,
  configLocationHelp,
  defaultConfigDir,
  defaultConfigFile,
} from "./config_location.ts";

Deno.test("defaultConfigFile is /etc/burrow on Linux, %ProgramData%\\Burrow on Windows, Application Support on macOS", () => {
  assert.equal(defaultConfigFile("agent", { os: "linux", env: {} }), "/etc/burrow/agent.jsonc");
  assert.equal(defaultConfigFile("server", { os: "freebsd", env: {} }), "/etc/burrow/server.jsonc");
  assert.equal(
    defaultConfigFile("agent", { os: "windows", env: { ProgramData: "D:\\Data" } }),
    "D:\\Data\\Burrow\\agent.jsonc",
  );
  assert.equal(
    defaultConfigFile("agent", { os: "windows", env: { PROGRAMDATA: "E:\\PD" } }),
    "E:\\PD\\Burrow\\agent.jsonc",
  );
  assert.equal(
    defaultConfigFile("server", { os: "windows", env: {} }),
    "C:\\ProgramData\\Burrow\\server.jsonc",
  );
  assert.equal(
    defaultConfigFile("agent", { os: "darwin", env: { HOME: "/Users/ann" } }),
    "/Users/ann/Library/Application Support/Burrow/agent.jsonc",
  );
});

Deno.test("defaultConfigFile is conf/ only when BURROW_DEV is set (deno task dev), on every OS", () => {
  for (const os of ["linux", "windows", "darwin"] as const) {
    assert.equal(defaultConfigFile("agent", { os, env: { BURROW_DEV: "1" } }), "conf/agent.jsonc");
    assert.equal(defaultConfigDir({ os, env: { BURROW_DEV: "0" } }) === "conf", false);
    assert.equal(defaultConfigDir({ os, env: { BURROW_DEV: "" } }) === "conf", false);
  }
});

Deno.test("deno task dev sets BURROW_DEV=1", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.match(config.tasks.dev, /\bBURROW_DEV=1 /);
});

Deno.test("configLocationHelp states every platform's place and this process's", () => {
  const help = configLocationHelp("server", "/etc/burrow/server.jsonc");
  for (
    const place of [
      "/etc/burrow/server.jsonc",
      "%ProgramData%\\Burrow\\server.jsonc",
      "~/Library/Application Support/Burrow/server.jsonc",
      "conf/server.jsonc",
    ]
  ) assert.ok(help.includes(place), place);
});

Deno.test("chooseConfig: --config, else BURROW_CONFIG, else the default (not required to exist)", () => {
  const env = { BURROW_CONFIG: "env.jsonc" };
  assert.deepEqual(chooseConfig("flag.jsonc", env, "d"), { file: "flag.jsonc", explicit: true });
  assert.deepEqual(chooseConfig(undefined, env, "d"), { file: "env.jsonc", explicit: true });
  assert.deepEqual(chooseConfig(undefined, { BURROW_CONFIG: "" }, "d"), {
    file: "d",
    explicit: false,
  });
});
