using System.Text;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using static KonvoyLb.Tests.Config.EditTestKit;

namespace KonvoyLb.Tests.Config;

/// <summary>
/// Golden edits over the layouts people actually write: CRLF, a BOM, comments everywhere, 2- and
/// 4-space indentation, flow lists, chomping indicators, several documents, other Helm values,
/// no trailing newline, no values at all, no metallb entry. Every test checks the exact line diff
/// and that every other line keeps its bytes (line ending included).
/// </summary>
public class VariantEditTests
{
    // ---- helpers ---------------------------------------------------------------------------------

    /// <summary>Lines with their terminator's '\r' kept (split on '\n' only), so a comparison is byte-exact.</summary>
    static string[] RawLines(string text) => text.Split('\n');

    /// <summary>
    /// The line diff is exactly <paramref name="expected"/>, and all lines outside it are byte-identical
    /// and in the same order (so no line ending, indentation or trailing space changed elsewhere).
    /// </summary>
    static void AssertEdit(string before, string after, string expected)
    {
        string actual = Diff(before, after);
        if (actual != expected)
            Assert.Fail($"line diff differs.\n--- expected ---\n{expected}\n--- actual ---\n{actual}\n--- result ---\n{after}");
        var changes = LineDiff.Compute(before, after);
        var removed = changes.Where(c => c.Kind == '-').Select(c => c.Line - 1).ToHashSet();
        var added = changes.Where(c => c.Kind == '+').Select(c => c.Line - 1).ToHashSet();
        var keptBefore = RawLines(before).Where((_, i) => !removed.Contains(i)).ToList();
        var keptAfter = RawLines(after).Where((_, i) => !added.Contains(i)).ToList();
        Assert.Equal(keptBefore, keptAfter);
    }

    static string Crlf(string lf) => lf.Replace("\r\n", "\n").Replace("\n", "\r\n");

    static void AssertAllCrlf(string text)
    {
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') Assert.True(i > 0 && text[i - 1] == '\r', $"bare LF at offset {i}: ...{text[Math.Max(0, i - 40)..i]}");
        Assert.DoesNotContain("\r\r", text);
    }

    static LbException Fails(string text) => Assert.Throws<LbException>(() => Parse(text));

    /// <summary>A small ClusterConfiguration, outer indentation 2 without indented sequences (like konvoy init on AWS).</summary>
    static string Cluster(string metallbEntry, string before = "", string after = "") =>
        before +
        "kind: ClusterConfiguration\n" +
        "apiVersion: konvoy.mesosphere.io/v1beta2\n" +
        "metadata:\n" +
        "  name: variant\n" +
        "spec:\n" +
        "  kubernetes:\n" +
        "    version: 1.20.13\n" +
        "  addons:\n" +
        "  - configRepository: https://github.com/mesosphere/kubernetes-base-addons\n" +
        "    configVersion: stable-1.20-4.3.0\n" +
        "    addonsList:\n" +
        "    - name: localvolumeprovisioner\n" +
        "      enabled: false\n" +
        metallbEntry +
        "    - name: nvidia\n" +
        "      enabled: false\n" +
        "  version: v1.6.0\n" +
        after;

    const string SimpleEntry =
        "    - name: metallb\n" +
        "      enabled: true\n" +
        "      values: |\n" +
        "        configInline:\n" +
        "          address-pools:\n" +
        "          - name: default\n" +
        "            protocol: layer2\n" +
        "            addresses:\n" +
        "            - 192.0.2.10-192.0.2.20\n";

    static readonly string OnPremV2 = TestFiles.Read("onprem-v1beta2.cluster.yaml");
    static readonly string Docker = TestFiles.Read("docker-provisioner-v1beta2.cluster.yaml");

    // ---- CRLF ------------------------------------------------------------------------------------

