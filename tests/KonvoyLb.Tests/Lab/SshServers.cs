using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace KonvoyLb.Tests.Lab;

/// <summary>
/// One real OpenSSH sshd in each of some lab hosts, listening on the host's first IPv4 address, so
/// that a client in another lab namespace (the OpenSSH client through <see cref="NetLab.Exec(LabHost, string[])"/>,
/// or .NET code through <see cref="NetLab.RunIn(LabHost, Action, TimeSpan?)"/>) can log in as root with
/// a key, and its commands run inside that host's namespace. Everything (configuration, host keys,
/// client keys, authorized_keys, PID files) lives in a private temporary directory; no configuration
/// or key of /etc/ssh is used, nothing under /root/.ssh is read or written, and the system's sshd is
/// never touched (only /run/sshd, its privilege-separation directory, is made when missing). The daemons
/// are started through <see cref="NetLab.Start(LabHost, string[])"/> in the foreground, so the lab
/// stops them at the latest on its Dispose.
/// </summary>
/// <remarks>
/// Each sshd has one host key (ed25519). Login: root, public key only (no password, no PAM, no
/// keyboard-interactive). <see cref="ClientKeyPath"/> and <see cref="EncryptedClientKeyPath"/> are
/// authorized on every host, <see cref="WrongKeyPath"/> nowhere. Sessions run as root with the
/// working directory /root, but with HOME set to DIRECTORY/HOST/home (sshd_config SetEnv): bash
/// sources ~/.bashrc even for a command over ssh, and root's real dotfiles (a slow ~/.bashrc, ~/.ssh)
/// must not take part in the tests.
/// </remarks>
public sealed class SshServers : IDisposable
{
    /// <summary>The user <see cref="Restrict"/> adds (uid and gid 1500), who may log in with <see cref="ClientKeyPath"/>.</summary>
    public const string UnprivilegedUser = "klbprobe";

    /// <summary>The passphrase of <see cref="EncryptedClientKeyPath"/>.</summary>
    public const string Passphrase = "lab-passphrase";

    /// <summary>sshd's privilege-separation directory (compiled into Debian's sshd; must exist, root-owned, 0755).</summary>
    const string PrivilegeSeparationDirectory = "/run/sshd";
    const string Sshd = "/usr/sbin/sshd";
    const string DirectoryPrefix = "konvoylb-ssh-";
    const string LabFile = "lab";
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    sealed class Server(LabHost host, string directory)
    {
        public readonly LabHost Host = host;
        public readonly string Directory = directory;
        public readonly StringBuilder EarlierLog = new();
        public LabProcess? Process;
        /// <summary><see cref="Restrict"/>: paths that are /dev/null in the sshd's mount namespace, and the unprivileged user.</summary>
        public IReadOnlyList<string> HiddenTools = [];
        public bool UnprivilegedUser;
        public string Config => Path.Combine(Directory, "sshd_config");
        public string HostKey => Path.Combine(Directory, "ssh_host_ed25519_key");
        public string Home => Path.Combine(Directory, "home");
        public string Passwd => Path.Combine(Directory, "passwd");
        public string Group => Path.Combine(Directory, "group");
        public string UserAuthorizedKeys => Path.Combine(Directory, "authorized_keys_" + SshServers.UnprivilegedUser);
    }

    readonly NetLab lab;
    readonly Dictionary<LabHost, Server> servers = [];
    readonly object gate = new();
    int knownHostsCounter;
    int disposed;

    SshServers(NetLab lab, string directory, int port)
    {
        this.lab = lab;
        Directory = directory;
        Port = port;
    }

    /// <summary>The private temporary directory holding every file of the servers and the client keys.</summary>
    public string Directory { get; }

    /// <summary>The TCP port every sshd listens on (on its host's first IPv4 address).</summary>
    public int Port { get; }

    /// <summary>The hosts running an sshd, in the order given to <see cref="Start"/>.</summary>
    public IReadOnlyList<LabHost> Hosts { get; private set; } = [];

    /// <summary>Private key (ed25519, unencrypted, OpenSSH format) authorized for root on every host; its public key is next to it (.pub).</summary>
    public string ClientKeyPath => Path.Combine(Directory, "client_ed25519");

    /// <summary>Private key (ed25519, OpenSSH format, encrypted with <see cref="Passphrase"/>) authorized for root on every host.</summary>
    public string EncryptedClientKeyPath => Path.Combine(Directory, "client_encrypted_ed25519");

