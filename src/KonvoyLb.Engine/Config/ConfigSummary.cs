namespace KonvoyLb.Engine.Config;

/// <summary>The metallb addon of a cluster.yaml as one object, with the cluster facts later checks need.</summary>
public sealed class ConfigSummary
{
    public string Path { get; init; } = "";
    public bool AddonFound { get; init; }
    public bool Enabled { get; init; }
    public string? Repository { get; init; }
    public IReadOnlyList<AddressPool> AddressPools { get; init; } = Array.Empty<AddressPool>();
    public IReadOnlyList<BgpPeer> Peers { get; init; } = Array.Empty<BgpPeer>();
    public IReadOnlyList<BgpCommunity> BgpCommunities { get; init; } = Array.Empty<BgpCommunity>();
    public IReadOnlyList<BfdProfile> BfdProfiles { get; init; } = Array.Empty<BfdProfile>();
    public string ApiVersion { get; init; } = "";
    public string? Provider { get; init; }
    public string PodSubnet { get; init; } = "";
    public bool PodSubnetIsDefault { get; init; }
    public string ServiceSubnet { get; init; } = "";
    public bool ServiceSubnetIsDefault { get; init; }
    public string? ControlPlaneEndpoint { get; init; }

    public static ConfigSummary From(KonvoyFile file)
    {
        var c = file.Addon?.Config;
        return new ConfigSummary
        {
            Path = file.Path,
            AddonFound = file.Addon is not null,
            Enabled = file.Addon?.Enabled ?? false,
            Repository = file.Addon?.RepositoryUrl,
            AddressPools = c?.AddressPools ?? new(),
            Peers = c?.Peers ?? new(),
            BgpCommunities = c?.BgpCommunities ?? new(),
            BfdProfiles = c?.BfdProfiles ?? new(),
            ApiVersion = file.Facts.ApiVersion,
            Provider = file.Facts.Provider,
            PodSubnet = file.Facts.PodSubnet,
            PodSubnetIsDefault = file.Facts.PodSubnetIsDefault,
            ServiceSubnet = file.Facts.ServiceSubnet,
            ServiceSubnetIsDefault = file.Facts.ServiceSubnetIsDefault,
            ControlPlaneEndpoint = file.Facts.ControlPlaneEndpoint,
        };
    }
}
