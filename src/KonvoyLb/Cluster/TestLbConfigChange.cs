using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Cluster;

/// <summary>
/// Test-LbConfigChange: compares the pools of cluster.yaml with the live MetalLB configuration and the
/// live Services: pools added, removed and changed, and every Service whose IP would fall outside the
/// new pools (then MetalLB 0.9–0.12 refuses the new configuration and keeps the old one).
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "LbConfigChange", DefaultParameterSetName = "Path")]
[OutputType("KonvoyLb.Engine.Kube.ConfigChange")]
[OutputType(typeof(bool))]
public sealed class TestLbConfigChange : KubeCmdlet
{
    [Parameter(ParameterSetName = "Path", Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "cluster.yaml";

    [Parameter(ParameterSetName = "LiteralPath", Mandatory = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    /// <summary>Where MetalLB runs (Konvoy: kubeaddons).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "kubeaddons";

    /// <summary>The ConfigMap with MetalLB's configuration; found by its content when omitted.</summary>
    [Parameter]
    public string? ConfigMapName { get; set; }

    /// <summary>Returns only $true (no service would break) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void EndProcessing()
    {
        string path = GetUnresolvedProviderPathFromPSPath(ParameterSetName == "LiteralPath" ? LiteralPath : Path);
        var file = Run(() => Engine.Config.KonvoyFile.Load(path));
        var proposed = file.Addon?.Config ?? Run<Engine.Config.MetalLbConfig>(() => throw LbErrors.MetalLbAddonNotFound(path));
        using var kube = Connect();
        var live = Await(ct => LbServices.FindConfigAsync(kube, Namespace, ConfigMapName, ct));
        WriteVerbose($"live configuration: ConfigMap {live.Namespace}/{live.Name}");
        var services = Await(ct => LbServices.ListAsync(kube, null, live, ct, withEvents: false));
        var changes = ConfigChangePrediction.Compare(live.Config, proposed, services);
        if (Quiet)
        {
            WriteObject(changes.All(c => c.Kind != ConfigChange.ServiceBreaks));
            return;
        }
        foreach (var c in changes) WriteObject(c);
    }
}
