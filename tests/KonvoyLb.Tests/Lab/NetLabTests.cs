using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Lab;

/// <summary>
/// Proves the network-namespace lab itself: reachability on a segment and through a router,
/// layer2 answers seen by arping and ndisc6 (including an address conflict), sockets made inside a
/// namespace, time limits, and cleanup.
/// </summary>
public sealed class NetLabTests(ITestOutputHelper output)
{
    const string Mac1 = "02:00:5e:10:00:01";
    const string Mac2 = "02:00:5e:10:00:02";
    const string Mac3 = "02:00:5e:10:00:03";

    /// <summary>Two hosts (and a third for conflicts) on one segment.</summary>
    static (NetLab Lab, LabHost H1, LabHost H2, LabHost H3) Segment()
    {
        var lab = NetLab.Create();
        try
        {
            var h1 = lab.AddHost("h1", Mac1, "192.0.2.1/24", "2001:db8::1/64");
            var h2 = lab.AddHost("h2", Mac2, "192.0.2.2/24", "2001:db8::2/64");
            var h3 = lab.AddHost("h3", Mac3, "192.0.2.3/24", "2001:db8::3/64");
            return (lab, h1, h2, h3);
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    static ProcessResult Ping(NetLab lab, LabHost from, string to) =>
        lab.Exec(from, "ping", "-n", "-c", "1", "-W", "1", to);

    [LabFact("ping")]
    public void Two_hosts_on_one_bridge_ping_each_other_over_IPv4_and_IPv6()
    {
        var clock = Stopwatch.StartNew();
        var (lab, h1, h2, _) = Segment();
        using (lab)
        {
            output.WriteLine($"lab {lab.Prefix} with 1 bridge and 3 hosts built in {clock.ElapsedMilliseconds} ms");
            Assert.Equal("eth0", h1.Interface);
            Assert.Equal(Mac1, h1.Mac);
            Assert.Equal(new[] { "192.0.2.1/24", "2001:db8::1/64" }, h1.Addresses);
            Assert.Equal(IPAddress.Parse("192.0.2.2"), h2.IPv4);
            Assert.Equal(IPAddress.Parse("2001:db8::2"), h2.IPv6);

            var v4 = Ping(lab, h1, "192.0.2.2");
            Assert.True(v4.Succeeded, v4.ToString());
            var v6 = Ping(lab, h2, "2001:db8::1");
            Assert.True(v6.Succeeded, v6.ToString());
            Assert.Contains("1 received", v6.StdOut);

            // The kernel of h1 learned h2's fixed MAC.
            var neigh = lab.Exec(h1, "ip", "neigh", "show", "192.0.2.2").EnsureSuccess();
            Assert.Contains("lladdr " + Mac2, neigh.StdOut);
        }
    }

    [LabFact("arping", "ndisc6")]
    public void Arping_and_ndisc6_get_the_other_hosts_fixed_MAC()
    {
        var (lab, h1, h2, _) = Segment();
        using (lab)
        {
            // -C 1: stop at the first reply (arping 2.23 otherwise waits out its 1 s interval).
            var arp = lab.Exec(h1, "arping", "-C", "1", "-c", "3", "-i", "eth0", "192.0.2.2");
            Assert.True(arp.Succeeded, arp.ToString());
            Assert.Contains($"from {Mac2} (192.0.2.2)", arp.StdOut);

            // An address nobody has: exit 1 after the -W interval.
            var none = lab.Exec(h1, "arping", "-c", "1", "-W", "0.2", "-i", "eth0", "192.0.2.77");
            Assert.Equal(1, none.ExitCode);
            Assert.Contains("Timeout", none.StdOut);

            // ndisc6 -q prints only the target's link-layer address.
            var nd = lab.Exec(h1, "ndisc6", "-q", "-1", "-r", "2", "-w", "500", "2001:db8::2", "eth0");
            Assert.True(nd.Succeeded, nd.ToString());
            Assert.Equal(Mac2, nd.StdOut.Trim().ToLowerInvariant());

            var ndNone = lab.Exec(h1, "ndisc6", "-r", "1", "-w", "200", "2001:db8::77", "eth0");
            Assert.Equal(2, ndNone.ExitCode);
            Assert.Contains("No response", ndNone.StdOut + ndNone.StdErr);
            _ = h2;
        }
    }

    [LabFact("arping", "ndisc6")]
    public void A_conflict_address_on_two_hosts_answers_with_two_MACs()
    {
        var (lab, h1, h2, h3) = Segment();
        using (lab)
        {
            lab.AddAddress(h2, "192.0.2.9/24");
            lab.AddAddress(h3, "192.0.2.9/24");
            lab.AddAddress(h2, "2001:db8::9/64");
            lab.AddAddress(h3, "2001:db8::9/64");
            Assert.Contains("192.0.2.9/24", h3.Addresses);

            // arping -d: exit 1 when answers come from two different MACs; one request is enough.
            var dup = lab.Exec(h1, "arping", "-d", "-c", "1", "-W", "0.3", "-i", "eth0", "192.0.2.9");
            Assert.True(dup.ExitCode == 1, dup.ToString());
            Assert.Contains($"from {Mac2} (192.0.2.9)", dup.StdOut);
            Assert.Contains($"from {Mac3} (192.0.2.9)", dup.StdOut);

            var single = lab.Exec(h1, "arping", "-d", "-c", "1", "-W", "0.3", "-i", "eth0", "192.0.2.2");
            Assert.True(single.ExitCode == 0, single.ToString());

            // ndisc6 -m waits for and prints every advertisement.
            var nd = lab.Exec(h1, "ndisc6", "-m", "-r", "1", "-w", "300", "2001:db8::9", "eth0");
            Assert.True(nd.Succeeded, nd.ToString());
            var macs = nd.StdOut.Split('\n')
                .Where(l => l.StartsWith("Target link-layer address:", StringComparison.Ordinal))
                .Select(l => l.Split(": ")[1].Trim().ToLowerInvariant())
                .ToHashSet();
            Assert.Equal(new HashSet<string> { Mac2, Mac3 }, macs);

            lab.RemoveAddress(h3, "192.0.2.9/24");
            var resolved = lab.Exec(h1, "arping", "-d", "-c", "1", "-W", "0.3", "-i", "eth0", "192.0.2.9");
            Assert.True(resolved.ExitCode == 0, resolved.ToString());
            Assert.DoesNotContain(Mac3, resolved.StdOut);
        }
    }

    [LabFact("ping", "sysctl")]
    public void A_host_behind_a_router_is_reached_once_a_route_is_added()
    {
        using var lab = NetLab.Create();
        var left = lab.AddBridge("left");
        var right = lab.AddBridge("right");
        Assert.Equal(left, lab.DefaultBridge);
        var client = lab.AddHostOn(left, "client", Mac1, "192.0.2.10/24", "2001:db8:a::10/64");
        var server = lab.AddHostOn(right, "server", Mac2, "198.51.100.20/24", "2001:db8:b::20/64");
        var router = lab.AddRouter("r1",
            new LabLeg(left, "02:00:5e:10:00:fe", "192.0.2.254/24", "2001:db8:a::fe/64"),
            new LabLeg(right, "02:00:5e:10:01:fe", "198.51.100.254/24", "2001:db8:b::fe/64"));
        Assert.Equal(new[] { "eth0", "eth1" }, router.Interfaces.Select(i => i.Name));
        Assert.Equal(right, router.Interfaces[1].Bridge);
        Assert.Equal("1", lab.Exec(router, "sysctl", "-n", "net.ipv4.ip_forward").EnsureSuccess().StdOut.Trim());
        Assert.Equal("1", lab.Exec(router, "sysctl", "-n", "net.ipv6.conf.all.forwarding").EnsureSuccess().StdOut.Trim());

        // The client and the server each see their router, but not each other.
        Assert.True(Ping(lab, client, "192.0.2.254").Succeeded);
        Assert.True(Ping(lab, server, "2001:db8:b::fe").Succeeded);
        lab.AddDefaultRoute(server, "198.51.100.254");
        lab.AddDefaultRoute(server, "2001:db8:b::fe");
        var before4 = Ping(lab, client, "198.51.100.20");
        var before6 = Ping(lab, client, "2001:db8:b::20");
        Assert.False(before4.Succeeded, before4.ToString());
        Assert.False(before6.Succeeded, before6.ToString());
        Assert.Contains("unreachable", before4.StdErr + before4.StdOut, StringComparison.OrdinalIgnoreCase);

        lab.AddRoute(client, "198.51.100.0/24", "192.0.2.254");
        lab.AddRoute(client, "2001:db8:b::/64", "2001:db8:a::fe");
        var after4 = Ping(lab, client, "198.51.100.20");
        var after6 = Ping(lab, client, "2001:db8:b::20");
        Assert.True(after4.Succeeded, after4.ToString());
        Assert.True(after6.Succeeded, after6.ToString());
        Assert.Contains("ttl=63", after4.StdOut); // one hop through the router

        // Taking the server's link down cuts it off; bringing it up restores it.
        lab.SetLinkDown(server);
        Assert.False(lab.Exec(client, "ping", "-n", "-c", "1", "-W", "0.3", "198.51.100.20").Succeeded);
        var unplugged = lab.Exec(server, "ip", "-4", "route", "show", "default").EnsureSuccess();
        Assert.Contains("linkdown", unplugged.StdOut); // the route stays, as with a pulled cable
        lab.SetLinkUp(server);
        var again = Ping(lab, client, "198.51.100.20");
        Assert.True(again.Succeeded, again.ToString());
    }

    [LabFact]
    public void RunIn_creates_sockets_inside_the_namespace()
    {
        // 203.0.113.0/24 here: the machine's own namespace may use 192.0.2.0/24 (this one does).
        using var lab = NetLab.Create();
        var h1 = lab.AddHost("h1", Mac1, "203.0.113.1/24", "2001:db8:1::1/64");
        var h2 = lab.AddHost("h2", Mac2, "203.0.113.2/24", "2001:db8:1::2/64");

        // Netlink (getifaddrs): inside, exactly the host's lo and its veth with the fixed MAC.
        var inside = lab.RunIn(h1, () => NetworkInterface.GetAllNetworkInterfaces()
            .Select(n => (n.Name, Mac: n.GetPhysicalAddress().ToString())).ToList());
        Assert.Equal(new[] { "eth0", "lo" }, inside.Select(n => n.Name).Order());
        Assert.Equal(Mac1.Replace(":", "").ToUpperInvariant(), inside.Single(n => n.Name == "eth0").Mac);
        var outside = NetworkInterface.GetAllNetworkInterfaces().Select(n => n.GetPhysicalAddress().ToString()).ToList();
        Assert.DoesNotContain(Mac1.Replace(":", "").ToUpperInvariant(), outside);

        // UDP: sockets bound to lab addresses (impossible outside), used afterwards from this thread.
        using var receiver = lab.RunIn(h2, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Parse("203.0.113.2"), 0));
            return s;
        });
        using var sender = lab.RunIn(h1, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Parse("203.0.113.1"), 0));
            return s;
        });
        var outsideBind = Assert.Throws<SocketException>(() =>
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Parse("203.0.113.2"), 0));
        });
        Assert.Equal(SocketError.AddressNotAvailable, outsideBind.SocketErrorCode);

        sender.SendTo("hello"u8.ToArray(), receiver.LocalEndPoint!);
        receiver.ReceiveTimeout = 2000;
        var buffer = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = receiver.ReceiveFrom(buffer, ref from);
        Assert.Equal("hello", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(IPAddress.Parse("203.0.113.1"), ((IPEndPoint)from).Address);

        // ICMP through .NET's Ping (a raw socket as root) from inside h1.
        var reply = lab.RunIn(h1, () => new Ping().Send(IPAddress.Parse("2001:db8:1::2"), 2000));
        Assert.Equal(IPStatus.Success, reply.Status);

        // Exceptions come back to the caller; so do time-outs.
        var thrown = Assert.Throws<InvalidOperationException>(() => lab.RunIn<int>(h1, () => throw new InvalidOperationException("inside")));
        Assert.Equal("inside", thrown.Message);
        Assert.Throws<TimeoutException>(() => lab.RunIn(h1, () => Thread.Sleep(2000), TimeSpan.FromMilliseconds(100)));
    }

    [LabFact("sleep", "sh")]
    public void Exec_is_bounded_and_confined_to_the_labs_namespaces()
    {
        using var lab = NetLab.Create();
        var h1 = lab.AddHost("h1", Mac1, "192.0.2.1/24");

        var clock = Stopwatch.StartNew();
        var slow = lab.Exec(h1.Namespace, TimeSpan.FromMilliseconds(300), "sh", "-c", "sleep 5 & sleep 5");
        Assert.True(slow.TimedOut, slow.ToString());
        Assert.False(slow.Succeeded);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");

        var failing = lab.Exec(h1, "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.Equal(3, failing.ExitCode);
        Assert.Equal("out\n", failing.StdOut);
        Assert.Equal("err\n", failing.StdErr);
        var error = Assert.Throws<LabCommandException>(() => failing.EnsureSuccess());
        Assert.Contains("exited 3", error.Message);

        // Nothing runs outside the lab, and nothing outside the documentation prefixes is configured.
        Assert.Throws<ArgumentException>(() => lab.Exec("", "true"));
        Assert.Throws<ArgumentException>(() => lab.Exec("kl000000-other", "true"));
        Assert.Throws<ArgumentException>(() => lab.AddAddress(h1, "10.0.0.1/8"));
        Assert.Throws<ArgumentException>(() => lab.AddAddress(h1, "192.0.2.5/16"));
        Assert.Throws<ArgumentException>(() => lab.AddHost("h2", Mac2, "192.168.1.1/24"));
        Assert.Throws<ArgumentException>(() => lab.AddRoute(h1, "default", "10.0.0.1"));
        Assert.Throws<ArgumentException>(() => lab.AddHost("h3", "01:00:5e:00:00:01", "192.0.2.3/24"));
        Assert.Throws<ArgumentException>(() => lab.AddHostOn("kl000000-br0", "h4", Mac3, "192.0.2.4/24"));
        Assert.DoesNotContain(lab.Namespaces, ns => ns.EndsWith("-h2") || ns.EndsWith("-h3") || ns.EndsWith("-h4"));
    }

    [LabFact("tcpdump", "arping", "sleep", "sh")]
    public void Dispose_stops_helpers_and_daemons_and_removes_every_namespace()
    {
        var lab = NetLab.Create();
        string[] names;
        int helper, daemon;
        try
        {
            var h1 = lab.AddHost("h1", Mac1, "192.0.2.1/24");
            var h2 = lab.AddHost("h2", Mac2, "192.0.2.2/24");
            names = [.. lab.Namespaces];
            Assert.Equal(3, names.Length);
            Assert.All(names, n => Assert.StartsWith(lab.Prefix + "-", n));
            Assert.StartsWith($"{Environment.ProcessId} ", File.ReadAllText(Path.Combine(NetLab.MarkerDirectory, lab.Prefix)));

            // A helper that sees traffic on the segment.
            var capture = lab.Start(h2, "tcpdump", "-n", "-l", "-i", "eth0", "-c", "1", "arp");
            Assert.True(capture.WaitForOutput("listening on", TimeSpan.FromSeconds(10)), capture.StdErr);
            lab.Exec(h1, "arping", "-C", "1", "-c", "3", "-i", "eth0", "192.0.2.2").EnsureSuccess();
            var captured = capture.WaitForExit(TimeSpan.FromSeconds(5));
            Assert.True(captured.Succeeded, captured.ToString());
            Assert.Contains("Request who-has 192.0.2.2 tell 192.0.2.1", captured.StdOut);

            // A helper still running at Dispose, and a daemon that left its process group.
            helper = lab.Start(h1, "sleep", "300").Pid;
            var spawned = lab.Exec(h2, "sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!").EnsureSuccess();
            daemon = int.Parse(spawned.StdOut.Trim());
            Assert.True(Directory.Exists($"/proc/{daemon}"));
            Assert.Contains(daemon, NetLab.ProcessesIn(names));
        }
        finally
        {
            lab.Dispose();
        }

        Assert.False(IsAlive(helper), $"helper {helper} survived Dispose");
        Assert.False(IsAlive(daemon), $"daemon {daemon} survived Dispose");
        var list = RunHere(["ip", "netns", "list"]);
        Assert.All(names, n => Assert.DoesNotContain(n, list));
        Assert.False(File.Exists(Path.Combine(NetLab.MarkerDirectory, lab.Prefix)));

        lab.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => lab.AddHost("h3", Mac3));
    }

    [LabFact("sleep")]
    public void Create_removes_namespaces_left_by_dead_runs_only()
    {
        string dead = "kl" + RandomHex() + "-h1", orphan = "kl" + RandomHex() + "-h1", alive = "kl" + RandomHex() + "-h1";
        int squatter = 0;
        try
        {
            // Marker of a dead owner (no such PID), none at all for the orphan, and one for this process
            // (written first, as NetLab does, so no concurrent clean-up takes the live one for stale).
            Directory.CreateDirectory(NetLab.MarkerDirectory);
            File.WriteAllText(Path.Combine(NetLab.MarkerDirectory, dead[..8]), "2147483646 1\n");
            var self = File.ReadAllText("/proc/self/stat");
            var start = self[(self.LastIndexOf(')') + 2)..].Split(' ')[19];
            File.WriteAllText(Path.Combine(NetLab.MarkerDirectory, alive[..8]), $"{Environment.ProcessId} {start}\n");
            foreach (var ns in new[] { dead, orphan, alive }) RunHere(["ip", "netns", "add", ns]);
            // A process the crashed run left inside its namespace.
            var spawned = RunHere(["ip", "netns", "exec", dead, "sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!"]);
            squatter = int.Parse(spawned.Trim());

            using (var lab = NetLab.Create())
            {
                var left = NetLab.ListNamespaces();
                Assert.DoesNotContain(dead, left);
                Assert.DoesNotContain(orphan, left);
                Assert.Contains(alive, left);
                Assert.False(File.Exists(Path.Combine(NetLab.MarkerDirectory, dead[..8])));
                Assert.False(IsAlive(squatter), $"process {squatter} of a dead run survived");
            }
        }
        finally
        {
            if (squatter > 0 && IsAlive(squatter)) Process.GetProcessById(squatter).Kill();
            foreach (var ns in new[] { dead, orphan, alive })
                if (NetLab.ListNamespaces().Contains(ns)) RunHere(["ip", "netns", "delete", ns]);
            File.Delete(Path.Combine(NetLab.MarkerDirectory, alive[..8]));
            File.Delete(Path.Combine(NetLab.MarkerDirectory, dead[..8]));
        }
    }

    static string RandomHex() => Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant();

    static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }

    /// <summary>Runs a command in this (the test's) namespace: only for listing and for staging stale namespaces.</summary>
    static string RunHere(string[] argv)
    {
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in argv.Skip(1)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(10_000), string.Join(' ', argv) + " hung");
        Assert.True(p.ExitCode == 0, $"{string.Join(' ', argv)}: {stderr.Result}");
        return stdout.Result;
    }
}
