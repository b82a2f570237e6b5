<#
.SYNOPSIS
    The main job on the bundled example: read the metallb addon of examples/cluster.yaml, change it
    safely, and show that only the changed lines changed. Works on a copy; the example stays as it is.
#>
param([Parameter(Mandatory)] [string] $ModuleDirectory)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $ModuleDirectory 'KonvoyLb.psd1')

$work = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "konvoylb-demo-$PID") -Force
$cluster = Join-Path $work 'cluster.yaml'
Copy-Item (Join-Path $PSScriptRoot 'cluster.yaml') $cluster
$before = Get-Content $cluster
Push-Location $work
try {
    Write-Host "`n# The metallb addon of cluster.yaml" -ForegroundColor Cyan
    Get-LbConfig | Format-List Enabled, Repository, ApiVersion, PodSubnet, ServiceSubnet, ControlPlaneEndpoint

    Write-Host '# Address pools, peers and community aliases' -ForegroundColor Cyan
    Get-LbAddressPool | Format-Table
    Get-LbBgpPeer | Format-Table
    Get-LbBgpCommunity | Format-Table

    Write-Host '# -WhatIf shows the lines that would change, and writes nothing' -ForegroundColor Cyan
    Set-LbAddressPool -Name default -AddAddress 192.168.25.91-192.168.25.99 -WhatIf

    Write-Host "`n# Make the changes" -ForegroundColor Cyan
    Set-LbAddressPool -Name default -AddAddress 192.168.25.91-192.168.25.99 -PassThru | Format-Table
    Set-LbAddressPool -Name ipv6 -Address 2001:db8:25::/120 -AutoAssign $false -PassThru | Format-Table
    # -Verbose shows the lines each change wrote; the module masks the password in them.
    Set-LbBgpPeer -PeerAddress 192.168.25.2 -MyAsn 64512 -PeerAsn 64500 -HoldTime ([timespan]::FromSeconds(30)) `
        -Password (ConvertTo-SecureString 'hunter2' -AsPlainText -Force) -PassThru -Verbose | Format-Table

    Write-Host '# A change MetalLB would refuse is refused, with every problem, and the file stays as it is' -ForegroundColor Cyan
    try {
        Set-LbAddressPool -Name clash -Address 192.168.25.95/32, 198.51.100.0/24, 10.0.0.9-10.0.0.1
    }
    catch {
        Write-Host "ErrorId: $($_.FullyQualifiedErrorId)" -ForegroundColor Yellow
        Write-Host $_.Exception.Message -ForegroundColor Yellow
    }

    $after = Get-Content $cluster
    $changed = @(Compare-Object $before $after).Count
    Write-Host "`n# cluster.yaml: $changed of $($after.Count) lines differ after all the changes; every other byte is as it was" -ForegroundColor Cyan

    Write-Host "`n# Check before it hurts: MetalLB's rules and what MetalLB never checks" -ForegroundColor Cyan
    Test-LbConfig -NodeSubnet 192.168.25.0/24 -ReservedAddress 192.168.25.1 -ErrorAction SilentlyContinue |
        Format-Table Severity, Code, Subject, Location, Message -AutoSize | Out-String -Width 200 | Write-Host
    Write-Host "Ready for 'konvoy deploy addons': $(Test-LbConfig -Quiet)"

    Write-Host "`n# The same configuration as MetalLB 0.13+ custom resources (first lines)" -ForegroundColor Cyan
    (ConvertTo-LbCrd) -split "`n" | Select-Object -First 12 | Write-Host
}
finally {
    Pop-Location
    Remove-Item $work -Recurse -Force
}
