using System.Management.Automation;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.BgpCommunity;

/// <summary>Remove-LbBgpCommunity: removes community aliases by name.</summary>
[Cmdlet(VerbsCommon.Remove, "LbBgpCommunity", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.BgpCommunity")]
public sealed class RemoveLbBgpCommunity : EditCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(CommunityNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            Edit($"BGP community '{name}'", "Remove", (file, config) => ConfigChanges.RemoveCommunity(RequireConfig(file, config), name));
    }
}
