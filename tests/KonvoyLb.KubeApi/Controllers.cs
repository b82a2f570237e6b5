using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace KonvoyLb.KubeApi;

/// <summary>How the pods of a fake Deployment behave once created.</summary>
public enum PodFailure
{
    /// <summary>Pending, then Running and Ready after the deployment's readyAfter.</summary>
    None,

    /// <summary>Starts, then keeps crashing: waiting.reason CrashLoopBackOff, restartCount going up, never Ready.</summary>
    CrashLoopBackOff,

    /// <summary>Stays Pending with waiting.reason ErrImagePull, then ImagePullBackOff (restartCount stays 0, as with a real kubelet).</summary>
    ImagePullBackOff,

    /// <summary>Never scheduled: no node, condition PodScheduled=False with reason Unschedulable and the scheduler's message.</summary>
    Unschedulable,
}

/// <summary>
/// What would be the controller manager, scheduler and kubelet: keeps each Deployment's pods at
/// spec.replicas (a terminating pod is replaced at once, under a new name and UID), moves pods through
/// their lifecycle and records Events, and keeps the Deployment's status current.
/// </summary>
internal sealed class Controllers
{
    internal sealed record Behavior(TimeSpan ReadyAfter, PodFailure Failure, string? Message);

    readonly Store _store;
    readonly Registry _registry;
    readonly FakeKubeOptions _options;
    readonly CancellationToken _stopping;
    readonly Channel<Change> _changes = Channel.CreateUnbounded<Change>(new UnboundedChannelOptions { SingleReader = true });
    readonly ConcurrentDictionary<string, Behavior> _behaviors = new();
    int _nextIp = 10, _nextNode;
    Task? _loop;

    public Controllers(Store store, Registry registry, FakeKubeOptions options, CancellationToken stopping)
    {
        _store = store;
        _registry = registry;
        _options = options;
        _stopping = stopping;
    }

    public const string DefaultUnschedulableMessage =
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";

    /// <summary>Called by the store under its lock.</summary>
    public void Observe(Change c)
    {
        if (ReferenceEquals(c.Resource, Catalog.Deployments) || ReferenceEquals(c.Resource, Catalog.Pods))
            _changes.Writer.TryWrite(c);
    }

    public void Start() => _loop = Task.Run(Loop);

    public Task Completion => _loop ?? Task.CompletedTask;

    public void SetBehavior(string ns, string name, Behavior behavior) => _behaviors[ns + "/" + name] = behavior;

    Behavior BehaviorOf(string ns, string name) =>
        _behaviors.TryGetValue(ns + "/" + name, out var b) ? b : new Behavior(TimeSpan.Zero, PodFailure.None, null);

    async Task Loop()
    {
        try
        {
            await foreach (var change in _changes.Reader.ReadAllAsync(_stopping))
            {
                try
                {
                    if (ReferenceEquals(change.Resource, Catalog.Deployments))
                    {
                        if (change.Type == Change.Deleted) DeleteOwnedPods(change.Object);
                        else Reconcile(change.Namespace, change.Name);
                    }
                    else
                    {
                        var labels = change.Object.Labels();
                        var (deployments, _) = _store.List(Catalog.Deployments, change.Namespace, LabelSelector.Everything, FieldSelector.Everything);
                        foreach (var d in deployments)
                            if (SelectorOf(d).Matches(labels)) Reconcile(change.Namespace, d.Str("metadata.name")!);
                    }
                }
                catch (KubeApiException) { }
            }
        }
        catch (OperationCanceledException) { }
    }

    static LabelSelector SelectorOf(JsonObject deployment)
    {
        var match = deployment.At("spec.selector.matchLabels") as JsonObject ?? deployment.At("spec.template.metadata.labels") as JsonObject;
        if (match is null || match.Count == 0) return LabelSelector.Parse("fake.konvoylb/none");
        return LabelSelector.Parse(string.Join(",", match.Select(kv => $"{kv.Key}={kv.Value.AsString()}")));
    }

    /// <summary>Like pod-template-hash: changes with the pod template, so a new template means a new ReplicaSet.</summary>
    static string TemplateHash(JsonObject d)
    {
        var seed = d.Str("metadata.uid") + "|" + (d.At("spec.template")?.Text() ?? "");
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        const string chars = "bcdfghjklmnpqrstvwxz2456789";
        return new string(bytes.Take(10).Select(b => chars[b % chars.Length]).ToArray());
    }

