using System.Net;
using System.Net.Sockets;

namespace KonvoyLb.Engine.Runtime.Controller;

/// <summary>The addresses one Service holds and the pool they come from.</summary>
public sealed record Allocation(string Pool, IReadOnlyList<IPAddress> Ips)
{
    public override string ToString() => string.Join(",", Ips);
}

/// <summary>The outcome of one allocator call: the allocation, or why there is none (in words, naming any holder).</summary>
public readonly record struct AllocatorResult(Allocation? Allocation, string? Error)
{
    public bool Ok => Allocation is not null;
    public static AllocatorResult Fail(string error) => new(null, error);
}

/// <summary>
/// MetalLB's allocator (0.9–0.12 semantics), pure and single-threaded: which Service holds which address, and the
/// decisions about new ones. Two Services share an address only when both carry the same non-empty sharing key, their
/// backend keys (the selector, for externalTrafficPolicy Local) are equal and no (protocol, port) pair collides. New
/// addresses are the lowest free (or compatibly shared) one, pool by pool in config order, range by range in config
/// order. Finding it is amortised O(1): each range keeps a cursor below which every address is taken.
/// </summary>
public sealed class Allocator
{
    sealed class IpUse
    {
        public readonly HashSet<string> Services = new(StringComparer.Ordinal);
        public readonly Dictionary<ServicePort, string> Ports = new();
        public string SharingKey = "", BackendKey = "";
    }

    sealed record Held(Allocation Allocation, IReadOnlyList<ServicePort> Ports, string SharingKey, string BackendKey);

    readonly Dictionary<string, Held> _byService = new(StringComparer.Ordinal);
    readonly Dictionary<IpKey, IpUse> _byIp = new();
    readonly Dictionary<string, SortedSet<IpKey>> _bySharingKey = new(StringComparer.Ordinal);
    readonly Dictionary<string, Dictionary<IpKey, int>> _inUse = new(StringComparer.Ordinal);
    readonly Dictionary<(string Pool, int Range), UInt128> _cursor = new();

    public Allocator(PoolSet pools) => Pools = pools;

    public PoolSet Pools { get; private set; }

    /// <summary>How many Services hold an address.</summary>
    public int Count => _byService.Count;

    public Allocation? Get(string key) => _byService.TryGetValue(key, out var h) ? h.Allocation : null;

