using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace KonvoyLb.Engine.Kube;

/// <summary>A pod as Restart-LbController reports it.</summary>
public sealed record PodSummary(string Name, string Uid, string? Node, string Phase, bool Ready, string? Reason)
{
    public static PodSummary From(V1Pod p) => new(p.Metadata.Name, p.Metadata.Uid, p.Spec?.NodeName, p.Status?.Phase ?? "Unknown",
        IsReady(p), FailureReason(p));

    public static bool IsReady(V1Pod p) =>
        p.Metadata.DeletionTimestamp is null && p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    /// <summary>Why a pod will not become Ready without help (crash loop, image pull, unschedulable), or null.</summary>
    public static string? FailureReason(V1Pod p)
    {
        foreach (var s in (p.Status?.ContainerStatuses ?? new List<V1ContainerStatus>()).Concat(p.Status?.InitContainerStatuses ?? new List<V1ContainerStatus>()))
            if (s.State?.Waiting?.Reason is { } reason && reason is "CrashLoopBackOff" or "ImagePullBackOff" or "ErrImagePull"
                or "CreateContainerConfigError" or "InvalidImageName" or "CreateContainerError" or "RunContainerError")
                return $"{reason}: container {s.Name}{(s.State.Waiting.Message is { Length: > 0 } m ? $" ({m})" : "")}";
        var scheduled = p.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
        if (scheduled is { Status: "False", Reason: "Unschedulable" })
            return $"Unschedulable: {scheduled.Message}";
        return null;
    }
}

/// <summary>What Restart-LbController did.</summary>
public sealed class RestartResult
{
    public string Namespace { get; init; } = "";
    public IReadOnlyList<PodSummary> OldPods { get; init; } = Array.Empty<PodSummary>();
    public PodSummary? NewPod { get; init; }
    public bool Ready { get; init; }
    public TimeSpan Elapsed { get; init; }
    /// <summary>Why the replacement is not Ready (crash loop, image pull, unschedulable, timeout), or null.</summary>
    public string? Failure { get; init; }
}

/// <summary>
/// Deletes the MetalLB controller pods and watches (never polls) until a replacement (a new UID) is
/// Ready, or says why it will not be. The watching is a <see cref="ResourceCache{T}"/>: a dropped watch is
/// resumed from the last resourceVersion, an expired one (410 Gone) answered with a fresh list.
/// </summary>
public sealed class ControllerRestart
{
    readonly KubeConnection _kube;
    readonly string _ns, _selector;
    readonly TimeProvider _time;

    public ControllerRestart(KubeConnection kube, string ns, string selector, TimeProvider? time = null)
    {
        _kube = kube; _ns = ns; _selector = selector; _time = time ?? TimeProvider.System;
    }

    /// <summary>The controller pods as they are now, and the list's resourceVersion to watch from.</summary>
    public sealed record Found(IReadOnlyList<PodSummary> Pods, string ResourceVersion);

    public async Task<Found> FindAsync(CancellationToken cancel)
    {
        V1PodList pods;
        try { pods = await _kube.Client.CoreV1.ListNamespacedPodAsync(_ns, labelSelector: _selector, cancellationToken: cancel).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            throw KubeClientFactory.Explain(e, _kube, "list", "pods", _ns);
        }
        if (pods.Items.Count == 0 && await NamespaceMissingAsync(cancel).ConfigureAwait(false))
            throw LbErrors.KubeNamespaceNotFound(_ns, _kube.Server);
        if (pods.Items.Count == 0)
            throw new LbException(ErrorId.NoControllerPod, $"no pod matches '{_selector}' in namespace '{_ns}' on {_kube.Server}.", _selector,
                fix: "Konvoy runs MetalLB in kubeaddons with app=metallb,component=controller; plain MetalLB installs use " +
                     "-Namespace metallb-system -Selector app.kubernetes.io/component=controller (or app=metallb,component=controller).");
        return new Found(pods.Items.Select(PodSummary.From).ToList(), pods.Metadata.ResourceVersion);
    }

