<#
.SYNOPSIS
Installs, upgrades or removes the Burrow agent as a Windows service.

.DESCRIPTION
Gets burrow.exe from a release archive (downloaded for this machine's
architecture, or a local -Archive), checks the archive's SHA-256 against the
release's SHA256SUMS, writes the agent's config and secret under
%ProgramData%\Burrow (readable by SYSTEM and Administrators only), and
registers the service "burrow-agent": it starts at boot, runs as LocalSystem,
and is restarted by the service control manager when it fails.

The service host is burrow-service.exe, a small program compiled on this
machine from the C# source in this script with the .NET Framework compiler
that ships with Windows (no download). It answers the service control
manager, runs "burrow.exe agent --config <file>" as its child, stops it with
Ctrl-C (Burrow's clean stop), and exits with an error when the agent exits on
its own, so the service's recovery actions restart it. See
docs/install-windows.md for why.

A second run upgrades in place: the new binary is checked, the service is
stopped, the binary swapped, the service started again (the old binary is put
back if the new one does not start). The config and the secret are kept
unless -Server, -Name, -SecretFile or -CaFile are given again.

The secret is read from -SecretFile (its first line) or typed at a prompt
that does not echo it. It never appears on a command line, in the console,
in PowerShell's history or in the service's configuration: it is written to
%ProgramData%\Burrow\agent.secret only.

-Uninstall stops and deletes the service and removes the program folder and
the config folder (config, secret, logs); -KeepConfig keeps the config folder.

Every change supports -WhatIf and -Confirm. Run from an elevated PowerShell
(Windows PowerShell 5.1 or PowerShell 7).

.PARAMETER Version
Release version to download, e.g. 0.2.0 (a leading "v" is allowed). With
-BaseUrl; not used with -Archive or -Binary.

.PARAMETER BaseUrl
Where releases are published: the archive is fetched from
<BaseUrl>/v<Version>/burrow-<Version>-<target>.zip and the checksums from
<BaseUrl>/v<Version>/SHA256SUMS. For GitHub releases:
https://github.com/<owner>/<repo>/releases/download

.PARAMETER Archive
A release archive already on this machine (burrow-<version>-<target>.zip),
instead of downloading one. Checked against -Sums.

.PARAMETER Sums
The SHA256SUMS file for -Archive. Default: SHA256SUMS beside the archive.

.PARAMETER Binary
A burrow.exe already on this machine (a local build), instead of an archive.
Checked against -Sha256 when given; otherwise installed with a warning.

.PARAMETER Sha256
Expected SHA-256 (hex) of -Binary.

.PARAMETER Server
The server the agent connects to: wss://host[:port][/path] (port 443 and
path /.well-known/burrow-agent when left out) or host:port. Required on the
first install.

.PARAMETER Name
The agent's name (letters, digits, ".", "-" and "_"; lower-cased). Default:
this computer's name, lower-cased.

.PARAMETER SecretFile
A file whose first line is the agent's secret. Without it the secret is
asked for at a prompt (first install only). The file is copied; delete it
afterwards if it is not kept elsewhere on purpose.

.PARAMETER CaFile
A CA certificate (PEM) to trust for the server, for a private CA. Copied
into the config folder.

.PARAMETER Insecure
Skips the server certificate check (tests only: anyone on the path can read
the tunnel). Burrow logs a warning at every connection.

.PARAMETER ServiceName
The service's name. Default burrow-agent.

.PARAMETER InstallDir
Where burrow.exe and burrow-service.exe go. Default %ProgramFiles%\Burrow.

