using System.Net;
using System.Net.Sockets;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Net.Probing;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace KonvoyLb.Engine.Net.Ssh;

/// <summary>How to reach the inventory's hosts over SSH.</summary>
public sealed record SshOptions
{
    /// <summary>OpenSSH's known_hosts (~/.ssh/known_hosts): every host key is checked against it.</summary>
    public string KnownHostsPath { get; init; } = "";
    /// <summary>Trust and record a host that known_hosts does not know yet (ssh's accept-new); never a changed key.</summary>
    public bool AcceptNewHostKey { get; init; }
    /// <summary>Private keys to offer, besides the inventory's ansible_ssh_private_key_file (-SshKeyPath; else ~/.ssh/id_*).</summary>
    public IReadOnlyList<string> KeyPaths { get; init; } = [];
    /// <summary>The ssh-agent's socket (SSH_AUTH_SOCK); null or empty: no agent.</summary>
    public string? AgentSocketPath { get; init; }
    /// <summary>The user instead of ansible_user (-Credential).</summary>
    public string? User { get; init; }
    /// <summary>-Credential's password: password authentication, and the passphrase of an encrypted key.</summary>
    public string? Password { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Hosts probed at the same time.</summary>
    public int ThrottleLimit { get; init; } = 8;
}

/// <summary>One host's results, or why it has none (faults are per host: the others go on).</summary>
public sealed record HostProbe(InventoryHost Host, IReadOnlyList<VipProbeResult> Results, IReadOnlyList<LbException> Faults);

/// <summary>
/// Test-LbVipReachability -FromInventory: every host of the inventory probes the addresses with its own tools
/// (<see cref="RemoteProbe"/>), in one SSH session per host, hosts in parallel (bounded), through the bastion when the
/// inventory has one, as Konvoy's own connections go. Host keys are checked against known_hosts.
/// </summary>
public static class InventoryProber
{
    public static async Task<List<HostProbe>> RunAsync(Inventory inventory, IReadOnlyList<InventoryHost> hosts, IReadOnlyList<ProbeTarget> targets,
        ProbeOptions probe, SshOptions ssh, IProgress<int>? progress, CancellationToken cancel)
    {
        var login = new Login(KnownHosts.Load(ssh.KnownHostsPath), ssh.AgentSocketPath);
        var bastionHost = inventory.Bastions.FirstOrDefault();
        SshClient? bastion = null;
        if (bastionHost is not null)
        {
            try { bastion = await ConnectAsync(bastionHost, bastionHost.Ssh.Host, bastionHost.Ssh.Port, login, ssh, cancel).ConfigureAwait(false); }
            catch (LbException e)
            {
                // Without the bastion no host can be reached: each gets the bastion's fault.
                return hosts.Select(h => new HostProbe(h, [], [new LbException(e.Id, $"{h.Address}: not probed, the bastion {bastionHost.Address} failed: {e.Message}", h.Address, fix: e.Fix, inner: e)])).ToList();
            }
        }
        try
        {
            var throttle = new SemaphoreSlim(Math.Max(1, ssh.ThrottleLimit));
            int done = 0;
            var nodeAddresses = inventory.Nodes.Select(h => h.IP).OfType<IPAddress>().Where(ip => targets.All(t => !t.Address.Equals(ip))).ToList();
            return (await Task.WhenAll(hosts.Select(async host =>
            {
                await throttle.WaitAsync(cancel).ConfigureAwait(false);
                try { return await ProbeHostAsync(host, bastion, targets, nodeAddresses, login, probe, ssh, cancel).ConfigureAwait(false); }
                finally
                {
                    throttle.Release();
                    progress?.Report(Interlocked.Increment(ref done));
                }
            })).ConfigureAwait(false)).ToList();
        }
        finally { bastion?.Dispose(); }
    }

