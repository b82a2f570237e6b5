#Requires -Modules Pester
# Restart-LbController, Get-LbService and Test-LbConfigChange through the built module, against the
# fake Kubernetes API server running as a process (real HTTP, real KubernetesClient).

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE -Force
    $script:Fixtures = $env:KONVOYLB_FIXTURES

    # Starts the fake API server; returns the process and the kubeconfig it wrote.
    function script:Start-FakeApi([string[]] $Arguments = @()) {
        $kubeconfig = Join-Path $TestDrive "kubeconfig-$([guid]::NewGuid().ToString('n'))"
        $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($a in @($env:KONVOYLB_KUBEAPI_HOST, $kubeconfig, '--parent-pid', $PID) + $Arguments) { $psi.ArgumentList.Add("$a") }
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($psi)
        $port = $process.StandardOutput.ReadLine()
        if (-not $port) { throw "the fake API did not start: $($process.StandardError.ReadToEnd())" }
        [pscustomobject]@{ Process = $process; Kubeconfig = $kubeconfig; Port = $port }
    }
    function script:Send-FakeApi($Api, [string] $Command) {
        $Api.Process.StandardInput.WriteLine($Command)
        $answer = $Api.Process.StandardOutput.ReadLine()
        if ($answer -ne 'ok') { throw "fake API: $answer" }
    }
    function script:Stop-FakeApi($Api) {
        if ($Api -and -not $Api.Process.HasExited) { $Api.Process.StandardInput.Close(); $null = $Api.Process.WaitForExit(5000); if (-not $Api.Process.HasExited) { $Api.Process.Kill() } }
    }
}

Describe 'Restart-LbController' {
    BeforeEach { $script:api = Start-FakeApi @('--ready-after', '500') }
    AfterEach { Stop-FakeApi $api }

    It 'deletes the controller pod and returns once a new pod is Ready' {
        $r = Restart-LbController -Kubeconfig $api.Kubeconfig -Confirm:$false
        $r.Ready | Should -BeTrue
        $r.NewPod.Uid | Should -Not -Be $r.OldPods[0].Uid
        $r.Elapsed.TotalMilliseconds | Should -BeGreaterOrEqual 450
        $r.Namespace | Should -Be 'kubeaddons'
    }

    It '-WhatIf deletes nothing' {
        $before = kubectl --kubeconfig $api.Kubeconfig -n kubeaddons get pods -o jsonpath='{.items[*].metadata.uid}'
        Restart-LbController -Kubeconfig $api.Kubeconfig -WhatIf | Should -BeNullOrEmpty
        kubectl --kubeconfig $api.Kubeconfig -n kubeaddons get pods -o jsonpath='{.items[*].metadata.uid}' | Should -Be $before
    }

    It 'says why the replacement fails instead of waiting out the timeout' {
        Send-FakeApi $api 'behavior kubeaddons metallb-controller 100 CrashLoopBackOff'
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $r = Restart-LbController -Kubeconfig $api.Kubeconfig -TimeoutSeconds 60 -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
        $r.Ready | Should -BeFalse
        $r.Failure | Should -Match 'CrashLoopBackOff'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ControllerNotReady,*'
    }

    It 'says where it looked when there is no controller pod, with the plain-MetalLB hint' {
        $e = { Restart-LbController -Kubeconfig $api.Kubeconfig -Namespace default -Confirm:$false } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'NoControllerPod,*'
        $e.Exception.Message | Should -Match 'metallb-system'
    }

    It 'names the missing RBAC rule on a 403, and never prints the token' {
        Send-FakeApi $api 'forbid delete pods'
        $e = { Restart-LbController -Kubeconfig $api.Kubeconfig -Confirm:$false -Verbose 4>&1 } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'KubeForbidden,*'
        $e.Exception.Message | Should -Match 'delete pods'
        $token = (Get-Content $api.Kubeconfig | Select-String 'token:').Line -replace '.*token:\s*', ''
        if ($token) { ($e | Out-String) | Should -Not -Match ([regex]::Escape($token)) }
    }

    It 'fails clearly without a kubeconfig and with an unknown context' {
        { Restart-LbController -Kubeconfig (Join-Path $TestDrive 'none') } | Should -Throw -ErrorId 'KubeconfigNotFound,*'
        { Restart-LbController -Kubeconfig $api.Kubeconfig -Context prod } | Should -Throw -ErrorId 'KubeContextNotFound,*'
    }
}

Describe 'Get-LbService and Test-LbConfigChange' {
    BeforeAll { $script:api = Start-FakeApi @('--ready-after', '100') }
    AfterAll { Stop-FakeApi $api }

    It 'lists LoadBalancer services with IPs, pools, the pending reason and the announcing node' {
        $services = Get-LbService -Kubeconfig $api.Kubeconfig
        ($services.Name | Sort-Object) | Should -Be @('api', 'db', 'web')
        $web = $services | Where-Object Name -EQ web
        $web.Pools | Should -Be 'default'
        $web.AnnouncingNode | Should -Be 'node-2'
        $db = $services | Where-Object Name -EQ db
        $db.Pending | Should -BeTrue
        $db.PendingReason | Should -Match 'not allowed in config'
        (Get-LbService -Kubeconfig $api.Kubeconfig -Name 'a*').Name | Should -Be 'api'
    }

    It 'predicts that shrinking a pool under a service would be refused' {
        $path = Join-Path $TestDrive 'cluster.yaml'
        Copy-Item (Join-Path $PSScriptRoot '../../examples/cluster.yaml') $path
        Test-LbConfigChange -Path $path -Kubeconfig $api.Kubeconfig -Quiet | Should -BeTrue
        Set-LbAddressPool -Path $path -Name default -Address 192.168.25.90/32 -WarningAction SilentlyContinue
        $changes = Test-LbConfigChange -Path $path -Kubeconfig $api.Kubeconfig
        ($changes | Where-Object Kind -EQ ServiceBreaks).Name | Should -Be 'shop/web'
        ($changes | Where-Object Kind -EQ PoolChanged).Name | Should -Contain 'default'
        Test-LbConfigChange -Path $path -Kubeconfig $api.Kubeconfig -Quiet | Should -BeFalse
    }

    It 'uses admin.conf beside cluster.yaml in the current location when nothing else is given, and -Verbose names it' {
        $folder = (New-Item -ItemType Directory (Join-Path $TestDrive 'konvoy-cluster')).FullName
        Copy-Item $api.Kubeconfig (Join-Path $folder 'admin.conf')
        Copy-Item (Join-Path $PSScriptRoot '../../examples/cluster.yaml') (Join-Path $folder 'cluster.yaml')
        $saved = $env:KUBECONFIG
        $env:KUBECONFIG = $null
        # Push-Location moves the PowerShell location only, not the process's current directory.
        Push-Location $folder
        try { $out = Get-LbService -Verbose 4>&1 }
        finally { Pop-Location; $env:KUBECONFIG = $saved }
        $verbose = @($out | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n"
        (@($out | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] }).Name | Sort-Object) | Should -Be @('api', 'db', 'web')
        $verbose | Should -Match ([regex]::Escape("kubeconfig: admin.conf beside cluster.yaml in $folder"))
        $verbose | Should -Match "API server \S+:$($api.Port)"
    }

    It 'says the API is unreachable, with the address it tried' {
        $dead = Start-FakeApi
        Stop-FakeApi $dead
        $e = { Get-LbService -Kubeconfig $dead.Kubeconfig } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'KubeApiUnreachable,*'
        $e.Exception.Message | Should -Match "127.0.0.1:$($dead.Port)"
    }
}
