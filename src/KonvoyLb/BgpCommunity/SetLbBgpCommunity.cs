using System.Management.Automation;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.BgpCommunity;

/// <summary>Set-LbBgpCommunity: adds or changes a community alias (bgp-communities: NAME: "A:B").</summary>
[Cmdlet(VerbsCommon.Set, "LbBgpCommunity", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.BgpCommunity")]
public sealed class SetLbBgpCommunity : EditCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(CommunityNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>The community, two numbers from 0 to 65535 separated by a colon (65535:65281).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Value { get; set; } = "";

    protected override void ProcessRecord() =>
        Edit($"BGP community '{Name}'", "Set", (file, config) => ConfigChanges.SetCommunity(RequireConfig(file, config), Name, Value).Community);
}
