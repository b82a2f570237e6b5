using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Net;
using KonvoyLb.Engine.Net.Probing;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Tests.Net.Probing;

/// <summary>
/// A small LAN of network namespaces, built once for the class: the "deploy computer" where probes
/// run, a node, a foreign host, two hosts answering for one address, a router to a second segment
/// with a host behind it, and no route at all to 203.0.113.0/24. IPv4 and IPv6.
/// </summary>
public sealed class ReachabilityLab : IDisposable
{
    public NetLab Lab { get; }
    public LabHost Deploy { get; }
    public LabHost Node { get; }
    public LabHost Far { get; }
    public const int OpenPort = 18080;
    readonly TcpListener? _listener4, _listener6;

    public ReachabilityLab()
    {
        if (NetLab.SkipReason() is not null && !NetLab.InCI) { Lab = null!; Deploy = Node = Far = null!; return; }
        Lab = NetLab.Create();
        try
        {
            var lan = Lab.DefaultBridge;
            var far = Lab.AddBridge("farlan");
            Lab.AddRouter("rtr", new LabLeg(lan, "02:00:00:00:01:01", "192.0.2.1/24", "2001:db8:1::1/64"),
                new LabLeg(far, "02:00:00:00:01:02", "198.51.100.1/24", "2001:db8:2::1/64"));
            Deploy = Lab.AddHost("dep", "02:00:00:00:00:10", "192.0.2.10/24", "2001:db8:1::10/64");
            Lab.AddRoute(Deploy, "198.51.100.0/24", "192.0.2.1");
            Lab.AddRoute(Deploy, "2001:db8:2::/64", "2001:db8:1::1");
            // A node of the inventory that also holds a VIP (as MetalLB's speaker would answer for it).
            Node = Lab.AddHost("node", "02:00:00:00:00:21", "192.0.2.21/24", "2001:db8:1::21/64");
            Lab.AddAddress(Node, "192.0.2.50/32");
            // A host that is not a node and uses an address of the pool.
            Lab.AddHost("other", "02:00:00:00:00:30", "192.0.2.30/24", "2001:db8:1::30/64");
            // Two hosts answering for one address: a conflict.
            var a = Lab.AddHost("ca", "02:00:00:00:00:41", "192.0.2.41/24", "2001:db8:1::41/64");
            var b = Lab.AddHost("cb", "02:00:00:00:00:42", "192.0.2.42/24", "2001:db8:1::42/64");
            foreach (var h in new[] { a, b })
            {
                Lab.AddAddress(h, "192.0.2.40/32");
                Lab.AddAddress(h, "2001:db8:1::40/128");
            }
            Far = Lab.AddHostOn(far, "far", "02:00:00:00:00:20", "198.51.100.20/24", "2001:db8:2::20/64");
            Lab.AddDefaultRoute(Far, "198.51.100.1");
            Lab.AddDefaultRoute(Far, "2001:db8:2::1");
            (_listener4, _listener6) = Lab.RunIn(Far, () =>
            {
                var l4 = new TcpListener(IPAddress.Parse("198.51.100.20"), OpenPort);
                var l6 = new TcpListener(IPAddress.Parse("2001:db8:2::20"), OpenPort);
                l4.Start();
                l6.Start();
                return (l4, l6);
            });
            Accept(_listener4);
            Accept(_listener6);
        }
        catch
        {
            Lab.Dispose();
            throw;
        }
    }

    static void Accept(TcpListener listener) => _ = Task.Run(async () =>
    {
        try { while (true) (await listener.AcceptTcpClientAsync()).Dispose(); }
        catch (Exception e) when (e is ObjectDisposedException or SocketException or InvalidOperationException) { }
    });

    public static readonly string[] Targets =
    {
        "192.0.2.50", "192.0.2.30", "192.0.2.40", "192.0.2.60", "198.51.100.20", "198.51.100.99", "203.0.113.5",
        "2001:db8:1::30", "2001:db8:1::40", "2001:db8:1::60", "2001:db8:2::20", "2001:db8:2::99", "2001:db8:3::5",
    };

    /// <summary>The inventory of the lab: one node.</summary>
    public string WriteInventory(string dir)
    {
        var path = Path.Combine(dir, "inventory.yaml");
        File.WriteAllText(path, "node:\n  hosts:\n    192.0.2.21:\n      ansible_host: 192.0.2.21\n    2001:db8:1::21:\n");
        return path;
    }

    public void Dispose()
    {
        _listener4?.Stop();
        _listener6?.Stop();
        Lab?.Dispose();
    }
}

