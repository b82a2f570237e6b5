using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Cluster;

/// <summary>
/// Get-LbService: every Service of type LoadBalancer with its IPs, the pool of each, what it asked for,
/// why it is pending (latest AllocationFailed event) and which node announces it (nodeAssigned).
/// </summary>
[Cmdlet(VerbsCommon.Get, "LbService")]
[OutputType("KonvoyLb.Engine.Kube.LbService")]
public sealed class GetLbService : KubeCmdlet
{
    /// <summary>Only this namespace (all namespaces when omitted).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Namespace { get; set; }

    /// <summary>Service names; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>Where MetalLB runs, to find its ConfigMap and name the pool of each IP.</summary>
    [Parameter]
    public string MetalLbNamespace { get; set; } = "kubeaddons";

    [Parameter]
    public string? ConfigMapName { get; set; }

    protected override void ProcessRecord()
    {
        using var kube = Connect();
        LiveConfig? live = null;
        try { live = Task.Run(() => LbServices.FindConfigAsync(kube, MetalLbNamespace, ConfigMapName, Cancel)).GetAwaiter().GetResult(); }
        catch (OperationCanceledException) when (Cancel.IsCancellationRequested) { throw new PipelineStoppedException(); }
        catch (LbException e)
        {
            // Without MetalLB's ConfigMap the services are still worth showing; only the pool column stays empty.
            if (e.Id is not (ErrorId.MetalLbConfigMapNotFound or ErrorId.KubeNamespaceNotFound or ErrorId.KubeForbidden))
                ThrowTerminatingError(ToErrorRecord(e));
            WriteWarning($"pools are not shown: {e.Message}");
        }
        var services = Await(ct => LbServices.ListAsync(kube, Namespace, live, ct), "Listing LoadBalancer services", () => ($"asking {kube.Server}", 0));
        foreach (var (service, _) in NameFilter.Select(Name, services, s => s.Name, name => WriteLbError(LbErrors.ServiceNotFound(name, Namespace))))
            WriteObject(service);
    }
}
