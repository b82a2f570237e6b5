using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace KonvoyLb.KubeApi;

/// <summary>One committed change, kept in the watch history.</summary>
internal sealed record Change(long Rv, string Type, ResourceType Resource, string Namespace, string Name, JsonObject Object, JsonObject? Previous)
{
    public const string Added = "ADDED", Modified = "MODIFIED", Deleted = "DELETED";
}

/// <summary>An open watch: the store pushes serialized event lines into <see cref="Lines"/> in commit order.</summary>
internal sealed class WatchSubscription
{
    public required ResourceType Resource { get; init; }
    public required string? Namespace { get; init; }
    public required LabelSelector Labels { get; init; }
    public required FieldSelector Fields { get; init; }
    public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Cancelled when the fake drops the connection; <see cref="AbortConnection"/> says how.</summary>
    public CancellationTokenSource Dropped { get; } = new();
    public bool AbortConnection { get; set; }

    /// <summary>Turns an event's object into what the client asked for (a one-row Table for kubectl get -w); null sends it as is.</summary>
    public Func<JsonObject, JsonObject>? Transform { get; init; }

    public bool Matches(JsonObject obj) => Labels.Matches(obj.Labels()) && Fields.Matches(obj);

    /// <summary>Queues an ADDED/MODIFIED/DELETED event.</summary>
    public void Send(string type, JsonObject obj) => Lines.Writer.TryWrite(Store.Line(type, Transform is null ? obj : Transform(obj)));
}

/// <summary>
/// The object store: every object as JSON, one global resourceVersion counter, a bounded history
/// of changes for watches, and the open watches. All JSON nodes are touched only under one lock;
/// callers get deep copies and watches get finished text.
/// </summary>
internal sealed class Store
{
    readonly object _gate = new();
    readonly Dictionary<ResourceType, SortedDictionary<string, JsonObject>> _data = new();
    readonly LinkedList<Change> _history = new();
    readonly List<WatchSubscription> _watches = [];
    readonly int _historyLimit;
    long _rv;
    long _compactedThrough; // changes at or below this revision are no longer retained

    public Store(int historyLimit)
    {
        _historyLimit = Math.Max(1, historyLimit);
        foreach (var rt in Catalog.All) _data[rt] = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
    }

    /// <summary>Called under the store lock for every change; must only queue work.</summary>
    public Action<Change>? Observer { get; set; }

    public long CurrentRv { get { lock (_gate) return _rv; } }

    public int OpenWatches { get { lock (_gate) return _watches.Count; } }

    static string Key(string ns, string name) => ns + "/" + name;

    public JsonObject? Get(ResourceType rt, string ns, string name)
    {
        lock (_gate) return _data[rt].TryGetValue(Key(ns, name), out var o) ? o.Clone() : null;
    }

    public (List<JsonObject> Items, long Rv) List(ResourceType rt, string? ns, LabelSelector labels, FieldSelector fields)
    {
        lock (_gate)
        {
            var items = new List<JsonObject>();
            foreach (var (key, obj) in _data[rt])
            {
                if (ns is not null && !key.StartsWith(ns + "/", StringComparison.Ordinal)) continue;
                if (!labels.Matches(obj.Labels()) || !fields.Matches(obj)) continue;
                items.Add(obj.Clone());
            }
            return (items, _rv);
        }
    }

    public bool NamespaceExists(string ns, out bool terminating)
    {
        lock (_gate)
        {
            terminating = false;
            if (!_data[Catalog.Namespaces].TryGetValue(Key("", ns), out var n)) return false;
            terminating = n.At("metadata.deletionTimestamp") is not null;
            return true;
        }
    }

