using System.Net;
using KonvoyLb.Engine.Config.Yaml;
using YamlDotNet.Core;

namespace KonvoyLb.Engine.Config;

/// <summary>A node of Konvoy's Ansible inventory: its private IP (the key), group and SSH address.</summary>
public sealed record InventoryHost(string Address, string Group, string? AnsibleHost, SourceLocation Location)
{
    public IPAddress? IP => IPAddress.TryParse(Address, out var ip) ? ip : null;
}

/// <summary>Konvoy's inventory.yaml: hosts by group (children followed) and all.vars.control_plane_endpoint.</summary>
public sealed class Inventory
{
    public string Path { get; }
    public IReadOnlyList<InventoryHost> Hosts { get; }
    public string? ControlPlaneEndpoint { get; }
    public SourceLocation? ControlPlaneEndpointLocation { get; }

    Inventory(string path, List<InventoryHost> hosts, YScalar? endpoint)
    {
        Path = path; Hosts = hosts;
        ControlPlaneEndpoint = string.IsNullOrEmpty(endpoint?.Value) ? null : endpoint.Value;
        ControlPlaneEndpointLocation = endpoint is null ? null : new SourceLocation(path, endpoint.Line, endpoint.Column);
    }

    public static Inventory Load(string path)
    {
        if (!File.Exists(path))
            throw new LbException(ErrorId.FileNotFound, $"cannot find the inventory '{path}'.", path,
                fix: "Give -InventoryPath the inventory.yaml that Konvoy uses (it sits beside cluster.yaml).");
        return Parse(path, File.ReadAllText(path));
    }

    public static Inventory Parse(string path, string text)
    {
        YNode? root;
        try { root = YamlTree.ParseSingle(text); }
        catch (YamlException e)
        {
            throw new LbException(ErrorId.InventoryNotYaml, $"the inventory is not valid YAML: {e.Message}", path,
                new SourceLocation(path, (int)e.Start.Line, (int)e.Start.Column), "Fix the YAML syntax at that place.", inner: e);
        }
        if (root is not YMap groups)
            throw new LbException(ErrorId.InventoryNotYaml, "the inventory is not a map of Ansible groups.", path,
                new SourceLocation(path, 1, 1), "Konvoy's inventory.yaml has groups control-plane, node and all at the top.");
        var hosts = new List<InventoryHost>();
        var seen = new HashSet<string>();
        void Group(string name, YNode? node, int depth)
        {
            if (node is not YMap g || depth > 16) return;
            if (g["hosts"] is YMap hostMap)
                foreach (var (key, value) in hostMap.Entries)
                    if (seen.Add(key.Value))
                        hosts.Add(new InventoryHost(key.Value, name, ((value as YMap)?["ansible_host"] as YScalar)?.Value,
                            new SourceLocation(path, key.Line, key.Column)));
            if (g["children"] is YMap children)
                foreach (var (key, value) in children.Entries) Group(key.Value, value, depth + 1);
        }
        foreach (var (key, value) in groups.Entries) Group(key.Value, value, 0);
        var endpoint = ((groups["all"] as YMap)?["vars"] as YMap)?["control_plane_endpoint"] as YScalar;
        return new Inventory(path, hosts, endpoint);
    }
}

/// <summary>
/// A MetalLB legacy configuration outside Konvoy: a bare config file (address-pools at the top) or a
/// ConfigMap manifest whose data.config holds it — for users of plain MetalLB 0.9–0.12.
/// </summary>
public static class MetalLbConfigFile
{
    public static ConfigDocument Load(string path)
    {
        if (!File.Exists(path))
            throw new LbException(ErrorId.FileNotFound, $"cannot find '{path}'.", path,
                fix: "Point -MetalLbConfigPath at a MetalLB config file or ConfigMap manifest.");
        string text = File.ReadAllText(path);
        List<YDocument> docs;
        try { docs = YamlTree.ParseStream(text); }
        catch (YamlException e)
        {
            throw new LbException(ErrorId.NotYaml, $"the file is not valid YAML: {e.Message}", path,
                new SourceLocation(path, (int)e.Start.Line, (int)e.Start.Column), "Fix the YAML syntax at that place.", inner: e);
        }
        SourceLocation At(YNode n) => new(path, n.Line, n.Column);
        foreach (var root in docs.Select(d => d.Root).OfType<YMap>())
        {
            if ((root["kind"] as YScalar)?.Value == "ConfigMap")
            {
                if ((root["data"] as YMap)?["config"] is not YScalar config) continue;
                if (!config.IsBlock)
                    return new ConfigDocument(ParseInner(path, config.Value, At(config)), _ => At(config), At(config));
                var view = new BlockScalarView(text, config, ((YMap)root["data"]!).Column - 1, 2, YamlEditor.DetectEol(text));
                return new ConfigDocument(ParseInner(path, view.Inner, At(config)), n =>
                {
                    var (l, c) = view.ToOuterPosition(n.Line, n.Column);
                    return new SourceLocation(path, l, c);
                }, At(config));
            }
            if (root["address-pools"] is not null || root["peers"] is not null)
                return new ConfigDocument(root, At, At(root));
        }
        throw new LbException(ErrorId.ConfigFileNotRecognized, "the file holds neither a MetalLB configuration (address-pools, peers at the top) nor a ConfigMap with data.config.", path,
            new SourceLocation(path, 1, 1), "For a Konvoy cluster.yaml use -Path instead of -MetalLbConfigPath.");
    }

    static YNode? ParseInner(string path, string text, SourceLocation at)
    {
        try { return YamlTree.ParseSingle(text); }
        catch (YamlException e)
        {
            throw new LbException(ErrorId.ValuesNotYaml, $"data.config is not valid YAML: {e.Message}", path, at,
                "Fix the indentation inside data.config.", inner: e);
        }
    }
}
