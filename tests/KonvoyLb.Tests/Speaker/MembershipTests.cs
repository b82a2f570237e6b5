using k8s.Models;
using KonvoyLb.Engine.Runtime.Speaker;

namespace KonvoyLb.Tests.Speaker;

/// <summary>Speaker liveness from node Leases: held and unexpired is live; expired, released or held by another is not.</summary>
public sealed class MembershipTests
{
    static readonly DateTimeOffset Now = new(2026, 12, 7, 7, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_lease_held_by_its_node_is_live_until_renew_time_plus_duration()
    {
        var lease = Membership.For("node-1", "kubeaddons", TimeSpan.FromSeconds(3), Now);
        Assert.Equal("metallb-speaker-node-1", lease.Metadata.Name);
        Assert.True(Membership.IsLive(lease, Now.AddSeconds(2.9)));
        Assert.False(Membership.IsLive(lease, Now.AddSeconds(3)));
        Assert.Equal(Now.AddSeconds(3), Membership.NextExpiry([lease], Now));
    }

    [Fact]
    public void Released_foreign_and_other_leases_are_not_live()
    {
        var released = Membership.Released(Membership.For("node-1", "ns", TimeSpan.FromSeconds(10), Now), Now);
        var foreign = Membership.For("node-2", "ns", TimeSpan.FromSeconds(10), Now);
        foreign.Spec.HolderIdentity = "node-3";
        var other = new V1Lease { Metadata = new V1ObjectMeta { Name = "metallb-controller" }, Spec = new V1LeaseSpec { HolderIdentity = "x", RenewTime = Now.UtcDateTime, LeaseDurationSeconds = 10 } };
        var live = Membership.For("node-3", "ns", TimeSpan.FromSeconds(10), Now);
        Assert.Equal(["node-3"], Membership.Live([released, foreign, other, live], Now.AddSeconds(1)));
        Assert.Null(Membership.NodeOf(other));
        Assert.Null(Membership.NextExpiry([released], Now));
    }

    [Fact]
    public void A_renewal_keeps_the_acquire_time_and_the_resource_version()
    {
        var first = Membership.For("node-1", "ns", TimeSpan.FromSeconds(3), Now);
        first.Metadata.ResourceVersion = "41";
        var renewed = Membership.For("node-1", "ns", TimeSpan.FromSeconds(3), Now.AddSeconds(1), first);
        Assert.Equal(first.Spec.AcquireTime, renewed.Spec.AcquireTime);
        Assert.Equal(Now.AddSeconds(1).UtcDateTime, renewed.Spec.RenewTime);
        Assert.Equal("41", renewed.Metadata.ResourceVersion);
    }

    [Fact]
    public void The_MACs_a_speaker_answers_with_are_in_its_Lease()
    {
        var one = Membership.For("node-1", "ns", TimeSpan.FromSeconds(10), Now, macs: ["02:00:5e:00:00:01", "02:00:5e:00:01:01"]);
        var two = Membership.For("node-2", "ns", TimeSpan.FromSeconds(10), Now, macs: ["02:00:5e:00:00:02"]);
        var none = Membership.For("node-3", "ns", TimeSpan.FromSeconds(10), Now);
        var owners = Membership.MacOwners([one, two, none]);
        Assert.Equal("node-1", owners["02:00:5e:00:01:01"]);
        Assert.Equal("node-2", owners["02:00:5E:00:00:02"]);
        Assert.Equal(3, owners.Count);
    }
}
