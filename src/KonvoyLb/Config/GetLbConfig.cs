using System.Management.Automation;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Config;

/// <summary>Get-LbConfig: the metallb addon of cluster.yaml as one object, with the cluster facts.</summary>
[Cmdlet(VerbsCommon.Get, "LbConfig", DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.ConfigSummary")]
public sealed class GetLbConfig : FileCmdlet
{
    protected override void ProcessRecord()
    {
        foreach (var path in ResolvePaths())
            WriteObject(ConfigSummary.From(Load(path)));
    }
}
