using KonvoyLb.Tests.Lab;
using Xunit.Abstractions;

namespace KonvoyLb.Tests.Net.Probing;

/// <summary>
/// Test-LbVipReachability -FromInventory through the built module, on a namespace LAN whose three nodes each run a real
/// OpenSSH sshd (<see cref="SshServers"/>): the deploy computer (192.0.2.10) logs in with the inventory's key, each host
/// probes with its own ip, arping and ping, and the results per host are that host's real view: node-3 has no route to
/// the far segment, 192.0.2.201 is taken by a host that is not a node, 192.0.2.202 is held by node-1.
/// </summary>
public sealed class InventoryReachabilityTests(ITestOutputHelper output)
{
    static readonly string[] Vips = ["192.0.2.200", "192.0.2.201", "192.0.2.202", "198.51.100.77"];

    sealed class InventoryLab : IDisposable
    {
        public NetLab Lab { get; } = NetLab.Create();
        public LabHost Deploy { get; }
        public List<LabHost> Nodes { get; } = [];
        public SshServers Ssh { get; }
        public string Dir { get; } = Directory.CreateTempSubdirectory("konvoylb-inv-").FullName;

        public InventoryLab()
        {
            try
            {
                var far = Lab.AddBridge("far");
                Lab.AddRouter("rtr", new LabLeg(Lab.DefaultBridge, "02:00:00:00:02:01", "192.0.2.1/24"), new LabLeg(far, "02:00:00:00:02:02", "198.51.100.1/24"));
                Deploy = Lab.AddHost("dep", "02:00:00:00:02:10", "192.0.2.10/24");
                for (int i = 1; i <= 3; i++) Nodes.Add(Lab.AddHost($"node-{i}", $"02:00:00:00:02:1{i}", $"192.0.2.1{i}/24"));
                // node-3 has no route to the far segment; the others reach it through the router.
                Lab.AddRoute(Nodes[0], "198.51.100.0/24", "192.0.2.1");
                Lab.AddRoute(Nodes[1], "198.51.100.0/24", "192.0.2.1");
                Lab.AddAddress(Nodes[0], "192.0.2.202/32");
                var other = Lab.AddHost("other", "02:00:00:00:02:30", "192.0.2.30/24");
                Lab.AddAddress(other, "192.0.2.201/32");
                Ssh = SshServers.Start(Lab, Nodes);
            }
            catch
            {
                Lab.Dispose();
                throw;
            }
        }

        /// <summary>Konvoy's inventory: node-1 in control-plane, node-2 and node-3 in node, all.vars with the user and the key (none when <paramref name="key"/> is empty).</summary>
        public string Inventory(string? key = null, string bastion = "bastion: {}", string name = "inventory.yaml")
        {
            var path = Path.Combine(Dir, name);
            File.WriteAllText(path, $"""
                control-plane:
                  hosts:
                    192.0.2.11:
                      ansible_host: 192.0.2.11
                node:
                  hosts:
                    192.0.2.12:
                      ansible_host: 192.0.2.12
                      node_pool: worker
                    192.0.2.13:
                {bastion}
                all:
                  vars:
                    ansible_port: 22
                    ansible_user: root
                {(key == "" ? "" : $"    ansible_ssh_private_key_file: {key ?? Ssh.ClientKeyPath}")}
                    control_plane_endpoint: 192.0.2.100:6443
                """);
            return path;
        }

        /// <summary>
        /// Runs the cmdlet in the deploy namespace, with HOME an empty directory (no ~/.ssh keys) and the ssh-agent at
        /// <paramref name="agentSocket"/> or none; one line per result ("host address status") and per error ("ERR id target message").
        /// </summary>
        public string Probe(string inventory, string knownHosts, string extra = "", LabHost? from = null, string[]? addresses = null, string? agentSocket = null) =>
            ModuleUnderTest.Run(Lab, (from ?? Deploy).Namespace,
                $"$env:HOME = '{Directory.CreateDirectory(Path.Combine(Dir, "home")).FullName}'; $env:SSH_AUTH_SOCK = {(agentSocket is null ? "$null" : $"'{agentSocket}'")}; " +
                $"Import-Module '{ModuleUnderTest.Path()}'; " +
                $"Test-LbVipReachability -Address {string.Join(",", addresses ?? Vips)} -FromInventory -InventoryPath '{inventory}' -KnownHostsPath '{knownHosts}' -TimeoutMilliseconds 500 {extra} -ErrorVariable errs -ErrorAction SilentlyContinue " +
                "| ForEach-Object { if ($_.PSObject.Properties['Exceptions']) { \"SUM $($_.Address) $($_.Status) $($_.Free)/$($_.Hosts) $($_.Exceptions -join ',')\" } else { \"$($_.Source) $($_.Address) $($_.Status) $($_.AnsweredByNode)\" } }; " +
                "foreach ($e in $errs) { \"ERR $($e.FullyQualifiedErrorId.Split(',')[0]) $($e.TargetObject) $($e.Exception.Message)\" }");

