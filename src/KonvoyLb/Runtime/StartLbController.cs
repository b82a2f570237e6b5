using System.Management.Automation;
using KonvoyLb.Engine.Runtime.Controller;
using KonvoyLb.Engine.Runtime.Observability;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Runtime;

/// <summary>
/// Start-LbController: runs the MetalLB-compatible controller (addresses for Services of type LoadBalancer) until
/// Ctrl+C or SIGTERM, with /metrics, /healthz and /readyz on the metrics port and a log line per decision.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "LbController")]
[OutputType(typeof(void))]
public sealed class StartLbController : RuntimeCmdlet
{
    /// <summary>Where the MetalLB ConfigMap and the leader Lease are.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigMapName { get; set; }

    /// <summary>Take part in leader election through a Lease, so that only one of several replicas allocates.</summary>
    [Parameter]
    public SwitchParameter LeaderElection { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string LeaseName { get; set; } = "metallb-controller";

    /// <summary>How long a leader's Lease is valid without renewal, in seconds; the standby waits this long after a leader dies.</summary>
    [Parameter]
    [ValidateRange(2, 600)]
    public int LeaseDurationSeconds { get; set; } = 15;

    protected override void EndProcessing()
    {
        using var kube = Connect();
        var lease = TimeSpan.FromSeconds(LeaseDurationSeconds);
        var options = new LbControllerOptions
        {
            Namespace = Namespace, ConfigMapName = ConfigMapName, LeaderElection = LeaderElection, LeaseName = LeaseName,
            LeaseDuration = lease,
            // client-go's proportions (15/10/2): renew well before the lease ends, retry often.
            RenewDeadline = TimeSpan.FromSeconds(LeaseDurationSeconds * 2 / 3.0),
            RetryPeriod = TimeSpan.FromSeconds(Math.Max(1, LeaseDurationSeconds / 7.5)),
        };
        var log = CreateLog("controller");
        var controller = new LbController(kube, options, log);
        RunUntilStopped(log, controller);
    }
}
