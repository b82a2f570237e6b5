using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace KonvoyLb.Tests.Lab;

/// <summary>
/// A disposable LAN made of network namespaces: a namespace per segment holding a Linux bridge,
/// a namespace per host (or router) with a veth into each of its segments. Only documentation
/// prefixes may be configured (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, and
/// fe80::/10 on the link), and commands only run inside the lab's own namespaces.
/// </summary>
/// <remarks>
/// Cleanup: <see cref="Dispose"/> stops the helpers started with <see cref="Start(string, string[])"/>
/// (process group), kills every other process still living in one of the lab's namespaces (daemons
/// that forked away), deletes the namespaces and checks that they are gone. Use the lab with
/// <c>using</c> (or from an xunit fixture) so that this runs when a test fails. A test process that
/// dies before disposing leaves a marker (/run/konvoylb-lab/PREFIX holding its PID and start time);
/// the next <see cref="Create"/> removes the namespaces of every such dead owner, and a lab still
/// alive at process exit is disposed then.
/// </remarks>
public sealed partial class NetLab : IDisposable
{
    /// <summary>Every lab namespace name starts with "kl" and six hex digits, then a dash.</summary>
    public const string NamePrefix = "kl";
    public const string MarkerDirectory = "/run/konvoylb-lab";
    const string NetnsDirectory = "/run/netns";
    const string BridgeDevice = "br0";

