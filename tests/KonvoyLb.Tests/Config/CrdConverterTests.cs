using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Config.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KonvoyLb.Tests.Config;

/// <summary>ConvertTo-LbCrd: the legacy configuration as MetalLB 0.13+ custom resources, nothing dropped.</summary>
public class CrdConverterTests
{
    const string File = "config.yaml";

    static ConfigDocument Doc(string config) =>
        new(YamlTree.ParseSingle(config), n => new SourceLocation(File, n.Line, n.Column), new SourceLocation(File, 1, 1));

    /// <summary>Every field of the legacy format, with names Kubernetes would refuse as they are.</summary>
    const string Everything = """
        peers:
        - my-asn: 64512
          peer-asn: 64500
          peer-address: 192.0.2.1
          peer-port: 1179
          source-address: 192.0.2.10
          hold-time: 90s
          keepalive-time: 30s
          router-id: 192.0.2.10
          password: "s3cret: #1"
          bfd-profile: Fast_Profile
          ebgp-multihop: true
          node-selectors:
          - match-labels:
              kubernetes.io/hostname: node1
              rack: "true"
            match-expressions:
            - key: zone
              operator: In
              values: [a, b]
            - key: spare
              operator: DoesNotExist
        - my-asn: 64512
          peer-asn: 64512
          peer-address: 2001:db8::1
          peer-port: 179
        - my-asn: 64512
          peer-asn: 64500
          peer-address: 192.0.2.1
          peer-port: 1179
          node-selectors:
          - match-labels: {rack: b}
        bgp-communities:
          no-export: 65535:65281
        address-pools:
        - name: Web_Pool
          protocol: layer2
          addresses:
          - 192.0.2.0/25
          - 203.0.113.10 - 203.0.113.20
          - 2001:db8:1::/120
          auto-assign: false
          avoid-buggy-ips: true
        - name: routed
          protocol: bgp
          addresses:
          - 198.51.100.0/24
          - 2001:db8:2::/64
          bgp-advertisements:
          - aggregation-length: 24
            aggregation-length-v6: 64
            localpref: 100
            communities: [no-export, "64512:100"]
          - communities: [no-export]
        - name: plain-bgp
          protocol: bgp
          addresses: [203.0.113.128/25]
        bfd-profiles:
        - name: Fast_Profile
          receive-interval: 300
          transmit-interval: 300
          detect-multiplier: 3
          echo-interval: 50
          echo-mode: true
          passive-mode: false
          minimum-ttl: 254
        """;

    const string Expected = """
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: web-pool
          namespace: metallb-system
        spec:
          addresses:
          - 192.0.2.0/25
          - 203.0.113.10-203.0.113.20
          - 2001:db8:1::/120
          autoAssign: false
          avoidBuggyIPs: true
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata:
          name: web-pool
          namespace: metallb-system
        spec:
          ipAddressPools:
          - web-pool
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: routed
          namespace: metallb-system
        spec:
          addresses:
          - 198.51.100.0/24
          - 2001:db8:2::/64
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: routed-1
          namespace: metallb-system
        spec:
          ipAddressPools:
          - routed
          aggregationLength: 24
          aggregationLengthV6: 64
          localPref: 100
          communities:
          - no-export
          - 64512:100
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: routed-2
          namespace: metallb-system
        spec:
          ipAddressPools:
          - routed
          communities:
          - no-export
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: plain-bgp
          namespace: metallb-system
        spec:
          addresses:
          - 203.0.113.128/25
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: plain-bgp
          namespace: metallb-system
        spec:
          ipAddressPools:
          - plain-bgp
        ---
        apiVersion: metallb.io/v1beta1
        kind: Community
        metadata:
          name: communities
          namespace: metallb-system
        spec:
          communities:
          - name: no-export
            value: 65535:65281
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: peer-192.0.2.1-1179
          namespace: metallb-system
        spec:
          myASN: 64512
          peerASN: 64500
          peerAddress: 192.0.2.1
          peerPort: 1179
          sourceAddress: 192.0.2.10
          holdTime: 90s
          keepaliveTime: 30s
          routerID: 192.0.2.10
          password: "s3cret: #1"
          bfdProfile: fast-profile
          ebgpMultiHop: true
          nodeSelectors:
          - matchLabels:
              kubernetes.io/hostname: node1
              rack: "true"
            matchExpressions:
            - key: zone
              operator: In
              values:
              - a
              - b
            - key: spare
              operator: DoesNotExist
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: peer-2001-db8-1
          namespace: metallb-system
        spec:
          myASN: 64512
          peerASN: 64512
          peerAddress: 2001:db8::1
          peerPort: 179
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: peer-192.0.2.1-1179-3
          namespace: metallb-system
        spec:
          myASN: 64512
          peerASN: 64500
          peerAddress: 192.0.2.1
          peerPort: 1179
          nodeSelectors:
          - matchLabels:
              rack: b
        ---
        apiVersion: metallb.io/v1beta1
        kind: BFDProfile
        metadata:
          name: fast-profile
          namespace: metallb-system
        spec:
          receiveInterval: 300
          transmitInterval: 300
          detectMultiplier: 3
          echoInterval: 50
          echoMode: true
          passiveMode: false
          minimumTtl: 254

        """;

