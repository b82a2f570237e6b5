#Requires -Modules Pester
# Test-LbVipReachability's input errors (the probing itself is tested on a namespace LAN by xunit).

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE -Force
}

Describe 'Test-LbVipReachability input' {
    It 'refuses a backwards range with InvalidRange' {
        { Test-LbVipReachability -Address 192.0.2.20-192.0.2.10 } | Should -Throw -ErrorId 'InvalidRange,KonvoyLb.Reachability.TestLbVipReachability'
    }

    It 'refuses a range that mixes IPv4 and IPv6' {
        { Test-LbVipReachability -Address 192.0.2.1-2001:db8::1 } | Should -Throw -ErrorId 'InvalidRange,*'
    }

    It 'refuses a typo that is not an address' {
        { Test-LbVipReachability -Address 192.0.2.300 } | Should -Throw -ErrorId 'InvalidAddress,*'
    }

    It 'guards against flooding a LAN: a /16 is more than -MaxAddresses allows' {
        $e = { Test-LbVipReachability -Address 198.51.0.0/16 } | Should -Throw -ErrorId 'TooManyAddresses,*' -PassThru
        $e.Exception.Message | Should -Match '65536 addresses'
        $e.CategoryInfo.Category | Should -Be 'LimitsExceeded'
    }

    It 'says InventoryNotYaml for an inventory that does not parse' {
        $inv = Join-Path $TestDrive 'inventory.yaml'
        "node:`n  hosts: [unclosed`n" | Set-Content $inv
        { Test-LbVipReachability -Address 203.0.113.250 -InventoryPath $inv } | Should -Throw -ErrorId 'InventoryNotYaml,*'
    }

    It 'says PoolNotFound for a pool the file does not have' {
        $path = Join-Path $TestDrive 'cluster.yaml'
        Copy-Item (Join-Path $env:KONVOYLB_FIXTURES 'onprem-v1beta2.cluster.yaml') $path
        { Test-LbVipReachability -Path $path -Pool nosuch -MaxAddresses 1 -ErrorAction Stop } | Should -Throw -ErrorId 'PoolNotFound,*'
    }
}
