using System.Management.Automation;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Addon;

/// <summary>Disable-LbAddon: sets enabled: false on the metallb addon; its configuration stays in the file.</summary>
[Cmdlet(VerbsLifecycle.Disable, "LbAddon", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.ConfigSummary")]
public sealed class DisableLbAddon : EditCmdlet
{
    protected override void ProcessRecord() => Edit("the metallb addon", "Disable", (_, _) => null, enabled: false);
}
