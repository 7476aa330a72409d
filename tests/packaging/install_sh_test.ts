/**
 * `packaging/install.sh` run for real into a scratch root (`--root`): what
 * it installs and with which modes, that a second run changes nothing, that
 * your configuration is never replaced, what `--uninstall` and `--purge`
 * leave, and the download path (a release archive and SHA256SUMS from a
 * `file://` mirror, checked; a tampered archive installs nothing).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { filesUnder, PACKAGING, run, snapshot, standIn } from "./packaging_helpers.ts";

const INSTALL = join(PACKAGING, "install.sh");

/** Runs install.sh with `args`. */
function install(...args: string[]) {
  return run("sh", [INSTALL, ...args]);
}

/** Everything install.sh puts in a root, with its mode. */
const INSTALLED = [
  "etc/burrow/ 750",
  "etc/burrow/agent.d/ 750",
  "etc/burrow/agent.d/_example.com.jsonc 640",
  "etc/burrow/agent.jsonc 640",
  "etc/burrow/server.d/ 750",
  "etc/burrow/server.d/_example.com.jsonc 640",
  "etc/burrow/server.jsonc 640",
  "etc/burrow/tls/ 750",
  "etc/systemd/system/burrow-agent.service 644",
  "etc/systemd/system/burrow-server.service 644",
  "usr/local/bin/burrow 755",
  "var/lib/burrow/ 750",
];

/** `path mode` of every entry under `root` that install.sh owns (not the parents it made). */
async function owned(root: string): Promise<string[]> {
  return (await snapshot(root)).map((l) => l.split(" ").slice(0, 2).join(" "))
    .filter((l) => INSTALLED.some((i) => i.split(" ")[0] === l.split(" ")[0]));
}

