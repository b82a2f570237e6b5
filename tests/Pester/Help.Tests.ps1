#Requires -Version 7.4
<#
    The help, the about topics and the format views of the built module ($env:KONVOYLB_MODULE): every
    cmdlet and parameter is documented, every ErrorId is explained, and the views show what they should
    (and never a password).
#>

BeforeDiscovery {
    Import-Module $env:KONVOYLB_MODULE
    $common = [System.Management.Automation.Cmdlet]::CommonParameters
    $commandCases = foreach ($c in Get-Command -Module KonvoyLb -CommandType Cmdlet | Sort-Object Name) {
        @{
            Name       = $c.Name
            Parameters = @($c.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object | ForEach-Object { @{ Command = $c.Name; Parameter = $_ } })
        }
    }
    # One test per ErrorId declared in the engine's source (when the sources are beside the tests);
    # the loaded engine's enum is checked against the topic as a whole below.
    function Get-DeclaredErrorId {
        $source = Join-Path $PSScriptRoot '../../src/KonvoyLb.Engine/Errors.cs'
        if (-not (Test-Path $source)) { return }
        $body = [regex]::Match((Get-Content -Raw $source), 'enum ErrorId\s*\{(?<b>[^}]*)\}').Groups['b'].Value
        ($body -replace '//[^\n]*', '') -split '[\s,]+' | Where-Object { $_ }
    }
    $errorIdCases = @(Get-DeclaredErrorId)
}

BeforeAll {
    Import-Module $env:KONVOYLB_MODULE
    $PSStyle.OutputRendering = 'PlainText'
    $script:Example = Join-Path $PSScriptRoot '../../examples/cluster.yaml'
    $script:Common = [System.Management.Automation.Cmdlet]::CommonParameters

    # The rendered text of some objects, wide enough that nothing is cut.
    function script:Show([Parameter(ValueFromPipeline)] $InputObject) {
        begin { $all = [System.Collections.Generic.List[object]]::new() }
        process { $all.Add($InputObject) }
        end { $all | Out-String -Width 250 }
    }
    # The column names of the first table in some rendered text.
    function script:Get-Header([string] $Text) {
        $line = ($Text -split "`r?`n" | Where-Object { $_.Trim() } | Select-Object -First 1)
        $line.Trim() -split '\s+'
    }
    function script:New-Copy([string] $Name = 'cluster.yaml') {
        $path = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory $path
        $file = Join-Path $path $Name
        Copy-Item -LiteralPath $script:Example $file
        (Get-Item $file).IsReadOnly = $false
        $file
    }
}

