using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace KonvoyLb.Tests.Lab;

/// <summary>The routing daemon behind a <see cref="BgpRouter"/>.</summary>
public enum BgpDaemon { Bird, Frr, GoBgp }

/// <summary>
/// What a <see cref="BgpRouter"/> runs: a passive router (the default) waiting for the speaker at
/// <see cref="SpeakerAddressV4"/> (and <see cref="SpeakerAddressV6"/>), or, with <see cref="Active"/>
/// (GoBGP only), an announcer that dials the router at those addresses.
/// </summary>
/// <param name="LocalAsn">The router's own AS (4-octet values work everywhere).</param>
/// <param name="SpeakerAsn">The AS expected from the speaker (for <see cref="Active"/>: the remote's AS).</param>
/// <param name="SpeakerAddressV4">The speaker's IPv4 address: one session over IPv4.</param>
/// <param name="SpeakerAddressV6">
/// Optional second session over IPv6 transport. Without it, the IPv4 session carries both families
/// (IPv6 routes as MP-BGP with an IPv6 next hop); with it, the IPv4 session carries IPv4 unicast only
/// and the IPv6 session IPv6 unicast only, so each route is learned exactly once.
/// </param>
/// <param name="Password">TCP MD5 key (RFC 2385), printable ASCII without spaces or quotes, 1-80 characters.</param>
/// <param name="HoldTimeSeconds">0 (BIRD and FRR only) or 3-65535; keepalive is a third of it.</param>
/// <param name="Ipv6">Negotiate IPv6 unicast at all.</param>
public sealed record BgpPeerSpec(
    BgpDaemon Daemon,
    uint LocalAsn,
    uint SpeakerAsn,
    IPAddress SpeakerAddressV4,
    IPAddress? SpeakerAddressV6 = null,
    string? Password = null,
    int HoldTimeSeconds = 90,
    bool Ipv6 = true)
{
    /// <summary>
    /// GoBGP only: dial out to the addresses above (AS <see cref="SpeakerAsn"/>) instead of waiting,
    /// and announce what <see cref="BgpRouter.AddRoutesViaGoBgpCli"/> adds. Does not listen on port 179,
    /// so several announcers can share one host. Used as the reference announcer in benchmarks.
    /// </summary>
    public bool Active { get; init; }

    /// <summary>
    /// BIRD and FRR: also install the learned routes into the host namespace's kernel table (so
    /// traffic through the router follows them). Off by default: benchmarks measure BGP, not the FIB.
    /// </summary>
    public bool InstallRoutes { get; init; }

    /// <summary>
    /// More speakers over IPv4 (one session each, IPv4 unicast only), as the nodes of a cluster: the router then learns
    /// a route from each, and <see cref="LearnedRoute.NextHop"/> tells them apart.
    /// </summary>
    public IReadOnlyList<IPAddress> MoreSpeakersV4 { get; init; } = [];
}

/// <summary>
/// A route the router learned from the speaker. <see cref="Prefix"/> is canonical
/// ("198.51.100.0/24", "2001:db8:100::/48"); <see cref="AsPath"/> flattens sets and sequences;
/// <see cref="LocalPref"/> is null when the route carries none (always on eBGP sessions: BIRD's own
/// default of 100 is not reported); <see cref="Communities"/> are "high:low" in decimal, well-known
/// ones numerically too ("65535:65281"), <see cref="LargeCommunities"/> "global:data1:data2"; both are
/// sorted numerically (FRR sorts them anyway).
/// </summary>
public sealed record LearnedRoute(
    string Prefix,
    string NextHop,
    IReadOnlyList<uint> AsPath,
    uint? LocalPref,
    IReadOnlyList<string> Communities,
    IReadOnlyList<string> LargeCommunities)
{
    public override string ToString() =>
        $"{Prefix} via {NextHop} path [{string.Join(' ', AsPath)}]" +
        (LocalPref is { } lp ? $" lp {lp}" : "") +
        (Communities.Count > 0 ? $" c {string.Join(' ', Communities)}" : "") +
        (LargeCommunities.Count > 0 ? $" lc {string.Join(' ', LargeCommunities)}" : "");
}

/// <summary>
/// A real BGP router (BIRD 2, FRR 8 or GoBGP 3) in a lab host's namespace, configured to peer with a
/// speaker, for integration tests and benchmarks. Its files live in a private temporary directory;
/// its processes are started through <see cref="NetLab.Start(LabHost, string[])"/> in the foreground,
/// so the lab stops them at the latest on its Dispose. One passive router per host (it listens on
/// port 179); active GoBGP announcers do not listen and may share a host.
/// </summary>
/// <remarks>
/// Session states are normalised to the RFC 4271 names: Idle, Connect, Active, OpenSent,
/// OpenConfirm, Established (BIRD's "Passive" and GoBGP's numeric states map onto them, BIRD's
/// "Down" and FRR's "Clearing"/"Deleted" onto Idle).
/// </remarks>
public sealed class BgpRouter : IDisposable
{
    public const string BirdProtocolV4 = "speaker4";
    public const string BirdProtocolV6 = "speaker6";
    static int apiPortCounter;
    static int dirCounter;

    readonly NetLab lab;
    readonly List<LabProcess> running = [];
    readonly List<LabProcess> finished = [];
    readonly List<Session> sessions;
    readonly HashSet<string> announcedV4 = [];
    readonly HashSet<string> announcedV6 = [];
    readonly object gate = new();
    int disposed;

    sealed record Session(IPAddress Neighbour, IPAddress Local, string BirdName, bool Ipv4Unicast, bool Ipv6Unicast);

    BgpRouter(NetLab lab, LabHost host, BgpPeerSpec spec, string directory, List<Session> sessions)
    {
        this.lab = lab;
        Host = host;
        Spec = spec;
        Directory = directory;
        this.sessions = sessions;
        if (spec.Daemon == BgpDaemon.GoBgp)
            ApiPort = 50051 + Interlocked.Increment(ref apiPortCounter) % 10000;
    }

    public LabHost Host { get; }
    public BgpPeerSpec Spec { get; }
    /// <summary>The private directory holding configuration, sockets, PID files and logs.</summary>
    public string Directory { get; }
    /// <summary>GoBGP: the gRPC port of gobgpd on 127.0.0.1 inside the host (for <c>gobgp -p</c>); else null.</summary>
    public int? ApiPort { get; }
    /// <summary>The speaker addresses this router has a session with (IPv4 first).</summary>
    public IReadOnlyList<IPAddress> Neighbours => sessions.Select(s => s.Neighbour).ToArray();
    /// <summary>The daemon processes currently running (BIRD: bird; FRR: zebra, bgpd; GoBGP: gobgpd).</summary>
    public IReadOnlyList<LabProcess> Processes { get { lock (gate) return running.ToArray(); } }
    /// <summary>How long the last start (or restart) took until the daemon listened and answered.</summary>
    public TimeSpan LastStartDuration { get; private set; }
    /// <summary>Time limit for starting (until listening and answering) and for each CLI query.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(20);

    string BirdSocket => Path.Combine(Directory, "bird.ctl");
    string BirdLog => Path.Combine(Directory, "bird.log");

    // ================================================================ start / stop