public sealed class ReachabilityLabTests : IClassFixture<ReachabilityLab>
{
    readonly ReachabilityLab _lab;
    public ReachabilityLabTests(ReachabilityLab lab) => _lab = lab;

    VipProbeResult[] Probe(IEnumerable<string> addresses, IReadOnlySet<IPAddress> nodes, int timeoutMs = 600) =>
        _lab.Lab.RunIn(_lab.Deploy, () =>
        {
            // Sockets are opened here, on the thread that entered the deploy namespace.
            using var prober = new VipProber(new ProbeOptions { Timeout = TimeSpan.FromMilliseconds(timeoutMs) });
            var plan = prober.Prepare(addresses.Select(a => new ProbeTarget(IPAddress.Parse(a), "p")).Concat(nodes.Select(n => new ProbeTarget(n, null))));
            return prober.RunAsync(plan, nodes, null, CancellationToken.None).GetAwaiter().GetResult();
        }, TimeSpan.FromSeconds(30));

    [LabFact]
    public void EveryStatusComesFromARealExchange()
    {
        var nodes = new HashSet<IPAddress> { IPAddress.Parse("192.0.2.21"), IPAddress.Parse("2001:db8:1::21") };
        var results = Probe(ReachabilityLab.Targets, nodes).ToDictionary(r => r.Address.ToString());

        var node = results["192.0.2.50"];
        Assert.Equal(VipStatus.Owned, node.Status);
        Assert.Equal(new[] { "02:00:00:00:00:21" }, node.AnsweringMacs);
        Assert.Equal("192.0.2.21", node.AnsweredByNode);
        Assert.True(node.IcmpReply);

        foreach (var foreign in new[] { "192.0.2.30", "2001:db8:1::30" })
        {
            Assert.Equal(VipStatus.Owned, results[foreign].Status);
            Assert.Equal(new[] { "02:00:00:00:00:30" }, results[foreign].AnsweringMacs);
            Assert.Null(results[foreign].AnsweredByNode);
            Assert.Contains("not a node", results[foreign].Advice);
        }
        foreach (var conflict in new[] { "192.0.2.40", "2001:db8:1::40" })
        {
            Assert.Equal(VipStatus.Conflict, results[conflict].Status);
            Assert.Equal(new[] { "02:00:00:00:00:41", "02:00:00:00:00:42" }, results[conflict].AnsweringMacs);
            Assert.Contains("2 MACs", results[conflict].Advice);
        }
        foreach (var free in new[] { "192.0.2.60", "2001:db8:1::60" })
        {
            Assert.Equal(VipStatus.Free, results[free].Status);
            Assert.Empty(results[free].AnsweringMacs);
            Assert.Equal(RouteKind.OnLink, results[free].Route);
            Assert.False(results[free].IcmpReply);
        }
        foreach (var (reachable, gateway) in new[] { ("198.51.100.20", "192.0.2.1"), ("2001:db8:2::20", "2001:db8:1::1") })
        {
            Assert.Equal(VipStatus.Reachable, results[reachable].Status);
            Assert.Equal(RouteKind.ViaGateway, results[reachable].Route);
            Assert.Equal(IPAddress.Parse(gateway), results[reachable].Gateway);
            Assert.True(results[reachable].RttMilliseconds > 0);
        }
        foreach (var silent in new[] { "198.51.100.99", "2001:db8:2::99" })
            Assert.Equal(VipStatus.Unreachable, results[silent].Status);
        foreach (var none in new[] { "203.0.113.5", "2001:db8:3::5" })
        {
            Assert.Equal(VipStatus.NoRoute, results[none].Status);
            Assert.Contains("no route", results[none].Advice);
        }
        Assert.All(results.Values.Where(r => r.Route == RouteKind.OnLink), r => Assert.Equal(IPAddress.Parse(r.Address.AddressFamily == AddressFamily.InterNetwork ? "192.0.2.10" : "2001:db8:1::10"), r.SourceAddress));
    }

    [LabFact]
    public void AReceiveLoopThatDiesFailsTheRunInsteadOfCallingEveryAddressFree()
    {
        var e = _lab.Lab.RunIn(_lab.Deploy, () =>
        {
            using var prober = new VipProber(new ProbeOptions { Timeout = TimeSpan.FromMilliseconds(800) });
            var plan = prober.Prepare(new[] { new ProbeTarget(IPAddress.Parse("192.0.2.60"), "p"), new ProbeTarget(IPAddress.Parse("2001:db8:1::60"), "p") });
            var run = prober.RunAsync(plan, new HashSet<IPAddress>(), null, CancellationToken.None);
            Thread.Sleep(300); // the probes are out; the answers would be awaited now
            prober.BreakReceiveSocketsForTest();
            return Assert.Throws<LbException>(() => run.GetAwaiter().GetResult());
        }, TimeSpan.FromSeconds(30));
        Assert.Equal(ErrorId.ProbeFailed, e.Id);
        Assert.Contains("none are reported", e.Message);
    }