Describe 'Help for <Name>' -ForEach $commandCases {
    BeforeAll {
        $script:help = Get-Help $Name -Full
        $script:command = Get-Command $Name
    }

    It 'comes from the MAML file, not generated from the syntax' {
        $help.PSObject.Properties['description'] | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($Name)) \["
    }

    It 'has a synopsis' {
        $help.Synopsis.Trim().Length | Should -BeGreaterThan 20
    }

    It 'has a description' {
        ($help.description.Text -join ' ').Trim().Length | Should -BeGreaterThan 100
    }

    It 'has at least two examples, each with code and an explanation' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($e in $examples) {
            $e.code | Should -Match $Name.Split('-')[1] -Because "example '$($e.title)' should use the cmdlet"
            ($e.remarks.Text -join '').Trim() | Should -Not -BeNullOrEmpty -Because "example '$($e.title)' needs an explanation"
        }
    }

    It 'documents its inputs and every output type' {
        @($help.inputTypes.inputType).Count | Should -BeGreaterOrEqual 1
        $outputs = @($help.returnValues.returnValue | ForEach-Object { $_.type.name })
        foreach ($t in $command.OutputType.Name) { $outputs | Should -Contain $t }
    }

    It 'has one syntax per parameter set' {
        @($help.syntax.syntaxItem).Count | Should -Be $command.ParameterSets.Count
    }

    It 'documents -<Parameter>' -ForEach $Parameters {
        $p = Get-Help $Command -Parameter $Parameter
        ($p.description.Text -join ' ').Trim().Length | Should -BeGreaterThan 10
    }

    It 'states the real metadata of -<Parameter>' -ForEach $Parameters {
        $p = Get-Help $Command -Parameter $Parameter
        $meta = (Get-Command $Command).Parameters[$Parameter]
        $sets = @($meta.ParameterSets.Values)
        $p.required | Should -Be ([bool]($sets | Where-Object IsMandatory)).ToString().ToLowerInvariant()
        $expectedAliases = if ($meta.Aliases.Count) { $meta.Aliases -join ', ' } else { 'none' }
        $p.aliases | Should -Be $expectedAliases
        $how = @(
            if ($sets | Where-Object ValueFromPipeline) { 'ByValue' }
            if ($sets | Where-Object ValueFromPipelineByPropertyName) { 'ByPropertyName' }
        )
        $p.pipelineInput | Should -Be $(if ($how) { "True ($($how -join ', '))" } else { 'False' })
        $positions = @($sets | ForEach-Object Position | Sort-Object -Unique)
        $expectedPosition = if ($positions.Count -eq 1 -and $positions[0] -ge 0) { "$($positions[0])" } else { 'named' }
        $p.position | Should -Be $expectedPosition
    }

    It 'shows in full and as examples' {
        Get-Help $Name -Full | Out-String | Should -Match 'PARAMETERS'
        Get-Help $Name -Examples | Out-String | Should -Match 'Example 2'
    }
}

Describe 'about topics' {
    BeforeAll {
        $script:about = Get-Help about_KonvoyLb | Out-String
        $script:errorsTopic = Join-Path (Split-Path $env:KONVOYLB_MODULE) 'en-US/about_KonvoyLb_Errors.help.txt'
        $script:errorsText = Get-Content -Raw -LiteralPath $errorsTopic

        # The ErrorId names as the loaded engine has them: run a cmdlet so that the engine is loaded
        # in the module's private context, then find it there.
        $null = Get-LbConfig -LiteralPath $script:Example
        $engine = [System.Runtime.Loader.AssemblyLoadContext]::All |
            ForEach-Object { $_.Assemblies } |
            Where-Object { $_.GetName().Name -eq 'KonvoyLb.Engine' } |
            Select-Object -First 1
        $script:errorIds = [enum]::GetNames($engine.GetType('KonvoyLb.Engine.ErrorId', $true))
    }

    It 'about_KonvoyLb is found by Get-Help and names every cmdlet' {
        foreach ($c in (Get-Command -Module KonvoyLb).Name) { $about | Should -Match ([regex]::Escape($c)) }
    }

    It 'about_KonvoyLb states the editing guarantees' {
        $about | Should -Match 'Only the changed bytes change'
        $about | Should -Match 'Validation before write'
        $about | Should -Match 'Atomic writes'
        $about | Should -Match 'FileChangedOnDisk'
    }

    It 'about_KonvoyLb_Errors is found by Get-Help' {
        Get-Help about_KonvoyLb_Errors | Out-String | Should -Match 'EditVerificationFailed'
    }

    It 'the loaded engine has the ErrorIds its source declares' -ForEach @{ Declared = $errorIdCases } {
        if (-not $Declared) { Set-ItResult -Skipped -Because 'the sources are not beside the tests'; return }
        $errorIds | Should -Be $Declared
    }

    It 'about_KonvoyLb_Errors explains <_>' -ForEach $errorIdCases {
        # An entry is the name alone on a line, indented four spaces, with text below it.
        $errorsText | Should -Match "(?m)^    $_\r?\n        \S"
    }

    It 'about_KonvoyLb_Errors has an entry for every ErrorId of the engine, and no other' {
        $entries = [regex]::Matches($errorsText, '(?m)^    ([A-Z][A-Za-z0-9]+)\r?$') | ForEach-Object { $_.Groups[1].Value }
        $missing = $errorIds | Where-Object { $_ -notin $entries }
        $missing | Should -BeNullOrEmpty -Because 'every ErrorId needs an entry'
        $entries | Where-Object { $_ -notin $errorIds } | Should -BeNullOrEmpty -Because 'an entry should be a real ErrorId'
    }
}