    static async Task<HostProbe> ProbeHostAsync(InventoryHost host, SshClient? bastion, IReadOnlyList<ProbeTarget> targets, List<IPAddress> nodeAddresses,
        Login login, ProbeOptions probe, SshOptions ssh, CancellationToken cancel)
    {
        ForwardedPortLocal? tunnel = null;
        try
        {
            string connectHost = host.Ssh.Host;
            int connectPort = host.Ssh.Port;
            if (bastion is not null)
            {
                tunnel = new ForwardedPortLocal("127.0.0.1", host.Ssh.Host, (uint)host.Ssh.Port);
                bastion.AddForwardedPort(tunnel);
                tunnel.Start();
                (connectHost, connectPort) = ("127.0.0.1", (int)tunnel.BoundPort);
            }
            using var client = await ConnectAsync(host, connectHost, connectPort, login, ssh, cancel).ConfigureAwait(false);
            // The nodes are probed too, only to learn their MACs (an answer from a node is told from a foreign one).
            var all = targets.Concat(nodeAddresses.Select(ip => new ProbeTarget(ip, null))).ToList();
            var script = RemoteProbe.Script(all.Select(t => t.Address), probe.Timeout, probe.TcpPort);
            using var command = client.CreateCommand("sh -c " + Quote(script));
            // A guard against a hung host, not a pace: the probes of a round take about two timeouts, but a busy host
            // may need far longer to start its hundreds of probe processes.
            command.CommandTimeout = TimeSpan.FromSeconds(60) + all.Count * (probe.Timeout + TimeSpan.FromSeconds(1));
            try { await command.ExecuteAsync(cancel).ConfigureAwait(false); }
            catch (SshOperationTimeoutException e)
            {
                return new HostProbe(host, [], [new LbException(ErrorId.SshCommandFailed, $"{host.Address}: the probes did not finish within {command.CommandTimeout.TotalSeconds:0} s.", host.Address,
                    fix: "Probe fewer addresses at once (-Pool), or check the host's load.", inner: e)]);
            }
            var output = command.Result;
            if (!output.Contains("KLB-END", StringComparison.Ordinal) && command.ExitStatus != 0)
                return new HostProbe(host, [], [new LbException(ErrorId.SshCommandFailed, $"{host.Address}: the probe script failed (exit {command.ExitStatus}): {command.Error.Trim()}", host.Address,
                    fix: "The host needs a POSIX sh; read the message above.")]);
            var (evidence, notes) = RemoteProbe.Parse(output, all, host.Address, probe.TcpPort is not null);
            var nodes = nodeAddresses.ToHashSet();
            var nodeMacs = new Dictionary<string, string>();
            foreach (var e in evidence.Where(e => nodes.Contains(e.Target.Address)))
                foreach (var mac in e.Macs) nodeMacs.TryAdd(mac, e.Target.Address.ToString());
            var results = evidence.Where(e => !nodes.Contains(e.Target.Address)).Select(e => VipJudgement.Judge(e, nodeMacs, inventoryKnown: true)).ToList();
            return new HostProbe(host, results, HostFaults(host, notes, targets, probe.TcpPort is not null, ssh));
        }
        catch (LbException e) { return new HostProbe(host, [], [e]); }
        catch (Exception e) when (e is SshException or SocketException or IOException)
        {
            return new HostProbe(host, [], [Unreachable(host, e)]);
        }
        finally
        {
            if (tunnel is not null)
            {
                try { tunnel.Stop(); } catch (Exception) { }
                tunnel.Dispose();
            }
        }
    }

