#Requires -Modules Pester
# Every cmdlet through the built module, on copies of the real Konvoy fixtures.

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE -Force
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    $script:Fixtures = $env:KONVOYLB_FIXTURES
    function script:Copy-Fixture([string] $Name, [string] $As = 'cluster.yaml') {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory $dir
        $target = Join-Path $dir $As
        Copy-Item (Join-Path $Fixtures $Name) $target
        $target
    }
    function script:Get-Bytes([string] $Path) { [IO.File]::ReadAllBytes($Path) }
}

Describe 'Get-LbConfig' {
    It 'returns the addon, its pools and the cluster facts' {
        $c = Get-LbConfig -LiteralPath (Join-Path $Fixtures 'onprem-v1beta2.cluster.yaml')
        $c.AddonFound | Should -BeTrue
        $c.Enabled | Should -BeTrue
        $c.ApiVersion | Should -Be 'konvoy.mesosphere.io/v1beta2'
        $c.AddressPools.Name | Should -Be 'default'
        $c.PodSubnet | Should -Be '192.168.0.0/24'
        $c.PodSubnetIsDefault | Should -BeFalse
        $c.ControlPlaneEndpoint | Should -Be '192.168.25.139:6443'
    }

    It 'flags the Konvoy defaults when the subnets are absent' {
        $path = Copy-Fixture 'onprem-v1beta1.cluster.yaml'
        (Get-Content $path) | Where-Object { $_ -notmatch 'podSubnet|serviceSubnet' } | Set-Content $path
        $c = Get-LbConfig -Path $path
        $c.PodSubnet | Should -Be '192.168.0.0/16'
        $c.PodSubnetIsDefault | Should -BeTrue
        $c.ServiceSubnet | Should -Be '10.0.0.0/18'
        $c.ServiceSubnetIsDefault | Should -BeTrue
    }

    It 'uses the docker provisioner defaults and reports a file without a metallb entry' {
        (Get-LbConfig -LiteralPath (Join-Path $Fixtures 'docker-provisioner-v1beta2.cluster.yaml')).Provider | Should -Be 'docker'
        (Get-LbConfig -LiteralPath (Join-Path $Fixtures 'aws-reference-v1beta2.cluster.yaml')).AddonFound | Should -BeFalse
    }

    It 'resolves a relative -Path against the PowerShell location, and defaults to ./cluster.yaml' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        Push-Location (Split-Path $path)
        try {
            (Get-LbConfig -Path ./cluster.yaml).Path | Should -Be $path
            (Get-LbConfig).Path | Should -Be $path
        }
        finally { Pop-Location }
    }
}

Describe 'Errors on bad input' {
    It 'says FileNotFound for a missing file' {
        { Get-LbConfig -LiteralPath (Join-Path $TestDrive 'nope.yaml') -ErrorAction Stop } |
            Should -Throw -ErrorId 'FileNotFound,KonvoyLb.Config.GetLbConfig'
    }

    It 'says NotYaml with line and column' {
        $path = Join-Path $TestDrive 'bad.yaml'
        "kind: ClusterConfiguration`nspec:`n  a: [1, 2`n" | Set-Content $path
        $e = { Get-LbConfig -LiteralPath $path } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'NotYaml,*'
        $e.Exception.Message | Should -Match 'bad.yaml:\d+:\d+'
    }

    It 'refuses v1alpha1 and says so' {
        $path = Join-Path $TestDrive 'old.yaml'
        "kind: ClusterConfiguration`napiVersion: konvoy.mesosphere.io/v1alpha1`nspec:`n  addons:`n    configRepository: x`n" | Set-Content $path
        { Get-LbConfig -LiteralPath $path } | Should -Throw -ErrorId 'UnsupportedApiVersion,KonvoyLb.Config.GetLbConfig'
    }

    It 'says NoClusterConfiguration for another YAML file' {
        { Get-LbConfig -LiteralPath (Join-Path $Fixtures 'onprem.inventory.yaml') } | Should -Throw -ErrorId 'NoClusterConfiguration,*'
    }

    It 'refuses an invalid address, lists every problem, and leaves the file byte-identical' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        $before = Get-Bytes $path
        $e = { Set-LbAddressPool -Path $path -Name extra -Address 192.168.25.300/32, 192.168.25.90/32 } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'InvalidConfig,*'
        $e.TargetObject.Code | Should -Contain 'InvalidAddress'
        $e.TargetObject.Code | Should -Contain 'OverlappingAddresses'
        $e.Exception.Message | Should -Match 'cluster.yaml:\d+:\d+'
        Get-Bytes $path | Should -Be $before
    }

    It 'says PoolNotFound for a literal name, and nothing for a wildcard that matches nothing' {
        $path = Join-Path $Fixtures 'onprem-v1beta2.cluster.yaml'
        { Get-LbAddressPool -LiteralPath $path -Name nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'PoolNotFound,*'
        Get-LbAddressPool -LiteralPath $path -Name 'nosuch*' | Should -BeNullOrEmpty
    }

    It 'says MetalLbAddonNotFound when editing a file without the addon' {
        $path = Copy-Fixture 'aws-reference-v1beta2.cluster.yaml'
        { Set-LbAddressPool -Path $path -Name p -Address 192.0.2.0/28 } | Should -Throw -ErrorId 'MetalLbAddonNotFound,*'
    }
}