    /// <summary>Private key (ed25519, unencrypted) authorized nowhere: a login with it is refused.</summary>
    public string WrongKeyPath => Path.Combine(Directory, "wrong_ed25519");

    string AuthorizedKeys => Path.Combine(Directory, "authorized_keys");

    // ---------------------------------------------------------------- start / stop

    /// <summary>
    /// Generates the client keys and, per host, a host key and an sshd_config in a new temporary
    /// directory, starts an sshd inside each host's namespace listening on its first IPv4 address and
    /// <paramref name="port"/>, and waits until each one sends its SSH banner there. Throws with
    /// sshd's output when one does not come up. First deletes the directories that crashed runs left
    /// (those whose lab has no marker any more).
    /// </summary>
    public static SshServers Start(NetLab lab, IEnumerable<LabHost> hosts, int port = 22)
    {
        ArgumentNullException.ThrowIfNull(lab);
        ArgumentNullException.ThrowIfNull(hosts);
        var list = hosts.ToList();
        if (list.Count == 0) throw new ArgumentException("no hosts", nameof(hosts));
        if (list.Distinct().Count() != list.Count) throw new ArgumentException("a host is given twice", nameof(hosts));
        foreach (var h in list)
        {
            if (!lab.Hosts.Contains(h)) throw new ArgumentException($"{h} is not a host of lab {lab.Prefix}", nameof(hosts));
            if (h.IPv4 is null) throw new ArgumentException($"{h} has no IPv4 address for sshd to listen on", nameof(hosts));
        }
        if (port is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(port));
        if (ProcessRunner.FindTool(Sshd) is null || ProcessRunner.FindTool("ssh-keygen") is null)
            throw new FileNotFoundException("OpenSSH (sshd, ssh-keygen) is not installed (run tools/Install-Prerequisites.sh as root)");
        EnsurePrivilegeSeparationDirectory();
        RemoveStaleDirectories();

        var dir = System.IO.Directory.CreateTempSubdirectory(DirectoryPrefix).FullName;
        var servers = new SshServers(lab, dir, port);
        try
        {
            File.WriteAllText(Path.Combine(dir, LabFile), lab.Prefix + "\n");
            GenerateKey(servers.ClientKeyPath, "", "konvoylb-lab-client");
            GenerateKey(servers.EncryptedClientKeyPath, Passphrase, "konvoylb-lab-client-encrypted");
            GenerateKey(servers.WrongKeyPath, "", "konvoylb-lab-wrong");
            File.WriteAllText(servers.AuthorizedKeys,
                File.ReadAllText(servers.ClientKeyPath + ".pub") + File.ReadAllText(servers.EncryptedClientKeyPath + ".pub"));
            foreach (var h in list)
            {
                var server = new Server(h, Path.Combine(dir, h.Name));
                System.IO.Directory.CreateDirectory(server.Home);
                GenerateKey(server.HostKey, "", $"konvoylb-lab-{h.Name}");
                File.WriteAllText(server.Config, servers.ConfigText(server));
                lock (servers.gate) servers.servers[h] = server;
            }
            servers.Hosts = list;
            // All daemons at once, then wait for each.
            foreach (var h in list) servers.Launch(servers.servers[h]);
            foreach (var h in list) servers.WaitUntilListening(servers.servers[h]);
            return servers;
        }
        catch
        {
            servers.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Stops the sshd of <paramref name="host"/> and drops its open sessions (the listener, its
    /// connection processes and what they run), like a host whose sshd went away: new connections are
    /// refused (TCP RST) while the host itself stays up. Does nothing when it is already stopped.
    /// </summary>
    public void Stop(LabHost host)
    {
        var server = Get(host);
        lock (gate) StopServer(server);
    }

    /// <summary>Starts the sshd of <paramref name="host"/> again (stopping it first if it runs), with the same keys and configuration.</summary>
    public void Restart(LabHost host)
    {
        var server = Get(host);
        lock (gate)
        {
            StopServer(server);
            Launch(server);
            WaitUntilListening(server);
        }
    }

    /// <summary>
    /// Gives <paramref name="host"/> a new ed25519 host key and restarts its sshd: a known_hosts line
    /// written before now mismatches ("REMOTE HOST IDENTIFICATION HAS CHANGED"), while
    /// <see cref="KnownHostsLine"/> and <see cref="Fingerprint"/> describe the new key.
    /// </summary>
    public void ChangeHostKey(LabHost host)
    {
        var server = Get(host);
        lock (gate)
        {
            StopServer(server);
            File.Delete(server.HostKey);
            File.Delete(server.HostKey + ".pub");
            GenerateKey(server.HostKey, "", $"konvoylb-lab-{host.Name}");
            Launch(server);
            WaitUntilListening(server);
        }
    }

    /// <summary>
    /// Restarts the sshd of <paramref name="host"/> so that its sessions see a less complete host: each tool of
    /// <paramref name="hideTools"/> is not installed (every path of it on the tool path is /dev/null, which no shell
    /// finds or runs), and with <paramref name="unprivilegedUser"/> the user <see cref="UnprivilegedUser"/> exists and
    /// may log in with <see cref="ClientKeyPath"/>, with the privileges of any user: Debian's ping works (its file
    /// capability), arping does not. Both live in a mount namespace of the sshd's own (/etc/passwd and /etc/group
    /// bind-mounted from copies): nothing outside it changes.
    /// </summary>
    public void Restrict(LabHost host, IEnumerable<string> hideTools, bool unprivilegedUser)
    {
        var server = Get(host);
        var hidden = hideTools.SelectMany(t => ProcessRunner.ToolPath.Split(':').Select(d => Path.Combine(d, t)).Where(File.Exists)).Distinct().ToList();
        lock (gate)
        {
            StopServer(server);
            server.HiddenTools = hidden;
            server.UnprivilegedUser = unprivilegedUser;
            if (unprivilegedUser)
            {
                File.WriteAllText(server.Passwd, File.ReadAllText("/etc/passwd").TrimEnd('\n') + $"\n{UnprivilegedUser}:x:1500:1500:KonvoyLb lab:/:/bin/sh\n");
                File.WriteAllText(server.Group, File.ReadAllText("/etc/group").TrimEnd('\n') + $"\n{UnprivilegedUser}:x:1500:\n");
                // sshd reads authorized_keys as the user: a copy the user may read, in directories it may pass.
                File.WriteAllText(server.UserAuthorizedKeys, File.ReadAllText(ClientKeyPath + ".pub"));
                File.SetUnixFileMode(server.UserAuthorizedKeys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                const UnixFileMode Traverse = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
                File.SetUnixFileMode(Directory, Traverse);
                File.SetUnixFileMode(server.Directory, Traverse);
            }
            File.WriteAllText(server.Config, ConfigText(server));
            Launch(server);
            WaitUntilListening(server);
        }
    }

    /// <summary>Everything the sshd of <paramref name="host"/> wrote to standard error so far (LogLevel VERBOSE), over all its starts.</summary>
    public string Log(LabHost host)
    {
        var server = Get(host);
        lock (gate) return server.EarlierLog + (server.Process?.StdErr ?? "");
    }

    /// <summary>Stops every sshd (with its sessions) and deletes <see cref="Directory"/>. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        try
        {
            Server[] all;
            lock (gate) all = servers.Values.ToArray();
            foreach (var s in all)
            {
                try { lock (gate) StopServer(s); } catch (Exception) { }
            }
        }
        finally
        {
            try { System.IO.Directory.Delete(Directory, recursive: true); } catch (Exception) { }
        }
    }

    // ---------------------------------------------------------------- host keys, known_hosts

    /// <summary>
    /// The known_hosts line for <paramref name="host"/>'s current host key, as OpenSSH writes it:
    /// "192.0.2.11 ssh-ed25519 AAAA..." on port 22, "[192.0.2.11]:2222 ssh-ed25519 AAAA..." on another port.
    /// </summary>
    public string KnownHostsLine(LabHost host)
    {
        var (type, blob) = HostPublicKey(Get(host));
        return $"{KnownHostsName(host)} {type} {blob}";
    }

    /// <summary>The SHA-256 fingerprint of <paramref name="host"/>'s current host key, "SHA256:..." as <c>ssh-keygen -lf</c> prints it.</summary>
    public string Fingerprint(LabHost host)
    {
        var (_, blob) = HostPublicKey(Get(host));
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(Convert.FromBase64String(blob))).TrimEnd('=');
    }

    /// <summary>
    /// Writes a known_hosts file with the current host key of each of <paramref name="hosts"/> (to
    /// <paramref name="path"/>, or to a new file in <see cref="Directory"/>) and returns its path.
    /// </summary>
    public string WriteKnownHosts(IEnumerable<LabHost> hosts, string? path = null)
    {
        var lines = hosts.Select(KnownHostsLine).ToList();
        path ??= Path.Combine(Directory, $"known_hosts-{Interlocked.Increment(ref knownHostsCounter)}");
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        return path;
    }

    /// <summary>
    /// argv for the OpenSSH client logging in as root to <paramref name="host"/> with
    /// <paramref name="identityPath"/>, checking the host key strictly against
    /// <paramref name="knownHostsPath"/> only, non-interactively (BatchMode, no agent, no user or system
    /// ssh_config, 5 s connect timeout), and running <paramref name="command"/> there. Run it with
    /// <see cref="NetLab.Exec(LabHost, string[])"/> from another lab host.
    /// </summary>
    public string[] SshCommand(LabHost host, string identityPath, string knownHostsPath, params string[] command)
    {
        Get(host);
        var argv = new List<string>
        {
            "ssh", "-F", "/dev/null", "-i", identityPath,
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "UserKnownHostsFile=" + knownHostsPath, "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "root@" + host.IPv4,
        };
        argv.AddRange(command);
        return argv.ToArray();
    }

    string KnownHostsName(LabHost host) => Port == 22 ? $"{host.IPv4}" : $"[{host.IPv4}]:{Port}";

    static (string Type, string Blob) HostPublicKey(Server server)
    {
        var parts = File.ReadAllText(server.HostKey + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return (parts[0], parts[1]);
    }

    // ---------------------------------------------------------------- helpers

    Server Get(LabHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        lock (gate)
            return servers.TryGetValue(host, out var s) ? s : throw new ArgumentException($"{host} runs no sshd of these servers", nameof(host));
    }

    string ConfigText(Server server)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# KonvoyLb lab sshd for {server.Host}, written by SshServers");
        sb.AppendLine($"ListenAddress {server.Host.IPv4}");
        sb.AppendLine($"Port {Port}");
        sb.AppendLine("AddressFamily inet");
        sb.AppendLine($"HostKey {server.HostKey}");
        sb.AppendLine($"PidFile {Path.Combine(server.Directory, "sshd.pid")}");
        sb.AppendLine(server.UnprivilegedUser ? $"AuthorizedKeysFile {AuthorizedKeys} {Path.Combine(server.Directory, "authorized_keys_%u")}" : $"AuthorizedKeysFile {AuthorizedKeys}");
        sb.AppendLine("StrictModes no");
        sb.AppendLine("UsePAM no");
        sb.AppendLine("PermitRootLogin prohibit-password");
        sb.AppendLine("PubkeyAuthentication yes");
        sb.AppendLine("PasswordAuthentication no");
        sb.AppendLine("KbdInteractiveAuthentication no");
        sb.AppendLine("PermitEmptyPasswords no");
        sb.AppendLine("UseDNS no");
        sb.AppendLine("LogLevel VERBOSE");
        sb.AppendLine("PrintMotd no");
        sb.AppendLine("PrintLastLog no");
        // ~/.ssh/rc would be root's real one.
        sb.AppendLine("PermitUserRC no");
        // Not root's real home: Debian's bash runs ~/.bashrc for every command over ssh.
        sb.AppendLine($"SetEnv HOME={server.Home}");
        sb.AppendLine("X11Forwarding no");
        // Tests connect to many hosts at once and in quick succession: no random early drops.
        sb.AppendLine("MaxStartups 100");
        sb.AppendLine("LoginGraceTime 30");
        sb.AppendLine("Subsystem sftp internal-sftp");
        return sb.ToString();
    }

    void Launch(Server server)
    {
        string[] sshd = [Sshd, "-D", "-e", "-f", server.Config];
        var mounts = server.HiddenTools.Select(path => $"mount --bind /dev/null {path}").ToList();
        if (server.UnprivilegedUser) mounts.AddRange([$"mount --bind {server.Passwd} /etc/passwd", $"mount --bind {server.Group} /etc/group"]);
        server.Process = mounts.Count == 0
            ? lab.Start(server.Host, sshd)
            : lab.Start(server.Host, ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", string.Join("; ", mounts) + "; exec \"$@\"", "sh", .. sshd]);
    }

    /// <summary>
    /// Waits until this sshd reports that it listens (another listener on the same address and port
    /// would answer a probe too) and a banner comes from its address and port, connecting from inside the host.
    /// </summary>
    void WaitUntilListening(Server server)
    {
        var process = server.Process!;
        var endpoint = new IPEndPoint(server.Host.IPv4!, Port);
        var listening = $"Server listening on {endpoint.Address} port {Port}.";
        var clock = Stopwatch.StartNew();
        string? lastError = "no \"" + listening + "\" from sshd yet";
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"sshd on {server.Host} exited before listening on {endpoint}: {process.Stop()}\n--- {server.Config} ---\n{File.ReadAllText(server.Config)}");
            if (clock.Elapsed > StartTimeout)
                throw new TimeoutException($"sshd on {server.Host} not ready on {endpoint} within {StartTimeout.TotalSeconds:0} s (last error: {lastError})\n{process}: {process.StdErr}");
            if (process.StdErr.Contains(listening, StringComparison.Ordinal))
            {
                lastError = lab.RunIn(server.Host, () => Probe(endpoint), TimeSpan.FromSeconds(5));
                if (lastError is null) return;
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>Null when an SSH banner came from <paramref name="endpoint"/>, else what went wrong.</summary>
    static string? Probe(IPEndPoint endpoint)
    {
        try
        {
            using var client = new TcpClient(AddressFamily.InterNetwork);
            if (!client.ConnectAsync(endpoint).Wait(TimeSpan.FromSeconds(1))) return "connect timed out";
            client.ReceiveTimeout = 2000;
            var buffer = new byte[64];
            int n = client.GetStream().Read(buffer, 0, buffer.Length);
            var text = Encoding.ASCII.GetString(buffer, 0, n);
            return text.StartsWith("SSH-2.0-", StringComparison.Ordinal) ? null : $"not an SSH banner: '{text.Trim()}'";
        }
        catch (Exception e)
        {
            return (e is AggregateException { InnerException: { } inner } ? inner : e).Message;
        }
    }

    /// <summary>Stops the listener and kills what it forked (connections, sessions, their commands). Caller holds the gate.</summary>
    void StopServer(Server server)
    {
        if (server.Process is not { } process) return;
        // The connection processes call setsid, so they are not in the listener's process group:
        // find them by parentage (before the listener dies and they are reparented).
        var descendants = Descendants(process.Pid, server.Host.Namespace);
        process.Stop(TimeSpan.FromSeconds(2));
        foreach (var pid in descendants) LabNative.Kill(pid, LabNative.SIGKILL);
        server.EarlierLog.Append(process.StdErr);
        server.Process = null;
    }

    /// <summary>Processes in <paramref name="ns"/> descending from <paramref name="root"/>.</summary>
    static List<int> Descendants(int root, string ns)
    {
        var inside = NetLab.ProcessesIn([ns]);
        var parent = new Dictionary<int, int>();
        foreach (var pid in inside)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                parent[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception) { } // gone meanwhile
        }
        var result = new List<int>();
        foreach (var pid in parent.Keys)
        {
            var p = pid;
            for (int depth = 0; depth < 64 && parent.TryGetValue(p, out var pp); depth++)
            {
                if (pp == root) { result.Add(pid); break; }
                p = pp;
            }
        }
        return result;
    }

    /// <summary>
    /// Deletes the directories of servers whose lab is gone (a crashed test run): each names its lab
    /// in a file, and a live lab keeps its marker in <see cref="NetLab.MarkerDirectory"/>.
    /// </summary>
    static void RemoveStaleDirectories()
    {
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
        {
            try
            {
                var prefix = File.ReadAllText(Path.Combine(dir, LabFile)).Trim();
                if (prefix.StartsWith(NetLab.NamePrefix, StringComparison.Ordinal) && !prefix.Contains('/') &&
                    !File.Exists(Path.Combine(NetLab.MarkerDirectory, prefix)))
                    System.IO.Directory.Delete(dir, recursive: true);
            }
            catch (Exception) { } // no lab file (yet): not ours to judge
        }
    }

    static void GenerateKey(string path, string passphrase, string comment) =>
        ProcessRunner.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", path], TimeSpan.FromSeconds(10)).EnsureSuccess();

    static void EnsurePrivilegeSeparationDirectory()
    {
        if (System.IO.Directory.Exists(PrivilegeSeparationDirectory)) return;
        System.IO.Directory.CreateDirectory(PrivilegeSeparationDirectory);
        File.SetUnixFileMode(PrivilegeSeparationDirectory,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    public override string ToString() => $"SshServers on {string.Join(", ", Hosts.Select(h => h.Name))} port {Port} ({Directory})";
}