    [GeneratedRegex("^kl[0-9a-f]{6}$")]
    private static partial Regex LabPrefixPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,22}$")]
    private static partial Regex NamePattern();

    static readonly ConcurrentDictionary<NetLab, byte> Live = new();
    static readonly object StaleGate = new();

    static readonly (IPAddress Network, int Length)[] AllowedNetworks =
    [
        (IPAddress.Parse("192.0.2.0"), 24),
        (IPAddress.Parse("198.51.100.0"), 24),
        (IPAddress.Parse("203.0.113.0"), 24),
        (IPAddress.Parse("2001:db8::"), 32),
        (IPAddress.Parse("fe80::"), 10),
    ];

    static NetLab()
    {
        // A lab still open when the test host exits (SIGTERM, Environment.Exit) is cleaned then.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var lab in Live.Keys)
            {
                try { lab.Dispose(); } catch { }
            }
        };
    }

    readonly object gate = new();
    readonly List<string> namespaces = [];
    readonly List<string> bridges = [];
    readonly List<LabHost> hosts = [];
    readonly List<LabProcess> processes = [];
    int portCounter;
    int disposed;

    NetLab(string prefix) => Prefix = prefix;

    /// <summary>"kl" and six random hex digits; every namespace of this lab is named PREFIX-NAME.</summary>
    public string Prefix { get; }

    /// <summary>Time limit of <see cref="Exec(string, string[])"/> and of the lab's own commands.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IReadOnlyList<string> Namespaces { get { lock (gate) return namespaces.ToArray(); } }
    public IReadOnlyList<string> Bridges { get { lock (gate) return bridges.ToArray(); } }
    public IReadOnlyList<LabHost> Hosts { get { lock (gate) return hosts.ToArray(); } }
    public IReadOnlyList<LabProcess> Processes { get { lock (gate) return processes.ToArray(); } }

    // ---------------------------------------------------------------- availability

    /// <summary>True when the environment variable CI is "true" (or "1"): lab tests must run, not skip.</summary>
    public static bool InCI =>
        Environment.GetEnvironmentVariable("CI") is { } ci &&
        (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");

    /// <summary>Why the lab cannot run here (with these extra tools), or null when it can.</summary>
    public static string? UnavailableReason(params string[] tools)
    {
        if (!OperatingSystem.IsLinux()) return "it needs Linux";
        if (!Environment.IsPrivilegedProcess) return "it needs root (ip netns, veth, bridges, setns)";
        if (!File.Exists("/proc/self/ns/net")) return "this kernel has no network namespaces";
        foreach (var tool in new[] { "ip", "setsid" }.Concat(tools))
            if (ProcessRunner.FindTool(tool) is null)
                return $"'{tool}' is not installed (run tools/Install-Prerequisites.sh as root)";
        return null;
    }

    /// <summary>The lab (ip, setsid, root, namespaces) is usable here.</summary>
    public static bool IsSupported => UnavailableReason() is null;

    /// <summary>
    /// The skip reason for a lab test: null under CI (where an unavailable lab must fail the test)
    /// and where the lab and <paramref name="tools"/> are available.
    /// </summary>
    public static string? SkipReason(params string[] tools)
    {
        if (InCI) return null;
        var reason = UnavailableReason(tools);
        return reason is null ? null : $"network-namespace lab unavailable: {reason} (skipped outside CI; with CI=true this test fails)";
    }

    // ---------------------------------------------------------------- creation

    /// <summary>
    /// A new, empty lab with a unique prefix. First removes what crashed test runs left: lab
    /// namespaces whose owner process is dead. Throws when the lab is unavailable here.
    /// </summary>
    public static NetLab Create()
    {
        if (UnavailableReason() is { } reason)
            throw new InvalidOperationException($"the network-namespace lab is unavailable: {reason}" +
                (InCI ? " (CI=true: lab tests must run here, so this fails instead of skipping)" : ""));
        RemoveStale();
        Directory.CreateDirectory(MarkerDirectory);
        string prefix;
        while (true)
        {
            prefix = NamePrefix + RandomNumberGenerator.GetHexString(6, lowercase: true);
            var marker = Path.Combine(MarkerDirectory, prefix);
            if (ListNamespaces().Any(n => n.StartsWith(prefix + "-", StringComparison.Ordinal))) continue;
            try
            {
                using var stream = new FileStream(marker, FileMode.CreateNew, FileAccess.Write);
                using var writer = new StreamWriter(stream);
                writer.Write($"{Environment.ProcessId} {ProcessStartTime(Environment.ProcessId)}\n");
                break;
            }
            catch (IOException) when (File.Exists(marker)) { }
        }
        var lab = new NetLab(prefix);
        Live[lab] = 0;
        return lab;
    }

    /// <summary>
    /// A new segment: a namespace PREFIX-NAME holding the bridge br0 (STP off, so ports forward at
    /// once; multicast snooping off unless asked for). Returns the namespace name, which names
    /// the segment in the other calls. IPv6 is off in the bridge's own namespace, so the bridge
    /// itself never sends anything onto the segment.
    /// </summary>
    public string AddBridge(string? name = null, bool multicastSnooping = false)
    {
        string ns;
        lock (gate) ns = NewNamespaceName(name ?? $"br{bridges.Count}");
        CreateNamespace(ns);
        Sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1");
        Sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1");
        Ip(ns, "link", "add", BridgeDevice, "type", "bridge", "stp_state", "0", "mcast_snooping", multicastSnooping ? "1" : "0");
        Ip(ns, "link", "set", BridgeDevice, "up");
        lock (gate) bridges.Add(ns);
        return ns;
    }

    /// <summary>The first segment; made on first use when the lab has none.</summary>
    public string DefaultBridge
    {
        get
        {
            lock (gate) if (bridges.Count > 0) return bridges[0];
            return AddBridge();
        }
    }

    /// <summary>
    /// A host on the first segment (<see cref="DefaultBridge"/>): namespace PREFIX-NAME with lo up and
    /// eth0 (fixed <paramref name="mac"/>) in the bridge, carrying <paramref name="addressesWithPrefix"/>
    /// ("192.0.2.10/24", "2001:db8::10/64"; IPv6 without duplicate address detection).
    /// </summary>
    public LabHost AddHost(string name, string mac, params string[] addressesWithPrefix) =>
        AddHostOn(DefaultBridge, name, mac, addressesWithPrefix);

    /// <summary>Like <see cref="AddHost"/>, on the segment <paramref name="bridge"/>.</summary>
    public LabHost AddHostOn(string bridge, string name, string mac, params string[] addressesWithPrefix)
    {
        // Refuse a bad segment, MAC or address before anything is made.
        EnsureBridge(bridge);
        NormaliseMac(mac);
        foreach (var a in addressesWithPrefix) ParseCidr(a);
        var host = NewHost(name, isRouter: false);
        AddInterface(host, bridge, mac, addressesWithPrefix);
        return host;
    }

    /// <summary>
    /// A router: one interface per leg (eth0, eth1, ...) on the legs' segments, IPv4 and IPv6
    /// forwarding on.
    /// </summary>
    public LabHost AddRouter(string name, LabLeg first, LabLeg second, params LabLeg[] more)
    {
        var legs = new[] { first, second }.Concat(more).ToArray();
        foreach (var leg in legs)
        {
            EnsureBridge(leg.Bridge);
            NormaliseMac(leg.Mac);
            foreach (var a in leg.Addresses) ParseCidr(a);
        }
        var router = NewHost(name, isRouter: true);
        Sysctl(router.Namespace, "net.ipv4.ip_forward", "1");
        Sysctl(router.Namespace, "net.ipv6.conf.all.forwarding", "1");
        Sysctl(router.Namespace, "net.ipv6.conf.default.forwarding", "1");
        foreach (var leg in legs)
            AddInterface(router, leg.Bridge, leg.Mac, leg.Addresses);
        return router;
    }

    /// <summary>Adds an interface ethN on <paramref name="bridge"/> to a host (multi-homed hosts).</summary>
    public LabInterface AddInterface(LabHost host, string bridge, string mac, params string[] addressesWithPrefix)
    {
        EnsureBridge(bridge);
        var normalisedMac = NormaliseMac(mac);
        foreach (var a in addressesWithPrefix) ParseCidr(a);
        string ifName, port;
        lock (gate)
        {
            if (!hosts.Contains(host)) throw new ArgumentException($"{host} is not a host of lab {Prefix}", nameof(host));
            lock (host.InterfaceList) ifName = $"eth{host.InterfaceList.Count}";
            var p = $"p{portCounter++}-{host.Name}";
            port = p.Length > 15 ? p[..15] : p;
        }
        Ip(host.Namespace, "link", "add", ifName, "address", normalisedMac, "type", "veth", "peer", "name", port, "netns", bridge);
        var iface = new LabInterface(ifName, bridge, port, normalisedMac);
        lock (host.InterfaceList) host.InterfaceList.Add(iface);
        Ip(bridge, "link", "set", port, "master", BridgeDevice, "up");
        Ip(host.Namespace, "link", "set", ifName, "up");
        foreach (var a in addressesWithPrefix) AddAddress(host, a, ifName);
        return iface;
    }

    /// <summary>
    /// Adds an address (with prefix length) to a host's interface (default: its first), e.g. a
    /// second host answering for the same address to make a conflict. IPv6 gets <c>nodad</c>.
    /// </summary>
    public void AddAddress(LabHost host, string cidr, string? interfaceName = null)
    {
        var (address, _) = ParseCidr(cidr);
        var iface = host.GetInterface(interfaceName);
        var args = new List<string> { "addr", "add", cidr, "dev", iface.Name };
        if (address.AddressFamily == AddressFamily.InterNetworkV6) args.Add("nodad");
        Ip(host.Namespace, args.ToArray());
        iface.Add(cidr);
    }

    /// <summary>Removes an address added before.</summary>
    public void RemoveAddress(LabHost host, string cidr, string? interfaceName = null)
    {
        ParseCidr(cidr);
        var iface = host.GetInterface(interfaceName);
        Ip(host.Namespace, "addr", "del", cidr, "dev", iface.Name);
        iface.Remove(cidr);
    }

    /// <summary>
    /// A route on <paramref name="host"/>: <paramref name="destination"/> is a prefix
    /// ("198.51.100.0/24") or "default"; the family follows <paramref name="via"/>.
    /// </summary>
    public void AddRoute(LabHost host, string destination, string via) => Route(host, "add", destination, via);

    /// <summary>The default route of <paramref name="via"/>'s family.</summary>
    public void AddDefaultRoute(LabHost host, string via) => Route(host, "add", "default", via);

    public void DeleteRoute(LabHost host, string destination, string via) => Route(host, "del", destination, via);

    void Route(LabHost host, string verb, string destination, string via)
    {
        var gateway = ParseAllowedAddress(via, nameof(via));
        if (destination != "default") ParseCidr(destination);
        var family = gateway.AddressFamily == AddressFamily.InterNetworkV6 ? "-6" : "-4";
        Ip(host.Namespace, family, "route", verb, destination, "via", gateway.ToString());
    }

    /// <summary>
    /// Unplugs a host's interface (default: its first) from its segment: the bridge port goes down,
    /// so the host sees NO-CARRIER but keeps its addresses and routes, as with a pulled cable.
    /// (An administrative down, <c>lab.Ip(host.Namespace, "link", "set", "eth0", "down")</c>, would
    /// also make the kernel drop the host's IPv4 routes through it.)
    /// </summary>
    public void SetLinkDown(LabHost host, string? interfaceName = null)
    {
        var iface = host.GetInterface(interfaceName);
        Ip(iface.Bridge, "link", "set", iface.BridgePort, "down");
    }

    /// <summary>Plugs a host's interface (default: its first) back into its segment.</summary>
    public void SetLinkUp(LabHost host, string? interfaceName = null)
    {
        var iface = host.GetInterface(interfaceName);
        Ip(iface.Bridge, "link", "set", iface.BridgePort, "up");
    }

    /// <summary>
    /// Writes a sysctl of a lab namespace ("net.ipv4.ip_forward") through /proc/sys from a thread
    /// inside that namespace. Keys are dotted; interface names in them must not contain dots.
    /// </summary>
    public void Sysctl(string ns, string key, string value)
    {
        if (!key.StartsWith("net.", StringComparison.Ordinal)) throw new ArgumentException("only net.* sysctls are per namespace", nameof(key));
        var path = "/proc/sys/" + key.Replace('.', '/');
        RunIn(ns, () => File.WriteAllText(path, value + "\n"));
    }

    // ---------------------------------------------------------------- running things inside

    /// <summary>Runs argv inside <paramref name="ns"/> (<c>ip netns exec</c>) with <see cref="DefaultTimeout"/>.</summary>
    public ProcessResult Exec(string ns, params string[] argv) => Exec(ns, DefaultTimeout, argv);

    /// <summary>Runs argv inside the host's namespace with <see cref="DefaultTimeout"/>.</summary>
    public ProcessResult Exec(LabHost host, params string[] argv) => Exec(host.Namespace, DefaultTimeout, argv);

    /// <summary>
    /// Runs argv inside <paramref name="ns"/>; after <paramref name="timeout"/> its process group is
    /// killed and the result says TimedOut. Never throws for a failing command: look at the result
    /// (or call EnsureSuccess).
    /// </summary>
    public ProcessResult Exec(string ns, TimeSpan timeout, params string[] argv)
    {
        var args = NetnsExecArgs(ns, argv);
        return ProcessRunner.Run("ip", args, timeout);
    }

    /// <summary>
    /// Starts a long-running helper inside <paramref name="ns"/> in its own process group; the lab
    /// stops it (SIGTERM, then SIGKILL, to the group) on Dispose at the latest.
    /// </summary>
    public LabProcess Start(string ns, params string[] argv)
    {
        var args = NetnsExecArgs(ns, argv);
        var clock = Stopwatch.StartNew();
        lock (gate)
        {
            EnsureOpen();
            var (process, stdout, stderr) = ProcessRunner.Start("ip", args);
            var started = new LabProcess(ns, ProcessRunner.Describe(argv[0], argv.Skip(1)), process, stdout, stderr, clock);
            processes.Add(started);
            return started;
        }
    }

    public LabProcess Start(LabHost host, params string[] argv) => Start(host.Namespace, argv);

    List<string> NetnsExecArgs(string ns, string[] argv)
    {
        EnsureLabNamespace(ns);
        if (argv.Length == 0) throw new ArgumentException("no command", nameof(argv));
        if (ProcessRunner.FindTool(argv[0]) is null)
            throw new FileNotFoundException($"'{argv[0]}' is not installed (run tools/Install-Prerequisites.sh as root)", argv[0]);
        var args = new List<string> { "netns", "exec", ns };
        args.AddRange(argv);
        return args;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a new thread that first entered <paramref name="ns"/> with
    /// setns(CLONE_NEWNET): sockets it creates (UDP, TCP, raw, AF_PACKET, netlink) belong to that
    /// namespace for their whole life, also when used later from other threads. The thread ends with
    /// the work, so the namespace never leaks into a pool thread. Returns the result; rethrows the
    /// work's exception; throws TimeoutException after <paramref name="timeout"/> (default 30 s).
    /// The work must be synchronous: an await would continue on a thread outside the namespace.
    /// </summary>
    public T RunIn<T>(string ns, Func<T> work, TimeSpan? timeout = null)
    {
        EnsureLabNamespace(ns);
        return RunInNamespace(ns, work, timeout ?? TimeSpan.FromSeconds(30));
    }

    public T RunIn<T>(LabHost host, Func<T> work, TimeSpan? timeout = null) => RunIn(host.Namespace, work, timeout);

    public void RunIn(string ns, Action work, TimeSpan? timeout = null) =>
        RunIn<bool>(ns, () => { work(); return true; }, timeout);

    public void RunIn(LabHost host, Action work, TimeSpan? timeout = null) => RunIn(host.Namespace, work, timeout);

    static T RunInNamespace<T>(string ns, Func<T> work, TimeSpan timeout)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                LabNative.EnterNetworkNamespace(Path.Combine(NetnsDirectory, ns));
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "netns " + ns,
        };
        thread.Start();
        if (!thread.Join(timeout))
            throw new TimeoutException($"work inside network namespace {ns} did not finish within {timeout.TotalSeconds:0.#} s");
        failure?.Throw();
        return result;
    }

    /// <summary>The kernel's identity of a namespace ("net:[4026532...]"), as /proc/PID/ns/net shows it.</summary>
    static string? NamespaceIdentity(string ns)
    {
        try
        {
            return RunInNamespace(ns, () => new FileInfo("/proc/thread-self/ns/net").LinkTarget, TimeSpan.FromSeconds(5));
        }
        catch (Exception) { return null; }
    }

    /// <summary>PIDs of the processes (other than this one) living in one of <paramref name="namespaces"/>.</summary>
    public static IReadOnlyList<int> ProcessesIn(IEnumerable<string> namespaces)
    {
        var ids = namespaces.Select(NamespaceIdentity).OfType<string>().ToHashSet();
        var found = new List<int>();
        if (ids.Count == 0) return found;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (new FileInfo(Path.Combine(dir, "ns", "net")).LinkTarget is { } id && ids.Contains(id)) found.Add(pid);
            }
            catch (Exception) { } // gone meanwhile, or a kernel thread
        }
        return found;
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>, to every process in the namespaces.</summary>
    static void KillProcessesIn(IReadOnlyCollection<string> namespaces, TimeSpan grace)
    {
        var pids = ProcessesIn(namespaces);
        if (pids.Count == 0) return;
        foreach (var pid in pids) LabNative.Kill(pid, LabNative.SIGTERM);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < grace && pids.Any(IsRunning)) Thread.Sleep(20);
        foreach (var pid in pids.Where(IsRunning)) LabNative.Kill(pid, LabNative.SIGKILL);
        clock.Restart();
        while (clock.Elapsed < TimeSpan.FromSeconds(2) && pids.Any(IsRunning)) Thread.Sleep(20);
    }

    static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return !state.StartsWith('Z') && !state.StartsWith('X');
        }
        catch (Exception) { return false; }
    }

    // ---------------------------------------------------------------- cleanup

    /// <summary>
    /// Stops the started helpers and every other process in the lab's namespaces, deletes the
    /// namespaces, checks that they are gone (throws when one is left) and removes the marker.
    /// Idempotent; bounded in time (a few seconds at worst).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        string[] owned;
        LabProcess[] started;
        lock (gate)
        {
            owned = namespaces.ToArray();
            started = processes.ToArray();
        }
        var problems = new List<string>();

        // 1. The helpers this lab started: SIGTERM to every group at once, then SIGKILL.
        foreach (var p in started)
        {
            try { p.SignalTerm(); } catch (Exception e) { problems.Add($"stopping {p}: {e.Message}"); }
        }
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(1) && started.Any(p => !p.HasExited)) Thread.Sleep(20);
        foreach (var p in started)
        {
            try { p.Stop(TimeSpan.Zero); } catch (Exception e) { problems.Add($"stopping {p}: {e.Message}"); }
        }

        // 2. Anything else still inside (a daemon that left its process group), then the namespaces.
        problems.AddRange(DeleteNamespaces(owned));

        Live.TryRemove(this, out _);
        if (problems.Count == 0)
        {
            try { File.Delete(Path.Combine(MarkerDirectory, Prefix)); } catch (IOException) { }
        }
        else
        {
            throw new InvalidOperationException($"lab {Prefix} was not cleaned up completely:\n  " + string.Join("\n  ", problems));
        }
    }

    /// <summary>Kills the processes inside, deletes the namespaces, checks; returns what went wrong.</summary>
    static List<string> DeleteNamespaces(IReadOnlyCollection<string> names)
    {
        var problems = new List<string>();
        if (names.Count == 0) return problems;
        try { KillProcessesIn(names, TimeSpan.FromSeconds(1)); }
        catch (Exception e) { problems.Add("killing processes: " + e.Message); }

        var left = names.Reverse().ToList();
        for (int attempt = 0; attempt < 3 && left.Count > 0; attempt++)
        {
            if (attempt > 0) Thread.Sleep(200);
            foreach (var ns in left)
                ProcessRunner.Run("ip", ["netns", "delete", ns], TimeSpan.FromSeconds(5));
            var existing = ListNamespaces().ToHashSet();
            left = left.Where(existing.Contains).ToList();
        }
        foreach (var ns in left) problems.Add($"namespace {ns} still exists after `ip netns delete`");
        return problems;
    }

    /// <summary>
    /// Removes lab namespaces left by test processes that are no longer running (their marker's
    /// PID is dead or belongs to a newer process), and those markers. Namespaces of a live owner,
    /// and anything not named like a lab namespace, are left alone.
    /// </summary>
    public static IReadOnlyList<string> RemoveStale()
    {
        lock (StaleGate)
        {
            var stalePrefixes = new HashSet<string>();
            var stale = new List<string>();
            foreach (var ns in ListNamespaces())
            {
                int dash = ns.IndexOf('-');
                if (dash < 0 || !LabPrefixPattern().IsMatch(ns[..dash])) continue;
                var prefix = ns[..dash];
                if (OwnerAlive(prefix)) continue;
                stalePrefixes.Add(prefix);
                stale.Add(ns);
            }
            if (stale.Count > 0)
            {
                var problems = DeleteNamespaces(stale);
                if (problems.Count > 0)
                    throw new InvalidOperationException("could not remove namespaces left by earlier runs:\n  " + string.Join("\n  ", problems));
            }
            if (Directory.Exists(MarkerDirectory))
            {
                foreach (var marker in Directory.EnumerateFiles(MarkerDirectory))
                {
                    var prefix = Path.GetFileName(marker);
                    if (LabPrefixPattern().IsMatch(prefix) && (stalePrefixes.Contains(prefix) || !OwnerAlive(prefix)))
                    {
                        try { File.Delete(marker); } catch (IOException) { }
                    }
                }
            }
            return stale;
        }
    }

    static bool OwnerAlive(string prefix)
    {
        string text;
        try { text = File.ReadAllText(Path.Combine(MarkerDirectory, prefix)); }
        catch (Exception) { return false; } // no marker: nobody claims it
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length < 2 || !int.TryParse(parts[0], out int pid)) return false;
        return IsRunning(pid) && ProcessStartTime(pid) == parts[1];
    }

    /// <summary>Field 22 of /proc/PID/stat: tells a process from a later one that reused its PID.</summary>
    static string? ProcessStartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[19];
        }
        catch (Exception) { return null; }
    }

    /// <summary>The named network namespaces (what <c>ip netns list</c> shows).</summary>
    public static IReadOnlyList<string> ListNamespaces() =>
        Directory.Exists(NetnsDirectory)
            ? Directory.EnumerateFiles(NetnsDirectory).Select(Path.GetFileName).OfType<string>().ToList()
            : [];

    // ---------------------------------------------------------------- helpers

    LabHost NewHost(string name, bool isRouter)
    {
        string ns;
        lock (gate) ns = NewNamespaceName(name);
        CreateNamespace(ns);
        // No duplicate address detection anywhere in a host: addresses are usable at once.
        Sysctl(ns, "net.ipv6.conf.all.accept_dad", "0");
        Sysctl(ns, "net.ipv6.conf.default.accept_dad", "0");
        Ip(ns, "link", "set", "lo", "up");
        var host = new LabHost(name, ns, isRouter);
        lock (gate) hosts.Add(host);
        return host;
    }

    string NewNamespaceName(string name)
    {
        EnsureOpen();
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"'{name}': use 1-23 lower-case letters, digits and dashes", nameof(name));
        var ns = $"{Prefix}-{name}";
        if (namespaces.Contains(ns)) throw new ArgumentException($"this lab already has '{name}'", nameof(name));
        namespaces.Add(ns); // tracked before it exists, so a failure half-way is still cleaned up
        return ns;
    }

    void CreateNamespace(string ns) => ProcessRunner.Run("ip", ["netns", "add", ns], DefaultTimeout).EnsureSuccess();

    /// <summary>Runs <c>ip -n NS ARGS</c> and throws with its output when it fails.</summary>
    public ProcessResult Ip(string ns, params string[] args)
    {
        EnsureLabNamespace(ns);
        var all = new List<string> { "-n", ns };
        all.AddRange(args);
        return ProcessRunner.Run("ip", all, DefaultTimeout).EnsureSuccess();
    }

    void EnsureLabNamespace(string ns)
    {
        EnsureOpen();
        lock (gate)
        {
            if (!namespaces.Contains(ns))
                throw new ArgumentException($"'{ns}' is not a namespace of lab {Prefix}", nameof(ns));
        }
    }

    void EnsureBridge(string bridge)
    {
        EnsureOpen();
        lock (gate)
        {
            if (!bridges.Contains(bridge)) throw new ArgumentException($"'{bridge}' is not a segment of lab {Prefix}", nameof(bridge));
        }
    }

    void EnsureOpen() => ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);

    static string NormaliseMac(string mac)
    {
        var parts = mac.Split(':', '-');
        if (parts.Length != 6 || parts.Any(p => p.Length != 2 || !byte.TryParse(p, System.Globalization.NumberStyles.HexNumber, null, out _)))
            throw new ArgumentException($"'{mac}' is not a MAC address like 02:00:00:00:00:01", nameof(mac));
        if ((Convert.ToByte(parts[0], 16) & 1) != 0)
            throw new ArgumentException($"'{mac}' is a multicast MAC address", nameof(mac));
        return string.Join(':', parts).ToLowerInvariant();
    }

    /// <summary>Parses "address/length" and refuses anything outside the documentation prefixes.</summary>
    public static (IPAddress Address, int PrefixLength) ParseCidr(string cidr)
    {
        var slash = cidr.IndexOf('/');
        if (slash < 0 || !int.TryParse(cidr[(slash + 1)..], out int length))
            throw new ArgumentException($"'{cidr}' is not address/prefix-length", nameof(cidr));
        var address = ParseAllowedAddress(cidr[..slash], nameof(cidr));
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var allowed = AllowedNetworks.First(n => new IPNetwork(n.Network, n.Length).Contains(address));
        if (length < allowed.Length || length > max)
            throw new ArgumentException($"'{cidr}' reaches outside {allowed.Network}/{allowed.Length}", nameof(cidr));
        return (address, length);
    }

    static IPAddress ParseAllowedAddress(string text, string parameter)
    {
        if (!IPAddress.TryParse(text, out var address) || text.Contains('%'))
            throw new ArgumentException($"'{text}' is not an IP address", parameter);
        if (!AllowedNetworks.Any(n => new IPNetwork(n.Network, n.Length).Contains(address)))
            throw new ArgumentException(
                $"'{text}' is outside the documentation prefixes the lab may use (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, fe80::/10)",
                parameter);
        return address;
    }

    public override string ToString() => $"NetLab {Prefix} ({Namespaces.Count} namespaces)";
}

