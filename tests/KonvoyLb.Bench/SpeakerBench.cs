using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KonvoyLb.Engine.Runtime.Speaker;
using KonvoyLb.Tests.Speaker;

namespace KonvoyLb.Bench;

/// <summary>
/// The layer2 speaker on the namespace cluster of its tests (three Start-LbSpeaker processes from the built module):
/// failover as the client's neighbour table sees it after SIGKILL, a link cut and a clean stop; ARP reply latency
/// against the kernel answering for its own address on the same link; API writes per node per second; RSS.
/// </summary>
static class SpeakerBench
{
    const int Rounds = 3;

    public static string Run() => RunAsync().GetAwaiter().GetResult();

    /// <summary>Only the RSS figure (for trying runtime settings: the speaker inherits this process's environment).</summary>
    public static string RunRss()
    {
        var (idle, loaded) = Rss(1000).GetAwaiter().GetResult();
        return $"idle {idle:0} MiB, 1,000 addresses {loaded:0} MiB";
    }

    static async Task<string> RunAsync()
    {
        var kill = new List<double>();
        var cut = new List<double>();
        var clean = new List<double>();
        double ours = 0, kernel = 0, writesPerNode = 0;
        for (int round = 0; round < Rounds; round++)
        {
            await using var lab = await SpeakerLab.StartAsync();
            var ip = $"192.0.2.{230 + round}";
            lab.AddService("ha", [ip], SpeakerLab.NodeNames);
            var ranking = Announcer.Ranking(System.Net.IPAddress.Parse(ip), SpeakerLab.NodeNames);
            Until(() => lab.ArpAnswers(lab.Client, ip, 1).Contains(SpeakerLab.MacOf(ranking[0])));
            lab.Lab.Exec(lab.Client, "ping", "-n", "-c", "1", "-W", "0.3", ip);
            if (round == 0)
            {
                Thread.Sleep(5000); // the speakers' start-up work (JIT, first lists) done
                ours = ArpRtt(lab, ip);
                kernel = ArpRtt(lab, lab.Nodes[ranking[0]].IPv4!.ToString());
                writesPerNode = LeaseWrites(lab, TimeSpan.FromSeconds(10));
            }
            var clock = Stopwatch.StartNew();
            lab.Speakers[ranking[0]].Process.Kill();
            kill.Add(Ms(lab.WaitNeighbour(ip, SpeakerLab.MacOf(ranking[1]), TimeSpan.FromSeconds(20), clock)));
            clock.Restart();
            lab.Lab.SetLinkDown(lab.Nodes[ranking[1]]);
            cut.Add(Ms(lab.WaitNeighbour(ip, SpeakerLab.MacOf(ranking[2]), TimeSpan.FromSeconds(20), clock)));
            lab.Lab.SetLinkUp(lab.Nodes[ranking[1]]);
            lab.WaitNeighbour(ip, SpeakerLab.MacOf(ranking[1]), TimeSpan.FromSeconds(20), Stopwatch.StartNew());
            Thread.Sleep(6000); // past the gratuitous rounds of the link coming back: Linux ignores a new MAC for an entry updated less than locktime (1 s) ago
            clock.Restart();
            var stopping = Task.Run(() => lab.Speakers[ranking[1]].Stop(TimeSpan.FromSeconds(5)));
            clean.Add(Ms(lab.WaitNeighbour(ip, SpeakerLab.MacOf(ranking[2]), TimeSpan.FromSeconds(20), clock)));
            var stopped = await stopping;
            if (clean[^1] > 300)
                Console.Error.WriteLine($"slow clean stop ({clean[^1]:0} ms):\n{string.Join("\n", stopped.StdOut.Split('\n').TakeLast(6))}\n{string.Join("\n", lab.Logs(ranking[2]).Split('\n').TakeLast(8))}\n{lab.Lab.Exec(lab.Client, "ip", "neigh", "show", ip)}");
        }
        var (idle, loaded) = await Rss(1000);
        var bare = await BarePwshRss();

        var md = new StringBuilder();
        md.AppendLine("| layer2 failover, 3 speakers (Start-LbSpeaker from the built module) on a namespace LAN, as the client's neighbour table sees it (median of " + Rounds + ") | ms | runs |");
        md.AppendLine("|---|---:|---|");
        md.AppendLine($"| owner's speaker SIGKILLed (no Lease release; the next in line misses 3 probes at 200 ms) | **{Median(kill):0}** | {Runs(kill)} |");
        md.AppendLine($"| owner's link cut (bridge port down) | **{Median(cut):0}** | {Runs(cut)} |");
        md.AppendLine($"| clean stop (SIGTERM: Lease released first) | **{Median(clean):0}** | {Runs(clean)} |");
        md.AppendLine();
        md.AppendLine("| ARP reply, arping from the client, 50 requests (median) | µs |");
        md.AppendLine("|---|---:|");
        md.AppendLine($"| Start-LbSpeaker answering for a VIP | **{ours:0}** |");
        md.AppendLine($"| the kernel answering for the node's own address, same link | {kernel:0} |");
        md.AppendLine();
        md.AppendLine($"Speaker / kernel: **{ours / kernel:0.00}x**. API writes per node per second (Lease renewals counted at the API server over 10 s): **{writesPerNode:0.00}**.");
        md.AppendLine();
        md.AppendLine("| one speaker's RSS (pwsh + module + speaker) | MiB |");
        md.AppendLine("|---|---:|");
        md.AppendLine($"| a bare pwsh (`pwsh -NoProfile -Command Start-Sleep`), for comparison | {bare:0} |");
        md.AppendLine($"| ready, nothing announced | {idle:0} |");
        md.AppendLine($"| announcing 1,000 addresses | **{loaded:0}** |");
        return md.ToString();
    }

