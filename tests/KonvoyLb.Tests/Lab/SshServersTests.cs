using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Lab;

/// <summary>
/// Proves <see cref="SshServers"/> with the real OpenSSH client run from a client lab host: a login
/// with the authorized key runs its command inside the server's namespace, the host keys are what
/// ssh-keyscan and ssh-keygen see, a wrong key is refused, a changed host key is detected, a stopped
/// sshd refuses (and drops its sessions) and comes back after a restart, and the encrypted key works
/// with its passphrase only.
/// </summary>
public sealed class SshServersTests(ITestOutputHelper output)
{
    /// <summary>A lab with a client host (192.0.2.10) and servers s1, s2, ... (192.0.2.11, .12, ...).</summary>
    sealed class Rig : IDisposable
    {
        public readonly NetLab Lab = NetLab.Create();
        public LabHost Client = null!;
        public List<LabHost> Servers = [];
        public SshServers Ssh = null!;

        public void Dispose()
        {
            try { Ssh?.Dispose(); }
            finally { Lab.Dispose(); }
        }
    }

    static Rig Create(int servers = 1, int port = 22)
    {
        var rig = new Rig();
        try
        {
            rig.Client = rig.Lab.AddHost("client", "02:00:5e:30:00:0a", "192.0.2.10/24");
            for (int i = 1; i <= servers; i++)
                rig.Servers.Add(rig.Lab.AddHost($"s{i}", $"02:00:5e:30:00:{10 + i:x2}", $"192.0.2.{10 + i}/24"));
            rig.Ssh = SshServers.Start(rig.Lab, rig.Servers, port);
            return rig;
        }
        catch
        {
            rig.Dispose();
            throw;
        }
    }

    ProcessResult Ssh(Rig rig, LabHost server, string key, string knownHosts, params string[] command)
    {
        var r = rig.Lab.Exec(rig.Client, rig.Ssh.SshCommand(server, key, knownHosts, command));
        output.WriteLine($"ssh {server.Name} ({Path.GetFileName(key)}): exit {r.ExitCode} in {r.Elapsed.TotalMilliseconds:0} ms");
        return r;
    }

    [LabFact("ssh", "sshd", "ssh-keygen", "ssh-keyscan")]
    public void A_command_over_ssh_runs_in_the_server_namespace_and_the_host_keys_match_OpenSSH()
    {
        var clock = Stopwatch.StartNew();
        using var rig = Create(servers: 2);
        output.WriteLine($"lab and 2 sshd ready in {clock.ElapsedMilliseconds} ms: {rig.Ssh}");
        var knownHosts = rig.Ssh.WriteKnownHosts(rig.Servers);

        foreach (var server in rig.Servers)
        {
            var r = Ssh(rig, server, rig.Ssh.ClientKeyPath, knownHosts, "ip", "-j", "route", "get", "192.0.2.200");
            Assert.True(r.Succeeded, r.ToString());
            // The route lookup happened in the server's namespace: its own interface and address.
            var route = JsonDocument.Parse(r.StdOut).RootElement[0];
            Assert.Equal("eth0", route.GetProperty("dev").GetString());
            Assert.Equal(server.IPv4!.ToString(), route.GetProperty("prefsrc").GetString());
            Assert.Contains("Accepted publickey for root from 192.0.2.10", rig.Ssh.Log(server));

            // The known_hosts line is what ssh-keyscan reads off the wire, the fingerprint what ssh-keygen prints.
            var scan = rig.Lab.Exec(rig.Client, "ssh-keyscan", "-t", "ed25519", "-p", "22", server.IPv4!.ToString()).EnsureSuccess();
            Assert.Equal(rig.Ssh.KnownHostsLine(server), scan.StdOut.Trim());
            Assert.StartsWith($"{server.IPv4} ssh-ed25519 AAAA", rig.Ssh.KnownHostsLine(server));
            var print = ProcessRunner.Run("ssh-keygen", ["-lf", Path.Combine(rig.Ssh.Directory, server.Name, "ssh_host_ed25519_key.pub")], TimeSpan.FromSeconds(5)).EnsureSuccess();
            Assert.Equal(print.StdOut.Split(' ')[1], rig.Ssh.Fingerprint(server));
        }
        Assert.NotEqual(rig.Ssh.Fingerprint(rig.Servers[0]), rig.Ssh.Fingerprint(rig.Servers[1]));

        // Sessions get a private HOME (root's real dotfiles stay out), but run as root.
        var env = Ssh(rig, rig.Servers[0], rig.Ssh.ClientKeyPath, knownHosts, "printenv", "HOME", "USER");
        Assert.True(env.Succeeded, env.ToString());
        Assert.Equal($"{Path.Combine(rig.Ssh.Directory, "s1", "home")}\nroot\n", env.StdOut);
        Assert.DoesNotContain("/root/.ssh", File.ReadAllText(Path.Combine(rig.Ssh.Directory, "s1", "sshd_config")));
        output.WriteLine($"done in {clock.ElapsedMilliseconds} ms");
    }

