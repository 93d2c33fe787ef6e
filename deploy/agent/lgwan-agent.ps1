<#
.SYNOPSIS
    Updates Windows products of an LGWAN-side PC from the LGWAN repository.

.DESCRIPTION
    For products whose own updater cannot be pointed at the repository (Chrome MSI, Adobe
    Reader MSP, ...). Reports the installed versions read from the registry, the computer's
    Active Directory OU and groups, and the results of its last installs (a check-in); the
    repository answers what to install now, with which command line, and what waits for the
    next maintenance window. The agent obeys: it downloads with resume, verifies the SHA-256
    the repository lists and the file's Authenticode signature (and the expected signer),
    runs the command line the repository gave (msiexec or the verified file itself, nothing
    else), logs every step and reports the outcome in the next check-in. Runs on Windows
    PowerShell 5.1 and PowerShell 7.

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
          "displayNamePattern": "Google Chrome", "expectedSigner": "Google LLC" }
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
$resultsFile = Join-Path $stateDirectory 'results.json'
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

# Where this computer is in Active Directory, without RSAT: the ADSystemInfo object (ADSI, on
# every domain member) gives the computer's distinguished name, and the computer object's
# memberOf attribute, read over LDAP with [adsi], the distinguished names of its groups. Not in
# a domain, or no domain controller reachable: nothing is reported, and rings place the PC by
# address and tags. Everything is bounded to what the check-in accepts.
function Get-DirectoryPlacement {
    $placement = [ordered]@{}
    try {
        $systemInfo = New-Object -ComObject 'ADSystemInfo'
        $computerDn = [string]$systemInfo.GetType().InvokeMember('ComputerName', 'GetProperty', $null, $systemInfo, $null)
    } catch {
        return $null
    }
    if (-not $computerDn) { return $null }
    # The OU: the DN without its first RDN (CN=<computer>); an escaped comma belongs to a name.
    $ou = ($computerDn -replace '^(?:\\.|[^,\\])+,', '') -replace '[\x00-\x1f\x7f]', ''
    if ($ou -and ($ou -ne $computerDn) -and ($ou.Length -le 1024)) { $placement.ou = $ou }
    $groups = @()
    try {
        $entry = [adsi]"LDAP://$computerDn"
        foreach ($groupDn in @($entry.Properties['memberOf'])) {
            if ([string]$groupDn -match '^CN=((?:\\.|[^,\\])+),') {
                $name = ($Matches[1] -replace '\\(.)', '$1') -replace '[\x00-\x1f\x7f]', ''
                if ($name.Length -gt 256) { $name = $name.Substring(0, 256) }
                if ($name -and ($groups.Count -lt 100)) { $groups += $name }
            }
        }
    } catch {
        Write-AgentLog "the AD groups of $computerDn are not readable now: $($_.Exception.Message)"
    }
    if ($groups.Count -gt 0) { $placement.groups = $groups }
    if ($placement.Count -eq 0) { return $null }
    return $placement
}

# Install results not reported yet (the newest 50), kept in the state folder across runs.
function Read-PendingResults {
    if (-not (Test-Path -LiteralPath $resultsFile)) { return @() }
    try {
        # Assigned first: Windows PowerShell 5.1's ConvertFrom-Json writes a JSON array as one object.
        $parsed = Get-Content -Raw -LiteralPath $resultsFile | ConvertFrom-Json
        return @($parsed)
    } catch {
        Write-AgentLog "unreadable $resultsFile discarded: $($_.Exception.Message)"
        return @()
    }
}