    static string ReplicaSetName(JsonObject d) => $"{d.Str("metadata.name")}-{TemplateHash(d)}";

    static string? OwnerName(JsonObject pod) =>
        (pod.At("metadata.ownerReferences") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(o => o.Str("kind") == "ReplicaSet")?.Str("name");

    /// <summary>The pods of every ReplicaSet of the deployment (current and old templates).</summary>
    List<JsonObject> OwnedPods(JsonObject d)
    {
        var prefix = d.Str("metadata.name") + "-";
        var (pods, _) = _store.List(Catalog.Pods, d.Str("metadata.namespace"), SelectorOf(d), FieldSelector.Everything);
        return pods.Where(p => OwnerName(p) is { } owner && owner.StartsWith(prefix, StringComparison.Ordinal) && owner.Length == prefix.Length + 10).ToList();
    }

    /// <summary>
    /// Keeps spec.replicas pods of the current template; after a template change (kubectl rollout
    /// restart, a new image) the new pods come first and the old ones go once the new are all Ready.
    /// </summary>
    void Reconcile(string ns, string name)
    {
        var d = _store.Get(Catalog.Deployments, ns, name);
        if (d is null || d.At("metadata.deletionTimestamp") is not null) return;
        var replicas = (int)d.Long("spec.replicas", 1);
        var rs = ReplicaSetName(d);
        var alive = OwnedPods(d).Where(p => p.At("metadata.deletionTimestamp") is null).ToList();
        var current = alive.Where(p => OwnerName(p) == rs).ToList();
        var old = alive.Where(p => OwnerName(p) != rs).ToList();
        for (var i = current.Count; i < replicas; i++) current.Add(CreatePod(d));
        foreach (var extra in current.OrderBy(IsReady).Take(Math.Max(0, current.Count - replicas)).ToList())
        {
            DeletePod(ns, extra);
            current.Remove(extra);
        }
        if (current.Count(IsReady) >= replicas)
        {
            foreach (var pod in old) DeletePod(ns, pod);
            old.Clear();
        }
        UpdateDeploymentStatus(ns, name, current, old);
    }

    void DeletePod(string ns, JsonObject pod)
    {
        try { _registry.Delete(Catalog.Pods, ns, pod.Str("metadata.name")!, DeleteOptions.Default); }
        catch (KubeApiException) { }
    }

    void DeleteOwnedPods(JsonObject d)
    {
        foreach (var pod in OwnedPods(d)) DeletePod(d.Str("metadata.namespace")!, pod);
    }

    static bool IsReady(JsonObject pod) =>
        (pod.At("status.conditions") as JsonArray)?.OfType<JsonObject>().Any(c => c.Str("type") == "Ready" && c.Str("status") == "True") == true;

    void UpdateDeploymentStatus(string ns, string name, List<JsonObject> current, List<JsonObject> old)
    {
        var ready = current.Count(IsReady) + old.Count(IsReady);
        try
        {
            _store.Update(Catalog.Deployments, ns, name, d =>
            {
                var replicas = d.Long("spec.replicas", 1);
                var previous = d["status"] as JsonObject;
                var status = new JsonObject
                {
                    ["observedGeneration"] = d.Long("metadata.generation", 1),
                    ["replicas"] = current.Count + old.Count,
                    ["updatedReplicas"] = current.Count,
                };
                if (ready > 0) { status["readyReplicas"] = ready; status["availableReplicas"] = ready; }
                if (replicas - ready > 0) status["unavailableReplicas"] = replicas - ready;
                var available = ready >= replicas;
                var complete = old.Count == 0 && current.Count(IsReady) >= replicas;
                status["conditions"] = new JsonArray(
                    Condition(previous, "Available", available ? "True" : "False",
                        available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                        available ? "Deployment has minimum availability." : "Deployment does not have minimum availability."),
                    Condition(previous, "Progressing", "True",
                        complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                        complete ? $"ReplicaSet \"{ReplicaSetName(d)}\" has successfully progressed." : $"ReplicaSet \"{ReplicaSetName(d)}\" is progressing."));
                d["status"] = status;
                return d;
            });
        }
        catch (KubeApiException) { }
    }

    /// <summary>A condition that keeps its old timestamps while its status and reason stay the same.</summary>
    static JsonObject Condition(JsonObject? oldStatus, string type, string status, string reason, string message)
    {
        var old = (oldStatus?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == type);
        var now = Json.Time(DateTimeOffset.UtcNow);
        var same = old is not null && old.Str("status") == status && old.Str("reason") == reason;
        return new JsonObject
        {
            ["type"] = type,
            ["status"] = status,
            ["lastUpdateTime"] = same ? old!.Str("lastUpdateTime") : now,
            ["lastTransitionTime"] = same || (old is not null && old.Str("status") == status) ? old!.Str("lastTransitionTime") : now,
            ["reason"] = reason,
            ["message"] = message,
        };
    }

    string PickNode()
    {
        var (nodes, _) = _store.List(Catalog.Nodes, null, LabelSelector.Everything, FieldSelector.Everything);
        var schedulable = nodes.Where(n => n.Str("spec.unschedulable") != "true").ToList();
        if (schedulable.Count == 0) return "fake-node-1";
        return schedulable[Interlocked.Increment(ref _nextNode) % schedulable.Count].Str("metadata.name")!;
    }

    JsonObject CreatePod(JsonObject d)
    {
        var ns = d.Str("metadata.namespace")!;
        var name = d.Str("metadata.name")!;
        var behavior = BehaviorOf(ns, name);
        var rs = ReplicaSetName(d);
        var podName = $"{rs}-{Registry.RandomSuffix()}";
        var template = d.At("spec.template") as JsonObject ?? new JsonObject();
        var labels = (template.At("metadata.labels") as JsonObject)?.Clone() ?? new JsonObject();
        labels["pod-template-hash"] = rs[(name.Length + 1)..];
        var spec = (template["spec"] as JsonObject)?.Clone() ?? new JsonObject();
        if (spec["containers"] is not JsonArray { Count: > 0 })
            spec["containers"] = new JsonArray(new JsonObject { ["name"] = name, ["image"] = $"registry.local/{name}:latest" });
        spec["restartPolicy"] ??= "Always";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["serviceAccountName"] ??= "default";
        var unschedulable = behavior.Failure == PodFailure.Unschedulable;
        string? node = null;
        if (!unschedulable)
        {
            node = PickNode();
            spec["nodeName"] = node;
        }
        var now = Json.Time(DateTimeOffset.UtcNow);
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject
            {
                ["name"] = podName,
                ["generateName"] = rs + "-",
                ["namespace"] = ns,
                ["labels"] = labels,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "apps/v1",
                    ["kind"] = "ReplicaSet",
                    ["name"] = rs,
                    ["uid"] = DeterministicUid(rs + "/" + d.Str("metadata.uid")),
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                }),
            },
            ["spec"] = spec,
        };
        var containers = ((JsonArray)spec["containers"]!).OfType<JsonObject>().ToList();
        var containerNames = string.Join(" ", containers.Select(c => c.Str("name")));
        JsonObject status;
        if (unschedulable)
        {
            status = new JsonObject
            {
                ["phase"] = "Pending",
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "PodScheduled", ["status"] = "False", ["lastProbeTime"] = null, ["lastTransitionTime"] = now,
                    ["reason"] = "Unschedulable", ["message"] = behavior.Message ?? DefaultUnschedulableMessage,
                }),
                ["qosClass"] = "BestEffort",
            };
        }
        else
        {
            status = new JsonObject
            {
                ["phase"] = "Pending",
                ["conditions"] = new JsonArray(
                    Cond("PodReadyToStartContainers", "False", now),
                    Cond("Initialized", "True", now),
                    Cond("Ready", "False", now, "ContainersNotReady", $"containers with unready status: [{containerNames}]"),
                    Cond("ContainersReady", "False", now, "ContainersNotReady", $"containers with unready status: [{containerNames}]"),
                    Cond("PodScheduled", "True", now)),
                ["hostIP"] = NodeIp(node!),
                ["startTime"] = now,
                ["containerStatuses"] = new JsonArray(containers.Select(c => (JsonNode?)new JsonObject
                {
                    ["name"] = c.Str("name"),
                    ["image"] = c.Str("image"),
                    ["imageID"] = "",
                    ["ready"] = false,
                    ["restartCount"] = 0,
                    ["started"] = false,
                    ["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating" } },
                }).ToArray()),
                ["qosClass"] = "BestEffort",
            };
        }
        pod["status"] = status;
        var created = _store.Create(Catalog.Pods, ns, pod);
        var uid = created.Str("metadata.uid")!;
        if (unschedulable)
            RecordEvent(created, "Warning", "FailedScheduling", behavior.Message ?? DefaultUnschedulableMessage, "default-scheduler", null);
        else
        {
            RecordEvent(created, "Normal", "Scheduled", $"Successfully assigned {ns}/{podName} to {node}", "default-scheduler", null);
            _ = Task.Run(() => RunKubelet(ns, podName, uid, node!, behavior));
        }
        return created;
    }

    static JsonObject Cond(string type, string status, string time, string? reason = null, string? message = null)
    {
        var c = new JsonObject { ["type"] = type, ["status"] = status, ["lastProbeTime"] = null, ["lastTransitionTime"] = time };
        if (reason is not null) c["reason"] = reason;
        if (message is not null) c["message"] = message;
        return c;
    }

    static string DeterministicUid(string seed)
    {
        var b = MD5.HashData(Encoding.UTF8.GetBytes("rs:" + seed));
        return new Guid(b).ToString();
    }

    string NodeIp(string node)
    {
        var n = _store.Get(Catalog.Nodes, "", node);
        return (n?.At("status.addresses") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(a => a.Str("type") == "InternalIP")?.Str("address") ?? "10.0.0.1";
    }

    /// <summary>The kubelet's part: start the containers, then become Ready or fail as told.</summary>
    async Task RunKubelet(string ns, string name, string uid, string node, Behavior behavior)
    {
        try
        {
            if (behavior.ReadyAfter > TimeSpan.Zero) await Task.Delay(behavior.ReadyAfter, _stopping);
            switch (behavior.Failure)
            {
                case PodFailure.None:
                {
                    var ip = NextPodIp();
                    var now = Json.Time(DateTimeOffset.UtcNow);
                    if (!UpdatePod(ns, name, uid, pod =>
                        {
                            var status = pod.Obj("status");
                            status["phase"] = "Running";
                            status["podIP"] = ip;
                            status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip });
                            status["conditions"] = new JsonArray(
                                Cond("PodReadyToStartContainers", "True", now), Cond("Initialized", "True", now),
                                Cond("Ready", "True", now), Cond("ContainersReady", "True", now), Cond("PodScheduled", "True", now));
                            foreach (var cs in ContainerStatuses(pod))
                            {
                                cs["ready"] = true;
                                cs["started"] = true;
                                cs["imageID"] = $"{cs.Str("image")}@sha256:{new string('0', 64)}";
                                cs["containerID"] = $"containerd://{Guid.NewGuid():N}";
                                cs["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } };
                            }
                        })) return;
                    var pod = _store.Get(Catalog.Pods, ns, name);
                    if (pod is not null)
                        foreach (var c in ContainerNames(pod))
                            RecordEvent(pod, "Normal", "Started", $"Started container {c}", "kubelet", node);
                    return;
                }
                case PodFailure.CrashLoopBackOff:
                {
                    for (var restarts = 1; !_stopping.IsCancellationRequested; restarts++)
                    {
                        var now = Json.Time(DateTimeOffset.UtcNow);
                        var count = restarts;
                        if (!UpdatePod(ns, name, uid, pod =>
                            {
                                var status = pod.Obj("status");
                                status["phase"] = "Running";
                                var names = string.Join(" ", ContainerStatuses(pod).Select(c => c.Str("name")));
                                status["conditions"] = new JsonArray(
                                    Cond("PodReadyToStartContainers", "True", now), Cond("Initialized", "True", now),
                                    Cond("Ready", "False", now, "ContainersNotReady", $"containers with unready status: [{names}]"),
                                    Cond("ContainersReady", "False", now, "ContainersNotReady", $"containers with unready status: [{names}]"),
                                    Cond("PodScheduled", "True", now));
                                foreach (var cs in ContainerStatuses(pod))
                                {
                                    cs["ready"] = false;
                                    cs["started"] = false;
                                    cs["restartCount"] = count;
                                    var backoff = Math.Min(300, 10 << Math.Min(count - 1, 5));
                                    cs["state"] = new JsonObject
                                    {
                                        ["waiting"] = new JsonObject
                                        {
                                            ["reason"] = "CrashLoopBackOff",
                                            ["message"] = $"back-off {backoff}s restarting failed container={cs.Str("name")} pod={name}_{ns}({uid})",
                                        },
                                    };
                                    cs["lastState"] = new JsonObject
                                    {
                                        ["terminated"] = new JsonObject
                                        {
                                            ["exitCode"] = 1, ["reason"] = "Error", ["startedAt"] = now, ["finishedAt"] = now,
                                            ["containerID"] = $"containerd://{Guid.NewGuid():N}",
                                        },
                                    };
                                }
                            })) return;
                        if (restarts == 1 && _store.Get(Catalog.Pods, ns, name) is { } pod)
                            foreach (var c in ContainerNames(pod))
                                RecordEvent(pod, "Warning", "BackOff", $"Back-off restarting failed container {c} in pod {name}_{ns}({uid})", "kubelet", node);
                        await Task.Delay(_options.CrashLoopInterval, _stopping);
                    }
                    return;
                }
                case PodFailure.ImagePullBackOff:
                {
                    foreach (var (reason, pause) in new[] { ("ErrImagePull", true), ("ImagePullBackOff", false) })
                    {
                        if (!UpdatePod(ns, name, uid, pod =>
                            {
                                foreach (var cs in ContainerStatuses(pod))
                                    cs["state"] = new JsonObject
                                    {
                                        ["waiting"] = new JsonObject
                                        {
                                            ["reason"] = reason,
                                            ["message"] = reason == "ErrImagePull"
                                                ? $"failed to pull and unpack image \"{cs.Str("image")}\": failed to resolve reference \"{cs.Str("image")}\": not found"
                                                : $"Back-off pulling image \"{cs.Str("image")}\"",
                                        },
                                    };
                            })) return;
                        if (_store.Get(Catalog.Pods, ns, name) is { } pod)
                            foreach (var cs in ContainerStatuses(pod))
                                RecordEvent(pod, reason == "ErrImagePull" ? "Warning" : "Normal",
                                    reason == "ErrImagePull" ? "Failed" : "BackOff",
                                    reason == "ErrImagePull" ? $"Error: ErrImagePull" : $"Back-off pulling image \"{cs.Str("image")}\"", "kubelet", node);
                        if (pause) await Task.Delay(_options.CrashLoopInterval, _stopping);
                    }
                    return;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    static IEnumerable<JsonObject> ContainerStatuses(JsonObject pod) =>
        (pod.At("status.containerStatuses") as JsonArray)?.OfType<JsonObject>() ?? [];

    static IEnumerable<string> ContainerNames(JsonObject pod) =>
        (pod.At("spec.containers") as JsonArray)?.OfType<JsonObject>().Select(c => c.Str("name") ?? "") ?? [];

    /// <summary>Changes a pod's status as its kubelet would; false once the pod is gone, replaced or terminating.</summary>
    bool UpdatePod(string ns, string name, string uid, Action<JsonObject> change)
    {
        if (_stopping.IsCancellationRequested) return false;
        try
        {
            var stillOurs = true;
            _store.Update(Catalog.Pods, ns, name, pod =>
            {
                if (pod.Str("metadata.uid") != uid || pod.At("metadata.deletionTimestamp") is not null)
                {
                    stillOurs = false;
                    return pod;
                }
                change(pod);
                return pod;
            });
            return stillOurs;
        }
        catch (KubeApiException)
        {
            return false;
        }
    }

    void RecordEvent(JsonObject about, string type, string reason, string message, string component, string? host)
    {
        var ns = about.Str("metadata.namespace") ?? "default";
        var now = Json.Time(DateTimeOffset.UtcNow);
        var source = new JsonObject { ["component"] = component };
        if (host is not null) source["host"] = host;
        var ev = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{about.Str("metadata.name")}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}",
                ["namespace"] = ns,
            },
            ["involvedObject"] = new JsonObject
            {
                ["apiVersion"] = about.Str("apiVersion") ?? "v1",
                ["kind"] = about.Str("kind") ?? "Pod",
                ["namespace"] = ns,
                ["name"] = about.Str("metadata.name"),
                ["uid"] = about.Str("metadata.uid"),
                ["resourceVersion"] = about.Str("metadata.resourceVersion"),
            },
            ["reason"] = reason,
            ["message"] = message,
            ["source"] = source,
            ["firstTimestamp"] = now,
            ["lastTimestamp"] = now,
            ["count"] = 1,
            ["type"] = type,
            ["eventTime"] = null,
            ["reportingComponent"] = component,
            ["reportingInstance"] = host ?? "",
        };
        try { _store.Create(Catalog.Events, ns, ev, allowTerminatingNamespace: true); }
        catch (KubeApiException) { }
    }

    /// <summary>The next pod IP, for seeding.</summary>
    public string NextPodIp()
    {
        var n = Interlocked.Increment(ref _nextIp);
        return $"10.244.{n / 250}.{n % 250 + 1}";
    }
}
