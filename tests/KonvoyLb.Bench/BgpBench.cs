using System.Diagnostics;
using System.Net;
using System.Text;
using KonvoyLb.Engine.Runtime.Bgp;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Bench;

/// <summary>
/// Announcing 10,000 and 100,000 /32 prefixes to BIRD: the time from the session starting until BIRD
/// holds all of them, for KonvoyLb's BGP session and for GoBGP announcing the same prefixes to the same
/// BIRD in the same run. Then the time a silent peer (link frozen) takes to be declared down with a
/// 3 s hold time.
/// </summary>
static class BgpBench
{
    /// <summary>
    /// From BIRD's own timestamps (millisecond precision): when the session became Established, and when
    /// the last route of it was imported. Polling from outside would add its own latency to both sides.
    /// </summary>
    static double BirdImportTime(BgpRouter bird)
    {
        string Birdc(params string[] command)
        {
            var psi = new ProcessStartInfo("birdc") { RedirectStandardOutput = true };
            foreach (var a in new[] { "-s", Path.Combine(bird.Directory, "bird.ctl") }.Concat(command)) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return output;
        }
        var protocol = BgpRouter.BirdProtocolV4;
        var since = System.Text.RegularExpressions.Regex.Match(Birdc("show", "protocols", protocol), $@"{protocol}\s+BGP\s+\S+\s+up\s+(\d\d:\d\d:\d\d\.\d+)");
        var imported = System.Text.RegularExpressions.Regex.Matches(Birdc("show", "route", "protocol", protocol), $@"\[{protocol} (\d\d:\d\d:\d\d\.\d+)")
            .Select(m => TimeSpan.Parse(m.Groups[1].Value)).Max();
        return (imported - TimeSpan.Parse(since.Groups[1].Value)).TotalSeconds;
    }

    static double Median(IEnumerable<double> values) { var v = values.Order().ToArray(); return v[v.Length / 2]; }

