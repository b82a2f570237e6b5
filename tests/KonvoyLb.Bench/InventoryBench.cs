using System.Diagnostics;
using System.Globalization;
using System.Text;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Bench;

/// <summary>
/// Test-LbVipReachability -FromInventory, 6 hosts × 256 addresses nobody holds (every probe waits its whole 1 s
/// timeout: the worst case), each host a lab namespace with a real sshd, against the obvious alternative: a loop of
/// `ssh host arping -0 -c 1 -w 1 -i eth0 ADDR`, one address after the other (run on 8 addresses per host and
/// scaled to 256, as the full loop would take about half an hour).
/// </summary>
static class InventoryBench
{
    const int Hosts = 6, Addresses = 256, LoopSample = 8, Rounds = 3;

    public static string Run()
    {
        using var lab = NetLab.Create();
        var deploy = lab.AddHost("dep", "02:00:00:00:03:10", "192.0.2.10/24");
        var nodes = Enumerable.Range(1, Hosts).Select(i => lab.AddHost($"n{i}", $"02:00:00:00:03:{0x10 + i:x2}", $"192.0.2.{10 + i}/24", $"198.51.100.{200 + i}/24", $"203.0.113.{200 + i}/24")).ToList();
        using var ssh = SshServers.Start(lab, nodes);
        var dir = Directory.CreateTempSubdirectory("konvoylb-invbench-").FullName;
        try
        {
            var inventory = Path.Combine(dir, "inventory.yaml");
            File.WriteAllText(inventory, "node:\n  hosts:\n" + string.Concat(nodes.Select(n => $"    {n.IPv4}:\n")) +
                $"bastion: {{}}\nall:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: {ssh.ClientKeyPath}\n");
            var knownHosts = ssh.WriteKnownHosts(nodes, Path.Combine(dir, "known_hosts"));

            // One run of the cmdlet from the deploy computer: its seconds and what it found ("1536 (1536 Free)").
            (double Seconds, string Counts) Probe(string hostFilter)
            {
                var text = lab.Exec(deploy.Namespace, TimeSpan.FromMinutes(10), "dotnet", ModuleUnderTest.PwshDll(), "-NoProfile", "-NonInteractive", "-Command",
                    $"$env:SSH_AUTH_SOCK = $null; Import-Module '{ModuleUnderTest.Path()}'; $r = $null; $t = Measure-Command {{ $r = @(Test-LbVipReachability -Address 198.51.100.1-198.51.100.128,203.0.113.1-203.0.113.128 -FromInventory {hostFilter} " +
                    $"-InventoryPath '{inventory}' -KnownHostsPath '{knownHosts}' -TimeoutMilliseconds 1000 -InformationAction Ignore -ErrorVariable errs -ErrorAction SilentlyContinue) }}; " +
                    "'SECONDS ' + $t.TotalSeconds.ToString([cultureinfo]::InvariantCulture); 'COUNT ' + $r.Count + ' (' + (($r | Group-Object Status | ForEach-Object { \"$($_.Count) $($_.Name)\" }) -join ', ') + ')'; foreach ($e in $errs) { 'FAULT ' + $e.FullyQualifiedErrorId.Split(',')[0] + ' ' + $e.Exception.Message }").EnsureSuccess().StdOut;
                // A host that faulted has no results: the figure would flatter us, so the run fails instead.
                var faults = text.Split('\n').Where(l => l.StartsWith("FAULT ", StringComparison.Ordinal)).ToList();
                if (faults.Count > 0) throw new InvalidOperationException(string.Join("; ", faults));
                return (double.Parse(text.Split('\n').First(l => l.StartsWith("SECONDS ", StringComparison.Ordinal))[8..].Trim(), CultureInfo.InvariantCulture),
                    text.Split('\n').First(l => l.StartsWith("COUNT ", StringComparison.Ordinal))[6..].Trim());
            }

            var ours = new List<double>();
            string counts = "";
            for (int r = 0; r < Rounds; r++)
            {
                var run = Probe("");
                ours.Add(run.Seconds);
                counts = run.Counts;
            }
            // The same addresses from one host alone: the six above share this machine's two cores, real hosts do not.
            var alone = Probe($"-HostName {nodes[0].IPv4}");
            // The loop: one ssh per address, sequentially, from the same deploy computer with the same key.
            var clock = Stopwatch.StartNew();
            foreach (var node in nodes)
                for (int i = 1; i <= LoopSample; i++)
                    lab.Exec(deploy, ssh.SshCommand(node, ssh.ClientKeyPath, knownHosts, "arping", "-0", "-c", "1", "-w", "1", "-i", "eth0", $"198.51.100.{i}"));
            double loopSample = clock.Elapsed.TotalSeconds;
            double loopFull = loopSample * Addresses / LoopSample;

            var median = ours.Order().ElementAt(ours.Count / 2);
            var md = new StringBuilder();
            md.AppendLine($"| {Hosts} hosts × {Addresses} addresses nobody holds (1 s timeout), each host a namespace with its own sshd | s |");
            md.AppendLine("|---|---:|");
            md.AppendLine($"| `Test-LbVipReachability -FromInventory` (median of {Rounds}: {string.Join(", ", ours.Select(x => x.ToString("0.0", CultureInfo.InvariantCulture)))}) | **{median:0.0}** |");
            md.AppendLine($"| the same from one host alone (`-HostName`; {alone.Counts}) | {alone.Seconds:0.0} |");
            md.AppendLine($"| sequential `ssh host arping -0 -c1 -w1 ADDR` loop: {Hosts * LoopSample} addresses measured ({loopSample:0.0} s), scaled to {Hosts * Addresses} | {loopFull:0} |");
            md.AppendLine();
            md.AppendLine($"Loop / KonvoyLb: **{loopFull / median:0}x**. Results: {counts}.");
            return md.ToString();
        }
        finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
    }
}