.PARAMETER ConfigDir
Where agent.jsonc, agent.secret, the CA file and logs go. Default
%ProgramData%\Burrow (Burrow's default config place on Windows).

.PARAMETER Uninstall
Stops and deletes the service and removes what the install made.

.PARAMETER KeepConfig
With -Uninstall: keep the config folder (config, secret, logs).

.EXAMPLE
PS> .\install-agent.ps1 -Version 0.2.0 -BaseUrl https://github.com/OWNER/burrow/releases/download -Server wss://tunnel.example.com -Name db1
Downloads the x86_64 Windows archive of 0.2.0, checks it, asks for the
secret, installs and starts the service.

.EXAMPLE
PS> .\install-agent.ps1 -Archive .\burrow-0.2.0-x86_64-pc-windows-msvc.zip -Server wss://tunnel.example.com:8443 -SecretFile .\db1.secret
Installs from an archive downloaded by hand, with SHA256SUMS beside it.

.EXAMPLE
PS> .\install-agent.ps1 -Archive .\burrow-0.3.0-x86_64-pc-windows-msvc.zip
Upgrades an installed agent in place, keeping its config and secret.

.EXAMPLE
PS> .\install-agent.ps1 -Uninstall -WhatIf
Shows what -Uninstall would remove, without removing anything.

.LINK
docs/install-windows.md
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Download')]
param(
    [Parameter(ParameterSetName = 'Download')][string]$Version,
    [Parameter(ParameterSetName = 'Download')][string]$BaseUrl,
    [Parameter(ParameterSetName = 'Archive', Mandatory = $true)][string]$Archive,
    [Parameter(ParameterSetName = 'Archive')][string]$Sums,
    [Parameter(ParameterSetName = 'Binary', Mandatory = $true)][string]$Binary,
    [Parameter(ParameterSetName = 'Binary')][string]$Sha256,
    [Parameter(ParameterSetName = 'Download')]
    [Parameter(ParameterSetName = 'Archive')]
    [Parameter(ParameterSetName = 'Binary')][string]$Server,
    [Parameter(ParameterSetName = 'Download')]
    [Parameter(ParameterSetName = 'Archive')]
    [Parameter(ParameterSetName = 'Binary')][string]$Name,
    [Parameter(ParameterSetName = 'Download')]
    [Parameter(ParameterSetName = 'Archive')]
    [Parameter(ParameterSetName = 'Binary')][string]$SecretFile,
    [Parameter(ParameterSetName = 'Download')]
    [Parameter(ParameterSetName = 'Archive')]
    [Parameter(ParameterSetName = 'Binary')][string]$CaFile,
    [Parameter(ParameterSetName = 'Download')]
    [Parameter(ParameterSetName = 'Archive')]
    [Parameter(ParameterSetName = 'Binary')][switch]$Insecure,
    [string]$ServiceName = 'burrow-agent',
    [string]$InstallDir = $(if ($env:ProgramFiles) { Join-Path $env:ProgramFiles 'Burrow' } else { 'Burrow' }),
    [string]$ConfigDir = $(if ($env:ProgramData) { Join-Path $env:ProgramData 'Burrow' } else { 'Burrow' }),
    [Parameter(ParameterSetName = 'Uninstall', Mandatory = $true)][switch]$Uninstall,
    [Parameter(ParameterSetName = 'Uninstall')][switch]$KeepConfig
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

# An agent name: as shared/auth/identity_name.ts (lower-case letters, digits,
# ".", "-", "_", starting and ending with a letter or digit, 1 to 253 long).
$script:BurrowNamePattern = '^[a-z0-9](?:[a-z0-9._-]{0,251}[a-z0-9])?$'
# The URL path agents connect to when -Server gives none (shared/protocol.ts).
$script:BurrowAgentPath = '/.well-known/burrow-agent'
# File names inside -ConfigDir and -InstallDir.
$script:BurrowFiles = @{
    Config = 'agent.jsonc'; Secret = 'agent.secret'; Ca = 'ca.pem'; Log = 'logs/agent.log'
    Binary = 'burrow.exe'; Host = 'burrow-service.exe'; HostSource = 'burrow-service.cs'
}

# ---------------------------------------------------------------------------
# Pure helpers: no Windows-only calls; tests dot-source the script and run
# these on any OS (tests/packaging/windows_installer_test.ts).
# ---------------------------------------------------------------------------

function Get-BurrowTarget {
    <# .SYNOPSIS The release target (Rust triple) for a processor architecture. #>
    param([string]$Architecture = $(if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }))
    switch (([string]$Architecture).ToUpperInvariant()) {
        'AMD64' { return 'x86_64-pc-windows-msvc' }
        # Windows on ARM runs x64 programs under emulation; there is no
        # aarch64 Windows build of Deno's runtime to compile for.
        'ARM64' { return 'x86_64-pc-windows-msvc' }
        default { throw "Unsupported processor architecture '$Architecture': Burrow ships x86_64 Windows builds (AMD64, or ARM64 under emulation)" }
    }
}

function ConvertTo-BurrowVersion {
    <# .SYNOPSIS A version without its leading "v", checked. #>
    param([Parameter(Mandatory = $true)][string]$Version)
    $v = $Version.Trim() -replace '^[vV]', ''
    if ($v -notmatch '^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$') {
        throw "Version '$Version' is not like 0.2.0"
    }
    return $v
}

function Get-BurrowArchiveName {
    <# .SYNOPSIS The release archive's file name: burrow-<version>-<target>.zip. #>
    param([Parameter(Mandatory = $true)][string]$Version, [Parameter(Mandatory = $true)][string]$Target)
    return "burrow-$(ConvertTo-BurrowVersion $Version)-$Target.zip"
}

function Get-BurrowReleaseUrl {
    <# .SYNOPSIS The URL of one release file: <BaseUrl>/v<version>/<file>. #>
    param([Parameter(Mandatory = $true)][string]$BaseUrl, [Parameter(Mandatory = $true)][string]$Version,
        [Parameter(Mandatory = $true)][string]$FileName)
    if ($BaseUrl -notmatch '^https://') { throw "BaseUrl '$BaseUrl' must start with https://" }
    return '{0}/v{1}/{2}' -f $BaseUrl.TrimEnd('/'), (ConvertTo-BurrowVersion $Version), $FileName
}

function Read-BurrowSums {
    <# .SYNOPSIS The lines of a SHA256SUMS file as a table: file name -> lower-case hex hash. #>
    param([Parameter(Mandatory = $true)][string]$Path)
    $sums = @{}
    foreach ($line in [IO.File]::ReadAllLines((Resolve-Path -LiteralPath $Path).ProviderPath)) {
        # sha256sum writes "<hash>  <name>" (text) or "<hash> *<name>" (binary).
        if ($line -match '^([0-9A-Fa-f]{64}) [ *](.+)$') {
            $file = ($Matches[2].Trim() -split '[/\\]')[-1]
            $sums[$file] = $Matches[1].ToLowerInvariant()
        }
    }
    return $sums
}

function Test-BurrowChecksum {
    <# .SYNOPSIS Checks a file's SHA-256 against its SHA256SUMS line; returns the hash or throws. #>
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][string]$SumsPath,
        [string]$FileName = (Split-Path -Leaf $Path))
    $sums = Read-BurrowSums -Path $SumsPath
    if (-not $sums.ContainsKey($FileName)) { throw "$SumsPath has no line for $FileName" }
    $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant()
    if ($actual -ne $sums[$FileName]) {
        throw "Checksum mismatch for ${FileName}: SHA256SUMS says $($sums[$FileName]), the file is $actual"
    }
    return $actual
}