    /// <summary>
    /// Writes the configuration into a new temporary directory, starts the daemon(s) inside
    /// <paramref name="host"/>'s namespace and waits until a passive router listens on port 179 and
    /// reports its neighbour(s) (an active GoBGP: until its API answers). Throws with the daemon's
    /// output when it does not come up.
    /// </summary>
    public static BgpRouter Start(NetLab lab, LabHost host, BgpPeerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(lab);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(spec);
        var sessions = ValidateSessions(host, spec);
        RemoveStaleDirectories();
        var dir = Path.Combine(Path.GetTempPath(), "konvoylb-bgp",
            $"{lab.Prefix}-{host.Name}-{spec.Daemon.ToString().ToLowerInvariant()}-{Interlocked.Increment(ref dirCounter)}");
        if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, recursive: true);
        System.IO.Directory.CreateDirectory(dir);
        // FRR's zebra runs as user frr and creates its sockets here.
        File.SetUnixFileMode(dir, (UnixFileMode)0x1FF);
        var router = new BgpRouter(lab, host, spec, dir, sessions);
        try
        {
            router.WriteConfiguration();
            router.StartDaemons();
            return router;
        }
        catch
        {
            router.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Deletes the directories of routers whose lab is gone (a crashed test run): a live lab keeps
    /// its marker in <see cref="NetLab.MarkerDirectory"/>, and NetLab.Create removes dead owners' markers.
    /// </summary>
    static void RemoveStaleDirectories()
    {
        var root = Path.Combine(Path.GetTempPath(), "konvoylb-bgp");
        if (!System.IO.Directory.Exists(root)) return;
        foreach (var dir in System.IO.Directory.EnumerateDirectories(root))
        {
            var name = Path.GetFileName(dir);
            int dash = name.IndexOf('-');
            if (dash <= 0 || File.Exists(Path.Combine(NetLab.MarkerDirectory, name[..dash]))) continue;
            try { System.IO.Directory.Delete(dir, recursive: true); } catch (Exception) { }
        }
    }

    internal static IReadOnlyList<object> Validate(LabHost host, BgpPeerSpec spec) => ValidateSessions(host, spec);

    static List<Session> ValidateSessions(LabHost host, BgpPeerSpec spec)
    {
        var hostV4 = host.IPv4 ?? throw new ArgumentException($"{host} has no IPv4 address (needed for the router ID and the session)", nameof(host));
        if (spec.SpeakerAddressV4.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException("SpeakerAddressV4 must be an IPv4 address", nameof(spec));
        if (spec.LocalAsn == 0 || spec.SpeakerAsn == 0 || spec.LocalAsn == 23456 || spec.SpeakerAsn == 23456)
            throw new ArgumentException("AS numbers must not be 0 or AS_TRANS (23456)", nameof(spec));
        if (spec.HoldTimeSeconds is < 0 or 1 or 2 or > 65535)
            throw new ArgumentException("HoldTimeSeconds must be 0 or 3-65535 (RFC 4271)", nameof(spec));
        if (spec.HoldTimeSeconds == 0 && spec.Daemon == BgpDaemon.GoBgp)
            throw new NotSupportedException("GoBGP replaces a hold time of 0 with 90 s: use BIRD or FRR for sessions without keepalives");
        if (spec.Active && spec.Daemon != BgpDaemon.GoBgp)
            throw new NotSupportedException("only GoBGP runs as an active announcer (Active = true)");
        if (spec.InstallRoutes && spec.Daemon == BgpDaemon.GoBgp)
            throw new NotSupportedException("GoBGP does not install routes into the kernel (InstallRoutes)");
        if (spec.Password is { } pw && (pw.Length is 0 or > 80 || pw.Any(c => c <= ' ' || c > '~' || c is '"' or '\'' or '\\' or '#' or '!')))
            throw new ArgumentException("Password: 1-80 printable ASCII characters without spaces, quotes, backslash, '#' or '!'", nameof(spec));

        var list = new List<Session>();
        if (spec.SpeakerAddressV6 is { } v6)
        {
            if (v6.AddressFamily != AddressFamily.InterNetworkV6 || v6.IsIPv6LinkLocal)
                throw new ArgumentException("SpeakerAddressV6 must be a global IPv6 address", nameof(spec));
            if (!spec.Ipv6) throw new ArgumentException("SpeakerAddressV6 needs Ipv6 = true", nameof(spec));
            var hostV6 = host.IPv6 ?? throw new ArgumentException($"{host} has no global IPv6 address for the IPv6 session", nameof(host));
            list.Add(new Session(spec.SpeakerAddressV4, hostV4, BirdProtocolV4, Ipv4Unicast: true, Ipv6Unicast: false));
            list.Add(new Session(v6, hostV6, BirdProtocolV6, Ipv4Unicast: false, Ipv6Unicast: true));
        }
        else
        {
            list.Add(new Session(spec.SpeakerAddressV4, hostV4, BirdProtocolV4, Ipv4Unicast: true, Ipv6Unicast: spec.Ipv6));
        }
        foreach (var (more, i) in spec.MoreSpeakersV4.Select((a, i) => (a, i)))
            list.Add(new Session(more, hostV4, $"{BirdProtocolV4}n{i + 2}", Ipv4Unicast: true, Ipv6Unicast: false));
        return list;
    }

    /// <summary>Stops the daemon(s) and starts them again with the same configuration and files.</summary>
    public void Restart()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        StopDaemons();
        StartDaemons();
    }

    /// <summary>Stops the daemon(s) by PID (SIGTERM to each process group, SIGKILL after 3 s) and removes the directory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        try { StopDaemons(); }
        finally
        {
            try { System.IO.Directory.Delete(Directory, recursive: true); } catch (Exception) { }
        }
    }

    void StopDaemons()
    {
        LabProcess[] procs;
        lock (gate)
        {
            procs = running.ToArray();
            running.Clear();
        }
        // Reverse start order: bgpd before zebra.
        foreach (var p in procs.Reverse())
        {
            try { p.Stop(TimeSpan.FromSeconds(3)); } catch (Exception) { }
        }
        lock (gate) finished.AddRange(procs);
    }

    LabProcess Launch(params string[] argv)
    {
        var p = lab.Start(Host, argv);
        lock (gate) running.Add(p);
        return p;
    }

    void StartDaemons()
    {
        var clock = Stopwatch.StartNew();
        switch (Spec.Daemon)
        {
            case BgpDaemon.Bird:
                Launch("bird", "-f", "-c", Path.Combine(Directory, "bird.conf"), "-s", BirdSocket, "-P", Path.Combine(Directory, "bird.pid"));
                break;
            case BgpDaemon.Frr:
                var zserv = Path.Combine(Directory, "zserv.api");
                try { File.Delete(zserv); } catch (IOException) { }
                var zebra = Launch(FrrBinary("zebra"), "-u", "frr", "-g", "frr", "-P", "0", "--vty_socket", Directory,
                    "-z", zserv, "-i", Path.Combine(Directory, "zebra.pid"), "-f", Path.Combine(Directory, "zebra.conf"),
                    "--log", "file:" + Path.Combine(Directory, "zebra.log"));
                WaitUntil(() => File.Exists(zserv), clock, () => "zebra's zserv.api socket", zebra);
                var bgpdArgs = new List<string> { FrrBinary("bgpd"), "-S", "-P", "0", "--vty_socket", Directory, "-z", zserv,
                    "-i", Path.Combine(Directory, "bgpd.pid"), "-f", Path.Combine(Directory, "bgpd.conf"),
                    "--log", "file:" + Path.Combine(Directory, "bgpd.log") };
                if (!Spec.InstallRoutes) bgpdArgs.Add("-n");
                Launch(bgpdArgs.ToArray());
                break;
            case BgpDaemon.GoBgp:
                Launch("gobgpd", "-f", Path.Combine(Directory, "gobgpd.toml"), "-p", $"--api-hosts=127.0.0.1:{ApiPort}", "--pprof-disable");
                break;
        }
        var daemon = Processes.Last();
        if (!Spec.Active)
            WaitUntil(() => Listens(179), clock, () => "port 179 listening", daemon);
        // The gobgp CLI retries a refused API connection only after a 1 s gRPC back-off: ask once it listens.
        if (ApiPort is { } api)
            WaitUntil(() => Listens(api), clock, () => $"gobgpd's API on 127.0.0.1:{api}", daemon);
        // The daemon answers its CLI and knows its neighbour(s).
        string? lastError = null;
        WaitUntil(() =>
        {
            try
            {
                foreach (var s in sessions) SessionState(s.Neighbour);
                return true;
            }
            catch (Exception e) when (e is LabCommandException or InvalidOperationException or JsonException or FormatException)
            {
                lastError = e.Message;
                return false;
            }
        }, clock, () => "the daemon to report its neighbours" + (lastError is null ? "" : $" (last error: {lastError})"), daemon);
        LastStartDuration = clock.Elapsed;
    }

    static string FrrBinary(string name) => File.Exists($"/usr/lib/frr/{name}") ? $"/usr/lib/frr/{name}" : name;

    void WaitUntil(Func<bool> condition, Stopwatch clock, Func<string> what, LabProcess watched)
    {
        while (true)
        {
            if (condition()) return;
            foreach (var p in Processes)
                if (p.HasExited)
                    throw new InvalidOperationException($"{Spec.Daemon} on {Host} exited while waiting for {what()}: {p.Stop()}\n--- configuration ---\n{ConfigurationText()}");
            if (clock.Elapsed > StartTimeout)
                throw new TimeoutException($"{Spec.Daemon} on {Host} not ready after {StartTimeout.TotalSeconds:0} s: waited for {what()}\n{watched}: {watched.StdOut}{watched.StdErr}");
            Thread.Sleep(20);
        }
    }

    bool Listens(int port)
    {
        var r = lab.Exec(Host, "ss", "-Hltn", $"sport = :{port}");
        return r.Succeeded && r.StdOut.Contains($":{port} ", StringComparison.Ordinal);
    }

    string ConfigurationText()
    {
        var sb = new StringBuilder();
        foreach (var f in new[] { "bird.conf", "zebra.conf", "bgpd.conf", "gobgpd.toml" })
        {
            var path = Path.Combine(Directory, f);
            if (File.Exists(path)) sb.Append("# ").AppendLine(f).AppendLine(File.ReadAllText(path));
        }
        return sb.ToString();
    }

    // ================================================================ configuration

    int KeepaliveSeconds => Spec.HoldTimeSeconds / 3;

    void WriteConfiguration()
    {
        switch (Spec.Daemon)
        {
            case BgpDaemon.Bird:
                File.WriteAllText(Path.Combine(Directory, "bird.conf"), BirdConfig());
                break;
            case BgpDaemon.Frr:
                File.WriteAllText(Path.Combine(Directory, "zebra.conf"), $"hostname {Host.Name}-zebra\n");
                File.WriteAllText(Path.Combine(Directory, "bgpd.conf"), FrrConfig());
                foreach (var f in new[] { "zebra.conf", "bgpd.conf" })
                    File.SetUnixFileMode(Path.Combine(Directory, f), (UnixFileMode)0x1B6); // 666: readable by frr
                break;
            case BgpDaemon.GoBgp:
                File.WriteAllText(Path.Combine(Directory, "gobgpd.toml"), GoBgpConfig());
                break;
        }
    }

    string BirdConfig()
    {
        var s = Spec;
        var sb = new StringBuilder();
        sb.AppendLine("# KonvoyLb test router (BIRD 2), written by BgpRouter");
        sb.AppendLine($"log \"{BirdLog}\" all;");
        sb.AppendLine($"router id {sessions[0].Local};");
        sb.AppendLine("protocol device { scan time 10; }");
        if (s.InstallRoutes)
        {
            sb.AppendLine("protocol kernel kernel4 { ipv4 { import none; export all; }; }");
            if (s.Ipv6) sb.AppendLine("protocol kernel kernel6 { ipv6 { import none; export all; }; }");
        }
        foreach (var session in sessions)
        {
            sb.AppendLine($"protocol bgp {session.BirdName} {{");
            sb.AppendLine($"  local {session.Local} as {s.LocalAsn};");
            sb.AppendLine($"  neighbor {session.Neighbour} as {s.SpeakerAsn};");
            sb.AppendLine("  passive on;");
            // The speaker is on the segment (BIRD takes iBGP neighbours for multihop otherwise).
            sb.AppendLine("  direct;");
            sb.AppendLine($"  hold time {s.HoldTimeSeconds};");
            if (s.HoldTimeSeconds > 0) sb.AppendLine($"  keepalive time {KeepaliveSeconds};");
            // Re-accept the speaker 1-2 s after an error, not after BIRD's default 60-300 s.
            sb.AppendLine("  error wait time 1, 2;");
            if (s.Password is { } pw) sb.AppendLine($"  password \"{pw}\";");
            // gateway direct: the next hop is on the shared segment (for iBGP the default would be
            // recursive, needing an IGP route to it).
            if (session.Ipv4Unicast) sb.AppendLine("  ipv4 { import all; export none; gateway direct; };");
            if (session.Ipv6Unicast) sb.AppendLine("  ipv6 { import all; export none; gateway direct; };");
            sb.AppendLine("}");
        }
        return sb.ToString();
    }

