#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, demonstrates and benchmarks KonvoyLb.
.DESCRIPTION
    Build  assembles the shippable module folder out/KonvoyLb from KonvoyLb.psd1, Module/ and the
           compiled assemblies (the engine and its dependencies go to out/KonvoyLb/deps).
    Test   builds, installs the Debian packages the integration tests need (tools/Install-Prerequisites.sh,
           as root), builds the image (as Image does; its end-to-end tests run from it), then runs the xunit
           tests and the Pester tests against out/KonvoyLb.
    Demo   builds, then runs the main job on examples/cluster.yaml (on a copy; the example stays as it is).
    Bench  builds, then runs the benchmarks and writes their figures to out/bench/.
    Image  builds, then the runtime's container image localhost/konvoylb (examples/deploy/Dockerfile) with podman,
           or docker where podman is missing. Without -BaseImage the base is localhost/konvoylb-base:bookworm-1,
           made once with debootstrap from this machine's Debian mirror (as root), as no registry need be reachable.
    Everything is installed by this script itself, idempotently: Pester comes from NuGet, pwsh from
    the dotnet tool manifest.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Image')]
    [string[]] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Image: the base image (any glibc-based image, e.g. docker.io/library/debian:bookworm-slim); by default one built here.
    [string] $BaseImage
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleDir = Join-Path $Out 'KonvoyLb'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE" }
}

# A fresh pwsh of the same version as this one (the dotnet local tool runs pwsh.dll through dotnet).
function Invoke-Pwsh {
    $native = Join-Path $PSHOME 'pwsh'
    if ((Test-Path $native) -and -not $IsWindows) { & $native -NoProfile -NonInteractive @args }
    else { & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive @args }
}

function Get-NuGetPackageRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = dotnet nuget locals global-packages --list | Select-Object -First 1
    return ($line -replace '^global-packages:\s*', '').Trim()
}

# Restores the PowerShell-side tools (Pester, a second YamlDotNet for the isolation test) from NuGet.
function Restore-Tools {
    Invoke-Native 'restore of tools/Tools.proj' { dotnet restore (Join-Path $Root 'tools/Tools.proj') --verbosity quiet }
    $packages = Get-NuGetPackageRoot
    [pscustomobject]@{
        Pester        = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
        OtherYamlDotNet = Join-Path $packages 'yamldotnet/16.3.0/lib/net8.0/YamlDotNet.dll'
    }
}

function Invoke-Build {
    Write-Host "==> Build ($Configuration)"
    $staging = Join-Path $Out "obj/$Configuration"
    Invoke-Native 'dotnet build' { dotnet build (Join-Path $Root 'src/KonvoyLb/KonvoyLb.csproj') -c $Configuration --nologo -v quiet -o (Join-Path $staging 'cmdlets') }
    Invoke-Native 'dotnet publish (engine)' { dotnet publish (Join-Path $Root 'src/KonvoyLb.Engine/KonvoyLb.Engine.csproj') -c $Configuration --nologo -v quiet -o (Join-Path $staging 'engine') }

    if (Test-Path $ModuleDir) { Remove-Item $ModuleDir -Recurse -Force }
    $deps = New-Item -ItemType Directory -Force (Join-Path $ModuleDir 'deps')
    Copy-Item (Join-Path $Root 'KonvoyLb.psd1') $ModuleDir
    Copy-Item (Join-Path $staging 'cmdlets/KonvoyLb.dll') $ModuleDir
    Copy-Item (Join-Path $Root 'Module/*') $ModuleDir -Recurse
    # The engine and everything it depends on load in the module's private AssemblyLoadContext.
    # Platform-specific assemblies (Tmds.LibC) stay under runtimes/<rid>/ where the load context looks for them.
    Get-ChildItem (Join-Path $staging 'engine') -Filter *.dll | Copy-Item -Destination $deps
    $runtimes = Join-Path $staging 'engine/runtimes'
    if (Test-Path $runtimes) { Copy-Item $runtimes $deps -Recurse }
    if (Test-Path (Join-Path $Root 'tools/Build-Help.ps1')) {
        & (Join-Path $Root 'tools/Build-Help.ps1') -ModuleDirectory $ModuleDir
    }
    Write-Host "    module: $ModuleDir"
}

# Debian packages of the integration tests: the network-namespace lab (iproute2, ping, arping,
# ndisc6, tcpdump) and the BGP peers (BIRD 2, FRR, GoBGP). Installs only what is missing, as root.
function Install-TestPrerequisites {
    if (-not $IsLinux -or -not (Get-Command dpkg-query -ErrorAction Ignore)) { return }
    Write-Host '==> Test prerequisites (tools/Install-Prerequisites.sh)'
    & bash (Join-Path $Root 'tools/Install-Prerequisites.sh')
    if ($LASTEXITCODE -ne 0) {
        if ($env:CI -eq 'true') { throw "tools/Install-Prerequisites.sh failed with exit code $LASTEXITCODE" }
        Write-Warning 'Test prerequisites are missing: the network-namespace tests will be skipped (run tools/Install-Prerequisites.sh as root).'
    }
}

