using System.Net;
using System.Text;
using CsCheck;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Tests.Config;

/// <summary>
/// Test-LbConfig's engine: MetalLB's own rules (reader and validator) and the cluster checks of
/// <see cref="ConfigAnalyzer"/>, each finding with its severity, code, subject and place in the outer file.
/// </summary>
public class AnalyzerTests
{
    const string F = "cluster.yaml";
    const string I = "inventory.yaml";

    // ---- kit ---------------------------------------------------------------------------------------

    /// <summary>
    /// A small cluster.yaml whose metallb addon holds <paramref name="config"/> under configInline. The
    /// config is written from column 0 and indented into the values block here; a comment line sits in the
    /// block above configInline so that locations have to follow the outer file's lines.
    /// </summary>
    static string Cluster(string config, string? pod = "10.244.0.0/16", string? service = "10.96.0.0/16",
        string? endpoint = null, bool enabled = true, string provider = "none")
    {
        var sb = new StringBuilder();
        sb.Append("kind: ClusterProvisioner\napiVersion: konvoy.mesosphere.io/v1beta2\nmetadata:\n  name: t\nspec:\n  provider: ")
            .Append(provider).Append('\n');
        sb.Append("---\nkind: ClusterConfiguration\napiVersion: konvoy.mesosphere.io/v1beta2\nmetadata:\n  name: t\nspec:\n")
            .Append("  kubernetes:\n    version: 1.20.13\n");
        if (endpoint is not null)
            sb.Append("    controlPlane:\n      controlPlaneEndpointOverride: \"").Append(endpoint).Append("\"\n      keepalived: {}\n");
        if (pod is not null || service is not null)
        {
            sb.Append("    networking:\n");
            if (pod is not null) sb.Append("      podSubnet: ").Append(pod).Append('\n');
            if (service is not null) sb.Append("      serviceSubnet: ").Append(service).Append('\n');
        }
        sb.Append("  addons:\n    - configRepository: https://github.com/mesosphere/kubernetes-base-addons\n")
            .Append("      configVersion: stable-1.20-4.4.0\n      addonsList:\n")
            .Append("        - name: localvolumeprovisioner\n          enabled: true\n")
            .Append("        - name: metallb\n          enabled: ").Append(enabled ? "true" : "false").Append('\n')
            .Append("          values: |\n            # Helm values of the chart\n            configInline:\n");
        foreach (var line in config.Split('\n'))
            sb.Append(line.Length == 0 ? "" : new string(' ', 14) + line).Append('\n');
        sb.Append("        - name: nvidia\n          enabled: false\n  version: v1.8.4\n");
        return sb.ToString();
    }

    static KonvoyFile Parse(string cluster) => KonvoyFile.FromBytes(F, Encoding.UTF8.GetBytes(cluster));

    static AnalysisInput Input(string cluster, string? inventory = null, IReadOnlyList<NodeSubnet>? subnets = null,
        IReadOnlyList<(IpRange, string)>? reserved = null)
    {
        var file = Parse(cluster);
        return new AnalysisInput
        {
            Document = file.Addon!.Document,
            AddonEnabled = file.Addon.Enabled,
            Facts = file.Facts,
            Inventory = inventory is null ? null : Inventory.Parse(I, inventory),
            NodeSubnets = subnets ?? Array.Empty<NodeSubnet>(),
            Reserved = reserved ?? Array.Empty<(IpRange, string)>(),
        };
    }

    static List<Finding> Analyze(string cluster, string? inventory = null, IReadOnlyList<NodeSubnet>? subnets = null,
        IReadOnlyList<(IpRange, string)>? reserved = null) =>
        ConfigAnalyzer.Analyze(Input(cluster, inventory, subnets, reserved));

    static NodeSubnet Net(string cidr, string? gateway = null) =>
        new(Range(cidr), gateway is null ? null : IPAddress.Parse(gateway), "test");

    static IpRange Range(string text)
    {
        Assert.True(IpRange.TryParseAddressOrRange(text, out var r, out var error), error);
        return r;
    }

    /// <summary>
    /// Where <paramref name="needle"/> stands in <paramref name="text"/> (1-based line and column), a '^' in the
    /// needle marking the exact character; the needle must occur once unless <paramref name="nth"/> picks one.
    /// </summary>
    static SourceLocation At(string text, string needle, int nth = 1, string file = F)
    {
        int caret = needle.IndexOf('^');
        string plain = needle.Replace("^", "");
        int index = -1;
        for (int i = 0; i < nth; i++)
        {
            index = text.IndexOf(plain, index + 1, StringComparison.Ordinal);
            Assert.True(index >= 0, $"'{plain}' (occurrence {i + 1}) is not in the text");
        }
        if (nth == 1) Assert.True(text.IndexOf(plain, index + 1, StringComparison.Ordinal) < 0, $"'{plain}' is not unique in the text");
        int pos = index + Math.Max(caret, 0);
        int line = 1 + text.AsSpan(0, pos).Count('\n');
        int lineStart = pos == 0 ? 0 : text.LastIndexOf('\n', pos - 1) + 1;
        return new SourceLocation(file, line, pos - lineStart + 1);
    }

    static string Dump(IEnumerable<Finding> findings) => string.Join("\n", findings.Select(f => "  " + f));

    static Finding One(IReadOnlyList<Finding> findings, ErrorId code)
    {
        var matching = findings.Where(f => f.Code == code).ToList();
        Assert.True(matching.Count == 1, $"expected one {code}, found {matching.Count}:\n{Dump(findings)}");
        return matching[0];
    }

    static List<Finding> All(IReadOnlyList<Finding> findings, ErrorId code, int count)
    {
        var matching = findings.Where(f => f.Code == code).ToList();
        Assert.True(matching.Count == count, $"expected {count} × {code}, found {matching.Count}:\n{Dump(findings)}");
        return matching;
    }

    static void None(IReadOnlyList<Finding> findings, params ErrorId[] codes) =>
        Assert.True(!findings.Any(f => codes.Contains(f.Code)), $"expected none of {string.Join(", ", codes)}:\n{Dump(findings)}");

    static void Is(Finding f, Severity severity, ErrorId code, string? subject, SourceLocation? at)
    {
        Assert.Equal(code, f.Code);
        Assert.Equal(severity, f.Severity);
        Assert.Equal(subject, f.Subject);
        Assert.Equal(at, f.Location);
    }

    static void Overlaps(Finding f, string range, string otherRange, string overlap)
    {
        Assert.Equal(range, f.Range);
        Assert.Equal(otherRange, f.OtherRange);
        Assert.Equal(overlap, f.Overlap);
    }

    const string Inv = """
        control-plane:
          hosts:
            192.0.2.10:
              ansible_host: 203.0.113.10
        node:
          hosts:
            192.0.2.11:
            2001:db8::11:
              ansible_host: "2001:db8::11"
              node_pool: worker
        bastion: {}
        all:
          vars:
            ansible_port: 22
            ansible_user: "root"
            control_plane_endpoint: "192.0.2.60:6443"
        """;

    // ---- the kit itself: locations land on the right line of the outer file --------------------------