Describe 'Address pools' {
    It 'adds an address, keeps flow style, and changes only that line' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        $before = Get-Content $path
        $pool = Set-LbAddressPool -Path $path -Name default -AddAddress 192.168.25.91-192.168.25.95 -PassThru
        $pool.Addresses | Should -Be @('192.168.25.89-192.168.25.90', '192.168.25.91-192.168.25.95')
        $diff = Compare-Object $before (Get-Content $path)
        $diff.Count | Should -Be 2
        ($diff | Where-Object SideIndicator -EQ '=>').InputObject | Should -Be '                addresses: [192.168.25.89-192.168.25.90, 192.168.25.91-192.168.25.95]'
    }

    It 'creates a pool, replaces its addresses, removes one, and removes the pool' {
        $path = Copy-Fixture 'docker-provisioner-v1beta2.cluster.yaml'
        Set-LbAddressPool -Path $path -Name bgp1 -Protocol bgp -Address 198.51.100.0/28, 198.51.100.32/28 -AutoAssign $false `
            -BgpAdvertisement @{ AggregationLength = 28; LocalPref = 200; Communities = '65535:65281' }
        $p = Get-LbAddressPool -Path $path -Name bgp1
        $p.Protocol | Should -Be 'bgp'
        $p.AutoAssign | Should -BeFalse
        $p.BgpAdvertisements[0].AggregationLength | Should -Be 28
        $p.BgpAdvertisements[0].LocalPref | Should -Be 200
        Set-LbAddressPool -Path $path -Name bgp1 -RemoveAddress 198.51.100.32/28
        (Get-LbAddressPool -Path $path -Name bgp1).Addresses | Should -Be '198.51.100.0/28'
        Remove-LbAddressPool -Path $path -Name bgp1
        (Get-LbAddressPool -Path $path).Name | Should -Be 'default'
    }

    It 'refuses to remove an address that is not in the pool' {
        $path = Copy-Fixture 'docker-provisioner-v1beta2.cluster.yaml'
        { Set-LbAddressPool -Path $path -Name default -RemoveAddress 10.9.9.9/32 } | Should -Throw -ErrorId 'InvalidArgument,*'
    }

    It 'copies pools between files through the pipeline' {
        $source = Copy-Fixture 'docker-provisioner-v1beta2.cluster.yaml'
        $target = Copy-Fixture 'onprem-v1beta1.cluster.yaml'
        Set-LbAddressPool -Path $source -Name extra -Protocol bgp -Address 198.51.100.0/24 -AvoidBuggyIps $true
        Get-LbAddressPool -Path $source -Name extra | Set-LbAddressPool -Path $target
        $copied = Get-LbAddressPool -Path $target -Name extra
        $copied.Protocol | Should -Be 'bgp'
        $copied.Addresses | Should -Be '198.51.100.0/24'
        $copied.AvoidBuggyIps | Should -BeTrue
        $copied.AutoAssign | Should -BeNullOrEmpty
    }

    It 'removes pools piped from Get-LbAddressPool (Path binds from the object)' {
        $path = Copy-Fixture 'docker-provisioner-v1beta2.cluster.yaml'
        Set-LbAddressPool -Path $path -Name a1 -Address 198.51.100.0/30
        Set-LbAddressPool -Path $path -Name a2 -Address 198.51.100.4/30
        Get-LbAddressPool -Path $path -Name 'a*' | Remove-LbAddressPool -Confirm:$false
        (Get-LbAddressPool -Path $path).Name | Should -Be 'default'
    }

    It '-WhatIf writes nothing and shows the changed lines' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        $before = Get-Bytes $path
        # What-if text goes to the host, so read it from a child process's output.
        $out = Invoke-Fresh "Import-Module '$env:KONVOYLB_MODULE'; Set-LbAddressPool -LiteralPath '$path' -Name default -Protocol bgp -AddAddress 192.168.25.91/32 -WhatIf"
        Get-Bytes $path | Should -Be $before
        $text = $out -join "`n"
        $text | Should -Match "What if: Set address pool 'default'"
        $text | Should -Match '-\s+79:\s+protocol: layer2'
        $text | Should -Match '\+\s+79:\s+protocol: bgp'
        $text | Should -Match '\+\s+81:\s+addresses: \[192.168.25.89-192.168.25.90, 192.168.25.91/32\]'
        Set-LbAddressPool -Path $path -Name default -Protocol bgp -WhatIf
        Get-Bytes $path | Should -Be $before
    }

    It 'completes existing pool names' {
        $path = Copy-Fixture 'docker-provisioner-v1beta2.cluster.yaml'
        Set-LbAddressPool -Path $path -Name deep -Address 198.51.100.0/30
        $line = "Set-LbAddressPool -Path '$path' -Name de"
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Be @('default', 'deep')
    }
}

