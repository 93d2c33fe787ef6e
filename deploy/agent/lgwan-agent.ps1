<#
.SYNOPSIS
    Updates Windows products of an LGWAN-side PC from the LGWAN repository.

.DESCRIPTION
    For products whose own updater cannot be pointed at the repository (Chrome MSI, Adobe
    Reader MSP, ...). Reports the installed versions read from the registry (a check-in),
    asks the repository what to install, downloads with resume, verifies the SHA-256 the
    repository lists and the file's Authenticode signature (and the expected signer), then
    installs silently and logs every step. Runs on Windows PowerShell 5.1 and PowerShell 7.

    Schedule it as SYSTEM (Task Scheduler or Group Policy), e.g. hourly:
        powershell.exe -NoProfile -ExecutionPolicy Bypass -File lgwan-agent.ps1

.PARAMETER ConfigPath
    JSON configuration (default %ProgramData%\LgwanAgent\lgwan-agent.json):
    {
      "repository": "https://lgwan-mirror.example",
      "enrollmentToken": "(issued by the admin; used once, at enrollment)",
      "tags": ["pilot"],
      "stateDirectory": "C:\\ProgramData\\LgwanAgent",
      "products": [
        { "id": "chrome", "platform": "win64", "locale": "any",
          "displayNamePattern": "Google Chrome", "expectedSigner": "Google LLC",
          "installerKind": "msi" }
      ]
    }
#>
[CmdletBinding()]
param(
    [string]$ConfigPath = (Join-Path $env:ProgramData 'LgwanAgent\lgwan-agent.json')
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$config = Get-Content -Raw -LiteralPath $ConfigPath | ConvertFrom-Json
$repository = ([string]$config.repository).TrimEnd('/')
$stateDirectory = [string]$config.stateDirectory
$downloads = Join-Path $stateDirectory 'downloads'
$logFile = Join-Path $stateDirectory 'agent.log'
New-Item -ItemType Directory -Force -Path $downloads | Out-Null

function Write-AgentLog {
    param([Parameter(Mandatory)][string]$Message)
    $line = '{0} {1}' -f (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'), $Message
    Add-Content -LiteralPath $logFile -Value $line -Encoding UTF8
    Write-Verbose $line
}

# Enrollment, once: the token the admin issued buys this PC an id and a secret of its own, kept in the
# state folder (SYSTEM and Administrators only). Every check-in is signed with the secret.
function Get-AgentIdentity {
    $idFile = Join-Path $stateDirectory 'agent-id'
    $secretFile = Join-Path $stateDirectory 'agent-secret'
    if (-not (Test-Path -LiteralPath $secretFile)) {
        $hostName = ([string]$env:COMPUTERNAME) -replace '[^A-Za-z0-9._-]', ''
        if (-not $hostName) { $hostName = 'unknown' }
        $request = [ordered]@{ token = [string]$config.enrollmentToken; hostname = $hostName; os = 'windows' } | ConvertTo-Json -Compress
        $enrolled = Invoke-RestMethod -Method Post -Uri "$repository/api/v1/agent/enroll" -ContentType 'application/json' -Body ([Text.Encoding]::UTF8.GetBytes($request)) -TimeoutSec 60
        if (([string]$enrolled.agentId -notmatch '^[A-Za-z0-9-]+$') -or ([string]$enrolled.secret -notmatch '^[A-Za-z0-9_-]+$')) { throw 'enrollment answer malformed' }
        Set-Content -LiteralPath $secretFile -Value ([string]$enrolled.secret) -Encoding ASCII
        $acl = Get-Acl -LiteralPath $secretFile
        $acl.SetAccessRuleProtection($true, $false)
        foreach ($who in @('SYSTEM', 'Administrators')) {
            $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($who, 'FullControl', 'Allow')))
        }
        Set-Acl -LiteralPath $secretFile -AclObject $acl
        Set-Content -LiteralPath $idFile -Value ([string]$enrolled.agentId) -Encoding ASCII
        Write-AgentLog "enrolled as agent $($enrolled.agentId)"
    }
    return @{
        id = (Get-Content -LiteralPath $idFile -TotalCount 1).Trim()
        secret = (Get-Content -LiteralPath $secretFile -TotalCount 1).Trim()
    }
}

