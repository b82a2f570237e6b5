#Requires -Version 7.4
<#
    A clone must pass with nothing beside it: no script, test or project file may reach a folder outside the
    repository (the fixtures live in tests/fixtures, copied from where users wrote them).
#>

Describe 'The repository is self-contained' {
    BeforeAll {
        $root = Resolve-Path (Join-Path $PSScriptRoot '../..')
        $script:files = Get-ChildItem -LiteralPath $root -Recurse -File -Include *.cs, *.ps1, *.psm1, *.psd1, *.sh, *.csproj, *.props, *.targets, *.json, run |
            Where-Object { $_.FullName -notmatch '[\\/](bin|obj|out|\.git)[\\/]' -and $_.FullName -ne $PSCommandPath }
    }

    It 'has files to check (so the test means something)' {
        $files.Count | Should -BeGreaterThan 50
    }

    It 'no file refers to a folder beside the repository or to this machine''s own paths' {
        $offenders = $files | Select-String -Pattern '\.\./\.\./\.\./shared|\.\./shared/|[''"]/work/|shared/fixtures/konvoy' |
            ForEach-Object { "$($_.Path):$($_.LineNumber): $($_.Line.Trim())" }
        $offenders | Should -BeNullOrEmpty
    }

    It 'the fixtures the tests use are in the repository, each named in its README' {
        $fixtures = Join-Path $PSScriptRoot '../fixtures/konvoy'
        $readme = Get-Content -Raw (Join-Path $fixtures 'README.md')
        $yaml = Get-ChildItem -LiteralPath $fixtures -Filter *.yaml
        $yaml.Count | Should -BeGreaterThan 0
        $yaml | Where-Object { $readme -notmatch [regex]::Escape($_.Name) } | Should -BeNullOrEmpty
    }
}