function Invoke-Test {
    Install-TestPrerequisites
    # The end-to-end tests run the runtime from the image (tests/KonvoyLb.Tests/Deploy).
    if ($IsLinux -and (Get-Command podman -ErrorAction Ignore)) { Invoke-Image }
    elseif ($env:CI -eq 'true') { throw 'podman is missing: the end-to-end tests need the image (tools/Install-Prerequisites.sh installs it, as root).' }
    else { Write-Warning 'podman is missing: the end-to-end tests from the image will be skipped.' }
    $tools = Restore-Tools
    Write-Host '==> xunit'
    # Integration tests run the built module the way users do (pwsh inside a lab namespace).
    $env:KONVOYLB_MODULE = Join-Path $ModuleDir 'KonvoyLb.psd1'
    $results = Join-Path $Out 'test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    $trx = 'xunit.trx'
    dotnet test (Join-Path $Root 'tests/KonvoyLb.Tests/KonvoyLb.Tests.csproj') -c $Configuration --nologo `
        --logger "trx;LogFileName=$trx" --results-directory $results
    $xunitExit = $LASTEXITCODE
    $xunit = @{ Passed = 0; Failed = 0; Skipped = 0 }
    $trxFile = Join-Path $results $trx
    if (Test-Path $trxFile) {
        $counters = ([xml](Get-Content $trxFile -Raw)).TestRun.ResultSummary.Counters
        $xunit = @{ Passed = [int]$counters.passed; Failed = [int]$counters.failed + [int]$counters.error; Skipped = [int]$counters.notExecuted }
    }
    elseif ($xunitExit -ne 0) { $xunit.Failed = 1 }

    Write-Host '==> Pester (against the built module, in a fresh pwsh)'
    # The fake Kubernetes API server as a process, for the cluster cmdlets' tests.
    $hostDir = Join-Path $Out 'kubeapi-host'
    Invoke-Native 'dotnet build (fake API host)' { dotnet build (Join-Path $Root 'tests/KonvoyLb.KubeApi.Host') -c $Configuration --nologo -v quiet -o $hostDir }
    $env:KONVOYLB_KUBEAPI_HOST = Join-Path $hostDir 'KonvoyLb.KubeApi.Host.dll'
    $pesterResult = Join-Path $results 'pester.json'
    Invoke-Pwsh -File (Join-Path $Root 'tests/Pester/Run-Pester.ps1') `
        -PesterPath $tools.Pester -ModuleDirectory $ModuleDir -OtherYamlDotNet $tools.OtherYamlDotNet -ResultPath $pesterResult
    $pester = @{ Passed = 0; Failed = 1; Skipped = 0 }
    if (Test-Path $pesterResult) { $pester = Get-Content $pesterResult -Raw | ConvertFrom-Json -AsHashtable }

    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    $skipped = $xunit.Skipped + $pester.Skipped
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped"
    Write-Host "Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
    Write-Host "Total: $passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $xunitExit -ne 0) { exit 1 }
}

# ---------------------------------------------------------------------------------------------- image
$ImageName = 'localhost/konvoylb'
# The tag names the recipe below: change it with the recipe, so a machine that has an older base builds the new one.
$LocalBase = 'localhost/konvoylb-base:bookworm-1'

function Get-ContainerTool {
    foreach ($tool in 'podman', 'docker') { if (Get-Command $tool -ErrorAction Ignore) { return $tool } }
    throw 'Image needs podman (or docker): run tools/Install-Prerequisites.sh as root, or install one of them.'
}

# The machine's Debian mirror, as apt knows it (deb822 .sources first, then sources.list); never written anywhere.
function Get-AptMirror {
    $sources = @(Get-ChildItem /etc/apt/sources.list.d -Filter *.sources -ErrorAction Ignore | Get-Content)
    $uri = $sources | Where-Object { $_ -match '^\s*URIs:\s*(\S+)' -and $_ -notmatch 'security' } | ForEach-Object { ($_ -split '\s+')[1] } | Select-Object -First 1
    if (-not $uri -and (Test-Path /etc/apt/sources.list)) {
        $uri = Get-Content /etc/apt/sources.list | Where-Object { $_ -match '^\s*deb\s' -and $_ -notmatch 'security' } |
            ForEach-Object { ($_ -replace '\[[^\]]*\]', '' -split '\s+')[1] } | Select-Object -First 1
    }
    if (-not $uri) { throw 'Image: no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; give -BaseImage.' }
    return $uri
}

