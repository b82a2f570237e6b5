using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.AddressPool;

/// <summary>Get-LbAddressPool: the address pools of the metallb addon.</summary>
[Cmdlet(VerbsCommon.Get, "LbAddressPool", DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.AddressPool")]
public sealed class GetLbAddressPool : FileCmdlet
{
    /// <summary>Pool names to return; wildcards allowed. All pools when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var path in ResolvePaths())
        {
            var file = Load(path);
            var pools = Run(() => RequireConfig(file, file.Addon?.Config)).AddressPools ?? new();
            foreach (var (pool, _) in NameFilter.Select(Name, pools, p => p.Name, name => WriteLbError(LbErrors.PoolNotFound(name, path, pools.Select(p => p.Name)))))
                WriteObject(WithPath(pool, path));
        }
    }
}