    string FrrConfig()
    {
        var s = Spec;
        var sb = new StringBuilder();
        sb.AppendLine("! KonvoyLb test router (FRR), written by BgpRouter");
        sb.AppendLine("frr defaults traditional");
        sb.AppendLine($"hostname {Host.Name}");
        sb.AppendLine("!");
        // Nothing goes back to the speaker (FRR would otherwise echo the speaker's own routes).
        sb.AppendLine("route-map KL-SEND-NOTHING deny 10");
        sb.AppendLine("!");
        sb.AppendLine($"router bgp {s.LocalAsn}");
        sb.AppendLine($" bgp router-id {sessions[0].Local}");
        sb.AppendLine(" no bgp ebgp-requires-policy");
        sb.AppendLine(" no bgp default ipv4-unicast");
        sb.AppendLine(" no bgp network import-check");
        foreach (var session in sessions)
        {
            var n = session.Neighbour;
            sb.AppendLine($" neighbor {n} remote-as {s.SpeakerAsn}");
            sb.AppendLine($" neighbor {n} passive");
            sb.AppendLine($" neighbor {n} timers {KeepaliveSeconds} {s.HoldTimeSeconds}");
            if (s.Password is { } pw) sb.AppendLine($" neighbor {n} password {pw}");
        }
        foreach (var (family, pick) in new[] { ("ipv4", (Func<Session, bool>)(x => x.Ipv4Unicast)), ("ipv6", x => x.Ipv6Unicast) })
        {
            var members = sessions.Where(pick).ToList();
            if (members.Count == 0) continue;
            sb.AppendLine($" address-family {family} unicast");
            foreach (var m in members)
            {
                sb.AppendLine($"  neighbor {m.Neighbour} activate");
                sb.AppendLine($"  neighbor {m.Neighbour} route-map KL-SEND-NOTHING out");
            }
            sb.AppendLine(" exit-address-family");
        }
        sb.AppendLine("!");
        return sb.ToString();
    }

    string GoBgpConfig()
    {
        var s = Spec;
        var sb = new StringBuilder();
        sb.AppendLine("# KonvoyLb test router (GoBGP), written by BgpRouter");
        sb.AppendLine("[global.config]");
        sb.AppendLine($"  as = {s.LocalAsn}");
        sb.AppendLine($"  router-id = \"{sessions[0].Local}\"");
        // An announcer only dials out; a passive router listens on all addresses.
        sb.AppendLine($"  port = {(s.Active ? -1 : 179)}");
        if (!s.Active)
        {
            // Nothing goes back to the speaker (the BIRD and FRR routers do the same).
            sb.AppendLine("[global.apply-policy.config]");
            sb.AppendLine("  default-export-policy = \"reject-route\"");
        }
        foreach (var session in sessions)
        {
            sb.AppendLine("[[neighbors]]");
            sb.AppendLine("  [neighbors.config]");
            sb.AppendLine($"    neighbor-address = \"{session.Neighbour}\"");
            sb.AppendLine($"    peer-as = {s.SpeakerAsn}");
            if (s.Password is { } pw) sb.AppendLine($"    auth-password = \"{pw}\"");
            sb.AppendLine("  [neighbors.transport.config]");
            sb.AppendLine($"    local-address = \"{session.Local}\"");
            sb.AppendLine($"    passive-mode = {(s.Active ? "false" : "true")}");
            sb.AppendLine("  [neighbors.timers.config]");
            sb.AppendLine($"    hold-time = {s.HoldTimeSeconds}");
            sb.AppendLine($"    keepalive-interval = {KeepaliveSeconds}");
            // GoBGP clamps the retry to at least 5 s and waits 5-9 s before its first attempt anyway.
            sb.AppendLine("    connect-retry = 5");
            sb.AppendLine("    idle-hold-time-after-reset = 1");
            if (session.Ipv4Unicast) AppendAfiSafi(sb, "ipv4-unicast");
            if (session.Ipv6Unicast) AppendAfiSafi(sb, "ipv6-unicast");
        }
        return sb.ToString();

        static void AppendAfiSafi(StringBuilder sb, string name)
        {
            sb.AppendLine("  [[neighbors.afi-safis]]");
            sb.AppendLine("    [neighbors.afi-safis.config]");
            sb.AppendLine($"      afi-safi-name = \"{name}\"");
        }
    }

    // ================================================================ CLIs

    /// <summary>birdc on the private control socket (a Unix socket: no namespace needed).</summary>
    string Birdc(params string[] command)
    {
        var args = new List<string> { "-s", BirdSocket };
        args.AddRange(command);
        return ProcessRunner.Run("birdc", args, StartTimeout).EnsureSuccess().StdOut;
    }

    /// <summary>vtysh talking to this instance's bgpd only (-d bgpd) through the private socket directory.</summary>
    string Vtysh(string command) =>
        ProcessRunner.Run("vtysh", ["--vty_socket", Directory, "-d", "bgpd", "-c", command], StartTimeout).EnsureSuccess().StdOut;

    /// <summary>gobgp inside the host (the API listens on the namespace's loopback).</summary>
    ProcessResult GoBgp(params string[] args)
    {
        var argv = new List<string> { "gobgp", "-u", "127.0.0.1", "-p", ApiPort!.Value.ToString(CultureInfo.InvariantCulture) };
        argv.AddRange(args);
        return lab.Exec(Host.Namespace, StartTimeout, argv.ToArray());
    }

    string GoBgpOut(params string[] args) => GoBgp(args).EnsureSuccess().StdOut;

    // ================================================================ state

    /// <summary>
    /// The session state the daemon reports for the speaker at <paramref name="neighbour"/> (default:
    /// the IPv4 session), normalised to Idle, Connect, Active, OpenSent, OpenConfirm or Established.
    /// </summary>
    public string SessionState(IPAddress? neighbour = null) => Query(() => QuerySessionState(neighbour));

    string QuerySessionState(IPAddress? neighbour)
    {
        var session = SessionFor(neighbour);
        switch (Spec.Daemon)
        {
            case BgpDaemon.Bird:
                var protocols = BgpParsers.ParseBirdProtocols(Birdc("show", "protocols", "all", session.BirdName));
                if (!protocols.TryGetValue(session.BirdName, out var p))
                    throw new InvalidOperationException($"BIRD does not list protocol {session.BirdName}");
                return BgpParsers.NormaliseState(p.State);
            case BgpDaemon.Frr:
                return BgpParsers.NormaliseState(BgpParsers.ParseFrrNeighbours(Vtysh("show bgp neighbors json"))
                    .TryGetValue(session.Neighbour.ToString(), out var n) ? n.State
                    : throw new InvalidOperationException($"FRR does not list neighbour {session.Neighbour}"));
            default:
                var peers = BgpParsers.ParseGoBgpNeighbours(GoBgpOut("neighbor", "-j"));
                return peers.TryGetValue(session.Neighbour.ToString(), out var g) ? BgpParsers.NormaliseState(g.State)
                    : throw new InvalidOperationException($"GoBGP does not list neighbour {session.Neighbour}");
        }
    }

    /// <summary>Polls (every 20 ms) until <see cref="SessionState"/> equals <paramref name="state"/>; false on timeout.</summary>
    public bool WaitForState(string state, TimeSpan timeout, IPAddress? neighbour = null)
    {
        var clock = Stopwatch.StartNew();
        var wanted = BgpParsers.NormaliseState(state);
        while (true)
        {
            if (SessionState(neighbour) == wanted) return true;
            if (clock.Elapsed >= timeout) return false;
            Thread.Sleep(20);
        }
    }