function ConvertTo-BurrowRemote {
    <# .SYNOPSIS Splits -Server (wss://host[:port][/path] or host:port) into the config's remote and service. #>
    param([Parameter(Mandatory = $true)][string]$Server)
    $hostPart = '(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)'
    if ($Server -match "^(?:wss|https)://$hostPart(?::([0-9]{1,5}))?(/[^?#\s]*)?$") {
        $port = if ($Matches[2]) { [int]$Matches[2] } else { 443 }
        $path = if ($Matches[3] -and $Matches[3] -ne '/') { $Matches[3] } else { $script:BurrowAgentPath }
        $hostName = $Matches[1]
    } elseif ($Server -match "^${hostPart}:([0-9]{1,5})$") {
        $hostName = $Matches[1]; $port = [int]$Matches[2]; $path = $script:BurrowAgentPath
    } else {
        throw "Server '$Server' is not wss://host[:port][/path] or host:port"
    }
    if ($port -lt 1 -or $port -gt 65535) { throw "Server '$Server' has port $port, not 1 to 65535" }
    return [pscustomobject]@{ Remote = "${hostName}:$port"; Service = $path }
}

function Get-BurrowAgentName {
    <# .SYNOPSIS The agent's name, lower-cased and checked (default: the computer name). #>
    param([string]$Name = $env:COMPUTERNAME)
    $n = ([string]$Name).ToLowerInvariant()
    if ($n -notmatch $script:BurrowNamePattern) {
        throw "Name '$Name' is not 1 to 253 letters, digits, '.', '-' or '_' starting and ending with a letter or digit: give -Name"
    }
    return $n
}

function New-BurrowAgentConfig {
    <# .SYNOPSIS The agent's main file (JSON, a subset of JSONC) for conf/agent.full.jsonc's identity keys. #>
    param([Parameter(Mandatory = $true)][string]$Name, [Parameter(Mandatory = $true)][string]$Server,
        [switch]$WithCaFile, [switch]$Insecure)
    $remote = ConvertTo-BurrowRemote -Server $Server
    $config = [ordered]@{ mode = 'agent'; name = (Get-BurrowAgentName -Name $Name) }
    # Relative paths are read from the config file's folder.
    $config.secretFile = $script:BurrowFiles.Secret
    $config.remote = $remote.Remote
    $config.service = $remote.Service
    if ($WithCaFile) { $config.caFile = $script:BurrowFiles.Ca }
    if ($Insecure) { $config.insecure = $true }
    # A service has no console to read: log to a rotated file beside the config.
    $config.log = [ordered]@{ system = @([ordered]@{ file = $script:BurrowFiles.Log }) }
    $header = "// Burrow agent, written by install-agent.ps1. Keys: conf/agent.full.jsonc.`n"
    return $header + ($config | ConvertTo-Json -Depth 5) + "`n"
}