# HMAC-SHA256, keyed with the secret of the agent, over "lgwan-checkin-v1", the id, the time, a nonce and the SHA-256 of the body.
function Get-CheckInSignature {
    param([Parameter(Mandatory)][byte[]]$Body, [Parameter(Mandatory)][string]$Timestamp, [Parameter(Mandatory)][string]$Nonce)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $bodyHash = (($sha.ComputeHash($Body) | ForEach-Object { $_.ToString('x2') }) -join '')
    $hmac = New-Object System.Security.Cryptography.HMACSHA256 (, [Text.Encoding]::ASCII.GetBytes($script:agentSecret))
    $message = [Text.Encoding]::ASCII.GetBytes("lgwan-checkin-v1`n$($script:agentId)`n$Timestamp`n$Nonce`n$bodyHash")
    return (($hmac.ComputeHash($message) | ForEach-Object { $_.ToString('x2') }) -join '')
}

# Installed programs as Windows lists them in "Apps & features" (64- and 32-bit views).
function Get-InstalledVersion {
    param([Parameter(Mandatory)]$Product)
    $keys = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
        'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
    )
    foreach ($entry in (Get-ItemProperty -Path $keys -ErrorAction SilentlyContinue)) {
        $names = $entry.PSObject.Properties.Name
        if (($names -contains 'DisplayName') -and ($names -contains 'DisplayVersion') -and ($entry.DisplayName -like $Product.displayNamePattern)) {
            return ([string]$entry.DisplayVersion) -replace '[^A-Za-z0-9._+~:-]', ''
        }
    }
    return $null
}

function Invoke-CheckIn {
    $installed = @()
    foreach ($product in $config.products) {
        $version = Get-InstalledVersion -Product $product
        if ($version) {
            $installed += [ordered]@{ product = $product.id; version = $version; platform = $product.platform; locale = $product.locale }
        }
    }
    # Shown on the pages of the repository beside the agent id; characters the check-in refuses are left out.
    $hostName = ([string]$env:COMPUTERNAME) -replace '[^A-Za-z0-9._-]', ''
    if (-not $hostName) { $hostName = 'unknown' }
    # Tags a ring may select this PC by (optional): only what the check-in accepts, at most 32.
    $tags = @()
    if ($config.PSObject.Properties.Name -contains 'tags') {
        foreach ($tag in @($config.tags)) {
            $clean = (([string]$tag) -replace '[^A-Za-z0-9._-]', '') -replace '^[._-]+', ''
            if ($clean.Length -gt 64) { $clean = $clean.Substring(0, 64) }
            if ($clean -and $tags.Count -lt 32) { $tags += $clean }
        }
    }
    $body = [ordered]@{ agentId = $script:agentId; agentVersion = '1.0.0'; os = 'windows'; hostname = $hostName; tags = $tags; installed = $installed } | ConvertTo-Json -Depth 5 -Compress
    $bytes = [Text.Encoding]::UTF8.GetBytes($body)
    $timestamp = [string][DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
    $nonce = [guid]::NewGuid().ToString('N')
    $headers = @{ 'X-Lgwan-Agent' = $script:agentId; 'X-Lgwan-Timestamp' = $timestamp; 'X-Lgwan-Nonce' = $nonce; 'X-Lgwan-Signature' = (Get-CheckInSignature -Body $bytes -Timestamp $timestamp -Nonce $nonce) }
    return Invoke-RestMethod -Method Post -Uri "$repository/api/v1/agent/checkin" -ContentType 'application/json' -Headers $headers -Body $bytes -TimeoutSec 60
}

# Downloads to <sha256>.part, resuming from its current length with an HTTP Range request.
function Receive-File {
    param([Parameter(Mandatory)][string]$Uri, [Parameter(Mandatory)][string]$Part)
    $offset = 0
    if (Test-Path -LiteralPath $Part) { $offset = (Get-Item -LiteralPath $Part).Length }
    $request = [System.Net.HttpWebRequest]::Create($Uri)
    $request.Timeout = 60000
    $request.ReadWriteTimeout = 300000
    if ($offset -gt 0) { $request.AddRange([long]$offset) }
    $response = $request.GetResponse()
    try {
        $mode = [System.IO.FileMode]::Append
        if ($offset -gt 0 -and [int]$response.StatusCode -ne 206) {
            # The server sent the whole file: start over rather than append a second copy.
            $mode = [System.IO.FileMode]::Create
        }
        $output = [System.IO.File]::Open($Part, $mode, [System.IO.FileAccess]::Write)
        try {
            $response.GetResponseStream().CopyTo($output, 1048576)
        } finally {
            $output.Dispose()
        }
    } finally {
        $response.Dispose()
    }
}

function Test-Installer {
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][string]$Sha256, $Product)
    $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant()
    if ($actual -ne $Sha256) { return "SHA-256 mismatch (got $actual, expected $Sha256)" }
    $signature = Get-AuthenticodeSignature -LiteralPath $Path
    if ($signature.Status -ne 'Valid') { return "Authenticode signature is $($signature.Status)" }
    $names = $Product.PSObject.Properties.Name
    if (($names -contains 'expectedSigner') -and $Product.expectedSigner) {
        $subject = $signature.SignerCertificate.Subject
        if ($subject -notmatch ('(^|, )O="?' + [regex]::Escape([string]$Product.expectedSigner) + '"?(,|$)')) {
            return "signed by '$subject', expected organisation '$($Product.expectedSigner)'"
        }
    }
    return $null
}