Describe 'Format views' {
    Context 'BGP peers' {
        BeforeAll {
            $script:secret = 'Pa55-' + [guid]::NewGuid().ToString('n').Substring(0, 10)
            $script:file = New-Copy
            Set-LbBgpPeer -LiteralPath $file -PeerAddress 192.168.25.2 -MyAsn 64512 -PeerAsn 64501 -PeerPort 1179 `
                -Password (ConvertTo-SecureString $secret -AsPlainText -Force) `
                -NodeSelector @{ MatchLabels = @{ rack = 'r1' } }, @{ MatchExpressions = @(@{ Key = 'zone'; Operator = 'In'; Values = 'z1', 'z2' }) }
            $script:peers = @(Get-LbBgpPeer -LiteralPath $file)
            $script:table = $peers | Show
        }

        It 'the file really holds the password (so the test means something)' {
            Get-Content -Raw $file | Should -Match ([regex]::Escape($secret))
        }

        It 'the table has the expected columns and no Path' {
            Get-Header $table | Should -Be @('PeerAddress', 'PeerPort', 'MyAsn', 'PeerAsn', 'HoldTime', 'Password', 'NodeSelectors')
        }

        It 'masks the password and shows the default port and the selectors' {
            $row = $table -split "`r?`n" | Where-Object { $_ -match '^192\.168\.25\.2\s' }
            $row | Should -Match '\s1179\s+64512\s+64501\s'
            $row | Should -Match '\*{8}'
            $row | Should -Match 'rack=r1; zone In \(z1,z2\)'
            $other = $table -split "`r?`n" | Where-Object { $_ -match '^192\.168\.25\.1\s' }
            $other | Should -Match '^192\.168\.25\.1\s+179\s+64512\s+64500\s+90s\s*$'
        }

        It 'never shows the password in clear text, in any view' {
            foreach ($text in @(
                    $table
                    $peers | Format-List | Out-String -Width 250
                    $peers | Format-Table * | Out-String -Width 400
                    $peers | Format-List * | Out-String -Width 250
                    Set-LbBgpPeer -LiteralPath $file -PeerAddress 192.168.25.2 -PeerPort 1179 -PassThru | Show
                    Get-LbConfig -LiteralPath $file | Show
                )) {
                $text | Should -Not -Match ([regex]::Escape($secret))
            }
            $peers | Format-List | Out-String | Should -Match 'Password\s+: \*{8}'
        }
    }

    Context 'Address pools' {
        BeforeAll {
            $script:file = New-Copy
            Set-LbAddressPool -LiteralPath $file -Name extra -Address 10.9.0.0/24, 10.9.1.10-10.9.1.20 -AutoAssign $false
            $script:table = Get-LbAddressPool -LiteralPath $file | Show
        }

        It 'the table has the expected columns and no Path' {
            Get-Header $table | Should -Be @('Name', 'Protocol', 'Addresses', 'AutoAssign', 'AvoidBuggyIps', 'BgpAdvertisements')
        }

        It 'joins the addresses with ", " and summarises advertisements' {
            $table | Should -Match '(?m)^extra\s+layer2\s+10\.9\.0\.0/24, 10\.9\.1\.10-10\.9\.1\.20\s+False\s*$'
            $table | Should -Match '(?m)^routed\s+bgp\s+198\.51\.100\.0/26\s+/32 no-export\s*$'
        }
    }

    Context 'BGP communities' {
        It 'shows Name and Value only' {
            $table = Get-LbBgpCommunity -LiteralPath $script:Example | Show
            Get-Header $table | Should -Be @('Name', 'Value')
            $table | Should -Match '(?m)^no-export\s+65535:65281\s*$'
        }
    }

    Context 'Config summary' {
        BeforeAll {
            # Without a podSubnet, Konvoy's default for the provider applies.
            $script:file = New-Copy
            (Get-Content -Raw $file) -replace '(?m)^\s*podSubnet:.*\r?\n', '' | Set-Content -NoNewline $file
            $script:list = Get-LbConfig -LiteralPath $file | Show
        }

        It 'is a list of the addon and the cluster facts' {
            $labels = $list -split "`r?`n" | Where-Object { $_ -match '^(\w+)\s*:' } | ForEach-Object { $Matches[1] }
            foreach ($l in 'Path', 'Enabled', 'AddonFound', 'Repository', 'AddressPools', 'Peers', 'ApiVersion', 'PodSubnet', 'ServiceSubnet', 'ControlPlaneEndpoint') {
                $labels | Should -Contain $l
            }
        }

        It 'counts pools and peers and marks default subnets' {
            $list | Should -Match '(?m)^AddressPools\s+: 2 \(default, routed\)\s*$'
            $list | Should -Match '(?m)^Peers\s+: 1 \(192\.168\.25\.1\)\s*$'
            $list | Should -Match '(?m)^PodSubnet\s+: 192\.168\.0\.0/16 \(default\)\s*$'
            $list | Should -Match '(?m)^ServiceSubnet\s+: 10\.96\.0\.0/16\s*$'
            $list | Should -Match '(?m)^ControlPlaneEndpoint\s+: 192\.168\.25\.139:6443\s*$'
        }
    }

    Context 'Findings' {
        It 'a refused change lists its findings as Severity, Code, Subject, Location, Message' {
            $file = New-Copy
            $record = $null
            try { Remove-LbBgpCommunity -LiteralPath $file -Name no-export } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeLike 'InvalidConfig,*'
            $table = $record.TargetObject | Show
            Get-Header $table | Should -Be @('Severity', 'Code', 'Subject', 'Location', 'Message')
            $table | Should -Match 'Error\s+InvalidCommunity\s+pool routed\s+cluster\.yaml:\d+:\d+\s+community'
        }
    }
}

