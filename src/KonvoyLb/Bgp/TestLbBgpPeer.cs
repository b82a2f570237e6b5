using System.Management.Automation;
using System.Net;
using System.Security;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Runtime.Bgp;
using KonvoyLb.Infrastructure;
using ConfigPeer = KonvoyLb.Engine.Config.BgpPeer;

namespace KonvoyLb.Bgp;

/// <summary>
/// Test-LbBgpPeer: opens a BGP session from this computer to each peer of cluster.yaml (or one given
/// explicitly), as the speaker would, and reports TCP, MD5, OPEN (or the peer's NOTIFICATION in words),
/// capabilities, hold time and time to Established. -AnnounceTestPrefix announces a prefix for -Seconds,
/// withdraws it and closes with Cease.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "LbBgpPeer", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
[OutputType("KonvoyLb.Engine.Runtime.Bgp.BgpPeerCheckResult")]
public sealed class TestLbBgpPeer : FileCmdlet
{
    const string ExplicitSet = "Explicit";

    /// <summary>The peers to test (all peers of the file when omitted); with -MyAsn and -PeerAsn, a peer not in any file.</summary>
    [Parameter(Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Position = 0, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Position = 0, ParameterSetName = ExplicitSet, Mandatory = true)]
    [ArgumentCompleter(typeof(PeerAddressCompleter))]
    public string[]? PeerAddress { get; set; }

    [Parameter(ParameterSetName = ExplicitSet, Mandatory = true)] public uint MyAsn { get; set; }
    [Parameter(ParameterSetName = ExplicitSet, Mandatory = true)] public uint PeerAsn { get; set; }
    [Parameter(ParameterSetName = ExplicitSet)] public SecureString? Password { get; set; }
    [Parameter(ParameterSetName = ExplicitSet)] public ushort PeerPort { get; set; } = 179;
    [Parameter(ParameterSetName = ExplicitSet)] public string? SourceAddress { get; set; }
    [Parameter(ParameterSetName = ExplicitSet)] public string? RouterId { get; set; }
    [Parameter(ParameterSetName = ExplicitSet)] [GoDurationTransformation] public string HoldTime { get; set; } = "90s";
    [Parameter(ParameterSetName = ExplicitSet)] public SwitchParameter EbgpMultihop { get; set; }

    /// <summary>Announces this prefix (e.g. 198.51.100.7/32) once Established, for -Seconds, then withdraws it.</summary>
    [Parameter]
    public string? AnnounceTestPrefix { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int Seconds { get; set; } = 10;

    /// <summary>How long to wait for the TCP connection.</summary>
    [Parameter]
    [ValidateRange(1, 300)]
    public int ConnectTimeoutSeconds { get; set; } = 5;

    readonly List<(BgpPeerSettings Settings, BgpRoute? Route)> _peers = new();

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ExplicitSet)
        {
            foreach (var address in PeerAddress!)
            {
                var peer = new ConfigPeer { PeerAddress = address, MyAsn = MyAsn, PeerAsn = PeerAsn, PeerPort = PeerPort, SourceAddress = SourceAddress, RouterId = RouterId, HoldTime = HoldTime, EbgpMultihop = EbgpMultihop ? true : null };
                peer.SetPassword(Password is null ? null : new NetworkCredential("", Password).Password);
                Add(peer, new MetalLbConfig { Peers = new() { peer } });
            }
            return;
        }
        foreach (var path in ResolvePaths())
        {
            var file = Load(path);
            var config = RequireConfig(file, file.Addon?.Config);
            var peers = config.Peers ?? new();
            foreach (var (peer, _) in NameFilter.Select(PeerAddress, peers, p => p.PeerAddress ?? "", a => WriteLbError(LbErrors.PeerNotFound(a, path, peers.Select(p => p.PeerAddress ?? "?")))))
                Add(peer, config);
        }
    }

    void Add(ConfigPeer peer, MetalLbConfig config)
    {
        BgpPeerSettings settings;
        try { settings = BgpTestPeer.Settings(peer, config, TimeSpan.FromSeconds(ConnectTimeoutSeconds)); }
        catch (LbException e)
        {
            // This peer cannot be tested; the others still are.
            WriteLbError(e);
            return;
        }
        BgpRoute? route = null;
        if (AnnounceTestPrefix is not null)
        {
            var prefix = Run(() => BgpTestPeer.ParsePrefix(AnnounceTestPrefix));
            if (ShouldProcess($"BGP peer {settings.PeerAddress}", $"Announce {prefix} for {Seconds} s, then withdraw it"))
                route = BgpTestPeer.Route(prefix, config);
        }
        _peers.Add((settings, route));
    }

    protected override void EndProcessing()
    {
        if (_peers.Count == 0) return;
        var announceFor = TimeSpan.FromSeconds(Seconds);
        // A peer whose check fails (no TCP MD5 in this kernel, say) is that peer's error; the others are reported.
        foreach (var (_, r) in AwaitEach(_peers, (p, ct) => BgpPeerCheck.RunAsync(p.Settings, p.Route, announceFor, ct), "Testing BGP peers", "peers"))
        {
            if (r is null) continue;
            WriteObject(r);
            if (!r.Established || r.Error is not null)
            {
                var id = r.ErrorId ?? (r.Established ? ErrorId.BgpSessionFailed : r.TcpReached ? ErrorId.BgpOpenRefused : ErrorId.BgpConnectFailed);
                WriteLbError(new LbException(id, $"BGP peer {r.PeerAddress}: {r.PeerNotification ?? r.Error}", r.PeerAddress));
            }
        }
    }
}
