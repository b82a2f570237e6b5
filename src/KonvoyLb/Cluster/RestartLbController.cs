using System.Diagnostics;
using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Cluster;

/// <summary>
/// Restart-LbController: deletes the MetalLB controller pods and watches until a replacement (a new
/// UID) is Ready, or says why it will not be (crash loop, image pull, unschedulable) at once.
/// </summary>
[Cmdlet(VerbsLifecycle.Restart, "LbController", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType("KonvoyLb.Engine.Kube.RestartResult")]
public sealed class RestartLbController : KubeCmdlet
{
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "kubeaddons";

    /// <summary>The label selector of the controller pods.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Selector { get; set; } = "app=metallb,component=controller";

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>Returns right after the deletion, without waiting for the replacement.</summary>
    [Parameter]
    public SwitchParameter NoWait { get; set; }

    protected override void EndProcessing()
    {
        using var kube = Connect();
        var restart = new ControllerRestart(kube, Namespace, Selector);
        var found = Await(restart.FindAsync);
        var clock = Stopwatch.StartNew();
        var deleted = new List<PodSummary>();
        foreach (var summary in found.Pods)
        {
            if (!ShouldProcess($"pod {Namespace}/{summary.Name}{(summary.Node is null ? "" : $" on node {summary.Node}")} ({kube.Server})", "Delete")) continue;
            Await(async ct => { await restart.DeleteAsync(summary.Name, ct); return true; });
            deleted.Add(summary);
        }
        if (deleted.Count == 0) return;
        if (NoWait)
        {
            WriteObject(new RestartResult { Namespace = Namespace, OldPods = deleted, Elapsed = clock.Elapsed });
            return;
        }

        PodSummary? latest = null;
        var result = Await(ct => restart.WaitForReplacementAsync(deleted, found.Pods, found.ResourceVersion, TimeSpan.FromSeconds(TimeoutSeconds),
            clock.Elapsed, p => Volatile.Write(ref latest, p), ct), "Restarting the MetalLB controller", () =>
        {
            var seen = Volatile.Read(ref latest);
            return (seen is null ? $"deleted {string.Join(", ", deleted.Select(p => p.Name))}; waiting for a replacement pod" : $"{seen.Name}: {seen.Phase}{(seen.Ready ? ", Ready" : "")}",
                (int)Math.Min(99, clock.Elapsed.TotalSeconds * 100 / TimeoutSeconds));
        });
        WriteObject(result);
        if (!result.Ready)
            WriteError(ToErrorRecord(new LbException(ErrorId.ControllerNotReady, $"the replacement controller is not Ready: {result.Failure}", result.NewPod?.Name ?? Selector,
                fix: $"Look at it with: kubectl -n {Namespace} describe pod {result.NewPod?.Name ?? $"-l {Selector}"}")));
    }
}
