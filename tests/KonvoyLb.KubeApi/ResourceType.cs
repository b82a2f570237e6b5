namespace KonvoyLb.KubeApi;

/// <summary>One kind of object the fake serves, with what discovery says about it.</summary>
internal sealed record ResourceType(
    string Group,
    string Version,
    string Plural,
    string Singular,
    string Kind,
    bool Namespaced,
    string[] ShortNames,
    bool HasStatus,
    bool ReturnsDeletedObject,
    bool CanDeleteCollection,
    string[] FieldSelectors,
    string[] Categories)
{
    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string ListKind => Kind + "List";

    public IReadOnlyList<string> Verbs => CanDeleteCollection
        ? ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        : ["create", "delete", "get", "list", "patch", "update", "watch"];

    /// <summary>Whether the resource has a /scale subresource (autoscaling/v1 Scale).</summary>
    public bool HasScale => Kind == "Deployment";

    /// <summary>Whether updates through the main resource ignore <c>status</c> (and the status subresource ignores the rest).</summary>
    public bool StatusIsSubresource => HasStatus;

    public override string ToString() => $"{Status.Qualified(Group, Plural)}/{Version}";
}

/// <summary>The resources of the fake cluster, in the order discovery lists them.</summary>
internal static class Catalog
{
    static readonly string[] None = [];

    public static readonly ResourceType Pods = new("", "v1", "pods", "pod", "Pod", true, ["po"], true, true, true,
        ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
         "status.phase", "status.podIP", "status.nominatedNodeName"], ["all"]);
    public static readonly ResourceType Services = new("", "v1", "services", "service", "Service", true, ["svc"], true, true, true, None, ["all"]);
    public static readonly ResourceType Endpoints = new("", "v1", "endpoints", "endpoints", "Endpoints", true, ["ep"], false, false, true, None, None);
    public static readonly ResourceType ConfigMaps = new("", "v1", "configmaps", "configmap", "ConfigMap", true, ["cm"], false, false, true, None, None);
    public static readonly ResourceType Events = new("", "v1", "events", "event", "Event", true, ["ev"], false, false, true,
        ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
         "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
         "reason", "reportingComponent", "source", "type"], None);
    public static readonly ResourceType Nodes = new("", "v1", "nodes", "node", "Node", false, ["no"], true, false, true, ["spec.unschedulable"], None);
    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "namespace", "Namespace", false, ["ns"], true, false, false, ["status.phase"], None);
    public static readonly ResourceType Deployments = new("apps", "v1", "deployments", "deployment", "Deployment", true, ["deploy"], true, false, true, None, ["all"]);
    public static readonly ResourceType Leases = new("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, None, false, false, true, None, None);
    public static readonly ResourceType EndpointSlices = new("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, None, false, false, true, None, None);

    public static readonly IReadOnlyList<ResourceType> All =
        [ConfigMaps, Endpoints, Events, Namespaces, Nodes, Pods, Services, Deployments, Leases, EndpointSlices];

    /// <summary>The API groups besides the core one, in discovery order.</summary>
    public static readonly IReadOnlyList<string> Groups = ["apps", "coordination.k8s.io", "discovery.k8s.io"];

    public static IEnumerable<ResourceType> In(string group, string version) =>
        All.Where(r => r.Group == group && r.Version == version);

    public static ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(r => r.Group == group && r.Version == version && r.Plural == plural);

    /// <summary>Finds a resource by <c>apiVersion</c> ("v1", "apps/v1") and plural, singular, kind or short name.</summary>
    public static ResourceType Resolve(string apiVersion, string resource)
    {
        var slash = apiVersion.IndexOf('/');
        var group = slash < 0 ? "" : apiVersion[..slash];
        var version = slash < 0 ? apiVersion : apiVersion[(slash + 1)..];
        return All.FirstOrDefault(r => r.Group == group && r.Version == version &&
                   (r.Plural.Equals(resource, StringComparison.OrdinalIgnoreCase) ||
                    r.Singular.Equals(resource, StringComparison.OrdinalIgnoreCase) ||
                    r.Kind.Equals(resource, StringComparison.OrdinalIgnoreCase) ||
                    r.ShortNames.Contains(resource, StringComparer.OrdinalIgnoreCase)))
            ?? throw new ArgumentException($"the fake serves no resource \"{resource}\" in {apiVersion}", nameof(resource));
    }
}
