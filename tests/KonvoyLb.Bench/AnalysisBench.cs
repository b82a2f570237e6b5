using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Bench;

/// <summary>
/// Test-LbConfig's analysis on 10,000 pool ranges and 5,000 node addresses, against the obvious
/// alternative on the same input: comparing every pair.
/// </summary>
static class AnalysisBench
{
    const int RangesPerPool = 100, Nodes = 5000, Repeats = 5;

    public static string Run()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Test-LbConfig analysis with 5,000 node addresses | best of 5 (ms) |");
        sb.AppendLine("|---|---:|");
        // The issue's size, then four times the ranges: the sweep grows by about 4x, pairwise by about 16x.
        foreach (int pools in new[] { 100, 400 }) Measure(pools, sb);
        return sb.ToString();
    }

    static void Measure(int pools, StringBuilder sb)
    {
        var (cluster, inventory) = Input(pools);
        var dir = Directory.CreateTempSubdirectory("konvoylb-bench-");
        try
        {
            string clusterPath = Path.Combine(dir.FullName, "cluster.yaml");
            File.WriteAllText(clusterPath, cluster);
            File.WriteAllText(Path.Combine(dir.FullName, "inventory.yaml"), inventory);

            // Warm up the JIT, then take the best of a few runs for each side.
            var file = KonvoyFile.Load(clusterPath);
            var input = ConfigAnalyzer.ForKonvoyFile(file);
            int findings = ConfigAnalyzer.Analyze(input).Count;
            int naivePairs = Naive(input);

            double load = Best(() => ConfigAnalyzer.ForKonvoyFile(KonvoyFile.Load(clusterPath)));
            double sweep = Best(() => ConfigAnalyzer.Analyze(input));
            double naive = Best(() => Naive(input));
            int ranges = input.Document.Config.AddressPools!.Sum(p => p.Addresses!.Count);
            sb.AppendLine($"| {ranges:N0} ranges in {pools} pools: read cluster.yaml + inventory.yaml | {load:F0} |");
            sb.AppendLine($"| {ranges:N0} ranges: **all checks, sort-and-sweep**{(pools == 100 ? " (target: < 1000)" : "")} ({findings:N0} findings) | **{sweep:F0}** |");
            sb.AppendLine($"| {ranges:N0} ranges: pairwise comparison, overlaps only ({naivePairs:N0} pairs) | {naive:F0} |");
        }
        finally { dir.Delete(recursive: true); }
    }

    static double Best(Action action)
    {
        double best = double.MaxValue;
        for (int i = 0; i < Repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return best;
    }

    /// <summary>The obvious alternative: every pool range against every other and against every node.</summary>
    static int Naive(AnalysisInput input)
    {
        var ranges = input.Document.Config.AddressPools!.SelectMany(p => p.Addresses!)
            .Select(a => IpRange.TryParse(a, out var r, out _) ? r : default).ToArray();
        var nodes = input.Inventory!.Hosts.Select(h => IpRange.Single(h.IP!)).ToArray();
        int pairs = 0;
        for (int i = 0; i < ranges.Length; i++)
        {
            for (int j = i + 1; j < ranges.Length; j++)
                if (ranges[i].Overlaps(ranges[j])) pairs++;
            foreach (var n in nodes)
                if (ranges[i].Overlaps(n)) pairs++;
        }
        return pairs;
    }

    /// <summary>
    /// 100 pools of 100 ranges each (CIDRs and first-last ranges, IPv4 and IPv6, a few overlaps) and
    /// 5,000 nodes, a handful of them inside pools, so that every kind of check has work to do.
    /// </summary>
    static (string Cluster, string Inventory) Input(int pools)
    {
        var sb = new StringBuilder();
        sb.Append("kind: ClusterConfiguration\napiVersion: konvoy.mesosphere.io/v1beta2\nspec:\n  kubernetes:\n    networking:\n");
        sb.Append("      podSubnet: 100.64.0.0/16\n      serviceSubnet: 100.65.0.0/18\n");
        sb.Append("  addons:\n  - configRepository: https://github.com/mesosphere/kubernetes-base-addons\n    addonsList:\n");
        sb.Append("    - name: metallb\n      enabled: true\n      values: |\n        configInline:\n          address-pools:\n");
        for (int p = 0; p < pools; p++)
        {
            sb.Append($"          - name: pool-{p}\n            protocol: {(p % 2 == 0 ? "layer2" : "bgp")}\n            addresses:\n");
            for (int r = 0; r < RangesPerPool; r++)
            {
                int n = p * RangesPerPool + r;
                // 10.a.b.c blocks of 8 addresses; one range in a thousand also overlaps its neighbour.
                uint first = 0x0A000000u + (uint)n * 8;
                string a = IpRange.ToAddress(AddressFamily.InterNetwork, first).ToString();
                string entry = r % 10 == 9 ? $"2001:db8:{p:x}::{r:x}00/120"
                    : n % 1000 == 997 ? $"{a}-{IpRange.ToAddress(AddressFamily.InterNetwork, first + 12)}"
                    : r % 2 == 0 ? $"{a}/29" : $"{a}-{IpRange.ToAddress(AddressFamily.InterNetwork, first + 7)}";
                sb.Append($"            - {entry}\n");
            }
        }
        var inv = new StringBuilder("node:\n  hosts:\n");
        for (int i = 0; i < Nodes; i++)
        {
            // Mostly outside the pools (172.16/16); every 500th node sits inside one.
            uint ip = i % 500 == 0 ? 0x0A000000u + (uint)i * 8 + 3 : 0xAC100000u + (uint)i + 1;
            inv.Append($"    {IpRange.ToAddress(AddressFamily.InterNetwork, ip)}:\n");
        }
        inv.Append("all:\n  vars:\n    control_plane_endpoint: \"172.16.255.250:6443\"\n");
        return (sb.ToString(), inv.ToString());
    }
}
