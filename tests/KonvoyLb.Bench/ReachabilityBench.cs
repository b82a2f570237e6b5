using System.Diagnostics;
using System.Net;
using System.Text;
using KonvoyLb.Engine.Net.Probing;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Bench;

/// <summary>
/// Probing 256 addresses on a namespace LAN with Test-LbVipReachability's prober, against the obvious
/// alternative run on the same LAN in the same run: a sequential `arping -c 1 -w 1` per address.
/// </summary>
static class ReachabilityBench
{
    const int Timeout = 1000;

    public static string Run()
    {
        using var lab = NetLab.Create();
        var deploy = lab.AddHost("dep", "02:00:00:00:00:10", "198.51.100.10/24");
        // A few owners among the 256 addresses, the rest free: the common case of a pool being checked.
        for (int i = 0; i < 4; i++) lab.AddHost($"h{i}", $"02:00:00:00:00:2{i}", $"198.51.100.{20 + i * 50}/24");
        var targets = Enumerable.Range(0, 256).Select(i => IPAddress.Parse($"198.51.100.{i}")).ToList();

        var prober = lab.RunIn(deploy, () =>
        {
            var sw = Stopwatch.StartNew();
            using var p = new VipProber(new ProbeOptions { Timeout = TimeSpan.FromMilliseconds(Timeout) });
            var plan = p.Prepare(targets.Select(t => new ProbeTarget(t, "bench")));
            var results = p.RunAsync(plan, new HashSet<IPAddress>(), null, CancellationToken.None).GetAwaiter().GetResult();
            return (sw.Elapsed, Owned: results.Count(r => r.Status == VipStatus.Owned));
        }, TimeSpan.FromMinutes(2));

        var arping = Stopwatch.StartNew();
        int answered = 0;
        foreach (var t in targets)
            if (lab.Exec(deploy.Namespace, TimeSpan.FromSeconds(5), "arping", "-c", "1", "-w", "1", "-i", "eth0", t.ToString()).ExitCode == 0) answered++;
        arping.Stop();

        var sb = new StringBuilder();
        sb.AppendLine($"| probing 256 addresses on a namespace LAN (timeout {Timeout} ms) | seconds | answered |");
        sb.AppendLine("|---|---:|---:|");
        sb.AppendLine($"| **Test-LbVipReachability prober** (ARP + ICMP per address, parallel; target: about 2 timeouts) | **{prober.Elapsed.TotalSeconds:F2}** | {prober.Owned} |");
        sb.AppendLine($"| sequential `arping -c 1 -w 1` loop | {arping.Elapsed.TotalSeconds:F2} | {answered} |");
        return sb.ToString();
    }
}