Deno.test("install.sh --root installs the binary, units and samples with their modes; a second run changes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-install-" });
  try {
    const binary = await standIn(dir);
    const root = join(dir, "root");
    const first = await install("--root", root, "--binary", binary);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await owned(root), INSTALLED);
    assert.equal(
      (await run(join(root, "usr/local/bin/burrow"), [])).stdout,
      "burrow 9.9.9 (stand-in)\n",
    );
    // This install's binary is in /usr/local/bin; the package's units name /usr/bin.
    const unit = await Deno.readTextFile(join(root, "etc/systemd/system/burrow-server.service"));
    assert.match(
      unit,
      /^ExecStart=\/usr\/local\/bin\/burrow server --config \/etc\/burrow\/server\.jsonc$/m,
    );
    const shipped = await Deno.readTextFile(join(PACKAGING, "linux/burrow-server.service"));
    assert.equal(unit, shipped.replace("/usr/bin/burrow ", "/usr/local/bin/burrow "));
    // No user, chown or systemctl in a scratch root: it says what it would do.
    assert.match(first.stdout, /would run: useradd --system .* burrow/);
    assert.match(first.stdout, /would run: chown burrow:burrow \/var\/lib\/burrow/);
    assert.match(first.stdout, /would run: systemctl daemon-reload/);
    assert.doesNotMatch(first.stdout, /would run: systemctl (enable|start)/);

    const before = await snapshot(root);
    const second = await install("--root", root, "--binary", binary);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing to change/);
    assert.doesNotMatch(second.stdout, /installed|made|daemon-reload/);
    assert.deepEqual(await snapshot(root), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install.sh keeps your configuration, replaces a new binary, and --uninstall keeps /etc/burrow and the data until --purge", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-install-" });
  try {
    const root = join(dir, "root");
    assert.equal((await install("--root", root, "--binary", await standIn(dir))).code, 0);
    const mine = join(root, "etc/burrow/server.jsonc");
    await Deno.writeTextFile(mine, '{ "mode": "server" } // mine\n');
    await Deno.writeTextFile(join(root, "etc/burrow/server.d/app.example.com.jsonc"), "{}");
    await Deno.writeTextFile(join(root, "var/lib/burrow/burrow.db"), "data");

    const upgrade = await install("--root", root, "--binary", await standIn(dir, "9.9.10"));
    assert.equal(upgrade.code, 0, upgrade.stderr);
    assert.match(upgrade.stdout, /installed \/usr\/local\/bin\/burrow/);
    assert.doesNotMatch(upgrade.stdout, /installed \/etc\/burrow/);
    assert.equal(await Deno.readTextFile(mine), '{ "mode": "server" } // mine\n');
    assert.match((await run(join(root, "usr/local/bin/burrow"), [])).stdout, /9\.9\.10/);

    const removed = await install("--root", root, "--uninstall");
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /would run: systemctl disable --now burrow-server/);
    assert.deepEqual(await filesUnder(root), [
      "etc/burrow/agent.d/_example.com.jsonc",
      "etc/burrow/agent.jsonc",
      "etc/burrow/server.d/_example.com.jsonc",
      "etc/burrow/server.d/app.example.com.jsonc",
      "etc/burrow/server.jsonc",
      "var/lib/burrow/burrow.db",
    ]);

    const purged = await install("--root", root, "--uninstall", "--purge");
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(purged.stdout, /would run: userdel burrow/);
    assert.deepEqual(await filesUnder(root), []);
    assert.deepEqual((await owned(root)).filter((l) => l.startsWith("etc/burrow")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install.sh refuses usage mistakes and prints its help", async () => {
  const unknown = await install("--frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option '--frobnicate'/);
  const purge = await install("--purge");
  assert.equal(purge.code, 1);
  assert.match(purge.stderr, /--purge goes with --uninstall/);
  const help = await install("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--root DIR/);
});

/** A release mirror in `dir`: v1.2.3/burrow-1.2.3-TARGET.tar.gz and SHA256SUMS. */
async function mirror(dir: string, target: string): Promise<{ url: string; archive: string }> {
  const name = `burrow-1.2.3-${target}`;
  const stage = join(dir, "stage");
  await Deno.mkdir(join(stage, name), { recursive: true });
  await standIn(join(stage, name), "1.2.3");
  const release = join(dir, "mirror", "v1.2.3");
  await Deno.mkdir(release, { recursive: true });
  const archive = join(release, `${name}.tar.gz`);
  const tar = await run("tar", ["-czf", archive, "-C", stage, name]);
  assert.equal(tar.code, 0, tar.stderr);
  const sums = await run("sha256sum", [`${name}.tar.gz`], { cwd: release });
  await Deno.writeTextFile(
    join(release, "SHA256SUMS"),
    `${"0".repeat(64)}  other.zip\n${sums.stdout}`,
  );
  // A URL (a space is %20), as curl wants it.
  return { url: pathToFileURL(join(dir, "mirror")).href, archive };
}

// curl is installed by .ci/run where it is missing.
Deno.test({
  name:
    "install.sh --version downloads the release archive, checks it against SHA256SUMS, and refuses a tampered one",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-install-" });
    try {
      const target = "x86_64-unknown-linux-gnu";
      const { url, archive } = await mirror(dir, target);
      const root = join(dir, "root");
      const args = ["--root", root, "--version", "v1.2.3", "--base-url", url, "--target", target];
      const ok = await install(...args);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /checksum ok/);
      assert.equal(
        (await run(join(root, "usr/local/bin/burrow"), [])).stdout,
        "burrow 1.2.3 (stand-in)\n",
      );

      const bytes = await Deno.readFile(archive);
      bytes.set([bytes.at(-1)! ^ 1], bytes.length - 1);
      await Deno.writeFile(archive, bytes);
      const other = join(dir, "other");
      const bad = await install(...args.map((a) => a === root ? other : a));
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        /checksum mismatch for burrow-1\.2\.3-x86_64-unknown-linux-gnu\.tar\.gz/,
      );
      assert.deepEqual(await filesUnder(other), []);

      const http = await install("--root", other, "--version", "1.2.3", "--base-url", "http://x");
      assert.equal(http.code, 1);
      assert.match(http.stderr, /must start with https:\/\//);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("install.sh run from an unpacked release archive installs the burrow beside its folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-install-" });
  try {
    // burrow-V-T/{burrow, packaging/install.sh, packaging/linux/}: no --binary needed.
    const unpacked = join(dir, "burrow-1.2.3-x86_64-unknown-linux-gnu");
    await Deno.mkdir(unpacked);
    await standIn(unpacked, "1.2.3");
    assert.equal((await run("cp", ["-R", PACKAGING, join(unpacked, "packaging")])).code, 0);
    const root = join(dir, "root");
    const ran = await run("sh", [join(unpacked, "packaging/install.sh"), "--root", root]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(
      (await run(join(root, "usr/local/bin/burrow"), [])).stdout,
      "burrow 1.2.3 (stand-in)\n",
    );
    assert.deepEqual(await owned(root), INSTALLED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