    [Fact]
    public void EveryLegacyFieldIsTranslated()
    {
        Assert.Empty(Doc(Everything).Validate());
        Assert.Equal(Expected, CrdConverter.Convert(Doc(Everything), "metallb-system"));
    }

    [Fact]
    public void TheOutputReadsBackAsTheResources()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(CrdConverter.Convert(Doc(Everything), "metallb-system")));
        Assert.Equal(12, stream.Documents.Count);
        var roots = stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
        string S(YamlNode node, params string[] path)
        {
            foreach (var key in path) node = ((YamlMappingNode)node)[key];
            return ((YamlScalarNode)node).Value!;
        }
        Assert.Equal(new[]
        {
            "IPAddressPool", "L2Advertisement", "IPAddressPool", "BGPAdvertisement", "BGPAdvertisement", "IPAddressPool",
            "BGPAdvertisement", "Community", "BGPPeer", "BGPPeer", "BGPPeer", "BFDProfile",
        }, roots.Select(r => S(r, "kind")).ToArray());
        Assert.All(roots, r => Assert.Equal("metallb-system", S(r, "metadata", "namespace")));
        Assert.All(roots, r => Assert.Equal(S(r, "kind") == "BGPPeer" ? "metallb.io/v1beta2" : "metallb.io/v1beta1", S(r, "apiVersion")));

        // Every name is a valid Kubernetes name, unique per kind, and every reference points at an object.
        var names = roots.Select(r => (Kind: S(r, "kind"), Name: S(r, "metadata", "name"))).ToList();
        Assert.All(names, n => Assert.Matches("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", n.Name));
        Assert.Equal(names.Count, names.Distinct().Count());
        var pools = names.Where(n => n.Kind == "IPAddressPool").Select(n => n.Name).ToHashSet();
        foreach (var r in roots.Where(r => S(r, "kind") is "L2Advertisement" or "BGPAdvertisement"))
            Assert.All((YamlSequenceNode)((YamlMappingNode)r["spec"])["ipAddressPools"], p => Assert.Contains(((YamlScalarNode)p).Value, pools));
        var bfds = names.Where(n => n.Kind == "BFDProfile").Select(n => n.Name).ToHashSet();
        Assert.Contains(S(roots[8], "spec", "bfdProfile"), bfds);

        // Values that YAML could read as something else stay strings.
        var labels = (YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)roots[8]["spec"])["nodeSelectors"])[0])["matchLabels"];
        Assert.Equal(ScalarStyle.DoubleQuoted, ((YamlScalarNode)labels["rack"]).Style);
        Assert.Equal("s3cret: #1", S(roots[8], "spec", "password"));
        Assert.Equal("65535:65281", S(((YamlSequenceNode)((YamlMappingNode)roots[7]["spec"])["communities"])[0], "value"));
    }

    [Fact]
    public void TheNamespaceIsTheOneAskedFor()
    {
        var output = CrdConverter.Convert(Doc("address-pools:\n- name: web\n  protocol: layer2\n  addresses: [192.0.2.0/24]\n"), "kubeaddons");
        Assert.Equal("""
            ---
            apiVersion: metallb.io/v1beta1
            kind: IPAddressPool
            metadata:
              name: web
              namespace: kubeaddons
            spec:
              addresses:
              - 192.0.2.0/24
            ---
            apiVersion: metallb.io/v1beta1
            kind: L2Advertisement
            metadata:
              name: web
              namespace: kubeaddons
            spec:
              ipAddressPools:
              - web

            """, output);
    }

    [Theory]
    [InlineData("Web_Pool", "web-pool")]
    [InlineData("my pool (old)", "my-pool-old")]
    [InlineData("-.edge.-", "edge")]
    [InlineData("__", "unnamed")]
    [InlineData("dots.are.fine", "dots.are.fine")]
    public void NamesAreMadeValidForKubernetes(string name, string expected) =>
        Assert.Equal(expected, CrdConverter.KubernetesName(name));

    [Fact]
    public void ALongNameIsCutTo253Characters()
    {
        var name = CrdConverter.KubernetesName(new string('a', 252) + "-b");
        Assert.Equal(new string('a', 252), name);
    }

    [Fact]
    public void NamesThatCollideAfterSanitisingAreRefused()
    {
        const string config = """
            address-pools:
            - name: My_Pool
              protocol: layer2
              addresses: [192.0.2.0/25]
            - name: my-pool
              protocol: layer2
              addresses: [192.0.2.128/25]
            """;
        var e = Assert.Throws<LbException>(() => CrdConverter.Convert(Doc(config), "metallb-system"));
        Assert.Equal(ErrorId.CannotConvert, e.Id);
        Assert.Equal(ErrorKind.InvalidData, e.Kind);
        Assert.Contains("nothing was written", e.Message);
        var pool = Assert.Single(e.Findings, f => f.Message.Contains("IPAddressPool"));
        Assert.Equal(Severity.Error, pool.Severity);
        Assert.Equal(ErrorId.CannotConvert, pool.Code);
        Assert.Equal("my-pool", pool.Subject);
        Assert.Equal(new SourceLocation(File, 5, 9), pool.Location);   // the second pool's name
        Assert.Contains("'my-pool' and 'My_Pool' both become the IPAddressPool name 'my-pool'", pool.Message);
        Assert.All(e.Findings, f => Assert.Equal(ErrorId.CannotConvert, f.Code));
    }

    [Fact]
    public void AdvertisementNamesThatCollideAreRefused()
    {
        // Pool "routed" with two advertisements makes routed-1 and routed-2; a pool named routed-1 then clashes.
        const string config = """
            address-pools:
            - name: routed
              protocol: bgp
              addresses: [198.51.100.0/25]
              bgp-advertisements:
              - localpref: 100
              - localpref: 200
            - name: routed-1
              protocol: bgp
              addresses: [198.51.100.128/25]
            """;
        var e = Assert.Throws<LbException>(() => CrdConverter.Convert(Doc(config), "metallb-system"));
        var f = Assert.Single(e.Findings);
        Assert.Equal(ErrorId.CannotConvert, f.Code);
        Assert.Contains("BGPAdvertisement name 'routed-1'", f.Message);
        Assert.Equal(new SourceLocation(File, 8, 3), f.Location);
    }

    [Fact]
    public void AnInvalidConfigurationIsRefusedWithItsFindings()
    {
        const string config = """
            address-pools:
            - name: a
              protocol: layer2
              addresses: [192.0.2.0/24]
            - name: b
              protocol: layer2
              addresses: [192.0.2.128-192.0.2.130]
            """;
        var e = Assert.Throws<LbException>(() => CrdConverter.Convert(Doc(config), "metallb-system"));
        Assert.Equal(ErrorId.CannotConvert, e.Id);
        var f = Assert.Single(e.Findings);
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Equal(ErrorId.OverlappingAddresses, f.Code);
        Assert.Equal("pool b", f.Subject);
        Assert.Equal(new SourceLocation(File, 7, 15), f.Location);
        Assert.Equal("192.0.2.128-192.0.2.130", f.Overlap);
        Assert.Contains("(1 problem)", e.Message);
    }

    [Fact]
    public void EveryProblemIsListedWhenRefusing()
    {
        const string config = """
            peers:
            - my-asn: 64512
              peer-asn: 64500
              peer-address: 192.0.2.1
              bfd-profile: nope
            address-pools:
            - name: Dup
              protocol: layer2
              addresses: [192.0.2.0/24, 192.0.2.0/25]
            - name: dup
              protocol: layer2
              addresses: [198.51.100.0/24]
            """;
        var e = Assert.Throws<LbException>(() => CrdConverter.Convert(Doc(config), "metallb-system"));
        // MetalLB's own rules first, then what cannot be translated (pool and L2Advertisement names).
        Assert.Equal(new[] { ErrorId.UnknownBfdProfile, ErrorId.OverlappingAddresses, ErrorId.CannotConvert, ErrorId.CannotConvert },
            e.Findings.Select(f => f.Code).ToArray());
        Assert.Contains($"({e.Findings.Count} problems)", e.Message);
    }

    [Fact]
    public void TheRealDockerFileConverts()
    {
        var file = KonvoyFile.Load(TestFiles.Fixture("docker-provisioner-v1beta2.cluster.yaml"));
        var output = CrdConverter.Convert(file.Addon!.Document, "metallb-system");
        var stream = new YamlStream();
        stream.Load(new StringReader(output));
        Assert.Equal(new[] { "IPAddressPool", "L2Advertisement" },
            stream.Documents.Select(d => ((YamlScalarNode)((YamlMappingNode)d.RootNode)["kind"]).Value).ToArray());
    }
}
