using System.Globalization;
using System.Text.Json.Nodes;

namespace KonvoyLb.KubeApi;

/// <summary>
/// Server-side printing: the <c>meta.k8s.io/v1 Table</c> that <c>kubectl get</c> asks for, with the
/// columns the real server prints for our kinds.
/// </summary>
internal static class Tables
{
    sealed record Column(string Name, string Type, string Format, string Description, int Priority);

    static Column C(string name, string description, int priority = 0, string type = "string", string format = "") =>
        new(name, type, format, description, priority);

    static readonly Column NameColumn = C("Name", "Name must be unique within a namespace.", format: "name");
    static readonly Column AgeColumn = C("Age", "CreationTimestamp is a timestamp representing the server time when this object was created.");

    public static JsonObject Build(ResourceType rt, IEnumerable<JsonObject> items, long rv, bool includeObject, string? continueToken = null)
    {
        var (columns, row) = Printer(rt);
        var now = DateTimeOffset.UtcNow;
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var cells = new JsonArray();
            foreach (var cell in row(item, now)) cells.Add(cell);
            JsonObject embedded;
            if (includeObject)
            {
                embedded = item.Clone();
                embedded["kind"] = rt.Kind;
                embedded["apiVersion"] = rt.GroupVersion;
            }
            else
            {
                embedded = new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = item.Metadata().DeepClone(),
                };
            }
            rows.Add(new JsonObject { ["cells"] = cells, ["object"] = embedded });
        }
        var cols = new JsonArray();
        foreach (var c in columns)
            cols.Add(new JsonObject { ["name"] = c.Name, ["type"] = c.Type, ["format"] = c.Format, ["description"] = c.Description, ["priority"] = c.Priority });
        var meta = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
        if (continueToken is not null) meta["continue"] = continueToken;
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = meta,
            ["columnDefinitions"] = cols,
            ["rows"] = rows,
        };
    }

    static (Column[] Columns, Func<JsonObject, DateTimeOffset, JsonNode?[]> Row) Printer(ResourceType rt)
    {
        string Name(JsonObject o) => o.Str("metadata.name") ?? "";
        string Age(JsonObject o, DateTimeOffset now) => Since(o.Str("metadata.creationTimestamp"), now);

        switch (rt.Kind)
        {
            case "Pod":
                return ([NameColumn,
                         C("Ready", "The aggregate readiness state of this pod for accepting traffic."),
                         C("Status", "The aggregate status of the containers in this pod."),
                         C("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                         AgeColumn,
                         C("IP", "podIP is the IP address allocated to the pod.", 1),
                         C("Node", "nodeName indicates in which node this pod is scheduled.", 1),
                         C("Nominated Node", "nominatedNodeName is set when this pod preempts other pods on the node.", 1),
                         C("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.", 1)],
                        (o, now) => PodRow(o, now, Age(o, now)));
            case "Service":
                return ([NameColumn,
                         C("Type", "type determines how the Service is exposed."),
                         C("Cluster-IP", "clusterIP is the IP address of the service."),
                         C("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                         C("Port(s)", "The list of ports that are exposed by this service."),
                         AgeColumn,
                         C("Selector", "Route service traffic to pods with label keys and values matching this selector.", 1)],
                        (o, now) => [Name(o), o.Str("spec.type") ?? "ClusterIP", NoneIfEmpty(o.Str("spec.clusterIP")), ExternalIp(o),
                                     ServicePorts(o), Age(o, now), Selector(o.At("spec.selector") as JsonObject)]);
            case "Namespace":
                return ([NameColumn, C("Status", "The status of the namespace"), AgeColumn],
                        (o, now) => [Name(o), o.Str("status.phase") ?? "Active", Age(o, now)]);
            case "Node":
                return ([NameColumn, C("Status", "The status of the node"), C("Roles", "The roles of the node"), AgeColumn,
                         C("Version", "Kubelet Version reported by the node."),
                         C("Internal-IP", "List of internal IPs.", 1), C("External-IP", "List of external IPs.", 1)],
                        (o, now) => [Name(o), NodeStatus(o), NodeRoles(o), Age(o, now), o.Str("status.nodeInfo.kubeletVersion") ?? "",
                                     NodeAddress(o, "InternalIP"), NodeAddress(o, "ExternalIP")]);
            case "ConfigMap":
                return ([NameColumn, C("Data", "Data contains the configuration data.", type: "integer"), AgeColumn],
                        (o, now) => [Name(o), ((o["data"] as JsonObject)?.Count ?? 0) + ((o["binaryData"] as JsonObject)?.Count ?? 0), Age(o, now)]);
            case "Endpoints":
                return ([NameColumn, C("Endpoints", "Endpoints is the list of endpoints."), AgeColumn],
                        (o, now) => [Name(o), EndpointsText(o), Age(o, now)]);
            case "Event":
                return ([C("Last Seen", "Time when this Event was last seen"), C("Type", "Type of this event (Normal, Warning)"),
                         C("Reason", "Reason for the transition into the object's current status"),
                         C("Object", "Object this event is about"), C("Message", "A human-readable description of the status of this operation.")],
                        (o, now) => [Since(o.Str("lastTimestamp") ?? o.Str("eventTime") ?? o.Str("metadata.creationTimestamp"), now),
                                     o.Str("type") ?? "", o.Str("reason") ?? "",
                                     $"{(o.Str("involvedObject.kind") ?? "").ToLowerInvariant()}/{o.Str("involvedObject.name")}",
                                     (o.Str("message") ?? "").Trim()]);
            case "Deployment":
                return ([NameColumn, C("Ready", "Number of the pod with ready state"), C("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", type: "integer"),
                         C("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", type: "integer"), AgeColumn],
                        (o, now) => [Name(o), $"{o.Long("status.readyReplicas")}/{o.Long("spec.replicas", 1)}",
                                     o.Long("status.updatedReplicas"), o.Long("status.availableReplicas"), Age(o, now)]);
            case "Lease":
                return ([NameColumn, C("Holder", "The holder of the lease"), AgeColumn],
                        (o, now) => [Name(o), o.Str("spec.holderIdentity") ?? "", Age(o, now)]);
            case "EndpointSlice":
                return ([NameColumn, C("AddressType", "The IP protocol for this slice"), C("Ports", "The ports in this slice"),
                         C("Endpoints", "The endpoints in this slice"), AgeColumn],
                        (o, now) => [Name(o), o.Str("addressType") ?? "", SlicePorts(o), SliceEndpoints(o), Age(o, now)]);
            default:
                return ([NameColumn, AgeColumn], (o, now) => [Name(o), Age(o, now)]);
        }
    }

    static JsonNode?[] PodRow(JsonObject pod, DateTimeOffset now, string age)
    {
        var containers = (pod.At("spec.containers") as JsonArray)?.Count ?? 0;
        var statuses = (pod.At("status.containerStatuses") as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var reason = pod.Str("status.reason") ?? pod.Str("status.phase") ?? "Pending";
        var ready = 0;
        long restarts = 0;
        DateTimeOffset? lastRestart = null;
        var hasRunning = false;
        for (var i = statuses.Count - 1; i >= 0; i--)
        {
            var cs = statuses[i];
            restarts += cs.Long("restartCount");
            var finished = Json.ParseTime(cs.Str("lastState.terminated.finishedAt"));
            if (finished is not null && (lastRestart is null || finished > lastRestart)) lastRestart = finished;
            if (cs.Str("state.waiting.reason") is { Length: > 0 } waiting) reason = waiting;
            else if (cs.At("state.terminated") is JsonObject term)
                reason = term.Str("reason") ?? (term.Long("signal") != 0 ? $"Signal:{term.Long("signal")}" : $"ExitCode:{term.Long("exitCode")}");
            else if (cs.Str("ready") == "true" && cs.At("state.running") is not null)
            {
                hasRunning = true;
                ready++;
            }
        }
        if (reason == "Completed" && hasRunning)
            reason = PodReady(pod) ? "Running" : "NotReady";
        if (pod.At("metadata.deletionTimestamp") is not null)
            reason = pod.Str("status.reason") == "NodeLost" ? "Unknown" : "Terminating";

        var restartText = restarts.ToString(CultureInfo.InvariantCulture);
        if (restarts > 0 && lastRestart is not null) restartText += $" ({Since(Json.Time(lastRestart.Value), now)} ago)";
        var gates = pod.At("spec.readinessGates") as JsonArray;
        return [pod.Str("metadata.name"), $"{ready}/{containers}", reason, restartText, age,
                NoneIfEmpty(pod.Str("status.podIP")), NoneIfEmpty(pod.Str("spec.nodeName")),
                NoneIfEmpty(pod.Str("status.nominatedNodeName")), gates is { Count: > 0 } ? $"0/{gates.Count}" : "<none>"];
    }

    static bool PodReady(JsonObject pod) =>
        (pod.At("status.conditions") as JsonArray)?.OfType<JsonObject>().Any(c => c.Str("type") == "Ready" && c.Str("status") == "True") == true;

    static string NoneIfEmpty(string? s) => string.IsNullOrEmpty(s) ? "<none>" : s;

    static string ExternalIp(JsonObject svc)
    {
        var external = (svc.At("spec.externalIPs") as JsonArray)?.Select(n => n.AsString()).OfType<string>().ToList() ?? [];
        switch (svc.Str("spec.type") ?? "ClusterIP")
        {
            case "LoadBalancer":
                var ingress = (svc.At("status.loadBalancer.ingress") as JsonArray)?.OfType<JsonObject>()
                    .Select(i => i.Str("ip") ?? i.Str("hostname")).OfType<string>().ToList() ?? [];
                external.AddRange(ingress);
                return external.Count > 0 ? string.Join(",", external) : "<pending>";
            case "ExternalName":
                return svc.Str("spec.externalName") ?? "<none>";
            default:
                return external.Count > 0 ? string.Join(",", external) : "<none>";
        }
    }

    static string ServicePorts(JsonObject svc)
    {
        var ports = (svc.At("spec.ports") as JsonArray)?.OfType<JsonObject>().Select(p =>
        {
            var text = p.Long("port").ToString(CultureInfo.InvariantCulture);
            if (p.Long("nodePort") != 0) text += ":" + p.Long("nodePort").ToString(CultureInfo.InvariantCulture);
            return text + "/" + (p.Str("protocol") ?? "TCP");
        }).ToList() ?? [];
        return ports.Count > 0 ? string.Join(",", ports) : "<none>";
    }

    static string Selector(JsonObject? map) =>
        map is null || map.Count == 0 ? "<none>" : string.Join(",", map.Select(kv => $"{kv.Key}={kv.Value.AsString()}"));

    static string NodeStatus(JsonObject node)
    {
        var ready = (node.At("status.conditions") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == "Ready");
        var text = ready?.Str("status") switch { "True" => "Ready", null => "Unknown", "Unknown" => "Unknown", _ => "NotReady" };
        if (ready is null) text = "Unknown";
        if (node.Str("spec.unschedulable") == "true") text += ",SchedulingDisabled";
        return text;
    }

    static string NodeRoles(JsonObject node)
    {
        var roles = node.Labels().Keys.Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal))
            .Select(k => k["node-role.kubernetes.io/".Length..]).Where(r => r.Length > 0).OrderBy(r => r, StringComparer.Ordinal).ToList();
        return roles.Count > 0 ? string.Join(",", roles) : "<none>";
    }

    static string NodeAddress(JsonObject node, string type) =>
        NoneIfEmpty((node.At("status.addresses") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(a => a.Str("type") == type)?.Str("address"));

    static string EndpointsText(JsonObject ep)
    {
        var list = new List<string>();
        foreach (var subset in (ep["subsets"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var ports = (subset["ports"] as JsonArray)?.OfType<JsonObject>().Select(p => p.Long("port")).ToList() ?? [];
            foreach (var addr in (subset["addresses"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                var ip = addr.Str("ip") ?? "";
                if (ports.Count == 0) list.Add(ip);
                else list.AddRange(ports.Select(p => $"{ip}:{p}"));
            }
        }
        return Abbreviate(list);
    }

    static string SlicePorts(JsonObject slice)
    {
        var ports = (slice["ports"] as JsonArray)?.OfType<JsonObject>().Select(p => p.Long("port").ToString(CultureInfo.InvariantCulture)).ToList() ?? [];
        return ports.Count > 0 ? string.Join(",", ports) : "<unset>";
    }

    static string SliceEndpoints(JsonObject slice)
    {
        var addresses = (slice["endpoints"] as JsonArray)?.OfType<JsonObject>()
            .SelectMany(e => (e["addresses"] as JsonArray)?.Select(a => a.AsString()).OfType<string>() ?? []).ToList() ?? [];
        return Abbreviate(addresses);
    }

    static string Abbreviate(List<string> items)
    {
        if (items.Count == 0) return "<none>";
        if (items.Count <= 3) return string.Join(",", items);
        return string.Join(",", items.Take(3)) + $" + {items.Count - 3} more...";
    }

    /// <summary>The age as the API server prints it (k8s.io/apimachinery duration.HumanDuration).</summary>
    public static string Since(string? timestamp, DateTimeOffset now)
    {
        var t = Json.ParseTime(timestamp);
        if (t is null) return "<unknown>";
        var d = now - t.Value;
        if (d < TimeSpan.FromSeconds(-1)) return "<invalid>";
        if (d < TimeSpan.Zero) return "0s";
        var seconds = (long)d.TotalSeconds;
        if (seconds < 60 * 2) return $"{seconds}s";
        var minutes = (long)d.TotalMinutes;
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? $"{minutes}m" : $"{minutes}m{s}s";
        }
        if (minutes < 60 * 3) return $"{minutes}m";
        var hours = (long)d.TotalHours;
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? $"{hours}h" : $"{hours}h{m}m";
        }
        if (hours < 48) return $"{hours}h";
        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? $"{hours / 24}d" : $"{hours / 24}d{h}h";
        }
        if (hours < 24 * 365 * 2) return $"{hours / 24}d";
        if (hours < 24 * 365 * 8)
        {
            var dy = hours / 24 % 365;
            return dy == 0 ? $"{hours / 24 / 365}y" : $"{hours / 24 / 365}y{dy}d";
        }
        return $"{hours / 24 / 365}y";
    }
}