    /// <summary>Runs a CLI query and its parser, once more (twice at most) when the output does not parse.</summary>
    static T Query<T>(Func<T> query)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { return query(); }
            catch (Exception e) when (attempt < 3 && e is JsonException or FormatException) { Thread.Sleep(20); }
        }
    }

    Session SessionFor(IPAddress? neighbour)
    {
        if (neighbour is null) return sessions[0];
        return sessions.FirstOrDefault(s => s.Neighbour.Equals(neighbour))
            ?? throw new ArgumentException($"{Host} has no session with {neighbour} (only {string.Join(", ", Neighbours)})", nameof(neighbour));
    }

    // ================================================================ routes

    /// <summary>Every route (IPv4 and IPv6) learned from the speaker, sorted by prefix.</summary>
    public IReadOnlyList<LearnedRoute> Routes() => Query(QueryRoutes);

    IReadOnlyList<LearnedRoute> QueryRoutes()
    {
        var result = new List<LearnedRoute>();
        var neighbours = sessions.Select(s => s.Neighbour.ToString()).ToHashSet();
        bool v6 = sessions.Any(s => s.Ipv6Unicast);
        switch (Spec.Daemon)
        {
            case BgpDaemon.Bird:
                bool ibgp = Spec.LocalAsn == Spec.SpeakerAsn;
                foreach (var s in sessions)
                    result.AddRange(BgpParsers.ParseBirdRoutes(Birdc("show", "route", "protocol", s.BirdName, "all"), ibgp));
                break;
            case BgpDaemon.Frr:
                result.AddRange(BgpParsers.ParseFrrRoutes(Vtysh("show bgp ipv4 unicast json detail"), neighbours));
                if (v6) result.AddRange(BgpParsers.ParseFrrRoutes(Vtysh("show bgp ipv6 unicast json detail"), neighbours));
                break;
            default:
                result.AddRange(BgpParsers.ParseGoBgpRib(GoBgpOut("global", "rib", "-a", "ipv4", "-j"), neighbours));
                if (v6) result.AddRange(BgpParsers.ParseGoBgpRib(GoBgpOut("global", "rib", "-a", "ipv6", "-j"), neighbours));
                break;
        }
        return result.OrderBy(r => r.Prefix.Contains(':') ? 1 : 0).ThenBy(r => r.Prefix, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// How many routes the router accepted from the speaker (both families), from one cheap query:
    /// BIRD <c>show protocols all</c> ("Routes: N imported"), FRR <c>show bgp summary json</c>
    /// (pfxRcd), GoBGP <c>neighbor -j</c> (accepted per family).
    /// </summary>
    public int RouteCount() => Query(QueryRouteCount);

    int QueryRouteCount()
    {
        switch (Spec.Daemon)
        {
            case BgpDaemon.Bird:
                var pattern = sessions.Count == 1 ? sessions[0].BirdName : "\"speaker*\"";
                var protocols = BgpParsers.ParseBirdProtocols(Birdc("show", "protocols", "all", pattern));
                return sessions.Sum(s => protocols.TryGetValue(s.BirdName, out var p) ? p.ImportedRoutes : 0);
            case BgpDaemon.Frr:
                var counts = BgpParsers.ParseFrrSummaryCounts(Vtysh("show bgp summary json"));
                return sessions.Sum(s => counts.TryGetValue(s.Neighbour.ToString(), out var c) ? c : 0);
            default:
                var peers = BgpParsers.ParseGoBgpNeighbours(GoBgpOut("neighbor", "-j"));
                return sessions.Sum(s => peers.TryGetValue(s.Neighbour.ToString(), out var g) ? g.Accepted : 0);
        }
    }

    /// <summary>
    /// Polls <see cref="RouteCount"/> every ~20 ms until it equals <paramref name="count"/>;
    /// <paramref name="elapsed"/> is the time from the call to the first matching answer (or to the timeout).
    /// </summary>
    public bool WaitForRouteCount(int count, TimeSpan timeout, out TimeSpan elapsed)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (RouteCount() == count)
            {
                elapsed = clock.Elapsed;
                return true;
            }
            if (clock.Elapsed >= timeout)
            {
                elapsed = clock.Elapsed;
                return false;
            }
            Thread.Sleep(20);
        }
    }

    // ================================================================ notifications

    /// <summary>
    /// The last NOTIFICATION the daemon says it received from the speaker, as
    /// "code/subcode Name/Subname[: shutdown message]" (e.g. "6/2 Cease/Administrative Shutdown: going
    /// away"), or null when it reports none. Sources: BIRD's log ("NAME: Received: ..."), FRR's
    /// neighbour JSON (lastErrorCodeSubcode, lastShutdownDescription, when lastResetDueTo says it was
    /// received), GoBGP's log ("received notification" Code, Subcode, Communicated-Reason). BIRD and
    /// GoBGP remember across <see cref="Restart"/>; FRR forgets on restart.
    /// </summary>
    public string? LastNotificationFromSpeaker() => Query(QueryLastNotification);

    string? QueryLastNotification()
    {
        switch (Spec.Daemon)
        {
            case BgpDaemon.Bird:
                var log = File.Exists(BirdLog) ? ReadShared(BirdLog) : "";
                var fromLog = BgpParsers.LastBirdNotification(log, sessions.Select(s => s.BirdName));
                if (fromLog is not null) return fromLog;
                // Fallback: "Last error: Received: ..." of show protocols all.
                var protocols = BgpParsers.ParseBirdProtocols(Birdc("show", "protocols", "all", sessions.Count == 1 ? sessions[0].BirdName : "\"speaker*\""));
                foreach (var s in sessions)
                    if (protocols.TryGetValue(s.BirdName, out var p) && p.LastError is { } e && e.StartsWith("Received: ", StringComparison.Ordinal))
                        return BgpParsers.FormatBirdError(e["Received: ".Length..]);
                return null;
            case BgpDaemon.Frr:
                var neighbours = BgpParsers.ParseFrrNeighbours(Vtysh("show bgp neighbors json"));
                return sessions.Select(s => neighbours.TryGetValue(s.Neighbour.ToString(), out var n) ? n : null)
                    .OfType<BgpParsers.FrrNeighbour>()
                    .Where(n => n.ReceivedNotification is not null)
                    .OrderBy(n => n.LastResetMilliseconds ?? long.MaxValue)
                    .Select(n => n.ReceivedNotification)
                    .FirstOrDefault();
            default:
                LabProcess[] all;
                lock (gate) all = finished.Concat(running).ToArray();
                var text = string.Join('\n', all.Select(p => p.StdErr + "\n" + p.StdOut));
                return BgpParsers.LastGoBgpNotification(text, sessions.Select(s => s.Neighbour.ToString()));
        }
    }

    static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    // ================================================================ announcing (active GoBGP)

    /// <summary>
    /// Active GoBGP only: announces <paramref name="prefixes"/> ("198.51.100.0/24", "2001:db8:1::/48")
    /// with ORIGIN IGP, the host's own addresses as next hops and the given communities ("65000:1")
    /// and large communities ("4200000001:1:2"), and returns once gobgpd's own table holds all of
    /// them (gobgpd sends them to an established session as they arrive; measure their arrival with
    /// the receiving router's <see cref="WaitForRouteCount"/>). Prefixes must be new to this announcer
    /// or repeated from an earlier call; <see cref="RemoveAllRoutesViaGoBgpCli"/> starts over.
    /// </summary>
    /// <remarks>
    /// Fast for 100,000 prefixes (about 2 s into an idle gobgpd here): the routes are written as an
    /// MRT TABLE_DUMP_V2 stream into a FIFO that one <c>gobgp mrt inject global FIFO</c> reads, one
    /// process for the whole batch instead of one <c>gobgp global rib add</c> per prefix (about 13 ms
    /// each, so 20 minutes for 100,000). The FIFO stays open until gobgpd holds every route: GoBGP
    /// 3.10's inject drops the tail of its stream when it reaches end-of-file and exits at once (from
    /// a plain file of 10,000 routes 300-700 went missing, of 5 routes all). Its reader also takes
    /// short reads for whole records, so the stream is written in chunks of whole records of at
    /// most PIPE_BUF (4096) bytes, which a pipe delivers atomically.
    /// </remarks>
    public void AddRoutesViaGoBgpCli(IEnumerable<string> prefixes, IEnumerable<string>? communities = null, IEnumerable<string>? largeCommunities = null)
    {
        EnsureAnnouncer();
        var networks = prefixes.Select(p => BgpParsers.ParsePrefix(p)).ToList();
        if (networks.Count == 0) return;
        var v6 = networks.Where(n => n.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6).ToList();
        if (v6.Count > 0 && !sessions.Any(s => s.Ipv6Unicast))
            throw new InvalidOperationException("IPv6 prefixes need Ipv6 = true on the announcer");
        var nextHop6 = v6.Count > 0 ? Host.IPv6 ?? throw new InvalidOperationException($"{Host} has no global IPv6 address to use as next hop") : null;
        var comms = (communities ?? []).Select(BgpParsers.ParseCommunity).ToArray();
        var larges = (largeCommunities ?? []).Select(BgpParsers.ParseLargeCommunity).ToArray();
        var records = MrtTableDump.Encode(sessions[0].Local, networks, sessions[0].Local, nextHop6, comms, larges);

        int want4, want6;
        lock (gate)
        {
            foreach (var n in networks)
                (n.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? announcedV4 : announcedV6).Add(n.ToString());
            want4 = announcedV4.Count;
            want6 = announcedV6.Count;
        }
        bool any6 = v6.Count > 0, any4 = v6.Count < networks.Count;
        var timeout = TimeSpan.FromSeconds(60 + networks.Count / 1000.0);

        var fifo = Path.Combine(Directory, $"inject-{Guid.NewGuid():N}.mrt");
        FifoNative.Create(fifo);
        var inject = lab.Start(Host, "gobgp", "-u", "127.0.0.1", "-p", ApiPort!.Value.ToString(CultureInfo.InvariantCulture), "mrt", "inject", "global", fifo);
        var clock = Stopwatch.StartNew();
        var writer = Task.Factory.StartNew(() =>
        {
            // Blocks until gobgp opened the FIFO. Chunks of whole records up to PIPE_BUF (4096)
            // bytes are atomic: gobgp 3.10 reads header and body with plain Read calls, which a
            // record split across two writes would break. The stream stays open (no end-of-file
            // for gobgp) until gobgpd holds every route.
            var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            try
            {
                foreach (var chunk in MrtTableDump.Chunk(records, 4096)) stream.Write(chunk);
                return stream;
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }, TaskCreationOptions.LongRunning);
        FileStream? keepOpen = null;
        try
        {
            // Wait for the writes; if gobgp dies first, unblock the writer by reading the FIFO ourselves.
            while (!writer.Wait(20))
            {
                if (inject.HasExited)
                {
                    Drain(fifo, writer);
                    throw new InvalidOperationException($"gobgp mrt inject ended early: {inject.Stop()}");
                }
                if (clock.Elapsed > timeout) { Drain(fifo, writer); throw new TimeoutException("writing the MRT stream to gobgp timed out"); }
            }
            keepOpen = writer.Result;
            while (true)
            {
                var (have4, have6) = AnnouncedCounts(any4, any6);
                if ((!any4 || have4 >= want4) && (!any6 || have6 >= want6)) break;
                if (inject.HasExited) throw new InvalidOperationException($"gobgp mrt inject ended before gobgpd had all routes ({have4}/{want4} IPv4, {have6}/{want6} IPv6): {inject.Stop()}");
                if (clock.Elapsed > timeout)
                    throw new TimeoutException($"gobgpd holds {have4}/{want4} IPv4 and {have6}/{want6} IPv6 routes after {timeout.TotalSeconds:0} s");
                Thread.Sleep(20);
            }
        }
        finally
        {
            keepOpen?.Dispose();
            var done = inject.WaitForExit(TimeSpan.FromSeconds(10));
            if (done.TimedOut) inject.Stop();
            try { File.Delete(fifo); } catch (IOException) { }
        }
        var result = inject.Stop();
        if (result.ExitCode != 0 || result.StdErr.Contains("failed", StringComparison.OrdinalIgnoreCase) || result.StdOut.Contains("failed", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"gobgp mrt inject reported a problem: {result}");
    }

    /// <summary>Active GoBGP only: withdraws everything announced (<c>gobgp global rib -a ipv4|ipv6 del all</c>).</summary>
    public void RemoveAllRoutesViaGoBgpCli()
    {
        EnsureAnnouncer();
        GoBgpOut("global", "rib", "-a", "ipv4", "del", "all");
        if (sessions.Any(s => s.Ipv6Unicast)) GoBgpOut("global", "rib", "-a", "ipv6", "del", "all");
        lock (gate)
        {
            announcedV4.Clear();
            announcedV6.Clear();
        }
    }

    /// <summary>
    /// Active GoBGP only: closes every session with NOTIFICATION Cease/Administrative Shutdown (6/2),
    /// with an RFC 8203 <paramref name="message"/> if given, and keeps them down
    /// (<c>gobgp neighbor ADDR shutdown --reason MSG</c>; 3.10's <c>disable</c> drops the message).
    /// <see cref="EnableSessionsViaGoBgpCli"/> brings them back.
    /// </summary>
    public void ShutdownSessionsViaGoBgpCli(string? message = null)
    {
        EnsureAnnouncer();
        foreach (var s in sessions)
        {
            var args = new List<string> { "neighbor", s.Neighbour.ToString(), "shutdown" };
            if (message is not null) args.AddRange(["--reason", message]);
            GoBgpOut(args.ToArray());
        }
    }

    /// <summary>Active GoBGP only: lets the sessions come up again after <see cref="ShutdownSessionsViaGoBgpCli"/>.</summary>
    public void EnableSessionsViaGoBgpCli()
    {
        EnsureAnnouncer();
        foreach (var s in sessions) GoBgpOut("neighbor", s.Neighbour.ToString(), "enable");
    }

    /// <summary>Active GoBGP only: how many IPv4 and IPv6 destinations gobgpd's own table holds.</summary>
    public (int Ipv4, int Ipv6) AnnouncedCounts() => AnnouncedCounts(true, sessions.Any(s => s.Ipv6Unicast));

    (int, int) AnnouncedCounts(bool v4, bool v6) =>
        (v4 ? BgpParsers.ParseGoBgpRibSummary(GoBgpOut("global", "rib", "-a", "ipv4", "summary")) : 0,
         v6 ? BgpParsers.ParseGoBgpRibSummary(GoBgpOut("global", "rib", "-a", "ipv6", "summary")) : 0);

    void EnsureAnnouncer()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        if (Spec.Daemon != BgpDaemon.GoBgp || !Spec.Active)
            throw new InvalidOperationException("only an active GoBGP announcer (Daemon = GoBgp, Active = true) announces routes");
    }

    static void Drain(string fifo, Task<FileStream> writer)
    {
        try
        {
            using var reader = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            var buffer = new byte[65536];
            while (!writer.IsCompleted && reader.Read(buffer) > 0) { }
        }
        catch (Exception) { }
        try
        {
            if (writer.Wait(TimeSpan.FromSeconds(5))) writer.Result.Dispose();
        }
        catch (Exception) { }
    }

    public override string ToString() =>
        $"{Spec.Daemon}{(Spec.Active ? " announcer" : "")} AS {Spec.LocalAsn} on {Host} <-> {string.Join(", ", Neighbours)} AS {Spec.SpeakerAsn}";
}

