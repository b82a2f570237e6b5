using System.Net;

namespace KonvoyLb.Engine.Runtime.Controller;

public enum DecisionKind
{
    /// <summary>Not the controller's business (or gone): any address it held is released.</summary>
    Ignore,
    /// <summary>The Service keeps the addresses it holds.</summary>
    Keep,
    /// <summary>The Service gets new addresses.</summary>
    Allocated,
    /// <summary>No address can be given; <see cref="Decision.Reason"/> says why.</summary>
    Failed,
    /// <summary>The request cannot be read; the Service keeps what it holds, <see cref="Decision.Reason"/> says what to fix.</summary>
    Invalid,
    /// <summary>New addresses wait for the first full pass (every held address known first).</summary>
    Deferred,
}

/// <summary>
/// What one Service should have, and why. <see cref="Ips"/> is what its status must show (empty: none);
/// <see cref="Cleared"/> says why addresses it held were dropped; <see cref="Released"/> that the allocator forgot it.
/// </summary>
public sealed record Decision(DecisionKind Kind, IReadOnlyList<IPAddress> Ips, string? Pool = null, string? Reason = null, string? Cleared = null, bool Released = false);

/// <summary>
/// The controller's one decision per Service, over the allocator (MetalLB 0.9–0.12's convergeBalancer): an address the
/// Service holds is re-assigned to it when the pools and sharing rules still allow it and it still matches what the
/// Service asks for; otherwise it is cleared and a new one sought, unless new allocations must still wait.
/// </summary>
public static class ServiceDecision
{
    public static Decision Decide(Allocator allocator, ServiceRequest request, bool allowNew)
    {
        if (request.Ignored is not null)
            return new Decision(DecisionKind.Ignore, [], Reason: request.Ignored, Released: allocator.Unassign(request.Key));
        if (request.Problem is not null)
        {
            // A typo in an annotation must not take an address away: keep what is held, say what to fix.
            var held = allocator.Get(request.Key) ?? (request.CurrentIps.Count > 0 && allocator.Assign(request, request.CurrentIps).Allocation is { } a ? a : null);
            return new Decision(DecisionKind.Invalid, held?.Ips ?? [], held?.Pool, request.Problem);
        }

        string? cleared = null;
        var keep = request.CurrentIps.Where(ip => request.Families.Contains(ip.AddressFamily))
            .GroupBy(ip => ip.AddressFamily).Select(g => g.First()).ToList();
        if (keep.Count < request.CurrentIps.Count && keep.Count == 0)
            cleared = $"{string.Join(", ", request.CurrentIps)} is not of the service's IP families ({ServiceRequest.FamilyText(request.Families)})";
        if (keep.Count > 0)
        {
            var assigned = allocator.Assign(request, keep);
            if (!assigned.Ok) cleared = assigned.Error;
            else if (request.RequestedPool is { } pool && assigned.Allocation!.Pool != pool)
                cleared = $"the address-pool annotation asks for pool {pool}; {assigned.Allocation} is in pool {assigned.Allocation.Pool}";
            else if (request.RequestedIps.Count > 0 && !request.RequestedIps.ToHashSet().SetEquals(keep))
                cleared = $"{string.Join(", ", request.RequestedIps)} is requested instead of {assigned.Allocation}";
            else
            {
                var allocation = assigned.Allocation!;
                var missing = request.Families.Where(f => allocation.Ips.All(ip => ip.AddressFamily != f)).ToList();
                if (missing.Count == 0) return new Decision(DecisionKind.Keep, Order(allocation.Ips, request), allocation.Pool);
                if (!allowNew) return new Decision(DecisionKind.Keep, Order(allocation.Ips, request), allocation.Pool);
                var extended = allocator.Extend(request, allocation, missing);
                if (extended.Ok) return new Decision(DecisionKind.Allocated, extended.Allocation!.Ips, extended.Allocation.Pool);
                // Keep what works rather than take it away for the family that cannot be added.
                allocator.Assign(request, allocation.Ips);
                return new Decision(DecisionKind.Keep, Order(allocation.Ips, request), allocation.Pool, Reason: extended.Error);
            }
            allocator.Unassign(request.Key);
        }

        if (!allowNew) return new Decision(DecisionKind.Deferred, [], Cleared: cleared);
        var result = allocator.Allocate(request);
        return result.Ok
            ? new Decision(DecisionKind.Allocated, result.Allocation!.Ips, result.Allocation.Pool, Cleared: cleared)
            : new Decision(DecisionKind.Failed, [], Reason: result.Error, Cleared: cleared);
    }

    static IReadOnlyList<IPAddress> Order(IReadOnlyList<IPAddress> ips, ServiceRequest request) => Allocator.Ordered(ips, request.Families);
}
