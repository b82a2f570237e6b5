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

Describe 'Test-LbVipReachability -FromInventory, faults found before any connection' {
    # Each case fails on the deploy computer, before a packet is sent: no SSH server is needed.
    BeforeAll {
        $script:home0 = $env:HOME
        $script:sock0 = $env:SSH_AUTH_SOCK
        $env:HOME = Join-Path $TestDrive 'home'
        New-Item -ItemType Directory $env:HOME -Force | Out-Null
        $env:SSH_AUTH_SOCK = $null
        function script:New-Inventory([string] $KeyLine) {
            $inv = Join-Path $TestDrive "inventory-$(New-Guid).yaml"
            "control-plane:`n  hosts:`n    192.0.2.11:`nnode:`n  hosts:`n    192.0.2.12:`nall:`n  vars:`n    ansible_user: root`n$KeyLine" | Set-Content $inv
            $inv
        }
    }
    AfterAll {
        $env:HOME = $script:home0
        $env:SSH_AUTH_SOCK = $script:sock0
    }

    It 'reports a missing key file as a fault of each host, not one for the run' {
        $inv = New-Inventory "    ansible_ssh_private_key_file: $TestDrive/no-such-key"
        $out = Test-LbVipReachability -Address 192.0.2.200 -FromInventory -InventoryPath $inv -KnownHostsPath "$TestDrive/known_hosts" -InformationAction Ignore -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $errs.Count | Should -Be 2
        $errs | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'SshAuthenticationFailed,*' }
        ($errs | ForEach-Object TargetObject | Sort-Object) | Should -Be @('192.0.2.11', '192.0.2.12')
        $errs[0].Exception.Message | Should -Match "the private key '.*no-such-key' does not exist"
    }

    It 'says there is no key at all, and why the agent did not help' {
        $env:SSH_AUTH_SOCK = Join-Path $TestDrive 'no-agent.sock'
        try {
            $inv = New-Inventory ''
            $null = Test-LbVipReachability -Address 192.0.2.200 -FromInventory -InventoryPath $inv -HostName 192.0.2.12 -KnownHostsPath "$TestDrive/known_hosts" -InformationAction Ignore -ErrorVariable errs -ErrorAction SilentlyContinue
            $errs | Should -HaveCount 1
            $e = $errs[0]
            $e.FullyQualifiedErrorId | Should -BeLike 'SshAuthenticationFailed,*'
            $e.Exception.Message | Should -Match 'no key to log in with'
            $e.Exception.Message | Should -Match "the ssh-agent at .*no-agent.sock cannot be reached"
        }
        finally { $env:SSH_AUTH_SOCK = $null }
    }

    It 'asks for the passphrase of an encrypted key, or the agent' {
        $key = Join-Path $TestDrive 'encrypted_ed25519'
        ssh-keygen -q -t ed25519 -N 'a passphrase' -C pester -f $key
        $inv = New-Inventory "    ansible_ssh_private_key_file: $key"
        $null = Test-LbVipReachability -Address 192.0.2.200 -FromInventory -InventoryPath $inv -HostName 192.0.2.11 -KnownHostsPath "$TestDrive/known_hosts" -InformationAction Ignore -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs | Should -HaveCount 1
        $e = $errs[0]
        $e.Exception.Message | Should -Match 'is encrypted, and there is no ssh-agent \(SSH_AUTH_SOCK is not set\)'
    }

    It 'says which -HostName matches no host and probes none' {
        $inv = New-Inventory "    ansible_ssh_private_key_file: $TestDrive/no-such-key"
        $null = Test-LbVipReachability -Address 192.0.2.200 -FromInventory -InventoryPath $inv -HostName node-9 -KnownHostsPath "$TestDrive/known_hosts" -InformationAction Ignore -ErrorVariable errs -ErrorAction SilentlyContinue
        $e = @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'InvalidArgument,*' })
        $e | Should -HaveCount 1
        $e = $e[0]
        $e.Exception.Message | Should -Match "-HostName 'node-9' matches no host"
        $errs | Where-Object { $_.FullyQualifiedErrorId -like 'Ssh*' } | Should -BeNullOrEmpty
    }
}
