#Requires -Version 7.4
<#
    Regression tests for cmdlet bugs found while writing the help: each pins the behaviour the help
    documents.
#>

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE
    $script:NoAddon = Join-Path $env:KONVOYLB_FIXTURES 'aws-reference-v1beta2.cluster.yaml'
    function script:New-Copy {
        $file = Join-Path $TestDrive "$([guid]::NewGuid().ToString('n')).yaml"
        Copy-Item -LiteralPath (Join-Path $PSScriptRoot '../../examples/cluster.yaml') $file
        (Get-Item $file).IsReadOnly = $false
        $file
    }
}

Describe '<_> on a file without a metallb entry' -ForEach 'Get-LbAddressPool', 'Get-LbBgpPeer', 'Get-LbBgpCommunity' {
    It 'fails with the ErrorId MetalLbAddonNotFound and says how to fix it' {
        $record = $null
        try { & $_ -LiteralPath $NoAddon } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeLike 'MetalLbAddonNotFound,*'
        $record.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $record.ErrorDetails.RecommendedAction | Should -BeLike '*Enable-LbAddon*'
    }
}

Describe 'Set-LbAddressPool -Protocol' {
    It 'accepts the protocol in any case, as ValidateSet does, and writes what MetalLB reads' {
        $file = New-Copy
        $pool = Set-LbAddressPool -LiteralPath $file -Name v6 -Protocol BGP -Address 2001:db8::/120 -PassThru
        $pool.Protocol | Should -BeExactly 'bgp'
        Get-Content -Raw $file | Should -Match '(?m)^\s+protocol: bgp\r?$'
    }
}
