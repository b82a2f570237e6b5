using System.Management.Automation;
using KonvoyLb.Engine.Config;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.AddressPool;

/// <summary>
/// Set-LbAddressPool: creates an address pool, or changes only the properties given. Pools piped from
/// Get-LbAddressPool bind by property name, so pools can be copied from one file to another.
/// </summary>
[Cmdlet(VerbsCommon.Set, "LbAddressPool", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.AddressPool")]
public sealed class SetLbAddressPool : EditCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>layer2 or bgp. A new pool is layer2 unless this says otherwise.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("layer2", "bgp")]
    public string? Protocol { get; set; }

    /// <summary>Replaces the pool's address list (CIDRs or first-last ranges).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Addresses")]
    public string[]? Address { get; set; }

    /// <summary>Adds entries to the pool's address list (kept when already there).</summary>
    [Parameter]
    public string[]? AddAddress { get; set; }

    /// <summary>Removes entries from the pool's address list, as they are written there.</summary>
    [Parameter]
    public string[]? RemoveAddress { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public bool? AutoAssign { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public bool? AvoidBuggyIps { get; set; }

    /// <summary>
    /// Replaces the pool's BGP advertisements: hashtables or objects with AggregationLength,
    /// AggregationLengthV6, LocalPref and Communities. An empty array writes an empty list.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("BgpAdvertisements")]
    [AllowEmptyCollection]
    public object[]? BgpAdvertisement { get; set; }

    protected override void ProcessRecord()
    {
        var change = new PoolChange
        {
            // ValidateSet ignores case, MetalLB does not: -Protocol BGP must be written as bgp.
            Protocol = Protocol?.ToLowerInvariant(),
            Addresses = Address?.ToList(),
            AddAddresses = AddAddress?.ToList(),
            RemoveAddresses = RemoveAddress?.ToList(),
            AutoAssign = AutoAssign,
            AvoidBuggyIps = AvoidBuggyIps,
            BgpAdvertisements = BgpAdvertisement is null ? null : Run(() => PropertyReader.Advertisements(BgpAdvertisement)),
        };
        Edit($"address pool '{Name}'", "Set", (file, config) => ConfigChanges.SetPool(RequireConfig(file, config), Name, change).Pool);
    }
}
