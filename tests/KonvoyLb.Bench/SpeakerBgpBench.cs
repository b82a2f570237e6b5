using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using KonvoyLb.Tests.Lab;
using KonvoyLb.Tests.Speaker;

namespace KonvoyLb.Bench;

/// <summary>
/// The speaker in BGP mode on the namespace cluster (Start-LbSpeaker from the built module): an endpoint becoming ready
/// (EndpointSlice written) to the route in FRR's table and its loss to the withdrawal; 10,000 Services announced from
/// three nodes to BIRD against three GoBGP announcers sending the same set from the same nodes; the speaker's RSS.
/// </summary>
static class SpeakerBgpBench
{
    const string Peer = "peers:\n- peer-address: 192.0.2.1\n  peer-asn: 64500\n  my-asn: 64512\n";

    public static string Run()
    {
        var md = new StringBuilder();
        var (up, down) = Latency(5).GetAwaiter().GetResult();
        md.AppendLine("| an endpoint and a route: Start-LbSpeaker on one node, FRR on the LAN (median of 5; FRR polled every ~30 ms) | ms | runs |");
        md.AppendLine("|---|---:|---|");
        md.AppendLine($"| EndpointSlice with a ready endpoint written to the route in FRR's table | **{Median(up):0}** | {Runs(up)} |");
        md.AppendLine($"| endpoint gone (EndpointSlice emptied) to the route withdrawn from FRR's table | **{Median(down):0}** | {Runs(down)} |");
        md.AppendLine();
        var back = Restarts(50).GetAwaiter().GetResult();
        md.AppendLine($"BIRD restarted 50 times: the route back every time, **{Median(back):0} ms** after the restart returned (median; max {back.Max():0} ms; the session retries 0.75 to 1 s after a session that was Established ends).");
        md.AppendLine();
        var (ours, theirs, rss, written) = TenThousand(10_000).GetAwaiter().GetResult();
        md.AppendLine("| 10,000 Services (/32 each, Cluster policy) from 3 nodes to BIRD: 30,000 routes | s |");
        md.AppendLine("|---|---:|");
        md.AppendLine($"| Start-LbSpeaker ×3: first of the 10,000 Services and EndpointSlices written (into the API server's store) to BIRD holding all 30,000 | **{ours:F2}** |");
        md.AppendLine($"| of which writing the 20,000 objects into the store (the speakers watching) | {written:F2} |");
        md.AppendLine($"| GoBGP 3 ×3 from the same nodes: routes added (gobgp CLI, MRT) to BIRD holding all 30,000 | {theirs:F2} |");
        md.AppendLine();
        md.AppendLine($"Speaker / GoBGP: **{ours / theirs:0.00}x**. One speaker's RSS with the 10,000 Services announced: **{rss:0} MiB**.");
        return md.ToString();
    }

