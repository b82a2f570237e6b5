using System.Management.Automation;
using System.Net;
using System.Security;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.BgpPeer;

/// <summary>
/// Set-LbBgpPeer: creates a BGP peer (identified by its address, and port when several share one) or
/// changes only the fields given. Every field of MetalLB's legacy peer format is a parameter.
/// </summary>
[Cmdlet(VerbsCommon.Set, "LbBgpPeer", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.BgpPeer")]
public sealed class SetLbBgpPeer : EditCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(PeerAddressCompleter))]
    [ValidateNotNullOrEmpty]
    public string PeerAddress { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)] public uint? MyAsn { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public uint? PeerAsn { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public ushort? PeerPort { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? SourceAddress { get; set; }

    /// <summary>A Go duration such as 90s or 1m30s; a TimeSpan or a number of seconds is converted.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [GoDurationTransformation]
    public string? HoldTime { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [GoDurationTransformation]
    public string? KeepaliveTime { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)] public string? RouterId { get; set; }

    /// <summary>The TCP MD5 password, as a SecureString (ConvertTo-SecureString or Read-Host -AsSecureString).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public SecureString? Password { get; set; }

    /// <summary>Removes the peer's password.</summary>
    [Parameter] public SwitchParameter NoPassword { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)] public string? BfdProfile { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public bool? EbgpMultihop { get; set; }

    /// <summary>
    /// Replaces the node selectors: hashtables like @{ MatchLabels = @{ rack = 'a' }; MatchExpressions =
    /// @(@{ Key = 'zone'; Operator = 'In'; Values = 'z1','z2' }) }. An empty array writes an empty list.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("NodeSelectors")]
    [AllowEmptyCollection]
    public object[]? NodeSelector { get; set; }

    protected override void ProcessRecord()
    {
        var change = new PeerChange
        {
            MyAsn = MyAsn, PeerAsn = PeerAsn, PeerPort = PeerPort, SourceAddress = SourceAddress,
            HoldTime = HoldTime, KeepaliveTime = KeepaliveTime, RouterId = RouterId,
            Password = Password is null ? null : new NetworkCredential("", Password).Password,
            ClearPassword = NoPassword, BfdProfile = BfdProfile, EbgpMultihop = EbgpMultihop,
            NodeSelectors = NodeSelector is null ? null : Run(() => PropertyReader.NodeSelectors(NodeSelector)),
        };
        Edit($"BGP peer {PeerAddress}", "Set", (file, config) => ConfigChanges.SetPeer(RequireConfig(file, config), PeerAddress, change).Peer);
    }
}
