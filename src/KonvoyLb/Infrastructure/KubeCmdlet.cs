using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Kube;

namespace KonvoyLb.Infrastructure;

/// <summary>Commands that talk to a cluster: -Kubeconfig and -Context like kubectl.</summary>
public abstract class KubeCmdlet : LbCmdlet
{
    /// <summary>
    /// The kubeconfig file. Without it, like kubectl: the files of KUBECONFIG (merged, missing ones
    /// skipped); else admin.conf in the current location when cluster.yaml is beside it; else
    /// ~/.kube/config; else the in-cluster service account.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Kubeconfig { get; set; }

    /// <summary>The kubeconfig context to use instead of its current one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Context { get; set; }

    protected KubeConnection Connect()
    {
        // The PowerShell location, not the process's: admin.conf beside cluster.yaml is looked for there.
        string location = SessionState.Path.CurrentFileSystemLocation.ProviderPath;
        var connection = Run(() => KubeClientFactory.Connect(Kubeconfig is null ? null : GetUnresolvedProviderPathFromPSPath(Kubeconfig), Context, location));
        WriteVerbose($"kubeconfig: {connection.Source}");
        WriteVerbose($"API server {connection.Server}{(connection.Context is null ? " (in-cluster)" : $", context {connection.Context}")}");
        return connection;
    }
}
