using System.Management.Automation;
using KonvoyLb.Engine.Runtime.Speaker;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Runtime;

/// <summary>
/// Start-LbSpeaker: runs the MetalLB-compatible speaker of this node (layer2: ARP and NDP answers for the addresses
/// this node owns) until Ctrl+C or SIGTERM, with /metrics, /healthz and /readyz on the metrics port and a log line per
/// decision.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "LbSpeaker")]
[OutputType(typeof(void))]
public sealed class StartLbSpeaker : RuntimeCmdlet
{
    /// <summary>This node's name; by default METALLB_NODE_NAME, NODE_NAME (the downward API), else the host name.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    /// <summary>Where the MetalLB ConfigMap and the speakers' Leases are.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigMapName { get; set; }

    /// <summary>Answer only on these interfaces (by default: on the interface whose subnet holds the address).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Interface { get; set; }

    /// <summary>Regular expressions of interface names never answered on, besides MetalLB's default list.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? ExcludeInterface { get; set; }

    /// <summary>How long this node's Lease is valid without renewal, in seconds (renewed every quarter of it).</summary>
    [Parameter]
    [ValidateRange(2, 600)]
    public int LeaseDurationSeconds { get; set; } = 10;

    /// <summary>How often the owner this node would replace is probed on the segment, in milliseconds.</summary>
    [Parameter]
    [ValidateRange(50, 10000)]
    public int ProbeIntervalMilliseconds { get; set; } = 200;

    /// <summary>Probes in a row without an answer before the owner is taken for gone.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int ProbeMisses { get; set; } = 3;

    /// <summary>The node name as the cmdlet resolves it: the parameter, the downward API's variables, the host name.</summary>
    public static string ResolveNodeName(string? given) =>
        given ?? new[] { "METALLB_NODE_NAME", "NODE_NAME" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))
        ?? System.Net.Dns.GetHostName();

    protected override void EndProcessing()
    {
        foreach (var pattern in ExcludeInterface ?? [])
            Run(() => Engine.Runtime.Speaker.InterfaceChoice.CheckPattern(pattern));
        Run(LbSpeaker.CheckRawSockets);
        using var kube = Connect();
        var lease = TimeSpan.FromSeconds(LeaseDurationSeconds);
        var options = new LbSpeakerOptions
        {
            NodeName = ResolveNodeName(NodeName), Namespace = Namespace, ConfigMapName = ConfigMapName,
            Interfaces = Interface, ExcludeInterfaces = ExcludeInterface,
            LeaseDuration = lease, LeaseRenew = lease / 4,
            ProbeInterval = TimeSpan.FromMilliseconds(ProbeIntervalMilliseconds), ProbeMisses = ProbeMisses,
        };
        WriteVerbose($"node name: {options.NodeName}");
        var log = CreateLog("speaker");
        RunUntilStopped(log, new LbSpeaker(kube, options, log));
    }
}
