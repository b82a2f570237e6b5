using System.Net;
using k8s;
using k8s.Models;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Config.Yaml;
using KonvoyLb.Engine.Net;
using KonvoyLb.Engine.Runtime.Controller;

namespace KonvoyLb.Engine.Kube;

/// <summary>A Service of type LoadBalancer as MetalLB sees it.</summary>
public sealed class LbService
{
    public string Namespace { get; init; } = "";
    public string Name { get; init; } = "";
    public IReadOnlyList<string> IPs { get; init; } = Array.Empty<string>();
    public IReadOnlyList<string> RequestedIPs { get; init; } = Array.Empty<string>();
    /// <summary>The pool of each assigned IP ("?" when no pool of the live configuration holds it).</summary>
    public IReadOnlyList<string> Pools { get; init; } = Array.Empty<string>();
    public string? RequestedPool { get; init; }
    public string? SharingKey { get; init; }
    public string? LoadBalancerClass { get; init; }
    public IReadOnlyDictionary<string, string> MetalLbAnnotations { get; init; } = new Dictionary<string, string>();
    public bool Pending => IPs.Count == 0;
    /// <summary>For a pending service: the message of its latest AllocationFailed event.</summary>
    public string? PendingReason { get; init; }
    /// <summary>The node announcing it, from the speaker's latest nodeAssigned event.</summary>
    public string? AnnouncingNode { get; init; }
    /// <summary>layer2 or bgp, from the same event (null for a speaker that does not say).</summary>
    public string? Protocol { get; init; }
    /// <summary>
    /// layer2: the announcing node. bgp: every node whose latest nodeAssigned event for the service says bgp (each node
    /// announces its own routes), by name.
    /// </summary>
    public IReadOnlyList<string> AnnouncingNodes { get; init; } = Array.Empty<string>();
}

/// <summary>The live MetalLB configuration: the ConfigMap the chart renders.</summary>
public sealed record LiveConfig(string Namespace, string Name, MetalLbConfig Config);

/// <summary>Reads LoadBalancer services, their events and the live MetalLB configuration.</summary>
public static class LbServices
{
    static readonly string[] Prefixes = ServiceRequest.AnnotationPrefixes;

