# Checks used by .github/workflows/windows-agent.yml after each run of
# install-agent.ps1 (dot-source it). Service name in $env:SERVICE; the
# published port 127.0.0.1:18080 reaches a backend through the agent.
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

function Get-ServiceInfo {
    Get-CimInstance -ClassName Win32_Service -Filter "Name='$env:SERVICE'"
}

# The burrow.exe the service host runs (its child), or $null.
function Get-AgentProcess {
    $service = Get-ServiceInfo
    if (-not $service -or $service.ProcessId -eq 0) { return $null }
    Get-CimInstance -ClassName Win32_Process -Filter "Name='burrow.exe' AND ParentProcessId=$($service.ProcessId)" |
        Select-Object -First 1
}

function Assert-ServiceRunning {
    $service = Get-ServiceInfo
    if (-not $service) { throw "no service $env:SERVICE" }
    "service: state $($service.State), start $($service.StartMode), account $($service.StartName), command $($service.PathName)"
    if ($service.State -ne 'Running') { throw "service $env:SERVICE is $($service.State)" }
    if ($service.StartMode -ne 'Auto') { throw "service $env:SERVICE starts $($service.StartMode), not Auto" }
    if (-not (Get-AgentProcess)) { throw 'the service host runs no burrow.exe' }
}

# A request through the published port answers with the backend's file
# (retried for 60 s while the agent connects).
function Assert-Served {
    $deadline = (Get-Date).AddSeconds(60)
    $last = $null
    while ((Get-Date) -lt $deadline) {
        try {
            $response = Invoke-WebRequest -UseBasicParsing -TimeoutSec 5 -Uri 'http://127.0.0.1:18080/hello.txt'
            if ($response.Content -match 'hello through burrow') { 'served: hello through burrow'; return }
            $last = "unexpected body: $($response.Content)"
        } catch {
            $last = $_.Exception.Message
        }
        Start-Sleep -Milliseconds 500
    }
    throw "no request served through the agent within 60 s: $last"
}

# Only SYSTEM and Administrators have access, and nothing is inherited.
function Assert-Restricted([string]$Path) {
    $acl = Get-Acl -LiteralPath $Path
    $who = @($acl.Access | ForEach-Object { $_.IdentityReference.Translate([Security.Principal.SecurityIdentifier]).Value } | Sort-Object -Unique)
    "${Path}: owner $($acl.Owner), access $($who -join ', '), protected $($acl.AreAccessRulesProtected)"
    if (-not $acl.AreAccessRulesProtected) { throw "$Path inherits access rules" }
    if (($who -join ',') -ne 'S-1-5-18,S-1-5-32-544') { throw "$Path is open to $($who -join ', ')" }
}

# Memory of the service host and of the agent it runs.
function Show-Memory {
    $service = Get-ServiceInfo
    $hostProcess = Get-Process -Id $service.ProcessId
    $agent = Get-Process -Id (Get-AgentProcess).ProcessId
    'service host burrow-service.exe: working set {0:n1} MB, private {1:n1} MB' -f ($hostProcess.WorkingSet64 / 1048576), ($hostProcess.PrivateMemorySize64 / 1048576)
    'agent burrow.exe: working set {0:n1} MB, private {1:n1} MB' -f ($agent.WorkingSet64 / 1048576), ($agent.PrivateMemorySize64 / 1048576)
}

# Waits (up to 60 s) for the service to run a new agent process after $Before died.
function Wait-Restarted($Before) {
    $deadline = (Get-Date).AddSeconds(60)
    do {
        Start-Sleep -Seconds 1
        $after = Get-AgentProcess
    } until (($after -and $after.ProcessId -ne $Before.ProcessId) -or (Get-Date) -gt $deadline)
    if (-not $after -or $after.ProcessId -eq $Before.ProcessId) { throw 'the agent was not restarted within 60 s' }
    'restarted: agent {0} -> {1}' -f $Before.ProcessId, $after.ProcessId
}

# Exactly one installed burrow.exe runs (a killed host left no orphan agent).
function Assert-OneAgent {
    $binary = Join-Path $env:ProgramFiles 'Burrow\burrow.exe'
    $running = @(Get-CimInstance -ClassName Win32_Process -Filter "Name='burrow.exe'" | Where-Object { $_.ExecutablePath -eq $binary })
    if ($running.Count -ne 1) { throw "$($running.Count) agents run from $binary" }
}
