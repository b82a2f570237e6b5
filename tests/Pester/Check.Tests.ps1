#Requires -Modules Pester
# Test-LbConfig, ConvertTo-LbCrd and ConvertTo-LbConfigMap through the built module.

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE -Force
    $script:Fixtures = $env:KONVOYLB_FIXTURES
    function script:New-Cluster([string] $Fixture = 'onprem-v1beta2.cluster.yaml', [switch] $WithInventory) {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory $dir
        Copy-Item (Join-Path $Fixtures $Fixture) (Join-Path $dir 'cluster.yaml')
        if ($WithInventory) { Copy-Item (Join-Path $Fixtures 'onprem.inventory.yaml') (Join-Path $dir 'inventory.yaml') }
        Join-Path $dir 'cluster.yaml'
    }
}

Describe 'Test-LbConfig' {
    It 'passes the real on-prem file with its inventory and reports capacity' {
        $path = New-Cluster -WithInventory
        $findings = Test-LbConfig -Path $path -NodeSubnet 192.168.25.0/24
        $findings | Where-Object Severity -EQ 'Error' | Should -BeNullOrEmpty
        ($findings | Where-Object Code -EQ 'PoolCapacity').Message | Should -Match '^2 usable addresses'
        Test-LbConfig -Path $path -Quiet | Should -BeTrue
    }

    It 'finds a pool over a node, the control-plane VIP and a reserved gateway, with places and the overlapping part' {
        $path = New-Cluster -WithInventory
        Set-LbAddressPool -Path $path -Name default -Address 192.168.25.130-192.168.25.140 -WarningAction SilentlyContinue
        $findings = Test-LbConfig -Path $path -ReservedAddress 192.168.25.1 -NodeSubnet 192.168.25.0/24 -ErrorAction SilentlyContinue
        $node = $findings | Where-Object Code -EQ 'PoolContainsNodeAddress'
        @($node).Count | Should -Be 4
        $node[0].Location.Line | Should -Be 81
        $node[0].Overlap | Should -Be '192.168.25.131/32'
        ($findings | Where-Object Code -EQ 'PoolContainsControlPlaneEndpoint').OtherRange | Should -Be '192.168.25.139/32'
        Test-LbConfig -Path $path -Quiet | Should -BeFalse
    }

    It 'writes errors to the error stream, so -ErrorAction Stop fails a CI pipeline' {
        $path = New-Cluster
        Set-LbAddressPool -Path $path -Name default -Address 10.0.0.10-10.0.0.20 -WarningAction SilentlyContinue
        { Test-LbConfig -Path $path -ErrorAction Stop } | Should -Throw -ErrorId 'PoolOverlapsServiceSubnet,KonvoyLb.Check.TestLbConfig'
    }

    It 'checks a plain MetalLB ConfigMap with -MetalLbConfigPath' {
        $cm = Join-Path $TestDrive 'config.yaml'
        @'
apiVersion: v1
kind: ConfigMap
metadata:
  namespace: metallb-system
  name: config
data:
  config: |
    address-pools:
    - name: a
      protocol: layer2
      addresses: [192.0.2.0/28]
    - name: b
      protocol: layer2
      addresses:
      - 192.0.2.8-192.0.2.20
'@ | Set-Content $cm
        $f = Test-LbConfig -MetalLbConfigPath $cm -ErrorAction SilentlyContinue | Where-Object Code -EQ 'OverlappingAddresses'
        $f.Overlap | Should -Be '192.0.2.8/29'
        $f.Location.Line | Should -Be 15
    }

    It 'rejects a reserved address that is not an address' {
        { Test-LbConfig -Path (New-Cluster) -ReservedAddress 'gateway' } | Should -Throw -ErrorId 'InvalidAddress,*'
    }

    It 'makes Set-LbAddressPool warn (not fail) about a pool over a node address' {
        $path = New-Cluster -WithInventory
        $warnings = @()
        Set-LbAddressPool -Path $path -Name default -AddAddress 192.168.25.132/32 -WarningVariable warnings -WarningAction SilentlyContinue
        (Get-LbAddressPool -Path $path).Addresses | Should -Contain '192.168.25.132/32'
        ($warnings -join "`n") | Should -Match 'PoolContainsNodeAddress'
    }
}