    static double Ms(TimeSpan? t) => t?.TotalMilliseconds ?? double.NaN;
    internal static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
    internal static string Runs(List<double> v) => string.Join(", ", v.Select(x => x.ToString("0", CultureInfo.InvariantCulture)));

    internal static void Until(Func<bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done() && clock.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(100);
    }

    /// <summary>arping's per-reply times (it prints usec or msec), median, in µs.</summary>
    static double ArpRtt(SpeakerLab lab, string ip)
    {
        var r = lab.Lab.Exec(lab.Client, "arping", "-c", "50", "-W", "0.05", "-i", lab.Client.Interface, ip);
        var times = Regex.Matches(r.StdOut, @"time=([0-9.]+) (usec|msec)")
            .Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * (m.Groups[2].Value == "msec" ? 1000 : 1)).ToList();
        if (times.Count == 0) throw new InvalidOperationException($"arping {ip}: {r}");
        return Median(times);
    }

    static double LeaseWrites(SpeakerLab lab, TimeSpan window)
    {
        static int Count(SpeakerLab lab) => lab.Kube.RequestLog.Count(r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("/leases/metallb-speaker-"));
        int before = Count(lab);
        Thread.Sleep(window);
        return (Count(lab) - before) / (double)SpeakerLab.NodeNames.Length / window.TotalSeconds;
    }

    /// <summary>One speaker (told to answer on eth0) announcing <paramref name="count"/> addresses of an RFC 2544 pool: RSS before and after.</summary>
    static async Task<(double Idle, double Loaded)> Rss(int count)
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        lab.SetConfig("address-pools:\n- name: bench\n  protocol: layer2\n  addresses:\n  - 198.18.0.0/22\n");
        lab.StartSpeaker("node-1", "-Interface eth0");
        lab.WaitReady("node-1");
        Thread.Sleep(2000);
        double idle = RssMiB(lab.Speakers["node-1"].Pid);
        for (int i = 0; i < count; i++) lab.AddService($"s{i}", [$"198.18.{(i + 1) / 256}.{(i + 1) % 256}"], ["node-1"]);
        Until(() => Regex.Matches(lab.Http("node-1", "/metrics"), "^metallb_speaker_announced\\{", RegexOptions.Multiline).Count >= count);
        Thread.Sleep(7000); // past the gratuitous rounds
        GC.KeepAlive(lab);
        return (idle, RssMiB(lab.Speakers["node-1"].Pid));
    }

    static async Task<double> BarePwshRss()
    {
        await using var lab = await SpeakerLab.StartAsync(speakers: false);
        var p = lab.Lab.Start(lab.Nodes["node-1"].Namespace, "dotnet", KonvoyLb.Tests.Lab.ModuleUnderTest.PwshDll(), "-NoProfile", "-NonInteractive", "-Command", "Start-Sleep 30");
        Thread.Sleep(5000);
        var rss = RssMiB(p.Pid);
        p.Stop();
        return rss;
    }

    internal static double RssMiB(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return double.Parse(Regex.Match(line, @"\d+").Value, CultureInfo.InvariantCulture) / 1024;
    }
}
