using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.BgpPeer;

/// <summary>Get-LbBgpPeer: the BGP peers of the metallb addon (passwords stay masked).</summary>
[Cmdlet(VerbsCommon.Get, "LbBgpPeer", DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.BgpPeer")]
public sealed class GetLbBgpPeer : FileCmdlet
{
    /// <summary>Peer addresses to return; wildcards allowed. All peers when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PeerAddressCompleter))]
    public string[]? PeerAddress { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var path in ResolvePaths())
        {
            var file = Load(path);
            var peers = Run(() => RequireConfig(file, file.Addon?.Config)).Peers ?? new();
            foreach (var (peer, _) in NameFilter.Select(PeerAddress, peers, p => p.PeerAddress ?? "", a => WriteLbError(LbErrors.PeerNotFound(a, path, peers.Select(p => p.PeerAddress ?? "?")))))
                WriteObject(WithPath(peer, path));
        }
    }
}
