using System.Diagnostics;
using k8s;

namespace KonvoyLb.Tests.Controller;

/// <summary>Leader election through a Lease: one allocator at a time, takeover after a crash within the lease, at once after a clean stop.</summary>
public sealed class ControllerLeaderTests
{
    const string Config = """
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 192.0.2.10-192.0.2.40
        """;

    static bool Leads(ControllerHarness.Running c) => c.Controller.State.Leader;

    [Fact]
    public async Task Only_the_leader_allocates_and_a_crashed_leader_is_replaced_within_the_lease()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var lease = TimeSpan.FromSeconds(3);
        var a = h.Start(ControllerHarness.Options(o => { o.LeaderElection = true; o.Lease = lease; o.Release = false; o.Identity = "a"; }));
        await ControllerHarness.Until(() => Leads(a), "a leads");
        var b = h.Start(ControllerHarness.Options(o => { o.LeaderElection = true; o.Lease = lease; o.Identity = "b"; }));
        for (int i = 0; i < 5; i++) await h.CreateService($"s{i}");
        for (int i = 0; i < 5; i++) await h.WaitForIps($"s{i}");
        await ControllerHarness.Until(() => b.Controller.State.Ready, "the standby is ready");
        Assert.False(Leads(b));
        Assert.Equal(0, b.Controller.Metrics.StatusWrites.WithLabels("ok").Value);
        Assert.Equal("a", (await h.Client.CoordinationV1.ReadNamespacedLeaseAsync("metallb-controller", ControllerHarness.Ns)).Spec.HolderIdentity);

        // a dies without a word (its Lease is left to expire), then a service arrives.
        var killed = Stopwatch.StartNew();
        await a.StopAsync();
        await h.CreateService("after");
        var ip = await h.WaitForIps("after", timeout: TimeSpan.FromSeconds(20));
        var took = killed.Elapsed;
        Assert.True(Leads(b));
        Assert.Equal("192.0.2.15", ip[0]); // b loaded every held address before its first allocation
        Assert.True(took < lease + TimeSpan.FromSeconds(2.5), $"takeover took {took.TotalSeconds:F1} s with a {lease.TotalSeconds} s lease");
        for (int i = 0; i < 5; i++) Assert.Equal($"192.0.2.1{i}", (await h.Ips($"s{i}"))[0]);
    }

    [Fact]
    public async Task A_clean_stop_releases_the_lease_and_the_standby_takes_over_at_once()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var lease = TimeSpan.FromSeconds(10);
        var a = h.Start(ControllerHarness.Options(o => { o.LeaderElection = true; o.Lease = lease; o.Identity = "a"; }));
        await ControllerHarness.Until(() => Leads(a), "a leads");
        var b = h.Start(ControllerHarness.Options(o => { o.LeaderElection = true; o.Lease = lease; o.Identity = "b"; }));
        await ControllerHarness.Until(() => b.Controller.State.Ready, "the standby is ready");
        var stopped = Stopwatch.StartNew();
        await a.StopAsync();
        await ControllerHarness.Until(() => a.Log.Contains("leaseReleased"), "released: " + a.Log, TimeSpan.FromSeconds(2));
        await ControllerHarness.Until(() => Leads(b), "b leads", TimeSpan.FromSeconds(5));
        Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(2), $"takeover took {stopped.Elapsed.TotalSeconds:F1} s after a clean stop");
        await h.CreateService("web");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("web"));
        Assert.Equal("b", (await h.Client.CoordinationV1.ReadNamespacedLeaseAsync("metallb-controller", ControllerHarness.Ns)).Spec.HolderIdentity);
    }
}