# The base from debootstrap (minbase, plus libssl3 for .NET's TLS to the API server), unless it is there already. Nothing of the build machine
# stays in it: the package cache, the lists and sources.list (it names the mirror) are removed before the import.
function New-BaseImage([string] $Tool) {
    & $Tool image exists $LocalBase 2>$null
    if ($LASTEXITCODE -eq 0) { Write-Host "    base: $LocalBase (present)"; return }
    if (-not (Get-Command debootstrap -ErrorAction Ignore)) { throw 'Image: debootstrap is missing: run tools/Install-Prerequisites.sh as root, or give -BaseImage.' }
    $mirror = Get-AptMirror
    $rootfs = Join-Path $Out 'image-base'
    if (Test-Path $rootfs) { Remove-Item $rootfs -Recurse -Force }
    Write-Host "    base: debootstrap --variant=minbase bookworm from $mirror (about a minute)"
    try {
        Invoke-Native 'debootstrap' { debootstrap --variant=minbase --include=libssl3 bookworm $rootfs $mirror *> (Join-Path $Out 'image-base.log') }
        Remove-Item (Join-Path $rootfs 'var/cache/apt/archives/*.deb'), (Join-Path $rootfs 'var/lib/apt/lists/*'), (Join-Path $rootfs 'etc/apt/sources.list') -Force -ErrorAction Ignore
        Invoke-Native "$Tool import" { bash -c "tar -C '$rootfs' -c . | $Tool import - $LocalBase >/dev/null" }
    }
    finally { Remove-Item $rootfs -Recurse -Force -ErrorAction Ignore }
}

function Invoke-Image {
    Write-Host '==> Image'
    $tool = Get-ContainerTool
    $base = $BaseImage
    if (-not $base) { New-BaseImage $tool; $base = $LocalBase }
    $context = Join-Path $Out 'image'
    if (Test-Path $context) { Remove-Item $context -Recurse -Force }
    $null = New-Item -ItemType Directory $context
    Invoke-Native 'dotnet publish (pwsh for the image)' { dotnet publish (Join-Path $Root 'src/KonvoyLb.Pwsh/KonvoyLb.Pwsh.csproj') -c $Configuration --nologo -v quiet -o (Join-Path $context 'pwsh') }
    Copy-Item $ModuleDir $context -Recurse
    Copy-Item (Join-Path $Root 'examples/deploy/entrypoint.ps1') $context
    $version = (Import-PowerShellDataFile (Join-Path $Root 'KonvoyLb.psd1')).ModuleVersion
    $build = @('build', '-f', (Join-Path $Root 'examples/deploy/Dockerfile'), '--build-arg', "BASE=$base", '-t', "${ImageName}:$version", '-t', "${ImageName}:latest")
    # podman never pulls here (no registry is needed); docker pulls only what it lacks.
    if ($tool -eq 'podman') { $build += '--pull=never' }
    Invoke-Native "$tool build" { & $tool @build $context }
    & $tool image prune -f *> $null
    Write-Host "    image: ${ImageName}:$version"
}

function Invoke-Demo {
    $demo = Join-Path $Root 'examples/demo.ps1'
    Invoke-Native 'demo' { Invoke-Pwsh -File $demo -ModuleDirectory $ModuleDir }
}

function Invoke-Bench {
    $benchDir = New-Item -ItemType Directory -Force (Join-Path $Out 'bench')
    $env:KONVOYLB_MODULE = Join-Path $ModuleDir 'KonvoyLb.psd1'
    $native = Join-Path $PSHOME 'pwsh'
    $env:KONVOYLB_PWSH = if (Test-Path $native) { $native } else { "dotnet $(Join-Path $PSHOME 'pwsh.dll')" }
    foreach ($bench in 'analysis', 'restart', 'reachability', 'bgp-fuzz', 'bgp', 'controller', 'speaker', 'speaker-bgp', 'container', 'inventory') {
        Invoke-Native "$bench benchmark" { dotnet run -c Release --project (Join-Path $Root 'tests/KonvoyLb.Bench') -- $bench (Join-Path $benchDir "$bench.md") }
    }
    Invoke-Native 'import benchmark' { Invoke-Pwsh -File (Join-Path $Root 'tests/KonvoyLb.Bench/Measure-Import.ps1') -ModuleDirectory $ModuleDir -OutFile (Join-Path $benchDir 'import.md') }
    & (Join-Path $Root 'tools/Update-ReadmeFigures.ps1') -Root $Root
}

Push-Location $Root
try {
    Invoke-Build
    foreach ($t in $Task) {
        switch ($t) {
            'Test' { Invoke-Test }
            'Demo' { Invoke-Demo }
            'Bench' { Invoke-Bench }
            'Image' { Invoke-Image }
        }
    }
}
finally { Pop-Location }