function Read-BurrowSecretText {
    <# .SYNOPSIS The secret: the first line of -SecretFile, or typed at a prompt that does not echo. #>
    param([string]$SecretFile)
    if ($SecretFile) {
        $secret = [string](Get-Content -LiteralPath $SecretFile -TotalCount 1)
    } else {
        $secure = Read-Host -Prompt 'Agent secret (not shown)' -AsSecureString
        $bstr = [Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure)
        try { $secret = [Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr) }
        finally { [Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr) }
    }
    $secret = $secret.Trim()
    if ($secret -eq '') { throw 'The secret is empty' }
    if ($secret.StartsWith('$6$')) { throw 'That is a $6$ hash: the agent needs the secret itself (the server keeps the hash)' }
    return $secret
}

function Write-BurrowTextFile {
    <# .SYNOPSIS Writes UTF-8 text without a byte-order mark (the agent reads the secret's first line as is). #>
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text)
    # Resolved as PowerShell does (its location, not the process's working folder).
    $full = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    [IO.File]::WriteAllText($full, $Text, (New-Object Text.UTF8Encoding $false))
}

function Get-BurrowServiceHostSource {
    <# .SYNOPSIS The C# 5 source of burrow-service.exe, the service host. #>
    return @'
// Burrow's Windows service host, written and compiled by install-agent.ps1
// with the .NET Framework's csc.exe. Usage (as the service's command line):
//   burrow-service.exe SERVICE_NAME BURROW_EXE CONFIG_FILE
// Answers the service control manager and runs "BURROW_EXE agent --config
// CONFIG_FILE". Stop and shutdown send the agent Ctrl-C (its clean stop) and
// wait; an agent that exits on its own ends this process with an error, so
// the service's recovery actions restart it.
using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.ServiceProcess;

public sealed class BurrowServiceHost : ServiceBase
{
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool AttachConsole(uint processId);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool FreeConsole();
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool SetConsoleCtrlHandler(IntPtr handler, bool add);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool GenerateConsoleCtrlEvent(uint ctrlEvent, uint processGroupId);

    [DllImport("kernel32.dll", SetLastError = true)]
    static extern IntPtr CreateJobObject(IntPtr attributes, string name);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool SetInformationJobObject(IntPtr job, int infoClass, ref ExtendedLimits info, uint size);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool AssignProcessToJobObject(IntPtr job, IntPtr process);

    [StructLayout(LayoutKind.Sequential)]
    struct ExtendedLimits
    {
        public long PerProcessUserTimeLimit, PerJobUserTimeLimit;
        public uint LimitFlags;
        public UIntPtr MinimumWorkingSetSize, MaximumWorkingSetSize;
        public uint ActiveProcessLimit;
        public UIntPtr Affinity;
        public uint PriorityClass, SchedulingClass;
        public ulong ReadOperationCount, WriteOperationCount, OtherOperationCount;
        public ulong ReadTransferCount, WriteTransferCount, OtherTransferCount;
        public UIntPtr ProcessMemoryLimit, JobMemoryLimit, PeakProcessMemoryUsed, PeakJobMemoryUsed;
    }

    const int JobObjectExtendedLimitInformation = 9;
    const uint JobObjectLimitKillOnJobClose = 0x2000;
    const uint CtrlCEvent = 0;
    const int CleanStopMs = 15000;

    readonly string binary;
    readonly string config;
    Process child;
    IntPtr job;
    volatile bool stopping;

    public BurrowServiceHost(string name, string binary, string config)
    {
        ServiceName = name;
        CanStop = true;
        CanShutdown = true;
        AutoLog = true;
        this.binary = binary;
        this.config = config;
    }

    protected override void OnStart(string[] args)
    {
        ProcessStartInfo info = new ProcessStartInfo(binary, "agent --config \"" + config + "\"");
        info.UseShellExecute = false;
        // A console without a window: Ctrl-C reaches the agent through it.
        info.CreateNoWindow = true;
        info.WorkingDirectory = Path.GetDirectoryName(config);
        child = new Process();
        child.StartInfo = info;
        child.EnableRaisingEvents = true;
        child.Exited += OnChildExited;
        child.Start();
        KeepWithThisProcess(child);
    }

    // Puts the agent in a job that Windows closes when this process ends,
    // however it ends: a killed service host leaves no agent behind to run
    // twice after the restart.
    void KeepWithThisProcess(Process process)
    {
        job = CreateJobObject(IntPtr.Zero, null);
        ExtendedLimits limits = new ExtendedLimits();
        limits.LimitFlags = JobObjectLimitKillOnJobClose;
        if (job == IntPtr.Zero ||
            !SetInformationJobObject(job, JobObjectExtendedLimitInformation, ref limits, (uint)Marshal.SizeOf(typeof(ExtendedLimits))) ||
            !AssignProcessToJobObject(job, process.Handle))
        {
            try
            {
                EventLog.WriteEntry("Cannot tie the agent to the service host (error " + Marshal.GetLastWin32Error() +
                    "): it may outlive a killed host", EventLogEntryType.Warning);
            }
            catch (Exception) { }
        }
    }

    void OnChildExited(object sender, EventArgs e)
    {
        if (stopping) return;
        int code = child.ExitCode;
        try
        {
            EventLog.WriteEntry("burrow agent exited with code " + code +
                "; the service ends so that its recovery actions restart it", EventLogEntryType.Error);
        }
        catch (Exception) { }
        Environment.Exit(code == 0 ? 1 : code);
    }

    protected override void OnStop() { StopChild(); }

    protected override void OnShutdown() { StopChild(); }

    void StopChild()
    {
        stopping = true;
        if (child == null || child.HasExited) return;
        RequestAdditionalTime(CleanStopMs + 10000);
        if (!(SendCtrlC(child) && child.HasExited))
        {
            try { child.Kill(); } catch (InvalidOperationException) { }
            child.WaitForExit(10000);
        }
    }

    // Joins the agent's console, sends Ctrl-C to it (ignored here) and waits
    // for the agent to exit; true when the event was sent.
    static bool SendCtrlC(Process process)
    {
        FreeConsole();
        if (!AttachConsole((uint)process.Id)) return false;
        try
        {
            SetConsoleCtrlHandler(IntPtr.Zero, true);
            if (!GenerateConsoleCtrlEvent(CtrlCEvent, 0)) return false;
            process.WaitForExit(CleanStopMs);
            return true;
        }
        finally
        {
            FreeConsole();
            SetConsoleCtrlHandler(IntPtr.Zero, false);
        }
    }

    public static int Main(string[] argv)
    {
        if (argv.Length != 3)
        {
            Console.Error.WriteLine("Usage: burrow-service.exe SERVICE_NAME BURROW_EXE CONFIG_FILE");
            return 2;
        }
        ServiceBase.Run(new BurrowServiceHost(argv[0], argv[1], argv[2]));
        return 0;
    }
}
'@
}

