using System.Management.Automation;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Addon;

/// <summary>
/// Enable-LbAddon: sets enabled: true on the metallb addon; when the file has no metallb entry, adds one
/// (with a values block) to the kubernetes-base-addons repository's list, in alphabetical place.
/// </summary>
[Cmdlet(VerbsLifecycle.Enable, "LbAddon", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.ConfigSummary")]
public sealed class EnableLbAddon : EditCmdlet
{
    protected override void ProcessRecord() => Edit("the metallb addon", "Enable", (_, _) => null, enabled: true);
}
