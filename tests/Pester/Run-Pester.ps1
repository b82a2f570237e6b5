<#
.SYNOPSIS
    Runs every *.Tests.ps1 beside this file against a built module folder and writes the counts as JSON.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    [Parameter(Mandatory)] [string] $OtherYamlDotNet,
    [Parameter(Mandatory)] [string] $ResultPath
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force
$env:KONVOYLB_MODULE = Join-Path (Resolve-Path $ModuleDirectory) 'KonvoyLb.psd1'
$env:KONVOYLB_OTHER_YAMLDOTNET = $OtherYamlDotNet
$env:KONVOYLB_FIXTURES = Join-Path $PSScriptRoot '../fixtures/konvoy' | Resolve-Path

$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config
@{ Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount; Skipped = $result.SkippedCount } |
    ConvertTo-Json | Set-Content $ResultPath
