using System.Net;
using System.Net.Sockets;
using k8s.Models;

namespace KonvoyLb.Engine.Runtime.Controller;

/// <summary>One (protocol, port) pair a Service listens on: two Services may share an address only when theirs differ.</summary>
public readonly record struct ServicePort(string Protocol, int Port)
{
    public override string ToString() => $"{Protocol}/{Port}";
}

/// <summary>
/// What a Service asks of the allocator, read from its spec, annotations and status (pure; no API calls).
/// A Service that is not the controller's business has <see cref="Ignored"/> set; one whose request cannot be read
/// has <see cref="Problem"/> set (its current addresses are kept, the problem goes out as an Event).
/// </summary>
public sealed record ServiceRequest
{
    public required string Key { get; init; }
    public string Namespace { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>Why the controller leaves this Service alone (not a LoadBalancer, another loadBalancerClass, no cluster IP), or null.</summary>
    public string? Ignored { get; init; }
    /// <summary>A request that cannot be honoured as written (a malformed annotation, both IP fields set), or null.</summary>
    public string? Problem { get; init; }
    /// <summary>The address families the Service wants, primary first.</summary>
    public IReadOnlyList<AddressFamily> Families { get; init; } = [];
    /// <summary>Addresses asked for by spec.loadBalancerIP or the loadBalancerIPs annotation (at most one per family).</summary>
    public IReadOnlyList<IPAddress> RequestedIps { get; init; } = [];
    /// <summary>The address-pool annotation, or null.</summary>
    public string? RequestedPool { get; init; }
    /// <summary>The allow-shared-ip annotation; empty when the Service does not share.</summary>
    public string SharingKey { get; init; } = "";
    /// <summary>For externalTrafficPolicy Local, the selector (services sharing an address must have the same); else empty.</summary>
    public string BackendKey { get; init; } = "";
    public IReadOnlyList<ServicePort> Ports { get; init; } = [];
    /// <summary>The addresses in status.loadBalancer.ingress (what the Service holds now).</summary>
    public IReadOnlyList<IPAddress> CurrentIps { get; init; } = [];
    public DateTime? Created { get; init; }

    /// <summary>The metallb annotations are read under both spellings; the newer prefix wins when both are set alike.</summary>
    public static readonly string[] AnnotationPrefixes = ["metallb.universe.tf/", "metallb.io/"];

    /// <summary>The loadBalancerClass MetalLB answers to besides none at all.</summary>
    public const string OwnClass = "metallb.io/metallb";

    /// <summary>Whether a Service of this loadBalancerClass is MetalLB's (no class, or MetalLB's own).</summary>
    public static bool IsOwnClass(string? loadBalancerClass) => loadBalancerClass is null or "" or OwnClass;

    public static string KeyOf(V1Service s) => $"{s.Metadata?.NamespaceProperty}/{s.Metadata?.Name}";

    public static ServiceRequest From(V1Service s)
    {
        var key = KeyOf(s);
        var spec = s.Spec;
        var baseline = new ServiceRequest
        {
            Key = key, Namespace = s.Metadata?.NamespaceProperty ?? "", Name = s.Metadata?.Name ?? "",
            CurrentIps = Ingress(s), Created = s.Metadata?.CreationTimestamp,
        };
        if (spec?.Type != "LoadBalancer") return baseline with { Ignored = $"type {spec?.Type ?? "ClusterIP"}, not LoadBalancer" };
        if (!IsOwnClass(spec.LoadBalancerClass)) return baseline with { Ignored = $"loadBalancerClass {spec.LoadBalancerClass} is another controller's" };
        var clusterIps = (spec.ClusterIPs is { Count: > 0 } list ? list : [spec.ClusterIP]).Where(ip => !string.IsNullOrEmpty(ip) && ip != "None").ToList();
        if (clusterIps.Count == 0) return baseline with { Ignored = "no cluster IP yet" };

        var families = FamiliesOf(spec, clusterIps);
        var annotations = s.Metadata?.Annotations ?? new Dictionary<string, string>();
        var ports = (spec.Ports ?? []).Select(p => new ServicePort(string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol, p.Port)).Distinct().ToList();
        var local = spec.ExternalTrafficPolicy == "Local";
        var sharing = Annotation(annotations, "allow-shared-ip", out var shareProblem);
        var pool = Annotation(annotations, "address-pool", out var poolProblem);
        var request = baseline with
        {
            Families = families,
            Ports = ports,
            SharingKey = sharing ?? "",
            BackendKey = local ? string.Join(",", (spec.Selector ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")) : "",
            RequestedPool = pool,
        };
        if ((poolProblem ?? shareProblem) is { } problem) return request with { Problem = problem };

        var listed = Annotation(annotations, "loadBalancerIPs", out var ipsProblem);
        if (ipsProblem is not null) return request with { Problem = ipsProblem };
        if (!string.IsNullOrEmpty(listed) && !string.IsNullOrEmpty(spec.LoadBalancerIP))
            return request with { Problem = $"both spec.loadBalancerIP ({spec.LoadBalancerIP}) and the loadBalancerIPs annotation ({listed}) are set; keep one" };
        var (text, what) = !string.IsNullOrEmpty(listed) ? (listed, "the loadBalancerIPs annotation") : (spec.LoadBalancerIP, "spec.loadBalancerIP");
        if (string.IsNullOrEmpty(text)) return request;
        var ips = new List<IPAddress>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!Net.IpRange.TryParseAddress(part, out var ip))
                return request with { Problem = $"{what} holds \"{part}\", which is not an IP address (write e.g. 192.0.2.10, or 192.0.2.10,2001:db8::10 for both families)" };
            ips.Add(Normal(ip));
        }
        if (ips.GroupBy(i => i.AddressFamily).Any(g => g.Count() > 1))
            return request with { Problem = $"{what} \"{text}\" names two addresses of one family; at most one IPv4 and one IPv6 address may be requested" };
        var wanted = ips.Select(i => i.AddressFamily).ToHashSet();
        if (!wanted.SetEquals(families))
            return request with { Problem = $"{what} \"{text}\" does not match the service's IP families ({FamilyText(families)})" };
        return request with { RequestedIps = ips };
    }

    /// <summary>The annotation under either prefix; the two spellings set to different values are a problem.</summary>
    static string? Annotation(IDictionary<string, string> annotations, string name, out string? problem)
    {
        problem = null;
        string? found = null, foundKey = null;
        foreach (var prefix in AnnotationPrefixes)
        {
            if (!annotations.TryGetValue(prefix + name, out var value)) continue;
            value = value.Trim();
            if (found is not null && found != value)
            {
                problem = $"annotations {foundKey} ({found}) and {prefix + name} ({value}) disagree; keep one";
                return null;
            }
            found = value;
            foundKey = prefix + name;
        }
        return string.IsNullOrEmpty(found) ? null : found;
    }

    static List<AddressFamily> FamiliesOf(V1ServiceSpec spec, List<string> clusterIps)
    {
        var fromSpec = (spec.IpFamilies ?? []).Select(f => f switch { "IPv4" => AddressFamily.InterNetwork, "IPv6" => AddressFamily.InterNetworkV6, _ => AddressFamily.Unknown })
            .Where(f => f != AddressFamily.Unknown).Distinct().ToList();
        if (fromSpec.Count > 0) return fromSpec;
        return clusterIps.Select(ip => IPAddress.TryParse(ip, out var a) ? a.AddressFamily : AddressFamily.Unknown)
            .Where(f => f != AddressFamily.Unknown).Distinct().ToList();
    }

    static IReadOnlyList<IPAddress> Ingress(V1Service s) =>
        (s.Status?.LoadBalancer?.Ingress ?? []).Select(i => IPAddress.TryParse(i.Ip, out var a) ? Normal(a) : null)
            .Where(a => a is not null).Select(a => a!).Distinct().ToList();

    /// <summary>IPv4-mapped IPv6 addresses are IPv4 addresses.</summary>
    public static IPAddress Normal(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    public static string FamilyText(IReadOnlyCollection<AddressFamily> families) =>
        families.Count == 0 ? "none" : string.Join(" and ", families.Select(f => f == AddressFamily.InterNetwork ? "IPv4" : "IPv6"));
}
