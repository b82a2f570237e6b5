using KonvoyLb.Engine.Config.Yaml;

namespace KonvoyLb.Engine.Config;

/// <summary>
/// A MetalLB legacy configuration as found in some file (cluster.yaml's configInline, a bare config,
/// a ConfigMap's data.config): the model, the problems met while reading it, and where each part of
/// it stands in that file.
/// </summary>
public sealed class ConfigDocument
{
    readonly YNode? _root;
    readonly Func<YNode, SourceLocation> _map;
    readonly SourceLocation _fallback;

    public MetalLbConfig Config { get; }
    public IReadOnlyList<Finding> ReadFindings { get; }

    /// <param name="root">The configuration's root node (null when absent).</param>
    /// <param name="map">Where a node of that tree stands in the file.</param>
    /// <param name="fallback">Where to point when the configuration is absent.</param>
    public ConfigDocument(YNode? root, Func<YNode, SourceLocation> map, SourceLocation fallback)
    {
        _root = root; _map = map; _fallback = fallback;
        (Config, var findings) = ConfigReader.Read(root, map);
        ReadFindings = findings;
    }

    /// <summary>The place of a config path ("address-pools/0/addresses/1"), or of its nearest existing parent.</summary>
    public SourceLocation LocatePath(string path)
    {
        if (_root is not { } node) return _fallback;
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
        return _map(node);
    }

    /// <summary>MetalLB's own rules: what reading found plus the validator's findings, all of them.</summary>
    public List<Finding> Validate() => ReadFindings.Concat(ConfigValidator.Validate(Config, LocatePath)).ToList();
}