# ---------------------------------------------------------------------------
# Windows steps.
# ---------------------------------------------------------------------------

function Assert-BurrowAdministrator {
    $principal = New-Object Security.Principal.WindowsPrincipal ([Security.Principal.WindowsIdentity]::GetCurrent())
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'Run this from an elevated PowerShell (Run as administrator)'
    }
}

function Set-BurrowRestrictedAcl {
    <# .SYNOPSIS Limits a file or folder to SYSTEM and Administrators (full control), inherited rights removed. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not $PSCmdlet.ShouldProcess($Path, 'Limit access to SYSTEM and Administrators')) { return }
    $isFolder = Test-Path -LiteralPath $Path -PathType Container
    $acl = if ($isFolder) { New-Object Security.AccessControl.DirectorySecurity } else { New-Object Security.AccessControl.FileSecurity }
    $acl.SetAccessRuleProtection($true, $false)
    $admins = New-Object Security.Principal.SecurityIdentifier 'S-1-5-32-544'
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $id = New-Object Security.Principal.SecurityIdentifier $sid
        $rule = if ($isFolder) {
            New-Object Security.AccessControl.FileSystemAccessRule($id, 'FullControl', 'ContainerInherit,ObjectInherit', 'None', 'Allow')
        } else {
            New-Object Security.AccessControl.FileSystemAccessRule($id, 'FullControl', 'Allow')
        }
        $acl.AddAccessRule($rule)
    }
    $acl.SetOwner($admins)
    Set-Acl -LiteralPath $Path -AclObject $acl
}

