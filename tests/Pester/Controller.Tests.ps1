#Requires -Modules Pester
# Start-LbController through the built module: as a process of its own (a fresh pwsh, stdout redirected to a file, as
# in a container) against the fake Kubernetes API server running as a process (real HTTP, real KubernetesClient), and
# in this session for a failure that must come at once.

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE -Force

    $script:Pool = "address-pools:`n- name: default`n  protocol: layer2`n  addresses:`n  - 192.0.2.10-192.0.2.19`n"
    $script:Kill = (Get-Command kill -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source

    # A port nobody listens on now (the OS picks it).
    function script:Get-FreePort {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
    }

    # The command that starts a fresh pwsh: KONVOYLB_PWSH (a path, or "dotnet <pwsh.dll>"), else the one build.ps1 uses.
    function script:Get-PwshCommand {
        $command = $env:KONVOYLB_PWSH
        if (-not $command) {
            $native = Join-Path $PSHOME 'pwsh'
            $command = if ((Test-Path $native) -and -not $IsWindows) { $native } else { "dotnet $(Join-Path $PSHOME 'pwsh.dll')" }
        }
        if (Test-Path -LiteralPath $command -PathType Leaf) { return $command }
        -split $command
    }

    # A runner started with SIGINT ignored (a background job of a non-interactive shell) passes that on to its children,
    # and .NET then installs no SIGINT handler: such a controller would never see Ctrl+C. It is started with SIGINT
    # back to its default (env --default-signal, coreutils 8.31+), as a terminal or a container runtime would have it.
    $script:Launcher = @()
    $ignored = (Get-Content "/proc/$PID/status" -ErrorAction Ignore | Select-String '^SigIgn:\s*([0-9a-f]+)').Matches.Groups
    if ($ignored -and ([Convert]::ToUInt64($ignored[1].Value, 16) -band 2)) {
        $envCommand = (Get-Command env -CommandType Application -ErrorAction Ignore | Select-Object -First 1).Source
        if ($envCommand) { & $envCommand --default-signal=INT true 2>$null }
        if ($envCommand -and $LASTEXITCODE -eq 0) { $script:Launcher = @($envCommand, '--default-signal=INT') }
    }

    # Starts the fake API server (scenario empty: no other MetalLB ConfigMap or Service to get in the way).
    function script:Start-FakeApi([string[]] $Arguments = @()) {
        $kubeconfig = Join-Path $TestDrive "kubeconfig-$([guid]::NewGuid().ToString('n'))"
        $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($a in @($env:KONVOYLB_KUBEAPI_HOST, $kubeconfig, '--scenario', 'empty', '--parent-pid', $PID) + $Arguments) { $psi.ArgumentList.Add("$a") }
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($psi)
        $port = $process.StandardOutput.ReadLine()
        if (-not $port) { throw "the fake API did not start: $($process.StandardError.ReadToEnd())" }
        $token = ((Get-Content $kubeconfig | Select-String 'token:').Line -replace '.*token:\s*', '').Trim('"', ' ')
        [pscustomobject]@{ Process = $process; Kubeconfig = $kubeconfig; Port = $port; Token = $token }
    }
    function script:Stop-FakeApi($Api) {
        if ($Api -and -not $Api.Process.HasExited) {
            $Api.Process.StandardInput.Close()
            $null = $Api.Process.WaitForExit(5000)
            if (-not $Api.Process.HasExited) { $Api.Process.Kill() }
        }
    }
    function script:Invoke-Kube($Api, [string] $Method, [string] $Path, $Body) {
        $request = @{
            Method = $Method; Uri = "http://127.0.0.1:$($Api.Port)$Path"; ContentType = 'application/json'
            Headers = @{ Authorization = "Bearer $($Api.Token)" }; TimeoutSec = 5
        }
        if ($null -ne $Body) { $request.Body = $Body | ConvertTo-Json -Depth 10 }
        Invoke-RestMethod @request
    }

    # Start-LbController in a fresh pwsh, stdout and stderr redirected to files; returns the process and where it serves.
    function script:Start-Controller($Api, [string[]] $Extra = @()) {
        $port = Get-FreePort
        $module = $env:KONVOYLB_MODULE -replace "'", "''"
        $kubeconfig = $Api.Kubeconfig -replace "'", "''"
        $command = "Import-Module '$module'; Start-LbController -Kubeconfig '$kubeconfig' -Namespace kubeaddons " +
            "-MetricsAddress 127.0.0.1 -MetricsPort $port $($Extra -join ' ')"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($command))
        [string[]] $pwsh = @($Launcher) + @(Get-PwshCommand)
        $name = "controller-$port"
        $out = Join-Path $TestDrive "$name.out"
        $err = Join-Path $TestDrive "$name.err"
        $arguments = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded)
        $process = Start-Process -FilePath $pwsh[0] -ArgumentList $arguments -RedirectStandardOutput $out -RedirectStandardError $err -PassThru
        [pscustomobject]@{ Process = $process; Port = $port; Url = "http://127.0.0.1:$port"; Out = $out; Err = $err }
    }
    function script:Stop-Controller($Controller) {
        if ($Controller -and $Controller.Process -and -not $Controller.Process.HasExited) {
            try { $Controller.Process.Kill($true) } catch { }
            $null = $Controller.Process.WaitForExit(5000)
        }
    }

    # The complete lines the controller wrote so far (a line being written is left out).
    function script:Get-ControllerLines($Controller) {
        if (-not (Test-Path $Controller.Out)) { return }
        $parts = [IO.File]::ReadAllText($Controller.Out) -split "`r?`n"
        $parts | Select-Object -First ($parts.Count - 1)
    }
    # What the controller said, for a failure's message.
    function script:Get-ControllerReport($Controller) {
        $out = (Get-ControllerLines $Controller) -join "`n"
        $err = if (Test-Path $Controller.Err) { [IO.File]::ReadAllText($Controller.Err) }
        "exited: $($Controller.Process.HasExited)`n--- stdout:`n$out`n--- stderr:`n$err"
    }

    # The status code of a GET, or 0 when nothing answers.
    function script:Get-StatusCode([string] $Uri) {
        try { (Invoke-WebRequest -Uri $Uri -SkipHttpErrorCheck -TimeoutSec 2).StatusCode } catch { 0 }
    }

    # Polls until the condition gives something true; returns it, or throws after the timeout.
    function script:Wait-Until([scriptblock] $Condition, [double] $Seconds, [string] $What, [scriptblock] $Report) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        while ($true) {
            $result = & $Condition
            if ($result) { return $result }
            if ($clock.Elapsed.TotalSeconds -ge $Seconds) {
                $detail = if ($Report) { "`n" + (& $Report) }
                throw "not within $Seconds s: $What$detail"
            }
            Start-Sleep -Milliseconds 100
        }
    }
    function script:Wait-Ready($Controller, [double] $Seconds = 20) {
        $null = Wait-Until { (Get-StatusCode "$($Controller.Url)/readyz") -eq 200 } $Seconds "/readyz answering 200 on $($Controller.Url)" { Get-ControllerReport $Controller }
    }

    # Sends a signal and measures how long the process takes to end.
    function script:Send-Signal($Controller, [string] $Signal, [int] $TimeoutMs = 2000) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        & $Kill "-$Signal" $Controller.Process.Id
        $exited = $Controller.Process.WaitForExit($TimeoutMs)
        $clock.Stop()
        if ($exited) { $Controller.Process.WaitForExit() } # the redirected output is all written once this returns
        [pscustomobject]@{ Exited = $exited; Elapsed = $clock.Elapsed }
    }

    function script:ConvertFrom-JsonLine([string] $Line) {
        try { $Line | ConvertFrom-Json -ErrorAction Stop } catch { $null }
    }

    $script:api = Start-FakeApi
    $null = Invoke-Kube $api POST /api/v1/namespaces @{ metadata = @{ name = 'kubeaddons' } }
    $null = Invoke-Kube $api POST /api/v1/namespaces/kubeaddons/configmaps @{ metadata = @{ name = 'metallb' }; data = @{ config = $Pool } }
}

