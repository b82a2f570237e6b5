#Requires -Version 7.4
<#
.SYNOPSIS
    Generates <ModuleDirectory>/en-US/KonvoyLb.dll-Help.xml (MAML) from docs/help/*.md and the cmdlets' real
    parameter metadata.
.DESCRIPTION
    The words come from docs/help: one <Cmdlet>.md per cmdlet, plus common-parameters.md for the text of the
    parameters many cmdlets share (-Path, -LiteralPath, -WhatIf, -Confirm); a cmdlet's own file wins. The facts
    (parameter names, sets, types, positions, mandatory, pipeline input, aliases, accepted values, defaults,
    output types) come from the built module itself: a child pwsh imports it and reports what Get-Command
    sees, so a parameter cannot be missed and the build never loads KonvoyLb.dll into its own process (which
    would lock the file on Windows and pin a stale copy for the next build in the same session).

    The build fails (this script throws) when an exported cmdlet has no help file or lacks a synopsis, a
    description, at least two examples, inputs or outputs (including every [OutputType]), or when any of its
    parameters has no text; also when a help file documents a cmdlet or parameter that does not exist.

    The result is cached under out/obj/help-cache keyed by a hash of KonvoyLb.dll, the manifest, the help
    sources and this script: when none of them changed (the build is deterministic), the cached file is
    copied and no pwsh is started.

    The source format is described in docs/help/README.md.
.EXAMPLE
    ./tools/Build-Help.ps1 -ModuleDirectory ./out/KonvoyLb
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    [string] $SourceDirectory = (Join-Path $PSScriptRoot '../docs/help'),
    [string] $CacheDirectory,
    [switch] $Force
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$ModuleDirectory = (Resolve-Path -LiteralPath $ModuleDirectory).ProviderPath
$SourceDirectory = (Resolve-Path -LiteralPath $SourceDirectory).ProviderPath
if (-not $CacheDirectory) { $CacheDirectory = Join-Path (Split-Path $ModuleDirectory) 'obj/help-cache' }
$Manifest = Join-Path $ModuleDirectory 'KonvoyLb.psd1'
$Assembly = Join-Path $ModuleDirectory 'KonvoyLb.dll'
$CommonFileName = 'common-parameters.md'
$NotCmdletFiles = @($CommonFileName, 'README.md')
$OutFile = Join-Path $ModuleDirectory 'en-US/KonvoyLb.dll-Help.xml'

# ---- cache -------------------------------------------------------------------------------------------------

$sourceFiles = @(Get-ChildItem -LiteralPath $SourceDirectory -Filter *.md -File | Sort-Object Name)
$hash = [System.Security.Cryptography.IncrementalHash]::CreateHash([System.Security.Cryptography.HashAlgorithmName]::SHA256)
foreach ($f in @((Get-Item -LiteralPath $Assembly), (Get-Item -LiteralPath $Manifest), (Get-Item -LiteralPath $PSCommandPath)) + $sourceFiles) {
    $hash.AppendData([Text.Encoding]::UTF8.GetBytes($f.Name + "`0"))
    $hash.AppendData([IO.File]::ReadAllBytes($f.FullName))
}
$key = [Convert]::ToHexString($hash.GetHashAndReset())
$cached = Join-Path $CacheDirectory "$key.xml"
if (-not $Force -and (Test-Path -LiteralPath $cached)) {
    $null = New-Item -ItemType Directory -Force (Split-Path $OutFile)
    Copy-Item -LiteralPath $cached $OutFile -Force
    Write-Host "    help: $OutFile (unchanged, from cache)"
    return
}

# ---- metadata from the built module, in a child pwsh --------------------------------------------------------

$probe = @'
$ErrorActionPreference = 'Stop'
$module = Import-Module -Name '__MANIFEST__' -PassThru
$common = [System.Management.Automation.Cmdlet]::CommonParameters
$result = foreach ($c in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
    $instance = try { [Activator]::CreateInstance($c.ImplementingType) } catch { $null }
    $params = [ordered]@{}
    foreach ($set in $c.ParameterSets) {
        foreach ($p in $set.Parameters) {
            if ($common -contains $p.Name) { continue }
            if (-not $params.Contains($p.Name)) {
                $type = $p.ParameterType
                $underlying = [Nullable]::GetUnderlyingType($type)
                if ($underlying) { $type = $underlying }
                $default = $null
                $property = if ($instance) { $c.ImplementingType.GetProperty($p.Name) }
                if ($property) {
                    $value = $property.GetValue($instance)
                    if ($value -is [System.Management.Automation.SwitchParameter]) { $default = 'False' }
                    elseif ($null -ne $value -and "$value" -ne '' -and -not ($value -is [Array] -and $value.Length -eq 0)) { $default = "$value" }
                }
                $params[$p.Name] = [ordered]@{
                    Name     = $p.Name
                    Type     = $type.FullName
                    TypeName = $type.Name
                    IsSwitch = $type -eq [System.Management.Automation.SwitchParameter]
                    IsArray  = $type.IsArray
                    Aliases  = @($p.Aliases)
                    Globbing = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
                    Values   = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | ForEach-Object ValidValues)
                    Default  = $default
                    Sets     = [ordered]@{}
                }
            }
            $params[$p.Name].Sets[$set.Name] = [ordered]@{
                Mandatory = $p.IsMandatory; Position = $p.Position
                ByValue = $p.ValueFromPipeline; ByPropertyName = $p.ValueFromPipelineByPropertyName
            }
        }
    }
    [ordered]@{
        Name = $c.Name; Verb = $c.Verb; Noun = $c.Noun
        DefaultSet = $c.DefaultParameterSet
        Sets = @($c.ParameterSets | ForEach-Object { [ordered]@{ Name = $_.Name; Parameters = @($_.Parameters.Name | Where-Object { $common -notcontains $_ }) } })
        OutputTypes = @($c.OutputType | ForEach-Object Name)
        Parameters = @($params.Values)
    }
}
ConvertTo-Json -InputObject @($result) -Depth 8 -Compress
'@.Replace('__MANIFEST__', $Manifest.Replace("'", "''"))

$encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($probe))
$native = Join-Path $PSHOME 'pwsh'
$json = if ((Test-Path -LiteralPath $native) -and -not $IsWindows) { & $native -NoProfile -NonInteractive -EncodedCommand $encoded }
        else { & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -EncodedCommand $encoded }
if ($LASTEXITCODE -ne 0) { throw "Build-Help: reading the cmdlets of $Manifest failed (exit code $LASTEXITCODE)." }
$commands = @(($json -join "`n") | ConvertFrom-Json -AsHashtable)
if ($commands.Count -eq 0) { throw "Build-Help: $Manifest exports no cmdlets." }

# ---- help sources --------------------------------------------------------------------------------------------

$KnownSections = 'SYNOPSIS', 'DESCRIPTION', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'EXAMPLES', 'RELATED LINKS'
$problems = [System.Collections.Generic.List[string]]::new()

# Splits a file into '# Title', '## Section' and '### Item' parts; fenced code blocks are never split.
function Read-Source([string] $File) {
    $doc = @{ File = (Split-Path $File -Leaf); Title = $null; Sections = [ordered]@{} }
    $section = $null; $item = $null; $fence = $false; $n = 0
    foreach ($line in [IO.File]::ReadAllLines($File)) {
        $n++
        if ($line -match '^\s*```') { $fence = -not $fence }
        if (-not $fence -and $line -match '^(#{1,3}) +(.+?)\s*$') {
            $level = $Matches[1].Length; $text = $Matches[2]
            if ($level -eq 1) { $doc.Title = $text; $section = $null; $item = $null; continue }
            if ($level -eq 2) {
                $name = $text.ToUpperInvariant()
                if ($KnownSections -notcontains $name) { $problems.Add("$($doc.File):$n unknown section '## $text' (known: $($KnownSections -join ', '))") }
                $section = @{ Lines = [System.Collections.Generic.List[string]]::new(); Items = [System.Collections.Generic.List[object]]::new() }
                $doc.Sections[$name] = $section; $item = $null; continue
            }
            if ($null -eq $section) { $problems.Add("$($doc.File):$n '### $text' is outside any section"); continue }
            $item = @{ Title = $text; Line = $n; Lines = [System.Collections.Generic.List[string]]::new() }
            $section.Items.Add($item); continue
        }
        if ($null -ne $item) { $item.Lines.Add($line) }
        elseif ($null -ne $section) { $section.Lines.Add($line) }
    }
    if ($fence) { $problems.Add("$($doc.File): a code fence is not closed") }
    $doc
}

function Format-Inline([string] $Text) { $Text -replace '`([^`]+)`', '$1' }

# Markdown lines to help paragraphs: prose is reflowed, '- ' lists keep one item a line, fenced blocks are
# kept verbatim.
function ConvertTo-Paragraph([string[]] $Lines) {
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $current = [System.Collections.Generic.List[string]]::new()
    $code = $null
    $flush = {
        if ($current.Count -eq 0) { return }
        if ($current[0] -match '^\s*[-*] ') {
            $items = [System.Collections.Generic.List[string]]::new()
            foreach ($l in $current) {
                if ($l -match '^\s*[-*] +(.*)$') { $items.Add('- ' + $Matches[1].Trim()) }
                else { $items[$items.Count - 1] += ' ' + $l.Trim() }
            }
            $paragraphs.Add((Format-Inline ($items -join "`n")))
        }
        else { $paragraphs.Add((Format-Inline ($current.ToArray().ForEach({ $_.Trim() }) -join ' '))) }
        $current.Clear()
    }
    foreach ($line in $Lines) {
        if ($null -ne $code) {
            # Verbatim: Get-Help trims a paragraph's first line, so indenting the block would misalign it.
            if ($line -match '^\s*```') { $paragraphs.Add($code -join "`n"); $code = $null }
            else { $code.Add($line.TrimEnd()) }
            continue
        }
        if ($line -match '^\s*```') { & $flush; $code = [System.Collections.Generic.List[string]]::new(); continue }
        if ($line.Trim() -eq '') { & $flush; continue }
        $current.Add($line)
    }
    & $flush
    , $paragraphs.ToArray()
}

# A '### Example' item: the first fenced block is the code, everything else the remarks.
function ConvertTo-Example($Item) {
    $code = $null; $rest = [System.Collections.Generic.List[string]]::new(); $inCode = $false; $buffer = $null
    foreach ($line in $Item.Lines) {
        if ($null -eq $code -and -not $inCode -and $line -match '^\s*```') { $inCode = $true; $buffer = [System.Collections.Generic.List[string]]::new(); continue }
        if ($inCode) {
            if ($line -match '^\s*```') { $inCode = $false; $code = $buffer -join "`n" } else { $buffer.Add($line.TrimEnd()) }
            continue
        }
        $rest.Add($line)
    }
    @{ Title = $Item.Title; Code = $code; Remarks = (ConvertTo-Paragraph $rest) }
}

$sources = @{}
foreach ($f in $sourceFiles) {
    if ($NotCmdletFiles -contains $f.Name) { continue }
    $sources[$f.BaseName] = Read-Source $f.FullName
}
$commonPath = Join-Path $SourceDirectory $CommonFileName
$commonParams = @{}
if (Test-Path -LiteralPath $commonPath) {
    $commonDoc = Read-Source $commonPath
    if ($commonDoc.Sections.Contains('PARAMETERS')) {
        foreach ($i in $commonDoc.Sections['PARAMETERS'].Items) { $commonParams[$i.Title.TrimStart('-')] = $i }
    }
}

# ---- checks and MAML ---------------------------------------------------------------------------------------

function Esc([string] $s) { [System.Security.SecurityElement]::Escape($s) }
function Paras([string[]] $Paragraphs) {
    $sb = [Text.StringBuilder]::new()
    foreach ($p in $Paragraphs) { $null = $sb.Append('<maml:para>').Append((Esc $p)).Append('</maml:para>') }
    $sb.ToString()
}

function Get-PipelineText([bool] $ByValue, [bool] $ByPropertyName) {
    if ($ByValue -and $ByPropertyName) { 'True (ByValue, ByPropertyName)' }
    elseif ($ByValue) { 'True (ByValue)' }
    elseif ($ByPropertyName) { 'True (ByPropertyName)' }
    else { 'False' }
}
function Lower([bool] $b) { if ($b) { 'true' } else { 'false' } }

# Reading order: -Path, -LiteralPath, other positional parameters, named ones as declared, then -PassThru,
# -WhatIf and -Confirm.
$LastParams = @{ PassThru = 1000; WhatIf = 1001; Confirm = 1002 }
function Get-Order($Param) {
    if ($Param.Name -eq 'Path') { return -2 }
    if ($Param.Name -eq 'LiteralPath') { return -1 }
    if ($LastParams.ContainsKey($Param.Name)) { return $LastParams[$Param.Name] }
    $min = 100
    foreach ($info in $Param.Sets.Values) { if ($info.Position -ge 0 -and $info.Position -lt $min) { $min = $info.Position } }
    $min
}

# One <command:parameter>: for a syntax item (one parameter set, no text) or for the parameters section
# (all sets: required when mandatory in any, a position only when all sets agree).
function Get-ParameterXml($Param, [string] $Set, [string[]] $Description) {
    $inSyntax = [bool]$Set
    $required = $false; $byValue = $false; $byName = $false; $position = $null; $samePosition = $true
    foreach ($entry in $Param.Sets.GetEnumerator()) {
        if ($inSyntax -and $entry.Key -ne $Set) { continue }
        $info = $entry.Value
        $required = $required -or $info.Mandatory
        $byValue = $byValue -or $info.ByValue
        $byName = $byName -or $info.ByPropertyName
        if ($null -eq $position) { $position = $info.Position } elseif ($position -ne $info.Position) { $samePosition = $false }
    }
    $positionText = if ($samePosition -and $position -ge 0) { "$position" } else { 'named' }
    $aliases = if ($Param.Aliases.Count) { $Param.Aliases -join ', ' } else { 'none' }
    $sb = [Text.StringBuilder]::new()
    $null = $sb.Append("<command:parameter required=`"$(Lower $required)`" variableLength=`"$(Lower $Param.IsArray)`" globbing=`"$(Lower $Param.Globbing)`" pipelineInput=`"$(Get-PipelineText $byValue $byName)`" position=`"$positionText`" aliases=`"$(Esc $aliases)`">")
    $null = $sb.Append("<maml:name>$($Param.Name)</maml:name>")
    if (-not $inSyntax) { $null = $sb.Append("<maml:description>$(Paras $Description)</maml:description>") }
    if ($Param.Values.Count -gt 0) {
        $null = $sb.Append('<command:parameterValueGroup>')
        foreach ($v in $Param.Values) { $null = $sb.Append("<command:parameterValue required=`"false`" command:variableLength=`"false`">$(Esc $v)</command:parameterValue>") }
        $null = $sb.Append('</command:parameterValueGroup>')
    }
    if ($Param.IsSwitch) {
        if (-not $inSyntax) { $null = $sb.Append('<command:parameterValue required="false" variableLength="false">SwitchParameter</command:parameterValue>') }
    }
    else { $null = $sb.Append("<command:parameterValue required=`"true`" variableLength=`"$(Lower $Param.IsArray)`">$(Esc $Param.TypeName)</command:parameterValue>") }
    $default = if ($null -ne $Param.Default) { $Param.Default } elseif ($Param.IsSwitch) { 'False' } else { 'None' }
    $null = $sb.Append("<dev:type><maml:name>$(Esc $Param.Type)</maml:name><maml:uri /></dev:type>")
    $null = $sb.Append("<dev:defaultValue>$(Esc $default)</dev:defaultValue>")
    $null = $sb.Append('</command:parameter>')
    $sb.ToString()
}

function Get-TypeItems([string] $Section, $Doc, [string] $Element) {
    $items = if ($Doc.Sections.Contains($Section)) { @($Doc.Sections[$Section].Items) } else { @() }
    if ($items.Count -eq 0) { $problems.Add("$($Doc.File): '## $Section' needs at least one '### <type name>' entry") }
    foreach ($i in $items) {
        $text = ConvertTo-Paragraph $i.Lines
        if ($text.Count -eq 0) { $problems.Add("$($Doc.File):$($i.Line) $Section entry '$($i.Title)' has no text") }
        "<command:$Element><dev:type><maml:name>$(Esc $i.Title)</maml:name><maml:uri /></dev:type><maml:description>$(Paras $text)</maml:description></command:$Element>"
    }
}

$xml = [Text.StringBuilder]::new()
$null = $xml.Append('<?xml version="1.0" encoding="utf-8"?>').Append("`n")
$null = $xml.Append('<helpItems schema="maml" xmlns="http://msh">').Append("`n")
$usedCommon = [System.Collections.Generic.HashSet[string]]::new()

foreach ($cmd in $commands) {
    $name = $cmd.Name
    if (-not $sources.ContainsKey($name)) { $problems.Add("$name has no help file: add $name.md to $SourceDirectory"); continue }
    $doc = $sources[$name]
    $sources.Remove($name)
    $file = $doc.File
    if ($doc.Title -ne $name) { $problems.Add("${file}: the first line must be '# $name'") }

    $section = { param($s) if ($doc.Sections.Contains($s)) { $doc.Sections[$s] } else { $null } }
    $synopsis = if ($s = & $section 'SYNOPSIS') { ConvertTo-Paragraph $s.Lines } else { @() }
    $description = if ($s = & $section 'DESCRIPTION') { ConvertTo-Paragraph $s.Lines } else { @() }
    if ($synopsis.Count -eq 0) { $problems.Add("${file}: '## SYNOPSIS' is missing or empty") }
    if ($description.Count -eq 0) { $problems.Add("${file}: '## DESCRIPTION' is missing or empty") }

    # Parameter text: the cmdlet's own, else the common file's; every real parameter needs some.
    $own = @{}
    $realNames = [System.Collections.Generic.HashSet[string]]::new([string[]]@(foreach ($p in $cmd.Parameters) { $p.Name }), [StringComparer]::OrdinalIgnoreCase)
    if ($s = & $section 'PARAMETERS') {
        foreach ($i in $s.Items) {
            $pname = $i.Title.TrimStart('-')
            if (-not $realNames.Contains($pname)) { $problems.Add("${file}:$($i.Line) documents -$pname, which $name does not have") }
            $own[$pname] = $i
        }
    }
    $params = @($cmd.Parameters | Sort-Object -Stable { Get-Order $_ })
    $paramText = @{}
    foreach ($p in $params) {
        $item = if ($own.ContainsKey($p.Name)) { $own[$p.Name] } elseif ($commonParams.ContainsKey($p.Name)) { $null = $usedCommon.Add($p.Name); $commonParams[$p.Name] } else { $null }
        # 'Accept wildcard characters: true' records what the code does when no attribute says it.
        $lines = [System.Collections.Generic.List[string]]::new()
        if ($item) {
            foreach ($l in $item.Lines) {
                if ($l -match '^\s*Accept wildcard characters:\s*(\w+)\s*$') { $p.Globbing = $Matches[1] -eq 'true' } else { $lines.Add($l) }
            }
        }
        $text = ConvertTo-Paragraph $lines
        if ($text.Count -eq 0) { $problems.Add("${file}: -$($p.Name) of $name has no text (add '### -$($p.Name)' under '## PARAMETERS')") }
        $paramText[$p.Name] = $text
    }

    $examples = @(if ($s = & $section 'EXAMPLES') { $s.Items | ForEach-Object { ConvertTo-Example $_ } })
    if ($examples.Count -lt 2) { $problems.Add("${file}: needs at least two examples under '## EXAMPLES' (has $($examples.Count))") }
    foreach ($e in $examples) {
        if (-not $e.Code) { $problems.Add("${file}: example '$($e.Title)' has no fenced code block") }
        if ($e.Remarks.Count -eq 0) { $problems.Add("${file}: example '$($e.Title)' has no explanation after its code") }
        if ($e.Title.Length -gt 68) { $problems.Add("${file}: example title '$($e.Title)' is longer than 68 characters; Get-Help would wrap it") }
    }

    $null = $xml.Append('<command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">').Append("`n")
    $null = $xml.Append("<command:details><command:name>$name</command:name><command:verb>$($cmd.Verb)</command:verb><command:noun>$($cmd.Noun)</command:noun>")
    $null = $xml.Append("<maml:description>$(Paras $synopsis)</maml:description></command:details>`n")
    $null = $xml.Append("<maml:description>$(Paras $description)</maml:description>`n")

    # Syntax: the default parameter set first, each set's parameters in reading order.
    $null = $xml.Append('<command:syntax>')
    foreach ($set in @($cmd.Sets | Sort-Object -Stable { $_.Name -ne $cmd.DefaultSet })) {
        $null = $xml.Append("<command:syntaxItem><maml:name>$name</maml:name>")
        foreach ($p in $params) {
            if ($p.Sets.Contains($set.Name)) { $null = $xml.Append((Get-ParameterXml $p $set.Name)) }
        }
        $null = $xml.Append('</command:syntaxItem>')
    }
    $null = $xml.Append("</command:syntax>`n<command:parameters>")
    foreach ($p in $params) { $null = $xml.Append((Get-ParameterXml $p '' $paramText[$p.Name])) }
    $null = $xml.Append("</command:parameters>`n")

    $null = $xml.Append("<command:inputTypes>$((Get-TypeItems 'INPUTS' $doc 'inputType') -join '')</command:inputTypes>`n")
    $outputs = @(Get-TypeItems 'OUTPUTS' $doc 'returnValue')
    $null = $xml.Append("<command:returnValues>$($outputs -join '')</command:returnValues>`n")
    $documentedOutputs = if ($s = & $section 'OUTPUTS') { @($s.Items | ForEach-Object { $_.Title }) } else { @() }
    foreach ($t in $cmd.OutputTypes) {
        if ($documentedOutputs -notcontains $t) { $problems.Add("${file}: '## OUTPUTS' does not describe $t, which $name declares with [OutputType]") }
    }

    if (($s = & $section 'NOTES') -and ($notes = ConvertTo-Paragraph $s.Lines).Count) {
        $null = $xml.Append("<maml:alertSet><maml:alert>$(Paras $notes)</maml:alert></maml:alertSet>`n")
    }

    $null = $xml.Append('<command:examples>')
    foreach ($e in $examples) {
        $null = $xml.Append("<command:example><maml:title>--- $(Esc $e.Title) ---</maml:title>")
        $null = $xml.Append("<dev:code>$(Esc $e.Code)</dev:code><dev:remarks>$(Paras $e.Remarks)<maml:para></maml:para></dev:remarks></command:example>")
    }
    $null = $xml.Append("</command:examples>`n")

    $null = $xml.Append('<command:relatedLinks>')
    if ($s = & $section 'RELATED LINKS') {
        foreach ($l in $s.Lines) {
            if ($l -match '^\s*[-*] +\[(.+)\]\((.+)\)\s*$') { $text = $Matches[1]; $uri = $Matches[2] }
            elseif ($l -match '^\s*[-*] +(.+?)\s*$') { $text = $Matches[1]; $uri = '' }
            else { continue }
            $null = $xml.Append("<maml:navigationLink><maml:linkText>$(Esc $text)</maml:linkText><maml:uri>$(Esc $uri)</maml:uri></maml:navigationLink>")
        }
    }
    $null = $xml.Append("</command:relatedLinks>`n</command:command>`n")
}
foreach ($stale in $sources.Keys) { $problems.Add("$stale.md documents a cmdlet the module does not export") }
foreach ($c in $commonParams.Keys) {
    if (-not $usedCommon.Contains($c) -and -not ($commands | Where-Object { $_.Parameters | Where-Object { $_.Name -eq $c } })) {
        $problems.Add("${CommonFileName}: -$c is not a parameter of any cmdlet")
    }
}
$null = $xml.Append("</helpItems>`n")

if ($problems.Count -gt 0) {
    # One line each on the host (an exception message gets reflowed), then fail the build.
    foreach ($p in $problems) { Write-Host "    help: $p" -ForegroundColor Red }
    throw "Build-Help: the help for KonvoyLb has $($problems.Count) problem$(if ($problems.Count -ne 1) { 's' }), listed above; nothing was written. Sources: $SourceDirectory"
}

$text = $xml.ToString()
$null = [xml]$text   # well-formed, or the build fails here rather than Get-Help failing silently later
$null = New-Item -ItemType Directory -Force (Split-Path $OutFile), $CacheDirectory
[IO.File]::WriteAllText($OutFile, $text, [Text.UTF8Encoding]::new($false))
Get-ChildItem -LiteralPath $CacheDirectory -Filter *.xml | Remove-Item -Force
Copy-Item -LiteralPath $OutFile $cached
Write-Host "    help: $OutFile ($($commands.Count) cmdlets)"