    /// <summary>What the host lacked, each a fault of that host alone; the probes it could run still count.</summary>
    public static List<LbException> HostFaults(InventoryHost host, RemoteNotes notes, IReadOnlyList<ProbeTarget> targets, bool tcp, SshOptions ssh)
    {
        var faults = new List<LbException>();
        var missing = notes.MissingTools.ToHashSet();
        bool v4 = targets.Any(t => t.Address.AddressFamily == AddressFamily.InterNetwork), v6 = targets.Any(t => t.Address.AddressFamily == AddressFamily.InterNetworkV6);
        var skipped = new List<string>();
        if (missing.Contains("ip")) skipped.Add("ip (iproute2): no route look-up, so no link-layer probe");
        if (missing.Contains("ping")) skipped.Add("ping (iputils-ping): no ICMP probe, so the statuses are Untested");
        if (v4 && missing.Contains("arping")) skipped.Add("arping: the neighbour table after the ping answered instead of an ARP probe");
        if (v6 && missing.Contains("ndisc6")) skipped.Add("ndisc6: the neighbour table after the ping answered instead of an NDP probe");
        if (tcp && missing.Contains("nc")) skipped.Add("nc (netcat): no TCP connect");
        if (skipped.Count > 0)
            faults.Add(new LbException(ErrorId.RemoteToolsMissing, $"{host.Address}: missing {string.Join("; ", skipped)}.", host.Address,
                fix: "Install them on the host (Debian: apt install iproute2 iputils-ping arping ndisc6 netcat-openbsd), or read its results knowing what was skipped."));
        if (notes.ArpingNeedsRoot || notes.PingNeedsRoot)
        {
            var tools = string.Join(" and ", new[] { notes.ArpingNeedsRoot ? "arping" : null, notes.PingNeedsRoot ? "ping" : null }.OfType<string>());
            var why = notes.IsRoot
                ? $"{tools} needs CAP_NET_RAW there, which this root session lacks (a container, or an sshd started without it)"
                : $"{tools} needs root there (logged in as {ssh.User ?? host.Ssh.User ?? "a user"}, without CAP_NET_RAW)";
            var instead = notes.PingNeedsRoot ? "the addresses it could not ping are Untested" : "the neighbour table after the ping answered instead";
            faults.Add(new LbException(ErrorId.RemoteArpingNeedsRoot, $"{host.Address}: {why}; {instead}.", host.Address,
                fix: notes.IsRoot
                    ? "Probe through the host's own sshd, whose root sessions have CAP_NET_RAW."
                    : $"Log in as root (ansible_user: root, or -Credential root), or give the tool CAP_NET_RAW on the host (setcap cap_net_raw+ep {(notes.ArpingNeedsRoot ? "/usr/sbin/arping" : "/usr/bin/ping")})."));
        }
        return faults;
    }

    /// <summary>What every login of a run shares: known_hosts, and the ssh-agent (asked for its keys once) or why there is none.</summary>
    sealed class Login
    {
        public KnownHosts Known { get; }
        public SshAgent? Agent { get; }
        /// <summary>The agent, or why there is none, as a clause: "there is no ssh-agent (SSH_AUTH_SOCK is not set)".</summary>
        public string AgentState { get; }

        public Login(KnownHosts known, string? agentSocket)
        {
            Known = known;
            if (string.IsNullOrEmpty(agentSocket)) AgentState = "there is no ssh-agent (SSH_AUTH_SOCK is not set)";
            else
            {
                try
                {
                    Agent = SshAgent.Connect(agentSocket);
                    AgentState = Agent.Keys.Count == 0 ? $"the ssh-agent at {agentSocket} holds no keys" : $"the ssh-agent at {agentSocket} holds {Agent.Keys.Count} keys";
                    if (Agent.Keys.Count == 0) Agent = null;
                }
                catch (IOException e) { AgentState = $"the ssh-agent at {agentSocket} cannot be reached ({e.Message})"; }
            }
        }

        public bool AgentHolds(byte[]? blob) => blob is not null && Agent is not null && Agent.Keys.Any(k => k.Blob.AsSpan().SequenceEqual(blob));
    }

