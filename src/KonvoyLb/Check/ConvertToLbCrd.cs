using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Check;

/// <summary>
/// ConvertTo-LbCrd: the legacy MetalLB configuration as MetalLB 0.13+ custom resources (IPAddressPool,
/// L2Advertisement, BGPAdvertisement, BGPPeer v1beta2, Community, BFDProfile), to the pipeline or a file.
/// Refuses, with every reason, what it cannot translate instead of dropping it.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "LbCrd", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
[OutputType(typeof(string))]
public sealed class ConvertToLbCrd : ConfigSourceCmdlet
{
    /// <summary>The namespace of the resources (MetalLB 0.13+ installs into metallb-system).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "metallb-system";

    /// <summary>Writes the YAML to this file (atomically) instead of the pipeline.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutFile { get; set; }

    protected override void ProcessRecord()
    {
        IEnumerable<ConfigDocument> documents = FromMetalLbConfig
            ? new[] { LoadMetalLbConfig() }
            : ResolvePaths().Select(p => Load(p).Addon?.Document ?? Run<ConfigDocument>(() => throw LbErrors.MetalLbAddonNotFound(p)));
        WriteYaml(documents.Select(doc => Run(() => CrdConverter.Convert(doc, Namespace))).ToList(), OutFile, "Write MetalLB custom resources");
    }
}
