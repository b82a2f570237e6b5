namespace KonvoyLb.Tests.Lab;

/// <summary>Runs the built module (out/KonvoyLb, set by build.ps1) in a fresh pwsh inside a namespace.</summary>
public static class ModuleUnderTest
{
    public static string Path()
    {
        var module = Environment.GetEnvironmentVariable("KONVOYLB_MODULE");
        if (module is null || !File.Exists(module))
        {
            var built = System.IO.Path.Combine(TestFiles.RepoRoot, "out", "KonvoyLb", "KonvoyLb.psd1");
            if (File.Exists(built)) return built;
            throw new InvalidOperationException("the built module is needed: run build.ps1 -Task Test (it sets KONVOYLB_MODULE)");
        }
        return module;
    }

    public static string Run(NetLab lab, string ns, string script, bool dropRawSockets = false)
    {
        string pwshDll = PwshDll();
        var argv = new List<string>();
        if (dropRawSockets) argv.AddRange(new[] { "setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--" });
        argv.AddRange(new[] { "dotnet", pwshDll, "-NoProfile", "-NonInteractive", "-Command", script });
        var result = lab.Exec(ns, TimeSpan.FromSeconds(60), argv.ToArray());
        if (result.ExitCode != 0) throw new InvalidOperationException($"pwsh failed ({result.ExitCode}): {result.StdErr}\n{result.StdOut}");
        return result.StdOut;
    }

    /// <summary>pwsh.dll of the pinned dotnet tool (restored by `dotnet tool restore`).</summary>
    public static string PwshDll()
    {
        var home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var dll = Directory.EnumerateFiles(System.IO.Path.Combine(home, "powershell", "7.6.9"), "pwsh.dll", SearchOption.AllDirectories)
            .FirstOrDefault(f => f.Contains($"{System.IO.Path.DirectorySeparatorChar}unix{System.IO.Path.DirectorySeparatorChar}"));
        return dll ?? throw new InvalidOperationException("pwsh 7.6.9 is not restored: run dotnet tool restore");
    }
}
