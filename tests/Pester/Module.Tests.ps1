#Requires -Modules Pester
# The built module in fresh processes: exports, isolation from another YamlDotNet, lazy loading.

BeforeAll {
    $script:Module = $env:KONVOYLB_MODULE
    $script:OtherYaml = $env:KONVOYLB_OTHER_YAMLDOTNET
    $script:Fixtures = $env:KONVOYLB_FIXTURES
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'Module manifest and exports' {
    It 'exports exactly the documented cmdlets' {
        $exported = Invoke-Fresh "Import-Module '$Module'; (Get-Command -Module KonvoyLb).Name -join ','"
        $expected = (Import-PowerShellDataFile $Module).CmdletsToExport | Sort-Object
        ($exported -split ',' | Sort-Object) | Should -Be $expected
    }

    It 'uses approved verbs only' {
        $unapproved = Invoke-Fresh "Import-Module '$Module'; (Get-Command -Module KonvoyLb | Where-Object { `$_.Verb -notin (Get-Verb).Verb }).Name -join ','"
        $unapproved | Should -BeNullOrEmpty
    }

    It 'keeps the engine and its dependencies out of the module root (they load from deps/)' {
        $dir = Split-Path $Module
        Get-ChildItem $dir -Filter *.dll | ForEach-Object Name | Should -Be 'KonvoyLb.dll'
        Join-Path $dir 'deps/KonvoyLb.Engine.dll' | Should -Exist
        Join-Path $dir 'deps/YamlDotNet.dll' | Should -Exist
    }
}

Describe 'Dependency isolation' {
    It 'works in a session that already loaded YamlDotNet 16.3.0, and that YamlDotNet keeps working' {
        $out = Invoke-Fresh @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$OtherYaml'
`$ds = [YamlDotNet.Serialization.DeserializerBuilder]::new().Build()
'before=' + `$ds.Deserialize[object]('a: 1')['a']
Import-Module '$Module'
'pools=' + ((Get-LbAddressPool -LiteralPath '$Fixtures/onprem-v1beta2.cluster.yaml').Name -join ',')
'after=' + `$ds.Deserialize[object]('b: 2')['b']
'versions=' + (([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'YamlDotNet' } | ForEach-Object { `$_.GetName().Version.Major } | Sort-Object) -join ',')
"@
        $out | Should -Contain 'before=1'
        $out | Should -Contain 'pools=default'
        $out | Should -Contain 'after=2'
        $out | Should -Contain 'versions=16,18'
    }

    It 'lets another YamlDotNet load after KonvoyLb has loaded its own' {
        $out = Invoke-Fresh @"
`$ErrorActionPreference = 'Stop'
Import-Module '$Module'
'pools=' + ((Get-LbAddressPool -LiteralPath '$Fixtures/onprem-v1beta2.cluster.yaml').Name -join ',')
Add-Type -Path '$OtherYaml'
'other=' + [YamlDotNet.Serialization.DeserializerBuilder]::new().Build().Deserialize[object]('c: 3')['c']
'default=' + ([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'YamlDotNet' -and [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_) -eq [System.Runtime.Loader.AssemblyLoadContext]::Default }).GetName().Version.Major
"@
        $out | Should -Contain 'pools=default'
        $out | Should -Contain 'other=3'
        $out | Should -Contain 'default=16'
    }

    It 'loads the engine into its own load context, not the default one' {
        $out = Invoke-Fresh @"
Import-Module '$Module'
`$null = Get-LbConfig -LiteralPath '$Fixtures/onprem-v1beta1.cluster.yaml'
`$engine = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'KonvoyLb.Engine' }
[System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$engine).Name
"@
        $out | Should -Be 'KonvoyLb.Engine'
    }

    It 'does not load KubernetesClient for a file-only cmdlet' {
        $out = Invoke-Fresh @"
Import-Module '$Module'
`$null = Get-LbAddressPool -LiteralPath '$Fixtures/onprem-v1beta2.cluster.yaml'
`$null = Get-LbConfig -LiteralPath '$Fixtures/onprem-v1beta2.cluster.yaml'
'engine=' + [bool]([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'KonvoyLb.Engine' })
'k8s=' + [bool]([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'KubernetesClient' })
"@
        $out | Should -Contain 'engine=True'
        $out | Should -Contain 'k8s=False'
    }

    It 'does load KubernetesClient for a cluster cmdlet (so the check above can tell)' {
        $out = Invoke-Fresh @"
Import-Module '$Module'
try { Get-LbService -Kubeconfig '$TestDrive/no-such-kubeconfig' -ErrorAction Stop } catch { 'error=' + `$_.FullyQualifiedErrorId }
'k8s=' + [bool]([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'KubernetesClient' })
"@
        $out | Should -Contain 'error=KubeconfigNotFound,KonvoyLb.Cluster.GetLbService'
        $out | Should -Contain 'k8s=True'
    }
}

Describe 'Cmdlet assembly' {
    It 'references no dependency of the engine (they live only in the private load context)' {
        $out = Invoke-Fresh "Import-Module '$Module'; ((Get-Command Restart-LbController).ImplementingType.Assembly.GetReferencedAssemblies().Name | Sort-Object) -join ','"
        $references = $out -split ','
        $references | Should -Contain 'KonvoyLb.Engine'
        foreach ($dependency in 'KubernetesClient', 'YamlDotNet', 'Tmds.LibC', 'Fractions') { $references | Should -Not -Contain $dependency }
    }
}
