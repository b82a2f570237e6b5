#Requires -Modules Pester
# Test-LbBgpPeer through the built module, in a network namespace, against a real BIRD 2 peer in
# another one (TCP MD5 against BIRD, FRR and GoBGP is tested by xunit: BgpRealPeerTests). The namespaces and BIRD are made here and removed in AfterAll, even on failure.

BeforeDiscovery {
    $script:CanRun = (Get-Command ip -ErrorAction Ignore) -and (Get-Command bird -ErrorAction Ignore) -and
        ([Environment]::UserName -eq 'root')
    $script:SkipReason = if ($CanRun) { $null } else { 'needs root, iproute2 and bird2 (tools/Install-Prerequisites.sh)' }
    if (-not $CanRun -and $env:CI -eq 'true') { throw "Test-LbBgpPeer tests must run in CI: $SkipReason" }
}

Describe 'Test-LbBgpPeer against BIRD' -Skip:(-not $CanRun) {
    BeforeAll {
        $script:Tag = 'kp' + (Get-Random -Maximum 0xFFFFFF).ToString('x6')
        $script:Speaker = "$Tag-spk"
        $script:Router = "$Tag-bird"
        $script:Dir = Join-Path ([IO.Path]::GetTempPath()) $Tag
        $null = New-Item -ItemType Directory $Dir
        function script:Ns([string] $ns, [string[]] $argv) {
            $out = & ip netns exec $ns @argv 2>&1
            if ($LASTEXITCODE -ne 0) { throw "ip netns exec $ns $($argv -join ' '): $out" }
            $out
        }
        ip netns add $Speaker; ip netns add $Router
        ip link add "$Tag-a" type veth peer name "$Tag-b"
        ip link set "$Tag-a" netns $Speaker; ip link set "$Tag-b" netns $Router
        foreach ($pair in @(@($Speaker, "$Tag-a", '198.51.100.2/24', '2001:db8:5::2/64'), @($Router, "$Tag-b", '198.51.100.11/24', '2001:db8:5::11/64'))) {
            $ns, $if, $v4, $v6 = $pair
            Ns $ns @('sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0') | Out-Null
            Ns $ns @('ip', 'link', 'set', 'lo', 'up')
            Ns $ns @('ip', 'addr', 'add', $v4, 'dev', $if)
            Ns $ns @('ip', '-6', 'addr', 'add', $v6, 'dev', $if, 'nodad')
            Ns $ns @('ip', 'link', 'set', $if, 'up')
        }
        @"
router id 198.51.100.11;
protocol device {}
protocol bgp speaker {
  local 198.51.100.11 as 64500;
  neighbor 198.51.100.2 as 64512;
  passive on;
  error wait time 1, 2;
  hold time 9;
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
"@ | Set-Content (Join-Path $Dir 'bird.conf')
        function script:Birdc([string[]] $command) { Ns $Router (@('birdc', '-s', (Join-Path $Dir 'bird.ctl')) + $command) }
        function script:Start-Bird {
            $pidFile = Join-Path $Dir 'bird.pid'
            if (Test-Path $pidFile) {
                $old = Get-Process -Id (Get-Content $pidFile) -ErrorAction Ignore
                if ($old) { $old.Kill(); $old.WaitForExit(5000) | Out-Null }
                Remove-Item $pidFile -Force
            }
            Ns $Router @('bird', '-c', (Join-Path $Dir 'bird.conf'), '-s', (Join-Path $Dir 'bird.ctl'), '-P', $pidFile) | Out-Null
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while ([DateTime]::UtcNow -lt $deadline) {
                $state = try { Birdc @('show', 'protocols') } catch { @() }
                if (@($state | Where-Object { $_ -match '^speaker\s' -and $_ -match 'Passive|Active' }).Count -eq 1) { return }
                Start-Sleep -Milliseconds 100
            }
        }
        function script:Get-SpeakerPwsh {
            $native = Join-Path $PSHOME 'pwsh'
            if (Test-Path $native) { , @($native) } else { , @('dotnet', (Join-Path $PSHOME 'pwsh.dll')) }
        }
        function script:Invoke-InSpeaker([string] $Script) {
            [string[]] $exe = Get-SpeakerPwsh
            & ip netns exec $Speaker @exe -NoProfile -NonInteractive -Command "Import-Module '$env:KONVOYLB_MODULE'; $Script" 2>&1
        }
    }

    BeforeEach {
        # After a session that ended with Cease, BIRD keeps a passive protocol Idle for a while (also
        # after 'birdc restart'): start each test from a freshly started router, as after configuring it.
        Start-Bird
    }

    AfterAll {
        $pidFile = Join-Path $Dir 'bird.pid'
        if (Test-Path $pidFile) { Stop-Process -Id (Get-Content $pidFile) -Force -ErrorAction Ignore }
        ip netns del $Speaker 2>$null; ip netns del $Router 2>$null
        Remove-Item $Dir -Recurse -Force -ErrorAction Ignore
    }

    It 'reaches Established and reports hold time, capabilities and families' {
        $out = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64512 -PeerAsn 64500 | ConvertTo-Json -Depth 3"
        $r = ($out -join "`n") | ConvertFrom-Json
        $r.Established | Should -BeTrue
        $r.TcpReached | Should -BeTrue
        $r.NegotiatedHoldTime | Should -Be 9
        $r.FourOctetAs | Should -BeTrue
        $r.IPv6 | Should -BeTrue
        ($r.PeerCapabilities -join ' ') | Should -Match 'route refresh'
    }

    It 'announces a test prefix the router sees, withdraws it and closes with Cease' {
        # The cmdlet runs in its own pwsh inside the speaker's namespace while we watch the router.
        $psi = [Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($a in @('netns', 'exec', $Speaker) + (Get-SpeakerPwsh) + @('-NoProfile', '-NonInteractive', '-Command',
                "Import-Module '$env:KONVOYLB_MODULE'; Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64512 -PeerAsn 64500 -AnnounceTestPrefix 203.0.113.7/32 -Seconds 6 | ConvertTo-Json")) {
            $psi.ArgumentList.Add($a)
        }
        $psi.RedirectStandardOutput = $true
        $process = [Diagnostics.Process]::Start($psi)
        $output = $process.StandardOutput.ReadToEndAsync()
        $seen = $null
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while (-not $seen -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 250
            $routes = (Birdc @('show', 'route', 'protocol', 'speaker', 'all')) -join "`n"
            if ($routes -match '203\.0\.113\.7/32') { $seen = $routes }
        }
        $null = $process.WaitForExit(60000)
        $result = $output.Result | ConvertFrom-Json
        $seen | Should -Match 'BGP.as_path: 64512'
        $seen | Should -Match 'BGP.next_hop: 198.51.100.2'
        $result.AnnouncedPrefix | Should -Be '203.0.113.7/32'
        (Birdc @('show', 'route', 'protocol', 'speaker')) -join "`n" | Should -Not -Match '203\.0\.113\.7'
        (Birdc @('show', 'protocols', 'all', 'speaker')) -join "`n" | Should -Match 'Administrative shutdown'
    }

    It 'says in words when the router refuses our AS' {
        $out = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64513 -PeerAsn 64500 -ErrorVariable e -ErrorAction SilentlyContinue | ForEach-Object { 'NOTE ' + `$_.PeerNotification }; `$e | ForEach-Object { 'ERROR ' + `$_.FullyQualifiedErrorId }"
        ($out -join "`n") | Should -Match 'NOTE peer says bad peer AS'
        ($out -join "`n") | Should -Match 'ERROR BgpOpenRefused'
    }

    It '-WhatIf tests the session but announces nothing' {
        $out = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64512 -PeerAsn 64500 -AnnounceTestPrefix 203.0.113.8/32 -WhatIf | ForEach-Object { 'RESULT ' + `$_.Established + ' [' + `$_.AnnouncedPrefix + ']' }"
        ($out -join "`n") | Should -Match 'What if: .*Announce 203.0.113.8/32'
        ($out -join "`n") | Should -Match 'RESULT True \[\]'
    }
}
