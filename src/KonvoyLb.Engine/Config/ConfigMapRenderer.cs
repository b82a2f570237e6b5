namespace KonvoyLb.Engine.Config;

/// <summary>
/// The ConfigMap Konvoy's metallb chart renders from cluster.yaml: configInline, as written, under data.config, with
/// the chart's app label. KonvoyLb's runtime (and MetalLB's) read it in place of the chart's once the addon is off.
/// </summary>
public static class ConfigMapRenderer
{
    /// <summary>The manifest; refuses (CannotConvert, every problem listed) a configuration MetalLB would refuse.</summary>
    public static string Render(ConfigDocument doc, string configText, string ns, string name)
    {
        var problems = doc.Validate().Where(f => f.Severity == Severity.Error).ToList();
        if (configText.Trim().Length == 0)
            problems.Add(new Finding(Severity.Error, ErrorId.CannotConvert, "configInline is empty: there is nothing to put in the ConfigMap", null, doc.LocatePath("")));
        if (problems.Count > 0)
            throw new LbException(ErrorId.CannotConvert, $"the configuration is not one MetalLB accepts ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}); nothing was written:"
                + string.Concat(problems.Select(f => "\n  " + f)), null, findings: problems);
        var body = string.Concat(configText.TrimEnd('\n').Split('\n').Select(l => l.Length == 0 ? "\n" : "    " + l + "\n"));
        return $"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: metallb\ndata:\n  config: |\n{body}";
    }
}
