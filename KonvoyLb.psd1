@{
    RootModule           = 'KonvoyLb.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0c7a4e-2d7b-4f4e-9a51-6a3c1f6e2b90'
    Author               = 'KonvoyLb'
    CompanyName          = 'KonvoyLb'
    Copyright            = '(c) KonvoyLb contributors'
    Description          = 'MetalLB load balancing for Konvoy clusters: edit the metallb addon in cluster.yaml without disturbing the rest of the file, check it, operate and run it.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('KonvoyLb.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-LbConfig'
        'Get-LbAddressPool', 'Set-LbAddressPool', 'Remove-LbAddressPool'
        'Get-LbBgpPeer', 'Set-LbBgpPeer', 'Remove-LbBgpPeer'
        'Get-LbBgpCommunity', 'Set-LbBgpCommunity', 'Remove-LbBgpCommunity'
        'Enable-LbAddon', 'Disable-LbAddon'
        'Test-LbConfig', 'ConvertTo-LbCrd', 'ConvertTo-LbConfigMap', 'Test-LbVipReachability'
        'Restart-LbController', 'Get-LbService', 'Test-LbConfigChange', 'Test-LbBgpPeer'
        'Start-LbController'
        'Start-LbSpeaker'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('Konvoy', 'MetalLB', 'Kubernetes', 'LoadBalancer', 'BGP')
            ProjectUri = ''
        }
    }
}