Describe 'ConvertTo-LbCrd' {
    It 'writes the custom resources to the pipeline and to a file' {
        $path = New-Cluster
        $yaml = ConvertTo-LbCrd -Path $path -Namespace kubeaddons
        $yaml | Should -Match 'kind: IPAddressPool'
        $yaml | Should -Match 'namespace: kubeaddons'
        $out = Join-Path $TestDrive 'crds.yaml'
        ConvertTo-LbCrd -Path $path -OutFile $out
        Get-Content $out -Raw | Should -Be (ConvertTo-LbCrd -Path $path)
    }

    It 'refuses what it cannot translate, and -WhatIf writes nothing' {
        $path = New-Cluster
        Set-LbAddressPool -Path $path -Name Default -Address 198.51.100.0/28 -WarningAction SilentlyContinue
        { ConvertTo-LbCrd -Path $path } | Should -Throw -ErrorId 'CannotConvert,*'
        $out = Join-Path $TestDrive 'none.yaml'
        ConvertTo-LbCrd -Path (New-Cluster) -OutFile $out -WhatIf
        $out | Should -Not -Exist
    }
}

Describe 'ConvertTo-LbConfigMap' {
    It 'renders configInline as written, comments kept, and the result means what cluster.yaml means (<_>)' -ForEach @(
        'onprem-v1beta2.cluster.yaml', 'onprem-v1beta1.cluster.yaml', 'docker-provisioner-v1beta2.cluster.yaml') {
        $path = New-Cluster $_
        $yaml = ConvertTo-LbConfigMap -Path $path
        $yaml | Should -Match '(?m)^kind: ConfigMap$'
        $yaml | Should -Match '(?m)^  namespace: kubeaddons$'
        $yaml | Should -Match '(?m)^    app: metallb$'
        $yaml | Should -Match '(?m)^  config: \|$'
        $map = Join-Path $TestDrive "configmap-$_"
        Set-Content -Path $map -Value $yaml -NoNewline
        # The ConfigMap read back (as MetalLB reads it) gives the same resources as cluster.yaml itself.
        ConvertTo-LbCrd -MetalLbConfigPath $map | Should -Be (ConvertTo-LbCrd -Path $path)
    }

    It 'keeps the comments of configInline, also above its first key' {
        $yaml = ConvertTo-LbConfigMap -Path (Join-Path $PSScriptRoot '../../examples/cluster.yaml')
        $yaml | Should -Match '(?m)^    # BGP peers: the top-of-rack routers$'
        $yaml | Should -Match '(?m)^      # configure addresses for your network$'
    }

    It 'is what examples/deploy/configmap.yaml holds for the bundled example' {
        $expected = ConvertTo-LbConfigMap -Path (Join-Path $PSScriptRoot '../../examples/cluster.yaml')
        $file = (Get-Content (Join-Path $PSScriptRoot '../../examples/deploy/configmap.yaml') -Raw) -replace '(?m)\A(#.*\n)+', ''
        $file | Should -Be $expected
    }

    It 'writes to a file atomically, and -WhatIf writes nothing' {
        $out = Join-Path $TestDrive 'cm.yaml'
        ConvertTo-LbConfigMap -Path (New-Cluster) -Namespace metallb-system -Name config -OutFile $out
        Get-Content $out -Raw | Should -Match '(?m)^  name: config\n  namespace: metallb-system$'
        $none = Join-Path $TestDrive 'none-cm.yaml'
        ConvertTo-LbConfigMap -Path (New-Cluster) -OutFile $none -WhatIf
        $none | Should -Not -Exist
    }

    It 'refuses a configuration MetalLB would refuse, and a file without the addon' {
        $path = New-Cluster
        (Get-Content $path -Raw) -replace 'protocol: layer2', 'protocol: layer9' | Set-Content $path -NoNewline
        $out = Join-Path $TestDrive 'bad-cm.yaml'
        { ConvertTo-LbConfigMap -Path $path -OutFile $out } | Should -Throw -ErrorId 'CannotConvert,*'
        $out | Should -Not -Exist
        { ConvertTo-LbConfigMap -Path (New-Cluster 'aws-reference-v1beta2.cluster.yaml') } | Should -Throw -ErrorId 'MetalLbAddonNotFound,*'
        { ConvertTo-LbConfigMap -Namespace 'Not_Valid' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }
}
