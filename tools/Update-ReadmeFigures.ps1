<#
.SYNOPSIS
    Puts the figures of the last `build.ps1 -Task Bench` (out/bench/*.md) into README.md, between the
    markers <!-- figures --> and <!-- /figures -->.
#>
param([string] $Root = (Join-Path $PSScriptRoot '..'))
$ErrorActionPreference = 'Stop'
$bench = Join-Path $Root 'out/bench'
$sections = [ordered]@{
    'import'       = 'Import cost (issue 2: KonvoyLb must add less than 250 ms to a fresh shell)'
    'analysis'     = 'Test-LbConfig analysis (issue 3: 10,000 ranges and 5,000 node addresses in under a second; pairwise for comparison)'
    'reachability' = 'Test-LbVipReachability on a namespace LAN (issue 4: 256 addresses in about two probe timeouts)'
    'restart'      = 'Restart-LbController against the fake API server (issue 5: within 200 ms of the pod turning Ready)'
    'bgp'          = 'BGP announcing to BIRD, and a silent peer (issue 6: no slower than GoBGP; down within 3.5 s)'
    'bgp-fuzz'     = 'BGP codec fuzzing (issue 6: at least 1,000,000 inputs, no exception)'
    'controller'   = 'Start-LbController at 10,000 Services (issue 10: all at once within 1.5x of a bare status-write loop; a restart writes nothing; failover within the Lease)'
    'speaker'      = 'Start-LbSpeaker, layer2, on a namespace LAN (issue 11: failover within 2 s; clean handover within 0.3 s; ARP replies within 2x of the kernel)'
    'speaker-bgp'  = 'Start-LbSpeaker, BGP, on a namespace LAN with BIRD and FRR (issue 12: endpoint to route and back; 10,000 Services from 3 nodes against GoBGP; RSS)'
    'container'    = 'The runtime in containers (issue 13: image size; RSS idle and with 1,000 Services; cold start to /readyz; failover through the containers)'
    'inventory'    = 'Test-LbVipReachability -FromInventory (issue 14: 6 hosts × 256 addresses against a sequential ssh arping loop)'
}
$text = foreach ($name in $sections.Keys) {
    $file = Join-Path $bench "$name.md"
    if (Test-Path $file) { "### $($sections[$name])"; ''; (Get-Content $file -Raw).Trim(); '' }
}
$readme = Join-Path $Root 'README.md'
$content = Get-Content $readme -Raw
$block = "<!-- figures -->`n" + ($text -join "`n") + "`n<!-- /figures -->"
$start = $content.IndexOf('<!-- figures -->')
$end = $content.IndexOf('<!-- /figures -->')
$content = if ($start -ge 0 -and $end -gt $start) { $content.Substring(0, $start) + $block + $content.Substring($end + '<!-- /figures -->'.Length) }
           else { $content.Replace('FIGURES', $block) }
Set-Content $readme $content -NoNewline
