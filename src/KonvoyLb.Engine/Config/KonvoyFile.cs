using System.Text;
using KonvoyLb.Engine.Config.Yaml;
using YamlDotNet.Core;

namespace KonvoyLb.Engine.Config;

/// <summary>Facts about the cluster that the checks need, with a flag where Konvoy's default applies.</summary>
public sealed record ClusterFacts(
    string ApiVersion, string? Provider,
    string PodSubnet, bool PodSubnetIsDefault,
    string ServiceSubnet, bool ServiceSubnetIsDefault,
    string? ControlPlaneEndpoint)
{
    public SourceLocation? PodSubnetLocation { get; init; }
    public SourceLocation? ServiceSubnetLocation { get; init; }
    public SourceLocation? ControlPlaneEndpointLocation { get; init; }
}

/// <summary>Where the metallb addon sits in cluster.yaml, and what its values say.</summary>
public sealed class MetalLbAddon
{
    internal YMap Repository { get; init; } = null!;
    internal YSeq AddonsList { get; init; } = null!;
    internal YMap Entry { get; init; } = null!;
    internal YScalar? ValuesNode { get; init; }
    internal BlockScalarView? Values { get; init; }
    internal YNode? ValuesRoot { get; init; }
    public string? RepositoryUrl { get; init; }
    public bool Enabled { get; init; }
    public int Line => Entry.Line;
    /// <summary>'values' is a quoted or plain string: an edit writes it anew as a literal block.</summary>
    public bool ValuesIsInlineString => ValuesNode is { IsBlock: false, IsNull: false };
    public ConfigDocument Document { get; init; } = null!;
    public MetalLbConfig Config => Document.Config;
    /// <summary>
    /// configInline as MetalLB reads it from the chart's ConfigMap: its lines as written (comments kept), indented
    /// from column 1, with "\n" line ends; "" when there is none.
    /// </summary>
    public string ConfigInlineText { get; init; } = "";

    /// <summary>The text of <paramref name="node"/> inside <paramref name="values"/>, its lines moved left to column 1.</summary>
    internal static string Dedent(string values, YNode? node)
    {
        if (node is null or YScalar) return "";
        if (node.IsFlow) return values[node.Start..node.End] + "\n";
        int begin = node.Start == 0 ? 0 : values.LastIndexOf('\n', node.Start - 1) + 1;
        int indent = node.Column - 1;
        // Comments just above the first key (under "configInline:") belong to the configuration too.
        while (begin > 0)
        {
            int previous = begin - 1 == 0 ? 0 : values.LastIndexOf('\n', begin - 2) + 1;
            var line = values[previous..(begin - 1)].TrimEnd('\r');
            if (!line.TrimStart().StartsWith('#') || line.Length - line.TrimStart().Length < indent) break;
            begin = previous;
        }
        var lines = values[begin..node.End].Replace("\r\n", "\n").Split('\n')
            .Select(l => l.Length >= indent && l[..indent].All(c => c == ' ') ? l[indent..] : l.TrimStart())
            .Reverse().SkipWhile(l => l.Trim().Length == 0 || l.TrimStart().StartsWith('#')).Reverse();
        return string.Join("\n", lines) + "\n";
    }
}

