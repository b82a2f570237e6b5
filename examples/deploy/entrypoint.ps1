<#
.SYNOPSIS
    The container's entrypoint: imports KonvoyLb and runs Start-LbController or Start-LbSpeaker.
.DESCRIPTION
    The first argument names the component (controller or speaker); the others are the cmdlet's own
    parameters as a pod's args list gives them: "-Namespace", "kubeaddons", "-LeaderElection",
    "-LogFormat:json". A switch takes no value (or -Name:false); every other parameter takes the next
    argument, and a string[] parameter takes a comma-separated list. An unknown component or parameter
    ends the container with exit code 2 and a line saying what is known.

    The cmdlet stops cleanly on SIGTERM (what the kubelet sends at the start of the grace period) and
    the exit code is 0 after a clean stop, 1 when the cmdlet stopped with an error.
.EXAMPLE
    pwsh -File entrypoint.ps1 speaker -Namespace kubeaddons -MetricsPort 7472
#>
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Exit-Usage([string] $Message) {
    [Console]::Error.WriteLine("konvoylb: $Message")
    exit 2
}

$commands = @{ controller = 'Start-LbController'; speaker = 'Start-LbSpeaker' }
if ($args.Count -eq 0 -or -not $commands.ContainsKey([string]$args[0])) {
    Exit-Usage "the first argument must be one of: $($commands.Keys -join ', ') (got: '$(if ($args.Count) { $args[0] })')."
}
Import-Module (Join-Path $PSScriptRoot 'KonvoyLb/KonvoyLb.psd1')
$command = Get-Command $commands[[string]$args[0]]

$parameters = @{}
for ($i = 1; $i -lt $args.Count; $i++) {
    $arg = [string]$args[$i]
    if ($arg -notmatch '^-([A-Za-z]+)(?::(.*))?$') { Exit-Usage "'$arg' is not a parameter name (they start with '-')." }
    $name, $inline = $Matches[1], $Matches[2]
    $parameter = $command.Parameters.Values | Where-Object { $_.Name -eq $name -or $_.Aliases -contains $name } | Select-Object -First 1
    if (-not $parameter) {
        Exit-Usage "$($command.Name) has no parameter -$name. Known: $(($command.Parameters.Keys | Sort-Object | ForEach-Object { "-$_" }) -join ' ')."
    }
    if ($parameter.SwitchParameter) {
        $parameters[$parameter.Name] = if ($null -ne $inline) { [bool]::Parse($inline) } else { $true }
        continue
    }
    if ($null -eq $inline) {
        if (++$i -ge $args.Count) { Exit-Usage "-$name needs a value." }
        $inline = [string]$args[$i]
    }
    $parameters[$parameter.Name] = if ($parameter.ParameterType.IsArray) { @($inline -split ',') } else { $inline }
}

try {
    & $command @parameters
    exit 0
}
catch {
    [Console]::Error.WriteLine("konvoylb: $($_.Exception.Message)")
    # A bug (InternalError): the whole exception, with its stack, for the report.
    if ($_.FullyQualifiedErrorId -like 'InternalError*') { [Console]::Error.WriteLine($_.Exception.ToString()) }
    exit 1
}
