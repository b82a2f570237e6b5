using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.BgpCommunity;

/// <summary>Get-LbBgpCommunity: the community aliases (bgp-communities) of the metallb addon.</summary>
[Cmdlet(VerbsCommon.Get, "LbBgpCommunity", DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Config.BgpCommunity")]
public sealed class GetLbBgpCommunity : FileCmdlet
{
    /// <summary>Alias names to return; wildcards allowed. All aliases when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CommunityNameCompleter))]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var path in ResolvePaths())
        {
            var file = Load(path);
            var communities = Run(() => RequireConfig(file, file.Addon?.Config)).BgpCommunities ?? new();
            foreach (var (community, _) in NameFilter.Select(Name, communities, c => c.Name, n => WriteLbError(LbErrors.CommunityNotFound(n, path, communities.Select(c => c.Name)))))
                WriteObject(WithPath(community, path));
        }
    }
}
