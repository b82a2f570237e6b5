using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Config;

/// <summary>Everything Test-LbConfig checks a configuration against.</summary>
public sealed class AnalysisInput
{
    public required ConfigDocument Document { get; init; }
    /// <summary>When false (addon disabled), problems MetalLB would only hit once deployed are warnings.</summary>
    public bool AddonEnabled { get; init; } = true;
    public ClusterFacts? Facts { get; init; }
    public Inventory? Inventory { get; init; }
    /// <summary>Addresses nobody else may take (gateway, DHCP range, other clusters' pools), with a label each.</summary>
    public IReadOnlyList<(IpRange Range, string Label)> Reserved { get; init; } = Array.Empty<(IpRange, string)>();
    public IReadOnlyList<NodeSubnet> NodeSubnets { get; init; } = Array.Empty<NodeSubnet>();
}

/// <summary>
/// MetalLB's own rules plus what MetalLB never checks: pools against the pod and service subnets, the
/// nodes, the control-plane VIP, reserved addresses and the nodes' subnet; capacity. Every comparison is
/// one sort-and-sweep over all ranges (<see cref="IpRangeOverlap"/>), never pairwise.
/// </summary>
public static class ConfigAnalyzer
{
    enum Kind { PodSubnet, ServiceSubnet, Node, ControlPlane, Reserved, Network, Broadcast, Gateway }

    sealed record Other(IpRange Range, Kind Kind, string Label, SourceLocation? Location);

    sealed record PoolRange(IpRange Range, AddressPool Pool, string Text, string Path);

