/**
 * `packaging/windows/install-agent.ps1` off Windows: its help and parameters
 * read from the text, the C# service host compiled as C# 5 with Mono's `mcs`
 * (what the .NET Framework's csc.exe accepts), and, where PowerShell 7 runs
 * (`pwsh`: GitHub's runners, not this project's machines), the script parsed
 * by PowerShell's own parser, its `Get-Help`, and its platform-neutral
 * functions dot-sourced and run. The install itself (ACLs, the service) runs
 * on windows-latest in `.github/workflows/windows-agent.yml`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseAgentConfig } from "../../agent/config.ts";
import { HAS_PWSH, hasCommand, INSTALLER, pwshOk, runPwsh, serviceHostSource } from "./pwsh.ts";

const HAS_MCS = hasCommand("mcs", ["--version"]);
const NO_PWSH = !HAS_PWSH;

/** The parameter names of the script's `param(...)` block. */
async function scriptParameters(): Promise<string[]> {
  const text = await Deno.readTextFile(INSTALLER);
  const block = /\nparam\(([\s\S]*?)\n\)\n/.exec(text);
  assert.ok(block, "no param( ... ) block");
  return [...block[1]!.matchAll(/\[(?:string|switch)\]\$(\w+)/g)].map((m) => m[1]!);
}

