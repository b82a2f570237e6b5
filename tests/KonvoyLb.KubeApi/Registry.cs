using System.Globalization;
using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>What a DELETE asked for: grace period, preconditions and dry run.</summary>
internal sealed record DeleteOptions(long? GracePeriodSeconds, string? PreconditionUid, string? PreconditionResourceVersion, bool DryRun)
{
    public static readonly DeleteOptions Default = new(null, null, null, false);

    public static DeleteOptions From(JsonObject? body, Func<string, string?> query)
    {
        long? grace = body?.At("gracePeriodSeconds") is JsonValue ? body.Long("gracePeriodSeconds") : null;
        if (grace is null && long.TryParse(query("gracePeriodSeconds"), out var q)) grace = q;
        var dryRun = body?.At("dryRun") is JsonArray { Count: > 0 } || !string.IsNullOrEmpty(query("dryRun"));
        return new DeleteOptions(grace, body.Str("preconditions.uid"), body.Str("preconditions.resourceVersion"), dryRun);
    }
}

/// <summary>
/// The API rules on top of the store, per kind: defaults on create, the status subresource split,
/// optimistic concurrency, graceful pod deletion and namespace termination.
/// </summary>
internal sealed class Registry
{
    readonly Store _store;
    readonly FakeKubeOptions _options;
    readonly CancellationToken _stopping;
    int _nextClusterIp = 10, _nextNodePort = 30080;

    public Registry(Store store, FakeKubeOptions options, CancellationToken stopping)
    {
        _store = store;
        _options = options;
        _stopping = stopping;
    }

    public Store Store => _store;

    const string NameChars = "bcdfghjklmnpqrstvwxz2456789";

