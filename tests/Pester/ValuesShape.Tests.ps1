#Requires -Version 7.4
<#
    The metallb entry in the shapes that used to be read wrongly without a word, and the edits that used to leak a
    password, re-order a flow mapping, print their diff twice or throw raw exceptions: each through the built module,
    as a user meets it.
#>

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')

    function script:New-Cluster([string] $MetalLbEntry) {
        $file = Join-Path $TestDrive "$([guid]::NewGuid().ToString('n')).cluster.yaml"
        $text = "kind: ClusterConfiguration`napiVersion: konvoy.mesosphere.io/v1beta2`nspec:`n  addons:`n" +
            "  - configRepository: https://github.com/mesosphere/kubernetes-base-addons`n    addonsList:`n" +
            "    - name: dashboard`n      enabled: true`n" + $MetalLbEntry +
            "    - name: nvidia   # keep me`n      enabled: false`n"
        [IO.File]::WriteAllText($file, $text)
        $file
    }

    function script:Get-Failure([scriptblock] $Command) {
        try { & $Command; $null } catch { $_ }
    }

    $script:MappingValues = "    - name: metallb`n      enabled: true`n      values:`n        configInline:`n          address-pools: []`n"
    $script:ScalarConfigInline = "    - name: metallb`n      enabled: true`n      values: |`n        configInline: 5`n"
    $script:QuotedValues = "    - name: metallb`n      enabled: true`n      values: ""configInline:\n  address-pools:\n  - name: default\n    protocol: layer2\n    addresses:\n    - 192.0.2.10-192.0.2.20\n""`n"
    $script:Layer2 = "    - name: metallb`n      enabled: true`n      values: |`n        configInline:`n          address-pools:`n" +
        "          - name: default`n            protocol: layer2`n            addresses:`n            - 192.0.2.10-192.0.2.20`n            - 192.0.2.30/32`n"
    $script:FlowPeer = "    - name: metallb`n      enabled: true`n      values: |`n        configInline:`n          peers:`n" +
        "          - {peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512, password: topsecret}`n"
}

Describe 'values written as a YAML mapping' {
    It '<Name> stops with ValuesNotBlockScalar, its place and the fix, and writes nothing' -ForEach @(
        @{ Name = 'Get-LbAddressPool'; Run = { param($f) Get-LbAddressPool -LiteralPath $f } }
        @{ Name = 'Set-LbAddressPool'; Run = { param($f) Set-LbAddressPool -LiteralPath $f -Name a -Protocol layer2 -Address 192.0.2.0/28 } }
        @{ Name = 'Test-LbConfig'; Run = { param($f) Test-LbConfig -LiteralPath $f } }
    ) {
        $file = New-Cluster $MappingValues
        $before = Get-FileHash $file
        $record = Get-Failure { & $Run $file }
        $record.FullyQualifiedErrorId | Should -BeLike 'ValuesNotBlockScalar,*'
        $record.Exception.Message | Should -BeLike '*.cluster.yaml:12:9:*'
        $record.ErrorDetails.RecommendedAction | Should -BeLike '*values: |*'
        (Get-FileHash $file).Hash | Should -Be $before.Hash
    }

    It 'a configInline that is not a mapping is ConfigInlineNotMapping at its line' {
        $file = New-Cluster $ScalarConfigInline
        $record = Get-Failure { Get-LbAddressPool -LiteralPath $file }
        $record.FullyQualifiedErrorId | Should -BeLike 'ConfigInlineNotMapping,*'
        $record.Exception.Message | Should -BeLike '*.cluster.yaml:12:*'
    }
}

Describe 'values written as a quoted string' {
    It 'is read, and an edit rewrites that one scalar as a literal block, says so in -WhatIf, and keeps every other line' {
        $file = New-Cluster $QuotedValues
        (Get-LbAddressPool -LiteralPath $file).Name | Should -Be 'default'
        # -WhatIf writes to the host: a fresh pwsh captures it as a user sees it.
        $whatIf = Invoke-Fresh "Import-Module '$env:KONVOYLB_MODULE'; Set-LbAddressPool -LiteralPath '$file' -Name extra -Protocol layer2 -Address 192.0.2.64/28 -WhatIf" | Out-String
        $whatIf | Should -BeLike '*literal block*'
        $before = Get-Content $file
        Set-LbAddressPool -LiteralPath $file -Name extra -Protocol layer2 -Address 192.0.2.64/28
        $after = Get-Content $file
        $after | Should -Contain '      values: |'
        (Get-LbAddressPool -LiteralPath $file).Name | Should -Be 'default', 'extra'
        $after[0..7] | Should -Be $before[0..7]
        $after[-2..-1] | Should -Be $before[-2..-1]
    }
}

Describe 'Set-LbAddressPool -Address in a new order' {
    It 're-renders the list in the order given instead of throwing' {
        $file = New-Cluster $Layer2
        Set-LbAddressPool -LiteralPath $file -Name default -Address 192.0.2.30/32, 192.0.2.10-192.0.2.20
        (Get-LbAddressPool -LiteralPath $file -Name default).Addresses | Should -Be '192.0.2.30/32', '192.0.2.10-192.0.2.20'
        Get-Content -Raw $file | Should -BeLike '*- name: nvidia   # keep me*'
    }
}

Describe 'a flow-style peer with a password' {
    It 'never shows the password in -WhatIf or -Verbose, and changes only the pair that changed' {
        $file = New-Cluster $FlowPeer
        $whatIf = Invoke-Fresh "Import-Module '$env:KONVOYLB_MODULE'; Set-LbBgpPeer -LiteralPath '$file' -PeerAddress 10.1.0.1 -PeerAsn 64501 -WhatIf" | Out-String
        $whatIf | Should -Not -BeLike '*topsecret*'
        $whatIf | Should -BeLike '*peer-asn: 64501*'
        $verbose = Set-LbBgpPeer -LiteralPath $file -PeerAddress 10.1.0.1 -PeerAsn 64501 -Verbose 4>&1 | Out-String
        $verbose | Should -Not -BeLike '*topsecret*'
        Get-Content $file | Should -Contain '          - {peer-address: 10.1.0.1, peer-asn: 64501, my-asn: 64512, password: topsecret}'
    }
}

Describe 'Set-LbAddressPool -Verbose' {
    It 'shows its diff once' {
        $file = New-Cluster $Layer2
        $verbose = Set-LbAddressPool -LiteralPath $file -Name default -Address 192.0.2.10-192.0.2.20, 192.0.2.31/32 -Verbose 4>&1 |
            ForEach-Object { "$_" } | Out-String
        # The diff's lines are '+  NN: text' and '-  NN: text'.
        ([regex]::Matches($verbose, '\+\s+\d+:\s+- 192\.0\.2\.31/32')).Count | Should -Be 1
        ([regex]::Matches($verbose, '-\s+\d+:\s+- 192\.0\.2\.30/32')).Count | Should -Be 1
    }
}

Describe 'a password longer than TCP MD5 allows' {
    It 'is an InvalidPassword finding of Test-LbConfig, not a crash later' {
        $file = New-Cluster ("    - name: metallb`n      enabled: true`n      values: |`n        configInline:`n          peers:`n" +
            "          - peer-address: 10.1.0.1`n            peer-asn: 64500`n            my-asn: 64512`n            password: $('x' * 81)`n")
        $findings = Test-LbConfig -LiteralPath $file -ErrorAction SilentlyContinue
        $findings.Code | Should -Contain 'InvalidPassword'
    }
}
