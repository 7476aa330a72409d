/**
 * `packaging/archive.sh` and `packaging/sha256sums.sh` run for real on a
 * stand-in binary: what each archive holds, its modes, its reproducibility,
 * and a SHA256SUMS that `sha256sum -c` accepts.
 */
import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ARCHIVE = join(ROOT, "packaging", "archive.sh");
const SUMS = join(ROOT, "packaging", "sha256sums.sh");
/** The scripts need GNU tar, zip and sha256sum: the release workflow runs them on Linux. */
const ignore = Deno.build.os !== "linux";

/** This process's environment without `BURROW_*` variables (a shell's would outrank the samples). */
function ownEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("BURROW_")),
  );
}

async function sh(
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
): Promise<{ code: number; out: string; err: string }> {
  const run = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    cwd,
    env: { ...ownEnv(), SOURCE_DATE_EPOCH: "1700000000", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: run.code, out: text(run.stdout), err: text(run.stderr) };
}

/** The entries of the tree the archive should hold, as `tar`/`unzip` list them. */
async function confFiles(root: string, folder = "conf"): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, rel: string) {
    for await (const e of Deno.readDir(dir)) {
      if (`${rel}${e.name}` === "conf/data") continue; // the samples' dataDir: never packed
      if (e.isDirectory) await walk(join(dir, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  }
  await walk(join(root, folder), `${folder}/`);
  return out;
}

Deno.test({
  name:
    "archive.sh packs binary, conf samples and README as tar.gz (0755 burrow) and zip (burrow.exe)",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "burrow-archive-" });
    try {
      const binary = join(dir, "stand-in");
      await Deno.writeTextFile(binary, "#!/bin/sh\necho stand-in\n", { mode: 0o644 });
      const linux = await sh([
        ARCHIVE,
        "aarch64-unknown-linux-gnu",
        binary,
        join(dir, "out"),
        "1.2.3",
      ]);
      assert.equal(linux.code, 0, linux.err);
      const tgz = join(dir, "out", "burrow-1.2.3-aarch64-unknown-linux-gnu.tar.gz");
      assert.equal(linux.out, `${tgz}\n`);
      const listing = (await sh(["tar", "-tvzf", tgz])).out;
      const top = "burrow-1.2.3-aarch64-unknown-linux-gnu/";
      assert.match(listing, new RegExp(`^-rwxr-xr-x 0/0 .* ${top}burrow$`, "m"));
      const names = (await sh(["tar", "-tzf", tgz])).out.split("\n").filter((n) =>
        !n.endsWith("/")
      );
      const hasLicense = await Deno.stat(join(ROOT, "LICENSE")).then(() => true, () => false);
      const expected = [
        "burrow",
        "README.md",
        ...(hasLicense ? ["LICENSE"] : []),
        ...await confFiles(ROOT),
        ...await confFiles(ROOT, "docs"),
        "packaging/install.sh",
        ...await confFiles(ROOT, "packaging/linux"),
      ];
      assert.deepEqual(names.filter(Boolean).sort(), expected.map((n) => top + n).sort());
      // An unpacked Linux archive installs with its own install.sh, away from a source checkout.
      await Deno.mkdir(join(dir, "unpacked"));
      const untar = await sh(["tar", "-xzf", tgz, "-C", join(dir, "unpacked")]);
      assert.equal(untar.code, 0, untar.err);
      const install = await sh([
        "bash",
        join(dir, "unpacked", top, "packaging", "install.sh"),
        "--root",
        join(dir, "root"),
      ]);
      assert.equal(install.code, 0, install.err + install.out);
      await Deno.stat(join(dir, "root", "usr", "local", "bin", "burrow"));
      await Deno.stat(join(dir, "root", "etc", "systemd", "system", "burrow-server.service"));

      const again = await sh([
        ARCHIVE,
        "aarch64-unknown-linux-gnu",
        binary,
        join(dir, "again"),
        "1.2.3",
      ]);
      assert.equal(again.code, 0, again.err);
      const bytes = (p: string) => Deno.readFile(p);
      assert.deepEqual(
        await bytes(join(dir, "again", "burrow-1.2.3-aarch64-unknown-linux-gnu.tar.gz")),
        await bytes(tgz),
        "the same inputs give the same archive",
      );

      const win = await sh([ARCHIVE, "x86_64-pc-windows-msvc", binary, join(dir, "out"), "1.2.3"]);
      assert.equal(win.code, 0, win.err);
      const zip = join(dir, "out", "burrow-1.2.3-x86_64-pc-windows-msvc.zip");
      const zipped = (await sh(["unzip", "-Z1", zip])).out.split("\n").filter(Boolean);
      const wtop = "burrow-1.2.3-x86_64-pc-windows-msvc/";
      assert.ok(zipped.includes(`${wtop}burrow.exe`), zipped.join("\n"));
      assert.ok(zipped.includes(`${wtop}conf/agent.jsonc`), zipped.join("\n"));
      assert.ok(zipped.includes(`${wtop}README.md`), zipped.join("\n"));
      // The samples' "Reference: docs/config.md" is in the archive too.
      assert.ok(zipped.includes(`${wtop}docs/config.md`), zipped.join("\n"));

      const sums = await sh([SUMS, join(dir, "out")]);
      assert.equal(sums.code, 0, sums.err);
      const lines = (await Deno.readTextFile(join(dir, "out", "SHA256SUMS"))).trim().split("\n");
      assert.deepEqual(lines.map((l) => l.split("  ")[1]), [
        "burrow-1.2.3-aarch64-unknown-linux-gnu.tar.gz",
        "burrow-1.2.3-x86_64-pc-windows-msvc.zip",
      ]);
      const verify = await sh(["sha256sum", "-c", "SHA256SUMS"], {}, join(dir, "out"));
      assert.equal(verify.code, 0, verify.err);
      await Deno.writeTextFile(zip, "tampered");
      const tampered = await sh(["sha256sum", "-c", "SHA256SUMS"], {}, join(dir, "out"));
      assert.equal(tampered.code, 1, "a changed archive fails the check");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "archive.sh includes LICENSE when the tree has one, leaves out conf/data, refuses bad arguments",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "burrow-archive-" });
    try {
      const root = join(dir, "tree");
      await cp(join(ROOT, "conf"), join(root, "conf"), { recursive: true });
      await Deno.writeTextFile(join(root, "README.md"), "readme\n");
      await Deno.writeTextFile(join(root, "LICENSE"), "license text\n");
      // What `burrow server --config conf/server.jsonc` leaves in a checkout (its dataDir).
      await Deno.mkdir(join(root, "conf", "data"), { recursive: true });
      await Deno.writeTextFile(join(root, "conf", "data", "burrow.db"), "agents and addresses");
      const binary = join(dir, "burrow");
      await Deno.writeTextFile(binary, "stand-in");
      const env = { ARCHIVE_ROOT: root };
      const made = await sh([ARCHIVE, "x86_64-apple-darwin", binary, dir, "0.0.1"], env);
      assert.equal(made.code, 0, made.err);
      const license = await sh([
        "tar",
        "-xzOf",
        join(dir, "burrow-0.0.1-x86_64-apple-darwin.tar.gz"),
        "burrow-0.0.1-x86_64-apple-darwin/LICENSE",
      ]);
      assert.equal(license.out, "license text\n");
      const listing = await sh([
        "tar",
        "-tzf",
        join(dir, "burrow-0.0.1-x86_64-apple-darwin.tar.gz"),
      ]);
      assert.doesNotMatch(listing.out, /conf\/data/);
      assert.match(listing.out, /conf\/server\.jsonc/);

      assert.equal((await sh([ARCHIVE, "x86_64-apple-darwin", binary, dir], env)).code, 2);
      assert.equal((await sh([ARCHIVE, "not a target", binary, dir, "1"], env)).code, 2);
      const missing = await sh([ARCHIVE, "x86_64-apple-darwin", join(dir, "nope"), dir, "1"], env);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /no binary at/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an unpacked archive passes smoke.ts as the release workflow runs it (stand-in binary)",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "burrow-archive-smoke-" });
    try {
      const binary = join(dir, "stand-in");
      const main = join(ROOT, "main.ts");
      await Deno.writeTextFile(
        binary,
        `#!/bin/sh\nexec '${Deno.execPath()}' run -A '${main}' "$@"\n`,
      );
      const target = Deno.build.target;
      const made = await sh([ARCHIVE, target, binary, join(dir, "release"), "7.7.7"]);
      assert.equal(made.code, 0, made.err);
      await Deno.mkdir(join(dir, "unpacked"));
      const name = `burrow-7.7.7-${target}`;
      const untar = await sh(["tar", "-xzf", `release/${name}.tar.gz`, "-C", "unpacked"], {}, dir);
      assert.equal(untar.code, 0, untar.err);
      const smoke = await sh(
        [
          Deno.execPath(),
          "run",
          "-A",
          join(ROOT, "packaging", "smoke.ts"),
          "--conf",
          `unpacked/${name}/conf`,
          "--target",
          target,
          "--",
          `unpacked/${name}/burrow`,
        ],
        {},
        dir,
      );
      assert.equal(smoke.code, 0, smoke.out + smoke.err);
      assert.match(smoke.out, /smoke: check ok: 4 samples\n/);
      assert.match(smoke.out, /smoke: all ok\n$/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