    /// <summary>
    /// The keys to offer, as ssh offers them: the named ones (the inventory's, -SshKeyPath) first, then the agent's
    /// (each key once: not those a file offers already), and ~/.ssh's usual keys only when none is named, passing over
    /// those that cannot be used, as ssh does. A named key that cannot be used is an error, unless the agent holds it.
    /// What is offered (and passed over) goes to <paramref name="offered"/>, for the message of a refused login.
    /// </summary>
    static List<IPrivateKeySource> KeysToOffer(InventoryHost host, Login login, SshOptions ssh, List<string> offered, List<string> refusals)
    {
        var named = new List<string>();
        if (host.Ssh.KeyFile is { } file) named.Add(Expand(file));
        named.AddRange(ssh.KeyPaths.Select(Expand));
        bool defaults = named.Count == 0;
        var paths = defaults ? new[] { "id_ed25519", "id_ecdsa", "id_rsa" }.Select(n => Expand($"~/.ssh/{n}")).Where(File.Exists).ToList() : named;
        var files = new List<IPrivateKeySource>();
        var fileBlobs = new List<byte[]>();
        foreach (var path in paths.Distinct())
        {
            if (!File.Exists(path))
                throw new LbException(ErrorId.SshAuthenticationFailed, $"{host.Address}: the private key '{path}' does not exist.", host.Address,
                    fix: "Fix ansible_ssh_private_key_file in the inventory, or give -SshKeyPath.");
            var blob = SshAgent.PublicBlobOf(path);
            try
            {
                files.Add(ssh.Password is null ? new PrivateKeyFile(path) : new PrivateKeyFile(path, ssh.Password));
                offered.Add($"'{path}'");
                if (blob is not null) fileBlobs.Add(blob);
            }
            // Encrypted (or the passphrase is wrong), but the agent holds it: the agent signs with it.
            catch (SshException) when (login.AgentHolds(blob)) { }
            catch (SshException e) when (defaults)
            {
                offered.Add($"not '{path}' ({(e is SshPassPhraseNullOrEmptyException ? "encrypted" : e.Message)})");
            }
            catch (SshPassPhraseNullOrEmptyException)
            {
                var agent = login.Agent is null ? login.AgentState
                    : blob is null ? $"whether the ssh-agent at {login.Agent.SocketPath} holds it cannot be told (no public key in it or beside it, {Path.GetFileName(path)}.pub)"
                    : $"the ssh-agent at {login.Agent.SocketPath} does not hold it";
                throw new LbException(ErrorId.SshAuthenticationFailed, $"{host.Address}: the private key '{path}' is encrypted, and {agent}.", host.Address,
                    fix: "Add it to the ssh-agent (ssh-add), or give its passphrase as the password of -Credential (Get-Credential).");
            }
            catch (SshException e)
            {
                throw new LbException(ErrorId.SshAuthenticationFailed, $"{host.Address}: the private key '{path}' cannot be used: {e.Message}", host.Address,
                    fix: "Check the passphrase (-Credential) and the key's format (OpenSSH or PEM).", inner: e);
            }
        }
        var keys = new List<IPrivateKeySource>();
        if (!defaults) keys.AddRange(files);
        if (login.Agent?.KeysFor(fileBlobs, refusals) is { Keys.Count: > 0 } agentKeys)
        {
            keys.Add(agentKeys);
            offered.AddRange(agentKeys.Keys.Select(k => $"the agent's {k.Type} '{k.Comment}'"));
        }
        if (defaults) keys.AddRange(files);
        return keys;
    }

