using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Lab;

// Proves BgpRouter against the real daemons: active GoBGP announcers (standing in for the speaker)
// send routes to passive BIRD, FRR and GoBGP routers, which must parse and count them, come back
// after a restart, report the speaker's NOTIFICATION, refuse a wrong TCP-MD5 key and drop the
// session once the hold time runs out on a dead link. GoBGP 3.10 waits 5-9 s before its first
// connection attempt (and again after every reset), so each test starts all its sessions at once and
// checks the daemons side by side; the three lab classes are separate so that xunit runs them in
// parallel. BgpRouterParserTests checks the parsers and the MRT encoder on captured output, without a lab.

/// <summary>Shared set-up of the lab tests: the speaker host at 192.0.2.2 / 2001:db8::2, router hosts, announcers.</summary>
internal static class BgpTestRig
{
    public const uint AnnouncerAs = 4200000001; // 4-octet: AS_TRANS in the OPEN, capability 65 carries it
    public static readonly IPAddress SpeakerV4 = IPAddress.Parse("192.0.2.2");
    public static readonly IPAddress SpeakerV6 = IPAddress.Parse("2001:db8::2");
    public static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(30);

    public sealed record Pair(string Name, BgpRouter Router, BgpRouter Announcer);

    /// <summary>A lab with the speaker host; routers and announcers are disposed before the lab.</summary>
    public sealed class Rig : IDisposable
    {
        public readonly NetLab Lab = NetLab.Create();
        public readonly List<BgpRouter> All = [];
        public LabHost Speaker = null!;

        public void Dispose()
        {
            try
            {
                OnThreads(All.ToArray(), r => r.Dispose());
            }
            finally
            {
                Lab.Dispose();
            }
        }
    }

    public static Rig Create()
    {
        var rig = new Rig();
        try
        {
            rig.Speaker = rig.Lab.AddHost("spk", "02:00:5e:20:00:02", "192.0.2.2/24", "2001:db8::2/64");
            return rig;
        }
        catch
        {
            rig.Dispose();
            throw;
        }
    }

    /// <summary>
    /// For each entry a router host (192.0.2.N, 2001:db8::N) with a passive router, and an active GoBGP
    /// announcer for it on the speaker host (its password may differ). Hosts are made one after the
    /// other, the daemons all at once.
    /// </summary>
    public static List<Pair> AddPairs(Rig rig, params (string Name, int Number, BgpPeerSpec Spec, string? AnnouncerPassword)[] wanted)
    {
        var hosts = wanted.Select(w => rig.Lab.AddHost(w.Name, $"02:00:5e:20:00:{w.Number:x2}", $"192.0.2.{w.Number}/24", $"2001:db8::{w.Number}/64")).ToList();
        var pairs = new Pair?[wanted.Length];
        OnThreads(Enumerable.Range(0, wanted.Length * 2).ToArray(), i =>
        {
            var (name, _, spec, announcerPassword) = wanted[i / 2];
            var host = hosts[i / 2];
            BgpRouter router;
            if (i % 2 == 0)
            {
                router = BgpRouter.Start(rig.Lab, host, spec);
            }
            else
            {
                var announcerSpec = new BgpPeerSpec(BgpDaemon.GoBgp, spec.SpeakerAsn, spec.LocalAsn, host.IPv4!,
                    spec.SpeakerAddressV6 is null ? null : host.IPv6, announcerPassword ?? spec.Password,
                    spec.HoldTimeSeconds, spec.Ipv6) { Active = true };
                router = BgpRouter.Start(rig.Lab, rig.Speaker, announcerSpec);
            }
            lock (rig.All) rig.All.Add(router);
            lock (pairs)
            {
                var p = pairs[i / 2] ?? new Pair(name, null!, null!);
                pairs[i / 2] = i % 2 == 0 ? p with { Router = router } : p with { Announcer = router };
            }
        });
        return pairs.Select(p => p!).ToList();
    }

