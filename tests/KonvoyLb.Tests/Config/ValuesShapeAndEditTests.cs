using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Config.Yaml;
using static KonvoyLb.Tests.Config.EditTestKit;

namespace KonvoyLb.Tests.Config;

/// <summary>
/// Shapes of the metallb entry that used to be read wrongly without a word (values as a mapping,
/// configInline as a scalar), edits that used to throw raw exceptions (a list in a new order), and the
/// flow-style peer whose password leaked into -WhatIf and whose keys were re-ordered.
/// </summary>
public class ValuesShapeAndEditTests
{
    static string Cluster(string metallbEntry) =>
        "kind: ClusterConfiguration\n" +
        "apiVersion: konvoy.mesosphere.io/v1beta2\n" +
        "spec:\n" +
        "  addons:\n" +
        "  - configRepository: https://github.com/mesosphere/kubernetes-base-addons\n" +
        "    addonsList:\n" +
        "    - name: dashboard\n" +
        "      enabled: true\n" +
        metallbEntry +
        "    - name: nvidia   # keep me\n" +
        "      enabled: false\n";

    const string Layer2Values =
        "    - name: metallb\n" +
        "      enabled: true\n" +
        "      values: |\n" +
        "        configInline:\n" +
        "          address-pools:\n" +
        "          - name: default\n" +
        "            protocol: layer2\n" +
        "            addresses:\n" +
        "            - 192.0.2.10-192.0.2.20\n" +
        "            - 192.0.2.30/32\n";

    const string FlowPeer =
        "    - name: metallb\n" +
        "      enabled: true\n" +
        "      values: |\n" +
        "        configInline:\n" +
        "          peers:\n" +
        "          - {peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512, password: topsecret}\n" +
        "          address-pools:\n" +
        "          - name: bgp\n" +
        "            protocol: bgp\n" +
        "            addresses: [198.51.100.0/28]\n";

    static LbException Fails(string text) => Assert.Throws<LbException>(() => Parse(text));

    // ---- values and configInline of the wrong shape ------------------------------------------------

    [Fact]
    public void ValuesWrittenAsAMappingIsRefusedAtItsPlaceInsteadOfReadAsNoPools()
    {
        var e = Fails(Cluster(
            "    - name: metallb\n" +
            "      enabled: true\n" +
            "      values:\n" +
            "        configInline: 5\n"));
        Assert.Equal(ErrorId.ValuesNotBlockScalar, e.Id);
        Assert.Equal(new SourceLocation("cluster.yaml", 12, 9), e.Location);
        Assert.Contains("values: |", e.Fix);
    }

    [Fact]
    public void ValuesWrittenAsAListIsRefusedToo()
    {
        var e = Fails(Cluster("    - name: metallb\n      values:\n      - configInline\n"));
        Assert.Equal(ErrorId.ValuesNotBlockScalar, e.Id);
        Assert.Contains("list", e.Message);
    }

    [Fact]
    public void ConfigInlineThatIsAScalarIsALocatedError()
    {
        var e = Fails(Cluster(
            "    - name: metallb\n" +
            "      enabled: true\n" +
            "      values: |\n" +
            "        configInline: 5\n"));
        Assert.Equal(ErrorId.ConfigInlineNotMapping, e.Id);
        // Line 12 col 23 is the 5 (inner column 15 plus the block's 8 spaces).
        Assert.Equal(new SourceLocation("cluster.yaml", 12, 23), e.Location);
        Assert.Contains("'5'", e.Message);
    }

    [Fact]
    public void ConfigInlineThatIsAListIsALocatedError()
    {
        var e = Fails(Cluster("    - name: metallb\n      values: |\n        configInline:\n        - a\n"));
        Assert.Equal(ErrorId.ConfigInlineNotMapping, e.Id);
        Assert.Equal(12, e.Location!.Line);
    }