AfterAll {
    Stop-FakeApi $api
}

Describe 'Start-LbController' {
    Context 'in a fresh pwsh with its output redirected' {
        BeforeAll { $script:ctl = Start-Controller $api }
        AfterAll { Stop-Controller $ctl }

        It 'becomes ready within 20 s and serves the MetalLB metrics, /healthz and /readyz' {
            Wait-Ready $ctl 20
            $metrics = Invoke-WebRequest "$($ctl.Url)/metrics" -TimeoutSec 5
            $metrics.StatusCode | Should -Be 200
            $body = "$($metrics.Content)"
            $body | Should -Match '(?m)^metallb_allocator_addresses_total\{pool="default"\} 10\r?$'
            $body | Should -Match '(?m)^metallb_k8s_client_config_loaded_bool 1\r?$'
            Get-StatusCode "$($ctl.Url)/healthz" | Should -Be 200
            Get-StatusCode "$($ctl.Url)/readyz" | Should -Be 200
        }

        It 'gives a new LoadBalancer Service the first address of the pool and logs ipAllocated as a JSON line' {
            $null = Invoke-Kube $api POST /api/v1/namespaces/default/services @{
                metadata = @{ name = 'web' }
                spec     = @{ type = 'LoadBalancer'; ports = @(@{ port = 80; protocol = 'TCP' }) }
            }
            $ip = Wait-Until {
                $service = Invoke-Kube $api GET /api/v1/namespaces/default/services/web
                @($service.status.loadBalancer.ingress) | Where-Object { $_ } | Select-Object -First 1 -ExpandProperty ip
            } 10 'an ingress IP on default/web' { Get-ControllerReport $ctl }
            $ip | Should -Be '192.0.2.10'

            $allocated = Wait-Until {
                Get-ControllerLines $ctl | ForEach-Object { ConvertFrom-JsonLine $_ } | Where-Object { $_.event -eq 'ipAllocated' }
            } 5 'an ipAllocated log line' { Get-ControllerReport $ctl }
            @($allocated)[0].service | Should -Be 'default/web'
            @($allocated)[0].ip | Should -Contain '192.0.2.10'

            # JSON lines only: nothing else on stdout.
            $lines = @(Get-ControllerLines $ctl)
            $lines.Count | Should -BeGreaterThan 0
            foreach ($line in $lines) { ConvertFrom-JsonLine $line | Should -Not -BeNullOrEmpty -Because "every stdout line is JSON: '$line'" }
        }

        It 'stops on SIGTERM within 2 s with exit code 0, logging "stop" last' {
            Wait-Ready $ctl 20
            $r = Send-Signal $ctl TERM
            $r.Exited | Should -BeTrue -Because "it should end within 2 s of SIGTERM`n$(Get-ControllerReport $ctl)"
            $ctl.Process.ExitCode | Should -Be 0 -Because (Get-ControllerReport $ctl)
            $lines = @(Get-ControllerLines $ctl)
            foreach ($line in $lines) { ConvertFrom-JsonLine $line | Should -Not -BeNullOrEmpty -Because "every stdout line is JSON: '$line'" }
            $last = @($lines | Select-Object -Last 3 | ForEach-Object { (ConvertFrom-JsonLine $_).event })
            $last | Should -Contain 'stop' -Because (Get-ControllerReport $ctl)
        }
    }

    Context 'stopped with SIGINT' {
        AfterEach { Stop-Controller $ctl }

        It 'stops on SIGINT (Ctrl+C) within 2 s, logging "stop"' {
            $script:ctl = Start-Controller $api
            Wait-Ready $ctl 20
            $ignored = (Get-Content "/proc/$($ctl.Process.Id)/status" -ErrorAction Ignore | Select-String '^SigIgn:').Line
            $r = Send-Signal $ctl INT
            $r.Exited | Should -BeTrue -Because "it should end within 2 s of SIGINT ($ignored)`n$(Get-ControllerReport $ctl)"
            $events = @(Get-ControllerLines $ctl | Select-Object -Last 3 | ForEach-Object { (ConvertFrom-JsonLine $_).event })
            $events | Should -Contain 'stop' -Because (Get-ControllerReport $ctl)
        }
    }

    Context 'in this session' {
        It 'fails at once with MetricsServerFailed when the metrics port is in use' {
            $busy = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
            $busy.Start()
            # Should the port be taken anyway, the cmdlet would run until stopped: a watchdog then sends this process
            # SIGTERM, which the running cmdlet takes as its stop (so the test fails instead of hanging).
            $watchdog = [powershell]::Create().AddScript({ param($Kill, $Id) Start-Sleep -Seconds 15; & $Kill -TERM $Id }).AddArgument($Kill).AddArgument($PID)
            $null = $watchdog.BeginInvoke()
            try {
                $port = $busy.LocalEndpoint.Port
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $e = { Start-LbController -Kubeconfig $api.Kubeconfig -Namespace kubeaddons -MetricsAddress 127.0.0.1 -MetricsPort $port -ErrorAction Stop } |
                    Should -Throw -ErrorId 'MetricsServerFailed,*' -PassThru
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
                $e.Exception.Message | Should -Match "127\.0\.0\.1:$port"
            }
            finally {
                $watchdog.Stop()
                $watchdog.Dispose()
                $busy.Stop()
            }
        }
    }

    Context '-LogFormat text' {
        AfterEach { Stop-Controller $ctl }

        It 'writes human lines, not JSON, even with the output redirected' {
            $script:ctl = Start-Controller $api @('-LogFormat', 'text')
            Wait-Ready $ctl 20
            $lines = Wait-Until { $l = @(Get-ControllerLines $ctl); if ($l -match ' listening: ') { , $l } } 5 'the listening line' { Get-ControllerReport $ctl }
            foreach ($line in $lines) {
                $line | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \w+: '
                ConvertFrom-JsonLine $line | Should -BeNullOrEmpty -Because "a text line is not JSON: '$line'"
            }
            $lines -match ' listening: metrics on http://127\.0\.0\.1:\d+/metrics' | Should -Not -BeNullOrEmpty
        }
    }
}
