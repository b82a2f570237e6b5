namespace KonvoyLb.Engine.Config;

/// <summary>What Set-LbAddressPool was asked to change; null means "leave as it is".</summary>
public sealed class PoolChange
{
    public string? Protocol { get; set; }
    public List<string>? Addresses { get; set; }
    public List<string>? AddAddresses { get; set; }
    public List<string>? RemoveAddresses { get; set; }
    public bool? AutoAssign { get; set; }
    public bool? AvoidBuggyIps { get; set; }
    public List<BgpAdvertisement>? BgpAdvertisements { get; set; }
}

/// <summary>What Set-LbBgpPeer was asked to change; null means "leave as it is".</summary>
public sealed class PeerChange
{
    public uint? MyAsn { get; set; }
    public uint? PeerAsn { get; set; }
    public ushort? PeerPort { get; set; }
    public string? SourceAddress { get; set; }
    public string? HoldTime { get; set; }
    public string? KeepaliveTime { get; set; }
    public string? RouterId { get; set; }
    public string? Password { get; set; }
    public bool ClearPassword { get; set; }
    public string? BfdProfile { get; set; }
    public bool? EbgpMultihop { get; set; }
    public List<NodeSelector>? NodeSelectors { get; set; }
}

/// <summary>The edits the cmdlets make to the model: pure functions on a copy, no I/O.</summary>
public static class ConfigChanges
{
    public static AddressPool? FindPool(MetalLbConfig c, string name) => c.AddressPools?.FirstOrDefault(p => p.Name == name);

    /// <summary>Creates the pool (layer2 unless told otherwise) or changes only the given properties.</summary>
    public static (AddressPool Pool, bool Created) SetPool(MetalLbConfig c, string name, PoolChange change)
    {
        var pool = FindPool(c, name);
        bool created = pool is null;
        if (pool is null)
        {
            pool = new AddressPool { Name = name, Protocol = "layer2", Addresses = new() };
            (c.AddressPools ??= new()).Add(pool);
        }
        if (change.Protocol is not null) pool.Protocol = change.Protocol;
        if (change.Addresses is not null) pool.Addresses = change.Addresses.ToList();
        foreach (var a in change.AddAddresses ?? new())
            if (!(pool.Addresses ??= new()).Contains(a)) pool.Addresses.Add(a);
        foreach (var a in change.RemoveAddresses ?? new())
            if (pool.Addresses?.Remove(a) != true)
                throw new LbException(ErrorId.InvalidArgument, $"pool '{name}' has no address entry '{a}'.", a,
                    fix: $"Entries are removed as written; the pool has: {string.Join(", ", pool.Addresses ?? new())}.");
        if (change.AutoAssign is not null) pool.AutoAssign = change.AutoAssign;
        if (change.AvoidBuggyIps is not null) pool.AvoidBuggyIps = change.AvoidBuggyIps;
        if (change.BgpAdvertisements is not null) pool.BgpAdvertisements = change.BgpAdvertisements.Select(a => a.Clone()).ToList();
        return (pool, created);
    }

    public static AddressPool RemovePool(MetalLbConfig c, string name)
    {
        var pool = FindPool(c, name) ?? throw LbErrors.PoolNotFound(name, null, c.AddressPools?.Select(p => p.Name));
        c.AddressPools!.Remove(pool);
        return pool;
    }

    public static BgpPeer? FindPeer(MetalLbConfig c, string address, ushort? port) =>
        c.Peers?.FirstOrDefault(p => p.PeerAddress == address && (port is null || (p.PeerPort ?? 179) == port));

    public static (BgpPeer Peer, bool Created) SetPeer(MetalLbConfig c, string address, PeerChange change)
    {
        var peer = FindPeer(c, address, change.PeerPort);
        bool created = peer is null;
        if (peer is null)
        {
            peer = new BgpPeer { PeerAddress = address };
            (c.Peers ??= new()).Add(peer);
        }
        if (change.MyAsn is not null) peer.MyAsn = change.MyAsn;
        if (change.PeerAsn is not null) peer.PeerAsn = change.PeerAsn;
        if (change.PeerPort is not null) peer.PeerPort = change.PeerPort;
        if (change.SourceAddress is not null) peer.SourceAddress = change.SourceAddress;
        if (change.HoldTime is not null) peer.HoldTime = change.HoldTime;
        if (change.KeepaliveTime is not null) peer.KeepaliveTime = change.KeepaliveTime;
        if (change.RouterId is not null) peer.RouterId = change.RouterId;
        if (change.ClearPassword) peer.PasswordText = null;
        if (change.Password is not null) peer.PasswordText = change.Password;
        if (change.BfdProfile is not null) peer.BfdProfile = change.BfdProfile;
        if (change.EbgpMultihop is not null) peer.EbgpMultihop = change.EbgpMultihop;
        if (change.NodeSelectors is not null) peer.NodeSelectors = change.NodeSelectors.Select(s => s.Clone()).ToList();
        return (peer, created);
    }

    public static BgpPeer RemovePeer(MetalLbConfig c, string address, ushort? port)
    {
        var peer = FindPeer(c, address, port)
            ?? throw LbErrors.PeerNotFound(address, null, c.Peers?.Select(p => p.PeerAddress ?? "?"));
        c.Peers!.Remove(peer);
        if (c.Peers.Count == 0) c.Peers = null; // no peers: drop the key rather than leave "peers: []"
        return peer;
    }

    public static (BgpCommunity Community, bool Created) SetCommunity(MetalLbConfig c, string name, string value)
    {
        var list = c.BgpCommunities ??= new();
        int i = list.FindIndex(x => x.Name == name);
        var community = new BgpCommunity(name, value);
        if (i >= 0) list[i] = community; else list.Add(community);
        return (community, i < 0);
    }

    public static BgpCommunity RemoveCommunity(MetalLbConfig c, string name)
    {
        var community = c.BgpCommunities?.FirstOrDefault(x => x.Name == name)
            ?? throw LbErrors.CommunityNotFound(name, null, c.BgpCommunities?.Select(x => x.Name));
        c.BgpCommunities!.Remove(community);
        if (c.BgpCommunities.Count == 0) c.BgpCommunities = null;
        return community;
    }
}