        public void Dispose()
        {
            Ssh.Dispose();
            Lab.Dispose();
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        }
    }

    [LabFact("arping", "sshd", "ssh-keygen")]
    public void Every_host_reports_its_own_view_of_every_address()
    {
        using var lab = new InventoryLab();
        var shown = lab.Probe(lab.Inventory(), lab.Ssh.WriteKnownHosts(lab.Nodes));
        output.WriteLine(shown);
        Assert.DoesNotContain("ERR", shown);
        foreach (var node in new[] { "192.0.2.11", "192.0.2.12", "192.0.2.13" })
        {
            Assert.Contains($"{node} 192.0.2.200 Free", shown);
            Assert.Contains($"{node} 192.0.2.201 Owned \n", shown + "\n");
        }
        // node-1 holds .202 itself; the others see node-1's MAC answer.
        Assert.Contains("192.0.2.11 192.0.2.202 Owned", shown);
        Assert.Contains("192.0.2.12 192.0.2.202 Owned 192.0.2.11", shown);
        Assert.Contains("192.0.2.13 192.0.2.202 Owned 192.0.2.11", shown);
        // The far segment: routed and silent from node-1 and node-2, no route at all from node-3.
        Assert.Contains("192.0.2.11 198.51.100.77 Unreachable", shown);
        Assert.Contains("192.0.2.12 198.51.100.77 Unreachable", shown);
        Assert.Contains("192.0.2.13 198.51.100.77 NoRoute", shown);

        var summary = lab.Probe(lab.Inventory(), lab.Ssh.WriteKnownHosts(lab.Nodes), "-Summary -HostName 192.0.2.1[23]");
        output.WriteLine(summary);
        Assert.Contains("SUM 192.0.2.200 Free 2/2 ", summary);
        Assert.Contains("SUM 198.51.100.77 NoRoute 0/2 192.0.2.12=Unreachable,192.0.2.13=NoRoute", summary);
    }

    [LabFact("arping", "sshd", "ssh-keygen")]
    public void Faults_stay_with_their_host_unknown_and_changed_keys_a_wrong_key_and_a_host_that_is_down()
    {
        using var lab = new InventoryLab();
        var inventory = lab.Inventory();

        // node-3 is not in known_hosts: refused (never silently accepted), the others report.
        var partial = lab.Ssh.WriteKnownHosts(lab.Nodes.Take(2), Path.Combine(lab.Dir, "partial_known_hosts"));
        var unknown = lab.Probe(inventory, partial);
        output.WriteLine(unknown);
        Assert.Contains($"ERR SshHostKeyUnknown 192.0.2.13 192.0.2.13: {partial} does not know 192.0.2.13, whose host key is ssh-ed25519 {lab.Ssh.Fingerprint(lab.Nodes[2])}", unknown);
        Assert.Contains("192.0.2.11 192.0.2.200 Free", unknown);
        Assert.DoesNotContain("192.0.2.13 192.0.2.200", unknown);
        // -AcceptNewHostKey records it as ssh's accept-new would; the next run needs nothing more.
        Assert.Contains("192.0.2.13 192.0.2.200 Free", lab.Probe(inventory, partial, "-AcceptNewHostKey"));
        Assert.Contains(lab.Ssh.KnownHostsLine(lab.Nodes[2]), File.ReadAllText(partial));
        Assert.Contains("192.0.2.13 192.0.2.200 Free", lab.Probe(inventory, partial));

        // node-2's key changed: a mismatch that names the host and the new fingerprint, also with -AcceptNewHostKey.
        var known = lab.Ssh.WriteKnownHosts(lab.Nodes);
        lab.Ssh.ChangeHostKey(lab.Nodes[1]);
        var changed = lab.Probe(inventory, known, "-AcceptNewHostKey");
        output.WriteLine(changed);
        Assert.Contains($"ERR SshHostKeyMismatch 192.0.2.12 192.0.2.12: the host key of 192.0.2.12 is ssh-ed25519 {lab.Ssh.Fingerprint(lab.Nodes[1])}", changed);
        Assert.Contains("192.0.2.13 192.0.2.200 Free", changed);
        Assert.DoesNotContain("192.0.2.12 192.0.2.200", changed);

        // A key the hosts do not accept: authentication fails on each host, as its own error.
        var wrong = lab.Probe(lab.Inventory(lab.Ssh.WrongKeyPath, name: "wrong-key.yaml"), lab.Ssh.WriteKnownHosts(lab.Nodes), "-HostName 192.0.2.11,192.0.2.13");
        output.WriteLine(wrong);
        Assert.Contains("ERR SshAuthenticationFailed 192.0.2.11 192.0.2.11: root@192.0.2.11 refused the login", wrong);
        Assert.Contains("ERR SshAuthenticationFailed 192.0.2.13", wrong);

        // A host that is down: unreachable, the others go on.
        lab.Ssh.Stop(lab.Nodes[0]);
        var down = lab.Probe(inventory, lab.Ssh.WriteKnownHosts(lab.Nodes));
        output.WriteLine(down);
        Assert.Contains("ERR SshUnreachable 192.0.2.11 192.0.2.11: cannot reach 192.0.2.11 over SSH", down);
        Assert.Contains("192.0.2.13 192.0.2.200 Free", down);
    }

