using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>
/// Faults to inject while the fake runs. Thread-safe; every setting applies from the next request on.
/// Verbs are the API's: get, list, watch, create, update, patch, delete, deletecollection.
/// </summary>
public sealed class KubeFaults
{
    readonly object _gate = new();
    readonly List<FailureRule> _failures = [];
    readonly HashSet<(string Verb, string Resource)> _forbidden = [];
    readonly Store _store;
    TimeSpan _latency;
    string? _token;
    bool _tokenSet, _outage;

    internal KubeFaults(Store store) => _store = store;

    sealed class FailureRule
    {
        public int Remaining;
        public int StatusCode;
        public string? Verb, Resource, PathContains, Message;
    }

    /// <summary>Delay added before every request is handled.</summary>
    public TimeSpan Latency
    {
        get { lock (_gate) return _latency; }
        set { lock (_gate) _latency = value; }
    }

    /// <summary>
    /// The API server is down: every request's connection is reset before an answer (clients see an IOException or
    /// HttpRequestException, as when an apiserver restarts behind its address), and open watches are cut.
    /// </summary>
    public bool Outage
    {
        get { lock (_gate) return _outage; }
        set
        {
            lock (_gate) _outage = value;
            if (value) _store.DropWatches(abort: true);
        }
    }

    /// <summary>
    /// Fails the next <paramref name="count"/> requests that match (all given filters must hold) with
    /// <paramref name="statusCode"/> and a Status body whose reason fits the code (500 InternalError, ...).
    /// <paramref name="resource"/> is a plural ("pods"); <paramref name="pathContains"/> matches the URL path.
    /// </summary>
    public void FailNext(int count, int statusCode = 500, string? verb = null, string? resource = null, string? pathContains = null, string? message = null)
    {
        lock (_gate) _failures.Add(new FailureRule { Remaining = count, StatusCode = statusCode, Verb = verb, Resource = resource, PathContains = pathContains, Message = message });
    }

    /// <summary>Denies a verb on a resource (plural, "pods"; a subresource as "pods/status") to the user: 403 with the real authorizer's message.</summary>
    public void Forbid(string verb, string resource)
    {
        lock (_gate) _forbidden.Add((verb, resource));
    }

    public void Allow(string verb, string resource)
    {
        lock (_gate) _forbidden.Remove((verb, resource));
    }

    /// <summary>Requires this bearer token from now on (null: none); overrides <see cref="FakeKubeOptions.Token"/>.</summary>
    public void RequireToken(string? token)
    {
        lock (_gate) { _token = token; _tokenSet = true; }
    }

    /// <summary>Ends every open watch now. <paramref name="abort"/> resets the connection; false ends the response cleanly.</summary>
    public int DropWatches(bool abort = true) => _store.DropWatches(abort);

    /// <summary>Ends every watch open at that moment, after <paramref name="delay"/>.</summary>
    public void DropWatchesAfter(TimeSpan delay, bool abort = true) =>
        _ = Task.Delay(delay).ContinueWith(_ => _store.DropWatches(abort), TaskScheduler.Default);

    /// <summary>Removes every fault: no latency, no failures, nothing forbidden, the configured token again, no outage.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _outage = false;
            _latency = TimeSpan.Zero;
            _failures.Clear();
            _forbidden.Clear();
            _token = null;
            _tokenSet = false;
        }
    }

    internal string? EffectiveToken(string? configured)
    {
        lock (_gate) return _tokenSet ? _token : configured;
    }

    internal bool IsForbidden(string verb, string resource)
    {
        lock (_gate) return _forbidden.Contains((verb, resource)) || _forbidden.Contains((verb, "*")) || _forbidden.Contains(("*", resource));
    }

    /// <summary>Takes one matching failure, if any is pending.</summary>
    internal KubeApiException? TakeFailure(string verb, string? resource, string path)
    {
        lock (_gate)
        {
            foreach (var rule in _failures)
            {
                if (rule.Remaining <= 0) continue;
                if (rule.Verb is not null && !rule.Verb.Equals(verb, StringComparison.OrdinalIgnoreCase)) continue;
                if (rule.Resource is not null && !rule.Resource.Equals(resource, StringComparison.OrdinalIgnoreCase)) continue;
                if (rule.PathContains is not null && !path.Contains(rule.PathContains, StringComparison.Ordinal)) continue;
                rule.Remaining--;
                var reason = Status.ReasonFor(rule.StatusCode);
                var message = rule.Message ?? (rule.StatusCode == 500
                    ? "Internal error occurred: injected fault"
                    : $"injected fault: {rule.StatusCode} {reason}");
                return new KubeApiException(rule.StatusCode, reason, message,
                    rule.StatusCode == 500 ? new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["message"] = "injected fault" }) } : null);
            }
            _failures.RemoveAll(r => r.Remaining <= 0);
            return null;
        }
    }
}
