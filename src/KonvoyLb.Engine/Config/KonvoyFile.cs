using System.Text;
using KonvoyLb.Engine.Config.Yaml;
using YamlDotNet.Core;

namespace KonvoyLb.Engine.Config;

/// <summary>Facts about the cluster that the checks need, with a flag where Konvoy's default applies.</summary>
public sealed record ClusterFacts(
    string ApiVersion, string? Provider,
    string PodSubnet, bool PodSubnetIsDefault,
    string ServiceSubnet, bool ServiceSubnetIsDefault,
    string? ControlPlaneEndpoint);

/// <summary>Where the metallb addon sits in cluster.yaml, and what its values say.</summary>
public sealed class MetalLbAddon
{
    internal YMap Repository { get; init; } = null!;
    internal YSeq AddonsList { get; init; } = null!;
    internal YMap Entry { get; init; } = null!;
    internal YScalar? ValuesNode { get; init; }
    internal BlockScalarView? Values { get; init; }
    internal YNode? ValuesRoot { get; init; }
    internal YNode? ConfigInline { get; init; }
    public string? RepositoryUrl { get; init; }
    public bool Enabled { get; init; }
    public int Line => Entry.Line;
    public MetalLbConfig Config { get; init; } = new();
    public List<Finding> ReadFindings { get; init; } = new();
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
            throw new LbException(ErrorId.NotYaml, ErrorKind.InvalidData, $"the file is not valid YAML: {Inner(e).Message}", path,
                new SourceLocation(path, (int)e.Start.Line, (int)e.Start.Column), "Fix the YAML syntax at that place (indentation, a missing colon or quote).", inner: e);
        }
        var roots = docs.Select(d => d.Root).OfType<YMap>().ToList();
        Cluster = roots.FirstOrDefault(r => (r["kind"] as YScalar)?.Value == "ClusterConfiguration")
            ?? throw new LbException(ErrorId.NoClusterConfiguration, ErrorKind.InvalidData,
                "the file has no document with 'kind: ClusterConfiguration'.", path, new SourceLocation(path, 1, 1),
                "Point -Path at the cluster.yaml that 'konvoy init' wrote (it holds a ClusterConfiguration document).");
        var provisioner = roots.FirstOrDefault(r => (r["kind"] as YScalar)?.Value == "ClusterProvisioner");
        string apiVersion = (Cluster["apiVersion"] as YScalar)?.Value ?? "";
        var addons = Child(Cluster, "spec", "addons");
        if (apiVersion.EndsWith("/v1alpha1", StringComparison.Ordinal) || addons is YMap)
            throw new LbException(ErrorId.UnsupportedApiVersion, ErrorKind.NotImplemented,
                $"apiVersion '{apiVersion}' (Konvoy 1.2 and older, where spec.addons is one map) is not supported.", path,
                Locate(addons ?? Cluster), "Upgrade the file with Konvoy 1.3 or later (apiVersion konvoy.mesosphere.io/v1beta1 or v1beta2).");
        Facts = ReadFacts(apiVersion, (Child(provisioner, "spec", "provider") as YScalar)?.Value);
        Addon = addons is YSeq repos ? FindAddon(repos) : null;
    }

    static Exception Inner(Exception e) => e.InnerException is YamlException inner ? inner : e;

    public static KonvoyFile Load(string path)
    {
        if (!File.Exists(path))
            throw new LbException(ErrorId.FileNotFound, ErrorKind.ObjectNotFound, $"cannot find '{path}'.", path,
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
            throw new LbException(ErrorId.FileNotUtf8, ErrorKind.InvalidData, $"'{path}' is not UTF-8 text (invalid byte at offset {e.Index}).", path,
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
        string? pod = (Child(networking, "podSubnet") as YScalar)?.Value, service = (Child(networking, "serviceSubnet") as YScalar)?.Value;
        var endpoint = Child(Cluster, "spec", "kubernetes", "controlPlane", "controlPlaneEndpointOverride") as YScalar;
        return new ClusterFacts(apiVersion, provider,
            string.IsNullOrEmpty(pod) ? podDefault : pod, string.IsNullOrEmpty(pod),
            string.IsNullOrEmpty(service) ? serviceDefault : service, string.IsNullOrEmpty(service),
            string.IsNullOrEmpty(endpoint?.Value) ? null : endpoint.Value);
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
            throw new LbException(ErrorId.ValuesNotYaml, ErrorKind.InvalidData,
                $"the metallb addon's 'values' block is not valid YAML: {Inner(e).Message}", Path, at,
                "Fix the indentation inside the values block: every line must be indented at least as far as its first line.", inner: e);
        }
        var configInline = (valuesRoot as YMap)?["configInline"];
        var (config, findings) = ConfigReader.Read(configInline, locate);
        return new MetalLbAddon
        {
            Repository = repo, AddonsList = list, Entry = entry, ValuesNode = valuesNode, Values = view,
            ValuesRoot = valuesRoot, ConfigInline = configInline,
            RepositoryUrl = (repo["configRepository"] as YScalar)?.Value,
            Enabled = enabledNode is not null && ScalarText.ParseBool(enabledNode.Value) == true,
            Config = config, ReadFindings = findings,
        };
    }

    /// <summary>Finds the place of a config path ("address-pools/0/addresses/1"), or of its nearest existing parent.</summary>
    public SourceLocation? LocateConfigPath(string path)
    {
        if (Addon?.ConfigInline is not { } node) return Addon is null ? null : Locate(Addon.Entry);
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            YNode? next = node switch
            {
                YMap m => m[part],
                YSeq s when int.TryParse(part, out var i) && i < s.Items.Count => s.Items[i],
                _ => null,
            };
            if (next is null) break;
            node = next;
        }
        if (Addon.Values is { } view)
        {
            var (l, c) = view.ToOuterPosition(node.Line, node.Column);
            return new SourceLocation(Path, l, c);
        }
        return Addon.ValuesNode is null ? Locate(Addon.Entry) : Locate(Addon.ValuesNode);
    }

    /// <summary>All of MetalLB's rules on the file as it is: read problems and validation.</summary>
    public List<Finding> Validate() =>
        Addon is null ? new() : Addon.ReadFindings.Concat(ConfigValidator.Validate(Addon.Config, LocateConfigPath)).ToList();

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
                throw new LbException(ErrorId.MetalLbAddonNotFound, ErrorKind.ObjectNotFound,
                    "the file has no metallb addon entry.", Path, Locate(Cluster), "Add it with Enable-LbAddon first.");
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
            throw new LbException(ErrorId.ValuesNotBlockScalar, ErrorKind.NotImplemented,
                "the metallb addon's 'values' is a quoted or plain string, which cannot be edited in place.", Path, Locate(addon.ValuesNode),
                "Rewrite it as a literal block ('values: |' followed by the indented YAML) and run the command again.");
        var editor = new YamlEditor(view.Inner, IndentStyle.Detect(addon.ValuesRoot, IndentStyle.Default), "\n");
        if (addon.ValuesRoot is YMap root) editor.SetEntry(root, "configInline", desired);
        else if (addon.ValuesRoot is null) editor.Add(new TextEdit(0, 0, editor.RenderEntry("configInline", desired, 0) + "\n"));
        else throw new LbException(ErrorId.ValuesNotYaml, ErrorKind.InvalidData, "the metallb addon's values are not a mapping of Helm values.",
            Path, Locate(addon.ValuesNode), "Make 'values' a YAML mapping with a 'configInline' key.");
        foreach (var e in editor.Edits) outer.Add(view.ToOuter(e));
    }

    void AddEntry(YamlEditor outer, MetalLbConfig config)
    {
        if (Child(Cluster, "spec", "addons") is not YSeq repos || repos.Items.OfType<YMap>().FirstOrDefault(r => r["addonsList"] is YSeq { IsFlow: false, Items.Count: > 0 }) is null)
            throw new LbException(ErrorId.AddonsNotFound, ErrorKind.ObjectNotFound, "the file has no spec.addons repository with an addonsList.",
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
            throw new LbException(ErrorId.EditVerificationFailed, ErrorKind.InvalidOperation,
                $"the edited file would not read back ({e.Message}); nothing was written.", Path, fix: "Please report this with the file.", inner: e);
        }
        var findings = validate ? reread.Validate() : new List<Finding>();
        if (findings.Count > 0)
            throw new LbException(ErrorId.InvalidConfig, ErrorKind.InvalidData,
                $"the change would break MetalLB's configuration ({findings.Count} problem{(findings.Count == 1 ? "" : "s")}); nothing was written:"
                + string.Concat(findings.Select(f => "\n  " + f)), Path, findings: findings);
        var want = ConfigWriter.ToTree(intended).ToFlow();
        var got = reread.Addon?.Config is { } c ? ConfigWriter.ToTree(c).ToFlow() : "";
        if (reread.Addon is null || reread.Addon.Enabled != enabled || want != got)
            throw new LbException(ErrorId.EditVerificationFailed, ErrorKind.InvalidOperation,
                $"the edited file does not read back as intended; nothing was written.\n  intended: {want}\n  read back: {got}", Path,
                fix: "Please report this with the file.");
    }

    public byte[] Encode(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        return HasBom ? new byte[] { 0xEF, 0xBB, 0xBF }.Concat(body).ToArray() : body;
    }

    /// <summary>
    /// Writes atomically: a temporary file beside the target, flushed, given the target's mode, then
    /// renamed over it. Refuses when the file changed on disk since it was read. When the path is a
    /// symbolic link, the file it points to is the one replaced, so the link stays a link.
    /// </summary>
    public void Save(string newText)
    {
        byte[] current;
        string target;
        try
        {
            current = File.ReadAllBytes(Path);
            target = new FileInfo(System.IO.Path.GetFullPath(Path)).ResolveLinkTarget(returnFinalTarget: true)?.FullName
                ?? System.IO.Path.GetFullPath(Path);
        }
        catch (IOException e) { throw WriteFailed(e); }
        if (!current.AsSpan().SequenceEqual(_bytes))
            throw new LbException(ErrorId.FileChangedOnDisk, ErrorKind.InvalidOperation,
                $"'{Path}' changed on disk after it was read; nothing was written so that the other change is not lost.", Path,
                fix: "Run the command again: it will apply to the file as it is now.");
        string dir = System.IO.Path.GetDirectoryName(target)!;
        string temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(Encode(newText));
                fs.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(target));
            File.Move(temp, target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw WriteFailed(e);
        }
    }

    LbException WriteFailed(Exception e) => new(ErrorId.FileWriteFailed, ErrorKind.WriteError,
        $"cannot write '{Path}': {e.Message}", Path, fix: "Check that the directory is writable and the disk is not full.", inner: e);
}