/// <summary>Parsers for the daemons' CLI output; pure functions, tested on captured samples.</summary>
internal static partial class BgpParsers
{
    public sealed record BirdProtocol(string Name, string State, int ImportedRoutes, string? LastError);
    public sealed record FrrNeighbour(string Address, string State, string? ReceivedNotification, long? LastResetMilliseconds);
    public sealed record GoBgpNeighbour(string Address, string State, int Accepted, int Received);

    static readonly string[] States = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"];

    /// <summary>RFC 4271 state name for a daemon's word or GoBGP's number.</summary>
    public static string NormaliseState(string state)
    {
        var s = state.Trim();
        if (int.TryParse(s, out int n)) return n is >= 1 and <= 6 ? States[n - 1] : "Idle";
        foreach (var known in States)
            if (string.Equals(s, known, StringComparison.OrdinalIgnoreCase)) return known;
        return s.ToLowerInvariant() switch
        {
            "passive" => "Active",   // BIRD with passive on, waiting
            "down" or "clearing" or "deleted" or "unknown" or "close" => "Idle",
            "established" => "Established",
            _ => s,
        };
    }

    // ---------------------------------------------------------------- BIRD

    [GeneratedRegex(@"^(?<name>\S+)\s+BGP\s")]
    private static partial Regex BirdProtocolLine();

    /// <summary>Protocols of <c>show protocols all</c>: state ("BGP state:"), imported routes summed over channels, last error.</summary>
    public static Dictionary<string, BirdProtocol> ParseBirdProtocols(string text)
    {
        var result = new Dictionary<string, BirdProtocol>(StringComparer.Ordinal);
        string? name = null;
        string state = "";
        int imported = 0;
        string? lastError = null;
        void Flush()
        {
            if (name is not null) result[name] = new BirdProtocol(name, state, imported, lastError);
        }
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var m = BirdProtocolLine().Match(line);
            if (m.Success)
            {
                Flush();
                name = m.Groups["name"].Value;
                state = "Down";
                imported = 0;
                lastError = null;
                continue;
            }
            if (name is null) continue;
            var t = line.Trim();
            if (t.StartsWith("BGP state:", StringComparison.Ordinal)) state = t["BGP state:".Length..].Trim();
            else if (t.StartsWith("Last error:", StringComparison.Ordinal)) lastError = t["Last error:".Length..].Trim();
            else if (t.StartsWith("Routes:", StringComparison.Ordinal))
            {
                var rm = Regex.Match(t, @"Routes:\s+(\d+) imported");
                if (rm.Success) imported += int.Parse(rm.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }
        Flush();
        return result;
    }

    [GeneratedRegex(@"^(?<prefix>\S+)?\s+(?<kind>\w+)\s+\[(?<proto>[^\s\]]+)")]
    private static partial Regex BirdRouteLine();

    [GeneratedRegex(@"^\t(?<key>[A-Za-z][\w.]*):\s?(?<value>.*)$")]
    private static partial Regex BirdAttributeLine();

    /// <summary>
    /// Routes of <c>show route protocol NAME all</c>: a route starts at a line "PREFIX  unicast [proto
    /// ...]" (the prefix left out for further routes to the same prefix); its attributes follow on
    /// tab-indented "BGP.key: value" lines; long community lists continue on lines indented by two tabs.
    /// </summary>
    public static List<LearnedRoute> ParseBirdRoutes(string text, bool internalSession)
    {
        var routes = new List<LearnedRoute>();
        string? prefix = null;
        Dictionary<string, string>? attrs = null;
        string? lastKey = null;
        string? routePrefix = null;
        void Flush()
        {
            if (routePrefix is null || attrs is null) return;
            attrs.TryGetValue("BGP.next_hop", out var nh);
            attrs.TryGetValue("BGP.as_path", out var path);
            attrs.TryGetValue("BGP.local_pref", out var lp);
            attrs.TryGetValue("BGP.community", out var comm);
            attrs.TryGetValue("BGP.large_community", out var large);
            routes.Add(new LearnedRoute(
                CanonicalPrefix(routePrefix),
                (nh ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "",
                Numbers(path ?? "").ToArray(),
                internalSession && uint.TryParse(lp, out var l) ? l : null,
                SortCommunities(Regex.Matches(comm ?? "", @"\((\d+),\s*(\d+)\)").Select(m => $"{m.Groups[1].Value}:{m.Groups[2].Value}")),
                SortLarge(Regex.Matches(large ?? "", @"\((\d+),\s*(\d+),\s*(\d+)\)").Select(m => $"{m.Groups[1].Value}:{m.Groups[2].Value}:{m.Groups[3].Value}"))));
            routePrefix = null;
            attrs = null;
        }
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("BIRD ", StringComparison.Ordinal)) continue;
            if (line.StartsWith("Table ", StringComparison.Ordinal)) { Flush(); prefix = null; continue; }
            if (line.StartsWith('\t'))
            {
                if (attrs is null) continue;
                if (line.StartsWith("\t\t", StringComparison.Ordinal) && lastKey is not null)
                {
                    attrs[lastKey] += " " + line.Trim();
                    continue;
                }
                var a = BirdAttributeLine().Match(line);
                if (a.Success)
                {
                    lastKey = a.Groups["key"].Value;
                    attrs[lastKey] = a.Groups["value"].Value.Trim();
                }
                continue;
            }
            var r = BirdRouteLine().Match(line);
            if (r.Success)
            {
                Flush();
                if (r.Groups["prefix"].Success) prefix = r.Groups["prefix"].Value;
                routePrefix = prefix;
                attrs = new Dictionary<string, string>(StringComparer.Ordinal);
                lastKey = null;
            }
        }
        Flush();
        return routes;
    }

