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
    readonly CancellationTokenSource _cancel = new();

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
            foreach (var (peer, _) in NameFilter.Select(PeerAddress, peers, p => p.PeerAddress ?? "", a =>
                         WriteLbError(new LbException(ErrorId.PeerNotFound, ErrorKind.ObjectNotFound, $"there is no BGP peer '{a}' in '{path}'.", a))))
                Add(peer, config);
        }
    }

    void Add(ConfigPeer peer, MetalLbConfig config)
    {
        var problems = ConfigValidator.Validate(new MetalLbConfig { Peers = new() { peer }, BfdProfiles = config.BfdProfiles })
            .Where(f => f.Severity == Severity.Error).ToList();
        if (problems.Count > 0)
        {
            WriteLbError(new LbException(ErrorId.InvalidConfig, ErrorKind.InvalidData,
                $"peer {peer.PeerAddress} cannot be tested: {string.Join("; ", problems.Select(p => p.Message))}", peer.PeerAddress, findings: problems));
            return;
        }
        var settings = BgpPeerSettings.From(peer) with { ConnectTimeout = TimeSpan.FromSeconds(ConnectTimeoutSeconds) };
        BgpRoute? route = null;
        if (AnnounceTestPrefix is not null)
        {
            var prefix = Run(() => ParsePrefix(AnnounceTestPrefix));
            if (ShouldProcess($"BGP peer {settings.PeerAddress}", $"Announce {prefix} for {Seconds} s, then withdraw it"))
            {
                var pool = config.AddressPools?.FirstOrDefault(p => p.Protocol == "bgp" && (p.Addresses ?? new()).Any(a =>
                    Engine.Net.IpRange.TryParse(a, out var r, out _) && r.Contains(prefix.Address)));
                // The test prefix carries the attributes its pool's first advertisement would give it.
                route = pool is null ? new BgpRoute(prefix)
                    : BgpAdvertisements.RoutesFor(prefix.Address, pool, config.BgpCommunities)[0] with { Prefix = prefix };
            }
        }
        _peers.Add((settings, route));
    }

    static BgpPrefix ParsePrefix(string text)
    {
        var parts = text.Split('/');
        if (IPAddress.TryParse(parts[0], out var ip) && (parts.Length == 1 || (parts.Length == 2 && int.TryParse(parts[1], out _))))
        {
            int max = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
            int length = parts.Length == 2 ? int.Parse(parts[1]) : max;
            if (length >= 0 && length <= max) return new BgpPrefix(ip, length);
        }
        throw new LbException(ErrorId.InvalidArgument, ErrorKind.InvalidArgument, $"-AnnounceTestPrefix '{text}' is not a prefix.", text,
            fix: "Write it like 198.51.100.7/32 or 2001:db8::7/128.");
    }

    protected override void EndProcessing()
    {
        if (_peers.Count == 0) return;
        var announceFor = TimeSpan.FromSeconds(Seconds);
        var tasks = _peers.Select(p => Task.Run(() => BgpPeerCheck.RunAsync(p.Settings, p.Route, announceFor, _cancel.Token))).ToList();
        var all = Task.WhenAll(tasks);
        var progress = new ProgressRecord(1, "Testing BGP peers", $"0 of {tasks.Count} peers");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!((IAsyncResult)all).AsyncWaitHandle.WaitOne(200))
        {
            int done = tasks.Count(t => t.IsCompleted);
            progress.StatusDescription = $"{done} of {tasks.Count} peers ({clock.Elapsed.TotalSeconds:F0} s)";
            progress.PercentComplete = done * 100 / tasks.Count;
            WriteProgress(progress);
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        if (_cancel.IsCancellationRequested) return;
        foreach (var r in all.GetAwaiter().GetResult())
        {
            WriteObject(r);
            if (!r.Established || r.Error is not null)
            {
                var id = r.Established ? ErrorId.BgpSessionFailed : r.TcpReached ? ErrorId.BgpOpenRefused : ErrorId.BgpConnectFailed;
                WriteError(new ErrorRecord(new InvalidOperationException($"BGP peer {r.PeerAddress}: {r.PeerNotification ?? r.Error}"),
                    id.ToString(), ErrorCategory.ConnectionError, r.PeerAddress));
            }
        }
    }

    protected override void StopProcessing() => _cancel.Cancel();
}
