#Requires -Modules Pester
# Test-LbBgpPeer through the built module, in a network namespace, against a real BIRD 2 peer in
# another one. The namespaces and BIRD are made here and removed in AfterAll, even on failure.

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
protocol bgp secured {
  local 198.51.100.11 port 1179 as 64500;
  neighbor 198.51.100.2 as 64512;
  passive on;
  password "s3cret";
  error wait time 1, 2;
  ipv4 { import all; export none; };
}
"@ | Set-Content (Join-Path $Dir 'bird.conf')
        Ns $Router @('bird', '-c', (Join-Path $Dir 'bird.conf'), '-s', (Join-Path $Dir 'bird.ctl'), '-P', (Join-Path $Dir 'bird.pid'))
        function script:Birdc([string[]] $command) { Ns $Router (@('birdc', '-s', (Join-Path $Dir 'bird.ctl')) + $command) }
        function script:Invoke-InSpeaker([string] $Script) {
            $native = Join-Path $PSHOME 'pwsh'
            $exe = if (Test-Path $native) { @($native) } else { @('dotnet', (Join-Path $PSHOME 'pwsh.dll')) }
            & ip netns exec $Speaker @exe -NoProfile -NonInteractive -Command "Import-Module '$env:KONVOYLB_MODULE'; $Script" 2>&1
        }
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
        $job = Start-ThreadJob { param($f, $s) & $f $s } -ArgumentList ${function:Invoke-InSpeaker}, "Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64512 -PeerAsn 64500 -AnnounceTestPrefix 203.0.113.7/32 -Seconds 6 | ConvertTo-Json"
        $seen = $null
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while (-not $seen -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 250
            $routes = Birdc @('show', 'route', 'protocol', 'speaker', 'all') -join "`n"
            if ($routes -match '203\.0\.113\.7/32') { $seen = $routes }
        }
        $result = (Receive-Job $job -Wait -AutoRemoveJob) -join "`n" | ConvertFrom-Json
        $seen | Should -Match 'BGP.as_path: 64512'
        $seen | Should -Match 'BGP.next_hop: 198.51.100.2'
        $result.AnnouncedPrefix | Should -Be '203.0.113.7/32'
        (Birdc @('show', 'route', 'protocol', 'speaker')) -join "`n" | Should -Not -Match '203\.0\.113\.7'
        (Birdc @('show', 'protocols', 'all', 'speaker')) -join "`n" | Should -Match 'Administrative shutdown'
    }

    It 'says in words when the router refuses our AS' {
        Start-Sleep -Seconds 2   # BIRD's error wait time after the previous session
        $out = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64513 -PeerAsn 64500 -ErrorVariable e -ErrorAction SilentlyContinue | ForEach-Object { 'NOTE ' + `$_.PeerNotification }; `$e | ForEach-Object { 'ERROR ' + `$_.FullyQualifiedErrorId }"
        ($out -join "`n") | Should -Match 'NOTE peer says bad peer AS'
        ($out -join "`n") | Should -Match 'ERROR BgpOpenRefused'
    }

    It 'signs the session with TCP MD5, and a wrong password never reaches TCP' {
        $good = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -PeerPort 1179 -MyAsn 64512 -PeerAsn 64500 -Password (ConvertTo-SecureString s3cret -AsPlainText -Force) | ForEach-Object { 'OK ' + `$_.Established + ' ' + `$_.Md5Accepted }"
        ($good -join "`n") | Should -Match 'OK True True'
        $bad = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -PeerPort 1179 -MyAsn 64512 -PeerAsn 64500 -ConnectTimeoutSeconds 2 -Password (ConvertTo-SecureString wrong -AsPlainText -Force) -ErrorAction SilentlyContinue | ForEach-Object { 'BAD ' + `$_.Established + ' ' + `$_.Md5Accepted + ' ' + `$_.Error }"
        ($bad -join "`n") | Should -Match 'BAD False False .*TCP MD5 passwords differ'
    }

    It '-WhatIf tests the session but announces nothing' {
        Start-Sleep -Seconds 2
        $out = Invoke-InSpeaker "Test-LbBgpPeer -PeerAddress 198.51.100.11 -MyAsn 64512 -PeerAsn 64500 -AnnounceTestPrefix 203.0.113.8/32 -WhatIf | ForEach-Object { 'RESULT ' + `$_.Established + ' [' + `$_.AnnouncedPrefix + ']' }"
        ($out -join "`n") | Should -Match 'What if: .*Announce 203.0.113.8/32'
        ($out -join "`n") | Should -Match 'RESULT True \[\]'
    }
}