    [GeneratedRegex(@"<RMT> (?<proto>\S+): Received: (?<text>.*)$", RegexOptions.Multiline)]
    private static partial Regex BirdReceivedLog();

    /// <summary>The last "NAME: Received: ..." of BIRD's log for one of <paramref name="protocols"/>, formatted.</summary>
    public static string? LastBirdNotification(string log, IEnumerable<string> protocols)
    {
        var names = protocols.ToHashSet(StringComparer.Ordinal);
        var last = BirdReceivedLog().Matches(log).LastOrDefault(m => names.Contains(m.Groups["proto"].Value));
        return last is null ? null : FormatBirdError(last.Groups["text"].Value.TrimEnd('\r'));
    }

    // BIRD's own descriptions (proto/bgp/packets.c, bgp_msg_table), to find code and subcode.
    static readonly (int Code, int Subcode, string Text)[] BirdDescriptions =
    [
        (1, 0, "Invalid message header"), (1, 1, "Connection not synchronized"), (1, 2, "Bad message length"), (1, 3, "Bad message type"),
        (2, 0, "Invalid OPEN message"), (2, 1, "Unsupported version number"), (2, 2, "Bad peer AS"), (2, 3, "Bad BGP identifier"),
        (2, 4, "Unsupported optional parameter"), (2, 5, "Authentication failure"), (2, 6, "Unacceptable hold time"),
        (2, 7, "Required capability missing"), (2, 8, "No supported AFI/SAFI"),
        (3, 0, "Invalid UPDATE message"), (3, 1, "Malformed attribute list"), (3, 2, "Unrecognized well-known attribute"),
        (3, 3, "Missing mandatory attribute"), (3, 4, "Invalid attribute flags"), (3, 5, "Invalid attribute length"),
        (3, 6, "Invalid ORIGIN attribute"), (3, 7, "AS routing loop"), (3, 8, "Invalid NEXT_HOP attribute"),
        (3, 9, "Optional attribute error"), (3, 10, "Invalid network field"), (3, 11, "Malformed AS_PATH"),
        (4, 0, "Hold timer expired"),
        (5, 0, "Finite state machine error"), (5, 1, "Unexpected message in OpenSent state"),
        (5, 2, "Unexpected message in OpenConfirm state"), (5, 3, "Unexpected message in Established state"),
        (6, 0, "Cease"), (6, 1, "Maximum number of prefixes reached"), (6, 2, "Administrative shutdown"), (6, 3, "Peer de-configured"),
        (6, 4, "Administrative reset"), (6, 5, "Connection rejected"), (6, 6, "Other configuration change"),
        (6, 7, "Connection collision resolution"), (6, 8, "Out of Resources"),
        (7, 0, "Invalid ROUTE-REFRESH message"), (7, 1, "Invalid ROUTE-REFRESH message length"),
    ];

    /// <summary>BIRD's "Administrative shutdown: \"msg\"" (or "Unknown error 6.9", or "Bad peer AS: 65000") as the common format.</summary>
    public static string FormatBirdError(string text)
    {
        var unknown = Regex.Match(text, @"^Unknown error (\d+)\.(\d+)(?<rest>.*)$");
        if (unknown.Success)
            return FormatNotification(int.Parse(unknown.Groups[1].Value, CultureInfo.InvariantCulture),
                int.Parse(unknown.Groups[2].Value, CultureInfo.InvariantCulture), Detail(unknown.Groups["rest"].Value));
        // Longest description first: "Cease" is a prefix of nothing else, but be safe.
        foreach (var d in BirdDescriptions.OrderByDescending(d => d.Text.Length))
        {
            if (!text.StartsWith(d.Text, StringComparison.Ordinal)) continue;
            var rest = text[d.Text.Length..];
            if (rest.Length > 0 && !rest.StartsWith(':')) continue;
            return FormatNotification(d.Code, d.Subcode, Detail(rest));
        }
        return text;

        static string? Detail(string rest)
        {
            rest = rest.TrimStart(':', ' ');
            if (rest.Length == 0) return null;
            if (rest.Length >= 2 && rest[0] == '"' && rest[^1] == '"') rest = rest[1..^1];
            return rest;
        }
    }

    // ---------------------------------------------------------------- FRR

