using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using static KonvoyLb.Tests.Config.EditTestKit;

namespace KonvoyLb.Tests.Config;

/// <summary>Each edit on the real Konvoy files changes exactly the expected lines and nothing else.</summary>
public class GoldenEditTests
{
    static readonly string OnPremV2 = TestFiles.Read("onprem-v1beta2.cluster.yaml");
    static readonly string OnPremV1 = TestFiles.Read("onprem-v1beta1.cluster.yaml");
    static readonly string Docker = TestFiles.Read("docker-provisioner-v1beta2.cluster.yaml");

    [Fact]
    public void AddingAnAddressToAFlowListKeepsItFlow()
    {
        var result = Edit(OnPremV2, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.168.25.100-192.168.25.110" } }));
        Assert.Equal(
            "-81:                 addresses: [192.168.25.89-192.168.25.90]\n" +
            "+81:                 addresses: [192.168.25.89-192.168.25.90, 192.168.25.100-192.168.25.110]",
            Diff(OnPremV2, result));
    }

    [Fact]
    public void ANewPoolCopiesTheStyleOfItsSibling()
    {
        var result = Edit(OnPremV2, c => ConfigChanges.SetPool(c, "bgp-pool", new PoolChange
        {
            Protocol = "bgp", Addresses = new() { "198.51.100.0/24" },
            BgpAdvertisements = new() { new BgpAdvertisement { AggregationLength = 32, LocalPref = 100 } },
        }));
        Assert.Equal(
            "+82:               - name: bgp-pool\n" +
            "+83:                 protocol: bgp\n" +
            "+84:                 addresses:\n" +
            "+85:                 - 198.51.100.0/24\n" +
            "+86:                 bgp-advertisements:\n" +
            "+87:                 - aggregation-length: 32\n" +
            "+88:                   localpref: 100",
            Diff(OnPremV2, result));
    }

    [Fact]
    public void ChangingTheProtocolTouchesOneLine()
    {
        var result = Edit(Docker, c => ConfigChanges.SetPool(c, "default", new PoolChange { Protocol = "bgp" }));
        Assert.Equal("-125:                 protocol: layer2\n+125:                 protocol: bgp", Diff(Docker, result));
    }

    [Fact]
    public void RemovingOneBlockAddressRemovesItsLine()
    {
        var two = Edit(Docker, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "172.17.2.0/24" } }));
        Assert.Equal("+128:                 - 172.17.2.0/24", Diff(Docker, two));
        var back = Edit(two, c => ConfigChanges.SetPool(c, "default", new PoolChange { RemoveAddresses = new() { "172.17.2.0/24" } }));
        Assert.Equal(Docker, back);
    }

    [Fact]
    public void DisablingTouchesOnlyTheEnabledLine()
    {
        var file = Parse(OnPremV1);
        var result = file.Plan(null, enabled: false);
        Assert.Equal("-76:       enabled: true\n+76:       enabled: false", Diff(OnPremV1, result));
    }

    [Fact]
    public void APeerAndACommunityGoBeforeThePools()
    {
        var result = Edit(OnPremV1, c =>
        {
            ConfigChanges.SetPeer(c, "192.0.2.1", new PeerChange { MyAsn = 64500, PeerAsn = 64501, HoldTime = "90s" });
            ConfigChanges.SetCommunity(c, "no-export", "65535:65281");
        });
        Assert.Equal(
            "+79:           peers:\n" +
            "+80:           - my-asn: 64500\n" +
            "+81:             peer-asn: 64501\n" +
            "+82:             peer-address: 192.0.2.1\n" +
            "+83:             hold-time: 90s\n" +
            "+84:           bgp-communities:\n" +
            "+85:             no-export: 65535:65281",
            Diff(OnPremV1, result));
    }

    [Fact]
    public void RemovingTheOnlyPoolLeavesAnEmptyList()
    {
        var result = Edit(Docker, c => ConfigChanges.RemovePool(c, "default"));
        Assert.Equal(
            "-123:               address-pools:\n" +
            "-124:               - name: default\n" +
            "-125:                 protocol: layer2\n" +
            "-126:                 addresses:\n" +
            "-127:                 - 172.17.1.200-172.17.1.250\n" +
            "+123:               address-pools: []",
            Diff(Docker, result));
    }

    [Fact]
    public void InvalidChangesAreRefusedWithEveryProblem()
    {
        var e = Assert.Throws<LbException>(() => Edit(OnPremV2, c =>
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.168.25.90-192.168.25.95", "10.0.0.9-10.0.0.1" } });
            ConfigChanges.SetPeer(c, "192.0.2.1", new PeerChange { MyAsn = 64500, HoldTime = "2s" });
        }));
        Assert.Equal(ErrorId.InvalidConfig, e.Id);
        var codes = e.Findings.Select(f => f.Code).OrderBy(c => c.ToString()).ToList();
        Assert.Equal(new[] { ErrorId.InvalidAsn, ErrorId.InvalidHoldTime, ErrorId.InvalidRange, ErrorId.OverlappingAddresses }, codes);
        var overlap = e.Findings.Single(f => f.Code == ErrorId.OverlappingAddresses);
        Assert.Contains("192.168.25.90", overlap.Message);
        Assert.NotNull(overlap.Location);
    }
}
