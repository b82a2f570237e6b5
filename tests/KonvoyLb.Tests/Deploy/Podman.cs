using System.Diagnostics;
using System.Globalization;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Tests.Deploy;

/// <summary>
/// podman for the end-to-end tests: the image build.ps1 -Task Image made, and containers of it that a test starts
/// inside its lab's namespaces. Every container carries the label konvoylb.lab=NAMESPACE; those whose namespace is
/// gone (a test run that crashed) are removed before a new one starts, and a test removes its own on dispose.
/// </summary>
public static class Podman
{
    public const string Image = "localhost/konvoylb:latest";

    /// <summary>Why the end-to-end tests cannot run here (no podman, no image), or null.</summary>
    public static string? Unavailable()
    {
        if (ProcessRunner.FindTool("podman") is null) return "podman is not installed (tools/Install-Prerequisites.sh installs it, as root)";
        var r = Run(TimeSpan.FromSeconds(30), "image", "exists", Image);
        return r.ExitCode == 0 ? null : $"the image {Image} is missing: run dotnet pwsh ./build.ps1 -Task Image";
    }

    public static ProcessResult Run(TimeSpan timeout, params string[] args) => ProcessRunner.Run("podman", args, timeout);

    public static ProcessResult Run(params string[] args) => Run(TimeSpan.FromSeconds(60), args);

    /// <summary>Removes the lab containers whose network namespace no longer exists.</summary>
    public static void RemoveStale()
    {
        var list = Run("ps", "-a", "--filter", "label=konvoylb.lab", "--format", "{{.Names}} {{index .Labels \"konvoylb.lab\"}}");
        foreach (var line in list.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && !File.Exists("/run/netns/" + parts[1])) Run("rm", "-f", "-t", "0", parts[0]);
        }
    }
}

/// <summary>One container of the image, started detached.</summary>
public sealed class PodmanContainer : IDisposable
{
    public string Name { get; }

    PodmanContainer(string name) => Name = name;

    /// <summary>podman run -d with <paramref name="options"/>, the image, and <paramref name="args"/> for its entrypoint.</summary>
    public static PodmanContainer Start(IEnumerable<string> options, IEnumerable<string> args)
    {
        var argv = new List<string> { "run", "-d" };
        argv.AddRange(options);
        argv.Add(Podman.Image);
        argv.AddRange(args);
        int at = argv.IndexOf("--name");
        var container = new PodmanContainer(argv[at + 1]);
        var r = Podman.Run(argv.ToArray());
        if (r.ExitCode != 0) throw new InvalidOperationException($"podman run failed ({r.ExitCode}): {r.StdErr}");
        return container;
    }

    /// <summary>The container's main process on the host, or 0 when it is not running.</summary>
    public int Pid => int.TryParse(Podman.Run("inspect", "--format", "{{.State.Pid}}", Name).StdOut.Trim(), out var pid) ? pid : 0;

    public bool Running => Podman.Run("inspect", "--format", "{{.State.Running}}", Name).StdOut.Trim() == "true";

    public int ExitCode => int.Parse(Podman.Run("inspect", "--format", "{{.State.ExitCode}}", Name).StdOut.Trim(), CultureInfo.InvariantCulture);

    /// <summary>The resident set of the container's process (pwsh), in bytes, from /proc.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"no VmRSS for {Name}");
    }

    public string Logs() { var r = Podman.Run("logs", Name); return r.StdOut + r.StdErr; }

    public void Kill() => Podman.Run("kill", "--signal", "KILL", Name);

    /// <summary>podman stop: SIGTERM, then SIGKILL after <paramref name="graceSeconds"/>, as the kubelet does; how long it took.</summary>
    public TimeSpan Stop(int graceSeconds)
    {
        var clock = Stopwatch.StartNew();
        Podman.Run(TimeSpan.FromSeconds(graceSeconds + 30), "stop", "-t", graceSeconds.ToString(CultureInfo.InvariantCulture), Name);
        return clock.Elapsed;
    }

    public void StartAgain()
    {
        var r = Podman.Run("start", Name);
        if (r.ExitCode != 0) throw new InvalidOperationException($"podman start {Name} failed: {r.StdErr}");
    }

    public void Dispose() => Podman.Run("rm", "-f", "-t", "0", Name);
}