    [Fact]
    public void ValuesTextThatIsNotAMappingIsALocatedError()
    {
        var e = Fails(Cluster("    - name: metallb\n      values: |\n        - configInline\n"));
        Assert.Equal(ErrorId.ValuesNotMapping, e.Id);
        Assert.Equal(11, e.Location!.Line);
    }

    [Fact]
    public void AnEmptyConfigInlineIsStillNoConfigurationYet()
    {
        var file = Parse(Cluster("    - name: metallb\n      values: |\n        configInline:\n"));
        Assert.Null(file.Addon!.Config.AddressPools);
    }

    // ---- values as a quoted string -------------------------------------------------------------------

    [Fact]
    public void AQuotedValuesStringIsRewrittenAsALiteralBlockAndOnlyThatScalarChanges()
    {
        string text = Cluster(
            "    - name: metallb\n" +
            "      enabled: true\n" +
            "      values: \"configInline:\\n  address-pools:\\n  - name: default\\n    protocol: layer2\\n    addresses: [192.0.2.10-192.0.2.20]\\n\"  # set by hand\n");
        var file = Parse(text);
        Assert.True(file.Addon!.ValuesIsInlineString);
        var config = file.Addon.Config.Clone();
        config.AddressPools![0].Addresses!.Add("192.0.2.40/32");
        string after = file.Plan(config);

        Assert.Equal(
            "-11:       values: \"configInline:\\n  address-pools:\\n  - name: default\\n    protocol: layer2\\n    addresses: [192.0.2.10-192.0.2.20]\\n\"  # set by hand\n" +
            "+11:       values: | # set by hand\n" +
            "+12:         configInline:\n" +
            "+13:           address-pools:\n" +
            "+14:           - name: default\n" +
            "+15:             protocol: layer2\n" +
            "+16:             addresses: [192.0.2.10-192.0.2.20, 192.0.2.40/32]",
            Diff(text, after));
        var reread = Parse(after);
        Assert.False(reread.Addon!.ValuesIsInlineString);
        Assert.Equal(new[] { "192.0.2.10-192.0.2.20", "192.0.2.40/32" }, reread.Addon.Config.AddressPools![0].Addresses);
    }

    [Fact]
    public void APlainValuesStringIsEditableToo()
    {
        string text = Cluster("    - name: metallb\n      enabled: true\n      values: 'configInline: {}'\n");
        var file = Parse(text);
        var config = file.Addon!.Config.Clone();
        config.AddressPools = new() { new AddressPool { Name = "a", Protocol = "layer2", Addresses = new() { "192.0.2.1/32" } } };
        var reread = Parse(file.Plan(config));
        Assert.Equal("a", Assert.Single(reread.Addon!.Config.AddressPools!).Name);
    }

    // ---- lists in a new order --------------------------------------------------------------------------

    [Fact]
    public void AddressesInANewOrderAreWrittenInThatOrderInsteadOfThrowing()
    {
        string text = Cluster(Layer2Values);
        string after = Edit(text, c => c.AddressPools![0].Addresses = new() { "192.0.2.30/32", "192.0.2.10-192.0.2.20" });
        Assert.Equal(
            "-17:             - 192.0.2.10-192.0.2.20\n" +
            "+18:             - 192.0.2.10-192.0.2.20",
            Diff(text, after));
        Assert.Equal(new[] { "192.0.2.30/32", "192.0.2.10-192.0.2.20" }, Parse(after).Addon!.Config.AddressPools![0].Addresses);
    }

    [Fact]
    public void PoolsInANewOrderAreWrittenInThatOrder()
    {
        string text = Cluster(Layer2Values +
            "          - name: second\n" +
            "            protocol: layer2\n" +
            "            addresses: [192.0.2.50/32]\n");
        string after = Edit(text, c => c.AddressPools!.Reverse());
        Assert.Equal(new[] { "second", "default" }, Parse(after).Addon!.Config.AddressPools!.Select(p => p.Name));
        Assert.EndsWith("    - name: nvidia   # keep me\n      enabled: false\n", after);
    }

