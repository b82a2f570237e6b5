using System.Net;
using KonvoyLb.Engine.Config.Yaml;
using YamlDotNet.Core;

namespace KonvoyLb.Engine.Config;

/// <summary>A node of Konvoy's Ansible inventory: its private IP (the key), group and SSH address.</summary>
public sealed record InventoryHost(string Address, string Group, string? AnsibleHost, SourceLocation Location)
{
    public IPAddress? IP => IPAddress.TryParse(Address, out var ip) ? ip : null;
    /// <summary>How Ansible (and so Konvoy) reaches the host over SSH: its vars, its groups' and all.vars, nearest first.</summary>
    public SshEndpoint Ssh { get; init; } = new(Address, 22, null, null);
}

/// <summary>
/// An SSH destination as the inventory gives it: ansible_host (else the key), ansible_port (else 22), ansible_user and
/// ansible_ssh_private_key_file (null when the inventory says nothing: the current user, the agent or -SshKeyPath).
/// </summary>
public sealed record SshEndpoint(string Host, int Port, string? User, string? KeyFile);

/// <summary>Konvoy's inventory.yaml: hosts by group (children followed) and all.vars.control_plane_endpoint.</summary>
public sealed class Inventory
{
    public string Path { get; }
    public IReadOnlyList<InventoryHost> Hosts { get; }
    public string? ControlPlaneEndpoint { get; }
    public SourceLocation? ControlPlaneEndpointLocation { get; }
    /// <summary>The hosts of the bastion group: Konvoy's SSH connections go through the first.</summary>
    public IReadOnlyList<InventoryHost> Bastions => Hosts.Where(h => h.Group == "bastion").ToList();
    /// <summary>The cluster's hosts (every group but bastion).</summary>
    public IReadOnlyList<InventoryHost> Nodes => Hosts.Where(h => h.Group != "bastion").ToList();

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
        var all = (groups["all"] as YMap)?["vars"] as YMap;
        // Ansible's precedence for the connection variables: the host's own, then its groups' (nearest first), then all.vars.
        static string? Var(string name, IEnumerable<YMap?> scopes) =>
            scopes.Select(m => (m?[name] as YScalar)?.Value).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        void Group(string name, YNode? node, int depth, List<YMap?> scopes)
        {
            if (node is not YMap g || depth > 16) return;
            var inner = new List<YMap?> { g["vars"] as YMap };
            inner.AddRange(scopes);
            if (g["hosts"] is YMap hostMap)
                foreach (var (key, value) in hostMap.Entries)
                    if (seen.Add(key.Value))
                    {
                        var own = new List<YMap?> { value as YMap };
                        own.AddRange(inner);
                        own.Add(all);
                        string? ansibleHost = Var("ansible_host", [value as YMap]);
                        int port = int.TryParse(Var("ansible_port", own), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536 ? p : 22;
                        hosts.Add(new InventoryHost(key.Value, name, ansibleHost, new SourceLocation(path, key.Line, key.Column))
                        {
                            Ssh = new SshEndpoint(ansibleHost ?? key.Value, port, Var("ansible_user", own), Var("ansible_ssh_private_key_file", own) ?? Var("ansible_private_key_file", own)),
                        });
                    }
            if (g["children"] is YMap children)
                foreach (var (key, value) in children.Entries) Group(key.Value, value, depth + 1, inner);
        }
        foreach (var (key, value) in groups.Entries) Group(key.Value, value, 0, []);
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