/// <summary>One interface of a router: its segment, fixed MAC and addresses.</summary>
public sealed record LabLeg(string Bridge, string Mac, params string[] Addresses);

/// <summary>A host (or router) of a lab: a namespace with one interface per segment it is on.</summary>
public sealed class LabHost
{
    internal readonly List<LabInterface> InterfaceList = [];

    internal LabHost(string name, string ns, bool isRouter)
    {
        Name = name;
        Namespace = ns;
        IsRouter = isRouter;
    }

    public string Name { get; }
    public string Namespace { get; }
    public bool IsRouter { get; }
    public IReadOnlyList<LabInterface> Interfaces { get { lock (InterfaceList) return InterfaceList.ToArray(); } }
    /// <summary>The first interface's name (eth0).</summary>
    public string Interface => GetInterface(null).Name;
    /// <summary>The first interface's MAC, lower case with colons.</summary>
    public string Mac => GetInterface(null).Mac;
    /// <summary>Every address with its prefix length, all interfaces.</summary>
    public IReadOnlyList<string> Addresses => Interfaces.SelectMany(i => i.Addresses).ToArray();
    /// <summary>The first IPv4 address (no prefix length), or null.</summary>
    public IPAddress? IPv4 => First(AddressFamily.InterNetwork);
    /// <summary>The first IPv6 address that is not link-local (no prefix length), or null.</summary>
    public IPAddress? IPv6 => First(AddressFamily.InterNetworkV6);

