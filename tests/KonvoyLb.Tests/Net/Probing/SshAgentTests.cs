using KonvoyLb.Engine.Net.Ssh;
using KonvoyLb.Tests.Lab;
using Renci.SshNet;

namespace KonvoyLb.Tests.Net.Probing;

/// <summary>
/// <see cref="SshAgent"/> against a real OpenSSH ssh-agent: the keys it lists, signatures that the key files verify
/// (RSA with SHA-2, as servers ask), a refusal, an agent that is not there, and the public key of an encrypted key file.
/// </summary>
public sealed class SshAgentTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("konvoylb-agenttest-").FullName;

    string Key(string type, string comment, string passphrase = "")
    {
        var path = Path.Combine(dir, comment);
        var args = new List<string> { "-q", "-t", type, "-N", passphrase, "-C", comment, "-f", path };
        if (type == "rsa") args.InsertRange(0, ["-b", "2048"]);
        ProcessRunner.Run("ssh-keygen", args, TimeSpan.FromSeconds(30)).EnsureSuccess();
        return path;
    }

    static byte[] PublicBlob(string keyPath) => Convert.FromBase64String(File.ReadAllText(keyPath + ".pub").Split(' ')[1]);

    [LabFact("ssh-agent", "ssh-add", "ssh-keygen")]
    public void Lists_the_agents_keys_and_signs_so_that_the_key_files_verify()
    {
        var ed = Key("ed25519", "agent-ed");
        var rsa = Key("rsa", "agent-rsa");
        using var process = SshAgentProcess.Start();
        process.Add(ed);
        process.Add(rsa);

        var agent = SshAgent.Connect(process.SocketPath);
        Assert.Equal(["ssh-ed25519 agent-ed", "ssh-rsa agent-rsa"], agent.Keys.Select(k => $"{k.Type} {k.Comment}"));
        Assert.Equal(PublicBlob(ed), agent.Keys[0].Blob);
        // One algorithm per key (each is an attempt sshd counts); RSA with SHA-512, never SHA-1.
        var refusals = new List<string>();
        var keys = agent.KeysFor([], refusals);
        Assert.Equal(["ssh-ed25519", "rsa-sha2-512"], keys.HostKeyAlgorithms.Select(a => a.Name));
        // A key a file offers already is not offered again.
        Assert.Equal(["agent-rsa"], agent.KeysFor([PublicBlob(ed)], refusals).Keys.Select(k => k.Comment));

        var data = "the session's signature data"u8.ToArray();
        foreach (var (algorithm, file) in keys.HostKeyAlgorithms.Zip(new[] { ed, rsa }))
        {
            var signature = algorithm.Sign(data);
            var verifier = new PrivateKeyFile(file).HostKeyAlgorithms.Single(a => a.Name == algorithm.Name);
            Assert.True(verifier.VerifySignature(data, signature), $"{algorithm.Name}: the key file does not verify the agent's signature");
            Assert.False(verifier.VerifySignature("other data"u8.ToArray(), signature));
        }
        Assert.Empty(refusals);
    }

    [LabFact("ssh-agent", "ssh-add", "ssh-keygen")]
    public void A_refused_signature_fails_that_key_alone_and_says_why_and_a_missing_agent_is_an_IOException()
    {
        using var process = SshAgentProcess.Start();
        var key = Key("ed25519", "needs-confirmation");
        process.Add(key, confirm: true);
        var agent = SshAgent.Connect(process.SocketPath);
        var refusals = new List<string>();
        var algorithm = agent.KeysFor([], refusals).HostKeyAlgorithms.Single();
        // No exception (SSH.NET would end the login with it): a signature that does not verify, and the reason kept.
        var signature = algorithm.Sign([1, 2, 3]);
        Assert.False(new PrivateKeyFile(key).HostKeyAlgorithms.Single().VerifySignature([1, 2, 3], signature));
        Assert.Contains("did not sign with its key ssh-ed25519 'needs-confirmation'", Assert.Single(refusals));

        var missing = Assert.Throws<IOException>(() => SshAgent.Connect(Path.Combine(dir, "nobody.sock")));
        Assert.NotEmpty(missing.Message);
        // Longer than a socket's path may be (108 bytes): an IOException too, not an ArgumentException that would end the command.
        Assert.Throws<IOException>(() => SshAgent.Connect("/tmp/" + new string('x', 200)));
    }

    [LabFact("ssh-keygen")]
    public void The_public_key_of_an_encrypted_key_file_is_read_without_its_passphrase()
    {
        var key = Key("ed25519", "encrypted", passphrase: "secret words");
        var expected = PublicBlob(key);
        File.Move(key + ".pub", key + ".pub.aside");
        // openssh-key-v1 keeps the public key in the clear.
        Assert.Equal(expected, SshAgent.PublicBlobOf(key));
        // A PEM key has none inside: the .pub beside it, else nothing.
        var pem = Key("rsa", "pem");
        ProcessRunner.Run("ssh-keygen", ["-q", "-p", "-m", "PEM", "-N", "pem-secret", "-P", "", "-f", pem], TimeSpan.FromSeconds(30)).EnsureSuccess();
        Assert.Equal(PublicBlob(pem), SshAgent.PublicBlobOf(pem));
        File.Delete(pem + ".pub");
        Assert.Null(SshAgent.PublicBlobOf(pem));
        Assert.Null(SshAgent.PublicBlobOf(Path.Combine(dir, "none")));
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
