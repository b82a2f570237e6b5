using k8s.Models;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>
/// Which speakers are alive, from Kubernetes Leases instead of a gossip port (pure): each speaker holds a Lease
/// "metallb-speaker-NODE" in its namespace, holder = its node, renewed well within its duration. A node's speaker is
/// live while its Lease is held by it and renewTime + leaseDurationSeconds is still ahead; an empty holder (a clean
/// stop released it) means gone at once.
/// </summary>
public static class Membership
{
    public const string LeasePrefix = "metallb-speaker-";

    /// <summary>The annotation in which a speaker lists the MACs it answers with, so that the others know whose answer they see.</summary>
    public const string MacsAnnotation = "konvoylb.io/macs";

    public static string LeaseName(string node) => LeasePrefix + node;

    /// <summary>The node a speaker Lease belongs to, or null for another Lease.</summary>
    public static string? NodeOf(V1Lease lease) =>
        lease.Metadata?.Name is { } name && name.StartsWith(LeasePrefix, StringComparison.Ordinal) ? name[LeasePrefix.Length..] : null;

    /// <summary>Whether the Lease says its node's speaker is alive at <paramref name="now"/>.</summary>
    public static bool IsLive(V1Lease lease, DateTimeOffset now)
    {
        var node = NodeOf(lease);
        var spec = lease.Spec;
        if (node is null || spec is null || spec.HolderIdentity != node) return false;
        if (spec.RenewTime is not { } renewed || spec.LeaseDurationSeconds is not { } seconds || seconds <= 0) return false;
        return new DateTimeOffset(DateTime.SpecifyKind(renewed, DateTimeKind.Utc)).AddSeconds(seconds) > now;
    }

    /// <summary>The nodes with a live speaker.</summary>
    public static IReadOnlySet<string> Live(IEnumerable<V1Lease> leases, DateTimeOffset now) =>
        leases.Where(l => IsLive(l, now)).Select(l => NodeOf(l)!).ToHashSet(StringComparer.Ordinal);

    /// <summary>When the next Lease of the set runs out (the time to look again), or null when none is live.</summary>
    public static DateTimeOffset? NextExpiry(IEnumerable<V1Lease> leases, DateTimeOffset now) =>
        leases.Where(l => IsLive(l, now))
            .Select(l => (DateTimeOffset?)new DateTimeOffset(DateTime.SpecifyKind(l.Spec.RenewTime!.Value, DateTimeKind.Utc)).AddSeconds(l.Spec.LeaseDurationSeconds!.Value))
            .Min();

    /// <summary>The node of each MAC the live speakers' Leases list.</summary>
    public static Dictionary<string, string> MacOwners(IEnumerable<V1Lease> leases)
    {
        var owners = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var lease in leases)
            if (NodeOf(lease) is { } node && lease.Metadata?.Annotations?.TryGetValue(MacsAnnotation, out var macs) == true)
                foreach (var mac in macs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) owners[mac] = node;
        return owners;
    }

    /// <summary>A speaker's Lease as it writes it: held by its node, renewed now, with the MACs it answers with.</summary>
    public static V1Lease For(string node, string ns, TimeSpan duration, DateTimeOffset now, V1Lease? current = null, IEnumerable<string>? macs = null) => new()
    {
        ApiVersion = "coordination.k8s.io/v1", Kind = "Lease",
        Metadata = new V1ObjectMeta
        {
            Name = LeaseName(node), NamespaceProperty = ns, ResourceVersion = current?.Metadata?.ResourceVersion,
            Labels = new Dictionary<string, string> { ["app"] = "metallb", ["component"] = "speaker" },
            Annotations = macs is null ? null : new Dictionary<string, string> { [MacsAnnotation] = string.Join(",", macs) },
        },
        Spec = new V1LeaseSpec
        {
            HolderIdentity = node,
            LeaseDurationSeconds = (int)Math.Ceiling(duration.TotalSeconds),
            AcquireTime = current?.Spec?.HolderIdentity == node ? current.Spec.AcquireTime : now.UtcDateTime,
            RenewTime = now.UtcDateTime,
        },
    };

    /// <summary>The same Lease let go (a clean stop): the holder emptied, so every other speaker sees the node gone at once.</summary>
    public static V1Lease Released(V1Lease current, DateTimeOffset now)
    {
        current.Spec ??= new V1LeaseSpec();
        current.Spec.HolderIdentity = "";
        current.Spec.RenewTime = now.UtcDateTime;
        return current;
    }
}