    /// <summary>Neighbours of <c>show bgp neighbors json</c> (an object keyed by address).</summary>
    public static Dictionary<string, FrrNeighbour> ParseFrrNeighbours(string json)
    {
        var result = new Dictionary<string, FrrNeighbour>(StringComparer.Ordinal);
        using var doc = ParseJson(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) return result;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Object || !p.Value.TryGetProperty("bgpState", out var st)) continue;
            var address = CanonicalAddress(p.Name);
            string? received = null;
            if (p.Value.TryGetProperty("lastResetDueTo", out var due) && due.GetString() is { } d &&
                d.Contains("Notification received", StringComparison.OrdinalIgnoreCase) &&
                p.Value.TryGetProperty("lastErrorCodeSubcode", out var cs) && cs.GetString() is { Length: 4 } hex)
            {
                int code = Convert.ToInt32(hex[..2], 16), sub = Convert.ToInt32(hex[2..], 16);
                string? msg = p.Value.TryGetProperty("lastShutdownDescription", out var sd) ? sd.GetString() : null;
                received = FormatNotification(code, sub, string.IsNullOrEmpty(msg) ? null : msg);
            }
            long? ago = p.Value.TryGetProperty("lastResetTimerMsecs", out var ms) && ms.ValueKind == JsonValueKind.Number ? ms.GetInt64() : null;
            result[address] = new FrrNeighbour(address, st.GetString() ?? "", received, ago);
        }
        return result;
    }

    /// <summary>pfxRcd per neighbour summed over the address families of <c>show bgp summary json</c>.</summary>
    public static Dictionary<string, int> ParseFrrSummaryCounts(string json)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        using var doc = ParseJson(json);
        void Family(JsonElement family)
        {
            if (!family.TryGetProperty("peers", out var peers) || peers.ValueKind != JsonValueKind.Object) return;
            foreach (var p in peers.EnumerateObject())
            {
                int n = p.Value.TryGetProperty("pfxRcd", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
                var a = CanonicalAddress(p.Name);
                result[a] = result.GetValueOrDefault(a) + n;
            }
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object) return result;
        if (doc.RootElement.TryGetProperty("peers", out _)) Family(doc.RootElement);
        else
            foreach (var f in doc.RootElement.EnumerateObject())
                if (f.Value.ValueKind == JsonValueKind.Object) Family(f.Value);
        return result;
    }

    static readonly Dictionary<string, string> FrrWellKnown = new(StringComparer.OrdinalIgnoreCase)
    {
        ["internet"] = "0:0", ["gracefulShutdown"] = "65535:0", ["acceptown"] = "65535:1",
        ["routeFilterTranslatedV4"] = "65535:2", ["routeFilterV4"] = "65535:3", ["routeFilterTranslatedV6"] = "65535:4",
        ["routeFilterV6"] = "65535:5", ["llgrStale"] = "65535:6", ["noLlgr"] = "65535:7", ["acceptownnexthop"] = "65535:8",
        ["blackhole"] = "65535:666", ["noExport"] = "65535:65281", ["noAdvertise"] = "65535:65282",
        ["localAs"] = "65535:65283", ["noPeer"] = "65535:65284",
    };

    /// <summary>
    /// Paths from <paramref name="neighbours"/> in <c>show bgp ipv4|ipv6 unicast json detail</c>: routes
    /// maps a prefix to an array whose first element describes the prefix and the others are paths
    /// (aspath.segments[].list, locPrf, community.list with names for well-known values,
    /// largeCommunity.list, nexthops[] with scope, peer.peerId).
    /// </summary>
    public static List<LearnedRoute> ParseFrrRoutes(string json, IReadOnlySet<string> neighbours)
    {
        var result = new List<LearnedRoute>();
        using var doc = ParseJson(json);
        if (!doc.RootElement.TryGetProperty("routes", out var routes) || routes.ValueKind != JsonValueKind.Object) return result;
        foreach (var entry in routes.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Array) continue;
            foreach (var path in entry.Value.EnumerateArray())
            {
                if (!path.TryGetProperty("peer", out var peer) || !peer.TryGetProperty("peerId", out var pid)) continue;
                if (!neighbours.Contains(CanonicalAddress(pid.GetString() ?? ""))) continue;
                var asPath = new List<uint>();
                if (path.TryGetProperty("aspath", out var ap) && ap.TryGetProperty("segments", out var segs))
                    foreach (var seg in segs.EnumerateArray())
                        if (seg.TryGetProperty("list", out var list))
                            foreach (var asn in list.EnumerateArray()) asPath.Add(asn.GetUInt32());
                uint? lp = path.TryGetProperty("locPrf", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetUInt32() : null;
                var comms = new List<string>();
                if (path.TryGetProperty("community", out var c) && c.TryGetProperty("list", out var cl))
                    foreach (var x in cl.EnumerateArray())
                    {
                        var s = x.GetString() ?? "";
                        comms.Add(FrrWellKnown.TryGetValue(s, out var numeric) ? numeric : s);
                    }
                var larges = new List<string>();
                if (path.TryGetProperty("largeCommunity", out var lc) && lc.TryGetProperty("list", out var ll))
                    foreach (var x in ll.EnumerateArray()) larges.Add(x.GetString() ?? "");
                string nextHop = "";
                if (path.TryGetProperty("nexthops", out var nhs))
                {
                    var chosen = nhs.EnumerateArray().FirstOrDefault(n => !(n.TryGetProperty("scope", out var sc) && sc.GetString() == "link-local"));
                    if (chosen.ValueKind == JsonValueKind.Object && chosen.TryGetProperty("ip", out var ip)) nextHop = CanonicalAddress(ip.GetString() ?? "");
                }
                result.Add(new LearnedRoute(CanonicalPrefix(entry.Name), nextHop, asPath, lp, SortCommunities(comms), SortLarge(larges)));
            }
        }
        return result;
    }

    // ---------------------------------------------------------------- GoBGP

    /// <summary>Neighbours of <c>gobgp neighbor -j</c> (an array of peers; session_state is a number or a name).</summary>
    public static Dictionary<string, GoBgpNeighbour> ParseGoBgpNeighbours(string json)
    {
        var result = new Dictionary<string, GoBgpNeighbour>(StringComparer.Ordinal);
        using var doc = ParseJson(json);
        IEnumerable<JsonElement> peers = doc.RootElement.ValueKind switch
        {
            JsonValueKind.Array => doc.RootElement.EnumerateArray(),
            JsonValueKind.Object => [doc.RootElement],
            _ => [],
        };
        foreach (var peer in peers)
        {
            string? address = null;
            if (peer.TryGetProperty("state", out var state) && state.TryGetProperty("neighbor_address", out var na)) address = na.GetString();
            if (address is null && peer.TryGetProperty("conf", out var conf) && conf.TryGetProperty("neighbor_address", out var ca)) address = ca.GetString();
            if (address is null) continue;
            string st = "Idle";
            if (state.ValueKind == JsonValueKind.Object && state.TryGetProperty("session_state", out var ss))
                st = ss.ValueKind == JsonValueKind.Number ? ss.GetInt32().ToString(CultureInfo.InvariantCulture) : ss.GetString() ?? "Idle";
            int accepted = 0, received = 0;
            if (peer.TryGetProperty("afi_safis", out var afs) && afs.ValueKind == JsonValueKind.Array)
                foreach (var af in afs.EnumerateArray())
                    if (af.TryGetProperty("state", out var s))
                    {
                        if (s.TryGetProperty("accepted", out var a) && a.ValueKind == JsonValueKind.Number) accepted += a.GetInt32();
                        if (s.TryGetProperty("received", out var r) && r.ValueKind == JsonValueKind.Number) received += r.GetInt32();
                    }
            var key = CanonicalAddress(address);
            result[key] = new GoBgpNeighbour(key, NormaliseState(st), accepted, received);
        }
        return result;
    }

    /// <summary>
    /// Paths from <paramref name="neighbours"/> ("neighbor-ip") in <c>gobgp global rib -a AFI -j</c>: a
    /// prefix maps to paths whose attrs are typed (1 origin, 2 as_paths[].asns, 3 nexthop, 5 value,
    /// 8 communities as 32-bit numbers, 14 MP_REACH nexthop, 32 value[] {ASN, LocalData1, LocalData2}).
    /// </summary>
    public static List<LearnedRoute> ParseGoBgpRib(string json, IReadOnlySet<string> neighbours)
    {
        var result = new List<LearnedRoute>();
        if (string.IsNullOrWhiteSpace(json) || json.Trim() == "null") return result;
        using var doc = ParseJson(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) return result;
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Array) continue;
            foreach (var path in entry.Value.EnumerateArray())
            {
                if (!path.TryGetProperty("neighbor-ip", out var nip) || !neighbours.Contains(CanonicalAddress(nip.GetString() ?? ""))) continue;
                var asPath = new List<uint>();
                string nextHop = "";
                uint? lp = null;
                var comms = new List<string>();
                var larges = new List<string>();
                if (path.TryGetProperty("attrs", out var attrs))
                    foreach (var a in attrs.EnumerateArray())
                    {
                        switch (a.GetProperty("type").GetInt32())
                        {
                            case 2:
                                if (a.TryGetProperty("as_paths", out var segs) && segs.ValueKind == JsonValueKind.Array)
                                    foreach (var seg in segs.EnumerateArray())
                                        if (seg.TryGetProperty("asns", out var asns) && asns.ValueKind == JsonValueKind.Array)
                                            foreach (var asn in asns.EnumerateArray()) asPath.Add(asn.GetUInt32());
                                break;
                            case 3:
                            case 14:
                                if (a.TryGetProperty("nexthop", out var nh)) nextHop = CanonicalAddress(nh.GetString() ?? "");
                                break;
                            case 5:
                                if (a.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.Number) lp = v.GetUInt32();
                                break;
                            case 8:
                                if (a.TryGetProperty("communities", out var cs))
                                    foreach (var c in cs.EnumerateArray())
                                    {
                                        var n = c.GetUInt32();
                                        comms.Add($"{n >> 16}:{n & 0xFFFF}");
                                    }
                                break;
                            case 32:
                                if (a.TryGetProperty("value", out var lv) && lv.ValueKind == JsonValueKind.Array)
                                    foreach (var l in lv.EnumerateArray())
                                        larges.Add($"{l.GetProperty("ASN").GetUInt32()}:{l.GetProperty("LocalData1").GetUInt32()}:{l.GetProperty("LocalData2").GetUInt32()}");
                                break;
                        }
                    }
                var prefix = path.TryGetProperty("nlri", out var nlri) && nlri.TryGetProperty("prefix", out var pf) ? pf.GetString() ?? entry.Name : entry.Name;
                result.Add(new LearnedRoute(CanonicalPrefix(prefix), nextHop, asPath, lp, SortCommunities(comms), SortLarge(larges)));
            }
        }
        return result;
    }

    /// <summary>"Destination: N, Path: M" of <c>gobgp global rib -a AFI summary</c>: N.</summary>
    public static int ParseGoBgpRibSummary(string text)
    {
        var m = Regex.Match(text, @"Destination:\s*(\d+)");
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new FormatException($"no 'Destination: N' in gobgp's rib summary: {text}");
    }

    [GeneratedRegex("msg=\"received notification\"(?<rest>.*)$", RegexOptions.Multiline)]
    private static partial Regex GoBgpNotificationLog();

    /// <summary>The last "received notification" log line of gobgpd for one of <paramref name="neighbours"/>, formatted.</summary>
    public static string? LastGoBgpNotification(string log, IEnumerable<string> neighbours)
    {
        var keys = neighbours.ToHashSet(StringComparer.Ordinal);
        string? found = null;
        foreach (Match m in GoBgpNotificationLog().Matches(log))
        {
            var fields = LogFields(m.Groups["rest"].Value);
            if (!fields.TryGetValue("Key", out var key) || !keys.Contains(CanonicalAddress(key))) continue;
            if (!fields.TryGetValue("Code", out var code) || !fields.TryGetValue("Subcode", out var sub)) continue;
            fields.TryGetValue("Communicated-Reason", out var reason);
            found = FormatNotification(int.Parse(code, CultureInfo.InvariantCulture), int.Parse(sub, CultureInfo.InvariantCulture),
                string.IsNullOrEmpty(reason) ? null : reason);
        }
        return found;
    }

    /// <summary>logrus text fields: key=value or key="quoted value" (backslash escapes).</summary>
    static Dictionary<string, string> LogFields(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && text[i] == ' ') i++;
            int eq = text.IndexOf('=', i);
            if (eq < 0) break;
            var key = text[i..eq];
            i = eq + 1;
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length) i++;
                    value.Append(text[i++]);
                }
                i++;
            }
            else
            {
                while (i < text.Length && text[i] != ' ') value.Append(text[i++]);
            }
            result[key.Trim()] = value.ToString();
        }
        return result;
    }

    // ---------------------------------------------------------------- common

    static readonly Dictionary<int, string> CodeNames = new()
    {
        [1] = "Message Header Error", [2] = "OPEN Message Error", [3] = "UPDATE Message Error", [4] = "Hold Timer Expired",
        [5] = "Finite State Machine Error", [6] = "Cease", [7] = "ROUTE-REFRESH Message Error",
    };

    static readonly Dictionary<(int, int), string> SubcodeNames = new()
    {
        [(1, 1)] = "Connection Not Synchronized", [(1, 2)] = "Bad Message Length", [(1, 3)] = "Bad Message Type",
        [(2, 1)] = "Unsupported Version Number", [(2, 2)] = "Bad Peer AS", [(2, 3)] = "Bad BGP Identifier",
        [(2, 4)] = "Unsupported Optional Parameter", [(2, 5)] = "Authentication Failure", [(2, 6)] = "Unacceptable Hold Time",
        [(2, 7)] = "Unsupported Capability", [(2, 11)] = "Role Mismatch",
        [(3, 1)] = "Malformed Attribute List", [(3, 2)] = "Unrecognized Well-known Attribute", [(3, 3)] = "Missing Well-known Attribute",
        [(3, 4)] = "Attribute Flags Error", [(3, 5)] = "Attribute Length Error", [(3, 6)] = "Invalid ORIGIN Attribute",
        [(3, 7)] = "AS Routing Loop", [(3, 8)] = "Invalid NEXT_HOP Attribute", [(3, 9)] = "Optional Attribute Error",
        [(3, 10)] = "Invalid Network Field", [(3, 11)] = "Malformed AS_PATH",
        [(5, 1)] = "Receive Unexpected Message in OpenSent State", [(5, 2)] = "Receive Unexpected Message in OpenConfirm State",
        [(5, 3)] = "Receive Unexpected Message in Established State",
        [(6, 1)] = "Maximum Number of Prefixes Reached", [(6, 2)] = "Administrative Shutdown", [(6, 3)] = "Peer De-configured",
        [(6, 4)] = "Administrative Reset", [(6, 5)] = "Connection Rejected", [(6, 6)] = "Other Configuration Change",
        [(6, 7)] = "Connection Collision Resolution", [(6, 8)] = "Out of Resources", [(6, 9)] = "Hard Reset", [(6, 10)] = "BFD Down",
        [(7, 1)] = "Invalid Message Length",
    };

    /// <summary>"6/2 Cease/Administrative Shutdown: message" (IANA names).</summary>
    public static string FormatNotification(int code, int subcode, string? detail)
    {
        var name = CodeNames.GetValueOrDefault(code, "Unknown Error Code");
        if (SubcodeNames.TryGetValue((code, subcode), out var sub)) name += "/" + sub;
        var text = $"{code}/{subcode} {name}";
        return detail is null ? text : $"{text}: {detail}";
    }

    public static string CanonicalAddress(string text) =>
        IPAddress.TryParse(text.Trim(), out var a) ? (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString() : text.Trim();

    public static string CanonicalPrefix(string text) =>
        IPNetwork.TryParse(text.Trim(), out var n) ? n.ToString() : text.Trim();

    /// <summary>A prefix for announcing: canonical, host bits clear.</summary>
    public static IPNetwork ParsePrefix(string text)
    {
        var slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var address) || !int.TryParse(text[(slash + 1)..], out int length))
            throw new FormatException($"'{text}' is not a prefix like 198.51.100.0/24");
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (length < 0 || length > max) throw new FormatException($"'{text}': prefix length over {max}");
        var network = new IPNetwork(Mask(address, length), length);
        if (!network.BaseAddress.Equals(address)) throw new FormatException($"'{text}' has host bits set (did you mean {network}?)");
        return network;
    }

    static IPAddress Mask(IPAddress address, int length)
    {
        var bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(length - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    public static uint ParseCommunity(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2 && ushort.TryParse(parts[0], out var hi) && ushort.TryParse(parts[1], out var lo))
            return ((uint)hi << 16) | lo;
        throw new FormatException($"'{text}' is not a community like 65000:100");
    }

    public static (uint Global, uint Data1, uint Data2) ParseLargeCommunity(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 3 && uint.TryParse(parts[0], out var g) && uint.TryParse(parts[1], out var a) && uint.TryParse(parts[2], out var b))
            return (g, a, b);
        throw new FormatException($"'{text}' is not a large community like 4200000001:1:2");
    }

    static IEnumerable<uint> Numbers(string text) =>
        Regex.Matches(text, @"\d+").Select(m => uint.Parse(m.Value, CultureInfo.InvariantCulture));

    static IReadOnlyList<string> SortCommunities(IEnumerable<string> items) =>
        items.OrderBy(c => c.Split(':') is [var a, var b] && uint.TryParse(a, out var x) && uint.TryParse(b, out var y) ? ((ulong)x << 32) | y : ulong.MaxValue)
            .ThenBy(c => c, StringComparer.Ordinal).ToArray();

    static IReadOnlyList<string> SortLarge(IEnumerable<string> items) =>
        items.Select(c => (Text: c, Parts: c.Split(':').Select(p => uint.TryParse(p, out var v) ? v : uint.MaxValue).ToArray()))
            .OrderBy(c => c.Parts.ElementAtOrDefault(0)).ThenBy(c => c.Parts.ElementAtOrDefault(1)).ThenBy(c => c.Parts.ElementAtOrDefault(2))
            .Select(c => c.Text).ToArray();

    static JsonDocument ParseJson(string json) =>
        JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
}

