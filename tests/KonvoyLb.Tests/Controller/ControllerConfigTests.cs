using k8s;
using k8s.Models;
using KonvoyLb.Engine.Runtime.Controller;

namespace KonvoyLb.Tests.Controller;

/// <summary>Configuration changes: invalid (refused, located), stale (blocking Services named), deleted (kept), and a restart applying a stale one.</summary>
public sealed class ControllerConfigTests
{
    const string Config = """
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 192.0.2.10-192.0.2.19
        """;

    const string Moved = """
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 203.0.113.10-203.0.113.19
        """;

    const string Grown = """
        address-pools:
        - name: default
          protocol: layer2
          addresses:
          - 192.0.2.10-192.0.2.19
        - name: more
          protocol: layer2
          addresses:
          - 203.0.113.10-203.0.113.19
        """;

    static double Stale(ControllerHarness.Running c) => c.Controller.Metrics.ConfigStale.Value;

    [Fact]
    public async Task An_invalid_config_is_refused_with_each_problem_located_and_the_last_good_one_stays()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        await h.UpdateConfig("""
            address-pools:
            - name: default
              protocol: layer3
              addresses:
              - 192.0.2.10-192.0.2.19
              - 192.0.2.300/24
            """);
        await ControllerHarness.Until(() => c.Log.Contains("configInvalid"), "refusal logged");
        Assert.Equal(1, Stale(c));
        var problems = c.Lines.Where(l => l.Contains("configProblem")).ToList();
        Assert.True(problems.Any(l => l.Contains("UnknownProtocol") && l.Contains("metallb:3:")), string.Join("\n", problems));
        Assert.Contains(problems, l => l.Contains("192.0.2.300"));
        await h.CreateService("web");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("web"));
        // Taken back: the configuration in force is the current one, nothing is stale.
        await h.UpdateConfig(Config);
        await ControllerHarness.Until(() => Stale(c) == 0, "stale cleared by the rollback");
        Assert.False(c.Controller.State.ConfigStale);
        // Fixed and grown: applied.
        await h.UpdateConfig(Grown);
        await ControllerHarness.Until(() => Stale(c) == 0, "stale cleared");
    }

    [Fact]
    public async Task A_config_that_would_take_running_addresses_is_stale_and_names_every_blocking_service()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await h.CreateService("a");
        await h.CreateService("b");
        await h.WaitForIps("a");
        await h.WaitForIps("b");
        await h.UpdateConfig(Moved);
        await ControllerHarness.Until(() => Stale(c) == 1, "stale");
        // The metric is set as the line is logged; the harness copies log lines a moment later.
        await ControllerHarness.Until(() => c.Lines.Any(l => l.Contains("configStale")), "the stale line logged");
        var line = c.Lines.Single(l => l.Contains("configStale"));
        Assert.Contains("default/a", line);
        Assert.Contains("default/b", line);
        var e = await h.WaitForEvent("a", "ConfigStale");
        Assert.Equal("Warning", e.Type);
        Assert.Contains("192.0.2.10", e.Message);
        // The old configuration stays in force: a new service still gets an old-pool address.
        await h.CreateService("c");
        Assert.Equal(["192.0.2.12"], await h.WaitForIps("c"));
        Assert.Contains("metallb_k8s_client_config_stale_bool 1", await Scrape(c));

        // After a restart (Restart-LbController) the new configuration applies and the orphans get new addresses, with Events.
        await c.StopAsync();
        var d = h.Start(ControllerHarness.Options());
        await ControllerHarness.Until(() => h.Ips("a").Result.FirstOrDefault()?.StartsWith("203.0.113.") == true, "a moved to the new pool");
        await ControllerHarness.Until(() => d.Controller.State.Ready, "ready");
        Assert.Equal(0, Stale(d));
        Assert.StartsWith("203.0.113.", (await h.Ips("b"))[0]);
        await h.WaitForEvent("a", "ClearAssignment");
    }

    [Fact]
    public async Task A_stale_config_applies_by_itself_once_the_blocking_services_are_gone()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await h.CreateService("a");
        await h.WaitForIps("a");
        await h.UpdateConfig(Moved);
        await ControllerHarness.Until(() => Stale(c) == 1, "stale");
        await h.Client.CoreV1.DeleteNamespacedServiceAsync("a", "default");
        await ControllerHarness.Until(() => Stale(c) == 0, "applied after the release");
        await h.CreateService("new");
        Assert.Equal(["203.0.113.10"], await h.WaitForIps("new"));
    }

    [Fact]
    public async Task A_compatible_change_applies_at_once_and_gives_pending_services_an_address()
    {
        await using var h = await ControllerHarness.StartAsync("""
            address-pools:
            - name: default
              protocol: layer2
              addresses:
              - 192.0.2.10/32
            """);
        var c = h.Start(ControllerHarness.Options());
        await h.CreateService("one");
        await h.WaitForIps("one");
        await h.CreateService("two");
        var failed = await h.WaitForEvent("two", "AllocationFailed");
        Assert.Contains("no IPv4 address of pool default is free", failed.Message);
        await h.UpdateConfig(Grown);
        Assert.Equal(["192.0.2.11"], await h.WaitForIps("two"));
        Assert.Equal(0, Stale(c));
        Assert.Contains("metallb_allocator_addresses_total{pool=\"more\"} 10", await Scrape(c));
    }

    [Fact]
    public async Task A_deleted_config_map_keeps_the_last_config_in_force_and_says_so()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options());
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        await h.Client.CoreV1.DeleteNamespacedConfigMapAsync(ControllerHarness.ConfigMap, ControllerHarness.Ns);
        await ControllerHarness.Until(() => c.Log.Contains("configMissing"), "deletion logged");
        await h.CreateService("web");
        Assert.Equal(["192.0.2.10"], await h.WaitForIps("web"));
        Assert.True(c.Controller.State.Ready);
    }

    [Fact]
    public async Task Without_a_namespace_it_finds_the_config_in_kubeaddons_and_serves_readyz_once_synced()
    {
        await using var h = await ControllerHarness.StartAsync(Config);
        var c = h.Start(ControllerHarness.Options(o => o.Namespace = null));
        await ControllerHarness.Until(() => c.Controller.State.Ready, "ready");
        Assert.Equal("kubeaddons", c.Controller.State.Namespace);
        Assert.Equal(1, c.Controller.Metrics.ConfigLoaded.Value);
    }

    internal static async Task<string> Scrape(ControllerHarness.Running c)
    {
        using var buffer = new MemoryStream();
        await c.Controller.Registry.CollectAndExportAsTextAsync(buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
