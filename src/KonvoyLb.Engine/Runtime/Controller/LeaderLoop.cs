using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Engine.Runtime.Observability;

namespace KonvoyLb.Engine.Runtime.Controller;

/// <summary>
/// Leader election through a coordination.k8s.io Lease with KubernetesClient's LeaderElector, made long-running: an
/// elector that fails or loses the lease is started again after RetryPeriod; a Lease released by its holder (a clean
/// stop writes an empty holder) wakes a standby at once instead of at its next retry; and a clean stop releases the
/// Lease, which LeaderElector itself never does.
/// </summary>
internal sealed class LeaderLoop
{
    readonly KubeConnection _kube;
    readonly string _ns, _identity;
    readonly LbControllerOptions _options;
    readonly RuntimeLog _log;
    readonly Action<bool> _leading;
    readonly Action<Exception> _failed;
    readonly CancellationTokenSource _stop = new();
    CancellationTokenSource _attempt = new();
    volatile bool _isLeader;
    Task _run = Task.CompletedTask;

    public LeaderLoop(KubeConnection kube, string ns, LbControllerOptions options, string identity, RuntimeLog log, Action<bool> leading, Action<Exception> failed)
    {
        _kube = kube; _ns = ns; _options = options; _identity = identity; _log = log; _leading = leading; _failed = failed;
    }

    public Task RunAsync(CancellationToken cancel)
    {
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, _stop.Token);
        _run = Task.WhenAll(ElectLoopAsync(linked.Token), WatchLeaseAsync(linked.Token));
        return _run;
    }

    async Task ElectLoopAsync(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            var attempt = _attempt = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var elector = new LeaderElector(new LeaderElectionConfig(new LeaseLock(_kube.Client, _ns, _options.LeaseName, _identity))
            {
                LeaseDuration = _options.LeaseDuration,
                RenewDeadline = _options.RenewDeadline,
                RetryPeriod = _options.RetryPeriod,
            });
            elector.OnStartedLeading += () => { _isLeader = true; _leading(true); };
            elector.OnStoppedLeading += () => { if (_isLeader) { _isLeader = false; _leading(false); } };
            elector.OnNewLeader += who => _log.Info("newLeader", $"the leader is {(string.IsNullOrEmpty(who) ? "nobody" : who)}", ("lease", $"{_ns}/{_options.LeaseName}"));
            elector.OnError += e => _failed(e);
            try { await elector.RunUntilLeadershipLostAsync(attempt.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            catch (Exception e) { _failed(e); }
            if (_isLeader) { _isLeader = false; _leading(false); }
            if (cancel.IsCancellationRequested) break;
            if (attempt.IsCancellationRequested) continue; // woken by a released Lease: try again now
            try { await Task.Delay(_options.RetryPeriod, _options.Time, cancel).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>Watches the Lease: when its holder lets go, a standby tries at once.</summary>
    async Task WatchLeaseAsync(CancellationToken cancel)
    {
        var cache = ResourceCaches.Leases(_kube.Client, _ns, fieldSelector: $"metadata.name={_options.LeaseName}",
            options: _options.CacheOptions ?? new ResourceCacheOptions { Time = _options.Time });
        var run = cache.RunAsync(cancel);
        try
        {
            await foreach (var change in cache.Changes.ReadAllAsync(cancel).ConfigureAwait(false))
                if (!_isLeader && string.IsNullOrEmpty(change.Object.Spec?.HolderIdentity) && change.Kind != CacheChangeKind.Resync)
                    _attempt.Cancel();
        }
        catch (OperationCanceledException) { }
        await run.ConfigureAwait(false);
    }

    /// <summary>Stops electing; with <paramref name="release"/> and the Lease ours, empties its holder so a standby takes over at once.</summary>
    public async Task StopAsync(bool release)
    {
        bool wasLeader = _isLeader;
        _stop.Cancel();
        try { await _run.WaitAsync(_options.StopTimeout).ConfigureAwait(false); } catch (Exception) { /* stopping */ }
        if (!release || !wasLeader) return;
        try
        {
            using var timeout = new CancellationTokenSource(_options.StopTimeout);
            var lease = await _kube.Client.CoordinationV1.ReadNamespacedLeaseAsync(_options.LeaseName, _ns, cancellationToken: timeout.Token).ConfigureAwait(false);
            if (lease.Spec?.HolderIdentity != _identity) return;
            lease.Spec.HolderIdentity = "";
            lease.Spec.LeaseDurationSeconds = 1;
            lease.Spec.RenewTime = _options.Time.GetUtcNow().UtcDateTime;
            await _kube.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, _options.LeaseName, _ns, cancellationToken: timeout.Token).ConfigureAwait(false);
            _log.Info("leaseReleased", $"released Lease {_ns}/{_options.LeaseName}: a standby takes over now");
        }
        catch (Exception e)
        {
            _log.Warning("leaseReleaseFailed", $"could not release Lease {_ns}/{_options.LeaseName} ({e.Message}); a standby takes over when it expires");
        }
    }
}