    public static string RandomSuffix(int length = 5) =>
        string.Create(length, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = NameChars[Random.Shared.Next(NameChars.Length)];
        });

    public JsonObject Create(ResourceType rt, string ns, JsonObject body)
    {
        CheckKind(rt, body);
        var meta = body.Metadata();
        var bodyNs = meta.Str("namespace");
        if (rt.Namespaced && !string.IsNullOrEmpty(bodyNs) && bodyNs != ns)
            throw Status.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        var name = meta.Str("name");
        if (string.IsNullOrEmpty(name))
        {
            var generate = meta.Str("generateName");
            if (string.IsNullOrEmpty(generate))
                throw Status.Invalid(rt.Group, rt.Kind, "", "metadata.name", "Required value: name or generateName is required");
            name = generate + RandomSuffix();
            meta["name"] = name;
        }
        ValidateName(rt, name);
        meta.Remove("resourceVersion");
        PrepareForCreate(rt, body, name);
        return _store.Create(rt, ns, body);
    }

    static void CheckKind(ResourceType rt, JsonObject body)
    {
        var kind = body.Str("kind");
        if (!string.IsNullOrEmpty(kind) && kind != rt.Kind)
            throw Status.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({rt.Kind})");
        var apiVersion = body.Str("apiVersion");
        if (!string.IsNullOrEmpty(apiVersion) && apiVersion != rt.GroupVersion)
            throw Status.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({rt.GroupVersion})");
    }

    static void ValidateName(ResourceType rt, string name)
    {
        var ok = name.Length is > 0 and <= 253 && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1]) &&
                 name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.');
        if (rt == Catalog.Namespaces) ok = ok && name.Length <= 63 && !name.Contains('.');
        if (!ok)
        {
            var details = new JsonObject { ["name"] = name };
            if (rt.Group.Length > 0) details["group"] = rt.Group;
            details["kind"] = rt.Kind;
            details["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = "Invalid value: \"" + name + "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", ["field"] = "metadata.name" });
            throw new KubeApiException(422, "Invalid",
                $"{rt.Kind} \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                details);
        }
    }

    void PrepareForCreate(ResourceType rt, JsonObject obj, string name)
    {
        switch (rt.Kind)
        {
            case "Pod":
            {
                var spec = obj.Obj("spec");
                spec["restartPolicy"] ??= "Always";
                spec["dnsPolicy"] ??= "ClusterFirst";
                spec["schedulerName"] ??= "default-scheduler";
                spec["terminationGracePeriodSeconds"] ??= 30;
                spec["serviceAccountName"] ??= "default";
                foreach (var c in (spec["containers"] as JsonArray)?.OfType<JsonObject>() ?? [])
                {
                    c["imagePullPolicy"] ??= "IfNotPresent";
                    c["terminationMessagePath"] ??= "/dev/termination-log";
                    c["terminationMessagePolicy"] ??= "File";
                }
                obj["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = "BestEffort" };
                break;
            }
            case "Service":
            {
                var spec = obj.Obj("spec");
                var type = spec["type"].AsString() ?? "ClusterIP";
                spec["type"] = type;
                spec["sessionAffinity"] ??= "None";
                if (type != "ExternalName")
                {
                    var ip = spec.Str("clusterIP");
                    if (string.IsNullOrEmpty(ip))
                    {
                        var n = Interlocked.Increment(ref _nextClusterIp);
                        ip = $"10.96.{n / 250}.{n % 250 + 1}";
                        spec["clusterIP"] = ip;
                    }
                    spec["clusterIPs"] ??= new JsonArray(ip);
                    spec["ipFamilies"] ??= new JsonArray("IPv4");
                    spec["ipFamilyPolicy"] ??= "SingleStack";
                    spec["internalTrafficPolicy"] ??= "Cluster";
                }
                if (type is "LoadBalancer" or "NodePort") spec["externalTrafficPolicy"] ??= "Cluster";
                if (type == "LoadBalancer") spec["allocateLoadBalancerNodePorts"] ??= true;
                foreach (var p in (spec["ports"] as JsonArray)?.OfType<JsonObject>() ?? [])
                {
                    p["protocol"] ??= "TCP";
                    p["targetPort"] ??= p["port"]?.DeepClone();
                    var wantsNodePort = type == "NodePort" || (type == "LoadBalancer" && spec.Str("allocateLoadBalancerNodePorts") != "false");
                    if (wantsNodePort && p.Long("nodePort") == 0) p["nodePort"] = Interlocked.Increment(ref _nextNodePort);
                }
                obj["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };
                break;
            }
            case "Namespace":
                obj.Metadata().Obj("labels")["kubernetes.io/metadata.name"] = name;
                obj.Obj("spec")["finalizers"] = new JsonArray("kubernetes");
                obj["status"] = new JsonObject { ["phase"] = "Active" };
                break;
            case "Deployment":
            {
                var spec = obj.Obj("spec");
                spec["replicas"] ??= 1;
                spec["revisionHistoryLimit"] ??= 10;
                spec["progressDeadlineSeconds"] ??= 600;
                spec["strategy"] ??= new JsonObject
                {
                    ["type"] = "RollingUpdate",
                    ["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = "25%", ["maxSurge"] = "25%" },
                };
                obj["status"] = new JsonObject();
                break;
            }
        }
    }

    /// <summary>PUT: the whole object, or with <paramref name="subresource"/> "status" only its status.</summary>
    public JsonObject Update(ResourceType rt, string ns, string name, JsonObject body, string? subresource)
    {
        CheckKind(rt, body);
        var bodyName = body.Str("metadata.name");
        if (bodyName != name)
            throw Status.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        var bodyNs = body.Str("metadata.namespace");
        if (rt.Namespaced && !string.IsNullOrEmpty(bodyNs) && bodyNs != ns)
            throw Status.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        return _store.Update(rt, ns, name, current => Merge(rt, current, body, subresource));
    }

    /// <summary>PATCH: applied to the current object, then the same rules as an update.</summary>
    public JsonObject Patch(ResourceType rt, string ns, string name, JsonNode? patch, string mediaType, string? subresource) =>
        _store.Update(rt, ns, name, current =>
        {
            var candidate = Patching.Apply(current, patch, mediaType);
            if (candidate.Str("metadata.name") != name)
                throw Status.BadRequest($"the name of the object ({candidate.Str("metadata.name")}) does not match the name on the URL ({name})");
            return Merge(rt, current, candidate, subresource);
        });

    /// <summary>
    /// Server-side apply, approximated: creates the object when it is missing, otherwise merges the
    /// applied configuration into it (no field ownership, so fields dropped from the configuration stay).
    /// </summary>
    public (JsonObject Result, bool Created) Apply(ResourceType rt, string ns, string name, JsonObject config, string? subresource)
    {
        CheckKind(rt, config);
        if (config.Str("metadata.name") is { } bodyName && bodyName != name)
            throw Status.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        if (subresource is null && _store.Get(rt, ns, name) is null)
        {
            var body = config.Clone();
            body.Metadata()["name"] = name;
            try { return (Create(rt, ns, body), true); }
            catch (KubeApiException e) when (e.Reason == "AlreadyExists") { }
        }
        return (Patch(rt, ns, name, config, Patching.StrategicMergePatch, subresource), false);
    }

    /// <summary>The autoscaling/v1 Scale view of a deployment.</summary>
    public JsonObject GetScale(ResourceType rt, string ns, string name) =>
        ScaleOf(_store.Get(rt, ns, name) ?? throw Status.NotFound(rt.Group, rt.Plural, name));

    static JsonObject ScaleOf(JsonObject d)
    {
        var match = d.At("spec.selector.matchLabels") as JsonObject;
        var selector = match is null ? "" : string.Join(",", match.Select(kv => $"{kv.Key}={kv.Value.AsString()}"));
        var meta = new JsonObject();
        foreach (var key in new[] { "name", "namespace", "uid", "resourceVersion", "creationTimestamp" })
            if (d.At("metadata." + key) is { } v) meta[key] = v.DeepClone();
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = meta,
            ["spec"] = new JsonObject { ["replicas"] = d.Long("spec.replicas", 1) },
            ["status"] = new JsonObject { ["replicas"] = d.Long("status.replicas"), ["selector"] = selector },
        };
    }

    /// <summary>Changes spec.replicas through the Scale view (<paramref name="change"/> gets the current Scale).</summary>
    public JsonObject UpdateScale(ResourceType rt, string ns, string name, Func<JsonObject, JsonObject> change)
    {
        var updated = _store.Update(rt, ns, name, d =>
        {
            var scale = change(ScaleOf(d));
            var wanted = scale.Str("metadata.resourceVersion");
            if (!string.IsNullOrEmpty(wanted) && wanted != d.Str("metadata.resourceVersion"))
                throw Status.StaleResourceVersion(rt.Group, rt.Plural, name);
            var replicas = scale.Long("spec.replicas", -1);
            if (replicas < 0) throw Status.Invalid("autoscaling", "Scale", name, "spec.replicas", "Invalid value: must be greater than or equal to 0");
            d.Obj("spec")["replicas"] = replicas;
            return d;
        });
        return ScaleOf(updated);
    }

    JsonObject Merge(ResourceType rt, JsonObject current, JsonObject incoming, string? subresource)
    {
        var wanted = incoming.Str("metadata.resourceVersion");
        if (!string.IsNullOrEmpty(wanted) && wanted != current.Str("metadata.resourceVersion"))
            throw Status.StaleResourceVersion(rt.Group, rt.Plural, current.Str("metadata.name") ?? "");
        if (subresource == "status")
        {
            var next = current.Clone();
            if (incoming["status"] is { } status) next["status"] = status.DeepClone();
            else next.Remove("status");
            return next;
        }
        var result = incoming.Clone();
        if (rt.StatusIsSubresource)
        {
            if (current["status"] is { } s) result["status"] = s.DeepClone();
            else result.Remove("status");
        }
        return result;
    }

    /// <summary>
    /// DELETE of one object. Pods on a node are deleted gracefully: first deletionTimestamp is set
    /// (a MODIFIED event, the response carries that object), then the "kubelet" removes them after
    /// <see cref="FakeKubeOptions.PodDeletionGrace"/>. Namespaces terminate: their content goes first.
    /// </summary>
    public JsonObject Delete(ResourceType rt, string ns, string name, DeleteOptions options)
    {
        var current = _store.Get(rt, ns, name) ?? throw Status.NotFound(rt.Group, rt.Plural, name);
        CheckPreconditions(rt, current, options);
        if (options.DryRun) return rt.ReturnsDeletedObject ? current : Status.Success(name, rt.Group, rt.Plural, current.Str("metadata.uid"));

        if (rt == Catalog.Pods)
        {
            var graceful = options.GracePeriodSeconds != 0 &&
                           !string.IsNullOrEmpty(current.Str("spec.nodeName")) &&
                           current.Str("status.phase") is not ("Succeeded" or "Failed");
            if (graceful)
            {
                var seconds = options.GracePeriodSeconds ?? current.Long("spec.terminationGracePeriodSeconds", 30);
                var marked = _store.MarkDeleted(rt, ns, name, DateTimeOffset.UtcNow.AddSeconds(seconds), seconds);
                var uid = marked.Str("metadata.uid");
                After(_options.PodDeletionGrace, () => RemoveIfSame(rt, ns, name, uid));
                return marked;
            }
        }
        else if (rt == Catalog.Namespaces)
        {
            var marked = _store.MarkDeleted(rt, "", name, DateTimeOffset.UtcNow, 0,
                n => n["status"] = new JsonObject { ["phase"] = "Terminating" });
            var uid = marked.Str("metadata.uid");
            After(TimeSpan.FromMilliseconds(50), () => FinishNamespace(name, uid));
            return marked;
        }

        var gone = _store.Remove(rt, ns, name, obj => CheckPreconditions(rt, obj, options));
        return rt.ReturnsDeletedObject ? gone : Status.Success(name, rt.Group, rt.Plural, gone.Str("metadata.uid"));
    }

    static void CheckPreconditions(ResourceType rt, JsonObject current, DeleteOptions options)
    {
        var name = current.Str("metadata.name") ?? "";
        if (options.PreconditionUid is { Length: > 0 } uid && uid != current.Str("metadata.uid"))
            throw Status.Conflict(rt.Group, rt.Plural, name,
                $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Str("metadata.uid")}");
        if (options.PreconditionResourceVersion is { Length: > 0 } rv && rv != current.Str("metadata.resourceVersion"))
            throw Status.Conflict(rt.Group, rt.Plural, name,
                $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current.Str("metadata.resourceVersion")}");
    }

    public JsonObject DeleteCollection(ResourceType rt, string? ns, LabelSelector labels, FieldSelector fields, DeleteOptions options)
    {
        var (items, _) = _store.List(rt, ns, labels, fields);
        var deleted = new JsonArray();
        foreach (var item in items)
        {
            try
            {
                var result = Delete(rt, item.Str("metadata.namespace") ?? "", item.Str("metadata.name")!, options with { PreconditionUid = null, PreconditionResourceVersion = null });
                if (result.Str("kind") != "Status")
                {
                    result.Remove("kind");
                    result.Remove("apiVersion");
                    deleted.Add(result);
                }
                else
                {
                    item.Remove("kind");
                    item.Remove("apiVersion");
                    deleted.Add(item);
                }
            }
            catch (KubeApiException e) when (e.Code == 404) { }
        }
        return new JsonObject
        {
            ["kind"] = rt.ListKind,
            ["apiVersion"] = rt.GroupVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = _store.CurrentRv.ToString(CultureInfo.InvariantCulture) },
            ["items"] = deleted,
        };
    }

    void RemoveIfSame(ResourceType rt, string ns, string name, string? uid)
    {
        try
        {
            _store.Remove(rt, ns, name, obj =>
            {
                if (obj.Str("metadata.uid") != uid) throw Status.NotFound(rt.Group, rt.Plural, name);
            });
        }
        catch (KubeApiException) { }
    }

    void FinishNamespace(string name, string? uid)
    {
        foreach (var rt in Catalog.All.Where(r => r.Namespaced))
        {
            var (items, _) = _store.List(rt, name, LabelSelector.Everything, FieldSelector.Everything);
            foreach (var item in items)
            {
                try { _store.Remove(rt, name, item.Str("metadata.name")!); }
                catch (KubeApiException) { }
            }
        }
        RemoveIfSame(Catalog.Namespaces, "", name, uid);
    }

    /// <summary>Runs <paramref name="action"/> after <paramref name="delay"/> unless the fake stops first.</summary>
    public void After(TimeSpan delay, Action action)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                if (delay > TimeSpan.Zero) await Task.Delay(delay, _stopping);
                else await Task.Yield();
                if (!_stopping.IsCancellationRequested) action();
            }
            catch (OperationCanceledException) { }
        });
    }
}