Describe 'BGP peers' {
    It 'sets every field of a peer, masks the password, and copies it with the pipeline' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        $secret = ConvertTo-SecureString 'hunter2-secret' -AsPlainText -Force
        Set-LbBgpPeer -Path $path -PeerAddress 192.0.2.1 -MyAsn 64512 -PeerAsn 4200000000 -PeerPort 1179 -SourceAddress 192.0.2.10 `
            -HoldTime 90s -KeepaliveTime ([timespan]::FromSeconds(30)) -RouterId 192.0.2.10 -Password $secret -EbgpMultihop $true `
            -NodeSelector @{ MatchLabels = @{ rack = 'r1' }; MatchExpressions = @(@{ Key = 'zone'; Operator = 'In'; Values = 'z1', 'z2' }) }
        $peer = Get-LbBgpPeer -Path $path -PeerAddress 192.0.2.1
        $peer.PeerAsn | Should -Be 4200000000
        $peer.PeerPort | Should -Be 1179
        $peer.KeepaliveTime | Should -Be '30s'
        $peer.HasPassword | Should -BeTrue
        $peer.Password | Should -BeOfType [securestring]
        $peer.NodeSelectors[0].MatchExpressions[0].Values | Should -Be @('z1', 'z2')
        ($peer | Out-String) | Should -Not -Match 'hunter2'
        ($peer | Format-List * | Out-String) | Should -Not -Match 'hunter2'
        Get-Content $path -Raw | Should -Match 'password: hunter2-secret'

        $target = Copy-Fixture 'docker-provisioner-v1beta2.cluster.yaml'
        Get-LbBgpPeer -Path $path | Set-LbBgpPeer -Path $target
        Get-Content $target -Raw | Should -Match 'password: hunter2-secret'
        (Get-LbBgpPeer -Path $target).RouterId | Should -Be '192.0.2.10'
    }

    It 'refuses a hold time of 2s and an unknown BFD profile' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        $e = { Set-LbBgpPeer -Path $path -PeerAddress 192.0.2.1 -MyAsn 64512 -PeerAsn 64500 -HoldTime 2s -BfdProfile fast } | Should -Throw -PassThru
        $e.TargetObject.Code | Should -Contain 'InvalidHoldTime'
        $e.TargetObject.Code | Should -Contain 'UnknownBfdProfile'
    }

    It 'removes a peer and clears a password' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        Set-LbBgpPeer -Path $path -PeerAddress 192.0.2.1 -MyAsn 64512 -PeerAsn 64500 -Password (ConvertTo-SecureString x -AsPlainText -Force)
        Set-LbBgpPeer -Path $path -PeerAddress 192.0.2.1 -NoPassword
        (Get-LbBgpPeer -Path $path).HasPassword | Should -BeFalse
        Remove-LbBgpPeer -Path $path -PeerAddress 192.0.2.1 -Confirm:$false
        Get-LbBgpPeer -Path $path | Should -BeNullOrEmpty
        { Remove-LbBgpPeer -Path $path -PeerAddress 192.0.2.1 -Confirm:$false } | Should -Throw -ErrorId 'PeerNotFound,*'
    }
}

