import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { parseAgentConfig } from "./config.ts";
import { LaunchError, type LaunchInputs, parseServerUrl } from "./launch_inputs.ts";
import { mergeLaunch, NO_CONFIG_FILE } from "./launch_settings.ts";

const deps = { prompt: null, hostname: () => "host-a", cwd: "/work/here" };
const SERVER = { value: "wss://tunnel.example.com", from: "--server" };

/** Rejects with a LaunchError from `from` whose message matches `pattern`. */
async function refuses(inputs: LaunchInputs, from: string, pattern: RegExp) {
  await assert.rejects(
    mergeLaunch(null, inputs, deps),
    (e) => e instanceof LaunchError && e.from === from && pattern.test(e.message),
  );
}

Deno.test("parseServerUrl: port 443 and the agent path by default; https:// and no scheme mean wss://", () => {
  const url = (value: string) => parseServerUrl({ value, from: "--server" });
  const path = "/.well-known/burrow-agent";
  assert.deepEqual(url("wss://t.example.com"), { remote: "t.example.com:443", service: path });
  assert.deepEqual(url("wss://t.example.com/"), { remote: "t.example.com:443", service: path });
  assert.deepEqual(url("https://t.example.com:8443/x/y"), {
    remote: "t.example.com:8443",
    service: "/x/y",
  });
  assert.deepEqual(url("t.example.com:8443"), { remote: "t.example.com:8443", service: path });
  assert.deepEqual(url("wss://[::1]:4443"), { remote: "[::1]:4443", service: path });
  for (const bad of ["ws://t.example.com", "wss://u:p@t.example.com", "wss://t.example.com/?q=1"]) {
    assert.throws(() => url(bad), /^LaunchError: --server: /, bad);
  }
});

Deno.test("mergeLaunch without a file: an identity from --server, --name and a secret", async () => {
  const launch = await mergeLaunch(null, {
    server: SERVER,
    name: { value: "DB1", from: "--name" },
    secret: { value: { text: "s3cret" }, from: "BURROW_SECRET" },
    caFile: { value: "ca.pem", from: "BURROW_CA_FILE" },
  }, deps);
  assert.equal(launch.config.file, NO_CONFIG_FILE);
  assert.equal(launch.config.domains, null);
  assert.deepEqual(launch.config.identity, {
    name: "db1",
    secret: "s3cret",
    secretFile: null,
    remote: "tunnel.example.com:443",
    service: "/.well-known/burrow-agent",
    caFile: resolve("/work/here", "ca.pem"),
    insecure: false,
  });
  assert.deepEqual(launch.pinned, []);
  assert.equal(launch.sources.get("identity.caFile"), "BURROW_CA_FILE");
  assert.equal(launch.log, launch.config.log);
});

Deno.test("mergeLaunch: the name defaults to the host name; a secret file is checked now and read at each connection", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "s");
    await Deno.writeTextFile(file, "from-file\nignored\n");
    const launch = await mergeLaunch(null, {
      server: SERVER,
      secret: { value: { file }, from: "--secret-file" },
    }, deps);
    assert.equal(launch.config.identity?.name, "host-a");
    assert.equal(launch.config.identity?.secretFile, file);
    assert.equal(launch.config.identity?.secret, null);
    await Deno.writeTextFile(file, "$6$abc$def");
    await refuses(
      { server: SERVER, secret: { value: { file }, from: "--secret-file" } },
      "--secret-file",
      /holds a \$6\$ hash/,
    );
    await refuses(
      {
        server: SERVER,
        secret: { value: { file: join(dir, "none") }, from: "BURROW_SECRET_FILE" },
      },
      "BURROW_SECRET_FILE",
      /Cannot read secret file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mergeLaunch: --domain with --target is one active domain, remote from --server", async () => {
  const launch = await mergeLaunch(null, {
    server: { value: "wss://tunnel.example.com:8443/agents", from: "BURROW_SERVER" },
    domain: { value: "App.Example.com", from: "--domain" },
    targets: { value: ["http://127.0.0.1:3000"], from: "--target" },
    secret: { value: { text: "dom-secret" }, from: "BURROW_SECRET" },
    insecure: { value: true, from: "--insecure" },
  }, deps);
  assert.equal(launch.config.identity, null, "a domain only: the secret is the domain's");
  const [domain] = launch.pinned;
  assert.equal(domain?.name, "app.example.com");
  assert.equal(domain?.active, true);
  assert.equal(domain?.secret, "dom-secret");
  assert.equal(domain?.remote, "tunnel.example.com:8443");
  assert.equal(domain?.service, "/agents");
  assert.equal(domain?.insecure, true);
  assert.equal(domain?.targets[0]?.urls[0]?.url.href, "http://127.0.0.1:3000/");
  const alone = await mergeLaunch(null, {
    domain: { value: "app.example.com", from: "BURROW_DOMAIN" },
    targets: { value: ["http://127.0.0.1:3000"], from: "BURROW_TARGET" },
    secret: { value: { text: "dom-secret" }, from: "BURROW_SECRET" },
  }, deps);
  assert.equal(alone.pinned[0]?.remote, "app.example.com:443");
});

