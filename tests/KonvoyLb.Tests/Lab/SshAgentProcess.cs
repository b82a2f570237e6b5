namespace KonvoyLb.Tests.Lab;

/// <summary>
/// A real OpenSSH ssh-agent for one test: its socket in a temporary directory (a pathname socket, so processes in the
/// lab's namespaces reach it too), keys added with ssh-add (an encrypted one through SSH_ASKPASS), stopped with its
/// directory on Dispose. The agent's own SSH_ASKPASS is /bin/false: a key added with confirmation is always refused.
/// </summary>
public sealed class SshAgentProcess : IDisposable
{
    readonly System.Diagnostics.Process process;
    readonly string directory;

    public string SocketPath { get; }

    SshAgentProcess(System.Diagnostics.Process process, string directory)
    {
        this.process = process;
        this.directory = directory;
        SocketPath = Path.Combine(directory, "agent.sock");
    }

    public static SshAgentProcess Start()
    {
        if (ProcessRunner.FindTool("ssh-agent") is null || ProcessRunner.FindTool("ssh-add") is null)
            throw new FileNotFoundException("OpenSSH's client (ssh-agent, ssh-add) is not installed (run tools/Install-Prerequisites.sh as root)");
        var dir = Directory.CreateTempSubdirectory("konvoylb-agent-").FullName;
        var sock = Path.Combine(dir, "agent.sock");
        var (process, stdout, _) = ProcessRunner.Start("env", ["SSH_ASKPASS=/bin/false", "SSH_ASKPASS_REQUIRE=force", "ssh-agent", "-D", "-a", sock]);
        var agent = new SshAgentProcess(process, dir);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // ssh-agent prints its environment once it listens.
        while (!stdout.Text.Contains("SSH_AUTH_SOCK=", StringComparison.Ordinal))
        {
            if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                agent.Dispose();
                throw new InvalidOperationException($"ssh-agent did not create {sock}");
            }
            Thread.Sleep(10);
        }
        return agent;
    }

    /// <summary>ssh-add <paramref name="keyPath"/>: with its passphrase when it is encrypted, with -c to need a confirmation for every use.</summary>
    public void Add(string keyPath, string? passphrase = null, bool confirm = false)
    {
        var args = new List<string> { $"SSH_AUTH_SOCK={SocketPath}" };
        if (passphrase is not null)
        {
            var askpass = Path.Combine(directory, "askpass");
            File.WriteAllText(askpass, $"#!/bin/sh\nprintf '%s\\n' '{passphrase.Replace("'", "'\\''", StringComparison.Ordinal)}'\n");
            File.SetUnixFileMode(askpass, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            args.AddRange([$"SSH_ASKPASS={askpass}", "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"]);
        }
        args.Add("ssh-add");
        if (confirm) args.Add("-c");
        args.Add(keyPath);
        ProcessRunner.Run("env", args, TimeSpan.FromSeconds(10)).EnsureSuccess();
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited) LabNative.KillGroup(process.Id, LabNative.SIGKILL);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { }
        process.Dispose();
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}