/// <summary>
/// MRT TABLE_DUMP_V2 (RFC 6396) records for <c>gobgp mrt inject global</c>: one PEER_INDEX_TABLE, then
/// one RIB_IPV4_UNICAST / RIB_IPV6_UNICAST record per prefix with a single entry. Attributes: ORIGIN
/// IGP, an empty AS_PATH (GoBGP prepends its own AS towards eBGP peers), NEXT_HOP (IPv4) or a full
/// MP_REACH_NLRI (IPv6: GoBGP's MRT reader decodes it like a BGP attribute, with AFI, SAFI and the
/// NLRI), COMMUNITIES and LARGE_COMMUNITY when given.
/// </summary>
internal static class MrtTableDump
{
    const ushort TableDumpV2 = 13;
    const ushort PeerIndexTable = 1, RibIpv4Unicast = 2, RibIpv6Unicast = 4;

    public static List<byte[]> Encode(IPAddress routerId, IReadOnlyList<IPNetwork> prefixes, IPAddress nextHop4, IPAddress? nextHop6,
        IReadOnlyList<uint> communities, IReadOnlyList<(uint Global, uint Data1, uint Data2)> largeCommunities)
    {
        var records = new List<byte[]>(prefixes.Count + 1);
        // PEER_INDEX_TABLE: collector ID, empty view name, one peer (type 2: AS4, IPv4 address) with AS 0,
        // which gobgp treats as "originated here".
        var peerTable = new List<byte>();
        peerTable.AddRange(routerId.GetAddressBytes());
        peerTable.AddRange([0, 0, 0, 1]);
        peerTable.Add(0x02);
        peerTable.AddRange(routerId.GetAddressBytes());
        peerTable.AddRange(routerId.GetAddressBytes());
        peerTable.AddRange([0, 0, 0, 0]);
        records.Add(Record(PeerIndexTable, peerTable.ToArray()));

        var common = new List<byte>();
        common.AddRange([0x40, 1, 1, 0]);       // ORIGIN IGP
        common.AddRange([0x40, 2, 0]);          // AS_PATH, empty
        if (communities.Count > 0)
        {
            var value = new byte[communities.Count * 4];
            for (int i = 0; i < communities.Count; i++) BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(i * 4), communities[i]);
            common.AddRange(Attribute(0xC0, 8, value));
        }
        if (largeCommunities.Count > 0)
        {
            var value = new byte[largeCommunities.Count * 12];
            for (int i = 0; i < largeCommunities.Count; i++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(i * 12), largeCommunities[i].Global);
                BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(i * 12 + 4), largeCommunities[i].Data1);
                BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(i * 12 + 8), largeCommunities[i].Data2);
            }
            common.AddRange(Attribute(0xC0, 32, value));
        }
        var attrs4 = common.Concat(Attribute(0x40, 3, nextHop4.GetAddressBytes())).ToArray();

        uint sequence = 0;
        foreach (var prefix in prefixes)
        {
            bool v4 = prefix.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
            var nlri = Nlri(prefix);
            byte[] attrs;
            if (v4) attrs = attrs4;
            else
            {
                var hop = nextHop6 ?? throw new ArgumentException("an IPv6 prefix needs an IPv6 next hop");
                var mp = new List<byte> { 0, 2, 1, 16 };  // AFI 2, SAFI 1, next hop length 16
                mp.AddRange(hop.GetAddressBytes());
                mp.Add(0);                                 // reserved
                mp.AddRange(nlri);
                attrs = common.Concat(Attribute(0x80, 14, mp.ToArray())).ToArray();
            }
            var body = new List<byte>(16 + nlri.Length + attrs.Length);
            var seq = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(seq, sequence++);
            body.AddRange(seq);
            body.AddRange(nlri);
            body.AddRange([0, 1]);                       // one entry
            body.AddRange([0, 0]);                       // peer index 0
            body.AddRange([0, 0, 0, 0]);                 // originated time
            body.Add((byte)(attrs.Length >> 8));
            body.Add((byte)attrs.Length);
            body.AddRange(attrs);
            records.Add(Record(v4 ? RibIpv4Unicast : RibIpv6Unicast, body.ToArray()));
        }
        return records;
    }

    static byte[] Nlri(IPNetwork prefix)
    {
        var bytes = prefix.BaseAddress.GetAddressBytes();
        int n = (prefix.PrefixLength + 7) / 8;
        var result = new byte[1 + n];
        result[0] = (byte)prefix.PrefixLength;
        Array.Copy(bytes, 0, result, 1, n);
        return result;
    }

    static byte[] Attribute(byte flags, byte type, byte[] value)
    {
        if (value.Length > 255)
        {
            var ext = new byte[4 + value.Length];
            ext[0] = (byte)(flags | 0x10);
            ext[1] = type;
            BinaryPrimitives.WriteUInt16BigEndian(ext.AsSpan(2), (ushort)value.Length);
            value.CopyTo(ext, 4);
            return ext;
        }
        var a = new byte[3 + value.Length];
        a[0] = flags;
        a[1] = type;
        a[2] = (byte)value.Length;
        value.CopyTo(a, 3);
        return a;
    }

    static byte[] Record(ushort subtype, byte[] body)
    {
        var r = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(4), TableDumpV2);
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(6), subtype);
        BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(8), (uint)body.Length);
        body.CopyTo(r, 12);
        return r;
    }

    /// <summary>Concatenates whole records into chunks of at most <paramref name="limit"/> bytes (a larger record is its own chunk).</summary>
    public static IEnumerable<byte[]> Chunk(IReadOnlyList<byte[]> records, int limit)
    {
        var buffer = new MemoryStream(limit);
        foreach (var r in records)
        {
            if (buffer.Length > 0 && buffer.Length + r.Length > limit)
            {
                yield return buffer.ToArray();
                buffer.SetLength(0);
            }
            buffer.Write(r);
        }
        if (buffer.Length > 0) yield return buffer.ToArray();
    }
}

internal static class FifoNative
{
    [DllImport("libc.so.6", SetLastError = true)]
    static extern int mkfifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    public static void Create(string path)
    {
        if (mkfifo(path, 0x180) != 0) // 0600
            throw new IOException($"mkfifo({path}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
    }
}