function Get-BurrowBinary {
    <# .SYNOPSIS Fetches or unpacks burrow.exe into $Work after checking it; its path, or $null under -WhatIf. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string]$Work)
    if ($Binary) {
        if ($Sha256) {
            $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $Binary).Hash.ToLowerInvariant()
            if ($actual -ne $Sha256.ToLowerInvariant()) { throw "Checksum mismatch for ${Binary}: expected $Sha256, the file is $actual" }
        } else {
            Write-Warning "No -Sha256 given: installing $Binary unchecked"
        }
        return (Resolve-Path -LiteralPath $Binary).ProviderPath
    }
    $zip = $Archive
    $sumsPath = $Sums
    if (-not $zip) {
        if (-not $Version -or -not $BaseUrl) { throw 'Give -Version and -BaseUrl to download, or -Archive, or -Binary' }
        $name = Get-BurrowArchiveName -Version $Version -Target (Get-BurrowTarget)
        $zip = Join-Path $Work $name
        $sumsPath = Join-Path $Work 'SHA256SUMS'
        if (-not $PSCmdlet.ShouldProcess((Get-BurrowReleaseUrl $BaseUrl $Version $name), 'Download')) { return $null }
        $ProgressPreference = 'SilentlyContinue'
        Invoke-WebRequest -UseBasicParsing -Uri (Get-BurrowReleaseUrl $BaseUrl $Version $name) -OutFile $zip
        Invoke-WebRequest -UseBasicParsing -Uri (Get-BurrowReleaseUrl $BaseUrl $Version 'SHA256SUMS') -OutFile $sumsPath
    }
    if (-not $sumsPath) { $sumsPath = Join-Path (Split-Path -Parent (Resolve-Path -LiteralPath $zip).ProviderPath) 'SHA256SUMS' }
    $hash = Test-BurrowChecksum -Path $zip -SumsPath $sumsPath
    Write-Host "Checked $(Split-Path -Leaf $zip): SHA-256 $hash"
    $unpacked = Join-Path $Work 'unpacked'
    Expand-Archive -LiteralPath $zip -DestinationPath $unpacked -Force -WhatIf:$false
    $exe = Get-ChildItem -LiteralPath $unpacked -Recurse -Filter $script:BurrowFiles.Binary | Select-Object -First 1
    if (-not $exe) { throw "$zip holds no $($script:BurrowFiles.Binary)" }
    return $exe.FullName
}

function Invoke-BurrowRetry {
    <# .SYNOPSIS Runs $Action until it stops throwing (a file still held by a stopping process), 20 tries. #>
    param([Parameter(Mandatory = $true)][scriptblock]$Action)
    for ($try = 1; ; $try++) {
        try { return & $Action }
        catch { if ($try -ge 20) { throw }; Start-Sleep -Milliseconds 500 }
    }
}

function Install-BurrowConfig {
    <# .SYNOPSIS Writes agent.jsonc, agent.secret and ca.pem under -ConfigDir, or keeps those already there. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    $configPath = Join-Path $ConfigDir $script:BurrowFiles.Config
    $secretPath = Join-Path $ConfigDir $script:BurrowFiles.Secret
    $caPath = Join-Path $ConfigDir $script:BurrowFiles.Ca
    if (-not (Test-Path -LiteralPath $ConfigDir) -and $PSCmdlet.ShouldProcess($ConfigDir, 'Create folder')) {
        New-Item -ItemType Directory -Path $ConfigDir | Out-Null
    }
    # Limited before anything is written into it: files made inside inherit it.
    if (Test-Path -LiteralPath $ConfigDir) { Set-BurrowRestrictedAcl -Path $ConfigDir }
    if (-not (Test-Path -LiteralPath $configPath) -or $Server -or $Name -or $CaFile -or $Insecure) {
        if (-not $Server) { throw 'Give -Server (wss://host[:port]) to write the agent config' }
        $agentName = Get-BurrowAgentName -Name $(if ($Name) { $Name } else { $env:COMPUTERNAME })
        $text = New-BurrowAgentConfig -Name $agentName -Server $Server -WithCaFile:([bool]$CaFile) -Insecure:$Insecure
        if ($CaFile -and $PSCmdlet.ShouldProcess($caPath, "Copy $CaFile")) {
            Copy-Item -LiteralPath $CaFile -Destination $caPath -Force
            Set-BurrowRestrictedAcl -Path $caPath
        }
        if ($PSCmdlet.ShouldProcess($configPath, "Write the config of agent '$agentName' for $Server")) {
            Write-BurrowTextFile -Path $configPath -Text $text
            Set-BurrowRestrictedAcl -Path $configPath
        }
    } else {
        Write-Host "Keeping $configPath"
    }
    if ($SecretFile -or -not (Test-Path -LiteralPath $secretPath)) {
        if ($PSCmdlet.ShouldProcess($secretPath, 'Write the agent secret')) {
            $secret = Read-BurrowSecretText -SecretFile $SecretFile
            # Made empty and limited first, so the secret never sits in a file others may read.
            Write-BurrowTextFile -Path $secretPath -Text ''
            Set-BurrowRestrictedAcl -Path $secretPath
            Write-BurrowTextFile -Path $secretPath -Text ($secret + "`n")
            Remove-Variable -Name secret
        }
    } else {
        Write-Host "Keeping $secretPath"
    }
    return $configPath
}