    /// <summary>Stores a new object, filling uid, creationTimestamp, resourceVersion and generation.</summary>
    public JsonObject Create(ResourceType rt, string ns, JsonObject obj, bool allowTerminatingNamespace = false)
    {
        var name = obj.Str("metadata.name") ?? throw Status.BadRequest("metadata.name is required");
        lock (_gate)
        {
            if (rt.Namespaced)
            {
                if (!NamespaceExists(ns, out var terminating)) throw Status.NotFound("", "namespaces", ns);
                if (terminating && !allowTerminatingNamespace)
                    throw new KubeApiException(403, "Forbidden",
                        $"{Status.Qualified(rt.Group, rt.Plural)} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        Status.Details(name, rt.Group, rt.Plural));
            }
            var map = _data[rt];
            if (map.ContainsKey(Key(ns, name))) throw Status.AlreadyExists(rt.Group, rt.Plural, name);
            var stored = obj.Clone();
            stored["apiVersion"] = rt.GroupVersion;
            stored["kind"] = rt.Kind;
            var meta = stored.Metadata();
            if (rt.Namespaced) meta["namespace"] = ns; else meta.Remove("namespace");
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Json.Time(DateTimeOffset.UtcNow);
            meta["generation"] = 1;
            meta.Remove("deletionTimestamp");
            meta.Remove("deletionGracePeriodSeconds");
            Commit(rt, ns, name, Change.Added, stored, null);
            map[Key(ns, name)] = stored;
            return stored.Clone();
        }
    }

    /// <summary>
    /// Replaces an object with what <paramref name="mutate"/> makes of a copy of it. Identity fields
    /// stay; an unchanged result is a no-op that keeps the revision, like the real storage.
    /// </summary>
    public JsonObject Update(ResourceType rt, string ns, string name, Func<JsonObject, JsonObject> mutate)
    {
        lock (_gate)
        {
            var map = _data[rt];
            if (!map.TryGetValue(Key(ns, name), out var current)) throw Status.NotFound(rt.Group, rt.Plural, name);
            var next = mutate(current.Clone());
            next["apiVersion"] = rt.GroupVersion;
            next["kind"] = rt.Kind;
            var meta = next.Metadata();
            var oldMeta = current.Metadata();
            meta["name"] = name;
            if (rt.Namespaced) meta["namespace"] = ns; else meta.Remove("namespace");
            meta["uid"] = oldMeta["uid"]?.DeepClone();
            meta["creationTimestamp"] = oldMeta["creationTimestamp"]?.DeepClone();
            meta["resourceVersion"] = oldMeta["resourceVersion"]?.DeepClone();
            meta["generation"] = oldMeta["generation"]?.DeepClone() ?? 1;
            // Only a deletion sets these (MarkDeleted); updates neither set nor clear them.
            meta.Remove("deletionTimestamp");
            meta.Remove("deletionGracePeriodSeconds");
            if (oldMeta["deletionTimestamp"] is { } dts) meta["deletionTimestamp"] = dts.DeepClone();
            if (oldMeta["deletionGracePeriodSeconds"] is { } dg) meta["deletionGracePeriodSeconds"] = dg.DeepClone();
            if (JsonNode.DeepEquals(next, current)) return current.Clone();
            if (!JsonNode.DeepEquals(WithoutMetaAndStatus(next), WithoutMetaAndStatus(current)))
                meta["generation"] = current.Long("metadata.generation", 1) + 1;
            Commit(rt, ns, name, Change.Modified, next, current);
            map[Key(ns, name)] = next;
            return next.Clone();
        }
    }

    /// <summary>Marks an object as being deleted (metadata.deletionTimestamp), with an optional further change, as one MODIFIED event.</summary>
    public JsonObject MarkDeleted(ResourceType rt, string ns, string name, DateTimeOffset when, long graceSeconds, Action<JsonObject>? also = null)
    {
        lock (_gate)
        {
            var map = _data[rt];
            if (!map.TryGetValue(Key(ns, name), out var current)) throw Status.NotFound(rt.Group, rt.Plural, name);
            if (current.At("metadata.deletionTimestamp") is not null) return current.Clone();
            var next = current.Clone();
            also?.Invoke(next);
            next.Metadata()["deletionTimestamp"] = Json.Time(when);
            next.Metadata()["deletionGracePeriodSeconds"] = graceSeconds;
            Commit(rt, ns, name, Change.Modified, next, current);
            map[Key(ns, name)] = next;
            return next.Clone();
        }
    }

    /// <summary>Removes an object; <paramref name="check"/> may veto (throw) on the current state.</summary>
    public JsonObject Remove(ResourceType rt, string ns, string name, Action<JsonObject>? check = null)
    {
        lock (_gate)
        {
            var map = _data[rt];
            if (!map.TryGetValue(Key(ns, name), out var current)) throw Status.NotFound(rt.Group, rt.Plural, name);
            check?.Invoke(current);
            map.Remove(Key(ns, name));
            var gone = current.Clone();
            Commit(rt, ns, name, Change.Deleted, gone, current);
            return gone.Clone();
        }
    }

    /// <summary>Creates or replaces an object as it is (status included), bypassing API rules: for seeding.</summary>
    public JsonObject Put(ResourceType rt, string ns, JsonObject obj)
    {
        var name = obj.Str("metadata.name") ?? throw new ArgumentException("metadata.name is required");
        lock (_gate)
        {
            if (!_data[rt].ContainsKey(Key(ns, name))) return Create(rt, ns, obj, allowTerminatingNamespace: true);
            return Update(rt, ns, name, _ => obj.Clone());
        }
    }

    static JsonObject WithoutMetaAndStatus(JsonObject o)
    {
        var c = o.Clone();
        c.Remove("metadata");
        c.Remove("status");
        return c;
    }

    void Commit(ResourceType rt, string ns, string name, string type, JsonObject obj, JsonObject? previous)
    {
        var rv = ++_rv;
        obj.Metadata()["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
        var change = new Change(rv, type, rt, ns, name, obj.Clone(), previous?.Clone());
        _history.AddLast(change);
        while (_history.Count > _historyLimit)
        {
            _compactedThrough = _history.First!.Value.Rv;
            _history.RemoveFirst();
        }
        foreach (var w in _watches) Deliver(w, change);
        Observer?.Invoke(change);
    }

    /// <summary>Forgets all history, as an etcd compaction does: any older resourceVersion is now too old to watch from.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _history.Clear();
            _compactedThrough = _rv;
        }
    }

