using System.Management.Automation;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.BgpPeer;

/// <summary>Remove-LbBgpPeer: removes a BGP peer by address (and port, when several peers share an address).</summary>
[Cmdlet(VerbsCommon.Remove, "LbBgpPeer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.BgpPeer")]
public sealed class RemoveLbBgpPeer : EditCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(PeerAddressCompleter))]
    [ValidateNotNullOrEmpty]
    public string PeerAddress { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public ushort? PeerPort { get; set; }

    protected override void ProcessRecord() =>
        Edit($"BGP peer {PeerAddress}", "Remove", (file, config) => ConfigChanges.RemovePeer(RequireConfig(file, config), PeerAddress, PeerPort));
}