function Install-BurrowServiceHost {
    <# .SYNOPSIS Compiles burrow-service.exe into -InstallDir with the .NET Framework's csc.exe (kept when its source is unchanged). #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    $exe = Join-Path $InstallDir $script:BurrowFiles.Host
    $sourcePath = Join-Path $InstallDir $script:BurrowFiles.HostSource
    $source = Get-BurrowServiceHostSource
    if ((Test-Path -LiteralPath $exe) -and (Test-Path -LiteralPath $sourcePath) -and
        [IO.File]::ReadAllText($sourcePath) -ceq $source) {
        return $exe
    }
    if (-not $PSCmdlet.ShouldProcess($exe, 'Compile the service host')) { return $exe }
    $csc = @('Framework64', 'Framework') | ForEach-Object { Join-Path $env:WINDIR "Microsoft.NET\$_\v4.0.30319\csc.exe" } |
        Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    if (-not $csc) { throw 'No .NET Framework 4 compiler (csc.exe) under %WINDIR%\Microsoft.NET: it ships with Windows 10, 11 and Server 2016 and later' }
    New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
    Write-BurrowTextFile -Path $sourcePath -Text $source
    Invoke-BurrowRetry {
        # csc.exe reports on stdout (no 2>&1: Windows PowerShell would turn stderr into errors).
        $output = & $csc /nologo /target:exe /optimize+ "/out:$exe" /reference:System.ServiceProcess.dll $sourcePath
        if ($LASTEXITCODE -ne 0) { throw "csc.exe failed ($LASTEXITCODE): $output" }
    }
    return $exe
}

function Install-BurrowBinary {
    <# .SYNOPSIS Puts burrow.exe in -InstallDir, keeping the previous one as burrow.exe.old; returns that path or $null. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Source)
    $target = Join-Path $InstallDir $script:BurrowFiles.Binary
    if (-not $Source -or -not $PSCmdlet.ShouldProcess($target, "Install $Source")) { return $null }
    New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
    $old = "$target.old"
    Copy-Item -LiteralPath $Source -Destination "$target.new" -Force
    if (Test-Path -LiteralPath $old) { Remove-Item -LiteralPath $old -Force }
    $hadOld = Test-Path -LiteralPath $target
    if ($hadOld) { Invoke-BurrowRetry { Move-Item -LiteralPath $target -Destination $old } }
    Move-Item -LiteralPath "$target.new" -Destination $target
    if ($hadOld) { return $old } else { return $null }
}