function Add-InstallResult {
    param([Parameter(Mandatory)][string]$ProductId, [Parameter(Mandatory)][string]$Version, [Parameter(Mandatory)][string]$Outcome, [Parameter(Mandatory)][int]$ExitCode, [string]$Message = '')
    $text = $Message -replace '[\x00-\x1f\x7f]', ' '
    if ($text.Length -gt 300) { $text = $text.Substring(0, 300) }
    $pending = @(Read-PendingResults) + @([pscustomobject][ordered]@{ product = $ProductId; version = $Version; outcome = $Outcome; exitCode = $ExitCode; message = $text })
    ConvertTo-Json -InputObject @($pending | Select-Object -Last 50) -Depth 3 -Compress | Set-Content -LiteralPath $resultsFile -Encoding UTF8
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
    $request = [ordered]@{ agentId = $script:agentId; agentVersion = '1.1.0'; os = 'windows'; hostname = $hostName; tags = $tags; installed = $installed }
    $placement = Get-DirectoryPlacement
    if ($placement) { $request.directory = $placement }
    $results = @(Read-PendingResults)
    if ($results.Count -gt 0) { $request.results = $results }
    $body = $request | ConvertTo-Json -Depth 5 -Compress
    $bytes = [Text.Encoding]::UTF8.GetBytes($body)
    $timestamp = [string][DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
    $nonce = [guid]::NewGuid().ToString('N')
    $headers = @{ 'X-Lgwan-Agent' = $script:agentId; 'X-Lgwan-Timestamp' = $timestamp; 'X-Lgwan-Nonce' = $nonce; 'X-Lgwan-Signature' = (Get-CheckInSignature -Body $bytes -Timestamp $timestamp -Nonce $nonce) }
    $answer = Invoke-RestMethod -Method Post -Uri "$repository/api/v1/agent/checkin" -ContentType 'application/json' -Headers $headers -Body $bytes -TimeoutSec 60
    # Answered: the results it carried are recorded (a failed check-in keeps them for the next).
    if ($results.Count -gt 0) {
        Write-AgentLog "reported $($answer.resultsRecorded) install result(s)"
        Remove-Item -Force -LiteralPath $resultsFile
    }
    return $answer
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

# Runs the command line the repository gave for this file: msiexec, or the verified file itself
# ("installer"); never another program. {file} in an argument is the file's path.
function Install-File {
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)]$Command)
    $arguments = @()
    foreach ($argument in @($Command.arguments)) {
        if (([string]$argument) -notmatch '^[A-Za-z0-9/{}=._:+-]{1,256}$') { throw "refused argument '$argument' in the command line" }
        $arguments += ([string]$argument).Replace('{file}', "`"$Path`"")
    }
    if ([string]$Command.run -eq 'msiexec') {
        $program = Join-Path $env:SystemRoot 'System32\msiexec.exe'
    } elseif ([string]$Command.run -eq 'installer') {
        $program = $Path
    } else {
        throw "unknown command '$($Command.run)'"
    }
    if ($arguments.Count -gt 0) {
        $process = Start-Process -FilePath $program -ArgumentList $arguments -Wait -PassThru
    } else {
        $process = Start-Process -FilePath $program -Wait -PassThru
    }
    $successCodes = @(@($Command.successExitCodes) | ForEach-Object { [int]$_ })
    return ($successCodes -contains $process.ExitCode), $process.ExitCode
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
$unknownProducts = @($answer.unknownProducts)
foreach ($unknown in $unknownProducts) {
    Write-AgentLog "${unknown}: the repository has no product with this id; check products in $ConfigPath (ids are listed on the repository's catalog page)"
    Write-Warning "unknown product id '$unknown' in $ConfigPath"
}

# What waits for a maintenance window: the repository decided; nothing is downloaded yet.
foreach ($waiting in @($answer.waiting)) {
    $deadlineNote = ''
    if ($waiting.deadline) { $deadlineNote = ", deadline $($waiting.deadline)" }
    Write-AgentLog "$($waiting.product): $($waiting.installedVersion) -> $($waiting.version) waits for the next maintenance window, not before $($waiting.notBefore) ($($waiting.reason)$deadlineNote)"
}

foreach ($action in @($answer.actions)) {
    $product = $config.products | Where-Object { $_.id -eq $action.product } | Select-Object -First 1
    if (-not $product) { continue }
    # Every action is one to install now; anything else is an answer this agent does not understand.
    if ($action.install.when -ne 'now') { Write-AgentLog "$($action.product): not told to install now, skipped"; continue }
    $windowNote = ''
    if ($action.install.windowEndsAt) { $windowNote = ", window ends $($action.install.windowEndsAt)" }
    if ($action.install.deadline) { $windowNote += ", deadline $($action.install.deadline)" }
    Write-AgentLog "$($action.product): installing $($action.version) now ($($action.install.reason)$windowNote)"
    foreach ($file in @($action.files)) {
        if ($file.sha256 -notmatch '^[0-9a-f]{64}$') { Write-AgentLog "$($action.product): malformed answer, skipped"; continue }
        $command = $file.command
        if (-not $command) { Write-AgentLog "$($action.product): the repository has no silent command line for $($file.fileName); not installed"; continue }
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
            Add-InstallResult -ProductId $action.product -Version $action.version -Outcome 'failed' -ExitCode -1 -Message "$($file.fileName) refused: $problem"
            Remove-Item -Force -LiteralPath $target
            continue
        }
        try {
            $ok, $code = Install-File -Path $target -Command $command
        } catch {
            Write-AgentLog "$($action.product): $($_.Exception.Message); not installed"
            Add-InstallResult -ProductId $action.product -Version $action.version -Outcome 'failed' -ExitCode -1 -Message $_.Exception.Message
            continue
        }
        if ($ok) {
            Write-AgentLog "$($action.product): installed $($action.version) (exit code $code)"
            Add-InstallResult -ProductId $action.product -Version $action.version -Outcome 'installed' -ExitCode $code -Message "$($command.run) exited with $code"
            Remove-Item -Force -LiteralPath $target
        } else {
            Write-AgentLog "$($action.product): installer exited with $code for $($action.version)"
            Add-InstallResult -ProductId $action.product -Version $action.version -Outcome 'failed' -ExitCode $code -Message "$($command.run) exited with $code"
        }
    }
}

# Report what is installed now and how the installs went, so coverage and the approval page see them at once.
try { Invoke-CheckIn | Out-Null } catch { Write-AgentLog "second check-in failed: $($_.Exception.Message)" }
# Exit 2: the run worked, but the configuration names a product the repository does not know.
if ($unknownProducts.Count -gt 0) { exit 2 }
exit 0