/// <summary>
/// A Konvoy cluster.yaml as read from disk: its exact text, the ClusterConfiguration document, the
/// metallb addon and the cluster facts. Changes are planned as text edits (<see cref="Plan"/>),
/// checked by reading the result back, and written atomically (<see cref="Save"/>).
/// </summary>
public sealed class KonvoyFile
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public string Path { get; }
    public string Text { get; }
    public bool HasBom { get; }
    public string Eol { get; }
    public ClusterFacts Facts { get; }
    public MetalLbAddon? Addon { get; }
    internal YMap Cluster { get; }
    readonly byte[] _bytes;

    KonvoyFile(string path, byte[] bytes, string text, bool bom)
    {
        Path = path; _bytes = bytes; Text = text; HasBom = bom;
        Eol = YamlEditor.DetectEol(text);
        List<YDocument> docs;
        try { docs = YamlTree.ParseStream(text); }
        catch (YamlException e)
        {
            throw new LbException(ErrorId.NotYaml, $"the file is not valid YAML: {Inner(e).Message}", path,
                new SourceLocation(path, (int)e.Start.Line, (int)e.Start.Column), "Fix the YAML syntax at that place (indentation, a missing colon or quote).", inner: e);
        }
        var roots = docs.Select(d => d.Root).OfType<YMap>().ToList();
        Cluster = roots.FirstOrDefault(r => (r["kind"] as YScalar)?.Value == "ClusterConfiguration")
            ?? throw new LbException(ErrorId.NoClusterConfiguration, "the file has no document with 'kind: ClusterConfiguration'.", path, new SourceLocation(path, 1, 1),
                "Point -Path at the cluster.yaml that 'konvoy init' wrote (it holds a ClusterConfiguration document).");
        var provisioner = roots.FirstOrDefault(r => (r["kind"] as YScalar)?.Value == "ClusterProvisioner");
        string apiVersion = (Cluster["apiVersion"] as YScalar)?.Value ?? "";
        var addons = Child(Cluster, "spec", "addons");
        if (apiVersion.EndsWith("/v1alpha1", StringComparison.Ordinal) || addons is YMap)
            throw new LbException(ErrorId.UnsupportedApiVersion, $"apiVersion '{apiVersion}' (Konvoy 1.2 and older, where spec.addons is one map) is not supported.", path,
                Locate(addons ?? Cluster), "Upgrade the file with Konvoy 1.3 or later (apiVersion konvoy.mesosphere.io/v1beta1 or v1beta2).");
        Facts = ReadFacts(apiVersion, (Child(provisioner, "spec", "provider") as YScalar)?.Value);
        Addon = addons is YSeq repos ? FindAddon(repos) : null;
    }

    static Exception Inner(Exception e) => e.InnerException is YamlException inner ? inner : e;

    public static KonvoyFile Load(string path)
    {
        if (!File.Exists(path))
            throw new LbException(ErrorId.FileNotFound, $"cannot find '{path}'.", path,
                fix: "Check the path; Konvoy writes cluster.yaml into the directory where 'konvoy init' ran.");
        return FromBytes(path, File.ReadAllBytes(path));
    }

    public static KonvoyFile FromBytes(string path, byte[] bytes)
    {
        bool bom = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF;
        string text;
        try { text = StrictUtf8.GetString(bytes, bom ? 3 : 0, bytes.Length - (bom ? 3 : 0)); }
        catch (DecoderFallbackException e)
        {
            throw new LbException(ErrorId.FileNotUtf8, $"'{path}' is not UTF-8 text (invalid byte at offset {e.Index}).", path,
                fix: "Save the file as UTF-8.", inner: e);
        }
        return new KonvoyFile(path, bytes, text, bom);
    }

    static YNode? Child(YNode? node, params string[] keys)
    {
        foreach (var k in keys) node = (node as YMap)?[k];
        return node;
    }

    SourceLocation Locate(YNode node) => new(Path, node.Line, node.Column);

    ClusterFacts ReadFacts(string apiVersion, string? provider)
    {
        var networking = Child(Cluster, "spec", "kubernetes", "networking");
        var (podDefault, serviceDefault) = provider switch
        {
            "docker" => ("10.254.0.0/16", "10.255.0.0/16"),
            "azure" => ("10.0.128.0/18", "10.0.0.0/18"),
            _ => ("192.168.0.0/16", "10.0.0.0/18"),
        };
        var podNode = Child(networking, "podSubnet") as YScalar;
        var serviceNode = Child(networking, "serviceSubnet") as YScalar;
        string? pod = podNode?.Value, service = serviceNode?.Value;
        var endpoint = Child(Cluster, "spec", "kubernetes", "controlPlane", "controlPlaneEndpointOverride") as YScalar;
        return new ClusterFacts(apiVersion, provider,
            string.IsNullOrEmpty(pod) ? podDefault : pod, string.IsNullOrEmpty(pod),
            string.IsNullOrEmpty(service) ? serviceDefault : service, string.IsNullOrEmpty(service),
            string.IsNullOrEmpty(endpoint?.Value) ? null : endpoint.Value)
        {
            PodSubnetLocation = podNode is null ? null : Locate(podNode),
            ServiceSubnetLocation = serviceNode is null ? null : Locate(serviceNode),
            ControlPlaneEndpointLocation = endpoint is null ? null : Locate(endpoint),
        };
    }

    MetalLbAddon? FindAddon(YSeq repos)
    {
        foreach (var repo in repos.Items.OfType<YMap>())
        {
            if (repo["addonsList"] is not YSeq list) continue;
            foreach (var entry in list.Items.OfType<YMap>())
            {
                if ((entry["name"] as YScalar)?.Value != "metallb") continue;
                return ReadAddon(repo, list, entry);
            }
        }
        return null;
    }

    MetalLbAddon ReadAddon(YMap repo, YSeq list, YMap entry)
    {
        var enabledNode = entry["enabled"] as YScalar;
        if (entry["values"] is { } written and not YScalar)
            // Konvoy hands values to Helm as one string; a mapping here is not read as the user meant.
            throw new LbException(ErrorId.ValuesNotBlockScalar, $"the metallb addon's 'values' is written as a YAML {(written is YSeq ? "list" : "mapping")}, but Konvoy reads it as one string of Helm values.",
                Path, Locate(written), "values must be a block string: write 'values: |' and indent the Helm values (configInline: ...) under it.");
        var valuesNode = entry["values"] as YScalar;
        BlockScalarView? view = null;
        YNode? valuesRoot = null;
        string inner = "";
        Func<YNode, SourceLocation> locate = Locate;
        if (valuesNode is { IsBlock: true })
        {
            view = new BlockScalarView(Text, valuesNode, entry.Column - 1, 2, Eol);
            inner = view.Inner;
            locate = n => { var (l, c) = view.ToOuterPosition(n.Line, n.Column); return new SourceLocation(Path, l, c); };
        }
        else if (valuesNode is { IsNull: false })
        {
            inner = valuesNode.Value;
            locate = _ => Locate(valuesNode);
        }
        try { valuesRoot = YamlTree.ParseSingle(inner); }
        catch (YamlException e)
        {
            var mark = Inner(e) is YamlException ye ? ye.Start : e.Start;
            var at = view is null ? Locate(valuesNode!) : new SourceLocation(Path, view.ToOuterPosition((int)mark.Line, (int)mark.Column).Line, view.ToOuterPosition((int)mark.Line, (int)mark.Column).Column);
            throw new LbException(ErrorId.ValuesNotYaml, $"the metallb addon's 'values' block is not valid YAML: {Inner(e).Message}", Path, at,
                "Fix the indentation inside the values block: every line must be indented at least as far as its first line.", inner: e);
        }
        if (valuesRoot is not (null or YMap or YScalar { IsNull: true }))
            throw new LbException(ErrorId.ValuesNotMapping, "the metallb addon's values are not a mapping of Helm values.", Path, locate(valuesRoot),
                "Make the values a YAML mapping with a 'configInline' key (configInline: then MetalLB's address-pools, peers, ...).");
        var configInline = (valuesRoot as YMap)?["configInline"];
        if (configInline is not (null or YMap or YScalar { IsNull: true }))
            throw new LbException(ErrorId.ConfigInlineNotMapping, $"'configInline' is {(configInline is YSeq ? "a list" : $"the value '{((YScalar)configInline).Value}'")}, not MetalLB's configuration.", Path, locate(configInline),
                "configInline must be a mapping: put address-pools (and peers, bgp-communities) on the lines under it, indented.");
        return new MetalLbAddon
        {
            Repository = repo, AddonsList = list, Entry = entry, ValuesNode = valuesNode, Values = view,
            ValuesRoot = valuesRoot,
            RepositoryUrl = (repo["configRepository"] as YScalar)?.Value,
            Enabled = enabledNode is not null && ScalarText.ParseBool(enabledNode.Value) == true,
            Document = new ConfigDocument(configInline, locate, Locate((YNode?)valuesNode ?? entry)),
            ConfigInlineText = MetalLbAddon.Dedent(inner, configInline),
        };
    }

    /// <summary>
    /// The file's text with the characters of every BGP password scalar replaced by ********, line for
    /// line (so a diff of two masked texts lines up with the diff of the real ones). The spans come from
    /// the parser, whatever the style: block or flow peers, quoted or plain passwords. When the values
    /// are a quoted string, whose inner positions do not map to the file, the whole values string is
    /// masked if any peer has a password.
    /// </summary>
    public string MaskedText()
    {
        if (Addon is not { } addon || ((addon.ValuesRoot as YMap)?["configInline"] as YMap)?["peers"] is not YSeq peers) return Text;
        var spans = new List<(int Start, int End)>();
        foreach (var password in peers.Items.OfType<YMap>().Select(p => p["password"]).OfType<YScalar>())
        {
            if (addon.Values is { } view) spans.Add((view.ToOuter(password.Start), view.ToOuter(password.End)));
            else if (addon.ValuesNode is { } values) spans.Add((values.Start, values.End));
        }
        var sb = new StringBuilder(Text.Length);
        int pos = 0;
        foreach (var (start, end) in spans.Distinct().OrderBy(x => x.Start))
        {
            if (start < pos) continue;
            sb.Append(Text, pos, start - pos);
            // Each line's part of the secret becomes ********; the line breaks inside it stay.
            bool masked = false;
            for (int i = start; i < end; i++)
            {
                if (Text[i] is '\n' or '\r') { sb.Append(Text[i]); masked = false; }
                else if (!masked) { sb.Append("********"); masked = true; }
            }
            pos = end;
        }
        return sb.Append(Text, pos, Text.Length - pos).ToString();
    }

    /// <summary>All of MetalLB's rules on the file as it is: read problems and validation.</summary>
    public List<Finding> Validate() =>
        Addon is null ? new() : Addon.Document.Validate();

    // ---- planning edits -----------------------------------------------------------------------

    /// <summary>
    /// The new text of the file with the metallb config replaced by <paramref name="config"/> (and the
    /// addon switched when <paramref name="enabled"/> is given), touching only the bytes that change.
    /// The result is read back and must mean exactly what was asked and pass MetalLB's rules; else
    /// this throws and nothing is written.
    /// </summary>
    public string Plan(MetalLbConfig? config, bool? enabled = null)
    {
        var outer = new YamlEditor(Text, IndentStyle.Detect(Cluster, IndentStyle.Default), Eol);
        var addon = Addon;
        var intended = config ?? addon?.Config ?? new MetalLbConfig { AddressPools = new() };
        if (addon is null)
        {
            if (enabled != true)
                throw LbErrors.MetalLbAddonNotFound(Path, Locate(Cluster));
            AddEntry(outer, intended);
        }
        else
        {
            if (enabled is { } on) outer.SetEntry(addon.Entry, "enabled", DNode.Bool(on));
            if (config is not null) PlanConfig(outer, addon, config);
        }
        string newText = outer.Apply();
        // Switching the addon off needs no valid configuration; anything else must pass MetalLB's rules.
        Verify(newText, intended, enabled ?? addon?.Enabled ?? false, validate: config is not null || enabled == true);
        return newText;
    }

    void PlanConfig(YamlEditor outer, MetalLbAddon addon, MetalLbConfig config)
    {
        var desired = ConfigWriter.ToTree(config);
        if (addon.ValuesNode is null or { IsNull: true })
        {
            var inner = new YamlEditor("", IndentStyle.Default, "\n");
            outer.SetEntry(addon.Entry, "values", new DLiteral(inner.RenderEntry("configInline", desired, 0) + "\n"));
            return;
        }
        if (addon.Values is not { } view)
        {
            // A quoted or plain values string: edit its text as a document of its own, then write the
            // one scalar anew as a literal block ('values: |'); every other byte of the file stays.
            var text = addon.ValuesNode.Value;
            var inner = new YamlEditor(text, IndentStyle.Detect(addon.ValuesRoot, IndentStyle.Default), "\n");
            PlanConfigInline(inner, addon, desired);
            outer.SetEntry(addon.Entry, "values", new DLiteral(inner.Apply()));
            return;
        }
        var editor = new YamlEditor(view.Inner, IndentStyle.Detect(addon.ValuesRoot, IndentStyle.Default), "\n");
        PlanConfigInline(editor, addon, desired);
        foreach (var e in editor.Edits) outer.Add(view.ToOuter(e));
    }

    static void PlanConfigInline(YamlEditor editor, MetalLbAddon addon, DNode desired)
    {
        if (addon.ValuesRoot is YMap root) editor.SetEntry(root, "configInline", desired);
        else editor.Add(new TextEdit(0, 0, editor.RenderEntry("configInline", desired, 0) + "\n"));
    }

    void AddEntry(YamlEditor outer, MetalLbConfig config)
    {
        if (Child(Cluster, "spec", "addons") is not YSeq repos || repos.Items.OfType<YMap>().FirstOrDefault(r => r["addonsList"] is YSeq { IsFlow: false, Items.Count: > 0 }) is null)
            throw new LbException(ErrorId.AddonsNotFound, "the file has no spec.addons repository with an addonsList.",
                Path, Locate(Cluster), "Add the kubernetes-base-addons repository (konvoy init writes it) and run Enable-LbAddon again.");
        var repo = repos.Items.OfType<YMap>().Where(r => r["addonsList"] is YSeq { IsFlow: false, Items.Count: > 0 })
            .OrderByDescending(r => ((r["configRepository"] as YScalar)?.Value ?? "").Contains("kubernetes-base-addons")).First();
        var list = (YSeq)repo["addonsList"]!;
        int after = -1;
        for (int i = 0; i < list.Items.Count; i++)
            if (string.CompareOrdinal(((list.Items[i] as YMap)?["name"] as YScalar)?.Value, "metallb") < 0) after = i;
        var inner = new YamlEditor("", IndentStyle.Default, "\n");
        var entry = new DMapBuilder().Add("name", "metallb").Add("enabled", true)
            .Add("values", new DLiteral(inner.RenderEntry("configInline", ConfigWriter.ToTree(config), 0) + "\n")).Build();
        outer.InsertItem(list, after, entry);
    }

    void Verify(string newText, MetalLbConfig intended, bool enabled, bool validate)
    {
        KonvoyFile reread;
        try { reread = FromBytes(Path, Encode(newText)); }
        catch (LbException e)
        {
            throw LbErrors.EditVerificationFailed($"the edited file would not read back ({e.Message})", Path, e);
        }
        var findings = validate ? reread.Validate() : new List<Finding>();
        if (findings.Count > 0)
            throw new LbException(ErrorId.InvalidConfig, $"the change would break MetalLB's configuration ({findings.Count} problem{(findings.Count == 1 ? "" : "s")}); nothing was written:"
                + string.Concat(findings.Select(f => "\n  " + f)), Path, findings: findings);
        var want = ConfigWriter.ToTree(intended).ToFlow();
        var got = reread.Addon?.Config is { } c ? ConfigWriter.ToTree(c).ToFlow() : "";
        if (reread.Addon is null || reread.Addon.Enabled != enabled || want != got)
            throw LbErrors.EditVerificationFailed($"the edited file does not read back as intended (intended: {want}; read back: {got})", Path);
    }

    public byte[] Encode(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        return HasBom ? new byte[] { 0xEF, 0xBB, 0xBF }.Concat(body).ToArray() : body;
    }

    /// <summary>Writes atomically, and refuses when the file changed on disk since it was read.</summary>
    public void Save(string newText) => AtomicFile.Write(Path, Encode(newText), expected: _bytes);

}
