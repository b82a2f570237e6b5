using System.Diagnostics;
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
/// Ready, or says why it will not be. A dropped watch is resumed from the last resourceVersion; an
/// expired one (410 Gone) is answered with a fresh list.
/// </summary>
public sealed class ControllerRestart
{
    readonly KubeConnection _kube;
    readonly string _ns, _selector;

    public ControllerRestart(KubeConnection kube, string ns, string selector)
    {
        _kube = kube; _ns = ns; _selector = selector;
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
    /// deleted or kept) to be Ready, watching from <paramref name="resourceVersion"/>. <paramref name="onChange"/>
    /// sees every state of the new pod.
    /// </summary>
    public async Task<RestartResult> WaitForReplacementAsync(IReadOnlyList<PodSummary> deleted, IReadOnlyList<PodSummary> existing, string resourceVersion,
        TimeSpan timeout, Stopwatch clock, Action<PodSummary>? onChange, CancellationToken cancel)
    {
        var old = deleted;
        var oldUids = existing.Concat(deleted).Select(p => p.Uid).ToHashSet();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout - clock.Elapsed > TimeSpan.Zero ? timeout - clock.Elapsed : TimeSpan.Zero);
        PodSummary? latest = null;
        RestartResult Done(bool ready, string? failure) =>
            new() { Namespace = _ns, OldPods = old, NewPod = latest, Ready = ready, Elapsed = clock.Elapsed, Failure = failure };

        string rv = resourceVersion;
        try
        {
            while (true)
            {
                bool relist = false;
                try
                {
                    var events = _kube.Client.CoreV1.WatchListNamespacedPodAsync(_ns, allowWatchBookmarks: true, labelSelector: _selector,
                        resourceVersion: rv, timeoutSeconds: (int)Math.Max(1, timeout.TotalSeconds), onError: _ => relist = true, cancellationToken: deadline.Token);
                    await foreach (var (type, pod) in events.ConfigureAwait(false))
                    {
                        if (type == WatchEventType.Error) { relist = true; break; }
                        if (pod?.Metadata?.ResourceVersion is { } v) rv = v;
                        if (type is WatchEventType.Bookmark or WatchEventType.Deleted || pod?.Metadata is null || oldUids.Contains(pod.Metadata.Uid)) continue;
                        latest = PodSummary.From(pod);
                        onChange?.Invoke(latest);
                        if (latest.Ready) return Done(true, null);
                        if (latest.Reason is { } reason) return Done(false, reason);
                    }
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone) { relist = true; }
                catch (Exception e) when (e is IOException or HttpRequestException && !deadline.IsCancellationRequested)
                {
                    // The connection dropped: resume from the last version seen, after a breath.
                    await Task.Delay(200, deadline.Token).ConfigureAwait(false);
                }
                // The stream ended (server timeout, dropped connection) or its version expired (410 Gone): resume,
                // from a fresh list when the version can no longer be watched from.
                if (relist) rv = await RelistAsync(oldUids, p => latest = p, deadline.Token).ConfigureAwait(false) ?? rv;
                if (latest is { Ready: true }) return Done(true, null);
                if (latest?.Reason is { } r) return Done(false, r);
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return Done(false, $"no replacement became Ready within {timeout.TotalSeconds:F0} s" +
                (latest is null ? " (no new pod appeared: check the controller's Deployment)" : $" (last seen: {latest.Name} {latest.Phase})"));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw KubeClientFactory.Explain(e, _kube, "watch", "pods", _ns);
        }
    }

    /// <summary>After 410 Gone: list again, note the replacement if already there, and return the list's version.</summary>
    async Task<string?> RelistAsync(HashSet<string> oldUids, Action<PodSummary> found, CancellationToken cancel)
    {
        var list = await _kube.Client.CoreV1.ListNamespacedPodAsync(_ns, labelSelector: _selector, cancellationToken: cancel).ConfigureAwait(false);
        foreach (var pod in list.Items.Where(p => !oldUids.Contains(p.Metadata.Uid)))
            found(PodSummary.From(pod));
        return list.Metadata?.ResourceVersion;
    }
}
