using k8s;
using k8s.Models;
using KonvoyLb.Engine.Runtime.Controller;

namespace KonvoyLb.Tests.Controller;

/// <summary>The controller against the project's API server over real HTTP: allocation, release, restart, conflicts, faults, config changes.</summary>
public sealed class ControllerTests
{
    const string Config = """
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 192.0.2.10-192.0.2.19
        - name: reserved
          protocol: layer2
          auto-assign: false
          addresses:
          - 198.51.100.0/29
        """;

    [Fact]
    public async Task Allocates_the_lowest_free_address_and_says_so_in_an_event()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await h.CreateService("web");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("web"));
        var e = await h.WaitForEvent("web", "IPAllocated");
        Assert.Equal("Normal", e.Type);
        Assert.Equal("metallb-controller", e.Source.Component);
        Assert.Contains("192.0.2.10", e.Message);
        await h.CreateService("api");
        Assert.Equal(["192.0.2.11"], await h.WaitForIps("api"));
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        Assert.Contains("ipAllocated", c.Log);
    }

    [Fact]
    public async Task A_restart_with_every_address_held_writes_nothing_and_keeps_every_address()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var first = h.Start(ControllerHarness.Options());
        for (int i = 0; i < 8; i++) await h.CreateService($"s{i}");
        var before = new Dictionary<string, string>();
        for (int i = 0; i < 8; i++) before[$"s{i}"] = (await h.WaitForIps($"s{i}"))[0];
        await first.StopAsync();
        // Released s3 while the controller was down: its address must not be re-used before the restart knows who holds what.
        await h.CreateService("late");
        int writes = h.StatusWrites;
        var second = h.Start(ControllerHarness.Options());
        var late = await h.WaitForIps("late");
        await ControllerHarness.Until(() => second.Controller.State.Ready, "ready");
        Assert.Equal("192.0.2.18", late[0]);
        Assert.Equal(writes + 1, h.StatusWrites); // only the new service's status
        for (int i = 0; i < 8; i++) Assert.Equal(before[$"s{i}"], (await h.Ips($"s{i}"))[0]);
    }

    [Fact]
    public async Task Two_services_asking_for_one_address_the_holder_keeps_it_and_the_other_is_told_who_holds_it()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        h.Start(ControllerHarness.Options());
        await h.CreateService("first", lbIp: "192.0.2.15");
        Assert.Equal(["192.0.2.15"], await h.WaitForIps("first"));
        await h.CreateService("second", annotations: new() { ["metallb.universe.tf/loadBalancerIPs"] = "192.0.2.15" });
        var failed = await h.WaitForEvent("second", "AllocationFailed");
        Assert.Equal("Warning", failed.Type);
        Assert.Contains("default/first", failed.Message);
        Assert.Empty(await h.Ips("second"));
        // The holder goes: the address is free and the waiting service gets it.
        await h.Client.CoreV1.DeleteNamespacedServiceAsync("first", "default");
        Assert.Equal(["192.0.2.15"], await h.WaitForIps("second"));
    }

    [Fact]
    public async Task A_service_that_stops_being_a_LoadBalancer_loses_its_address_and_frees_it()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        h.Start(ControllerHarness.Options());
        await h.CreateService("web");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("web"));
        await h.Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("{\"spec\":{\"type\":\"ClusterIP\"}}", V1Patch.PatchType.MergePatch), "web", "default");
        await ControllerHarness.Until(() => h.Ips("web").Result.Count == 0, "status cleared");
        await h.CreateService("next");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("next"));
    }

    [Fact]
    public async Task Annotations_pools_sharing_and_another_class_are_honoured_end_to_end()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        h.Start(ControllerHarness.Options());
        await h.CreateService("pinned", annotations: new() { ["metallb.io/address-pool"] = "reserved" });
        Assert.Equal(["198.51.100.0"], await h.WaitForIps("pinned"));
        await h.CreateService("dns-tcp", port: 53, protocol: "TCP", annotations: new() { ["metallb.universe.tf/allow-shared-ip"] = "dns" });
        var tcp = await h.WaitForIps("dns-tcp");
        await h.CreateService("dns-udp", port: 53, protocol: "UDP", annotations: new() { ["metallb.universe.tf/allow-shared-ip"] = "dns" });
        Assert.Equal(tcp, await h.WaitForIps("dns-udp"));
        var other = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "other-class", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", LoadBalancerClass = "example.com/other", Ports = [new V1ServicePort { Port = 80 }] },
        };
        await h.Client.CoreV1.CreateNamespacedServiceAsync(other, "default");
        await h.CreateService("after");
        await h.WaitForIps("after");
        Assert.Empty(await h.Ips("other-class"));
        Assert.Empty(await h.Events("other-class"));
    }

    [Fact]
    public async Task A_malformed_annotation_is_an_event_on_that_service_and_nothing_else_stops()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await h.CreateService("typo", annotations: new() { ["metallb.universe.tf/loadBalancerIPs"] = "192.0.2.300" });
        var e = await h.WaitForEvent("typo", "LoadBalancerFailed");
        Assert.Contains("192.0.2.300", e.Message);
        await h.CreateService("fine");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("fine"));
        Assert.True(c.Controller.Alive);
    }

    [Fact]
    public async Task Conflict_storms_are_answered_by_reading_again_and_deciding_again()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        h.Kube.Faults.FailNext(12, 409, verb: "update", resource: "services");
        await h.CreateService("busy");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("busy", timeout: TimeSpan.FromSeconds(20)));
        Assert.True(c.Controller.Metrics.StatusWrites.WithLabels("conflict").Value >= 12);
        // A user's change racing the controller's write: the controller re-reads, decides on the new spec.
        await h.CreateService("moving");
        await h.WaitForIps("moving");
        await h.Client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("{\"spec\":{\"loadBalancerIP\":\"192.0.2.19\"}}", V1Patch.PatchType.MergePatch), "moving", "default");
        await ControllerHarness.Until(() => h.Ips("moving").Result.SequenceEqual(["192.0.2.19"]), "moved to the requested address");
    }

    [Fact]
    public async Task Dropped_watches_compaction_and_an_outage_are_survived_and_said_once()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        h.Kube.CompactHistory();
        h.Kube.Faults.DropWatches();
        await h.CreateService("after-drop");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("after-drop"));

        h.Kube.Faults.Outage = true;
        await Task.Delay(1500);
        // Created behind the controller's back while the API is down (no HTTP): it must be seen once the API is back.
        h.Kube.Put("v1", "services", "default", new
        {
            metadata = new { name = "during-outage", @namespace = "default", uid = Guid.NewGuid().ToString(), creationTimestamp = DateTime.UtcNow.ToString("o") },
            spec = new { type = "LoadBalancer", clusterIP = "10.96.7.7", clusterIPs = new[] { "10.96.7.7" }, ipFamilies = new[] { "IPv4" }, ports = new[] { new { port = 80, protocol = "TCP" } } },
        });
        await Task.Delay(1000);
        h.Kube.Faults.Outage = false;
        Assert.Equal(["192.0.2.11"], await h.WaitForIps("during-outage", timeout: TimeSpan.FromSeconds(20)));
        Assert.True(c.Controller.Alive);
        var said = c.Lines.Count(l => l.Contains("apiError") && l.Contains("services"));
        Assert.InRange(said, 1, 2); // once per kind of failure, not once per retry
    }

    [Fact]
    public async Task A_missing_RBAC_rule_is_named_once_and_work_resumes_when_it_is_granted()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        h.Kube.Faults.Forbid("update", "services/status");
        await h.CreateService("blocked");
        await ControllerHarness.Until(() => c.Log.Contains("KubeForbidden"), "the 403 logged");
        await Task.Delay(1500);
        Assert.Equal(1, c.Lines.Count(l => l.Contains("statusWriteFailed")));
        Assert.Contains("services/status", c.Lines.First(l => l.Contains("statusWriteFailed")));
        h.Kube.Faults.Allow("update", "services/status");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("blocked", timeout: TimeSpan.FromSeconds(20)));
    }
}