    /// <summary>
    /// Opens a watch. An empty or "0" resourceVersion starts with ADDED events for the objects that exist;
    /// a number replays the retained changes after it, or (when it is older than the history) yields
    /// only an ERROR event with a 410 Expired Status, as the real server does.
    /// </summary>
    public WatchSubscription Watch(ResourceType rt, string? ns, LabelSelector labels, FieldSelector fields, string? resourceVersion,
                                   Func<JsonObject, JsonObject>? transform = null)
    {
        var sub = new WatchSubscription { Resource = rt, Namespace = ns, Labels = labels, Fields = fields, Transform = transform };
        lock (_gate)
        {
            if (string.IsNullOrEmpty(resourceVersion) || resourceVersion == "0")
            {
                foreach (var (key, obj) in _data[rt])
                {
                    if (ns is not null && !key.StartsWith(ns + "/", StringComparison.Ordinal)) continue;
                    if (sub.Matches(obj)) sub.Send(Change.Added, obj);
                }
            }
            else
            {
                if (!long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var from))
                    throw Status.BadRequest($"invalid resource version: \"{resourceVersion}\"");
                if (from < _compactedThrough)
                {
                    var oldest = _history.First?.Value.Rv ?? _rv + 1;
                    var expired = new KubeApiException(410, "Expired", $"too old resource version: {from} ({oldest - 1})");
                    sub.Lines.Writer.TryWrite(ErrorLine(expired));
                    sub.Lines.Writer.TryComplete();
                    return sub;
                }
                foreach (var change in _history)
                    if (change.Rv > from) Deliver(sub, change);
            }
            _watches.Add(sub);
        }
        return sub;
    }

    public void Unsubscribe(WatchSubscription sub)
    {
        lock (_gate) _watches.Remove(sub);
    }

    /// <summary>Queues a BOOKMARK carrying the current revision (after every change already queued).</summary>
    public void Bookmark(WatchSubscription sub)
    {
        lock (_gate)
        {
            var obj = new JsonObject
            {
                ["kind"] = sub.Resource.Kind,
                ["apiVersion"] = sub.Resource.GroupVersion,
                ["metadata"] = new JsonObject { ["resourceVersion"] = _rv.ToString(CultureInfo.InvariantCulture), ["creationTimestamp"] = null },
            };
            sub.Lines.Writer.TryWrite(Line("BOOKMARK", obj));
        }
    }

    /// <summary>Ends every open watch: <paramref name="abort"/> resets the connection, otherwise the response ends cleanly.</summary>
    public int DropWatches(bool abort)
    {
        List<WatchSubscription> dropped;
        lock (_gate)
        {
            dropped = [.. _watches];
            _watches.Clear();
        }
        foreach (var w in dropped)
        {
            w.AbortConnection = abort;
            w.Lines.Writer.TryComplete();
            try { w.Dropped.Cancel(); } catch (ObjectDisposedException) { }
        }
        return dropped.Count;
    }

    static void Deliver(WatchSubscription w, Change c)
    {
        if (!ReferenceEquals(w.Resource, c.Resource)) return;
        if (w.Namespace is not null && w.Namespace != c.Namespace) return;
        switch (c.Type)
        {
            case Change.Added:
                if (w.Matches(c.Object)) w.Send(Change.Added, c.Object);
                break;
            case Change.Deleted:
                if (w.Matches(c.Object)) w.Send(Change.Deleted, c.Object);
                break;
            default:
                var now = w.Matches(c.Object);
                var before = c.Previous is not null && w.Matches(c.Previous);
                if (now && before) w.Send(Change.Modified, c.Object);
                else if (now) w.Send(Change.Added, c.Object);
                else if (before)
                {
                    // Like the watch cache: the object left the selection, so the watcher sees it deleted,
                    // with its previous content at the new revision.
                    var prev = c.Previous!.Clone();
                    prev.Metadata()["resourceVersion"] = c.Rv.ToString(CultureInfo.InvariantCulture);
                    w.Send(Change.Deleted, prev);
                }
                break;
        }
    }

    internal static string Line(string type, JsonObject obj) => "{\"type\":\"" + type + "\",\"object\":" + obj.Text() + "}";

    public static string ErrorLine(KubeApiException e) => Line("ERROR", e.ToStatus());
}
