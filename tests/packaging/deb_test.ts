/**
 * `packaging/linux/build-deb.sh` run for real on a stand-in binary, the
 * package inspected with `dpkg-deb -c` (paths, modes, owners) and `-I`
 * (control fields, conffiles, maintainer scripts), and `release-debs.sh`
 * as the release workflow calls it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { PACKAGING, run, standIn } from "./packaging_helpers.ts";

const BUILD_DEB = join(PACKAGING, "linux/build-deb.sh");

/**
 * Builds the package of a stand-in into `dir`; resolves to its path. Under a
 * umask of 077, which must not leak into the package's folders.
 */
async function buildDeb(dir: string, version: string, arch = "amd64"): Promise<string> {
  const binary = await standIn(dir);
  const built = await run(
    "sh",
    ["-c", 'umask 077 && exec bash "$0" "$@"', BUILD_DEB, binary, version, arch, join(dir, "out")],
    { env: { SOURCE_DATE_EPOCH: "1700000000" } },
  );
  assert.equal(built.code, 0, built.stderr);
  return built.stdout.trim();
}

Deno.test("build-deb.sh: the package holds the binary, units, conffiles and docs with root ownership and their modes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-deb-" });
  try {
    const deb = await buildDeb(dir, "1.2.3");
    assert.equal(deb, join(dir, "out", "burrow_1.2.3_amd64.deb"));
    const listing = await run("dpkg-deb", ["-c", deb]);
    assert.equal(listing.code, 0, listing.stderr);
    // "drwxr-xr-x root/root 0 2023-11-14 22:13 ./usr/bin/" -> "drwxr-xr-x root/root ./usr/bin/"
    const entries = listing.stdout.trim().split("\n").map((line) => {
      const f = line.split(/\s+/);
      return `${f[0]} ${f[1]} ${f[5]}`;
    });
    const wanted = [
      "drwxr-x--- root/root ./etc/burrow/",
      "drwxr-x--- root/root ./etc/burrow/agent.d/",
      "-rw-r----- root/root ./etc/burrow/agent.d/_example.com.jsonc",
      "-rw-r----- root/root ./etc/burrow/agent.jsonc",
      "drwxr-x--- root/root ./etc/burrow/server.d/",
      "-rw-r----- root/root ./etc/burrow/server.d/_example.com.jsonc",
      "-rw-r----- root/root ./etc/burrow/server.jsonc",
      "drwxr-x--- root/root ./etc/burrow/tls/",
      "-rw-r--r-- root/root ./lib/systemd/system/burrow-agent.service",
      "-rw-r--r-- root/root ./lib/systemd/system/burrow-server.service",
      "-rwxr-xr-x root/root ./usr/bin/burrow",
      "-rw-r--r-- root/root ./usr/share/doc/burrow/README.md",
      "-rw-r--r-- root/root ./usr/share/doc/burrow/admin.md",
      "-rw-r--r-- root/root ./usr/share/doc/burrow/config.md",
      "-rw-r--r-- root/root ./usr/share/doc/burrow/install.md",
      "-rw-r--r-- root/root ./usr/share/doc/burrow/operator.md",
    ];
    for (const entry of wanted) assert.ok(entries.includes(entry), `missing ${entry}`);
    const files = entries.filter((e) => !e.endsWith("/"));
    assert.equal(files.length, wanted.filter((e) => !e.endsWith("/")).length, files.join("\n"));
    assert.ok(entries.every((e) => e.includes(" root/root ")));
    // Folders outside /etc/burrow are 0755 whatever the builder's umask.
    const folders = entries.filter((e) => e.endsWith("/") && !e.includes("./etc/burrow/"));
    assert.deepEqual(folders.filter((e) => !e.startsWith("drwxr-xr-x ")), []);

    // The binary in the package is the one given.
    const extracted = join(dir, "x");
    assert.equal((await run("dpkg-deb", ["-x", deb, extracted])).code, 0);
    assert.equal(
      (await run(join(extracted, "usr/bin/burrow"), [])).stdout,
      "burrow 9.9.9 (stand-in)\n",
    );
    assert.equal(
      await Deno.readTextFile(join(extracted, "lib/systemd/system/burrow-server.service")),
      await Deno.readTextFile(join(PACKAGING, "linux/burrow-server.service")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build-deb.sh: control fields, conffiles and maintainer scripts (user made on configure, removed on purge only, no service enabled)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-deb-" });
  try {
    // A pre-release sorts before its release in Debian's order: "-" becomes "~".
    const deb = await buildDeb(dir, "1.2.3-rc1", "arm64");
    assert.equal(deb, join(dir, "out", "burrow_1.2.3~rc1_arm64.deb"));
    const info = await run("dpkg-deb", ["-I", deb]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^ Package: burrow$/m);
    assert.match(info.stdout, /^ Version: 1\.2\.3~rc1$/m);
    assert.match(info.stdout, /^ Architecture: arm64$/m);
    // A shell script has no GLIBC versions: plain libc6.
    assert.match(info.stdout, /^ Depends: adduser, libc6$/m);
    for (const script of ["postinst", "prerm", "postrm", "conffiles"]) {
      assert.match(info.stdout, new RegExp(`\\s${script}\\s`));
    }
    const control = join(dir, "control");
    assert.equal((await run("dpkg-deb", ["-e", deb, control])).code, 0);
    assert.equal(
      await Deno.readTextFile(join(control, "conffiles")),
      [
        "/etc/burrow/server.jsonc",
        "/etc/burrow/agent.jsonc",
        "/etc/burrow/server.d/_example.com.jsonc",
        "/etc/burrow/agent.d/_example.com.jsonc",
        "",
      ].join("\n"),
    );
    for (const script of ["postinst", "prerm", "postrm"]) {
      const path = join(control, script);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o755, script);
      const syntax = await run("sh", ["-n", path]);
      assert.equal(syntax.code, 0, `${script}: ${syntax.stderr}`);
    }
    const postinst = await Deno.readTextFile(join(control, "postinst"));
    assert.match(postinst, /adduser --system --group --home \/var\/lib\/burrow/);
    assert.match(postinst, /chown burrow:burrow \/var\/lib\/burrow/);
    assert.doesNotMatch(postinst, /systemctl (enable|start)/);
    const postrm = await Deno.readTextFile(join(control, "postrm"));
    // Only the purge branch removes the data and the user.
    const purge = postrm.slice(postrm.indexOf("  purge)"));
    assert.match(purge, /rm -rf \/etc\/burrow \/var\/lib\/burrow/);
    assert.match(purge, /deluser --system burrow/);
    assert.doesNotMatch(postrm.slice(0, postrm.indexOf("  purge)")), /rm -rf|deluser|userdel/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build-deb.sh gives the same bytes twice and refuses a bad architecture; release-debs.sh builds both Linux packages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-deb-" });
  try {
    const first = await Deno.readFile(await buildDeb(dir, "1.2.3"));
    const second = await Deno.readFile(await buildDeb(dir, "1.2.3"));
    assert.deepEqual(first, second);
    const bad = await run("bash", [BUILD_DEB, await standIn(dir), "1.2.3", "i386", dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ARCH must be amd64 or arm64/);

    const bin = join(dir, "dist", "bin");
    await Deno.mkdir(bin, { recursive: true });
    for (const target of ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]) {
      await Deno.copyFile(await standIn(dir), join(bin, `burrow-${target}`));
    }
    const release = join(dir, "dist", "release");
    const made = await run("bash", [join(PACKAGING, "linux/release-debs.sh"), release, "1.2.3"]);
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual(
      [...Deno.readDirSync(release)].map((e) => e.name).sort(),
      ["burrow_1.2.3_amd64.deb", "burrow_1.2.3_arm64.deb"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
