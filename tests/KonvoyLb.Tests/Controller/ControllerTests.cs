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
}