    /// <summary>
    /// The input for a cluster.yaml: its addon and facts, the inventory (by default inventory.yaml beside
    /// it, when it exists), and the nodes' subnets (given, or learned when this computer is a node).
    /// </summary>
    public static AnalysisInput ForKonvoyFile(KonvoyFile file, string? inventoryPath = null,
        IReadOnlyList<(IpRange Range, string Label)>? reserved = null, IReadOnlyList<NodeSubnet>? nodeSubnets = null)
    {
        string beside = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file.Path))!, "inventory.yaml");
        var inventory = inventoryPath is not null ? Inventory.Load(inventoryPath) : File.Exists(beside) ? Inventory.Load(beside) : null;
        var doc = file.Addon?.Document ?? new ConfigDocument(null, _ => new SourceLocation(file.Path, 1, 1), new SourceLocation(file.Path, 1, 1));
        return new AnalysisInput
        {
            Document = doc,
            AddonEnabled = file.Addon?.Enabled ?? false,
            Facts = file.Facts,
            Inventory = inventory,
            Reserved = reserved ?? Array.Empty<(IpRange, string)>(),
            NodeSubnets = nodeSubnets is { Count: > 0 } ? nodeSubnets : LearnSubnets(inventory),
        };
    }

    /// <summary>The nodes' subnets from this computer's interfaces, when one of the inventory's nodes is this computer.</summary>
    public static List<NodeSubnet> LearnSubnets(Inventory? inventory) =>
        inventory is null ? new() : LocalNetwork.SubnetsHolding(inventory.Hosts.Select(h => h.IP).OfType<IPAddress>());

    public static List<Finding> Analyze(AnalysisInput input)
    {
        var doc = input.Document;
        var findings = doc.Validate()
            .Select(f => f.Code == ErrorId.EmptyPool && !input.AddonEnabled ? f with { Severity = Severity.Warning } : f)
            .ToList();
        var pools = PoolRanges(doc.Config);
        var others = new List<Other>();

        if (input.Facts is { } facts)
        {
            var pod = Subnet(facts.PodSubnet, facts.PodSubnetIsDefault, "podSubnet", Kind.PodSubnet, facts.PodSubnetLocation, facts, findings);
            var service = Subnet(facts.ServiceSubnet, facts.ServiceSubnetIsDefault, "serviceSubnet", Kind.ServiceSubnet, facts.ServiceSubnetLocation, facts, findings);
            others.AddRange(new[] { pod, service }.OfType<Other>());
            if (pod is not null && service is not null && pod.Range.Intersect(service.Range) is { } both)
                findings.Add(new Finding(Severity.Error, ErrorId.SubnetsOverlap,
                    $"podSubnet {pod.Range} and serviceSubnet {service.Range} overlap at {both}: Konvoy requires them to be disjoint",
                    "podSubnet", pod.Location ?? service.Location) { Range = pod.Range.ToString(), OtherRange = service.Range.ToString(), Overlap = both.ToString() });
        }
        var subnets = others.ToList();

        var nodes = NodeAddresses(input.Inventory, findings);
        others.AddRange(nodes);
        if (ControlPlane(input) is { } cp) others.Add(cp);
        others.AddRange(input.Reserved.Select(r => new Other(r.Range, Kind.Reserved, r.Label, null)));
        foreach (var s in input.NodeSubnets)
        {
            var r = s.Subnet;
            if (r.Family == AddressFamily.InterNetwork && r.Count >= 4)
            {
                others.Add(new Other(new IpRange(r.Family, r.First, r.First), Kind.Network, $"network address of {r}", null));
                others.Add(new Other(new IpRange(r.Family, r.Last, r.Last), Kind.Broadcast, $"broadcast address of {r}", null));
            }
            if (s.Gateway is { } g) others.Add(new Other(IpRange.Single(g), Kind.Gateway, $"gateway {g} of {r} ({s.Source})", null));
        }

        // Pools against everything else, in one sweep.
        foreach (var (p, o, overlap) in IpRangeOverlap.FindOverlaps(pools.Select(x => x.Range).ToList(), others.Select(x => x.Range).ToList()))
            findings.Add(PoolFinding(pools[p], others[o], overlap, doc));

        // The pod and service subnets against the nodes and the control-plane VIP (Konvoy's rule 2).
        var hosts = others.Where(o => o.Kind is Kind.Node or Kind.ControlPlane).ToList();
        foreach (var (s, h, overlap) in IpRangeOverlap.FindOverlaps(subnets.Select(x => x.Range).ToList(), hosts.Select(x => x.Range).ToList()))
            findings.Add(new Finding(Severity.Error, ErrorId.SubnetOverlapsNode,
                $"{Name(subnets[s].Kind)} {subnets[s].Range} contains {hosts[h].Label}: pods or services would shadow that host; choose a subnet away from the nodes",
                Name(subnets[s].Kind), subnets[s].Location) { Range = subnets[s].Range.ToString(), OtherRange = hosts[h].Range.ToString(), Overlap = overlap.ToString() });

        NodeSubnetFindings(input, pools, doc, findings);
        CapacityFindings(input, doc, findings);
        return findings;
    }

    static List<PoolRange> PoolRanges(MetalLbConfig config)
    {
        var list = new List<PoolRange>();
        var pools = config.AddressPools ?? new();
        for (int i = 0; i < pools.Count; i++)
            for (int a = 0; a < (pools[i].Addresses?.Count ?? 0); a++)
                if (IpRange.TryParse(pools[i].Addresses![a], out var r, out _))
                    list.Add(new PoolRange(r, pools[i], pools[i].Addresses![a], $"address-pools/{i}/addresses/{a}"));
        return list;
    }

    static Other? Subnet(string text, bool isDefault, string name, Kind kind, SourceLocation? at, ClusterFacts facts, List<Finding> findings)
    {
        if (isDefault)
            findings.Add(new Finding(Severity.Information, ErrorId.DefaultSubnetUsed,
                $"{name} is not set; Konvoy's default {text}{(facts.Provider is null ? "" : $" (provider {facts.Provider})")} was used for the checks",
                name, null));
        if (!IpRange.TryParse(text, out var range, out var error) || !range.IsCidr)
        {
            findings.Add(new Finding(Severity.Error, ErrorId.InvalidSubnet, $"{name} '{text}' is not a CIDR: {error ?? "it is a range"}", name, at));
            return null;
        }
        if (range.Family == AddressFamily.InterNetwork && range.PrefixLength > 24)
            findings.Add(new Finding(Severity.Error, ErrorId.SubnetTooSmall,
                $"{name} {text} is smaller than a /24, which Konvoy refuses: use a /24 or larger", name, at));
        return new Other(range, kind, $"{name} {range}", at);
    }

    static List<Other> NodeAddresses(Inventory? inventory, List<Finding> findings)
    {
        var list = new List<Other>();
        foreach (var h in inventory?.Hosts ?? Array.Empty<InventoryHost>())
        {
            if (h.IP is { } ip) list.Add(new Other(IpRange.Single(ip), Kind.Node, $"node {h.Address} ({h.Group})", h.Location));
            else findings.Add(new Finding(Severity.Warning, ErrorId.InventoryHostNotAddress,
                $"host '{h.Address}' is not an IP address; Konvoy keys hosts by their private IP, so it was not checked", $"node {h.Address}", h.Location));
            if (h.AnsibleHost is { } ssh && IPAddress.TryParse(ssh, out var sshIp) && !sshIp.Equals(h.IP))
                list.Add(new Other(IpRange.Single(sshIp), Kind.Node, $"SSH address {ssh} of node {h.Address}", h.Location));
        }
        return list;
    }

    static Other? ControlPlane(AnalysisInput input)
    {
        // controlPlaneEndpointOverride in cluster.yaml wins over the inventory's control_plane_endpoint.
        var (endpoint, at, source) = input.Facts?.ControlPlaneEndpoint is { } e
            ? (e, input.Facts.ControlPlaneEndpointLocation, "controlPlaneEndpointOverride")
            : (input.Inventory?.ControlPlaneEndpoint, input.Inventory?.ControlPlaneEndpointLocation, "control_plane_endpoint");
        if (endpoint is null) return null;
        int close = endpoint.IndexOf(']');
        string host = endpoint.StartsWith('[') ? (close > 0 ? endpoint[1..close] : "") : endpoint.Count(c => c == ':') == 1 ? endpoint.Split(':')[0] : endpoint;
        return IPAddress.TryParse(host, out var ip) ? new Other(IpRange.Single(ip), Kind.ControlPlane, $"control-plane endpoint {host} ({source})", at) : null;
    }

    static Finding PoolFinding(PoolRange pool, Other other, IpRange overlap, ConfigDocument doc)
    {
        var (severity, code, advice) = other.Kind switch
        {
            Kind.PodSubnet => (Severity.Error, ErrorId.PoolOverlapsPodSubnet, "service IPs would collide with pod IPs: move the pool out of podSubnet"),
            Kind.ServiceSubnet => (Severity.Error, ErrorId.PoolOverlapsServiceSubnet, "LoadBalancer IPs would collide with cluster IPs: move the pool out of serviceSubnet"),
            Kind.Node => (Severity.Error, ErrorId.PoolContainsNodeAddress, "MetalLB would hand out a node's own address and cut it off: remove it from the pool"),
            Kind.ControlPlane => (Severity.Error, ErrorId.PoolContainsControlPlaneEndpoint, "the API server's VIP would be given to a service: remove it from the pool"),
            Kind.Reserved => (Severity.Error, ErrorId.PoolOverlapsReserved, "these addresses are reserved for something else: remove them from the pool"),
            Kind.Gateway => (Severity.Error, ErrorId.PoolContainsGateway, "a service taking the gateway's address cuts the subnet off: remove it from the pool"),
            Kind.Network => (Severity.Warning, ErrorId.PoolContainsNetworkAddress, "many clients cannot reach a subnet's network address: remove it or set avoid-buggy-ips"),
            _ => (Severity.Warning, ErrorId.PoolContainsBroadcastAddress, "clients treat the broadcast address specially: remove it or set avoid-buggy-ips"),
        };
        // avoid-buggy-ips already keeps .0 and .255 out of the allocator.
        if (other.Kind is Kind.Network or Kind.Broadcast && pool.Pool.AvoidBuggyIps == true && overlap.Count == 1
            && (byte)(overlap.First & 0xFF) is 0 or 0xFF)
            severity = Severity.Information;
        return new Finding(severity, code, $"'{pool.Text}' overlaps {other.Label} at {overlap}: {advice}", $"pool {pool.Pool.Name}",
            doc.LocatePath(pool.Path))
        { Range = pool.Range.ToString(), OtherRange = other.Range.ToString(), Overlap = overlap.ToString() };
    }

    static void NodeSubnetFindings(AnalysisInput input, List<PoolRange> pools, ConfigDocument doc, List<Finding> findings)
    {
        if (pools.Count == 0) return;
        if (input.NodeSubnets.Count == 0)
        {
            findings.Add(new Finding(Severity.Information, ErrorId.NodeSubnetUnknown,
                "the nodes' subnet is unknown, so layer2 reachability was not checked: give -NodeSubnet (e.g. 192.168.25.0/24), or run on a node",
                null, null));
            return;
        }
        var subnets = Merge(input.NodeSubnets.Select(s => s.Subnet));
        // A family without any known node subnet is unknown, not outside.
        foreach (var family in pools.Where(p => p.Pool.Protocol == "layer2").Select(p => p.Range.Family).Distinct()
                     .Where(f => !subnets.Any(s => s.Family == f)))
        {
            string name = family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
            findings.Add(new Finding(Severity.Information, ErrorId.NodeSubnetUnknown,
                $"the nodes' {name} subnet is unknown, so layer2 reachability of the {name} pool addresses was not checked: give -NodeSubnet with the nodes' {name} subnet",
                null, null));
        }
        var covered = new UInt128[pools.Count];
        foreach (var (p, _, overlap) in IpRangeOverlap.FindOverlaps(pools.Select(x => x.Range).ToList(), subnets))
            covered[p] += overlap.Count;
        for (int i = 0; i < pools.Count; i++)
        {
            if (covered[i] == pools[i].Range.Count || pools[i].Pool.Protocol != "layer2" || !subnets.Any(s => s.Family == pools[i].Range.Family)) continue;
            findings.Add(new Finding(Severity.Warning, ErrorId.PoolOutsideNodeSubnet,
                $"'{pools[i].Text}' is {(covered[i] == 0 ? "" : "partly ")}outside the nodes' subnet ({string.Join(", ", subnets)}): " +
                "layer2 answers ARP/NDP only on the nodes' link, so these addresses need a route to the nodes, or use BGP",
                $"pool {pools[i].Pool.Name}", doc.LocatePath(pools[i].Path)) { Range = pools[i].Range.ToString(), OtherRange = string.Join(", ", subnets) });
        }
    }

    /// <summary>Sorted, disjoint union of ranges (adjacent ones joined).</summary>
    public static List<IpRange> Merge(IEnumerable<IpRange> ranges)
    {
        var merged = new List<IpRange>();
        foreach (var r in ranges.OrderBy(r => r.Family).ThenBy(r => r.First))
        {
            // A range ending at the top of the address space (::/0) swallows every later one of its family.
            if (merged.Count > 0 && merged[^1].Family == r.Family && (merged[^1].Last == UInt128.MaxValue || r.First <= merged[^1].Last + 1))
            {
                if (r.Last > merged[^1].Last) merged[^1] = new IpRange(r.Family, merged[^1].First, r.Last);
            }
            else merged.Add(r);
        }
        return merged;
    }

    static void CapacityFindings(AnalysisInput input, ConfigDocument doc, List<Finding> findings)
    {
        var pools = doc.Config.AddressPools ?? new();
        if (pools.Count == 0)
        {
            if (input.AddonEnabled)
                findings.Add(new Finding(Severity.Warning, ErrorId.NoPools,
                    "the addon is enabled but has no address pools: no LoadBalancer service can get an address; add one with Set-LbAddressPool",
                    null, doc.LocatePath("address-pools")));
            return;
        }
        UInt128 total = 0, auto = 0;
        for (int i = 0; i < pools.Count; i++)
        {
            UInt128 count = 0;
            foreach (var a in pools[i].Addresses ?? new())
                if (IpRange.TryParse(a, out var r, out _)) count = Saturating(count, r.CountUsable(pools[i].AvoidBuggyIps == true));
            total = Saturating(total, count);
            if (pools[i].AutoAssign != false) auto = Saturating(auto, count);
            findings.Add(new Finding(Severity.Information, ErrorId.PoolCapacity,
                $"{count} usable address{(count == 1 ? "" : "es")}{(pools[i].AvoidBuggyIps == true ? " (avoid-buggy-ips skips .0 and .255)" : "")}" +
                (pools[i].AutoAssign == false ? "; auto-assign is off, so only services that ask for this pool get one" : ""),
                $"pool {pools[i].Name}", doc.LocatePath($"address-pools/{i}")));
        }
        findings.Add(new Finding(Severity.Information, ErrorId.TotalCapacity,
            $"{total} LoadBalancer service address{(total == 1 ? "" : "es")} in all pools, {auto} of them handed out automatically", null, null));
    }

    static UInt128 Saturating(UInt128 a, UInt128 b) => UInt128.MaxValue - a < b ? UInt128.MaxValue : a + b;

    static string Name(Kind k) => k == Kind.PodSubnet ? "podSubnet" : "serviceSubnet";
}