Deno.test("mergeLaunch: --name with --domain shares the secret unless the domain has its own, on one server", async () => {
  const inputs: LaunchInputs = {
    server: SERVER,
    name: { value: "db1", from: "--name" },
    domain: { value: "app.example.com", from: "--domain" },
    targets: { value: ["http://127.0.0.1:3000"], from: "--target" },
    secret: { value: { text: "shared" }, from: "BURROW_SECRET" },
  };
  const shared = await mergeLaunch(null, inputs, deps);
  assert.equal(shared.config.identity?.secret, "shared");
  assert.equal(shared.pinned[0]?.secret, "shared");
  assert.equal(shared.pinned[0]?.remote, shared.config.identity?.remote);
  const own = await mergeLaunch(null, {
    ...inputs,
    domainSecret: { value: { text: "own" }, from: "BURROW_DOMAIN_SECRET" },
  }, deps);
  assert.equal(own.config.identity?.secret, "shared");
  assert.equal(own.pinned[0]?.secret, "own");
  assert.equal(own.sources.get("domain.secret"), "BURROW_DOMAIN_SECRET");
});

Deno.test("mergeLaunch asks for a missing secret once, for both the identity and the domain", async () => {
  const asked: string[] = [];
  const launch = await mergeLaunch(null, {
    server: SERVER,
    name: { value: "db1", from: "--name" },
    domain: { value: "app.example.com", from: "--domain" },
    targets: { value: ["http://127.0.0.1:3000"], from: "--target" },
  }, {
    ...deps,
    prompt: (what) => {
      asked.push(what);
      return Promise.resolve("typed-secret");
    },
  });
  assert.deepEqual(asked, ["Secret for agent db1: "]);
  assert.equal(launch.config.identity?.secret, "typed-secret");
  assert.equal(launch.pinned[0]?.secret, "typed-secret");
  assert.equal(launch.sources.get("identity.secret"), "prompt");
});

Deno.test("mergeLaunch names the setting at fault", async () => {
  const name = { value: "db1", from: "BURROW_NAME" };
  const secret = { value: { text: "s" }, from: "BURROW_SECRET" };
  await refuses({ name }, "--secret-file", /agent db1 needs a secret: give --secret-file FILE/);
  await refuses({ name, secret }, "--server", /agent db1 needs a server: give --server/);
  await refuses({ name: { value: "bad name", from: "--name" } }, "--name", /is not/);
  await refuses({ server: SERVER }, "--server", /nothing to serve/);
  const folderOnly = parseAgentConfig("/etc/burrow/agent.jsonc", '{ "mode": "agent" }');
  await assert.rejects(
    mergeLaunch(folderOnly, { caFile: { value: "ca.pem", from: "--ca-file" } }, deps),
    /^LaunchError: --ca-file: applies to no domain file \(each names its own server\): give an identity/,
  );
  await refuses(
    { server: SERVER, secret, targets: { value: ["http://x"], from: "--target" } },
    "--target",
    /is used only with --domain/,
  );
  await refuses(
    { domain: { value: "app.example.com", from: "--domain" }, secret },
    "--domain",
    /needs a backend: give --target/,
  );
  await refuses(
    {
      domain: { value: "app.example.com", from: "--domain" },
      targets: { value: ["ftp://x"], from: "BURROW_TARGET" },
      secret,
    },
    "BURROW_TARGET",
    /"ftp:\/\/x" is not an http:\/\/ or https:\/\/ URL/,
  );
});

Deno.test("mergeLaunch: flags and environment replace the file's identity keys one by one", async () => {
  const file = parseAgentConfig(
    "/etc/burrow/agent.jsonc",
    JSON.stringify({
      mode: "agent",
      name: "from-file",
      secret: "file-secret",
      remote: "old.example.com:443",
      caFile: "ca.pem",
      domains: "agent.d",
    }),
  );
  const launch = await mergeLaunch(file, {
    name: { value: "from-env", from: "BURROW_NAME" },
    server: { value: "wss://new.example.com", from: "--server" },
  }, deps);
  assert.deepEqual(launch.config.identity, {
    name: "from-env",
    secret: "file-secret",
    secretFile: null,
    remote: "new.example.com:443",
    service: "/.well-known/burrow-agent",
    caFile: resolve("/etc/burrow/ca.pem"),
    insecure: false,
  });
  assert.equal(launch.config.domains, resolve("/etc/burrow/agent.d"), "the folder still applies");
  assert.equal(launch.sources.get("identity.secret"), resolve("/etc/burrow/agent.jsonc"));
  assert.equal(launch.sources.get("identity.name"), "BURROW_NAME");
  // A secret given with --domain and no --name is the domain's; the file's identity keeps its own.
  const both = await mergeLaunch(file, {
    domain: { value: "app.example.com", from: "--domain" },
    targets: { value: ["http://127.0.0.1:3000"], from: "--target" },
    secret: { value: { text: "dom" }, from: "BURROW_SECRET" },
  }, deps);
  assert.equal(both.config.identity?.secret, "file-secret");
  assert.equal(both.pinned[0]?.secret, "dom");
});