    [LabFact("ssh", "sshd", "ssh-keygen")]
    public void A_key_that_is_not_authorized_is_refused()
    {
        using var rig = Create();
        var server = rig.Servers[0];
        var knownHosts = rig.Ssh.WriteKnownHosts(rig.Servers);

        var r = Ssh(rig, server, rig.Ssh.WrongKeyPath, knownHosts, "true");
        Assert.Equal(255, r.ExitCode);
        Assert.Contains("Permission denied (publickey)", r.StdErr);
        Assert.DoesNotContain("Accepted publickey", rig.Ssh.Log(server));
    }

    [LabFact("ssh", "sshd", "ssh-keygen")]
    public void A_changed_host_key_fails_the_old_known_hosts_and_passes_a_new_one()
    {
        using var rig = Create();
        var server = rig.Servers[0];
        var before = rig.Ssh.WriteKnownHosts(rig.Servers);
        var oldFingerprint = rig.Ssh.Fingerprint(server);
        Assert.True(Ssh(rig, server, rig.Ssh.ClientKeyPath, before, "true").Succeeded);

        rig.Ssh.ChangeHostKey(server);
        Assert.NotEqual(oldFingerprint, rig.Ssh.Fingerprint(server));
        var stale = Ssh(rig, server, rig.Ssh.ClientKeyPath, before, "true");
        Assert.Equal(255, stale.ExitCode);
        Assert.Contains("REMOTE HOST IDENTIFICATION HAS CHANGED", stale.StdErr);
        Assert.Contains(rig.Ssh.Fingerprint(server), stale.StdErr);
        Assert.Contains("Host key verification failed", stale.StdErr);

        var after = rig.Ssh.WriteKnownHosts(rig.Servers);
        var fresh = Ssh(rig, server, rig.Ssh.ClientKeyPath, after, "true");
        Assert.True(fresh.Succeeded, fresh.ToString());
    }

