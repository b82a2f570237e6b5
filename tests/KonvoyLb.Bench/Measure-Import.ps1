<#
.SYNOPSIS
    What KonvoyLb costs a fresh shell: a new pwsh that imports the built module and runs
    Get-LbAddressPool on the example, against a new pwsh that only runs Get-Content on it.
    Runs are interleaved so that machine noise hits both sides alike; medians are reported.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    [Parameter(Mandatory)] [string] $OutFile,
    [int] $Runs = 15
)
$ErrorActionPreference = 'Stop'
$example = Join-Path $PSScriptRoot '../../examples/cluster.yaml' | Resolve-Path
$module = Join-Path $ModuleDirectory 'KonvoyLb.psd1' | Resolve-Path
$native = Join-Path $PSHOME 'pwsh'
[string[]] $launcher = if (Test-Path $native) { @($native) } else { @('dotnet', (Join-Path $PSHOME 'pwsh.dll')) }

$cases = [ordered]@{
    'Get-Content only'                     = "Get-Content -LiteralPath '$example' | Out-Null"
    # Also prints its own in-process split: Import-Module, then the first Get-LbAddressPool.
    'Import-Module KonvoyLb + Get-LbAddressPool' = "`$sw = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$module'; `$i = `$sw.Elapsed.TotalMilliseconds; Get-LbAddressPool -LiteralPath '$example' | Out-Null; '{0} {1}' -f `$i, (`$sw.Elapsed.TotalMilliseconds - `$i)"
}
$importMs = [Collections.Generic.List[double]]::new()
$firstGetMs = [Collections.Generic.List[double]]::new()
$times = @{}
foreach ($name in $cases.Keys) { $times[$name] = [Collections.Generic.List[double]]::new() }

function Measure-Once([string] $Command) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $printed = & $launcher[0] @($launcher | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $Command
    $elapsed = $sw.Elapsed.TotalMilliseconds
    if ($LASTEXITCODE -ne 0) { throw "benchmark command failed: $Command" }
    if ($printed) {
        $split = "$printed" -split ' '
        $importMs.Add([double]$split[0]); $firstGetMs.Add([double]$split[1])
    }
    $elapsed
}

foreach ($name in $cases.Keys) { $null = Measure-Once $cases[$name] }   # warm the disk cache
$importMs.Clear(); $firstGetMs.Clear()
for ($i = 0; $i -lt $Runs; $i++) {
    foreach ($name in $cases.Keys) { $times[$name].Add((Measure-Once $cases[$name])) }
}

function Get-Median($values) { $s = $values | Sort-Object; $s[[int][math]::Floor($s.Count / 2)] }
$baseline = Get-Median $times['Get-Content only']
$withModule = Get-Median $times['Import-Module KonvoyLb + Get-LbAddressPool']
$inProcess = (Get-Median $importMs) + (Get-Median $firstGetMs)
$lines = @(
    "| fresh ``pwsh -NoProfile`` running | median of $Runs (ms) |"
    '|---|---:|'
    "| ``Get-Content`` on examples/cluster.yaml | $([math]::Round($baseline)) |"
    "| ``Import-Module KonvoyLb; Get-LbAddressPool`` on the same file | $([math]::Round($withModule)) |"
    "| difference of the two | $([math]::Round($withModule - $baseline)) |"
    "| **KonvoyLb's own time inside its process** (``Import-Module`` + first ``Get-LbAddressPool``; target: < 250) | **$([math]::Round($inProcess))** |"
    ''
    "Inside the KonvoyLb process: ``Import-Module`` $([math]::Round((Get-Median $importMs))) ms, first ``Get-LbAddressPool`` $([math]::Round((Get-Median $firstGetMs))) ms (medians)."
    'The whole-process difference is smaller than that in-process time because the Get-Content process pays for auto-loading Microsoft.PowerShell.Management, which the KonvoyLb process never needs; the in-process time is the honest upper bound.'
)
$lines | Set-Content $OutFile
$lines | Write-Host
