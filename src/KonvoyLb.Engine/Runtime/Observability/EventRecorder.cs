using System.Threading.Channels;
using k8s;
using k8s.Models;

namespace KonvoyLb.Engine.Runtime.Observability;

/// <summary>
/// Writes core/v1 Events about objects, as client-go's recorder does: a repeat of the same (object, type, reason,
/// message) raises the count of the Event already written instead of creating another. Recording never blocks and never
/// throws: Events go out from a queue of their own (behind status writes), and a failure is counted and logged once.
/// </summary>
public sealed class EventRecorder
{
    sealed record Pending(V1ObjectReference Target, string Type, string Reason, string Message);
    sealed class Written { public required string Name; public required string Namespace; public int Count; }

    readonly IKubernetes _client;
    readonly string _component, _host;
    readonly RuntimeLog _log;
    readonly TimeProvider _time;
    readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    readonly Dictionary<(string, string, string, string), Written> _written = new();
    long _sent, _failed;

    public EventRecorder(IKubernetes client, string component, RuntimeLog log, TimeProvider? time = null, string? host = null)
    {
        _client = client; _component = component; _log = log; _time = time ?? TimeProvider.System;
        _host = host ?? Environment.MachineName;
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long FailedCount => Interlocked.Read(ref _failed);

    /// <summary>Raised for every Event that could not be written.</summary>
    public event Action<Exception>? Failed;

    public void Normal(V1ObjectReference target, string reason, string message) => _queue.Writer.TryWrite(new(target, "Normal", reason, message));
    public void Warning(V1ObjectReference target, string reason, string message) => _queue.Writer.TryWrite(new(target, "Warning", reason, message));

    public static V1ObjectReference Reference(V1Service s) => new()
    {
        ApiVersion = "v1", Kind = "Service", Name = s.Metadata.Name, NamespaceProperty = s.Metadata.NamespaceProperty,
        Uid = s.Metadata.Uid, ResourceVersion = s.Metadata.ResourceVersion,
    };

    /// <summary>Writes queued Events until <paramref name="stop"/>; then the ones already queued within <paramref name="drain"/>.</summary>
    public async Task RunAsync(CancellationToken stop, TimeSpan drain)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
                while (_queue.Reader.TryRead(out var e)) await WriteAsync(e, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        using var deadline = new CancellationTokenSource(drain);
        try
        {
            while (_queue.Reader.TryRead(out var e)) await WriteAsync(e, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { /* what is left is dropped: the process is stopping */ }
    }

    async Task WriteAsync(Pending e, CancellationToken cancel)
    {
        var ns = string.IsNullOrEmpty(e.Target.NamespaceProperty) ? "default" : e.Target.NamespaceProperty;
        var key = (e.Target.Uid ?? ns + "/" + e.Target.Name, e.Type, e.Reason, e.Message);
        var now = _time.GetUtcNow().UtcDateTime;
        try
        {
            if (_written.TryGetValue(key, out var known))
            {
                known.Count++;
                var patch = new V1Patch(KubernetesJson.Serialize(new { count = known.Count, lastTimestamp = now }), V1Patch.PatchType.MergePatch);
                try
                {
                    await _client.CoreV1.PatchNamespacedEventAsync(patch, known.Name, known.Namespace, cancellationToken: cancel).ConfigureAwait(false);
                    Interlocked.Increment(ref _sent);
                    _log.Forget("event-write");
                    return;
                }
                catch (k8s.Autorest.HttpOperationException h) when (h.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    _written.Remove(key); // expired (events live an hour): write a new one
                }
            }
            var name = $"{e.Target.Name}.{now.Ticks:x}{Random.Shared.Next(0x1000):x3}";
            var ev = new Corev1Event
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                InvolvedObject = e.Target,
                Type = e.Type, Reason = e.Reason, Message = e.Message,
                Source = new V1EventSource { Component = _component, Host = _host },
                ReportingComponent = _component, ReportingInstance = _host,
                FirstTimestamp = now, LastTimestamp = now, Count = 1,
            };
            await _client.CoreV1.CreateNamespacedEventAsync(ev, ns, cancellationToken: cancel).ConfigureAwait(false);
            if (_written.Count > 50_000) _written.Clear();
            _written[key] = new Written { Name = name, Namespace = ns, Count = 1 };
            Interlocked.Increment(ref _sent);
            _log.Forget("event-write");
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested) { throw; }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            _log.Once("event-write", LogLevel.Warning, "eventWriteFailed",
                $"cannot write Events ({ex.Message}); decisions still go to this log. Said once until Events work again.",
                ("reason", e.Reason), ("object", $"{ns}/{e.Target.Name}"));
            try { Failed?.Invoke(ex); } catch (Exception) { /* a handler must not stop the recorder */ }
        }
    }
}
