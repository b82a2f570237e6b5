using System.Diagnostics;
using System.Management.Automation;
using System.Net;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net.Probing;
using KonvoyLb.Engine.Net.Ssh;
using KonvoyLb.Infrastructure;

namespace KonvoyLb.Reachability;

/// <summary>
/// Test-LbVipReachability: for every address of the pools (or of -Address), from this computer (or, with
/// -FromInventory, from every host of the inventory over SSH): the route, who answers ARP/NDP, ICMP echo and
/// optionally a TCP port; a Status and advice per address.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "LbVipReachability", DefaultParameterSetName = PathSet)]
[OutputType("KonvoyLb.Engine.Net.Probing.VipProbeResult", "KonvoyLb.Engine.Net.Probing.VipReachabilitySummary")]
public sealed class TestLbVipReachability : FileCmdlet
{
    const string AddressSet = "Address";

    /// <summary>Only these pools of cluster.yaml (all when omitted).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string[]? Pool { get; set; }

    /// <summary>Addresses, CIDRs or first-last ranges to probe instead of the pools.</summary>
    [Parameter(ParameterSetName = AddressSet, Mandatory = true, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public string[] Address { get; set; } = Array.Empty<string>();

    /// <summary>Konvoy's inventory.yaml, to tell node MACs from foreign ones; by default the one beside cluster.yaml.</summary>
    [Parameter]
    public string? InventoryPath { get; set; }

    /// <summary>Also try a TCP connection to this port.</summary>
    [Parameter]
    [ValidateRange(1, 65535)]
    public int? Port { get; set; }

    [Parameter]
    [ValidateRange(10, 60000)]
    public int TimeoutMilliseconds { get; set; } = 1000;

    /// <summary>Addresses probed at the same time.</summary>
    [Parameter]
    [ValidateRange(1, 4096)]
    public int ThrottleLimit { get; set; } = 256;

    /// <summary>Packets per second at most, all probes together.</summary>
    [Parameter]
    [ValidateRange(1, 100000)]
    public int MaxPacketsPerSecond { get; set; } = 1000;

    /// <summary>Refuse to probe more addresses than this (a guard against flooding a LAN by typo).</summary>
    [Parameter]
    [ValidateRange(1, 1 << 20)]
    public int MaxAddresses { get; set; } = 4096;

    /// <summary>Probe from every host of the inventory (control plane and workers), over SSH, with the host's own tools.</summary>
    [Parameter]
    public SwitchParameter FromInventory { get; set; }

    /// <summary>-FromInventory: only the hosts whose inventory name (the private IP that keys them) matches (wildcards).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? HostName { get; set; }

    /// <summary>-FromInventory: private keys to log in with, besides the inventory's ansible_ssh_private_key_file.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? SshKeyPath { get; set; }

    /// <summary>-FromInventory: the SSH user (instead of ansible_user) and a password, used to log in or as the key's passphrase.</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>-FromInventory: OpenSSH's known_hosts to check host keys against; ~/.ssh/known_hosts by default.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KnownHostsPath { get; set; }

    /// <summary>-FromInventory: record the key of a host known_hosts does not know (never a changed one).</summary>
    [Parameter]
    public SwitchParameter AcceptNewHostKey { get; set; }

    /// <summary>-FromInventory: hosts probed at the same time.</summary>
    [Parameter]
    [ValidateRange(1, 256)]
    public int HostThrottleLimit { get; set; } = 8;

    /// <summary>-FromInventory: one summary per address (from how many hosts it is free, owned, unreachable...) instead of one result per host and address.</summary>
    [Parameter]
    public SwitchParameter Summary { get; set; }

    readonly List<string> _addresses = new();

    protected override void ProcessRecord()
    {
        if (ParameterSetName == AddressSet) _addresses.AddRange(Address);
    }

    protected override void EndProcessing()
    {
        var (targets, inventory) = ParameterSetName == AddressSet
            ? (Run(() => ProbeTargets.FromArguments(_addresses, MaxAddresses)), LoadInventory(null))
            : FromFile();
        var options = new ProbeOptions
        {
            Timeout = TimeSpan.FromMilliseconds(TimeoutMilliseconds), ThrottleLimit = ThrottleLimit,
            MaxPacketsPerSecond = MaxPacketsPerSecond, TcpPort = Port,
        };
        if (FromInventory)
        {
            ProbeFromInventory(targets, inventory ?? Run<Inventory>(() => throw new LbException(ErrorId.FileNotFound,
                "-FromInventory needs Konvoy's inventory.yaml: none beside cluster.yaml, and no -InventoryPath.", null,
                fix: "Give -InventoryPath ./inventory.yaml.")), options);
            return;
        }
        var nodeAddresses = inventory?.Hosts.Select(h => h.IP).OfType<IPAddress>().Where(ip => targets.All(t => !t.Address.Equals(ip))).ToList() ?? new();

        using var prober = new VipProber(options);
        if (prober.RawSocketError is { } rawError)
            WriteLbError(new LbException(ErrorId.NeedsRawSockets, rawError));

        // Node addresses are probed too, only to learn their MACs.
        var plan = Run(() => prober.Prepare(targets.Concat(nodeAddresses.Select(ip => new ProbeTarget(ip, null)))));
        foreach (var down in plan.Items.Where(i => i.Link is { IsUp: false }).Select(i => i.Link!.Name).Distinct())
            WriteLbError(new LbException(ErrorId.InterfaceDown, $"interface {down} is down; the addresses routed through it were not probed.", down,
                fix: $"Bring it up (ip link set {down} up)."));

        var clock = Stopwatch.StartNew();
        int completed = 0, total = plan.Items.Count;
        var progress = new Progress<int>(n => Volatile.Write(ref completed, n));
        var nodes = nodeAddresses.ToHashSet();
        var results = Await(ct => prober.RunAsync(plan, nodes, progress, ct), "Probing VIPs", () =>
        {
            int n = Volatile.Read(ref completed);
            return ($"{n} of {total} addresses", total == 0 ? 100 : n * 100 / total);
        });
        foreach (var r in results) WriteObject(r);

        var counts = results.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}");
        var summary = $"{results.Length} address{(results.Length == 1 ? "" : "es")} probed from {Environment.MachineName} in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", counts)}";
        WriteInformation(new HostInformationMessage { Message = summary }, new[] { "PSHOST" });
    }

    void ProbeFromInventory(List<ProbeTarget> targets, Inventory inventory, ProbeOptions options)
    {
        var hosts = inventory.Nodes.ToList();
        if (HostName is { Length: > 0 })
            hosts = NameFilter.Select(HostName, hosts, h => h.Address, missing => WriteLbError(new LbException(ErrorId.InvalidArgument,
                $"-HostName '{missing}' matches no host of the inventory.", missing, fix: $"Hosts: {string.Join(", ", inventory.Nodes.Select(h => h.Address))}.")))
                .Select(x => x.Item1).ToList();
        var ssh = new SshOptions
        {
            KnownHostsPath = KnownHostsPath is null
                ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts")
                : GetUnresolvedProviderPathFromPSPath(KnownHostsPath),
            AcceptNewHostKey = AcceptNewHostKey, KeyPaths = (SshKeyPath ?? []).Select(GetUnresolvedProviderPathFromPSPath).ToList(),
            User = Credential?.UserName is { Length: > 0 } u ? u : null,
            Password = Credential?.Password is { Length: > 0 } ? Credential.GetNetworkCredential().Password : null,
            AgentSocketPath = Environment.GetEnvironmentVariable("SSH_AUTH_SOCK"),
            ThrottleLimit = HostThrottleLimit,
        };
        var clock = Stopwatch.StartNew();
        int completed = 0;
        var progress = new Progress<int>(n => Volatile.Write(ref completed, n));
        var probed = Await(ct => InventoryProber.RunAsync(inventory, hosts, targets, options, ssh, progress, ct), "Probing VIPs from the inventory's hosts", () =>
        {
            int n = Volatile.Read(ref completed);
            return ($"{n} of {hosts.Count} hosts ({targets.Count} addresses each)", hosts.Count == 0 ? 100 : n * 100 / hosts.Count);
        });
        foreach (var fault in probed.SelectMany(h => h.Faults)) WriteLbError(fault);
        var results = probed.SelectMany(h => h.Results).ToList();
        if (Summary) foreach (var s in VipReachabilitySummary.Of(targets, results, probed.Count(h => h.Results.Count > 0))) WriteObject(s);
        else foreach (var r in results) WriteObject(r);
        var reached = probed.Count(h => h.Results.Count > 0);
        WriteInformation(new HostInformationMessage { Message = $"{targets.Count} address{(targets.Count == 1 ? "" : "es")} probed from {reached} of {hosts.Count} host(s) in {clock.Elapsed.TotalSeconds:F1} s" }, new[] { "PSHOST" });
    }

    (List<ProbeTarget>, Inventory?) FromFile()
    {
        var paths = ResolvePaths().ToList();
        var path = paths[0];
        var pools = paths.SelectMany(p => { var f = Load(p); return RequireConfig(f, f.Addon?.Config).AddressPools ?? new(); }).ToList();
        if (Pool is { Length: > 0 })
        {
            var all = pools;
            pools = NameFilter.Select(Pool, all, p => p.Name, missing => WriteLbError(LbErrors.PoolNotFound(missing, path, all.Select(p => p.Name))))
                .Select(x => x.Item1).ToList();
        }
        string beside = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, "inventory.yaml");
        return (Run(() => ProbeTargets.FromPools(pools, MaxAddresses)), LoadInventory(InventoryPath is null && File.Exists(beside) ? beside : null));
    }

    Inventory? LoadInventory(string? fallback)
    {
        string? path = InventoryPath is null ? fallback : GetUnresolvedProviderPathFromPSPath(InventoryPath);
        return path is null ? null : Run(() => Inventory.Load(path));
    }
}