    [Fact]
    public void CrlfIsKeptOnEveryLineIncludingInsertedOnes()
    {
        static void Change(MetalLbConfig c)
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.168.25.100-192.168.25.110" } });
            ConfigChanges.SetPool(c, "bgp-pool", new PoolChange
            {
                Protocol = "bgp", Addresses = new() { "198.51.100.0/24" },
                BgpAdvertisements = new() { new BgpAdvertisement { AggregationLength = 32 } },
            });
            ConfigChanges.SetPeer(c, "192.0.2.1", new PeerChange { MyAsn = 64500, PeerAsn = 64501 });
        }
        string text = Crlf(OnPremV2);
        Assert.Equal("\r\n", Parse(text).Eol);
        var result = Edit(text, Change);
        AssertEdit(text, result,
            "+77:               peers:\n" +
            "+78:               - my-asn: 64500\n" +
            "+79:                 peer-asn: 64501\n" +
            "+80:                 peer-address: 192.0.2.1\n" +
            "-81:                 addresses: [192.168.25.89-192.168.25.90]\n" +
            "+85:                 addresses: [192.168.25.89-192.168.25.90, 192.168.25.100-192.168.25.110]\n" +
            "+86:               - name: bgp-pool\n" +
            "+87:                 protocol: bgp\n" +
            "+88:                 addresses:\n" +
            "+89:                 - 198.51.100.0/24\n" +
            "+90:                 bgp-advertisements:\n" +
            "+91:                 - aggregation-length: 32");
        AssertAllCrlf(result);
        // Byte for byte the LF edit with CRLF line ends.
        Assert.Equal(Crlf(Edit(OnPremV2, Change)), result);
    }

    [Fact]
    public void CrlfBlockListRemovalAndDisableKeepCrlf()
    {
        string text = Crlf(Docker);
        var added = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "172.17.2.0/24" } }));
        AssertEdit(text, added, "+128:                 - 172.17.2.0/24");
        AssertAllCrlf(added);
        var removed = Edit(added, c => ConfigChanges.RemovePool(c, "default"), enabled: false);
        AssertEdit(added, removed,
            "-120:           enabled: true\n" +
            "+120:           enabled: false\n" +
            "-123:               address-pools:\n" +
            "-124:               - name: default\n" +
            "-125:                 protocol: layer2\n" +
            "-126:                 addresses:\n" +
            "-127:                 - 172.17.1.200-172.17.1.250\n" +
            "-128:                 - 172.17.2.0/24\n" +
            "+123:               address-pools: []");
        AssertAllCrlf(removed);
    }

    // ---- BOM -------------------------------------------------------------------------------------

    [Fact]
    public void ABomIsReadAndWrittenBack()
    {
        var file = Parse(OnPremV2, bom: true);
        Assert.True(file.HasBom);
        Assert.Equal(OnPremV2, file.Text);
        Assert.NotNull(file.Addon);
        var config = file.Addon!.Config.Clone();
        ConfigChanges.SetPool(config, "default", new PoolChange { Protocol = "bgp" });
        var result = file.Plan(config);
        AssertEdit(OnPremV2, result, "-79:                 protocol: layer2\n+79:                 protocol: bgp");
        var bytes = file.Encode(result);
        Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }, bytes[..3]);
        Assert.Equal(Encoding.UTF8.GetBytes(result), bytes[3..]);
        Assert.False(Parse(OnPremV2).HasBom);
        Assert.Equal(Encoding.UTF8.GetBytes(result), Parse(OnPremV2).Encode(result));
    }

    [Fact]
    public void SavingKeepsTheBom()
    {
        var path = TestFiles.Temp("");
        File.WriteAllBytes(path, new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(Docker)).ToArray());
        var file = KonvoyFile.Load(path);
        Assert.True(file.HasBom);
        var result = file.Plan(null, enabled: false);
        file.Save(result);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }, bytes[..3]);
        Assert.Equal(result, Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3));
        AssertEdit(Docker, result, "-120:           enabled: true\n+120:           enabled: false");
    }

    // ---- comments --------------------------------------------------------------------------------

    const string CommentedEntry =
        "    - name: metallb # load balancer for on-prem\n" +
        "      # switched on by ops\n" +
        "      enabled: true\n" +
        "      values: |\n" +
        "        # Helm values for metallb\n" +
        "        configInline:\n" +
        "          # the pools\n" +
        "          address-pools:\n" +
        "          # first pool\n" +
        "          - name: default # the default one\n" +
        "            # protocol comment\n" +
        "            protocol: layer2 # l2 for now\n" +
        "            # configure addresses for your network\n" +
        "            addresses:\n" +
        "            # office range\n" +
        "            - 192.0.2.10-192.0.2.20 # ten addresses\n" +
        "            # lab range\n" +
        "            - 192.0.2.64/28\n" +
        "\n" +
        "          # second pool\n" +
        "          - name: spare\n" +
        "            protocol: layer2\n" +
        "            addresses: [198.51.100.0/28] # flow\n" +
        "          # after the pools\n" +
        "        # end of values\n";

    [Fact]
    public void CommentsSurviveEditsAroundThem()
    {
        string text = Cluster(CommentedEntry);
        var result = Edit(text, c =>
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { Protocol = "bgp", AddAddresses = new() { "192.0.2.128/28" } });
            ConfigChanges.SetPool(c, "spare", new PoolChange { AddAddresses = new() { "198.51.100.16/28" }, AutoAssign = false });
        });
        AssertEdit(text, result,
            "-25:             protocol: layer2 # l2 for now\n" +
            "+25:             protocol: bgp # l2 for now\n" +
            "+32:             - 192.0.2.128/28\n" +
            "-36:             addresses: [198.51.100.0/28] # flow\n" +
            "+37:             addresses: [198.51.100.0/28, 198.51.100.16/28] # flow\n" +
            "+38:             auto-assign: false");
    }

    [Fact]
    public void RemovingAnItemBetweenCommentsKeepsTheComments()
    {
        string text = Cluster(CommentedEntry);
        var result = Edit(text, c =>
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { RemoveAddresses = new() { "192.0.2.10-192.0.2.20" } });
            ConfigChanges.RemovePool(c, "spare");
        });
        // The comments above the removed entries stay where they were: nothing but the entries' own lines goes.
        AssertEdit(text, result,
            "-29:             - 192.0.2.10-192.0.2.20 # ten addresses\n" +
            "-34:           - name: spare\n" +
            "-35:             protocol: layer2\n" +
            "-36:             addresses: [198.51.100.0/28] # flow");
    }

    [Fact]
    public void APoolAddedAfterACommentedLastPoolGoesAfterItsLastLine()
    {
        string text = Cluster(CommentedEntry);
        var result = Edit(text, c => ConfigChanges.SetPool(c, "third", new PoolChange { Addresses = new() { "203.0.113.0/28" } }));
        // After the last pool's last line, before the comments that close the list and the values.
        AssertEdit(text, result,
            "+37:           - name: third\n" +
            "+38:             protocol: layer2\n" +
            "+39:             addresses:\n" +
            "+40:             - 203.0.113.0/28");
    }

    [Fact]
    public void ACommentBelowARemovedFirstKeyOfAnItemSurvives()
    {
        string text = Cluster(
            "    - name: metallb\n" +
            "      enabled: true\n" +
            "      values: |\n" +
            "        configInline:\n" +
            "          peers:\n" +
            "          - password: \"old\" # goes with it\n" +
            "            # the router's AS\n" +
            "            my-asn: 64500\n" +
            "            peer-asn: 64501\n" +
            "            peer-address: 192.0.2.1\n" +
            "          address-pools: []\n");
        var result = Edit(text, c => ConfigChanges.SetPeer(c, "192.0.2.1", new PeerChange { ClearPassword = true }));
        // The comment line stays; the item's first line is gone and the next key moves up behind the dash.
        AssertEdit(text, result,
            "-19:           - password: \"old\" # goes with it\n" +
            "-21:             my-asn: 64500\n" +
            "+20:           - my-asn: 64500");
        Assert.Contains("          peers:\n            # the router's AS\n          - my-asn: 64500\n            peer-asn: 64501\n", result);
    }

    [Fact]
    public void ACommentBesideAnEmptyListStaysOnTheKeyLine()
    {
        string text = Cluster(
            "    - name: metallb\n" +
            "      enabled: true\n" +
            "      values: |\n" +
            "        configInline:\n" +
            "          address-pools: [] # none yet\n");
        var result = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { Addresses = new() { "192.0.2.0/28" } }));
        AssertEdit(text, result,
            "-18:           address-pools: [] # none yet\n" +
            "+18:           address-pools: # none yet\n" +
            "+19:           - name: default\n" +
            "+20:             protocol: layer2\n" +
            "+21:             addresses:\n" +
            "+22:             - 192.0.2.0/28");
    }

    [Fact]
    public void RemovingTheLastCommunityRemovesTheKey()
    {
        var one = Edit(OnPremV2, c => ConfigChanges.SetCommunity(c, "no-export", "65535:65281"));
        AssertEdit(OnPremV2, one, "+77:               bgp-communities:\n+78:                 no-export: 65535:65281");
        var none = Edit(one, c => ConfigChanges.RemoveCommunity(c, "no-export"));
        AssertEdit(one, none,
            "-77:               bgp-communities:\n" +
            "-78:                 no-export: 65535:65281");
        Assert.Equal(OnPremV2, none);
        Assert.Null(Parse(none).Addon!.Config.BgpCommunities);
    }

    // ---- indentation ---------------------------------------------------------------------------

    /// <summary>Outer file indented by 4 with indented sequences; values block indented by 4 with indented sequences.</summary>
    const string FourSpaces =
        "kind: ClusterConfiguration\n" +
        "apiVersion: konvoy.mesosphere.io/v1beta2\n" +
        "spec:\n" +
        "    kubernetes:\n" +
        "        version: 1.20.13\n" +
        "    addons:\n" +
        "        - configRepository: https://github.com/mesosphere/kubernetes-base-addons\n" +
        "          configVersion: stable-1.20-4.3.0\n" +
        "          addonsList:\n" +
        "              - name: dex\n" +
        "                enabled: true\n" +
        "              - name: metallb\n" +
        "                enabled: true\n" +
        "                values: |\n" +
        "                    configInline:\n" +
        "                        address-pools:\n" +
        "                            - name: default\n" +
        "                              protocol: layer2\n" +
        "                              addresses:\n" +
        "                                  - 192.0.2.10-192.0.2.20\n" +
        "              - name: traefik\n" +
        "                enabled: true\n";

    [Fact]
    public void FourSpaceIndentationIsCopiedInsideTheValuesBlock()
    {
        var result = Edit(FourSpaces, c =>
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.64/28" } });
            ConfigChanges.SetPool(c, "v6", new PoolChange { Protocol = "bgp", Addresses = new() { "2001:db8:1::/64" }, AutoAssign = false });
            ConfigChanges.SetPeer(c, "198.51.100.1", new PeerChange { MyAsn = 64500, PeerAsn = 64501 });
            ConfigChanges.SetCommunity(c, "no-export", "65535:65281");
        });
        AssertEdit(FourSpaces, result,
            "+16:                         peers:\n" +
            "+17:                             - my-asn: 64500\n" +
            "+18:                               peer-asn: 64501\n" +
            "+19:                               peer-address: 198.51.100.1\n" +
            "+20:                         bgp-communities:\n" +
            "+21:                             no-export: 65535:65281\n" +
            "+27:                                   - 192.0.2.64/28\n" +
            "+28:                             - name: v6\n" +
            "+29:                               protocol: bgp\n" +
            "+30:                               addresses:\n" +
            "+31:                                   - 2001:db8:1::/64\n" +
            "+32:                               auto-assign: false");
    }

    /// <summary>
    /// A new values block sits 4 deeper than its key, like the rest of the file; its content has no
    /// example to copy, so it takes the engine's default style (2, sequences not indented).
    /// </summary>
    [Fact]
    public void ANewValuesKeyInAFourSpaceFileIsIndentedByFour()
    {
        string text = FourSpaces
            .Replace(
                "                values: |\n" +
                "                    configInline:\n" +
                "                        address-pools:\n" +
                "                            - name: default\n" +
                "                              protocol: layer2\n" +
                "                              addresses:\n" +
                "                                  - 192.0.2.10-192.0.2.20\n", "")
            .Replace("                enabled: true\n              - name: traefik", "                enabled: false\n              - name: traefik");
        var file = Parse(text);
        Assert.NotNull(file.Addon);
        var result = file.Plan(new MetalLbConfig { AddressPools = new() { new AddressPool { Name = "default", Protocol = "layer2", Addresses = new() { "192.0.2.10-192.0.2.20" } } } }, enabled: true);
        AssertEdit(text, result,
            "-13:                 enabled: false\n" +
            "+13:                 enabled: true\n" +
            "+14:                 values: |\n" +
            "+15:                     configInline:\n" +
            "+16:                       address-pools:\n" +
            "+17:                       - name: default\n" +
            "+18:                         protocol: layer2\n" +
            "+19:                         addresses:\n" +
            "+20:                         - 192.0.2.10-192.0.2.20");
    }

    /// <summary>Outer 2 without indented sequences, values block indented by 4 without indented sequences.</summary>
    [Fact]
    public void TwoSpaceOuterWithFourSpaceValues()
    {
        string entry =
            "    - name: metallb\n" +
            "      enabled: true\n" +
            "      values: |\n" +
            "          configInline:\n" +
            "              address-pools:\n" +
            "              - name: default\n" +
            "                protocol: layer2\n" +
            "                addresses:\n" +
            "                - 192.0.2.10-192.0.2.20\n";
        string text = Cluster(entry);
        var result = Edit(text, c =>
        {
            ConfigChanges.SetPool(c, "bgp", new PoolChange
            {
                Protocol = "bgp", Addresses = new() { "198.51.100.0/24" },
                BgpAdvertisements = new() { new BgpAdvertisement { AggregationLength = 32, Communities = new() { "no-export" } } },
            });
            ConfigChanges.SetCommunity(c, "no-export", "65535:65281");
        });
        AssertEdit(text, result,
            "+18:               bgp-communities:\n" +
            "+19:                   no-export: 65535:65281\n" +
            "+25:               - name: bgp\n" +
            "+26:                 protocol: bgp\n" +
            "+27:                 addresses:\n" +
            "+28:                 - 198.51.100.0/24\n" +
            "+29:                 bgp-advertisements:\n" +
            "+30:                 - aggregation-length: 32\n" +
            "+31:                   communities:\n" +
            "+32:                   - no-export");
    }

    // ---- flow lists (konvoy init style) ----------------------------------------------------------

    const string InitEntry =
        "    - name: metallb\n" +
        "      enabled: false\n" +
        "      values: |\n" +
        "        configInline:\n" +
        "          address-pools:\n" +
        "          - name: default\n" +
        "            protocol: layer2\n" +
        "            # configure addresses for your network\n" +
        "            addresses: []\n";

    [Fact]
    public void AnEmptyFlowListGetsItsFirstAddressInPlace()
    {
        string text = Cluster(InitEntry);
        var result = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.10-192.0.2.20" } }), enabled: true);
        AssertEdit(text, result,
            "-15:       enabled: false\n" +
            "+15:       enabled: true\n" +
            "-22:             addresses: []\n" +
            "+22:             addresses: [192.0.2.10-192.0.2.20]");
    }

    [Fact]
    public void AFlowListGrowsAndShrinksInPlace()
    {
        string text = Cluster(InitEntry.Replace("addresses: []", "addresses: [192.0.2.10-192.0.2.20, 192.0.2.64/28]"));
        var v6 = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "2001:db8::/64" } }));
        AssertEdit(text, v6,
            "-22:             addresses: [192.0.2.10-192.0.2.20, 192.0.2.64/28]\n" +
            "+22:             addresses: [192.0.2.10-192.0.2.20, 192.0.2.64/28, \"2001:db8::/64\"]");
        var shrunk = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { RemoveAddresses = new() { "192.0.2.10-192.0.2.20" } }));
        AssertEdit(text, shrunk,
            "-22:             addresses: [192.0.2.10-192.0.2.20, 192.0.2.64/28]\n" +
            "+22:             addresses: [192.0.2.64/28]");
        var bgp = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { Protocol = "bgp", Addresses = new() { "198.51.100.0/24" } }));
        AssertEdit(text, bgp,
            "-20:             protocol: layer2\n" +
            "+20:             protocol: bgp\n" +
            "-22:             addresses: [192.0.2.10-192.0.2.20, 192.0.2.64/28]\n" +
            "+22:             addresses: [198.51.100.0/24]");
    }

    // ---- chomping --------------------------------------------------------------------------------

    [Theory]
    [InlineData("|")]
    [InlineData("|-")]
    public void TheChompingIndicatorIsKept(string header)
    {
        string text = Cluster(SimpleEntry.Replace("values: |", "values: " + header));
        var result = Edit(text, c =>
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.64/28" } });
            ConfigChanges.SetPool(c, "second", new PoolChange { Addresses = new() { "198.51.100.0/28" } });
        });
        AssertEdit(text, result,
            "+23:             - 192.0.2.64/28\n" +
            "+24:           - name: second\n" +
            "+25:             protocol: layer2\n" +
            "+26:             addresses:\n" +
            "+27:             - 198.51.100.0/28");
        Assert.Contains("      values: " + header + "\n", result);
    }

    [Fact]
    public void StripChompingAtTheEndOfAFileWithoutNewline()
    {
        // The metallb entry is the last thing in the file and its last line has no line break.
        string text = Cluster("").Replace("    - name: nvidia\n      enabled: false\n  version: v1.6.0\n", "")
            + SimpleEntry.Replace("values: |", "values: |-").TrimEnd('\n');
        var result = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.64/28" } }));
        AssertEdit(text, result,
            "+23:             - 192.0.2.64/28");
    }

    // ---- several documents -----------------------------------------------------------------------

    const string Provisioner =
        "kind: ClusterProvisioner\n" +
        "apiVersion: konvoy.mesosphere.io/v1beta2\n" +
        "metadata:\n" +
        "  name: variant\n" +
        "spec:\n" +
        "  provider: none\n" +
        "---\n";

    const string TrailingDocument =
        "---\n" +
        "apiVersion: v1\n" +
        "kind: ConfigMap\n" +
        "metadata:\n" +
        "  name: extra\n" +
        "data:\n" +
        "  config: |\n" +
        "    address-pools:\n" +
        "    - name: not-this-one\n";

    [Fact]
    public void OtherDocumentsAreLeftAlone()
    {
        string text = Cluster(SimpleEntry, before: "---\n# an empty first document\n---\n" + Provisioner, after: TrailingDocument);
        var file = Parse(text);
        Assert.Equal("none", file.Facts.Provider);
        var result = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.64/28" } }), enabled: false);
        AssertEdit(text, result,
            "-25:       enabled: true\n" +
            "+25:       enabled: false\n" +
            "+33:             - 192.0.2.64/28");
    }

    [Fact]
    public void AMetallbEntryIsAddedToTheClusterDocumentNotToOthers()
    {
        string text = Cluster("", before: "---\n" + Provisioner, after: TrailingDocument);
        var result = Parse(text).Plan(new MetalLbConfig { AddressPools = new() }, enabled: true);
        AssertEdit(text, result,
            "+22:     - name: metallb\n" +
            "+23:       enabled: true\n" +
            "+24:       values: |\n" +
            "+25:         configInline:\n" +
            "+26:           address-pools: []");
    }

    // ---- other Helm values -----------------------------------------------------------------------

    const string HelmEntry =
        "    - name: metallb\n" +
        "      enabled: true\n" +
        "      values: |\n" +
        "        controller:\n" +
        "          image:\n" +
        "            repository: metallb/controller\n" +
        "            tag: v0.9.3   # pinned\n" +
        "        configInline:\n" +
        "          address-pools:\n" +
        "          - name: default\n" +
        "            protocol: layer2\n" +
        "            addresses:\n" +
        "            - 192.0.2.10-192.0.2.20\n" +
        "        speaker:\n" +
        "          tolerations:\n" +
        "            - effect: NoSchedule\n" +
        "              key: node-role.kubernetes.io/master\n";

    [Fact]
    public void OtherHelmValuesStayByteIdentical()
    {
        string text = Cluster(HelmEntry);
        var result = Edit(text, c =>
        {
            ConfigChanges.SetPeer(c, "192.0.2.1", new PeerChange { MyAsn = 64500, PeerAsn = 64501, Password = "s3cret: yes" });
            ConfigChanges.RemovePool(c, "default");
        });
        AssertEdit(text, result,
            "-22:           address-pools:\n" +
            "-23:           - name: default\n" +
            "-24:             protocol: layer2\n" +
            "-25:             addresses:\n" +
            "-26:             - 192.0.2.10-192.0.2.20\n" +
            "+22:           peers:\n" +
            "+23:           - my-asn: 64500\n" +
            "+24:             peer-asn: 64501\n" +
            "+25:             peer-address: 192.0.2.1\n" +
            "+26:             password: \"s3cret: yes\"\n" +
            "+27:           address-pools: []");
    }

    [Fact]
    public void ConfigInlineIsAddedAfterTheOtherHelmValues()
    {
        string text = Cluster(HelmEntry.Replace(
            "        configInline:\n" +
            "          address-pools:\n" +
            "          - name: default\n" +
            "            protocol: layer2\n" +
            "            addresses:\n" +
            "            - 192.0.2.10-192.0.2.20\n", ""));
        var result = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { Addresses = new() { "192.0.2.10-192.0.2.20" } }));
        AssertEdit(text, result,
            "+25:         configInline:\n" +
            "+26:           address-pools:\n" +
            "+27:             - name: default\n" +
            "+28:               protocol: layer2\n" +
            "+29:               addresses:\n" +
            "+30:                 - 192.0.2.10-192.0.2.20");
    }

    // ---- no trailing newline ---------------------------------------------------------------------

    [Fact]
    public void AFileWithoutTrailingNewlineStaysWithout()
    {
        string text = Cluster(SimpleEntry).TrimEnd('\n');
        var result = Edit(text, c => ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.64/28" } }));
        AssertEdit(text, result, "+23:             - 192.0.2.64/28");
        Assert.EndsWith("  version: v1.6.0", result);
    }

    [Fact]
    public void AnEntryAtTheEndOfAFileWithoutTrailingNewline()
    {
        string text = Cluster("").Replace("    - name: nvidia\n      enabled: false\n  version: v1.6.0\n", "") + SimpleEntry.TrimEnd('\n');
        var result = Edit(text, c =>
        {
            ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.64/28" } });
            ConfigChanges.SetPool(c, "second", new PoolChange { Addresses = new() { "198.51.100.0/28" } });
        });
        AssertEdit(text, result,
            "+23:             - 192.0.2.64/28\n" +
            "+24:           - name: second\n" +
            "+25:             protocol: layer2\n" +
            "+26:             addresses:\n" +
            "+27:             - 198.51.100.0/28");
        Assert.False(result.EndsWith('\n'));
    }

    // ---- no values, no entry ---------------------------------------------------------------------

    [Theory]
    [InlineData("")]
    [InlineData("      values:\n")]
    public void AnEntryWithoutValuesGetsALiteralBlock(string values)
    {
        string text = Cluster("    - name: metallb\n      enabled: false\n" + values);
        var file = Parse(text);
        Assert.NotNull(file.Addon);
        Assert.False(file.Addon!.Enabled);
        var result = file.Plan(new MetalLbConfig { AddressPools = new() { new AddressPool { Name = "default", Protocol = "layer2", Addresses = new() { "192.0.2.10-192.0.2.20" } } } }, enabled: true);
        AssertEdit(text, result,
            "-15:       enabled: false\n" +
            (values.Length > 0 ? "-16:       values:\n" : "") +
            "+15:       enabled: true\n" +
            "+16:       values: |\n" +
            "+17:         configInline:\n" +
            "+18:           address-pools:\n" +
            "+19:           - name: default\n" +
            "+20:             protocol: layer2\n" +
            "+21:             addresses:\n" +
            "+22:             - 192.0.2.10-192.0.2.20");
    }

    [Fact]
    public void EnableInsertsTheEntryAlphabetically()
    {
        string text = TestFiles.Read("aws-reference-v1beta2.cluster.yaml");
        var file = KonvoyFile.Load(TestFiles.Fixture("aws-reference-v1beta2.cluster.yaml"));
        Assert.Null(file.Addon);
        var result = file.Plan(new MetalLbConfig { AddressPools = new() }, enabled: true);
        AssertEdit(text, result,
            "+148:     - name: metallb\n" +
            "+149:       enabled: true\n" +
            "+150:       values: |\n" +
            "+151:         configInline:\n" +
            "+152:           address-pools: []");
    }

    /// <summary>The new entry matches its siblings (dash column, 4-space keys, values 4 deeper); the values content uses the default style.</summary>
    [Fact]
    public void EnableInAFourSpaceFileCopiesTheOuterIndentation()
    {
        string text = FourSpaces.Replace(
            "              - name: metallb\n" +
            "                enabled: true\n" +
            "                values: |\n" +
            "                    configInline:\n" +
            "                        address-pools:\n" +
            "                            - name: default\n" +
            "                              protocol: layer2\n" +
            "                              addresses:\n" +
            "                                  - 192.0.2.10-192.0.2.20\n", "");
        var result = Parse(text).Plan(new MetalLbConfig { AddressPools = new() { new AddressPool { Name = "default", Protocol = "layer2", Addresses = new() { "192.0.2.10-192.0.2.20" } } } }, enabled: true);
        AssertEdit(text, result,
            "+12:               - name: metallb\n" +
            "+13:                 enabled: true\n" +
            "+14:                 values: |\n" +
            "+15:                     configInline:\n" +
            "+16:                       address-pools:\n" +
            "+17:                       - name: default\n" +
            "+18:                         protocol: layer2\n" +
            "+19:                         addresses:\n" +
            "+20:                         - 192.0.2.10-192.0.2.20");
    }

    // ---- errors ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("kind: ClusterConfiguration\nmetadata:\n  name: a: b\n", 3, 10)]
    [InlineData("kind: ClusterConfiguration\nspec:\n  addons: [a, b\n", 4, 1)]
    // YamlDotNet throws InvalidOperationException for this one; it must still be NotYaml, at the '['.
    [InlineData("kind: ClusterConfiguration\nspec:\n  addons: [a\nfoo: {}\n", 3, 11)]
    public void NotYamlSaysWhere(string text, int line, int column)
    {
        var e = Fails(text);
        Assert.Equal(ErrorId.NotYaml, e.Id);
        Assert.Equal(ErrorKind.InvalidData, e.Kind);
        Assert.Equal(new SourceLocation("cluster.yaml", line, column), e.Location);
    }

    [Fact]
    public void NotUtf8IsRefused()
    {
        var e = Assert.Throws<LbException>(() => KonvoyFile.FromBytes("cluster.yaml", Encoding.UTF8.GetBytes("kind: ClusterConfiguration\n# caf").Concat(new byte[] { 0xE9, 0x0A }).ToArray()));
        Assert.Equal(ErrorId.FileNotUtf8, e.Id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("---\n# nothing\n")]
    [InlineData(Provisioner)]
    [InlineData("kind: ClusterConfig\nspec:\n  addons: []\n")]
    public void NoClusterConfigurationIsRefused(string text)
    {
        var e = Fails(text);
        Assert.Equal(ErrorId.NoClusterConfiguration, e.Id);
        Assert.Equal(ErrorKind.InvalidData, e.Kind);
    }

    [Fact]
    public void AnInventoryIsNotAClusterFile()
    {
        var e = Assert.Throws<LbException>(() => KonvoyFile.Load(TestFiles.Fixture("onprem.inventory.yaml")));
        Assert.Equal(ErrorId.NoClusterConfiguration, e.Id);
    }

    [Fact]
    public void V1Alpha1WithAnAddonsMapIsUnsupported()
    {
        string text =
            "kind: ClusterConfiguration\n" +
            "apiVersion: konvoy.mesosphere.io/v1alpha1\n" +
            "spec:\n" +
            "  addons:\n" +
            "    configRepository: https://github.com/mesosphere/kubernetes-base-addons\n" +
            "    configVersion: stable-1.16.4-2\n" +
            "    addonsList:\n" +
            "    - name: metallb\n" +
            "      enabled: true\n";
        var e = Fails(text);
        Assert.Equal(ErrorId.UnsupportedApiVersion, e.Id);
        Assert.Equal(ErrorKind.NotImplemented, e.Kind);
        Assert.Contains("v1alpha1", e.Message);
        Assert.Equal(new SourceLocation("cluster.yaml", 5, 5), e.Location);
        // The map shape alone gives it away, whatever the apiVersion says.
        Assert.Equal(ErrorId.UnsupportedApiVersion, Fails(text.Replace("v1alpha1", "v1beta1")).Id);
        // And v1alpha1 is refused even when addons happens to be a list.
        Assert.Equal(ErrorId.UnsupportedApiVersion, Fails(Cluster(SimpleEntry).Replace("v1beta2", "v1alpha1")).Id);
    }

    [Fact]
    public void ValuesThatAreNotYamlPointIntoTheOuterFile()
    {
        string text = Cluster(SimpleEntry.Replace("            protocol: layer2\n", "            protocol: layer2: bgp\n"));
        var e = Fails(text);
        Assert.Equal(ErrorId.ValuesNotYaml, e.Id);
        // Line 20 of the file is "            protocol: layer2: bgp"; column 29 is its second colon.
        Assert.Equal("            protocol: layer2: bgp", RawLines(text)[19]);
        Assert.Equal(new SourceLocation("cluster.yaml", 20, 29), e.Location);
    }

    [Fact]
    public void AnUnclosedFlowListInTheValuesIsValuesNotYamlAtTheBracket()
    {
        string text = Docker
            .Replace("                addresses:\n                - 172.17.1.200-172.17.1.250\n", "")
            .Replace("                protocol: layer2\n", "                addresses: [172.17.1.200-172.17.1.250\n                protocol: layer2\n");
        var e = Fails(text);
        Assert.Equal(ErrorId.ValuesNotYaml, e.Id);
        Assert.Equal("                addresses: [172.17.1.200-172.17.1.250", RawLines(text)[124]);
        Assert.Equal(new SourceLocation("cluster.yaml", 125, 28), e.Location);
    }

    [Fact]
    public void AnInvalidAddressIsRefusedWithItsPlace()
    {
        var e = Assert.Throws<LbException>(() => Edit(OnPremV2, c =>
            ConfigChanges.SetPool(c, "default", new PoolChange { AddAddresses = new() { "192.0.2.256/28" } })));
        Assert.Equal(ErrorId.InvalidConfig, e.Id);
        var finding = Assert.Single(e.Findings);
        Assert.Equal(ErrorId.InvalidAddress, finding.Code);
        Assert.Contains("192.0.2.256/28", finding.Message);
        // The place is in the planned text: line 81 would read "addresses: [192.168.25.89-192.168.25.90, 192.0.2.256/28]".
        string planned = "                addresses: [192.168.25.89-192.168.25.90, 192.0.2.256/28]";
        Assert.Equal(new SourceLocation("cluster.yaml", 81, planned.IndexOf("192.0.2.256/28") + 1), finding.Location);
    }

    [Fact]
    public void SaveRefusesWhenTheFileChangedOnDisk()
    {
        var path = TestFiles.Temp(OnPremV2);
        var file = KonvoyFile.Load(path);
        var planned = file.Plan(null, enabled: false);
        string other = OnPremV2.Replace("version: v1.6.0", "version: v1.6.1");
        File.WriteAllText(path, other);
        var e = Assert.Throws<LbException>(() => file.Save(planned));
        Assert.Equal(ErrorId.FileChangedOnDisk, e.Id);
        Assert.Equal(other, File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void SaveKeepsTheFileMode()
    {
        if (OperatingSystem.IsWindows()) return;
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead; // 0640
        var path = TestFiles.Temp(OnPremV2);
        File.SetUnixFileMode(path, mode);
        var file = KonvoyFile.Load(path);
        var planned = Edit(OnPremV2, c => ConfigChanges.SetPool(c, "default", new PoolChange { Protocol = "bgp" }));
        Assert.Equal(planned, file.Plan(new MetalLbConfig
        {
            AddressPools = new() { new AddressPool { Name = "default", Protocol = "bgp", Addresses = new() { "192.168.25.89-192.168.25.90" } } },
        }));
        file.Save(planned);
        Assert.Equal(mode, File.GetUnixFileMode(path));
        Assert.Equal(planned, File.ReadAllText(path));
        AssertEdit(OnPremV2, File.ReadAllText(path), "-79:                 protocol: layer2\n+79:                 protocol: bgp");
        Assert.Equal(new[] { path }, Directory.GetFiles(Path.GetDirectoryName(path)!));
    }
}
