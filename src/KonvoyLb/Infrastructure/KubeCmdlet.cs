using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Kube;

namespace KonvoyLb.Infrastructure;

/// <summary>Commands that talk to a cluster: -Kubeconfig and -Context like kubectl.</summary>
public abstract class KubeCmdlet : LbCmdlet
{
    /// <summary>The kubeconfig file; else KUBECONFIG, ~/.kube/config, or the in-cluster service account.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Kubeconfig { get; set; }

    /// <summary>The kubeconfig context to use instead of its current one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Context { get; set; }

    protected KubeConnection Connect()
    {
        var connection = Run(() => KubeClientFactory.Connect(Kubeconfig is null ? null : GetUnresolvedProviderPathFromPSPath(Kubeconfig), Context));
        WriteVerbose($"API server {connection.Server}{(connection.Context is null ? " (in-cluster)" : $", context {connection.Context}")}");
        return connection;
    }
}