function Register-BurrowService {
    <# .SYNOPSIS Creates the service (or points it at the current paths): automatic start, LocalSystem, restart on failure. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true)][string]$HostExe, [Parameter(Mandatory = $true)][string]$ConfigPath)
    $binary = Join-Path $InstallDir $script:BurrowFiles.Binary
    $command = '"{0}" {1} "{2}" "{3}"' -f $HostExe, $ServiceName, $binary, $ConfigPath
    $existing = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
    if (-not $existing) {
        if (-not $PSCmdlet.ShouldProcess($ServiceName, 'Create the service')) { return }
        New-Service -Name $ServiceName -BinaryPathName $command -DisplayName 'Burrow agent' -StartupType Automatic `
            -Description 'Burrow tunnel agent: dials out to its server over wss and serves its tunnels.' | Out-Null
    } elseif ($existing.PathName -ne $command -or $existing.StartMode -ne 'Auto') {
        if (-not $PSCmdlet.ShouldProcess($ServiceName, "Set the command line to $command")) { return }
        $result = Invoke-CimMethod -InputObject $existing -MethodName Change -Arguments @{ PathName = $command; StartMode = 'Automatic' }
        if ($result.ReturnValue -ne 0) { throw "Cannot change service ${ServiceName}: Win32_Service.Change returned $($result.ReturnValue)" }
    }
    if (-not $PSCmdlet.ShouldProcess($ServiceName, 'Restart after 5 s, 10 s, then every 60 s on failure')) { return }
    # Failure count resets after a day without failure; failureflag 1 also
    # counts a stop with a non-zero exit code as a failure.
    & sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/10000/restart/60000 | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "sc.exe failure $ServiceName failed ($LASTEXITCODE)" }
    & sc.exe failureflag $ServiceName 1 | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "sc.exe failureflag $ServiceName failed ($LASTEXITCODE)" }
}

function Test-BurrowService {
    <# .SYNOPSIS Whether the service exists (false off Windows, where there are no services to ask). #>
    if (-not (Get-Command -Name Get-CimInstance -ErrorAction SilentlyContinue)) { return $false }
    return $null -ne (Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'")
}

function Stop-BurrowService {
    <# .SYNOPSIS Stops the service when it runs and waits for its process to be gone. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
    if (-not $service -or $service.State -eq 'Stopped') { return }
    if (-not $PSCmdlet.ShouldProcess($ServiceName, 'Stop the service')) { return }
    $processId = [int]$service.ProcessId
    Stop-Service -Name $ServiceName -Force
    (Get-Service -Name $ServiceName).WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    if ($processId -gt 0) { Wait-Process -Id $processId -Timeout 30 -ErrorAction SilentlyContinue }
}

function Start-BurrowService {
    <# .SYNOPSIS Starts the service and checks that it is still running 5 s later (the agent did not exit). #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    if (-not $PSCmdlet.ShouldProcess($ServiceName, 'Start the service')) { return $true }
    Start-Service -Name $ServiceName
    $first = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
    Start-Sleep -Seconds 5
    $later = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
    return ($later.State -eq 'Running' -and $later.ProcessId -eq $first.ProcessId)
}

function Install-BurrowAgent {
    <# .SYNOPSIS The install or upgrade: binary, config, service host, service, start (old binary back if the new one fails). #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    if (-not $WhatIfPreference) { Assert-BurrowAdministrator }
    $work = Join-Path ([IO.Path]::GetTempPath()) ('burrow-install-' + [Guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work -WhatIf:$false | Out-Null
    try {
        $new = Get-BurrowBinary -Work $work
        if ($new) {
            $line = & $new version
            if ($LASTEXITCODE -ne 0) { throw "$new does not run ('version' exited with $LASTEXITCODE)" }
            Write-Host "New binary: $line"
        }
        $configPath = Install-BurrowConfig
        # Checked by the new binary before the running agent is touched.
        if ($new -and (Test-Path -LiteralPath $configPath)) {
            & $new check $configPath | Out-Host
            if ($LASTEXITCODE -ne 0) { throw "burrow check $configPath failed: nothing was changed" }
        }
        Stop-BurrowService
        $hostExe = Install-BurrowServiceHost
        $old = Install-BurrowBinary -Source $new
        Register-BurrowService -HostExe $hostExe -ConfigPath $configPath
        if (Start-BurrowService) {
            if ($old) { Remove-Item -LiteralPath $old -Force -ErrorAction SilentlyContinue }
            Write-Host "Service $ServiceName is running $(Join-Path $InstallDir $script:BurrowFiles.Binary); logs: $(Join-Path $ConfigDir $script:BurrowFiles.Log)"
            return
        }
        if ($old) {
            Write-Warning 'The new binary did not stay running: putting the previous one back'
            Stop-BurrowService
            $current = Join-Path $InstallDir $script:BurrowFiles.Binary
            Invoke-BurrowRetry {
                if (Test-Path -LiteralPath $current) { Remove-Item -LiteralPath $current -Force }
                Move-Item -LiteralPath $old -Destination $current
            }
            [void](Start-BurrowService)
        }
        throw "Service $ServiceName did not stay running: see $(Join-Path $ConfigDir $script:BurrowFiles.Log) and the Application event log"
    } finally {
        Remove-Item -LiteralPath $work -Recurse -Force -WhatIf:$false -ErrorAction SilentlyContinue
    }
}

function Uninstall-BurrowAgent {
    <# .SYNOPSIS Stops and deletes the service, removes -InstallDir and (without -KeepConfig) -ConfigDir. #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param()
    if (-not $WhatIfPreference) { Assert-BurrowAdministrator }
    if (Test-BurrowService) {
        Stop-BurrowService
        if ($PSCmdlet.ShouldProcess($ServiceName, 'Delete the service')) {
            & sc.exe delete $ServiceName | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "sc.exe delete $ServiceName failed ($LASTEXITCODE)" }
            for ($i = 0; $i -lt 60 -and (Test-BurrowService); $i++) { Start-Sleep -Milliseconds 500 }
        }
    }
    $folders = @($InstallDir)
    if (-not $KeepConfig) { $folders += $ConfigDir }
    foreach ($folder in $folders) {
        if ((Test-Path -LiteralPath $folder) -and $PSCmdlet.ShouldProcess($folder, 'Remove the folder')) {
            Invoke-BurrowRetry { Remove-Item -LiteralPath $folder -Recurse -Force }
        }
    }
}

# Run unless dot-sourced (". .\install-agent.ps1" loads the functions only).
if ($MyInvocation.InvocationName -ne '.') {
    # The name goes into WMI filters and sc.exe arguments: keep it plain.
    if ($ServiceName -notmatch '^[A-Za-z0-9._-]{1,80}$') { throw "ServiceName '$ServiceName' must be letters, digits, '.', '-' or '_'" }
    if ($Uninstall) { Uninstall-BurrowAgent } else { Install-BurrowAgent }
}