    static async Task<SshClient> ConnectAsync(InventoryHost host, string connectHost, int connectPort, Login login, SshOptions ssh, CancellationToken cancel)
    {
        var known = login.Known;
        var user = ssh.User ?? host.Ssh.User ?? Environment.UserName;
        var methods = new List<AuthenticationMethod>();
        var offered = new List<string>();
        var refusals = new List<string>();
        var keys = KeysToOffer(host, login, ssh, offered, refusals);
        if (keys.Count > 0) methods.Add(new PrivateKeyAuthenticationMethod(user, keys.ToArray()));
        if (ssh.Password is not null)
        {
            methods.Add(new PasswordAuthenticationMethod(user, ssh.Password));
            offered.Add("the password of -Credential");
        }
        if (methods.Count == 0)
            throw new LbException(ErrorId.SshAuthenticationFailed, $"{host.Address}: no key to log in with: the inventory names none, -SshKeyPath is not given, ~/.ssh has no id_ed25519, id_ecdsa or id_rsa, and {login.AgentState}.", host.Address,
                fix: "Give -SshKeyPath (the key Konvoy uses), add the key to an ssh-agent (ssh-add), or give -Credential for a password.");

        var info = new ConnectionInfo(connectHost, connectPort, user, methods.ToArray()) { Timeout = ssh.ConnectTimeout };
        var client = new SshClient(info);
        HostKeyVerdict? refused = null;
        string seen = "";
        IReadOnlyList<string> expected = [];
        client.HostKeyReceived += (_, e) =>
        {
            var verdict = known.Check(host.Ssh.Host, host.Ssh.Port, e.HostKeyName, e.HostKey, out expected);
            seen = $"{e.HostKeyName} {KnownHosts.Fingerprint(e.HostKey)}";
            if (verdict == HostKeyVerdict.Unknown && ssh.AcceptNewHostKey)
            {
                known.Add(host.Ssh.Host, host.Ssh.Port, e.HostKeyName, e.HostKey);
                verdict = HostKeyVerdict.Known;
            }
            e.CanTrust = verdict == HostKeyVerdict.Known;
            if (!e.CanTrust) refused = verdict;
        };
        using var stop = cancel.Register(client.Dispose);
        try
        {
            await client.ConnectAsync(cancel).ConfigureAwait(false);
            return client;
        }
        // sshd ends the connection after MaxAuthTries refused keys: a refused login too, not an unreachable host.
        catch (Exception e) when (refused is not null || e is SshAuthenticationException ||
                                  e is SshConnectionException && e.Message.Contains("authentication failures", StringComparison.OrdinalIgnoreCase))
        {
            client.Dispose();
            if (refused == HostKeyVerdict.Mismatch)
                throw new LbException(ErrorId.SshHostKeyMismatch, $"{host.Address}: the host key of {KnownHosts.NameOf(host.Ssh.Host, host.Ssh.Port)} is {seen}, but {known.Path} knows it as {string.Join(" or ", expected.DefaultIfEmpty("revoked"))}: someone may be in the middle, or the host was reinstalled.", host.Address,
                    fix: $"Check the new key on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); if it is right, remove the old line (ssh-keygen -R {KnownHosts.NameOf(host.Ssh.Host, host.Ssh.Port)}) and connect again.", inner: e);
            if (refused == HostKeyVerdict.Unknown)
                throw new LbException(ErrorId.SshHostKeyUnknown, $"{host.Address}: {known.Path} does not know {KnownHosts.NameOf(host.Ssh.Host, host.Ssh.Port)}, whose host key is {seen}.", host.Address,
                    fix: "Connect once with ssh and check the fingerprint, or give -AcceptNewHostKey to record it (never a changed one).", inner: e);
            throw new LbException(ErrorId.SshAuthenticationFailed, $"{host.Address}: {user}@{KnownHosts.NameOf(host.Ssh.Host, host.Ssh.Port)} refused the login with {string.Join(", ", offered)}: {e.Message}{(refusals.Count > 0 ? $" ({string.Join("; ", refusals.Distinct())})" : "")}", host.Address,
                fix: "Check ansible_user and the key (ansible_ssh_private_key_file, -SshKeyPath), or -Credential.", inner: e);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            client.Dispose();
            throw Unreachable(host, e);
        }
    }

    static LbException Unreachable(InventoryHost host, Exception e) =>
        new(ErrorId.SshUnreachable, $"{host.Address}: cannot reach {KnownHosts.NameOf(host.Ssh.Host, host.Ssh.Port)} over SSH: {e.Message}", host.Address,
            fix: "Check that the host is up and sshd listens there (ansible_host, ansible_port), and the bastion if the inventory has one.", inner: e);

    static string Expand(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal) ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]) : path;

    /// <summary>One argument for sh -c: single-quoted, each ' written as '\''.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
