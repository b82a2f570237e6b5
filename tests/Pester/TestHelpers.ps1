# Shared by the Pester files: run a script in a brand-new pwsh of the same version.
function Invoke-Fresh([string] $Script) {
    $native = Join-Path $PSHOME 'pwsh'
    $output = if (Test-Path $native) { & $native -NoProfile -NonInteractive -Command $Script 2>&1 }
              else { & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $Script 2>&1 }
    if ($LASTEXITCODE -ne 0) { throw "fresh pwsh failed ($LASTEXITCODE): $output" }
    $output
}