    // ---- a flow-style peer -------------------------------------------------------------------------------

    [Fact]
    public void AChangedFlowPeerKeepsItsKeyOrderAndOnlyTheChangedPairChanges()
    {
        string text = Cluster(FlowPeer);
        string after = Edit(text, c => { c.Peers![0].HoldTime = "30s"; c.Peers[0].PeerAsn = 64501; });
        Assert.Equal(
            "-14:           - {peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512, password: topsecret}\n" +
            "+14:           - {peer-address: 10.1.0.1, peer-asn: 64501, my-asn: 64512, password: topsecret, hold-time: 30s}",
            Diff(text, after));
    }

    [Fact]
    public void APairRemovedFromAFlowPeerTakesItsCommaWithIt()
    {
        string text = Cluster(FlowPeer);
        string first = Edit(text, c => c.Peers![0].SetPassword(null));
        Assert.Contains("- {peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512}\n", first);
        var moved = Cluster(FlowPeer.Replace("{peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512, password: topsecret}",
            "{password: topsecret, peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512}"));
        Assert.Contains("- {peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512}\n", Edit(moved, c => c.Peers![0].SetPassword(null)));
    }

    [Fact]
    public void PasswordsAreMaskedByTheirSpanInFlowAndBlockPeers()
    {
        string text = Cluster(FlowPeer.Replace("          address-pools:\n",
            "          - peer-address: 10.1.0.2\n" +
            "            peer-asn: 64500\n" +
            "            my-asn: 64512\n" +
            "            password: \"also secret\"   # rotated monthly\n" +
            "          address-pools:\n"));
        string masked = Parse(text).MaskedText();
        Assert.DoesNotContain("topsecret", masked);
        Assert.DoesNotContain("also secret", masked);
        Assert.Contains("- {peer-address: 10.1.0.1, peer-asn: 64500, my-asn: 64512, password: ********}\n", masked);
        Assert.Contains("            password: ********   # rotated monthly\n", masked);
        Assert.Equal(text.Split('\n').Length, masked.Split('\n').Length);
    }

    [Fact]
    public void TheDiffOfAPasswordChangeShowsTheLineButNeverThePassword()
    {
        string text = Cluster(FlowPeer);
        var file = Parse(text);
        var config = file.Addon!.Config.Clone();
        config.Peers![0].SetPassword("n3wsecret");
        string after = file.Plan(config);
        string shown = LineDiff.Format(LineDiff.Compute(text, after), file.MaskedText(), Parse(after).MaskedText());
        Assert.DoesNotContain("topsecret", shown);
        Assert.DoesNotContain("n3wsecret", shown);
        Assert.Equal(2, shown.Split(Environment.NewLine).Length);
        Assert.Contains("password: ********}", shown);
    }

    // ---- guards that used to throw BCL exceptions ---------------------------------------------------------

    [Fact]
    public void APasswordLongerThanTcpMd5TakesIsAValidationError()
    {
        var file = Parse(Cluster(FlowPeer.Replace("topsecret", new string('x', 81))));
        var finding = Assert.Single(file.Validate(), f => f.Code == ErrorId.InvalidPassword);
        Assert.Contains("81 bytes", finding.Message);
        Assert.Equal(14, finding.Location!.Line);
        Assert.DoesNotContain(Parse(Cluster(FlowPeer.Replace("topsecret", new string('x', 80)))).Validate(), f => f.Code == ErrorId.InvalidPassword);
    }

    [Fact]
    public void OverlappingEditsAreACataloguedErrorNotAnInvalidOperation()
    {
        var e = Assert.Throws<LbException>(() => YamlEditor.Apply("abcdef", new[] { new TextEdit(0, 3, "x"), new TextEdit(2, 4, "y") }));
        Assert.Equal(ErrorId.EditVerificationFailed, e.Id);
    }
}