    /// <summary>One run of each announcer with <paramref name="count"/> /32s, each to a fresh BIRD.</summary>
    static (double Ours, double Theirs) Announce(NetLab lab, LabHost speaker, LabHost gobgpHost, LabHost birdHost, int count)
    {
        var prefixes = Enumerable.Range(0, count).Select(i => new BgpPrefix(new IPAddress(BitConverter.GetBytes(0x0A000000u + (uint)i).Reverse().ToArray()), 32)).ToList();
        double ours, theirs;
        // KonvoyLb: a fresh BIRD, routes wanted before the session starts.
        using (var bird = BgpRouter.Start(lab, birdHost, new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, IPAddress.Parse("192.0.2.20"), Ipv6: false)))
        {
            var session = new BgpSession(new BgpPeerSettings
            {
                PeerAddress = IPAddress.Parse("192.0.2.11"), MyAsn = 64512, PeerAsn = 64500, RouterId = IPAddress.Parse("192.0.2.20"),
                InNetworkNamespace = work => lab.RunIn(speaker, work),
            });
            session.SetRoutes(prefixes.Select(p => new BgpRoute(p)));
            session.StartAsync().GetAwaiter().GetResult();
            if (!bird.WaitForRouteCount(count, TimeSpan.FromMinutes(3), out _)) throw new TimeoutException($"BIRD got {bird.RouteCount()} of {count} from KonvoyLb");
            ours = BirdImportTime(bird);
            session.StopAsync().GetAwaiter().GetResult();
        }
        // GoBGP: the same prefixes in its RIB while its session is shut, then the session is enabled.
        using (var bird = BgpRouter.Start(lab, birdHost, new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, IPAddress.Parse("192.0.2.21"), Ipv6: false)))
        using (var gobgp = BgpRouter.Start(lab, gobgpHost, new BgpPeerSpec(BgpDaemon.GoBgp, 64512, 64500, IPAddress.Parse("192.0.2.11"), Ipv6: false) { Active = true }))
        {
            gobgp.ShutdownSessionsViaGoBgpCli();
            gobgp.AddRoutesViaGoBgpCli(prefixes.Select(p => p.ToString()));
            gobgp.EnableSessionsViaGoBgpCli();
            // GoBGP dials only after its connect-retry timer: BIRD's clock times the announcing, not that wait.
            if (!bird.WaitForRouteCount(count, TimeSpan.FromMinutes(3), out _)) throw new TimeoutException($"BIRD got {bird.RouteCount()} of {count} from GoBGP");
            theirs = BirdImportTime(bird);
        }
        return (ours, theirs);
    }

    public static string Run()
    {
        using var lab = NetLab.Create();
        var speaker = lab.AddHost("spk", "02:00:00:00:00:20", "192.0.2.20/24");
        var gobgpHost = lab.AddHost("gob", "02:00:00:00:00:21", "192.0.2.21/24");
        var birdHost = lab.AddHost("bird", "02:00:00:00:00:11", "192.0.2.11/24");
        var sb = new StringBuilder();
        sb.AppendLine("| /32 prefixes announced to BIRD 2 (BIRD's own clock: session Established to the last route imported) | KonvoyLb (s) | GoBGP 3 (s) |");
        sb.AppendLine("|---|---:|---:|");
        Announce(lab, speaker, gobgpHost, birdHost, 1_000); // warm-up: JIT and page cache, not reported
        foreach (int count in new[] { 10_000, 100_000 })
        {
            var runs = Enumerable.Range(0, 3).Select(_ => Announce(lab, speaker, gobgpHost, birdHost, count)).ToList();
            double ours = Median(runs.Select(r => r.Ours)), theirs = Median(runs.Select(r => r.Theirs));
            sb.AppendLine($"| {count:N0} (median of 3) | **{ours:F3}** | {theirs:F3} |");
        }

        // A silent peer: freeze the router's link and time how long the session takes to say so.
        var frrHost = lab.AddHost("frr", "02:00:00:00:00:12", "192.0.2.12/24");
        var detections = new List<double>();
        using (var frr = BgpRouter.Start(lab, frrHost, new BgpPeerSpec(BgpDaemon.Frr, 64501, 64512, IPAddress.Parse("192.0.2.20"), HoldTimeSeconds: 3, Ipv6: false)))
        {
            var session = new BgpSession(new BgpPeerSettings
            {
                PeerAddress = IPAddress.Parse("192.0.2.12"), MyAsn = 64512, PeerAsn = 64501, RouterId = IPAddress.Parse("192.0.2.20"),
                HoldTime = TimeSpan.FromSeconds(3), MinBackoff = TimeSpan.FromMilliseconds(200), MaxBackoff = TimeSpan.FromSeconds(1),
                InNetworkNamespace = work => lab.RunIn(speaker, work),
            });
            session.StartAsync().GetAwaiter().GetResult();
            for (int i = 0; i < 3; i++)
            {
                if (!SpinWait.SpinUntil(() => session.State == BgpSessionState.Established, TimeSpan.FromSeconds(30))) throw new TimeoutException("no session with FRR");
                Thread.Sleep(1500);
                var sw = Stopwatch.StartNew();
                lab.SetLinkDown(frrHost);
                SpinWait.SpinUntil(() => session.State != BgpSessionState.Established, TimeSpan.FromSeconds(10));
                detections.Add(sw.Elapsed.TotalSeconds);
                lab.SetLinkUp(frrHost);
            }
            session.StopAsync().GetAwaiter().GetResult();
        }
        sb.AppendLine();
        sb.AppendLine($"A silent peer (link frozen) declared down with a 3 s hold time after **{detections.Max():F2} s** at most " +
                      $"(runs: {string.Join(", ", detections.Select(d => d.ToString("F2")))} s; target: at most 3.5 s). MetalLB's native speaker takes about 15 minutes (#777).");
        return sb.ToString();
    }
}