    static async Task<(List<double> Up, List<double> Down)> Latency(int rounds)
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        using var frr = BgpRouter.Start(lab.Lab, lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24"),
            new BgpPeerSpec(BgpDaemon.Frr, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false));
        lab.SetConfig(Peer + "address-pools:\n- name: routed\n  protocol: bgp\n  addresses:\n  - 203.0.113.0/24\n");
        lab.StartSpeaker("node-1");
        lab.WaitReady("node-1");
        if (!frr.WaitForState("Established", TimeSpan.FromSeconds(30))) throw new TimeoutException(lab.Logs("node-1"));
        lab.AddService("lat", ["203.0.113.50"], []);
        Thread.Sleep(2000);
        var up = new List<double>();
        var down = new List<double>();
        bool Has() => frr.Routes().Any(r => r.Prefix == "203.0.113.50/32");
        for (int i = 0; i < rounds; i++)
        {
            var sw = Stopwatch.StartNew();
            lab.SetEndpoints("lat", ["node-1"]);
            Until(Has);
            up.Add(sw.Elapsed.TotalMilliseconds);
            Thread.Sleep(1000);
            sw.Restart();
            lab.SetEndpoints("lat", []);
            Until(() => !Has());
            down.Add(sw.Elapsed.TotalMilliseconds);
            Thread.Sleep(1000);
        }
        return (up, down);
    }

    static async Task<List<double>> Restarts(int count)
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        using var bird = BgpRouter.Start(lab.Lab, lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24"),
            new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false));
        lab.SetConfig(Peer + "address-pools:\n- name: routed\n  protocol: bgp\n  addresses:\n  - 203.0.113.0/24\n");
        lab.StartSpeaker("node-1");
        lab.WaitReady("node-1");
        lab.AddService("steady", ["203.0.113.60"], ["node-1"]);
        bool Has() => bird.Routes().Any(r => r.Prefix == "203.0.113.60/32");
        Until(Has);
        var back = new List<double>();
        for (int i = 0; i < count; i++)
        {
            bird.Restart();
            var sw = Stopwatch.StartNew();
            Until(Has, TimeSpan.FromSeconds(60));
            back.Add(sw.Elapsed.TotalMilliseconds);
        }
        return back;
    }

    static string Address(int i) => $"198.18.{i / 256}.{i % 256}";

    static async Task<(double Ours, double Theirs, double Rss, double Written)> TenThousand(int count)
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var routerHost = lab.Lab.AddHost("router", "02:00:5e:20:00:fe", "192.0.2.1/24");
        var spec = new BgpPeerSpec(BgpDaemon.Bird, 64500, 64512, lab.Nodes["node-1"].IPv4!, Ipv6: false)
        {
            MoreSpeakersV4 = [lab.Nodes["node-2"].IPv4!, lab.Nodes["node-3"].IPv4!],
        };
        double ours, theirs, rss, written;
        using (var bird = BgpRouter.Start(lab.Lab, routerHost, spec))
        {
            lab.SetConfig(Peer + "address-pools:\n- name: routed\n  protocol: bgp\n  addresses:\n  - 198.18.0.0/18\n");
            foreach (var node in SpeakerLab.NodeNames) lab.StartSpeaker(node);
            foreach (var node in SpeakerLab.NodeNames) lab.WaitReady(node);
            Until(() => bird.SessionState() == "Established", TimeSpan.FromSeconds(30));
            Thread.Sleep(3000);
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < count; i++) lab.AddService($"s{i:D5}", [Address(i)], ["node-1"]);
            written = sw.Elapsed.TotalSeconds;
            if (!bird.WaitForRouteCount(3 * count, TimeSpan.FromMinutes(5), out _)) throw new TimeoutException($"BIRD has {bird.RouteCount()} of {3 * count}");
            ours = sw.Elapsed.TotalSeconds;
            Thread.Sleep(3000);
            rss = RssMiB(lab.Speakers["node-1"].Pid);
            foreach (var p in lab.Speakers.Values) p.Stop(TimeSpan.FromSeconds(5));
        }
        // GoBGP from the same three node namespaces, to a fresh BIRD: the same 10,000 prefixes each, added while running.
        using (var bird = BgpRouter.Start(lab.Lab, routerHost, spec))
        {
            var announcers = SpeakerLab.NodeNames.Select(n => BgpRouter.Start(lab.Lab, lab.Nodes[n],
                new BgpPeerSpec(BgpDaemon.GoBgp, 64512, 64500, routerHost.IPv4!, Ipv6: false) { Active = true })).ToList();
            try
            {
                Until(() => SpeakerLab.NodeNames.All(n => bird.SessionState(lab.Nodes[n].IPv4) == "Established"), TimeSpan.FromSeconds(60));
                var prefixes = Enumerable.Range(0, count).Select(i => Address(i) + "/32").ToList();
                var sw = Stopwatch.StartNew();
                Parallel.ForEach(announcers, a => a.AddRoutesViaGoBgpCli(prefixes));
                if (!bird.WaitForRouteCount(3 * count, TimeSpan.FromMinutes(5), out _)) throw new TimeoutException($"BIRD has {bird.RouteCount()} of {3 * count} from GoBGP");
                theirs = sw.Elapsed.TotalSeconds;
            }
            finally { foreach (var a in announcers) a.Dispose(); }
        }
        return (ours, theirs, rss, written);
    }

    static void Until(Func<bool> done, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > (timeout ?? TimeSpan.FromSeconds(30))) throw new TimeoutException("condition not met");
            Thread.Sleep(5);
        }
    }

    static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
    static string Runs(List<double> v) => string.Join(", ", v.Select(x => x.ToString("0", CultureInfo.InvariantCulture)));

    static double RssMiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return double.Parse(Regex.Match(line, @"\d+").Value, CultureInfo.InvariantCulture) / 1024;
    }
}
