/**
 * Builds the hashicorp/yamux interop peer (`go/yamux_peer/main.go`) once,
 * offline, with Debian's Go toolchain and yamux package.
 *
 * @module
 */

const HERE = new URL(".", import.meta.url);
const SOURCE_DIR = new URL("go/yamux_peer/", HERE);
const BUILD_DIR = new URL(".build/", HERE);
/** Where Debian's `golang-github-hashicorp-yamux-dev` installs the package. */
const GOPATH = "/usr/share/gocode";
const YAMUX_DIR = `${GOPATH}/src/github.com/hashicorp/yamux`;
const INSTALL_HINT = "apt-get install golang-go golang-github-hashicorp-yamux-dev";

let building: Promise<string> | null = null;

/**
 * Returns the path of the built Go peer, building it first when the binary is
 * missing or older than `main.go`. Concurrent callers share one build.
 *
 * @throws {Error} naming the Debian packages to install when Go or yamux is missing,
 * or carrying the compiler's output when the build fails.
 *
 * @example
 * ```ts
 * const bin = await buildGoPeer();
 * new Deno.Command(bin, { args: ["-addr", "127.0.0.1:4000"] });
 * ```
 */
export function buildGoPeer(): Promise<string> {
  building ??= build().catch((e) => {
    building = null;
    throw e;
  });
  return building;
}

async function build(): Promise<string> {
  const source = new URL("main.go", SOURCE_DIR);
  const binary = new URL("yamux_peer", BUILD_DIR);
  const binaryPath = decodeURIComponent(binary.pathname);
  const sourceTime = (await Deno.stat(source)).mtime?.getTime() ?? Infinity;
  const binaryTime = await Deno.stat(binary).then((s) => s.mtime?.getTime() ?? 0, () => 0);
  if (binaryTime > sourceTime) return binaryPath;

  await requireToolchain();
  await Deno.mkdir(BUILD_DIR, { recursive: true });
  // Build under a unique name, then rename: a concurrent test process never runs half a binary.
  const temp = `${binaryPath}.${Deno.pid}.tmp`;
  const out = await new Deno.Command("go", {
    args: ["build", "-o", temp, "."],
    cwd: SOURCE_DIR,
    env: {
      GO111MODULE: "off",
      GOPATH,
      GOCACHE: decodeURIComponent(new URL("gocache/", BUILD_DIR).pathname),
      GOFLAGS: "",
      CGO_ENABLED: "0",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(temp).catch(() => {});
    const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`Cannot build the Go yamux peer (go build exited ${out.code}):\n${log}`);
  }
  await Deno.rename(temp, binaryPath);
  return binaryPath;
}

async function requireToolchain(): Promise<void> {
  try {
    const out = await new Deno.Command("go", { args: ["version"], stdout: "null", stderr: "null" })
      .output();
    if (!out.success) throw new Error(`"go version" exited ${out.code}`);
  } catch (e) {
    throw new Error(
      `The hashicorp/yamux interop test needs Go: ${INSTALL_HINT} (${(e as Error).message})`,
    );
  }
  try {
    await Deno.stat(`${YAMUX_DIR}/session.go`);
  } catch {
    throw new Error(
      `The hashicorp/yamux interop test needs ${YAMUX_DIR}: ${INSTALL_HINT}`,
    );
  }
}