    public IEnumerable<KeyValuePair<string, Allocation>> Allocations => _byService.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.Allocation));

    /// <summary>Distinct addresses of the pool in use (shared ones count once), as MetalLB's addresses_in_use_total.</summary>
    public int InUse(string pool) => _inUse.TryGetValue(pool, out var ips) ? ips.Count : 0;

    /// <summary>The Services holding an address.</summary>
    public IReadOnlyCollection<string> HoldersOf(IPAddress ip) =>
        _byIp.TryGetValue(IpKey.Of(ip), out var use) ? use.Services : Array.Empty<string>();

    /// <summary>
    /// Records that the Service holds these addresses (its current ones, or ones it asked for), if the pools and the
    /// sharing rules allow it; else says why, naming the Service in the way.
    /// </summary>
    public AllocatorResult Assign(ServiceRequest request, IReadOnlyList<IPAddress> ips)
    {
        if (ips.Count == 0) return AllocatorResult.Fail("no address given");
        if (ips.Count > 2 || ips.Select(i => i.AddressFamily).Distinct().Count() != ips.Count)
            return AllocatorResult.Fail($"{string.Join(", ", ips)}: at most one address per family");
        var pool = Pools.PoolOf(ips);
        if (pool is null) return AllocatorResult.Fail(NotInPools(ips));
        foreach (var ip in ips)
            if (CheckSharing(request, IpKey.Of(ip)) is { } error) return AllocatorResult.Fail(error);
        var allocation = new Allocation(pool.Name, ips);
        Record(request, allocation);
        return new(allocation, null);
    }

    /// <summary>
    /// New addresses for a Service that holds none: the addresses it asks for, else the lowest free ones of the pool it
    /// names, else of the first auto-assign pool with room for every family it needs.
    /// </summary>
    public AllocatorResult Allocate(ServiceRequest request)
    {
        Unassign(request.Key);
        if (request.RequestedIps.Count > 0)
        {
            if (request.RequestedPool is { } named && Pools.PoolOf(request.RequestedIps) is { } holder && holder.Name != named)
                return AllocatorResult.Fail($"{string.Join(", ", request.RequestedIps)} is in pool {holder.Name}, not in the requested pool {named}");
            return Assign(request, Ordered(request.RequestedIps, request.Families));
        }
        if (request.RequestedPool is { } name)
        {
            var pool = Pools.Find(name);
            return pool is null
                ? AllocatorResult.Fail($"there is no address pool \"{name}\" (pools: {Pools.Names})")
                : AllocateFrom(pool, request, request.Families, []);
        }
        var auto = Pools.Pools.Where(p => p.AutoAssign).ToList();
        if (auto.Count == 0)
            return AllocatorResult.Fail($"no pool has auto-assign on (pools: {Pools.Names}); name one with the metallb.universe.tf/address-pool annotation");
        var reasons = new List<string>();
        foreach (var pool in auto)
        {
            var result = AllocateFrom(pool, request, request.Families, []);
            if (result.Ok) return result;
            reasons.Add(result.Error!);
        }
        return AllocatorResult.Fail(string.Join("; ", reasons));
    }

    /// <summary>Adds the families a Service lacks (it became dual-stack) from the pool of the addresses it keeps.</summary>
    public AllocatorResult Extend(ServiceRequest request, Allocation kept, IReadOnlyList<AddressFamily> missing)
    {
        var pool = Pools.Find(kept.Pool);
        if (pool is null) return AllocatorResult.Fail($"pool {kept.Pool} is gone");
        return AllocateFrom(pool, request, missing, kept.Ips);
    }

    AllocatorResult AllocateFrom(AllocatorPool pool, ServiceRequest request, IReadOnlyList<AddressFamily> families, IReadOnlyList<IPAddress> keep)
    {
        if (families.Count == 0) return AllocatorResult.Fail("the service has no IP family");
        var chosen = new List<IPAddress>(keep);
        foreach (var family in families)
        {
            if (!pool.HasFamily(family)) return AllocatorResult.Fail($"pool {pool.Name} has no {ServiceRequest.FamilyText([family])} addresses");
            IpKey? best = null;
            for (int i = 0; i < pool.Ranges.Count && best is null; i++)
                if (pool.Ranges[i].Family == family) best = Lowest(pool, i, request);
            if (best is null) return AllocatorResult.Fail($"no {ServiceRequest.FamilyText([family])} address of pool {pool.Name} is free ({InUse(pool.Name)} of {pool.Total} in use)");
            chosen.Add(best.Value.Address);
        }
        return Assign(request, Ordered(chosen, request.Families));
    }

    /// <summary>A Service's addresses in the order of its IP families, primary first (as its status lists them).</summary>
    public static IReadOnlyList<IPAddress> Ordered(IEnumerable<IPAddress> ips, IReadOnlyList<AddressFamily> families) =>
        ips.OrderBy(ip => IndexOf(families, ip.AddressFamily)).ToList();

    static int IndexOf(IReadOnlyList<AddressFamily> families, AddressFamily f)
    {
        for (int i = 0; i < families.Count; i++) if (families[i] == f) return i;
        return families.Count;
    }

    /// <summary>The lowest address of the range the Service may take: free, or shared compatibly.</summary>
    IpKey? Lowest(AllocatorPool pool, int rangeIndex, ServiceRequest request)
    {
        var range = pool.Ranges[rangeIndex];
        IpKey? free = null;
        var cursor = _cursor.TryGetValue((pool.Name, rangeIndex), out var c) ? c : range.First;
        for (var v = cursor; ; v++)
        {
            bool buggy = pool.AvoidBuggyIps && range.Family == AddressFamily.InterNetwork && PoolSet.IsBuggy(v);
            if (!buggy && !_byIp.ContainsKey(new IpKey(range.Family, v))) { free = new IpKey(range.Family, v); break; }
            if (v == range.Last) break;
        }
        // Everything below the free one is taken: later searches start there.
        _cursor[(pool.Name, rangeIndex)] = free?.Value ?? range.Last;
        if (request.SharingKey.Length > 0 && _bySharingKey.TryGetValue(request.SharingKey, out var shared))
        {
            var upper = free is { } f ? f : new IpKey(range.Family, range.Last);
            foreach (var ip in shared.GetViewBetween(new IpKey(range.Family, range.First), upper))
            {
                if (pool.AvoidBuggyIps && PoolSet.IsBuggy(ip.Address)) continue;
                if (CheckSharing(request, ip) is null) return ip;
            }
        }
        return free;
    }

    /// <summary>Null when the Service may use the address; else why not.</summary>
    string? CheckSharing(ServiceRequest request, IpKey ip)
    {
        if (!_byIp.TryGetValue(ip, out var use)) return null;
        var others = use.Services.Where(s => s != request.Key).OrderBy(s => s, StringComparer.Ordinal).ToList();
        if (others.Count == 0) return null;
        string holders = string.Join(", ", others);
        if (use.SharingKey.Length == 0) return $"{ip} is held by {holders}, which does not allow sharing";
        if (request.SharingKey.Length == 0) return $"{ip} is held by {holders}; this service has no allow-shared-ip annotation to share it";
        if (use.SharingKey != request.SharingKey) return $"{ip} is held by {holders} with sharing key \"{use.SharingKey}\", not \"{request.SharingKey}\"";
        if (use.BackendKey != request.BackendKey)
            return $"{ip} is held by {holders}, whose selector or traffic policy differs (externalTrafficPolicy Local services share an address only with the same selector)";
        foreach (var port in request.Ports)
            if (use.Ports.TryGetValue(port, out var owner) && owner != request.Key) return $"port {port} of {ip} is used by {owner}";
        return null;
    }

    void Record(ServiceRequest request, Allocation allocation)
    {
        Unassign(request.Key);
        _byService[request.Key] = new Held(allocation, request.Ports, request.SharingKey, request.BackendKey);
        foreach (var ip in allocation.Ips)
        {
            var k = IpKey.Of(ip);
            if (!_byIp.TryGetValue(k, out var use)) _byIp[k] = use = new IpUse();
            use.Services.Add(request.Key);
            use.SharingKey = request.SharingKey;
            use.BackendKey = request.BackendKey;
            foreach (var port in request.Ports) use.Ports[port] = request.Key;
            if (request.SharingKey.Length > 0)
            {
                if (!_bySharingKey.TryGetValue(request.SharingKey, out var set)) _bySharingKey[request.SharingKey] = set = new SortedSet<IpKey>();
                set.Add(k);
            }
            CountUse(allocation.Pool, k, +1);
        }
    }

    /// <summary>Forgets the Service's addresses; true if it held any.</summary>
    public bool Unassign(string key)
    {
        if (!_byService.Remove(key, out var held)) return false;
        foreach (var ip in held.Allocation.Ips)
        {
            var k = IpKey.Of(ip);
            var use = _byIp[k];
            use.Services.Remove(key);
            foreach (var port in held.Ports)
                if (use.Ports.TryGetValue(port, out var owner) && owner == key) use.Ports.Remove(port);
            if (use.Services.Count == 0)
            {
                _byIp.Remove(k);
                if (use.SharingKey.Length > 0 && _bySharingKey.TryGetValue(use.SharingKey, out var set))
                {
                    set.Remove(k);
                    if (set.Count == 0) _bySharingKey.Remove(use.SharingKey);
                }
                Released(k);
            }
            CountUse(held.Allocation.Pool, k, -1);
        }
        return true;
    }

    void CountUse(string pool, IpKey ip, int delta)
    {
        if (!_inUse.TryGetValue(pool, out var ips)) _inUse[pool] = ips = new Dictionary<IpKey, int>();
        var n = ips.GetValueOrDefault(ip) + delta;
        if (n <= 0) ips.Remove(ip); else ips[ip] = n;
    }

    /// <summary>A freed address moves the cursors of the ranges holding it back to it.</summary>
    void Released(IpKey ip)
    {
        foreach (var pool in Pools.Pools)
            for (int i = 0; i < pool.Ranges.Count; i++)
            {
                var r = pool.Ranges[i];
                if (r.Family == ip.Family && r.First <= ip.Value && ip.Value <= r.Last
                    && _cursor.TryGetValue((pool.Name, i), out var c) && ip.Value < c)
                    _cursor[(pool.Name, i)] = ip.Value;
            }
    }

    /// <summary>
    /// The Services whose addresses no pool of <paramref name="next"/> would hold (as MetalLB 0.9–0.12 checks a new
    /// configuration), with the reason; empty when the configuration can be applied without taking an address away.
    /// </summary>
    public List<(string Service, Allocation Allocation, string Reason)> Incompatible(PoolSet next) =>
        _byService.Where(kv => next.PoolOf(kv.Value.Allocation.Ips) is null)
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (kv.Key, kv.Value.Allocation, NotInPools(kv.Value.Allocation.Ips, next)))
            .ToList();

    /// <summary>Switches to new pools. Allocations keep their addresses (the caller checked <see cref="Incompatible"/>); ones no pool holds are dropped.</summary>
    public List<string> SetPools(PoolSet next)
    {
        var dropped = new List<string>();
        var held = _byService.ToList();
        Pools = next;
        _cursor.Clear();
        foreach (var (key, h) in held)
        {
            var pool = next.PoolOf(h.Allocation.Ips);
            if (pool is null) { Unassign(key); dropped.Add(key); continue; }
            if (pool.Name == h.Allocation.Pool) continue;
            foreach (var ip in h.Allocation.Ips) { CountUse(h.Allocation.Pool, IpKey.Of(ip), -1); CountUse(pool.Name, IpKey.Of(ip), +1); }
            _byService[key] = h with { Allocation = h.Allocation with { Pool = pool.Name } };
        }
        foreach (var stale in _inUse.Keys.Where(p => next.Find(p) is null).ToList()) _inUse.Remove(stale);
        return dropped;
    }

    string NotInPools(IReadOnlyList<IPAddress> ips) => NotInPools(ips, Pools);

    static string NotInPools(IReadOnlyList<IPAddress> ips, PoolSet pools)
    {
        foreach (var ip in ips)
        {
            var containing = pools.Pools.FirstOrDefault(p => p.Ranges.Any(r => r.Contains(ip)));
            if (containing is null) return $"{ip} is in no address pool (pools: {pools.Names})";
            if (containing.AvoidBuggyIps && PoolSet.IsBuggy(ip)) return $"{ip} ends in .0 or .255, which pool {containing.Name} avoids (avoid-buggy-ips)";
        }
        return $"{string.Join(", ", ips)} are not all in one address pool";
    }
}