    [LabFact("ssh", "sshd", "ssh-keygen", "sleep")]
    public void A_stopped_server_drops_its_sessions_refuses_and_comes_back_after_a_restart()
    {
        using var rig = Create();
        var server = rig.Servers[0];
        var knownHosts = rig.Ssh.WriteKnownHosts(rig.Servers);

        // An open session: it ends when the sshd stops (the host's sshd went away).
        var session = rig.Lab.Start(rig.Client, rig.Ssh.SshCommand(server, rig.Ssh.ClientKeyPath, knownHosts, "sleep", "60"));
        var clock = Stopwatch.StartNew();
        while (!rig.Ssh.Log(server).Contains("Starting session: command") && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        Assert.Contains("Starting session: command", rig.Ssh.Log(server));

        rig.Ssh.Stop(server);
        var ended = session.WaitForExit(TimeSpan.FromSeconds(5));
        Assert.False(ended.TimedOut, "the ssh session outlived its sshd");
        Assert.Equal(255, ended.ExitCode);
        Assert.Empty(NetLab.ProcessesIn([server.Namespace]));

        var refused = Ssh(rig, server, rig.Ssh.ClientKeyPath, knownHosts, "true");
        Assert.Equal(255, refused.ExitCode);
        Assert.Contains("Connection refused", refused.StdErr);

        rig.Ssh.Restart(server);
        var back = Ssh(rig, server, rig.Ssh.ClientKeyPath, knownHosts, "true");
        Assert.True(back.Succeeded, back.ToString());
        // The log covers both runs.
        Assert.Equal(2, CountOf(rig.Ssh.Log(server), "Starting session: command"));
    }

    [LabFact("ssh", "sshd", "ssh-keygen", "ssh-keyscan", "env")]
    public void On_another_port_the_encrypted_key_logs_in_with_its_passphrase_only()
    {
        using var rig = Create(port: 2222);
        var server = rig.Servers[0];
        Assert.Equal(2222, rig.Ssh.Port);
        Assert.StartsWith($"[{server.IPv4}]:2222 ssh-ed25519 AAAA", rig.Ssh.KnownHostsLine(server));
        var scan = rig.Lab.Exec(rig.Client, "ssh-keyscan", "-t", "ed25519", "-p", "2222", server.IPv4!.ToString()).EnsureSuccess();
        Assert.Equal(rig.Ssh.KnownHostsLine(server), scan.StdOut.Trim());
        var knownHosts = rig.Ssh.WriteKnownHosts(rig.Servers);

        // The private key really is encrypted, with that passphrase.
        var pub = File.ReadAllText(rig.Ssh.EncryptedClientKeyPath + ".pub").Split(' ')[1];
        Assert.False(ProcessRunner.Run("ssh-keygen", ["-y", "-P", "", "-f", rig.Ssh.EncryptedClientKeyPath], TimeSpan.FromSeconds(5)).Succeeded);
        var derived = ProcessRunner.Run("ssh-keygen", ["-y", "-P", SshServers.Passphrase, "-f", rig.Ssh.EncryptedClientKeyPath], TimeSpan.FromSeconds(5)).EnsureSuccess();
        Assert.Equal(pub, derived.StdOut.Split(' ')[1]);

        // Without a passphrase (BatchMode) ssh cannot use it ...
        var locked = Ssh(rig, server, rig.Ssh.EncryptedClientKeyPath, knownHosts, "true");
        Assert.Equal(255, locked.ExitCode);
        Assert.Contains("Permission denied (publickey)", locked.StdErr);

        // ... with it (from SSH_ASKPASS) it logs in.
        var askPass = Path.Combine(rig.Ssh.Directory, "askpass.sh");
        File.WriteAllText(askPass, $"#!/bin/sh\necho '{SshServers.Passphrase}'\n");
        File.SetUnixFileMode(askPass, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var argv = rig.Ssh.SshCommand(server, rig.Ssh.EncryptedClientKeyPath, knownHosts, "true")
            .Select(a => a == "BatchMode=yes" ? "BatchMode=no" : a).ToList();
        argv.InsertRange(0, ["env", "SSH_ASKPASS=" + askPass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"]);
        var unlocked = rig.Lab.Exec(rig.Client, argv.ToArray());
        Assert.True(unlocked.Succeeded, unlocked.ToString());
        Assert.Contains("Accepted publickey for root", rig.Ssh.Log(server));
    }

    [LabFact("sshd", "ssh-keygen")]
    public void An_sshd_that_cannot_start_fails_Start_with_its_own_message_and_leaves_nothing_behind()
    {
        using var rig = Create();
        var server = rig.Servers[0];
        var e = Assert.Throws<InvalidOperationException>(() => SshServers.Start(rig.Lab, [server]).Dispose());
        output.WriteLine(e.Message);
        Assert.Contains("Address already in use", e.Message);
        Assert.Contains($"ListenAddress {server.IPv4}", e.Message);
        // The failed start deleted its directory (only the first one's names this host); the first sshd still serves.
        var configs = System.IO.Directory.EnumerateDirectories(Path.GetTempPath(), "konvoylb-ssh-*")
            .Select(d => Path.Combine(d, server.Name, "sshd_config"))
            .Where(f => File.Exists(f) && File.ReadAllText(f).Contains(server.Namespace));
        Assert.Equal([Path.Combine(rig.Ssh.Directory, server.Name, "sshd_config")], configs);
        var knownHosts = rig.Ssh.WriteKnownHosts(rig.Servers);
        Assert.True(Ssh(rig, server, rig.Ssh.ClientKeyPath, knownHosts, "true").Succeeded);
    }

    static int CountOf(string text, string what)
    {
        int count = 0, i = 0;
        while ((i = text.IndexOf(what, i, StringComparison.Ordinal)) >= 0) { count++; i += what.Length; }
        return count;
    }
}