    /// <param name="withEvents">Also read AllocationFailed and nodeAssigned events (pending reasons, announcing nodes).</param>
    public static async Task<List<LbService>> ListAsync(KubeConnection kube, string? ns, LiveConfig? live, CancellationToken cancel, bool withEvents = true)
    {
        V1ServiceList services;
        Corev1EventList failures = new() { Items = new List<Corev1Event>() }, assignments = new() { Items = new List<Corev1Event>() };
        try
        {
            services = ns is null
                ? await kube.Client.CoreV1.ListServiceForAllNamespacesAsync(cancellationToken: cancel).ConfigureAwait(false)
                : await kube.Client.CoreV1.ListNamespacedServiceAsync(ns, cancellationToken: cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException) { throw KubeClientFactory.Explain(e, kube, "list", "services", ns); }
        if (withEvents) try
        {
            failures = await Events(kube, ns, "reason=AllocationFailed", cancel).ConfigureAwait(false);
            assignments = await Events(kube, ns, "reason=nodeAssigned", cancel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException) { throw KubeClientFactory.Explain(e, kube, "list", "events", ns); }

        var pools = PoolRanges(live?.Config);
        // A service that names another load-balancer class is not MetalLB's.
        return services.Items.Where(s => s.Spec?.Type == "LoadBalancer" && ServiceRequest.IsOwnClass(s.Spec.LoadBalancerClass)).Select(s =>
        {
            var annotations = s.Metadata.Annotations ?? new Dictionary<string, string>();
            string? Annotation(string key) => Prefixes.Select(p => annotations.TryGetValue(p + key, out var v) ? v : null).FirstOrDefault(v => v is not null);
            var ips = s.Status?.LoadBalancer?.Ingress?.Select(i => i.Ip).Where(ip => !string.IsNullOrEmpty(ip)).ToList() ?? new List<string>();
            var requested = new List<string>();
            if (!string.IsNullOrEmpty(s.Spec!.LoadBalancerIP)) requested.Add(s.Spec.LoadBalancerIP);
            if (Annotation("loadBalancerIPs") is { } list) requested.AddRange(list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            (string? Node, string? Protocol) announced = ips.Count == 0 || Latest(assignments, s) is not { } latest ? (null, null) : Announcement(latest.Message);
            return new LbService
            {
                Namespace = s.Metadata.NamespaceProperty, Name = s.Metadata.Name, IPs = ips, RequestedIPs = requested,
                Pools = ips.Select(ip => PoolOf(ip, pools) ?? "?").ToList(),
                RequestedPool = Annotation("address-pool"), SharingKey = Annotation("allow-shared-ip"),
                LoadBalancerClass = s.Spec.LoadBalancerClass,
                MetalLbAnnotations = annotations.Where(a => Prefixes.Any(p => a.Key.StartsWith(p, StringComparison.Ordinal))).ToDictionary(a => a.Key, a => a.Value),
                PendingReason = ips.Count == 0 ? Latest(failures, s)?.Message : null,
                AnnouncingNode = announced.Node,
                Protocol = announced.Protocol,
                AnnouncingNodes = announced.Protocol == "bgp"
                    ? Matching(assignments, s).GroupBy(e => Announcement(e.Message).Node)
                        .Select(g => Announcement(g.OrderBy(When).ThenBy(Stored).Last().Message)).Where(a => a.Protocol == "bgp" && a.Node is not null)
                        .Select(a => a.Node!).Order(StringComparer.Ordinal).ToList()
                    : announced.Node is { } node ? [node] : [],
            };
        }).OrderBy(s => s.Namespace).ThenBy(s => s.Name).ToList();
    }

    static Task<Corev1EventList> Events(KubeConnection kube, string? ns, string field, CancellationToken cancel) => ns is null
        ? kube.Client.CoreV1.ListEventForAllNamespacesAsync(fieldSelector: field + ",involvedObject.kind=Service", cancellationToken: cancel)
        : kube.Client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: field + ",involvedObject.kind=Service", cancellationToken: cancel);

    static IEnumerable<Corev1Event> Matching(Corev1EventList events, V1Service s) => events.Items
        .Where(e => e.InvolvedObject?.Name == s.Metadata.Name && e.InvolvedObject?.NamespaceProperty == s.Metadata.NamespaceProperty
                    && (e.InvolvedObject.Uid is null || e.InvolvedObject.Uid == s.Metadata.Uid));

    static DateTime? When(Corev1Event e) => e.LastTimestamp ?? e.EventTime ?? e.Metadata.CreationTimestamp;

    // Timestamps have whole seconds: two Events of the same second (an address taken over and given back at once) are
    // ordered by their resourceVersion, which the API server gives in the order it stored them.
    static long Stored(Corev1Event e) => long.TryParse(e.Metadata?.ResourceVersion, out var rv) ? rv : 0;

    static Corev1Event? Latest(Corev1EventList events, V1Service s) => Matching(events, s).OrderBy(When).ThenBy(Stored).LastOrDefault();

    /// <summary>
    /// The node and protocol of a nodeAssigned message: 'announcing from node "NAME" with protocol "layer2"' (MetalLB
    /// 0.10+ and KonvoyLb), 'announcing from node "NAME"' (0.9), or the node name alone (older speakers).
    /// </summary>
    public static (string? Node, string? Protocol) Announcement(string? message)
    {
        if (message is null) return (null, null);
        var quoted = System.Text.RegularExpressions.Regex.Matches(message, "\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
        return quoted.Count switch
        {
            0 => (message.Trim(), null),
            1 => (quoted[0], null),
            _ => (quoted[0], quoted[1]),
        };
    }

    public static List<(string Pool, IpRange Range)> PoolRanges(MetalLbConfig? config) =>
        (config?.AddressPools ?? new()).SelectMany(p => (p.Addresses ?? new())
            .Select(a => IpRange.TryParse(a, out var r, out _) ? (p.Name, r) : (p.Name, (IpRange?)null))
            .Where(x => x.Item2 is not null).Select(x => (x.Name, x.Item2!.Value))).ToList();

    public static string? PoolOf(string ip, List<(string Pool, IpRange Range)> pools) =>
        IPAddress.TryParse(ip, out var a) ? pools.FirstOrDefault(p => p.Range.Contains(a)).Pool : null;

    /// <summary>
    /// MetalLB's configuration in a ConfigMap (data.config holding address-pools or peers), with every place in it
    /// named "configmap/NS/NAME:line:column"; null when the map holds none. A data.config that is not YAML is not a
    /// configuration either, but <paramref name="notYaml"/> says why (for a ConfigMap named on purpose).
    /// </summary>
    public static ConfigDocument? ReadConfigMap(V1ConfigMap map, out string? notYaml)
    {
        notYaml = null;
        if (map.Data is null || !map.Data.TryGetValue("config", out var text)) return null;
        YNode? root;
        try { root = YamlTree.ParseSingle(text); }
        catch (YamlDotNet.Core.YamlException e) { notYaml = $"data.config is not YAML: {e.Message}"; return null; }
        if (root is not YMap m || (m["address-pools"] is null && m["peers"] is null)) return null;
        var location = new SourceLocation($"configmap/{map.Metadata.NamespaceProperty}/{map.Metadata.Name}", 1, 1);
        return new ConfigDocument(root, n => location with { Line = n.Line, Column = n.Column }, location);
    }

    /// <summary>
    /// The ConfigMap holding MetalLB's configuration: the one named, else the one in the namespace whose
    /// data.config holds address-pools (the metallb chart renders it; its name depends on the release).
    /// </summary>
    public static async Task<LiveConfig> FindConfigAsync(KubeConnection kube, string ns, string? name, CancellationToken cancel)
    {
        V1ConfigMapList maps;
        try
        {
            maps = name is null
                ? await kube.Client.CoreV1.ListNamespacedConfigMapAsync(ns, cancellationToken: cancel).ConfigureAwait(false)
                : new V1ConfigMapList { Items = new List<V1ConfigMap> { await kube.Client.CoreV1.ReadNamespacedConfigMapAsync(name, ns, cancellationToken: cancel).ConfigureAwait(false) } };
        }
        catch (k8s.Autorest.HttpOperationException e) when (name is not null && e.Response.StatusCode == HttpStatusCode.NotFound && !e.Response.Content.Contains("namespaces"))
        {
            throw new LbException(ErrorId.MetalLbConfigMapNotFound, $"there is no ConfigMap '{name}' in namespace '{ns}'.", name,
                fix: "Leave out -ConfigMapName to find it by its content.", inner: e);
        }
        catch (Exception e) when (e is not OperationCanceledException) { throw KubeClientFactory.Explain(e, kube, name is null ? "list" : "get", "configmaps", ns); }

        foreach (var map in maps.Items)
            if (ReadConfigMap(map, out _) is { } doc) return new LiveConfig(ns, map.Metadata.Name, doc.Config);
        throw new LbException(ErrorId.MetalLbConfigMapNotFound, name is null ? $"no ConfigMap in namespace '{ns}' holds a MetalLB configuration (data.config with address-pools)."
                         : $"ConfigMap '{name}' in namespace '{ns}' holds no MetalLB configuration under data.config.", name ?? ns,
            fix: "Konvoy deploys MetalLB into kubeaddons; plain MetalLB into metallb-system (ConfigMap 'config'): pass the namespace (-Namespace of Test-LbConfigChange, -MetalLbNamespace of Get-LbService) or -ConfigMapName.");
    }
}

/// <summary>One difference between the live MetalLB configuration and the one in cluster.yaml.</summary>
public sealed record ConfigChange(string Kind, string Name, string Detail)
{
    public const string PoolAdded = nameof(PoolAdded), PoolRemoved = nameof(PoolRemoved), PoolChanged = nameof(PoolChanged), ServiceBreaks = nameof(ServiceBreaks);
}

/// <summary>
/// Predicts what applying a new configuration does: pools added, removed and changed, and every
/// Service whose IP would fall outside the new pools — the case in which MetalLB 0.9–0.12 refuses the
/// new configuration and keeps running the old one ("config stale").
/// </summary>
public static class ConfigChangePrediction
{
    public static List<ConfigChange> Compare(MetalLbConfig live, MetalLbConfig proposed, IEnumerable<LbService> services)
    {
        var changes = new List<ConfigChange>();
        // The first pool of a name wins, as in MetalLB (a duplicate name is refused by Test-LbConfig anyway).
        var before = (live.AddressPools ?? new()).GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.First());
        var after = (proposed.AddressPools ?? new()).GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.First());
        foreach (var p in after.Values.Where(p => !before.ContainsKey(p.Name)))
            changes.Add(new(ConfigChange.PoolAdded, p.Name, $"{p.Protocol}: {string.Join(", ", p.Addresses ?? new())}"));
        foreach (var p in before.Values.Where(p => !after.ContainsKey(p.Name)))
            changes.Add(new(ConfigChange.PoolRemoved, p.Name, $"{p.Protocol}: {string.Join(", ", p.Addresses ?? new())}"));
        foreach (var (name, old) in before)
        {
            if (!after.TryGetValue(name, out var now)) continue;
            var diffs = new List<string>();
            if (old.Protocol != now.Protocol) diffs.Add($"protocol {old.Protocol} -> {now.Protocol}");
            var removed = (old.Addresses ?? new()).Except(now.Addresses ?? new()).ToList();
            var added = (now.Addresses ?? new()).Except(old.Addresses ?? new()).ToList();
            if (added.Count > 0) diffs.Add("+" + string.Join(" +", added));
            if (removed.Count > 0) diffs.Add("-" + string.Join(" -", removed));
            if ((old.AutoAssign ?? true) != (now.AutoAssign ?? true)) diffs.Add($"auto-assign {now.AutoAssign ?? true}");
            if ((old.AvoidBuggyIps ?? false) != (now.AvoidBuggyIps ?? false)) diffs.Add($"avoid-buggy-ips {now.AvoidBuggyIps ?? false}");
            if (Advertisements(old) != Advertisements(now)) diffs.Add("BGP advertisements changed");
            if (diffs.Count > 0) changes.Add(new(ConfigChange.PoolChanged, name, string.Join("; ", diffs)));
        }
        static string Advertisements(AddressPool p) => string.Join(";", (p.BgpAdvertisements ?? new()).Select(a => a.ToString()));
        // The controller's own rule (Allocator.Incompatible): load what each service holds, then ask the new pools.
        var allocator = new Allocator(PoolSet.From(live));
        var next = PoolSet.From(proposed);
        var breaks = new List<(string Service, string Ips, string Reason)>();
        foreach (var s in services)
        {
            var ips = s.IPs.Select(ip => IPAddress.TryParse(ip, out var a) ? ServiceRequest.Normal(a) : null).Where(a => a is not null).Select(a => a!).ToList();
            if (ips.Count == 0) continue;
            var request = new ServiceRequest { Key = $"{s.Namespace}/{s.Name}", SharingKey = s.SharingKey ?? "" };
            if (!allocator.Assign(request, ips).Ok && next.PoolOf(ips) is null)
                breaks.Add((request.Key, string.Join(", ", ips), $"no pool of the new configuration holds {string.Join(", ", ips)}"));
        }
        breaks.AddRange(allocator.Incompatible(next).Select(b => (b.Service, b.Allocation.ToString(), b.Reason)));
        foreach (var (service, ips, reason) in breaks.OrderBy(b => b.Service, StringComparer.Ordinal))
            changes.Add(new(ConfigChange.ServiceBreaks, service,
                $"holds {ips}, and {reason}: MetalLB would refuse the whole new configuration and keep the old one"));
        return changes;
    }
}