    public static void WaitEstablished(BgpRouter router, TimeSpan timeout, ITestOutputHelper output)
    {
        var clock = Stopwatch.StartNew();
        foreach (var n in router.Neighbours)
        {
            var left = timeout - clock.Elapsed;
            Assert.True(router.WaitForState("Established", left > TimeSpan.Zero ? left : TimeSpan.Zero, n),
                $"{router} did not reach Established with {n} within {timeout.TotalSeconds:0} s (state {router.SessionState(n)})");
        }
        output.WriteLine($"{router}: Established after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// Runs <paramref name="action"/> for every item at once, each on its own thread (not the thread
    /// pool: the lab's process runner needs pool threads to collect output, and blocking them all
    /// stalls every command by the pool's one-second thread injection). Throws all failures together.
    /// </summary>
    public static void OnThreads<T>(IReadOnlyList<T> items, Action<T> action)
    {
        var failures = new ConcurrentQueue<Exception>();
        var threads = items.Select(item => new Thread(() =>
        {
            try { action(item); } catch (Exception e) { failures.Enqueue(e); }
        }) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (!failures.IsEmpty) throw new AggregateException(failures);
    }
}

/// <summary>Routes with their attributes reach BIRD, FRR and GoBGP (eBGP, iBGP, IPv6 sessions), survive a restart; the Cease is reported.</summary>
public sealed class BgpRouterRoutesTests(ITestOutputHelper output)
{
    static readonly string[] V4Prefixes = ["198.51.100.0/24", "203.0.113.0/25", "203.0.113.128/25"];
    const string V6Prefix = "2001:db8:100::/48";
    static readonly string[] Communities = ["64500:100", "65535:65281"]; // the second is NO_EXPORT
    static readonly string[] LargeCommunities = ["4200000001:1:2"];

    [LabFact("bird", "birdc", "vtysh", "gobgpd", "gobgp", "ss")]
    public void Announced_routes_reach_Bird_Frr_and_GoBgp_with_attributes_and_come_back_after_a_restart()
    {
        var clock = Stopwatch.StartNew();
        using var rig = BgpTestRig.Create();
        var pairs = BgpTestRig.AddPairs(rig,
            // eBGP over IPv4 and IPv6 sessions, learned routes into the kernel
            ("bird", 11, new BgpPeerSpec(BgpDaemon.Bird, 64500, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, BgpTestRig.SpeakerV6) { InstallRoutes = true }, null),
            // eBGP, IPv6 routes over the IPv4 session, kernel too
            ("frr", 12, new BgpPeerSpec(BgpDaemon.Frr, 64501, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4) { InstallRoutes = true }, null),
            // iBGP with a 4-octet AS, two sessions
            ("gobgp", 13, new BgpPeerSpec(BgpDaemon.GoBgp, BgpTestRig.AnnouncerAs, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, BgpTestRig.SpeakerV6), null),
            // a second FRR at the same time (own sockets, PID files), iBGP
            ("frr2", 14, new BgpPeerSpec(BgpDaemon.Frr, BgpTestRig.AnnouncerAs, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4), null),
            // iBGP in BIRD (gateway direct), one session
            ("bird2", 15, new BgpPeerSpec(BgpDaemon.Bird, BgpTestRig.AnnouncerAs, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4), null));
        output.WriteLine($"{pairs.Count} routers and announcers started in {clock.ElapsedMilliseconds} ms: " +
            string.Join(", ", pairs.Select(p => $"{p.Name} {p.Router.LastStartDuration.TotalMilliseconds:0}/{p.Announcer.LastStartDuration.TotalMilliseconds:0} ms")));

        BgpTestRig.OnThreads(pairs, p => p.Announcer.AddRoutesViaGoBgpCli(V4Prefixes.Append(V6Prefix), Communities, LargeCommunities));
        Assert.Equal((3, 1), pairs[0].Announcer.AnnouncedCounts());

        BgpTestRig.OnThreads(pairs, p =>
        {
            BgpTestRig.WaitEstablished(p.Router, BgpTestRig.SessionTimeout, output);
            Assert.True(p.Router.WaitForRouteCount(4, TimeSpan.FromSeconds(10), out var took), $"{p.Router}: {p.Router.RouteCount()} routes, not 4");
            output.WriteLine($"{p.Name}: 4 routes counted {took.TotalMilliseconds:0} ms after Established");
        });
        output.WriteLine($"all sessions up with routes after {clock.Elapsed.TotalSeconds:0.0} s");

        foreach (var p in pairs)
        {
            var routes = p.Router.Routes();
            foreach (var r in routes) output.WriteLine($"{p.Name}: {r}");
            bool ibgp = p.Router.Spec.LocalAsn == p.Router.Spec.SpeakerAsn;
            Assert.Equal(V4Prefixes.Append(V6Prefix), routes.Select(r => r.Prefix));
            foreach (var r in routes)
            {
                Assert.Equal(r.Prefix.Contains(':') ? "2001:db8::2" : "192.0.2.2", r.NextHop);
                Assert.Equal(ibgp ? Array.Empty<uint>() : new[] { BgpTestRig.AnnouncerAs }, r.AsPath);
                Assert.Equal(ibgp ? 100u : null, r.LocalPref);
                Assert.Equal(Communities, r.Communities);
                Assert.Equal(LargeCommunities, r.LargeCommunities);
            }
            Assert.Null(p.Router.LastNotificationFromSpeaker());
        }

        // InstallRoutes: BIRD's kernel protocol and FRR's zebra put them into the namespace's table;
        // without it (bgpd -n) nothing is installed.
        foreach (var (name, expected) in new[] { ("bird", true), ("frr", true), ("frr2", false) })
        {
            var host = pairs.Single(p => p.Name == name).Router.Host;
            var v4 = rig.Lab.Exec(host, "ip", "-4", "route", "show", "198.51.100.0/24").EnsureSuccess().StdOut;
            var v6 = rig.Lab.Exec(host, "ip", "-6", "route", "show", V6Prefix).EnsureSuccess().StdOut;
            output.WriteLine($"{name} kernel: {v4.Trim()} | {v6.Trim()}");
            Assert.Equal(expected, v4.Contains("via 192.0.2.2"));
            Assert.Equal(expected, v6.Contains("via 2001:db8::2"));
        }

        // Restart every router; the announcers reconnect (GoBGP: idle hold 1 s, then 5-9 s).
        var restart = Stopwatch.StartNew();
        BgpTestRig.OnThreads(pairs, p =>
        {
            var pidsBefore = p.Router.Processes.Select(x => x.Pid).ToArray();
            p.Router.Restart();
            Assert.Empty(p.Router.Processes.Select(x => x.Pid).Intersect(pidsBefore));
            BgpTestRig.WaitEstablished(p.Router, BgpTestRig.SessionTimeout, output);
            Assert.True(p.Router.WaitForRouteCount(4, TimeSpan.FromSeconds(10), out _), $"{p.Router} after restart: {p.Router.RouteCount()} routes");
            Assert.Equal(V4Prefixes.Append(V6Prefix), p.Router.Routes().Select(r => r.Prefix));
        });
        output.WriteLine($"restarted routers back with routes after {restart.Elapsed.TotalSeconds:0.0} s");

        // The announcers close with Cease/Administrative Shutdown and an RFC 8203 message.
        BgpTestRig.OnThreads(pairs, p =>
        {
            p.Announcer.ShutdownSessionsViaGoBgpCli("maintenance window");
            var wait = Stopwatch.StartNew();
            string? seen;
            while ((seen = p.Router.LastNotificationFromSpeaker()) is null && wait.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(50);
            output.WriteLine($"{p.Name}: last notification: {seen}");
            Assert.Equal("6/2 Cease/Administrative Shutdown: maintenance window", seen);
            Assert.NotEqual("Established", p.Router.SessionState());
        });
        output.WriteLine($"test took {clock.Elapsed.TotalSeconds:0.0} s");
    }
}

/// <summary>TCP MD5: the right key brings the session up, a wrong one keeps it down, for each daemon.</summary>
public sealed class BgpRouterPasswordTests(ITestOutputHelper output)
{
    [LabFact("bird", "birdc", "vtysh", "gobgpd", "gobgp", "ss")]
    public void A_wrong_TCP_MD5_password_keeps_the_session_down_while_the_right_one_comes_up()
    {
        var clock = Stopwatch.StartNew();
        using var rig = BgpTestRig.Create();
        const string Key = "s3cret-Key";
        var pairs = BgpTestRig.AddPairs(rig,
            ("bird-ok", 21, new BgpPeerSpec(BgpDaemon.Bird, 64521, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, Password: Key), null),
            ("bird-bad", 22, new BgpPeerSpec(BgpDaemon.Bird, 64522, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, Password: Key), "wrong-Key"),
            ("frr-ok", 23, new BgpPeerSpec(BgpDaemon.Frr, 64523, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, Password: Key), null),
            ("frr-bad", 24, new BgpPeerSpec(BgpDaemon.Frr, 64524, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, Password: Key), "wrong-Key"),
            ("gobgp-ok", 25, new BgpPeerSpec(BgpDaemon.GoBgp, 64525, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, Password: Key), null),
            ("gobgp-bad", 26, new BgpPeerSpec(BgpDaemon.GoBgp, 64526, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, Password: Key), "wrong-Key"));
        var started = Stopwatch.StartNew();
        BgpTestRig.OnThreads(pairs, p => p.Announcer.AddRoutesViaGoBgpCli(["198.51.100.0/24"]));

        BgpTestRig.OnThreads(pairs.Where(p => p.Name.EndsWith("-ok")).ToList(), p =>
        {
            BgpTestRig.WaitEstablished(p.Router, BgpTestRig.SessionTimeout, output);
            Assert.True(p.Router.WaitForRouteCount(1, TimeSpan.FromSeconds(10), out _));
        });
        // GoBGP's first attempt comes 5-9 s after start: past 10 s every announcer has tried.
        var wait = TimeSpan.FromSeconds(10.5) - started.Elapsed;
        if (wait > TimeSpan.Zero) Thread.Sleep(wait);
        foreach (var p in pairs.Where(p => p.Name.EndsWith("-bad")))
        {
            var state = p.Router.SessionState();
            output.WriteLine($"{p.Name}: router {state}, announcer {p.Announcer.SessionState()} after {started.Elapsed.TotalSeconds:0.0} s");
            Assert.NotEqual("Established", state);
            Assert.NotEqual("Established", p.Announcer.SessionState());
            Assert.Equal(0, p.Router.RouteCount());
        }
        output.WriteLine($"test took {clock.Elapsed.TotalSeconds:0.0} s");
    }
}

/// <summary>10,000 routes through the MRT injection, then the hold timer (3 s) on a dead link.</summary>
public sealed class BgpRouterHoldTimeTests(ITestOutputHelper output)
{
    [LabFact("bird", "birdc", "vtysh", "gobgpd", "gobgp", "ss")]
    public void Ten_thousand_routes_arrive_and_a_dead_link_drops_the_session_after_the_hold_time()
    {
        var clock = Stopwatch.StartNew();
        using var rig = BgpTestRig.Create();
        var pairs = BgpTestRig.AddPairs(rig,
            ("bird", 31, new BgpPeerSpec(BgpDaemon.Bird, 64531, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, HoldTimeSeconds: 3, Ipv6: false), null),
            ("frr", 32, new BgpPeerSpec(BgpDaemon.Frr, 64532, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, HoldTimeSeconds: 3, Ipv6: false), null),
            ("gobgp", 33, new BgpPeerSpec(BgpDaemon.GoBgp, 64533, BgpTestRig.AnnouncerAs, BgpTestRig.SpeakerV4, HoldTimeSeconds: 3, Ipv6: false), null));
        BgpTestRig.OnThreads(pairs, p => BgpTestRig.WaitEstablished(p.Router, BgpTestRig.SessionTimeout, output));

        // 10,000 /32s (in 10.0.0.0/8: BGP tables only, installed nowhere).
        var prefixes = Enumerable.Range(0, 10_000).Select(i => $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32").ToArray();
        BgpTestRig.OnThreads(pairs, p =>
        {
            var add = Stopwatch.StartNew();
            p.Announcer.AddRoutesViaGoBgpCli(prefixes);
            var injected = add.Elapsed;
            Assert.True(p.Router.WaitForRouteCount(10_000, TimeSpan.FromSeconds(30), out var more), $"{p.Router}: {p.Router.RouteCount()} of 10000");
            output.WriteLine($"{p.Name}: 10,000 routes injected into gobgpd in {injected.TotalMilliseconds:0} ms, all counted by the router {more.TotalMilliseconds:0} ms later");
            Assert.Equal(10_000, p.Router.RouteCount());
        });

        // Pull the speaker's cable: no more keepalives; each router gives up after its hold time (3 s).
        rig.Lab.SetLinkDown(rig.Speaker);
        var down = Stopwatch.StartNew();
        BgpTestRig.OnThreads(pairs, p =>
        {
            while (p.Router.SessionState() == "Established" && down.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(20);
            var took = down.Elapsed;
            output.WriteLine($"{p.Name}: left Established {took.TotalSeconds:0.00} s after the link went down (now {p.Router.SessionState()})");
            Assert.NotEqual("Established", p.Router.SessionState());
            // The hold time counts from the last keepalive, which came up to one keepalive interval (1 s, later under a
            // loaded CI machine: 1.73 s was seen) before the cut; BIRD needs about 5.3 s. Well above 0: not a reset.
            Assert.InRange(took.TotalSeconds, 1.0, 9.0);
        });
        output.WriteLine($"test took {clock.Elapsed.TotalSeconds:0.0} s");
    }
}

/// <summary>The parsers on output captured from BIRD 2.0.12, FRR 8.4.4 and GoBGP 3.10.0, and the MRT encoder; no lab needed.</summary>
public sealed class BgpRouterParserTests
{
    static string Lines(params string[] lines) => string.Join('\n', lines) + '\n';

    [Fact]
    public void Bird_protocols_give_state_imported_routes_and_last_error()
    {
        var text = Lines(
            "BIRD 2.0.12 ready.",
            "Name       Proto      Table      State  Since         Info",
            "speaker4   BGP        ---        up     16:25:09.561  Established   ",
            "  BGP state:          Established",
            "    Neighbor address: 192.0.2.2",
            "  Channel ipv4",
            "    State:          UP",
            "    Routes:         3 imported, 0 exported, 3 preferred",
            "    Route change stats:     received   rejected   filtered    ignored   accepted",
            "  Channel ipv6",
            "    Routes:         1 imported, 0 exported, 1 preferred",
            "",
            "speaker6   BGP        ---        start  16:25:14.117  Passive       Received: Administrative shutdown",
            "  BGP state:          Passive",
            "    Neighbor address: 2001:db8::2",
            "    Last error:       Received: Administrative shutdown");
        var p = BgpParsers.ParseBirdProtocols(text);
        Assert.Equal(["speaker4", "speaker6"], p.Keys.Order());
        Assert.Equal("Established", BgpParsers.NormaliseState(p["speaker4"].State));
        Assert.Equal(4, p["speaker4"].ImportedRoutes);
        Assert.Null(p["speaker4"].LastError);
        Assert.Equal("Active", BgpParsers.NormaliseState(p["speaker6"].State));
        Assert.Equal(0, p["speaker6"].ImportedRoutes);
        Assert.Equal("Received: Administrative shutdown", p["speaker6"].LastError);
    }

    [Fact]
    public void Bird_routes_with_continued_community_lines_and_a_second_route_per_prefix()
    {
        var text = Lines(
            "BIRD 2.0.12 ready.",
            "Table master4:",
            "198.51.100.0/24      unicast [speaker4 16:25:09.561] * (100) [AS4200000001i]",
            "\tvia 192.0.2.2 on eth0",
            "\tType: BGP univ",
            "\tBGP.origin: IGP",
            "\tBGP.as_path: 4200000001 64500 {64501 64502}",
            "\tBGP.next_hop: 192.0.2.2",
            "\tBGP.local_pref: 100",
            "\tBGP.community: (64500,1) (64500,2) (65535,65281)",
            "\t\t(64500,44) (64500,3)",
            "\tBGP.large_community: (4200000001, 1, 2) (1, 2, 3)",
            "                     unicast [speaker4b 16:25:10.000] (100) [AS64999i]",
            "\tvia 192.0.2.3 on eth0",
            "\tBGP.as_path: 64999",
            "\tBGP.next_hop: 192.0.2.3",
            "\tBGP.local_pref: 200",
            "",
            "Table master6:",
            "2001:db8:100::/48    unicast [speaker6 16:25:10.557 from 2001:db8::2] * (100) [AS4200000001i]",
            "\tvia 2001:db8::2 on eth0",
            "\tBGP.as_path: ",
            "\tBGP.next_hop: 2001:db8::2 fe80::5eff:fe30:1",
            "\tBGP.local_pref: 150");
        var ebgp = BgpParsers.ParseBirdRoutes(text, internalSession: false);
        Assert.Equal(3, ebgp.Count);
        var first = ebgp[0];
        Assert.Equal("198.51.100.0/24", first.Prefix);
        Assert.Equal("192.0.2.2", first.NextHop);
        Assert.Equal([4200000001u, 64500, 64501, 64502], first.AsPath);
        Assert.Null(first.LocalPref); // BIRD's own default on eBGP is not reported
        Assert.Equal(["64500:1", "64500:2", "64500:3", "64500:44", "65535:65281"], first.Communities);
        Assert.Equal(["1:2:3", "4200000001:1:2"], first.LargeCommunities);
        Assert.Equal(("198.51.100.0/24", "192.0.2.3"), (ebgp[1].Prefix, ebgp[1].NextHop));
        Assert.Equal(("2001:db8:100::/48", "2001:db8::2"), (ebgp[2].Prefix, ebgp[2].NextHop));
        Assert.Empty(ebgp[2].AsPath);

        var ibgp = BgpParsers.ParseBirdRoutes(text, internalSession: true);
        Assert.Equal([100u, 200u, 150u], ibgp.Select(r => r.LocalPref!.Value));
    }

    [Fact]
    public void Bird_notifications_from_the_log_and_from_last_error()
    {
        var log = Lines(
            "2026-11-25 16:25:03.508 <INFO> Started",
            "2026-11-25 16:25:04.000 <RMT> speaker4: Received: Hold timer expired",
            "2026-11-25 16:25:14.107 <RMT> speaker4: Received: Administrative shutdown: \"bye now\"",
            "2026-11-25 16:25:15.000 <RMT> other: Received: Administrative reset",
            "2026-11-25 16:25:16.000 <RMT> speaker4: Invalid route 2001:db8:200::/48 withdrawn");
        Assert.Equal("6/2 Cease/Administrative Shutdown: bye now", BgpParsers.LastBirdNotification(log, ["speaker4", "speaker6"]));
        Assert.Null(BgpParsers.LastBirdNotification(log, ["speaker6"]));
        Assert.Equal("4/0 Hold Timer Expired", BgpParsers.FormatBirdError("Hold timer expired"));
        Assert.Equal("2/2 OPEN Message Error/Bad Peer AS: 65000", BgpParsers.FormatBirdError("Bad peer AS: 65000"));
        Assert.Equal("6/0 Cease", BgpParsers.FormatBirdError("Cease"));
        Assert.Equal("6/9 Cease/Hard Reset", BgpParsers.FormatBirdError("Unknown error 6.9"));
        Assert.Equal("3/1 UPDATE Message Error/Malformed Attribute List: 0102", BgpParsers.FormatBirdError("Malformed attribute list: 0102"));
    }

    const string FrrSummary = """
        {
        "ipv4Unicast":{ "routerId":"192.0.2.51", "as":64500, "peers":{ "192.0.2.2":{ "remoteAs":4200000001, "pfxRcd":3, "pfxSnt":0, "state":"Established" } } }
        ,
        "ipv6Unicast":{ "routerId":"192.0.2.51", "as":64500, "peers":{ "192.0.2.2":{ "pfxRcd":1, "state":"Established" }, "2001:db8::2":{ "pfxRcd":2 } } }
        }
        """;

    [Fact]
    public void Frr_summary_counts_sum_the_families()
    {
        var counts = BgpParsers.ParseFrrSummaryCounts(FrrSummary);
        Assert.Equal(4, counts["192.0.2.2"]);
        Assert.Equal(2, counts["2001:db8::2"]);
    }

    [Fact]
    public void Frr_detail_json_routes_skip_the_prefix_header_and_other_peers()
    {
        var json = """
            {
             "vrfId": 0, "routerId": "192.0.2.51", "defaultLocPrf": 100, "localAS": 64500,
             "routes": { "2001:db8:100::/48": [{"prefix":"2001:db8:100::/48","version":1},{"aspath":{"string":"4200000001","segments":[{"type":"as-sequence","list":[4200000001]}],"length":1},"origin":"IGP","valid":true,"community":{"string":"64500:1 no-export","list":["64500:1","noExport"]},"largeCommunity":{"string":"1:2:3 4200000001:1:2","list":["1:2:3","4200000001:1:2"]},"lastUpdate":{"epoch":1795623912,"string":"Wed Nov 25 16:25:12 2026\n"},"nexthops":[{"ip":"fe80::1","afi":"ipv6","scope":"link-local"},{"ip":"2001:db8::2","hostname":"vm","afi":"ipv6","scope":"global","used":true}],"peer":{"peerId":"192.0.2.2","routerId":"192.0.2.2","type":"external"}},{"aspath":{"string":"Local","segments":[],"length":0},"locPrf":100,"nexthops":[{"ip":"192.0.2.9","afi":"ipv4"}],"peer":{"peerId":"192.0.2.9"}}]
            ,"198.51.100.0/24": [{"prefix":"198.51.100.0/24"},{"aspath":{"string":"Local","segments":[],"length":0},"locPrf":150,"nexthops":[{"ip":"192.0.2.2","afi":"ipv4","used":true}],"peer":{"peerId":"192.0.2.2","type":"internal"}}]
             }  }
            """;
        var routes = BgpParsers.ParseFrrRoutes(json, new HashSet<string> { "192.0.2.2" });
        Assert.Equal(2, routes.Count);
        var v6 = routes.Single(r => r.Prefix == "2001:db8:100::/48");
        Assert.Equal("2001:db8::2", v6.NextHop);
        Assert.Equal([4200000001u], v6.AsPath);
        Assert.Null(v6.LocalPref);
        Assert.Equal(["64500:1", "65535:65281"], v6.Communities);
        Assert.Equal(["1:2:3", "4200000001:1:2"], v6.LargeCommunities);
        var v4 = routes.Single(r => r.Prefix == "198.51.100.0/24");
        Assert.Equal((150u, "192.0.2.2"), (v4.LocalPref!.Value, v4.NextHop));
        Assert.Empty(v4.AsPath);
    }

    [Fact]
    public void Frr_neighbours_report_state_and_only_a_received_notification()
    {
        var json = """
            {
              "192.0.2.2":{ "remoteAs":4200000001, "bgpState":"Idle", "lastResetTimerMsecs":1000, "lastErrorCodeSubcode":"0602",
                "lastNotificationReason":"Cease/Administrative Shutdown", "lastShutdownDescription":"bye now", "lastResetDueTo":"BGP Notification received" },
              "192.0.2.3":{ "bgpState":"Established", "lastErrorCodeSubcode":"0400", "lastResetDueTo":"BGP Notification send" },
              "2001:db8::2":{ "bgpState":"Clearing", "lastErrorCodeSubcode":"0400", "lastResetDueTo":"BGP Notification received" }
            }
            """;
        var n = BgpParsers.ParseFrrNeighbours(json);
        Assert.Equal("Idle", n["192.0.2.2"].State);
        Assert.Equal("6/2 Cease/Administrative Shutdown: bye now", n["192.0.2.2"].ReceivedNotification);
        Assert.Equal(1000, n["192.0.2.2"].LastResetMilliseconds);
        Assert.Null(n["192.0.2.3"].ReceivedNotification);
        Assert.Equal("4/0 Hold Timer Expired", n["2001:db8::2"].ReceivedNotification);
        Assert.Equal("Idle", BgpParsers.NormaliseState(n["2001:db8::2"].State));
    }

    [Fact]
    public void GoBgp_neighbours_rib_and_notification_log()
    {
        var neighbours = BgpParsers.ParseGoBgpNeighbours("""
            [{"conf":{"local_asn":64500,"neighbor_address":"192.0.2.2","peer_asn":4200000001,"type":1},"state":{"neighbor_address":"192.0.2.2","peer_asn":4200000001,"session_state":6},
              "afi_safis":[{"config":{"family":{"afi":1,"safi":1},"enabled":true},"state":{"family":{"afi":1,"safi":1},"enabled":true,"received":3,"accepted":3}},
                           {"config":{"family":{"afi":2,"safi":1},"enabled":true},"state":{"family":{"afi":2,"safi":1},"enabled":true}}]},
             {"conf":{"neighbor_address":"2001:db8::2"},"state":{"neighbor_address":"2001:db8::2","session_state":3},"afi_safis":[]}]
            """);
        Assert.Equal(("Established", 3), (neighbours["192.0.2.2"].State, neighbours["192.0.2.2"].Accepted));
        Assert.Equal(("Active", 0), (neighbours["2001:db8::2"].State, neighbours["2001:db8::2"].Accepted));

        var rib = BgpParsers.ParseGoBgpRib("""
            {"2001:db8:100::/48":[{"nlri":{"prefix":"2001:db8:100::/48"},"age":1795623912,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[4200000001]}]},{"type":8,"communities":[4227072001,4294967041]},{"type":32,"value":[{"ASN":4200000001,"LocalData1":1,"LocalData2":2},{"ASN":1,"LocalData1":2,"LocalData2":3}]},{"type":14,"nexthop":"2001:db8::2","afi":2,"safi":1,"value":[{"prefix":"2001:db8:100::/48"}]}],"stale":false,"source-id":"192.0.2.2","neighbor-ip":"2001:db8::2"}],
             "198.51.100.0/24":[{"nlri":{"prefix":"198.51.100.0/24"},"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[]},{"type":3,"nexthop":"192.0.2.2"},{"type":5,"value":100}],"neighbor-ip":"192.0.2.2"},
                                {"nlri":{"prefix":"198.51.100.0/24"},"attrs":[{"type":3,"nexthop":"192.0.2.9"}],"neighbor-ip":"192.0.2.9"}]}
            """, new HashSet<string> { "192.0.2.2", "2001:db8::2" });
        Assert.Equal(2, rib.Count);
        var v6 = rib.Single(r => r.Prefix == "2001:db8:100::/48");
        Assert.Equal(("2001:db8::2", (uint?)null), (v6.NextHop, v6.LocalPref));
        Assert.Equal([4200000001u], v6.AsPath);
        Assert.Equal(["64500:1", "65535:65281"], v6.Communities);
        Assert.Equal(["1:2:3", "4200000001:1:2"], v6.LargeCommunities);
        var v4 = rib.Single(r => r.Prefix == "198.51.100.0/24");
        Assert.Equal(("192.0.2.2", (uint?)100), (v4.NextHop, v4.LocalPref));
        Assert.Empty(BgpParsers.ParseGoBgpRib("{}", new HashSet<string>()));
        Assert.Empty(BgpParsers.ParseGoBgpRib("null", new HashSet<string>()));

        var log = Lines(
            "time=\"2026-11-25T16:25:12Z\" level=info msg=\"Peer Up\" Key=\"2001:db8::2\" State=BGP_FSM_OPENCONFIRM Topic=Peer",
            "time=\"2026-11-25T16:25:13Z\" level=warning msg=\"received notification\" Code=6 Communicated-Reason= Data=\"[]\" Key=192.0.2.2 Subcode=2 Topic=Peer",
            "time=\"2026-11-25T16:25:14Z\" level=warning msg=\"received notification\" Code=6 Communicated-Reason=\"bye \\\"now\\\"\" Data=\"[]\" Key=\"2001:db8::2\" Subcode=2 Topic=Peer",
            "time=\"2026-11-25T16:25:15Z\" level=warning msg=\"received notification\" Code=4 Communicated-Reason= Data=\"[]\" Key=192.0.2.9 Subcode=0 Topic=Peer");
        Assert.Equal("6/2 Cease/Administrative Shutdown: bye \"now\"", BgpParsers.LastGoBgpNotification(log, ["192.0.2.2", "2001:db8::2"]));
        Assert.Equal("6/2 Cease/Administrative Shutdown", BgpParsers.LastGoBgpNotification(log, ["192.0.2.2"]));
        Assert.Null(BgpParsers.LastGoBgpNotification(log, ["192.0.2.7"]));
        Assert.Equal(99221, BgpParsers.ParseGoBgpRibSummary("Table afi:AFI_IP safi:SAFI_UNICAST\nDestination: 99221, Path: 99221\n"));
    }

    [Fact]
    public void States_map_to_the_RFC_names()
    {
        foreach (var (raw, want) in new[] { ("1", "Idle"), ("3", "Active"), ("6", "Established"), ("ESTABLISHED", "Established"),
                     ("Passive", "Active"), ("Down", "Idle"), ("OpenSent", "OpenSent"), ("openconfirm", "OpenConfirm"), ("Connect", "Connect") })
            Assert.Equal(want, BgpParsers.NormaliseState(raw));
    }

    [Fact]
    public void Mrt_records_for_an_IPv4_and_an_IPv6_prefix()
    {
        var records = MrtTableDump.Encode(IPAddress.Parse("192.0.2.2"),
            [BgpParsers.ParsePrefix("198.51.100.0/24"), BgpParsers.ParsePrefix("2001:db8:100::/48")],
            IPAddress.Parse("192.0.2.2"), IPAddress.Parse("2001:db8::2"),
            [BgpParsers.ParseCommunity("64500:100")], [BgpParsers.ParseLargeCommunity("4200000001:1:2")]);
        Assert.Equal(3, records.Count);
        // PEER_INDEX_TABLE: type 13 subtype 1; collector 192.0.2.2, no view name, one AS4/IPv4 peer with AS 0.
        Assert.Equal(Convert.FromHexString("00000000" + "000D" + "0001" + "00000015" + "C0000202" + "0000" + "0001" + "02" + "C0000202" + "C0000202" + "00000000"), records[0]);
        // RIB_IPV4_UNICAST: sequence 0, /24 198.51.100, one entry: peer 0, time 0, attributes.
        var attrs4 = "40010100" + "400200" + "C00804FBF40064" + "C0200C" + "FA56EA01" + "00000001" + "00000002" + "400304C0000202";
        var body4 = "00000000" + "18C63364" + "0001" + "0000" + "00000000" + (attrs4.Length / 2).ToString("X4") + attrs4;
        Assert.Equal(Convert.FromHexString("00000000" + "000D" + "0002" + (body4.Length / 2).ToString("X8") + body4), records[1]);
        // RIB_IPV6_UNICAST: MP_REACH_NLRI with AFI 2, SAFI 1, the 16-byte next hop and the NLRI.
        var mp = "0002" + "01" + "10" + "20010DB8000000000000000000000002" + "00" + "30" + "20010DB80100";
        var attrs6 = "40010100" + "400200" + "C00804FBF40064" + "C0200C" + "FA56EA01" + "00000001" + "00000002" + "800E" + (mp.Length / 2).ToString("X2") + mp;
        var body6 = "00000001" + "30" + "20010DB80100" + "0001" + "0000" + "00000000" + (attrs6.Length / 2).ToString("X4") + attrs6;
        Assert.Equal(Convert.FromHexString("00000000" + "000D" + "0004" + (body6.Length / 2).ToString("X8") + body6), records[2]);
    }

    [Fact]
    public void Mrt_chunks_hold_whole_records_up_to_the_pipe_limit()
    {
        var prefixes = Enumerable.Range(0, 1000).Select(i => BgpParsers.ParsePrefix($"10.0.{i >> 8}.{i & 255}/32")).ToList();
        var many = Enumerable.Range(1, 100).Select(i => (uint)(64500 << 16 | i)).ToArray(); // 400 bytes: extended length
        var records = MrtTableDump.Encode(IPAddress.Parse("192.0.2.2"), prefixes, IPAddress.Parse("192.0.2.2"), null, many, []);
        Assert.Equal(0xD0, records[1][12 + 4 + 1 + 4 + 2 + 2 + 4 + 2 + 4 + 3]); // flags of COMMUNITIES after ORIGIN and AS_PATH
        var chunks = MrtTableDump.Chunk(records, 4096).ToList();
        Assert.All(chunks, c => Assert.InRange(c.Length, 1, 4096));
        Assert.Equal(records.SelectMany(r => r), chunks.SelectMany(c => c));
        // Every chunk starts at a record boundary: walking the MRT lengths inside each chunk ends exactly at its end.
        foreach (var c in chunks)
        {
            int pos = 0;
            while (pos < c.Length) pos += 12 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(c.AsSpan(pos + 8));
            Assert.Equal(c.Length, pos);
        }
    }

    [Fact]
    public void Prefixes_and_communities_are_checked()
    {
        Assert.Equal("2001:db8:1::/48", BgpParsers.ParsePrefix("2001:db8:1:0::/48").ToString());
        Assert.Throws<FormatException>(() => BgpParsers.ParsePrefix("198.51.100.1/24"));
        Assert.Throws<FormatException>(() => BgpParsers.ParsePrefix("198.51.100.0/33"));
        Assert.Throws<FormatException>(() => BgpParsers.ParsePrefix("198.51.100.0"));
        Assert.Equal(0xFFFFFF01u, BgpParsers.ParseCommunity("65535:65281"));
        Assert.Throws<FormatException>(() => BgpParsers.ParseCommunity("65536:1"));
        Assert.Equal((4200000001u, 1u, 2u), BgpParsers.ParseLargeCommunity("4200000001:1:2"));
        Assert.Throws<FormatException>(() => BgpParsers.ParseLargeCommunity("1:2"));
        Assert.Equal("192.0.2.2", BgpParsers.CanonicalAddress("::ffff:192.0.2.2"));
    }

    [Fact]
    public void Specs_the_daemons_would_refuse_are_refused_before_anything_starts()
    {
        var host = new LabHost("h", "kl000000-h", isRouter: false);
        var eth0 = new LabInterface("eth0", "kl000000-br0", "p0-h", "02:00:5e:20:00:99");
        eth0.Add("192.0.2.99/24");
        host.InterfaceList.Add(eth0);
        var speaker = IPAddress.Parse("192.0.2.2");
        var cases = new (BgpPeerSpec Spec, Type Error)[]
        {
            (new(BgpDaemon.Bird, 64500, 64512, speaker, Password: "with space"), typeof(ArgumentException)),
            (new(BgpDaemon.Frr, 64500, 64512, speaker, Password: "quo\"te"), typeof(ArgumentException)),
            (new(BgpDaemon.Bird, 64500, 64512, speaker, HoldTimeSeconds: 2), typeof(ArgumentException)),
            (new(BgpDaemon.GoBgp, 64500, 64512, speaker, HoldTimeSeconds: 0), typeof(NotSupportedException)),
            (new(BgpDaemon.Bird, 64500, 64512, speaker) { Active = true }, typeof(NotSupportedException)),
            (new(BgpDaemon.GoBgp, 64500, 64512, speaker) { InstallRoutes = true }, typeof(NotSupportedException)),
            (new(BgpDaemon.Frr, 64500, 64512, IPAddress.Parse("2001:db8::2")), typeof(ArgumentException)),
            (new(BgpDaemon.Frr, 64500, 64512, speaker, IPAddress.Parse("2001:db8::2"), Ipv6: false), typeof(ArgumentException)),
            (new(BgpDaemon.Frr, 64500, 64512, speaker, IPAddress.Parse("2001:db8::2")), typeof(ArgumentException)), // host has no IPv6
            (new(BgpDaemon.Frr, 23456, 64512, speaker), typeof(ArgumentException)),
        };
        foreach (var (spec, error) in cases)
            Assert.Throws(error, () => BgpRouter.Validate(host, spec));
        Assert.Single(BgpRouter.Validate(host, new BgpPeerSpec(BgpDaemon.Frr, 64500, 64512, speaker, Password: "s3cret-Key")));
    }
}
