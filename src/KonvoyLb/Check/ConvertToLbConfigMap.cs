using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Check;

/// <summary>
/// ConvertTo-LbConfigMap: the ConfigMap Konvoy's metallb chart renders from cluster.yaml (configInline as written,
/// under data.config), for running KonvoyLb's runtime (or MetalLB's own manifests) with the addon disabled. Refuses a
/// configuration MetalLB would refuse.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "LbConfigMap", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
[OutputType(typeof(string))]
public sealed class ConvertToLbConfigMap : FileCmdlet
{
    /// <summary>The ConfigMap's namespace: kubeaddons, where Konvoy runs the addon.</summary>
    [Parameter]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    public string Namespace { get; set; } = "kubeaddons";

    /// <summary>The ConfigMap's name (the runtime finds it by its content, so any name works).</summary>
    [Parameter]
    [ValidatePattern("^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")]
    public string Name { get; set; } = "metallb";

    /// <summary>Writes the manifest to this file (atomically) instead of the pipeline.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutFile { get; set; }

    protected override void ProcessRecord() =>
        WriteYaml(ResolvePaths().Select(path =>
        {
            var addon = Load(path).Addon ?? Run<MetalLbAddon>(() => throw LbErrors.MetalLbAddonNotFound(path));
            return Run(() => ConfigMapRenderer.Render(addon.Document, addon.ConfigInlineText, Namespace, Name));
        }).ToList(), OutFile, "Write the MetalLB ConfigMap", separator: "---\n");
}