    IPAddress? First(AddressFamily family) =>
        Addresses.Select(a => IPAddress.Parse(a[..a.IndexOf('/')]))
            .FirstOrDefault(a => a.AddressFamily == family && !a.IsIPv6LinkLocal);

    internal LabInterface GetInterface(string? name)
    {
        lock (InterfaceList)
        {
            if (InterfaceList.Count == 0) throw new InvalidOperationException($"{Name} has no interface yet");
            if (name is null) return InterfaceList[0];
            return InterfaceList.FirstOrDefault(i => i.Name == name)
                ?? throw new ArgumentException($"{Name} has no interface {name}", nameof(name));
        }
    }

    public override string ToString() => $"{Name} ({Namespace})";
}

/// <summary>A host's veth: its name inside the host, the segment, the bridge port, MAC and addresses.</summary>
public sealed class LabInterface
{
    readonly List<string> addresses = [];

    internal LabInterface(string name, string bridge, string bridgePort, string mac)
    {
        Name = name;
        Bridge = bridge;
        BridgePort = bridgePort;
        Mac = mac;
    }

    public string Name { get; }
    /// <summary>The segment's namespace.</summary>
    public string Bridge { get; }
    /// <summary>The other end of the veth, a port of br0 in the segment's namespace.</summary>
    public string BridgePort { get; }
    public string Mac { get; }
    public IReadOnlyList<string> Addresses { get { lock (addresses) return addresses.ToArray(); } }

    internal void Add(string cidr) { lock (addresses) addresses.Add(cidr); }
    internal void Remove(string cidr) { lock (addresses) addresses.Remove(cidr); }

    public override string ToString() => $"{Name} {Mac} [{string.Join(", ", Addresses)}]";
}