    [LabFact]
    public void ADownInterfaceIsReportedNotProbed()
    {
        // Use a throwaway host so the shared topology stays intact for the other tests.
        var temp = _lab.Lab.AddHost("down", "02:00:00:00:00:99", "203.0.113.9/24");
        _lab.Lab.SetLinkDown(temp);
        try
        {
            var r = _lab.Lab.RunIn(temp, () =>
            {
                using var prober = new VipProber(new ProbeOptions { Timeout = TimeSpan.FromMilliseconds(200) });
                var plan = prober.Prepare(new[] { new ProbeTarget(IPAddress.Parse("203.0.113.20"), null) });
                return (plan.Items[0].Link, prober.RunAsync(plan, new HashSet<IPAddress>(), null, CancellationToken.None).GetAwaiter().GetResult()[0]);
            });
            Assert.NotEqual(VipStatus.Free, r.Item2.Status);
            Assert.True(r.Item2.Status == VipStatus.NoRoute, $"{r.Item2.Status}: {r.Item2.Advice}");
        }
        finally { _lab.Lab.SetLinkUp(temp); }
    }

    /// <summary>The built module, run the way a user runs it: pwsh inside the deploy namespace.</summary>
    [LabFact]
    public void TheCmdletReportsEveryStatusWithTcpAndTheInventory()
    {
        var module = ModuleUnderTest.Path();
        var dir = Directory.CreateTempSubdirectory("konvoylb-reach-").FullName;
        var inventory = _lab.WriteInventory(dir);
        string addresses = string.Join(",", ReachabilityLab.Targets.Select(t => $"'{t}'"));
        var result = ModuleUnderTest.Run(_lab.Lab, _lab.Deploy.Namespace,
            $"Import-Module '{module}'; Test-LbVipReachability -Address {addresses} -InventoryPath '{inventory}' -Port {ReachabilityLab.OpenPort} " +
            "-TimeoutMilliseconds 600 6>$null | Select-Object @{n='Address';e={\"$($_.Address)\"}}, @{n='Status';e={\"$($_.Status)\"}}, @{n='Tcp';e={\"$($_.Tcp)\"}}, AnsweredByNode | ConvertTo-Json");
        var rows = JsonDocument.Parse(result).RootElement.EnumerateArray()
            .ToDictionary(e => e.GetProperty("Address").GetString()!, e => (Status: e.GetProperty("Status").GetString(), Tcp: e.GetProperty("Tcp").GetString(), Node: e.GetProperty("AnsweredByNode").GetString()));
        Assert.Equal(("Owned", "Refused", "192.0.2.21"), rows["192.0.2.50"]);
        Assert.Equal("Conflict", rows["192.0.2.40"].Status);
        Assert.Equal("Free", rows["2001:db8:1::60"].Status);
        Assert.Equal(("Reachable", "Open", (string?)null), rows["198.51.100.20"]);
        Assert.Equal(("Reachable", "Open", (string?)null), rows["2001:db8:2::20"]);
        Assert.Equal("Unreachable", rows["198.51.100.99"].Status);
        Assert.Equal("Timeout", rows["198.51.100.99"].Tcp);
        Assert.Equal("NoRoute", rows["203.0.113.5"].Status);
    }

    /// <summary>Without CAP_NET_RAW: one clear error with the fix, and the route checks still reported.</summary>
    [LabFact("setpriv")]
    public void WithoutRawSocketsOnlyRoutesAreCheckedAndTheErrorSaysWhy()
    {
        var module = ModuleUnderTest.Path();
        var output = ModuleUnderTest.Run(_lab.Lab, _lab.Deploy.Namespace,
            $"Import-Module '{module}'; $r = Test-LbVipReachability -Address 192.0.2.60, 203.0.113.5 -TimeoutMilliseconds 200 -ErrorVariable e -ErrorAction SilentlyContinue; " +
            "$e | ForEach-Object { 'ERROR ' + $_.FullyQualifiedErrorId + ' ' + $_.Exception.Message }; $r | ForEach-Object { 'RESULT ' + $_.Address + ' ' + $_.Status }",
            dropRawSockets: true);
        Assert.Contains("ERROR NeedsRawSockets", output);
        Assert.Contains("CAP_NET_RAW", output);
        Assert.Contains("RESULT 192.0.2.60 Untested", output);
        Assert.Contains("RESULT 203.0.113.5 NoRoute", output);
    }
}
