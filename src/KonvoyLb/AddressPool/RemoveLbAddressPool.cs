using System.Management.Automation;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.AddressPool;

/// <summary>Remove-LbAddressPool: removes address pools by name.</summary>
[Cmdlet(VerbsCommon.Remove, "LbAddressPool", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.AddressPool")]
public sealed class RemoveLbAddressPool : EditCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            Edit($"address pool '{name}'", "Remove", (file, config) => ConfigChanges.RemovePool(RequireConfig(file, config), name));
    }
}