function Install-File {
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)]$Product)
    $kind = [string]$Product.installerKind
    if ($kind -eq 'msi') {
        $process = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/i', "`"$Path`"", '/qn', '/norestart') -Wait -PassThru
    } elseif ($kind -eq 'msp') {
        $process = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/p', "`"$Path`"", '/qn', '/norestart') -Wait -PassThru
    } else {
        $arguments = '/S'
        if ($Product.PSObject.Properties.Name -contains 'installArguments') { $arguments = [string]$Product.installArguments }
        $process = Start-Process -FilePath $Path -ArgumentList $arguments -Wait -PassThru
    }
    # 3010: installed, a restart completes it.
    return ($process.ExitCode -eq 0 -or $process.ExitCode -eq 3010), $process.ExitCode
}

try {
    $identity = Get-AgentIdentity
} catch {
    Write-AgentLog "enrollment failed: $($_.Exception.Message) (ask the admin for a current enrollmentToken in $ConfigPath)"
    exit 1
}
$script:agentId = $identity.id
$script:agentSecret = $identity.secret
try {
    $answer = Invoke-CheckIn
} catch {
    Write-AgentLog "check-in failed: $($_.Exception.Message)"
    exit 1
}

# Ids the repository does not know (a typo here, or a product not in its catalog): said, not ignored.
$unknownProducts = @()
if ($answer.PSObject.Properties.Name -contains 'unknownProducts') { $unknownProducts = @($answer.unknownProducts) }
foreach ($unknown in $unknownProducts) {
    Write-AgentLog "${unknown}: the repository has no product with this id; check products in $ConfigPath (ids are listed on the repository's catalog page)"
    Write-Warning "unknown product id '$unknown' in $ConfigPath"
}

foreach ($action in $answer.actions) {
    $product = $config.products | Where-Object { $_.id -eq $action.product } | Select-Object -First 1
    if (-not $product) { continue }
    foreach ($file in $action.files) {
        if ($file.sha256 -notmatch '^[0-9a-f]{64}$') { Write-AgentLog "$($action.product): malformed answer, skipped"; continue }
        $part = Join-Path $downloads "$($file.sha256).part"
        $extension = [System.IO.Path]::GetExtension([string]$file.fileName)
        $target = Join-Path $downloads "$($file.sha256)$extension"
        Write-AgentLog "$($action.product): $($action.installedVersion) -> $($action.version), downloading $($file.fileName) ($($file.size) bytes)"
        try {
            Receive-File -Uri ($repository + $file.url) -Part $part
        } catch {
            Write-AgentLog "$($action.product): download failed ($($_.Exception.Message)); will resume next run"
            continue
        }
        Move-Item -Force -LiteralPath $part -Destination $target
        $problem = Test-Installer -Path $target -Sha256 $file.sha256 -Product $product
        if ($problem) {
            Write-AgentLog "$($action.product): $($file.fileName) refused: $problem; file discarded, nothing installed"
            Remove-Item -Force -LiteralPath $target
            continue
        }
        $ok, $code = Install-File -Path $target -Product $product
        if ($ok) {
            Write-AgentLog "$($action.product): installed $($action.version) (exit code $code)"
            Remove-Item -Force -LiteralPath $target
        } else {
            Write-AgentLog "$($action.product): installer exited with $code for $($action.version)"
        }
    }
}

# Report what is installed now, so coverage sees the update at once.
try { Invoke-CheckIn | Out-Null } catch { Write-AgentLog "second check-in failed: $($_.Exception.Message)" }
# Exit 2: the run worked, but the configuration names a product the repository does not know.
if ($unknownProducts.Count -gt 0) { exit 2 }
exit 0
