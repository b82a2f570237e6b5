using System.Management.Automation;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Check;

/// <summary>
/// Test-LbConfig: every MetalLB validation rule plus what MetalLB never checks (pools against the pod
/// and service subnets, the nodes, the control-plane VIP, reserved addresses, the nodes' subnet), and
/// the capacity of the pools. One object per finding; errors also go to the error stream.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "LbConfig", DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Finding")]
[OutputType(typeof(bool))]
public sealed class TestLbConfig : ConfigSourceCmdlet
{
    /// <summary>Konvoy's inventory.yaml; by default the one beside cluster.yaml, when it exists.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? InventoryPath { get; set; }

    /// <summary>Addresses no pool may contain: the gateway, a DHCP range, other clusters' pools (addresses, CIDRs or ranges).</summary>
    [Parameter]
    public string[]? ReservedAddress { get; set; }

    /// <summary>The nodes' subnets (CIDRs); learned from this computer's interfaces when it is a node.</summary>
    [Parameter]
    public string[]? NodeSubnet { get; set; }

    /// <summary>The nodes' gateways, when -NodeSubnet is given and the gateway should be checked too.</summary>
    [Parameter]
    public string[]? Gateway { get; set; }

    /// <summary>Returns only $true (no errors) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var reserved = (ReservedAddress ?? Array.Empty<string>()).Select(r => (Parse(r, "ReservedAddress"), $"reserved address {r}")).ToList();
        var gateways = (Gateway ?? Array.Empty<string>()).Select(g => Parse(g, "Gateway")).ToList();
        var subnets = (NodeSubnet ?? Array.Empty<string>()).Select(s =>
        {
            var range = Parse(s, "NodeSubnet");
            var gateway = gateways.FirstOrDefault(g => g.Family == range.Family && range.Contains(g.FirstAddress));
            return new NodeSubnet(range, gateway == default ? null : gateway.FirstAddress, "-NodeSubnet");
        }).ToList();
        foreach (var g in gateways.Where(g => subnets.All(s => !s.Subnet.Contains(g.FirstAddress))))
            reserved.Add((g, $"gateway {g.FirstAddress}"));
        string? inventory = InventoryPath is null ? null : GetUnresolvedProviderPathFromPSPath(InventoryPath);

        if (FromMetalLbConfig)
        {
            var document = LoadMetalLbConfig();
            var nodes = inventory is null ? null : Run(() => Inventory.Load(inventory));
            Report(Run(() => ConfigAnalyzer.Analyze(new AnalysisInput
            {
                Document = document,
                Inventory = nodes,
                Reserved = reserved,
                NodeSubnets = subnets.Count > 0 ? subnets : ConfigAnalyzer.LearnSubnets(nodes),
            })));
            return;
        }
        foreach (var path in ResolvePaths())
        {
            var file = Load(path);
            Report(Run(() => ConfigAnalyzer.Analyze(ConfigAnalyzer.ForKonvoyFile(file, inventory, reserved, subnets))));
        }
    }

    IpRange Parse(string text, string parameter) => Run(() => IpRange.ParseArgument(text, "-" + parameter));

    void Report(List<Finding> findings)
    {
        bool ok = findings.All(f => f.Severity != Severity.Error);
        if (Quiet)
        {
            WriteObject(ok);
            return;
        }
        foreach (var f in findings)
        {
            WriteObject(f);
            if (f.Severity == Severity.Error)
                WriteLbError(LbErrors.From(f));
        }
    }
}