    [LabFact("arping", "ping", "sshd", "ssh-keygen", "unshare")]
    public void A_host_without_arping_or_root_says_so_and_its_results_still_count()
    {
        using var lab = new InventoryLab();
        // node-2 has no arping installed; node-3 is logged in to as an ordinary user, as the inventory says for it
        // (Debian's ping has its file capability there, arping has none).
        lab.Ssh.Restrict(lab.Nodes[1], ["arping"], unprivilegedUser: false);
        lab.Ssh.Restrict(lab.Nodes[2], [], unprivilegedUser: true);
        var inventory = lab.Inventory();
        File.WriteAllText(inventory, File.ReadAllText(inventory).Replace("    192.0.2.13:\n", $"    192.0.2.13:\n      ansible_user: {SshServers.UnprivilegedUser}\n", StringComparison.Ordinal));
        var shown = lab.Probe(inventory, lab.Ssh.WriteKnownHosts(lab.Nodes));
        output.WriteLine(shown);

        Assert.Contains("ERR RemoteToolsMissing 192.0.2.12 192.0.2.12: missing arping: the neighbour table after the ping answered instead of an ARP probe.", shown);
        Assert.Contains($"ERR RemoteArpingNeedsRoot 192.0.2.13 192.0.2.13: arping needs root there (logged in as {SshServers.UnprivilegedUser}, without CAP_NET_RAW); the neighbour table after the ping answered instead.", shown);
        Assert.DoesNotContain("ERR RemoteToolsMissing 192.0.2.13", shown);
        Assert.DoesNotContain("ERR RemoteToolsMissing 192.0.2.11", shown);
        Assert.DoesNotContain("ERR RemoteArpingNeedsRoot 192.0.2.11", shown);
        // What each of them skipped is made up by the neighbour table: the same statuses as from node-1, who answered included.
        foreach (var node in new[] { "192.0.2.12", "192.0.2.13" })
        {
            Assert.Contains($"{node} 192.0.2.200 Free", shown);
            Assert.Contains($"{node} 192.0.2.201 Owned \n", shown + "\n");
            Assert.Contains($"{node} 192.0.2.202 Owned 192.0.2.11", shown);
        }
        Assert.Contains($"Accepted publickey for {SshServers.UnprivilegedUser} from 192.0.2.10", lab.Ssh.Log(lab.Nodes[2]));
    }