    [Fact]
    public void LocationsPointIntoTheValuesBlockOfTheOuterFile()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  adresses: [192.0.2.0/24]");
        var f = One(Analyze(text), ErrorId.UnknownKey);
        var lines = text.Split('\n');
        Assert.Equal("                adresses: [192.0.2.0/24]", lines[f.Location!.Line - 1]);
        Assert.Equal(32, f.Location.Line);
        Assert.Equal(17, f.Location.Column);
        Assert.Equal(F, f.Location.File);
    }

    // ---- MetalLB's own rules, one case (at least) per code -------------------------------------------

    const string Pool = "address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.0/24]\n";
    const string Peer = "peers:\n- my-asn: 64512\n  peer-asn: 64500\n  peer-address: 192.0.2.1\n";

    public static TheoryData<ErrorId, string, string, int, string> MetalLbRules => new()
    {
        // code, subject, where (^ marks the column), occurrence of that text, configInline
        { ErrorId.UnknownKey, "configInline", "^address-pool:", 1, "address-pool:\n- name: web\n  protocol: layer2" },
        { ErrorId.UnknownKey, "pool web", "^adresses", 1, "address-pools:\n- name: web\n  protocol: layer2\n  adresses: [192.0.2.0/24]" },
        { ErrorId.UnknownKey, "peer 192.0.2.1", "^peer-asn: 64501", 1, Peer + "  peer-asn: 64501" },
        { ErrorId.UnknownKey, "bfd-profile fast", "^receiveInterval", 1, "bfd-profiles:\n- name: fast\n  receiveInterval: 300" },
        { ErrorId.WrongType, "pool web", "auto-assign: ^\"yes\"", 1, Pool + "  auto-assign: \"yes\"" },
        { ErrorId.WrongType, "peer 192.0.2.1", "my-asn: ^\"64512\"", 1, "peers:\n- my-asn: \"64512\"\n  peer-asn: 64500\n  peer-address: 192.0.2.1" },
        { ErrorId.WrongType, "pool web", "addresses: ^198.51.100.0/24", 1, "address-pools:\n- name: web\n  protocol: layer2\n  addresses: 198.51.100.0/24" },
        { ErrorId.WrongType, "peer 192.0.2.1", "peer-port: ^70000", 1, Peer + "  peer-port: 70000" },
        { ErrorId.WrongType, "address-pools", "address-pools: ^web", 1, "address-pools: web" },
        { ErrorId.MissingField, "pool #1", "- ^protocol: layer2", 1, "address-pools:\n- protocol: layer2\n  addresses: [192.0.2.0/24]" },
        { ErrorId.MissingField, "pool web", "- ^name: web", 1, "address-pools:\n- name: web\n  addresses: [192.0.2.0/24]" },
        { ErrorId.MissingField, "peer #1", "- ^my-asn: 64512", 1, "peers:\n- my-asn: 64512\n  peer-asn: 64500" },
        { ErrorId.MissingField, "bfd-profile #1", "- ^receive-interval: 300", 1, "bfd-profiles:\n- receive-interval: 300" },
        { ErrorId.InvalidAsn, "peer 192.0.2.1", "my-asn: ^0", 1, "peers:\n- my-asn: 0\n  peer-asn: 64500\n  peer-address: 192.0.2.1" },
        { ErrorId.InvalidAsn, "peer 2001:db8::1", "- ^my-asn: 64512", 1, "peers:\n- my-asn: 64512\n  peer-address: 2001:db8::1" },
        { ErrorId.InvalidAddress, "peer 192.0.2.256", "peer-address: ^192.0.2.256", 1, "peers:\n- my-asn: 64512\n  peer-asn: 64500\n  peer-address: 192.0.2.256" },
        { ErrorId.InvalidAddress, "peer 2001:db8::1", "router-id: ^2001:db8::10", 1, "peers:\n- my-asn: 64512\n  peer-asn: 64500\n  peer-address: 2001:db8::1\n  router-id: 2001:db8::10" },
        { ErrorId.InvalidAddress, "peer 192.0.2.1", "source-address: ^192.0.2.x", 1, Peer + "  source-address: 192.0.2.x" },
        { ErrorId.InvalidAddress, "pool web", "- ^192.0.2.7", 1, "address-pools:\n- name: web\n  protocol: layer2\n  addresses:\n  - 198.51.100.0/24\n  - 192.0.2.7" },
        { ErrorId.InvalidAddress, "pool web", "- ^2001:db8::/129", 1, "address-pools:\n- name: web\n  protocol: layer2\n  addresses:\n  - 2001:db8::/129" },
        { ErrorId.InvalidRange, "pool web", "- ^192.0.2.20-192.0.2.10", 1, "address-pools:\n- name: web\n  protocol: layer2\n  addresses:\n  - 192.0.2.20-192.0.2.10" },
        { ErrorId.InvalidRange, "pool web", "[^192.0.2.1-2001:db8::1]", 1, "address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.1-2001:db8::1]" },
        { ErrorId.InvalidDuration, "peer 192.0.2.1", "hold-time: ^90", 1, Peer + "  hold-time: 90" },
        { ErrorId.InvalidDuration, "peer 192.0.2.1", "keepalive-time: ^soon", 1, Peer + "  keepalive-time: soon" },
        { ErrorId.InvalidHoldTime, "peer 192.0.2.1", "hold-time: ^2s", 1, Peer + "  hold-time: 2s" },
        { ErrorId.KeepaliveAboveHoldTime, "peer 192.0.2.1", "keepalive-time: ^10s", 1, Peer + "  hold-time: 9s\n  keepalive-time: 10s" },
        { ErrorId.KeepaliveAboveHoldTime, "peer 192.0.2.1", "keepalive-time: ^2m", 1, Peer + "  keepalive-time: 2m" },
        { ErrorId.DuplicatePoolName, "pool web", "{name: ^web", 1, Pool + "- {name: web, protocol: bgp, addresses: [198.51.100.0/24]}" },
        { ErrorId.DuplicatePeer, "peer 192.0.2.1", "- ^{my-asn: 64512", 2,
            "peers:\n- {my-asn: 64512, peer-asn: 64500, peer-address: 192.0.2.1}\n- {my-asn: 64512, peer-asn: 64500, peer-address: 192.0.2.1}" },
        { ErrorId.DuplicateBfdProfile, "bfd-profile fast", "name: ^fast", 2, "bfd-profiles:\n- name: fast\n- name: fast" },
        { ErrorId.UnknownProtocol, "pool web", "protocol: ^arp", 1, "address-pools:\n- name: web\n  protocol: arp\n  addresses: [192.0.2.0/24]" },
        { ErrorId.AdvertisementOnLayer2Pool, "pool web", "^- localpref: 100", 1, Pool + "  bgp-advertisements:\n  - localpref: 100" },
        { ErrorId.InvalidAggregationLength, "pool routed", "aggregation-length: ^33", 1,
            "address-pools:\n- name: routed\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  bgp-advertisements:\n  - aggregation-length: 33" },
        { ErrorId.InvalidAggregationLength, "pool routed", "aggregation-length-v6: ^129", 1,
            "address-pools:\n- name: routed\n  protocol: bgp\n  addresses: [2001:db8::/64]\n  bgp-advertisements:\n  - aggregation-length-v6: 129" },
        { ErrorId.InvalidAggregationLength, "pool routed", "aggregation-length: ^16", 1,
            "address-pools:\n- name: routed\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  bgp-advertisements:\n  - aggregation-length: 16" },
        { ErrorId.InvalidAggregationLength, "pool routed", "aggregation-length-v6: ^48", 1,
            "address-pools:\n- name: routed\n  protocol: bgp\n  addresses: [198.51.100.0/24, '2001:db8::100-2001:db8::1ff']\n  bgp-advertisements:\n  - aggregation-length: 24\n    aggregation-length-v6: 48" },
        { ErrorId.InvalidCommunity, "community no-export", "no-export: ^65536:1", 1, "bgp-communities:\n  no-export: 65536:1" },
        { ErrorId.InvalidCommunity, "pool routed", "[^nope]", 1,
            "address-pools:\n- name: routed\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  bgp-advertisements:\n  - communities: [nope]" },
        { ErrorId.InvalidCommunity, "pool routed", "no-export, ^65535:65281]", 1,
            "bgp-communities:\n  no-export: 65535:65281\naddress-pools:\n- name: routed\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  bgp-advertisements:\n  - communities: [no-export, 65535:65281]" },
        { ErrorId.UnknownBfdProfile, "peer 192.0.2.1", "bfd-profile: ^slow", 1, Peer + "  bfd-profile: slow" },
        { ErrorId.InvalidBfdProfile, "bfd-profile fast", "receive-interval: ^5", 1, "bfd-profiles:\n- name: fast\n  receive-interval: 5" },
        { ErrorId.InvalidBfdProfile, "bfd-profile fast", "detect-multiplier: ^1", 1, "bfd-profiles:\n- name: fast\n  detect-multiplier: 1" },
        { ErrorId.InvalidBfdProfile, "bfd-profile fast", "minimum-ttl: ^255", 1, "bfd-profiles:\n- name: fast\n  minimum-ttl: 255" },
        { ErrorId.EbgpMultihopOnIbgp, "peer 192.0.2.1", "ebgp-multihop: ^true", 1,
            "peers:\n- my-asn: 64512\n  peer-asn: 64512\n  peer-address: 192.0.2.1\n  ebgp-multihop: true" },
        { ErrorId.InvalidNodeSelector, "peer 192.0.2.1", "- ^{key: rack", 1, Peer + "  node-selectors:\n  - match-expressions:\n    - {key: rack, operator: Within, values: [a]}" },
        { ErrorId.InvalidNodeSelector, "peer 192.0.2.1", "- ^{key: rack", 1, Peer + "  node-selectors:\n  - match-expressions:\n    - {key: rack, operator: In}" },
        { ErrorId.InvalidNodeSelector, "peer 192.0.2.1", "- ^{key: rack", 1, Peer + "  node-selectors:\n  - match-expressions:\n    - {key: rack, operator: Exists, values: [a]}" },
        { ErrorId.InvalidNodeSelector, "peer 192.0.2.1", "match-labels: ^{", 1, Peer + "  node-selectors:\n  - match-labels: {\"\": a}" },
    };

    [Theory]
    [MemberData(nameof(MetalLbRules))]
    public void MetalLbRuleIsReportedWhereItIsBroken(ErrorId code, string subject, string where, int nth, string config)
    {
        var text = Cluster(config);
        Is(One(Analyze(text), code), Severity.Error, code, subject, At(text, where, nth));
    }

    [Fact]
    public void EmptyPoolIsAnErrorWhenTheAddonIsEnabled()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: []");
        Is(One(Analyze(text), ErrorId.EmptyPool), Severity.Error, ErrorId.EmptyPool, "pool web", At(text, "addresses: ^[]"));
    }

    [Fact]
    public void EmptyPoolIsAWarningWhenTheAddonIsDisabled()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: []", enabled: false);
        Is(One(Analyze(text), ErrorId.EmptyPool), Severity.Warning, ErrorId.EmptyPool, "pool web", At(text, "addresses: ^[]"));
    }

    [Fact]
    public void APoolWithoutTheAddressesKeyIsEmptyAtThePool()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2");
        Is(One(Analyze(text), ErrorId.EmptyPool), Severity.Error, ErrorId.EmptyPool, "pool web", At(text, "- ^name: web"));
    }

    [Fact]
    public void OverlapsAcrossPoolsMixingRangesAndCidrs()
    {
        var text = Cluster("""
            address-pools:
            - name: a
              protocol: layer2
              addresses:
              - 192.0.2.0/25
            - name: b
              protocol: bgp
              addresses:
              - 192.0.2.100 - 192.0.2.200
            """);
        var f = One(Analyze(text), ErrorId.OverlappingAddresses);
        Is(f, Severity.Error, ErrorId.OverlappingAddresses, "pool b", At(text, "- ^192.0.2.100 - 192.0.2.200"));
        Overlaps(f, "192.0.2.100-192.0.2.200", "192.0.2.0/25", "192.0.2.100-192.0.2.127");
        Assert.Contains("pools a and b", f.Message);
    }

    [Fact]
    public void OverlapsInsideOnePoolInIpv6()
    {
        var text = Cluster("""
            address-pools:
            - name: v6
              protocol: layer2
              addresses:
              - 2001:db8::/120
              - 2001:db8::80-2001:db8::17f
            """);
        var f = One(Analyze(text), ErrorId.OverlappingAddresses);
        Is(f, Severity.Error, ErrorId.OverlappingAddresses, "pool v6", At(text, "- ^2001:db8::80-2001:db8::17f"));
        Overlaps(f, "2001:db8::80-2001:db8::17f", "2001:db8::/120", "2001:db8::80/121");
        Assert.Contains("inside pool v6", f.Message);
    }

    [Fact]
    public void EveryOverlapIsReportedNotJustTheFirst()
    {
        var text = Cluster("""
            address-pools:
            - name: a
              protocol: layer2
              addresses: [192.0.2.0/24, 2001:db8::/64]
            - name: b
              protocol: layer2
              addresses: [192.0.2.10-192.0.2.20, 2001:db8::1-2001:db8::2, 192.0.2.250-192.0.2.255]
            """);
        var fs = All(Analyze(text), ErrorId.OverlappingAddresses, 3);
        Assert.Equal(new[] { "192.0.2.10-192.0.2.20", "192.0.2.250-192.0.2.255", "2001:db8::1-2001:db8::2" }, fs.Select(f => f.Overlap).Order().ToArray());
        Assert.All(fs, f => Assert.Equal("pool b", f.Subject));
    }

    // ---- pod and service subnets --------------------------------------------------------------------

    [Fact]
    public void DefaultSubnetsAreUsedAndTheFindingSaysSo()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.168.5.10-192.168.5.20]", pod: null, service: null);
        var fs = Analyze(text);
        var defaults = All(fs, ErrorId.DefaultSubnetUsed, 2);
        Is(defaults[0], Severity.Information, ErrorId.DefaultSubnetUsed, "podSubnet", null);
        Is(defaults[1], Severity.Information, ErrorId.DefaultSubnetUsed, "serviceSubnet", null);
        Assert.Contains("default 192.168.0.0/16 (provider none)", defaults[0].Message);
        Assert.Contains("default 10.0.0.0/18 (provider none)", defaults[1].Message);

        // ...and the default is what the pool is checked against.
        var f = One(fs, ErrorId.PoolOverlapsPodSubnet);
        Is(f, Severity.Error, ErrorId.PoolOverlapsPodSubnet, "pool web", At(text, "[^192.168.5.10-192.168.5.20]"));
        Overlaps(f, "192.168.5.10-192.168.5.20", "192.168.0.0/16", "192.168.5.10-192.168.5.20");
    }

    [Fact]
    public void TheDockerProvisionerHasItsOwnDefaults()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [10.255.0.100-10.255.0.110, 10.254.7.0/24]",
            pod: null, service: null, provider: "docker");
        var fs = Analyze(text);
        var defaults = All(fs, ErrorId.DefaultSubnetUsed, 2);
        Assert.Contains("default 10.254.0.0/16 (provider docker)", defaults[0].Message);
        Assert.Contains("default 10.255.0.0/16 (provider docker)", defaults[1].Message);

        var service = One(fs, ErrorId.PoolOverlapsServiceSubnet);
        Is(service, Severity.Error, ErrorId.PoolOverlapsServiceSubnet, "pool web", At(text, "[^10.255.0.100-10.255.0.110"));
        Overlaps(service, "10.255.0.100-10.255.0.110", "10.255.0.0/16", "10.255.0.100-10.255.0.110");
        var pod = One(fs, ErrorId.PoolOverlapsPodSubnet);
        Is(pod, Severity.Error, ErrorId.PoolOverlapsPodSubnet, "pool web", At(text, "^10.254.7.0/24]"));
        Overlaps(pod, "10.254.7.0/24", "10.254.0.0/16", "10.254.7.0/24");
    }

    [Fact]
    public void GivenSubnetsAreNotReportedAsDefaults()
    {
        var fs = Analyze(Cluster(Pool));
        None(fs, ErrorId.DefaultSubnetUsed, ErrorId.InvalidSubnet, ErrorId.SubnetTooSmall, ErrorId.SubnetsOverlap);
    }

    [Fact]
    public void ASubnetThatIsNotACidrIsInvalid()
    {
        var text = Cluster(Pool, pod: "10.244.0.0", service: "10.96.0.1-10.96.0.9");
        var fs = All(Analyze(text), ErrorId.InvalidSubnet, 2);
        Is(fs[0], Severity.Error, ErrorId.InvalidSubnet, "podSubnet", At(text, "podSubnet: ^10.244.0.0"));
        Is(fs[1], Severity.Error, ErrorId.InvalidSubnet, "serviceSubnet", At(text, "serviceSubnet: ^10.96.0.1-10.96.0.9"));
        Assert.Contains("it is a range", fs[1].Message);
    }

    [Fact]
    public void ASubnetSmallerThanASlash24IsRefused()
    {
        var text = Cluster(Pool, pod: "10.244.0.0/24", service: "10.96.0.0/25");
        var f = One(Analyze(text), ErrorId.SubnetTooSmall);
        Is(f, Severity.Error, ErrorId.SubnetTooSmall, "serviceSubnet", At(text, "serviceSubnet: ^10.96.0.0/25"));
    }

    [Fact]
    public void TheSlash24RuleIsAboutIpv4()
    {
        var fs = Analyze(Cluster(Pool, pod: "2001:db8:a::/64", service: "2001:db8:b::/112"));
        None(fs, ErrorId.SubnetTooSmall, ErrorId.InvalidSubnet);
    }

    [Fact]
    public void PodAndServiceSubnetsMustNotOverlap()
    {
        var text = Cluster(Pool, pod: "10.0.0.0/16", service: "10.0.128.0/18");
        var f = One(Analyze(text), ErrorId.SubnetsOverlap);
        Is(f, Severity.Error, ErrorId.SubnetsOverlap, "podSubnet", At(text, "podSubnet: ^10.0.0.0/16"));
        Overlaps(f, "10.0.0.0/16", "10.0.128.0/18", "10.0.128.0/18");
    }

    [Fact]
    public void PodAndServiceSubnetsMustNotOverlapInIpv6()
    {
        var text = Cluster(Pool, pod: "2001:db8:1::/64", service: "2001:db8:1::/108");
        var f = One(Analyze(text), ErrorId.SubnetsOverlap);
        Is(f, Severity.Error, ErrorId.SubnetsOverlap, "podSubnet", At(text, "podSubnet: ^2001:db8:1::/64"));
        Overlaps(f, "2001:db8:1::/64", "2001:db8:1::/108", "2001:db8:1::/108");
    }

    [Fact]
    public void ASubnetContainingANodeOrTheControlPlaneEndpointIsAnError()
    {
        var text = Cluster(Pool, pod: "192.0.2.0/24", service: "203.0.113.0/24", endpoint: "203.0.113.5:6443");
        var fs = Analyze(text, Inv);
        var node = fs.Where(f => f.Code == ErrorId.SubnetOverlapsNode).ToList();
        // podSubnet holds both IPv4 nodes; serviceSubnet holds the control-plane VIP and a node's SSH address.
        Assert.Equal(4, node.Count);
        var pod = node.Where(f => f.Subject == "podSubnet").ToList();
        Assert.All(pod, f => Is(f, Severity.Error, ErrorId.SubnetOverlapsNode, "podSubnet", At(text, "podSubnet: ^192.0.2.0/24")));
        Assert.Equal(new[] { "192.0.2.10/32", "192.0.2.11/32" }, pod.Select(f => f.Overlap).ToArray());
        Overlaps(pod[0], "192.0.2.0/24", "192.0.2.10/32", "192.0.2.10/32");
        var service = node.Where(f => f.Subject == "serviceSubnet").ToList();
        Assert.All(service, f => Is(f, Severity.Error, ErrorId.SubnetOverlapsNode, "serviceSubnet", At(text, "serviceSubnet: ^203.0.113.0/24")));
        Assert.Equal(new[] { "203.0.113.10/32", "203.0.113.5/32" }, service.Select(f => f.Overlap).ToArray());
        Assert.Contains(service, f => f.Message.Contains("control-plane endpoint 203.0.113.5 (controlPlaneEndpointOverride)"));
    }

    [Fact]
    public void PoolsAgainstPodAndServiceSubnetsInIpv4AndIpv6()
    {
        var text = Cluster("""
            address-pools:
            - name: mixed
              protocol: layer2
              addresses:
              - 10.244.1.0/24
              - 10.96.0.10-10.96.0.20
            - name: v6
              protocol: bgp
              addresses:
              - 2001:db8:a::100-2001:db8:a::1ff
              - 2001:db8:b::/120
            """, pod: "10.244.0.0/16", service: "10.96.0.0/16");
        var fs = Analyze(text);
        var pod = One(fs, ErrorId.PoolOverlapsPodSubnet);
        Is(pod, Severity.Error, ErrorId.PoolOverlapsPodSubnet, "pool mixed", At(text, "- ^10.244.1.0/24"));
        Overlaps(pod, "10.244.1.0/24", "10.244.0.0/16", "10.244.1.0/24");
        var service = One(fs, ErrorId.PoolOverlapsServiceSubnet);
        Is(service, Severity.Error, ErrorId.PoolOverlapsServiceSubnet, "pool mixed", At(text, "- ^10.96.0.10-10.96.0.20"));
        Overlaps(service, "10.96.0.10-10.96.0.20", "10.96.0.0/16", "10.96.0.10-10.96.0.20");

        var text6 = text.Replace("10.244.0.0/16", "2001:db8:a::/64").Replace("10.96.0.0/16", "2001:db8:b::/112");
        var fs6 = Analyze(text6);
        var pod6 = One(fs6, ErrorId.PoolOverlapsPodSubnet);
        Is(pod6, Severity.Error, ErrorId.PoolOverlapsPodSubnet, "pool v6", At(text6, "- ^2001:db8:a::100-2001:db8:a::1ff"));
        Overlaps(pod6, "2001:db8:a::100/120", "2001:db8:a::/64", "2001:db8:a::100/120");
        var service6 = One(fs6, ErrorId.PoolOverlapsServiceSubnet);
        Is(service6, Severity.Error, ErrorId.PoolOverlapsServiceSubnet, "pool v6", At(text6, "- ^2001:db8:b::/120"));
        Overlaps(service6, "2001:db8:b::/120", "2001:db8:b::/112", "2001:db8:b::/120");
    }

    // ---- nodes, SSH addresses, the control-plane endpoint, reserved addresses --------------------------

    [Fact]
    public void APoolMustNotHoldANodeOrItsSshAddress()
    {
        var text = Cluster("""
            address-pools:
            - name: web
              protocol: layer2
              addresses: [192.0.2.0/28]
            - name: v6
              protocol: layer2
              addresses: ['2001:db8::10-2001:db8::1f']
            - name: public
              protocol: bgp
              addresses: [203.0.113.8/29]
            """);
        var fs = All(Analyze(text, Inv), ErrorId.PoolContainsNodeAddress, 4);

        Is(fs[0], Severity.Error, ErrorId.PoolContainsNodeAddress, "pool web", At(text, "[^192.0.2.0/28]"));
        Overlaps(fs[0], "192.0.2.0/28", "192.0.2.10/32", "192.0.2.10/32");
        Assert.Contains("node 192.0.2.10 (control-plane)", fs[0].Message);
        Is(fs[1], Severity.Error, ErrorId.PoolContainsNodeAddress, "pool web", At(text, "[^192.0.2.0/28]"));
        Overlaps(fs[1], "192.0.2.0/28", "192.0.2.11/32", "192.0.2.11/32");
        Assert.Contains("node 192.0.2.11 (node)", fs[1].Message);

        Is(fs[2], Severity.Error, ErrorId.PoolContainsNodeAddress, "pool v6", At(text, "[^'2001:db8::10-2001:db8::1f']"));
        Overlaps(fs[2], "2001:db8::10/124", "2001:db8::11/128", "2001:db8::11/128");

        Is(fs[3], Severity.Error, ErrorId.PoolContainsNodeAddress, "pool public", At(text, "[^203.0.113.8/29]"));
        Overlaps(fs[3], "203.0.113.8/29", "203.0.113.10/32", "203.0.113.10/32");
        Assert.Contains("SSH address 203.0.113.10 of node 192.0.2.10", fs[3].Message);
    }

    [Fact]
    public void TheControlPlaneEndpointOverrideWinsOverTheInventory()
    {
        // The pool holds both the override (.50) and the inventory's control_plane_endpoint (.60): only the override counts.
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.48/28]", endpoint: "192.0.2.50:6443");
        var f = One(Analyze(text, Inv), ErrorId.PoolContainsControlPlaneEndpoint);
        Is(f, Severity.Error, ErrorId.PoolContainsControlPlaneEndpoint, "pool web", At(text, "[^192.0.2.48/28]"));
        Overlaps(f, "192.0.2.48/28", "192.0.2.50/32", "192.0.2.50/32");
        Assert.Contains("control-plane endpoint 192.0.2.50 (controlPlaneEndpointOverride)", f.Message);
    }

    [Fact]
    public void WithoutAnOverrideTheInventorysControlPlaneEndpointIsChecked()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.48/28]");
        var f = One(Analyze(text, Inv), ErrorId.PoolContainsControlPlaneEndpoint);
        Is(f, Severity.Error, ErrorId.PoolContainsControlPlaneEndpoint, "pool web", At(text, "[^192.0.2.48/28]"));
        Overlaps(f, "192.0.2.48/28", "192.0.2.60/32", "192.0.2.60/32");
        Assert.Contains("control-plane endpoint 192.0.2.60 (control_plane_endpoint)", f.Message);
    }

    [Fact]
    public void AnIpv6ControlPlaneEndpointIsChecked()
    {
        var text = Cluster("address-pools:\n- name: v6\n  protocol: layer2\n  addresses: [2001:db8::/120]", endpoint: "[2001:db8::50]:6443");
        var f = One(Analyze(text), ErrorId.PoolContainsControlPlaneEndpoint);
        Is(f, Severity.Error, ErrorId.PoolContainsControlPlaneEndpoint, "pool v6", At(text, "[^2001:db8::/120]"));
        Overlaps(f, "2001:db8::/120", "2001:db8::50/128", "2001:db8::50/128");

        var bare = Cluster("address-pools:\n- name: v6\n  protocol: layer2\n  addresses: [2001:db8::/120]", endpoint: "2001:db8::50");
        Assert.Equal("2001:db8::50/128", One(Analyze(bare), ErrorId.PoolContainsControlPlaneEndpoint).Overlap);
    }

    [Fact]
    public void AMalformedControlPlaneEndpointIsSkippedNotACrash()
    {
        var text = Cluster("address-pools:\n- name: v6\n  protocol: layer2\n  addresses: [2001:db8::/120]", endpoint: "[2001:db8::50");
        None(Analyze(text), ErrorId.PoolContainsControlPlaneEndpoint);
        var host = Cluster(Pool, endpoint: "api.example.com:6443");
        None(Analyze(host), ErrorId.PoolContainsControlPlaneEndpoint);
    }

    [Fact]
    public void ReservedAddressesAreKeptOutOfPools()
    {
        var text = Cluster("""
            address-pools:
            - name: web
              protocol: layer2
              addresses: [192.0.2.0/24]
            - name: v6
              protocol: bgp
              addresses: [2001:db8::/120]
            """);
        var reserved = new[] { "192.0.2.1", "192.0.2.200-192.0.2.220", "2001:db8::/126", "198.51.100.0/24" }
            .Select(r => (Range(r), $"reserved address {r}")).ToList();
        var fs = All(Analyze(text, reserved: reserved), ErrorId.PoolOverlapsReserved, 3);
        Is(fs[0], Severity.Error, ErrorId.PoolOverlapsReserved, "pool web", At(text, "[^192.0.2.0/24]"));
        Overlaps(fs[0], "192.0.2.0/24", "192.0.2.1/32", "192.0.2.1/32");
        Assert.Contains("reserved address 192.0.2.1", fs[0].Message);
        Is(fs[1], Severity.Error, ErrorId.PoolOverlapsReserved, "pool web", At(text, "[^192.0.2.0/24]"));
        Overlaps(fs[1], "192.0.2.0/24", "192.0.2.200-192.0.2.220", "192.0.2.200-192.0.2.220");
        Is(fs[2], Severity.Error, ErrorId.PoolOverlapsReserved, "pool v6", At(text, "[^2001:db8::/120]"));
        Overlaps(fs[2], "2001:db8::/120", "2001:db8::/126", "2001:db8::/126");
    }

    [Fact]
    public void AHostThatIsNotAnAddressIsAWarningInTheInventory()
    {
        const string inventory = "node:\n  hosts:\n    192.0.2.11:\n    worker-1.example.com:\n      ansible_host: 192.0.2.12\n";
        var fs = Analyze(Cluster(Pool), inventory);
        Is(One(fs, ErrorId.InventoryHostNotAddress), Severity.Warning, ErrorId.InventoryHostNotAddress,
            "node worker-1.example.com", At(inventory, "^worker-1.example.com:", file: I));
        // Its SSH address is still checked.
        Assert.Contains(fs, f => f.Code == ErrorId.PoolContainsNodeAddress && f.Overlap == "192.0.2.12/32"
            && f.Message.Contains("SSH address 192.0.2.12 of node worker-1.example.com"));
    }

    // ---- the nodes' subnet -----------------------------------------------------------------------------

    [Fact]
    public void NetworkBroadcastAndGatewayOfTheNodeSubnet()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.0/24]");
        var fs = Analyze(text, subnets: new[] { Net("192.0.2.0/24", "192.0.2.1") });
        var at = At(text, "[^192.0.2.0/24]");
        var network = One(fs, ErrorId.PoolContainsNetworkAddress);
        Is(network, Severity.Warning, ErrorId.PoolContainsNetworkAddress, "pool web", at);
        Overlaps(network, "192.0.2.0/24", "192.0.2.0/32", "192.0.2.0/32");
        var broadcast = One(fs, ErrorId.PoolContainsBroadcastAddress);
        Is(broadcast, Severity.Warning, ErrorId.PoolContainsBroadcastAddress, "pool web", at);
        Overlaps(broadcast, "192.0.2.0/24", "192.0.2.255/32", "192.0.2.255/32");
        var gateway = One(fs, ErrorId.PoolContainsGateway);
        Is(gateway, Severity.Error, ErrorId.PoolContainsGateway, "pool web", at);
        Overlaps(gateway, "192.0.2.0/24", "192.0.2.1/32", "192.0.2.1/32");
        None(fs, ErrorId.PoolOutsideNodeSubnet, ErrorId.NodeSubnetUnknown);
    }

    [Fact]
    public void AvoidBuggyIpsDowngradesNetworkAndBroadcastToInformation()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  avoid-buggy-ips: true\n  addresses: [192.0.2.0/24]");
        var fs = Analyze(text, subnets: new[] { Net("192.0.2.0/24") });
        Is(One(fs, ErrorId.PoolContainsNetworkAddress), Severity.Information, ErrorId.PoolContainsNetworkAddress, "pool web", At(text, "[^192.0.2.0/24]"));
        Is(One(fs, ErrorId.PoolContainsBroadcastAddress), Severity.Information, ErrorId.PoolContainsBroadcastAddress, "pool web", At(text, "[^192.0.2.0/24]"));
    }

    [Fact]
    public void AvoidBuggyIpsDoesNotSkipTheNetworkAddressOfASmallerSubnet()
    {
        // 192.0.2.128 is the /25's network address but does not end in .0, so MetalLB would hand it out.
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  avoid-buggy-ips: true\n  addresses: [192.0.2.128/25]");
        var fs = Analyze(text, subnets: new[] { Net("192.0.2.128/25") });
        var network = One(fs, ErrorId.PoolContainsNetworkAddress);
        Assert.Equal(Severity.Warning, network.Severity);
        Assert.Equal("192.0.2.128/32", network.Overlap);
        Assert.Equal(Severity.Information, One(fs, ErrorId.PoolContainsBroadcastAddress).Severity);
    }

    [Fact]
    public void Ipv6SubnetsHaveNoNetworkOrBroadcastAddress()
    {
        var text = Cluster("address-pools:\n- name: v6\n  protocol: layer2\n  addresses: [2001:db8::/120]");
        var fs = Analyze(text, subnets: new[] { Net("2001:db8::/64", "2001:db8::1") });
        None(fs, ErrorId.PoolContainsNetworkAddress, ErrorId.PoolContainsBroadcastAddress, ErrorId.PoolOutsideNodeSubnet);
        var gateway = One(fs, ErrorId.PoolContainsGateway);
        Is(gateway, Severity.Error, ErrorId.PoolContainsGateway, "pool v6", At(text, "[^2001:db8::/120]"));
        Overlaps(gateway, "2001:db8::/120", "2001:db8::1/128", "2001:db8::1/128");
    }

    [Fact]
    public void ALayer2PoolOutsideOrPartlyOutsideTheNodeSubnetIsAWarningButABgpPoolIsNot()
    {
        var text = Cluster("""
            address-pools:
            - name: inside
              protocol: layer2
              addresses: [192.0.2.10-192.0.2.20]
            - name: outside
              protocol: layer2
              addresses: [198.51.100.0/24]
            - name: straddling
              protocol: layer2
              addresses: [192.0.2.120-192.0.2.135]
            - name: routed
              protocol: bgp
              addresses: [203.0.113.0/24]
            - name: outside6
              protocol: layer2
              addresses: [2001:db8:1::/120]
            """);
        var fs = All(Analyze(text, subnets: new[] { Net("192.0.2.0/25"), Net("2001:db8::/64") }), ErrorId.PoolOutsideNodeSubnet, 3);

        Is(fs[0], Severity.Warning, ErrorId.PoolOutsideNodeSubnet, "pool outside", At(text, "[^198.51.100.0/24]"));
        Assert.Equal("198.51.100.0/24", fs[0].Range);
        Assert.Equal("192.0.2.0/25, 2001:db8::/64", fs[0].OtherRange);
        Assert.Null(fs[0].Overlap);
        Assert.Contains("' is outside the nodes' subnet", fs[0].Message);

        Is(fs[1], Severity.Warning, ErrorId.PoolOutsideNodeSubnet, "pool straddling", At(text, "[^192.0.2.120-192.0.2.135]"));
        Assert.Equal("192.0.2.120-192.0.2.135", fs[1].Range);
        Assert.Contains("is partly outside", fs[1].Message);

        Is(fs[2], Severity.Warning, ErrorId.PoolOutsideNodeSubnet, "pool outside6", At(text, "[^2001:db8:1::/120]"));
    }

    [Fact]
    public void AdjacentNodeSubnetsCoverAPoolTogether()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.100-192.0.2.200]");
        None(Analyze(text, subnets: new[] { Net("192.0.2.128/25"), Net("192.0.2.0/25") }), ErrorId.PoolOutsideNodeSubnet);
    }

    [Fact]
    public void AnIpv6PoolIsNotJudgedAgainstIpv4NodeSubnetsOnly()
    {
        // Only the IPv4 subnet is known: the IPv6 range's reachability is unknown, not "outside".
        var text = Cluster("address-pools:\n- name: dual\n  protocol: layer2\n  addresses: [192.0.2.10-192.0.2.20, 2001:db8::/120]");
        var fs = Analyze(text, subnets: new[] { Net("192.0.2.0/24") });
        None(fs, ErrorId.PoolOutsideNodeSubnet);
        var unknown = One(fs, ErrorId.NodeSubnetUnknown);
        Is(unknown, Severity.Information, ErrorId.NodeSubnetUnknown, null, null);
        Assert.Contains("IPv6", unknown.Message);
    }

    [Fact]
    public void WithoutNodeSubnetsLayer2ReachabilityIsUnknown()
    {
        var fs = Analyze(Cluster(Pool));
        var f = One(fs, ErrorId.NodeSubnetUnknown);
        Is(f, Severity.Information, ErrorId.NodeSubnetUnknown, null, null);
        Assert.Contains("-NodeSubnet", f.Message);
        None(Analyze(Cluster("peers: []")), ErrorId.NodeSubnetUnknown);
    }

    [Fact]
    public void MergeJoinsAdjacentAndOverlappingRangesPerFamily()
    {
        var merged = ConfigAnalyzer.Merge(new[] { "192.0.2.128/25", "2001:db8::/64", "192.0.2.0/25", "192.0.2.10-192.0.2.20",
            "198.51.100.0/24", "2001:db8:0:1::/64", "255.255.255.255/32", "255.255.255.0/24" }.Select(Range));
        Assert.Equal(new[] { "192.0.2.0/24", "198.51.100.0/24", "255.255.255.0/24", "2001:db8::/63" }, merged.Select(r => r.ToString()).ToArray());
        Assert.Single(ConfigAnalyzer.Merge(new[] { Range("::/0"), Range("2001:db8::/32") }));
    }

    [Fact]
    public void MergeIsASortedDisjointUnion()
    {
        var gen = Gen.Select(Gen.UInt[0, 4000], Gen.UInt[0, 300], (first, length) => new IpRange(System.Net.Sockets.AddressFamily.InterNetwork, first, first + length))
            .Array[0, 12];
        gen.Sample(ranges =>
        {
            var merged = ConfigAnalyzer.Merge(ranges);
            for (int i = 1; i < merged.Count; i++) Assert.True(merged[i - 1].Last + 1 < merged[i].First, "not sorted, disjoint and non-adjacent");
            for (uint a = 0; a < 4400; a += 7)
                Assert.Equal(ranges.Any(r => r.First <= a && a <= r.Last), merged.Any(r => r.First <= a && a <= r.Last));
        }, iter: 200);
    }

    // ---- capacity and pools --------------------------------------------------------------------------

    [Fact]
    public void CapacityHonoursAvoidBuggyIpsAutoAssignAndBigIpv6Counts()
    {
        var text = Cluster("""
            address-pools:
            - name: buggy
              protocol: layer2
              avoid-buggy-ips: true
              addresses: [192.0.2.0/24, 198.51.100.250-198.51.100.255]
            - name: manual
              protocol: layer2
              auto-assign: false
              addresses: [203.0.113.10-203.0.113.19]
            - name: huge
              protocol: bgp
              addresses: [2001:db8:8000::/64, 2001:db8::/33]
            - name: one
              protocol: layer2
              addresses: [203.0.113.1-203.0.113.1]
            """);
        var fs = Analyze(text);
        var pools = All(fs, ErrorId.PoolCapacity, 4);
        Is(pools[0], Severity.Information, ErrorId.PoolCapacity, "pool buggy", At(text, "- ^name: buggy"));
        Assert.StartsWith("259 usable addresses (avoid-buggy-ips skips .0 and .255)", pools[0].Message);
        Is(pools[1], Severity.Information, ErrorId.PoolCapacity, "pool manual", At(text, "- ^name: manual"));
        Assert.StartsWith("10 usable addresses; auto-assign is off", pools[1].Message);
        Is(pools[2], Severity.Information, ErrorId.PoolCapacity, "pool huge", At(text, "- ^name: huge"));
        // 2^64 + 2^95
        Assert.StartsWith("39614081275578912870481526784 usable addresses", pools[2].Message);
        Assert.StartsWith("1 usable address", pools[3].Message);
        Assert.DoesNotContain("addresses", pools[3].Message);

        var total = One(fs, ErrorId.TotalCapacity);
        Is(total, Severity.Information, ErrorId.TotalCapacity, null, null);
        // 259 + 10 + 2^64 + 2^95 + 1 in all; the 10 of the manual pool are not handed out automatically.
        Assert.Equal("39614081275578912870481527054 LoadBalancer service addresses in all pools, 39614081275578912870481527044 of them handed out automatically", total.Message);
    }

    [Fact]
    public void CapacitySaturatesInsteadOfOverflowing()
    {
        var fs = Analyze(Cluster("address-pools:\n- name: all\n  protocol: bgp\n  addresses: ['::/0', 2001:db8::/32]"));
        Assert.StartsWith($"{UInt128.MaxValue} usable addresses", One(fs, ErrorId.PoolCapacity).Message);
    }

    [Fact]
    public void NoPoolsIsAWarningWhenTheAddonIsEnabled()
    {
        var text = Cluster(Peer);
        Is(One(Analyze(text), ErrorId.NoPools), Severity.Warning, ErrorId.NoPools, null, At(text, "^peers:"));
        None(Analyze(Cluster(Peer, enabled: false)), ErrorId.NoPools);
    }

    [Fact]
    public void NoPoolsPointsAtAnEmptyConfigInline()
    {
        var text = Cluster("");
        var f = One(Analyze(text), ErrorId.NoPools);
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Equal(At(text, "configInline:").Line, f.Location!.Line);
        None(Analyze(text), ErrorId.PoolCapacity, ErrorId.TotalCapacity);
    }

    // ---- all problems at once ------------------------------------------------------------------------

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        var text = Cluster("""
            peers:
            - my-asn: 0
              peer-asn: 64500
              peer-address: 192.0.2.1
              hold-time: 1s
              bfd-profile: missing
            bgp-communities:
              bad: 1:2:3
            address-pools:
            - name: web
              protocol: layer2
              adresses: []
              addresses:
              - 192.0.2.0/26
              - 192.0.2.40-192.0.2.30
              - 10.244.3.0/24
            - name: web
              protocol: bgp
              addresses: [192.0.2.32/27, 2001:db8::/64]
              bgp-advertisements:
              - aggregation-length: 20
                communities: [bad]
            bfd-profiles:
            - name: fast
              echo-interval: 1
            """, service: "10.96.0.0/28", endpoint: "192.0.2.50:6443");
        var fs = Analyze(text, Inv, new[] { Net("192.0.2.0/24", "192.0.2.1") }, new[] { (Range("2001:db8::5"), "reserved address 2001:db8::5") });
        var expected = new[]
        {
            ErrorId.UnknownKey, ErrorId.InvalidAsn, ErrorId.InvalidHoldTime, ErrorId.UnknownBfdProfile, ErrorId.InvalidCommunity,
            ErrorId.InvalidRange, ErrorId.DuplicatePoolName, ErrorId.InvalidAggregationLength, ErrorId.InvalidBfdProfile,
            ErrorId.OverlappingAddresses, ErrorId.SubnetTooSmall, ErrorId.PoolOverlapsPodSubnet, ErrorId.PoolContainsNodeAddress,
            ErrorId.PoolContainsControlPlaneEndpoint, ErrorId.PoolContainsGateway, ErrorId.PoolContainsNetworkAddress,
            ErrorId.PoolOverlapsReserved, ErrorId.PoolOutsideNodeSubnet, ErrorId.PoolCapacity, ErrorId.TotalCapacity,
        };
        Assert.Empty(expected.Except(fs.Select(f => f.Code)));
        Assert.Equal(2, fs.Count(f => f.Code == ErrorId.InvalidCommunity));     // the bad value and its use
        Assert.Equal(3, fs.Count(f => f.Code == ErrorId.PoolContainsNodeAddress)); // nodes .10 and .11 in 192.0.2.0/26, 2001:db8::11
        // Each lands on its own line of the outer file.
        Assert.Equal(At(text, "^adresses").Line, One(fs, ErrorId.UnknownKey).Location!.Line);
        Assert.Equal(At(text, "^192.0.2.40-192.0.2.30").Line, One(fs, ErrorId.InvalidRange).Location!.Line);
        Assert.Equal(At(text, "^192.0.2.32/27").Line, One(fs, ErrorId.OverlappingAddresses).Location!.Line);
        Assert.Equal(At(text, "^10.244.3.0/24").Line, One(fs, ErrorId.PoolOverlapsPodSubnet).Location!.Line);
        Assert.Equal(At(text, "echo-interval: ^1").Line, One(fs, ErrorId.InvalidBfdProfile).Location!.Line);
        Assert.Equal(At(text, "serviceSubnet: ^10.96.0.0/28"), One(fs, ErrorId.SubnetTooSmall).Location);
    }

    // ---- the input for a cluster.yaml on disk -----------------------------------------------------------

    [Fact]
    public void ForKonvoyFileFindsTheInventoryBesideTheClusterFile()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.8/29]");
        var path = TestFiles.Temp(text);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(path)!, "inventory.yaml"), Inv);
        var input = ConfigAnalyzer.ForKonvoyFile(KonvoyFile.Load(path), nodeSubnets: new[] { Net("192.0.2.0/24") });
        Assert.NotNull(input.Inventory);
        Assert.True(input.AddonEnabled);
        Assert.Single(input.NodeSubnets);
        var fs = ConfigAnalyzer.Analyze(input);
        var node = All(fs, ErrorId.PoolContainsNodeAddress, 2);
        Is(node[0], Severity.Error, ErrorId.PoolContainsNodeAddress, "pool web", At(text, "[^192.0.2.8/29]", file: path));
    }

    [Fact]
    public void ForKonvoyFileTakesAnInventoryPathAndReservedAddresses()
    {
        var text = Cluster("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [198.51.100.0/24]");
        var path = TestFiles.Temp(text);
        var inventory = TestFiles.Temp("node:\n  hosts:\n    198.51.100.7:\n", "hosts.yaml");
        var input = ConfigAnalyzer.ForKonvoyFile(KonvoyFile.Load(path), inventory, new[] { (Range("198.51.100.9"), "reserved address 198.51.100.9") });
        var fs = ConfigAnalyzer.Analyze(input);
        Assert.Equal(inventory, input.Inventory!.Path);
        Assert.Equal("198.51.100.7/32", One(fs, ErrorId.PoolContainsNodeAddress).Overlap);
        Assert.Equal("198.51.100.9/32", One(fs, ErrorId.PoolOverlapsReserved).Overlap);
    }

    [Fact]
    public void ForKonvoyFileWithoutAnAddonChecksTheSubnetsOnly()
    {
        var text = TestFiles.Read("aws-reference-v1beta2.cluster.yaml");
        var path = TestFiles.Temp(text);
        var input = ConfigAnalyzer.ForKonvoyFile(KonvoyFile.Load(path));
        Assert.False(input.AddonEnabled);
        var fs = ConfigAnalyzer.Analyze(input);
        Assert.DoesNotContain(fs, f => f.Severity == Severity.Error);
        None(fs, ErrorId.NoPools, ErrorId.PoolCapacity);
    }

    [Fact]
    public void TheRealOnPremFilesAreClean()
    {
        var path = TestFiles.Fixture("onprem-v1beta2.cluster.yaml");
        var input = ConfigAnalyzer.ForKonvoyFile(KonvoyFile.Load(path), TestFiles.Fixture("onprem.inventory.yaml"),
            nodeSubnets: new[] { Net("192.168.25.0/24", "192.168.25.1") });
        Assert.Equal(4, input.Inventory!.Hosts.Count);
        var fs = ConfigAnalyzer.Analyze(input);
        Assert.True(fs.All(f => f.Severity == Severity.Information), Dump(fs));
        var capacity = One(fs, ErrorId.PoolCapacity);
        Is(capacity, Severity.Information, ErrorId.PoolCapacity, "pool default", new SourceLocation(path, 78, 17));
        Assert.StartsWith("2 usable addresses", capacity.Message);
    }

    [Fact]
    public void APoolOnANodeOfTheRealInventoryIsFound()
    {
        var text = TestFiles.Read("onprem-v1beta2.cluster.yaml").Replace("[192.168.25.89-192.168.25.90]", "[192.168.25.130-192.168.25.140]");
        var file = KonvoyFile.FromBytes("onprem.yaml", Encoding.UTF8.GetBytes(text));
        var fs = ConfigAnalyzer.Analyze(new AnalysisInput
        {
            Document = file.Addon!.Document, Facts = file.Facts,
            Inventory = Inventory.Load(TestFiles.Fixture("onprem.inventory.yaml")),
        });
        var nodes = All(fs, ErrorId.PoolContainsNodeAddress, 4);
        Assert.All(nodes, f => Assert.Equal(new SourceLocation("onprem.yaml", 81, 29), f.Location));
        Assert.Equal(new[] { "192.168.25.131/32", "192.168.25.132/32", "192.168.25.133/32", "192.168.25.134/32" }, nodes.Select(f => f.Overlap).ToArray());
        Assert.Equal("192.168.25.139/32", One(fs, ErrorId.PoolContainsControlPlaneEndpoint).Overlap);
    }

    // ---- addresses as users give them on the command line ---------------------------------------------

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1/32")]
    [InlineData(" 192.0.2.1 ", "192.0.2.1/32")]
    [InlineData("192.0.2.0/24", "192.0.2.0/24")]
    [InlineData("192.0.2.10 - 192.0.2.20", "192.0.2.10-192.0.2.20")]
    [InlineData("2001:db8::1", "2001:db8::1/128")]
    [InlineData("2001:db8::/64", "2001:db8::/64")]
    [InlineData("2001:db8::10-2001:db8::1f", "2001:db8::10/124")]
    public void AddressesCidrsAndRangesParse(string text, string expected)
    {
        Assert.True(IpRange.TryParseAddressOrRange(text, out var r, out var error), error);
        Assert.Equal(expected, r.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("gateway")]
    [InlineData("10.1")]          // IPAddress.TryParse would take it as 10.0.0.1
    [InlineData("3221225985")]    // ...and this as 192.0.2.1
    [InlineData("0xc0000201")]
    [InlineData("192.0.2.01")]
    [InlineData("fe80::1%eth0")]
    [InlineData("192.0.2.20-192.0.2.10")]
    [InlineData("192.0.2.0/33")]
    public void WhatIsNotAnAddressCidrOrRangeIsRefused(string text)
    {
        Assert.False(IpRange.TryParseAddressOrRange(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    // ---- inventory.yaml ------------------------------------------------------------------------------

    [Fact]
    public void InventoryHostsWithEmptyValuesChildrenAndAnEmptyBastion()
    {
        const string text = """
            control-plane:
              hosts:
                10.0.50.230:
                  ansible_host: 198.51.100.30
                  ansible_port: 2222
            node:
              hosts:
                10.0.50.232:
                10.0.50.233: ~
                10.0.50.234: {}
            bastion: {}
            gpu:
            all:
              children:
                storage:
                  hosts:
                    2001:db8::40:
                      ansible_host: "2001:db8::40"
                  children:
                    cold:
                      hosts:
                        10.0.50.235:
                node:
              vars:
                ansible_user: centos
                control_plane_endpoint: "10.0.50.240:6443"
            """;
        var inv = Inventory.Parse(I, text);
        Assert.Equal(I, inv.Path);
        Assert.Equal(new[] { "10.0.50.230", "10.0.50.232", "10.0.50.233", "10.0.50.234", "2001:db8::40", "10.0.50.235" },
            inv.Hosts.Select(h => h.Address).ToArray());
        Assert.Equal(new[] { "control-plane", "node", "node", "node", "storage", "cold" }, inv.Hosts.Select(h => h.Group).ToArray());
        Assert.Equal(new[] { "198.51.100.30", null, null, null, "2001:db8::40", null }, inv.Hosts.Select(h => h.AnsibleHost).ToArray());
        Assert.All(inv.Hosts, h => Assert.NotNull(h.IP));
        Assert.Equal(IPAddress.Parse("2001:db8::40"), inv.Hosts[4].IP);
        Assert.Equal(At(text, "^10.0.50.232:", file: I), inv.Hosts[1].Location);
        Assert.Equal(At(text, "^10.0.50.235:", file: I), inv.Hosts[5].Location);
        Assert.Equal("10.0.50.240:6443", inv.ControlPlaneEndpoint);
        Assert.Equal(At(text, "control_plane_endpoint: ^\"10.0.50.240:6443\"", file: I), inv.ControlPlaneEndpointLocation);
    }

    [Fact]
    public void AHostInTwoGroupsIsCountedOnce()
    {
        var inv = Inventory.Parse(I, "control-plane:\n  hosts:\n    192.0.2.10:\nnode:\n  hosts:\n    192.0.2.10:\n    192.0.2.11:\n");
        Assert.Equal(new[] { ("192.0.2.10", "control-plane"), ("192.0.2.11", "node") }, inv.Hosts.Select(h => (h.Address, h.Group)).ToArray());
        Assert.Null(inv.ControlPlaneEndpoint);
        Assert.Null(inv.ControlPlaneEndpointLocation);
    }

    [Fact]
    public void TheRealInventoryParses()
    {
        var inv = Inventory.Load(TestFiles.Fixture("onprem.inventory.yaml"));
        Assert.Equal(new[] { "192.168.25.131", "192.168.25.132", "192.168.25.133", "192.168.25.134" }, inv.Hosts.Select(h => h.Address).ToArray());
        Assert.Equal(new[] { "control-plane", "node", "node", "node" }, inv.Hosts.Select(h => h.Group).ToArray());
        Assert.Null(inv.ControlPlaneEndpoint);
    }

    [Fact]
    public void AnInventoryThatIsNotYamlIsRefusedWithItsPlace()
    {
        var e = Assert.Throws<LbException>(() => Inventory.Parse(I, "node:\n  hosts:\n    192.0.2.10: [unclosed\n"));
        Assert.Equal(ErrorId.InventoryNotYaml, e.Id);
        Assert.Equal(I, e.Location!.File);
        Assert.InRange(e.Location.Line, 3, 4);
    }

    [Fact]
    public void AnInventoryThatIsNotAMapOfGroupsIsRefused()
    {
        var e = Assert.Throws<LbException>(() => Inventory.Parse(I, "- 192.0.2.10\n- 192.0.2.11\n"));
        Assert.Equal(ErrorId.InventoryNotYaml, e.Id);
        Assert.Equal(new SourceLocation(I, 1, 1), e.Location);
    }

    [Fact]
    public void AMissingInventoryIsNotFound()
    {
        var e = Assert.Throws<LbException>(() => Inventory.Load(Path.Combine(Path.GetTempPath(), "konvoylb-none", "inventory.yaml")));
        Assert.Equal(ErrorId.FileNotFound, e.Id);
    }

    // ---- plain MetalLB config files and ConfigMaps -------------------------------------------------

    [Fact]
    public void ABareConfigFileIsAnalysedInPlace()
    {
        const string text = """
            # MetalLB 0.12 config
            peers:
            - my-asn: 64512
              peer-asn: 64500
              peer-address: 192.0.2.1
            address-pools:
            - name: a
              protocol: bgp
              addresses:
              - 198.51.100.0/24
              - 198.51.100.128-198.51.100.130
            """;
        var path = TestFiles.Temp(text, "config.yaml");
        var fs = ConfigAnalyzer.Analyze(new AnalysisInput { Document = MetalLbConfigFile.Load(path) });
        var f = One(fs, ErrorId.OverlappingAddresses);
        Is(f, Severity.Error, ErrorId.OverlappingAddresses, "pool a", At(text, "- ^198.51.100.128-198.51.100.130", file: path));
        Overlaps(f, "198.51.100.128-198.51.100.130", "198.51.100.0/24", "198.51.100.128-198.51.100.130");
        Is(One(fs, ErrorId.PoolCapacity), Severity.Information, ErrorId.PoolCapacity, "pool a", At(text, "- ^name: a", file: path));
    }

    [Fact]
    public void AConfigMapManifestIsAnalysedAtTheOuterLines()
    {
        const string text = """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: metallb-system
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              namespace: metallb-system
              name: config
            data:
              config: |
                # the pools
                address-pools:
                - name: default
                  protocol: layer2
                  adresses:
                  - 192.0.2.0/24
                - name: v6
                  protocol: layer2
                  addresses:
                  - 2001:db8::/64
                  - 2001:db8::ff-2001:db8::1ff
            """;
        var path = TestFiles.Temp(text, "metallb-config.yaml");
        var fs = ConfigAnalyzer.Analyze(new AnalysisInput { Document = MetalLbConfigFile.Load(path) });
        Is(One(fs, ErrorId.UnknownKey), Severity.Error, ErrorId.UnknownKey, "pool default", At(text, "^adresses", file: path));
        Is(One(fs, ErrorId.EmptyPool), Severity.Error, ErrorId.EmptyPool, "pool default", At(text, "- ^name: default", file: path));
        var overlap = One(fs, ErrorId.OverlappingAddresses);
        Is(overlap, Severity.Error, ErrorId.OverlappingAddresses, "pool v6", At(text, "- ^2001:db8::ff-2001:db8::1ff", file: path));
        Overlaps(overlap, "2001:db8::ff-2001:db8::1ff", "2001:db8::/64", "2001:db8::ff-2001:db8::1ff");
    }

    [Fact]
    public void AConfigMapWithAQuotedConfigPointsAtTheString()
    {
        const string text = "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: config\ndata:\n  config: \"address-pools:\\n- name: a\\n  protocol: arp\\n  addresses: [192.0.2.0/24]\\n\"\n";
        var path = TestFiles.Temp(text, "cm.yaml");
        var f = One(ConfigAnalyzer.Analyze(new AnalysisInput { Document = MetalLbConfigFile.Load(path) }), ErrorId.UnknownProtocol);
        Is(f, Severity.Error, ErrorId.UnknownProtocol, "pool a", At(text, "config: ^\"", file: path));
    }

    [Theory]
    [InlineData("foo: bar\n")]
    [InlineData("kind: ConfigMap\napiVersion: v1\ndata:\n  other: x\n")]
    [InlineData("bgp-communities:\n  no-export: 65535:65281\n")]
    public void AFileThatIsNoMetalLbConfigIsNotRecognized(string text)
    {
        var path = TestFiles.Temp(text, "other.yaml");
        var e = Assert.Throws<LbException>(() => MetalLbConfigFile.Load(path));
        Assert.Equal(ErrorId.ConfigFileNotRecognized, e.Id);
        Assert.Equal(new SourceLocation(path, 1, 1), e.Location);
    }

    [Fact]
    public void AConfigMapWhoseConfigIsNotYamlIsRefused()
    {
        var path = TestFiles.Temp("kind: ConfigMap\ndata:\n  config: |\n    address-pools:\n    - name: [a\n", "cm.yaml");
        Assert.Equal(ErrorId.ValuesNotYaml, Assert.Throws<LbException>(() => MetalLbConfigFile.Load(path)).Id);
    }
}