Deno.test("install-agent.ps1 documents every parameter in its comment-based help", async () => {
  const text = await Deno.readTextFile(INSTALLER);
  const params = await scriptParameters();
  const documented = [...text.matchAll(/^\.PARAMETER (\w+)$/gm)].map((m) => m[1]!);
  assert.ok(params.length >= 15, `only ${params.length} parameters found`);
  assert.deepEqual([...documented].sort(), [...params].sort());
  assert.match(text, /\[CmdletBinding\(SupportsShouldProcess = \$true/);
  assert.match(text, /if \(\$MyInvocation\.InvocationName -ne '\.'\)/);
});

Deno.test("install-agent.ps1 takes no secret on its command line", async () => {
  const params = await scriptParameters();
  for (const name of params) {
    assert.doesNotMatch(name, /^(secret|password|token|key)$/i, `parameter -${name}`);
  }
  assert.ok(params.includes("SecretFile"));
});

Deno.test({
  name: "the service host compiles as C# 5 against System.ServiceProcess (mcs)",
  ignore: !HAS_MCS,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-cs-" });
    try {
      const source = join(dir, "burrow-service.cs");
      await Deno.writeTextFile(source, await serviceHostSource());
      const out = await new Deno.Command("mcs", {
        args: [
          "-langversion:5",
          "-warnaserror+",
          "-target:exe",
          `-out:${join(dir, "burrow-service.exe")}`,
          "-r:System.ServiceProcess.dll",
          source,
        ],
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.ok((await Deno.stat(join(dir, "burrow-service.exe"))).size > 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "install-agent.ps1 parses with no errors (PowerShell's parser)",
  ignore: NO_PWSH,
  fn: async () => {
    const out = await pwshOk(
      `$errors = $null
[void][System.Management.Automation.Language.Parser]::ParseFile('${INSTALLER}', [ref]$null, [ref]$errors)
$errors | ForEach-Object { "$($_.Extent.StartLineNumber): $($_.Message)" }
"count=$($errors.Count)"`,
      { load: false },
    );
    assert.match(out, /count=0\s*$/, out);
  },
});

Deno.test({
  name: "Get-Help install-agent.ps1 lists every parameter and the examples",
  ignore: NO_PWSH,
  fn: async () => {
    const out = await pwshOk(
      `$help = Get-Help '${INSTALLER}' -Full
@{ synopsis = [string]$help.Synopsis
   parameters = @($help.parameters.parameter | ForEach-Object { $_.name })
   examples = @($help.examples.example).Count } | ConvertTo-Json -Compress`,
      { load: false },
    );
    const help = JSON.parse(out) as { synopsis: string; parameters: string[]; examples: number };
    assert.match(help.synopsis, /Burrow agent as a Windows service/);
    for (const name of await scriptParameters()) assert.ok(help.parameters.includes(name), name);
    assert.ok(help.examples >= 4, `${help.examples} examples`);
  },
});

Deno.test({
  name: "Get-BurrowTarget maps AMD64 and ARM64 to the x86_64 build and refuses x86",
  ignore: NO_PWSH,
  fn: async () => {
    const out = await pwshOk(`Get-BurrowTarget -Architecture AMD64
Get-BurrowTarget -Architecture arm64
Get-BurrowArchiveName -Version v0.2.0 -Target (Get-BurrowTarget -Architecture AMD64)
Get-BurrowReleaseUrl -BaseUrl https://example.test/rel/ -Version 0.2.0 -FileName SHA256SUMS
try { Get-BurrowTarget -Architecture x86 } catch { "refused: $($_.Exception.Message)" }
try { Get-BurrowArchiveName -Version latest -Target t } catch { "refused: $($_.Exception.Message)" }`);
    const lines = out.trim().split(/\r?\n/);
    assert.deepEqual(lines.slice(0, 4), [
      "x86_64-pc-windows-msvc",
      "x86_64-pc-windows-msvc",
      "burrow-0.2.0-x86_64-pc-windows-msvc.zip",
      "https://example.test/rel/v0.2.0/SHA256SUMS",
    ]);
    assert.match(lines[4]!, /^refused: Unsupported processor architecture 'x86'/);
    assert.match(lines[5]!, /^refused: Version 'latest' is not like 0\.2\.0/);
  },
});

Deno.test({
  name: "Test-BurrowChecksum accepts the right hash and refuses a wrong one or a missing line",
  ignore: NO_PWSH,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-sums-" });
    try {
      const zip = join(dir, "burrow-0.2.0-x86_64-pc-windows-msvc.zip");
      const bytes = new TextEncoder().encode("not really a zip\n");
      await Deno.writeFile(zip, bytes);
      const hash = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
        .map((b) => b.toString(16).padStart(2, "0")).join("");
      const other = "0".repeat(64);
      await Deno.writeTextFile(
        join(dir, "SHA256SUMS"),
        `${other}  burrow-0.2.0-x86_64-apple-darwin.tar.gz\n${hash.toUpperCase()} *burrow-0.2.0-x86_64-pc-windows-msvc.zip\n`,
      );
      await Deno.writeTextFile(
        join(dir, "BAD"),
        `${other}  dist/burrow-0.2.0-x86_64-pc-windows-msvc.zip\n`,
      );
      const out = await pwshOk(`Test-BurrowChecksum -Path '${zip}' -SumsPath '${dir}/SHA256SUMS'
try { Test-BurrowChecksum -Path '${zip}' -SumsPath '${dir}/BAD' } catch { "refused: $($_.Exception.Message)" }
try { Test-BurrowChecksum -Path '${zip}' -SumsPath '${dir}/SHA256SUMS' -FileName other.zip } catch { "refused: $($_.Exception.Message)" }`);
      const lines = out.trim().split(/\r?\n/);
      assert.equal(lines[0], hash);
      assert.match(
        lines[1]!,
        new RegExp(`^refused: Checksum mismatch .*says ${other}, the file is ${hash}`),
      );
      assert.match(lines[2]!, /^refused: .*SHA256SUMS has no line for other\.zip/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ConvertTo-BurrowRemote splits wss URLs and host:port, and refuses others",
  ignore: NO_PWSH,
  fn: async () => {
    const out = await pwshOk(`@(
  'wss://tunnel.example.com', 'wss://tunnel.example.com:8443/', 'https://t.example.com/custom/path',
  '127.0.0.1:8443', 'wss://[::1]:9443'
) | ForEach-Object { $r = ConvertTo-BurrowRemote -Server $_; "$($r.Remote) $($r.Service)" }
foreach ($bad in @('http://t.example.com', 'wss://t.example.com:70000', 'tunnel.example.com')) {
  try { ConvertTo-BurrowRemote -Server $bad } catch { 'refused' }
}`);
    assert.deepEqual(out.trim().split(/\r?\n/), [
      "tunnel.example.com:443 /.well-known/burrow-agent",
      "tunnel.example.com:8443 /.well-known/burrow-agent",
      "t.example.com:443 /custom/path",
      "127.0.0.1:8443 /.well-known/burrow-agent",
      "[::1]:9443 /.well-known/burrow-agent",
      "refused",
      "refused",
      "refused",
    ]);
  },
});

Deno.test({
  name: "the config and secret the installer writes are what burrow agent reads",
  ignore: NO_PWSH,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-conf-" });
    try {
      await Deno.writeTextFile(join(dir, "given.secret"), "s3cret-line\nsecond line\n");
      await Deno.writeTextFile(join(dir, "hash.secret"), "$6$abc$def\n");
      const out = await pwshOk(
        `$text = New-BurrowAgentConfig -Name 'DB1' -Server 'wss://tunnel.example.com:8443' -WithCaFile
Write-BurrowTextFile -Path '${dir}/agent.jsonc' -Text $text
$secret = Read-BurrowSecretText -SecretFile '${dir}/given.secret'
Write-BurrowTextFile -Path '${dir}/agent.secret' -Text ($secret + [char]10)
try { Read-BurrowSecretText -SecretFile '${dir}/hash.secret' } catch { "refused: $($_.Exception.Message)" }
try { Get-BurrowAgentName -Name '-bad' } catch { 'refused name' }`,
      );
      assert.match(out, /refused: That is a \$6\$ hash/);
      assert.match(out, /refused name/);
      const file = join(dir, "agent.jsonc");
      const bytes = await Deno.readFile(join(dir, "agent.secret"));
      assert.notEqual(bytes[0], 0xef, "the secret file starts with a byte-order mark");
      assert.equal(new TextDecoder().decode(bytes), "s3cret-line\n");
      const config = parseAgentConfig(file, await Deno.readTextFile(file));
      assert.deepEqual(config.identity, {
        name: "db1",
        secret: null,
        secretFile: join(dir, "agent.secret"),
        remote: "tunnel.example.com:8443",
        service: "/.well-known/burrow-agent",
        insecure: false,
        caFile: join(dir, "ca.pem"),
      });
      assert.equal(config.domains, null);
      assert.deepEqual(config.log.system.map((s) => s.type === "file" ? s.path : s.type), [
        join(dir, "logs/agent.log"),
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "install-agent.ps1 -Uninstall -WhatIf changes nothing",
  ignore: NO_PWSH,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-whatif-" });
    try {
      await Deno.mkdir(join(dir, "prog"));
      await Deno.mkdir(join(dir, "data"));
      const result = await runPwsh(
        `& '${INSTALLER}' -Uninstall -WhatIf -InstallDir '${dir}/prog' -ConfigDir '${dir}/data' -ServiceName burrow-test-none`,
        { load: false },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /What if: .*Remove the folder/);
      assert.ok((await Deno.stat(join(dir, "prog"))).isDirectory);
      assert.ok((await Deno.stat(join(dir, "data"))).isDirectory);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