    /// <summary>A list in a missing namespace is simply empty; asking for the namespace tells the two apart.</summary>
    async Task<bool> NamespaceMissingAsync(CancellationToken cancel)
    {
        try
        {
            await _kube.Client.CoreV1.ReadNamespaceAsync(_ns, cancellationToken: cancel).ConfigureAwait(false);
            return false;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return true; }
        catch (HttpOperationException) { return false; } // not allowed to read namespaces: say "no pod" instead
    }

    public async Task DeleteAsync(string name, CancellationToken cancel)
    {
        try { await _kube.Client.CoreV1.DeleteNamespacedPodAsync(name, _ns, cancellationToken: cancel).ConfigureAwait(false); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { /* already gone: fine */ }
        catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            throw KubeClientFactory.Explain(e, _kube, "delete", "pods", _ns);
        }
    }

    /// <summary>
    /// Waits for a pod of the selector that did not exist before (its UID is none of <paramref name="existing"/>,
    /// deleted or kept) to be Ready, watching from <paramref name="resourceVersion"/> through a <see cref="ResourceCache{T}"/>
    /// of the selector's pods. <paramref name="elapsed"/> is the part of <paramref name="timeout"/> already spent (deleting);
    /// <paramref name="onChange"/> sees every state of the new pod.
    /// </summary>
    public async Task<RestartResult> WaitForReplacementAsync(IReadOnlyList<PodSummary> deleted, IReadOnlyList<PodSummary> existing, string resourceVersion,
        TimeSpan timeout, TimeSpan elapsed, Action<PodSummary>? onChange, CancellationToken cancel)
    {
        var started = _time.GetTimestamp();
        var oldUids = existing.Concat(deleted).Select(p => p.Uid).ToHashSet();
        var left = timeout - elapsed;
        using var expiry = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero, _time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, expiry.Token);
        PodSummary? latest = null;
        RestartResult Done(bool ready, string? failure) =>
            new() { Namespace = _ns, OldPods = deleted, NewPod = latest, Ready = ready, Elapsed = elapsed + _time.GetElapsedTime(started), Failure = failure };

        // The deleted pods were listed already: watch from that list's version (no second list), an empty snapshot is enough
        // since only pods with new UIDs matter. The cache resumes dropped watches and re-lists on 410 Gone.
        var pods = ResourceCaches.Pods(_kube.Client, _ns, _selector, options: new ResourceCacheOptions
        {
            Time = _time, WatchTimeout = timeout, BackoffInitial = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(5),
        });
        pods.Seed([], resourceVersion);
        Exception? fatal = null;
        pods.Failed += e =>
        {
            if (!IsLasting(e)) return;
            fatal = e;
            stop.Cancel();
        };
        var run = pods.RunAsync(stop.Token);
        try
        {
            await foreach (var change in pods.Changes.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                if (change.Kind == CacheChangeKind.Deleted || oldUids.Contains(change.Object.Metadata.Uid)) continue;
                latest = PodSummary.From(change.Object);
                onChange?.Invoke(latest);
                if (latest.Ready) return Done(true, null);
                if (latest.Reason is { } reason) return Done(false, reason);
            }
            throw new OperationCanceledException(stop.Token);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            if (Volatile.Read(ref fatal) is { } e) throw KubeClientFactory.Explain(e, _kube, "watch", "pods", _ns);
            return Done(false, $"no replacement became Ready within {timeout.TotalSeconds:F0} s" +
                (latest is null ? " (no new pod appeared: check the controller's Deployment)" : $" (last seen: {latest.Name} {latest.Phase})"));
        }
        finally
        {
            stop.Cancel();
            await run.ConfigureAwait(false);
        }
    }

    /// <summary>A failure that retrying will not heal within a restart (credentials, permissions, a missing namespace, a bad request).</summary>
    static bool IsLasting(Exception e) => (e switch
    {
        HttpOperationException h => (int?)h.Response?.StatusCode,
        KubernetesException k => k.Status?.Code,
        _ => null,
    }) is >= 400 and < 500 and not (408 or 409 or 410 or 429);
}