    [LabFact("arping", "sshd", "ssh-keygen", "ssh-agent", "ssh-add")]
    public void Logs_in_with_the_ssh_agents_keys_and_a_refusal_names_every_key_offered()
    {
        using var lab = new InventoryLab();
        var known = lab.Ssh.WriteKnownHosts(lab.Nodes);
        string[] one = ["192.0.2.200"];

        // The inventory names no key and HOME has none: the agent's key logs in, the agent signs.
        using (var agent = SshAgentProcess.Start())
        {
            agent.Add(lab.Ssh.ClientKeyPath);
            var shown = lab.Probe(lab.Inventory(key: ""), known, addresses: one, agentSocket: agent.SocketPath);
            output.WriteLine(shown);
            Assert.DoesNotContain("ERR", shown);
            foreach (var node in new[] { "192.0.2.11", "192.0.2.12", "192.0.2.13" }) Assert.Contains($"{node} 192.0.2.200 Free", shown);
        }

        // The inventory names an encrypted key and gives no passphrase: the agent that holds it signs instead.
        var encrypted = lab.Inventory(key: lab.Ssh.EncryptedClientKeyPath, name: "encrypted.yaml");
        using (var agent = SshAgentProcess.Start())
        {
            agent.Add(lab.Ssh.EncryptedClientKeyPath, SshServers.Passphrase);
            var shown = lab.Probe(encrypted, known, "-HostName 192.0.2.12", addresses: one, agentSocket: agent.SocketPath);
            output.WriteLine(shown);
            Assert.Contains("192.0.2.12 192.0.2.200 Free", shown);
            Assert.DoesNotContain("ERR", shown);
        }
        // Without the agent the same inventory is an error that says why and what to do.
        var noAgent = lab.Probe(encrypted, known, "-HostName 192.0.2.12", addresses: one);
        output.WriteLine(noAgent);
        Assert.Contains($"ERR SshAuthenticationFailed 192.0.2.12 192.0.2.12: the private key '{lab.Ssh.EncryptedClientKeyPath}' is encrypted, and there is no ssh-agent (SSH_AUTH_SOCK is not set).", noAgent);

        // An agent that refuses to sign (a key that needs a confirmation nobody gives) fails that key alone: the login
        // goes on with ~/.ssh's key; without one, the refusal says why.
        using (var agent = SshAgentProcess.Start())
        {
            agent.Add(lab.Ssh.EncryptedClientKeyPath, SshServers.Passphrase, confirm: true);
            var ssh = Directory.CreateDirectory(Path.Combine(lab.Dir, "home", ".ssh")).FullName;
            File.Copy(lab.Ssh.ClientKeyPath, Path.Combine(ssh, "id_ed25519"));
            var shown = lab.Probe(lab.Inventory(key: ""), known, "-HostName 192.0.2.11", addresses: one, agentSocket: agent.SocketPath);
            output.WriteLine(shown);
            Assert.Contains("192.0.2.11 192.0.2.200 Free", shown);
            Assert.DoesNotContain("ERR", shown);
            Assert.Contains("Failed publickey for root from 192.0.2.10", lab.Ssh.Log(lab.Nodes[0]));
            Directory.Delete(ssh, recursive: true);
            var refused = lab.Probe(lab.Inventory(key: ""), known, "-HostName 192.0.2.11", addresses: one, agentSocket: agent.SocketPath);
            output.WriteLine(refused);
            Assert.Contains("ERR SshAuthenticationFailed 192.0.2.11", refused);
            Assert.Contains("did not sign with its key ssh-ed25519 'konvoylb-lab-client-encrypted'", refused);
        }

        // An agent with only a key the hosts refuse: the refusal lists what was offered.
        using (var agent = SshAgentProcess.Start())
        {
            agent.Add(lab.Ssh.WrongKeyPath);
            var shown = lab.Probe(lab.Inventory(key: ""), known, "-HostName 192.0.2.13", addresses: one, agentSocket: agent.SocketPath);
            output.WriteLine(shown);
            Assert.Contains("ERR SshAuthenticationFailed 192.0.2.13 192.0.2.13: root@192.0.2.13 refused the login with the agent's ssh-ed25519 'konvoylb-lab-wrong'", shown);
        }
    }

    [LabFact("arping", "sshd", "ssh-keygen")]
    public void Through_the_bastion_when_the_inventory_has_one()
    {
        using var lab = new InventoryLab();
        // The deploy computer moves to a segment of its own: only the bastion, with a leg on both, reaches the nodes.
        var outside = lab.Lab.AddBridge("outside");
        var deploy = lab.Lab.AddHostOn(outside, "dep2", "02:00:00:00:02:40", "203.0.113.10/24");
        var bastion = lab.Lab.AddHostOn(outside, "bas", "02:00:00:00:02:41", "203.0.113.5/24");
        lab.Lab.AddInterface(bastion, lab.Lab.DefaultBridge, "02:00:00:00:02:42", "192.0.2.5/24");
        using var bastionSsh = SshServers.Start(lab.Lab, [bastion]);
        // One key for the bastion and the nodes, as Konvoy uses one: the nodes accept the bastion harness's key too.
        var inventory = lab.Inventory(key: bastionSsh.ClientKeyPath, bastion: "bastion:\n  hosts:\n    203.0.113.5:\n      ansible_host: 203.0.113.5");
        File.AppendAllText(Path.Combine(lab.Ssh.Directory, "authorized_keys"), File.ReadAllText(bastionSsh.ClientKeyPath + ".pub"));
        var knownHosts = Path.Combine(lab.Dir, "bastion_known_hosts");
        File.WriteAllText(knownHosts, File.ReadAllText(lab.Ssh.WriteKnownHosts(lab.Nodes)) + File.ReadAllText(bastionSsh.WriteKnownHosts([bastion])));
        var shown = lab.Probe(inventory, knownHosts, from: deploy, addresses: ["192.0.2.200"]);
        output.WriteLine(shown);
        Assert.DoesNotContain("ERR", shown);
        foreach (var node in new[] { "192.0.2.11", "192.0.2.12", "192.0.2.13" }) Assert.Contains($"{node} 192.0.2.200 Free", shown);
        Assert.Contains("Accepted publickey for root from 203.0.113.10", bastionSsh.Log(bastion));
        Assert.Contains("Accepted publickey for root from 192.0.2.5", lab.Ssh.Log(lab.Nodes[2]));
    }
}