Describe 'BGP communities' {
    It 'sets, reads, uses and removes an alias' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        Set-LbBgpCommunity -Path $path -Name no-export -Value 65535:65281 -PassThru | ForEach-Object Value | Should -Be '65535:65281'
        Set-LbAddressPool -Path $path -Name routed -Protocol bgp -Address 198.51.100.0/28 -BgpAdvertisement @{ Communities = 'no-export' }
        (Get-LbBgpCommunity -Path $path -Name 'no-*').Value | Should -Be '65535:65281'
        Get-Content $path | Should -Contain '                no-export: 65535:65281'
        Remove-LbAddressPool -Path $path -Name routed -Confirm:$false
        Remove-LbBgpCommunity -Path $path -Name no-export -Confirm:$false
        Get-LbBgpCommunity -Path $path | Should -BeNullOrEmpty
    }

    It 'refuses a malformed community value' {
        $path = Copy-Fixture 'onprem-v1beta2.cluster.yaml'
        $e = { Set-LbBgpCommunity -Path $path -Name bad -Value 70000:1 } | Should -Throw -PassThru
        $e.TargetObject.Code | Should -Contain 'InvalidCommunity'
    }
}

Describe 'Enable-LbAddon and Disable-LbAddon' {
    It 'switches the enabled line only' {
        $path = Copy-Fixture 'onprem-v1beta1.cluster.yaml'
        $before = Get-Content $path
        Disable-LbAddon -Path $path
        (Get-LbConfig -Path $path).Enabled | Should -BeFalse
        (Compare-Object $before (Get-Content $path)).Count | Should -Be 2
        Enable-LbAddon -Path $path -PassThru | ForEach-Object Enabled | Should -BeTrue
        Get-Content $path | Should -Be $before
    }

    It 'creates the metallb entry in kubernetes-base-addons, in alphabetical place, with a values block' {
        $path = Copy-Fixture 'aws-reference-v1beta2.cluster.yaml'
        $before = Get-Content $path
        Enable-LbAddon -Path $path
        $c = Get-LbConfig -Path $path
        $c.AddonFound | Should -BeTrue
        $c.Enabled | Should -BeTrue
        $c.Repository | Should -Match 'kubernetes-base-addons'
        $added = Compare-Object $before (Get-Content $path) | Where-Object SideIndicator -EQ '=>'
        ($added | Where-Object SideIndicator -EQ '<=') | Should -BeNullOrEmpty
        $added[0].InputObject.Trim() | Should -Be '- name: metallb'
        Set-LbAddressPool -Path $path -Name default -Address 192.0.2.0/28
        (Get-LbAddressPool -Path $path).Addresses | Should -Be '192.0.2.0/28'
    }
}