Describe 'Build-Help' {
    BeforeAll {
        $script:buildHelp = Join-Path $PSScriptRoot '../../tools/Build-Help.ps1'
        $script:sources = Join-Path $PSScriptRoot '../../docs/help'
    }

    It 'fails the build when a cmdlet or a parameter has no text' {
        if (-not (Test-Path $buildHelp)) { Set-ItResult -Skipped -Because 'the tools are not beside the tests'; return }
        $module = Join-Path $TestDrive 'module'
        Copy-Item (Split-Path $env:KONVOYLB_MODULE) $module -Recurse
        $docs = Join-Path $TestDrive 'docs'
        Copy-Item $sources $docs -Recurse
        Remove-Item (Join-Path $docs 'Get-LbConfig.md')
        $page = Join-Path $docs 'Set-LbAddressPool.md'
        (Get-Content -Raw $page) -replace '(?s)### -AddAddress.*?(?=### )', '' | Set-Content -NoNewline $page

        $output = [System.Collections.Generic.List[string]]::new()
        $failure = $null
        try {
            & $buildHelp -ModuleDirectory $module -SourceDirectory $docs -CacheDirectory (Join-Path $TestDrive 'cache') 6>&1 |
                ForEach-Object { $output.Add("$_") }
        }
        catch { $failure = $_ }
        $failure | Should -Not -BeNullOrEmpty -Because 'Build-Help must throw'
        "$failure" | Should -BeLike '*help for KonvoyLb has * problems*'
        Test-Path (Join-Path $module 'en-US/KonvoyLb.dll-Help.xml') | Should -BeTrue -Because 'the old help stays'
        $text = $output -join "`n"
        $text | Should -Match 'Get-LbConfig has no help file'
        $text | Should -Match '-AddAddress of Set-LbAddressPool has no text'
    }
}
