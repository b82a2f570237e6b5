using System.Diagnostics;
using System.Text;
using System.Text.Json;
using KonvoyLb.KubeApi;

namespace KonvoyLb.Bench;

/// <summary>
/// Restart-LbController against the fake API server whose replacement pod turns Ready a fixed delay
/// after it is created: the time the cmdlet needs beyond that delay, side by side with
/// `kubectl delete pod -l ... && kubectl wait --for=condition=Ready pod -l ...` in the same run.
/// </summary>
static class RestartBench
{
    const int ReadyAfterMs = 2000, Runs = 5;
    const string Labels = "app=metallb,component=controller";

    public static string Run()
    {
        var module = Environment.GetEnvironmentVariable("KONVOYLB_MODULE") ?? throw new InvalidOperationException("KONVOYLB_MODULE is not set (build.ps1 -Task Bench sets it)");
        var pwsh = Environment.GetEnvironmentVariable("KONVOYLB_PWSH") ?? throw new InvalidOperationException("KONVOYLB_PWSH is not set");
        var kube = FakeKubeApi.StartAsync().GetAwaiter().GetResult();
        try { return Measure(kube, module, pwsh); }
        finally { kube.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    static string Measure(FakeKubeApi kube, string module, string pwsh)
    {
        var dir = Directory.CreateTempSubdirectory("konvoylb-restart-bench-");
        var kubeconfig = kube.WriteKubeconfig(Path.Combine(dir.FullName, "kubeconfig"));
        kube.AddDeployment("metallb-controller", "kubeaddons", new Dictionary<string, string> { ["app"] = "metallb", ["component"] = "controller" },
            TimeSpan.FromMilliseconds(ReadyAfterMs));
        WaitReady(kube);

        // Restart-LbController, in one warm pwsh session (module imported once, as a user would).
        string script = $"Import-Module '{module}'; 1..{Runs} | ForEach-Object {{ $r = Restart-LbController -Kubeconfig '{kubeconfig}' -Confirm:$false; " +
                        "if (-not $r.Ready) { throw $r.Failure }; $r.Elapsed.TotalMilliseconds } | ConvertTo-Json";
        var output = Exec(pwsh.Split(' ')[0], pwsh.Split(' ').Skip(1).Concat(new[] { "-NoProfile", "-NonInteractive", "-Command", script }).ToArray());
        var ours = JsonSerializer.Deserialize<double[]>(output)!;

        var kubectl = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            WaitReady(kube);
            var sw = Stopwatch.StartNew();
            Exec("bash", "-c", $"kubectl --kubeconfig '{kubeconfig}' -n kubeaddons delete pod -l {Labels} >/dev/null && " +
                               $"kubectl --kubeconfig '{kubeconfig}' -n kubeaddons wait --for=condition=Ready pod -l {Labels} --timeout=60s >/dev/null");
            kubectl.Add(sw.Elapsed.TotalMilliseconds);
        }
        dir.Delete(recursive: true);

        static double Median(IEnumerable<double> v) { var s = v.Order().ToArray(); return s[s.Length / 2]; }
        var sb = new StringBuilder();
        sb.AppendLine($"| controller restart, replacement Ready {ReadyAfterMs} ms after it is created (median of {Runs}) | total (ms) | beyond the delay (ms) |");
        sb.AppendLine("|---|---:|---:|");
        sb.AppendLine($"| **Restart-LbController** (watch; target: within 200 ms of Ready) | {Median(ours):F0} | **{Median(ours) - ReadyAfterMs:F0}** |");
        sb.AppendLine($"| `kubectl delete pod -l ... && kubectl wait --for=condition=Ready pod -l ...` | {Median(kubectl):F0} | {Median(kubectl) - ReadyAfterMs:F0} |");
        return sb.ToString();
    }

    static void WaitReady(FakeKubeApi kube)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var pods = kube.List("v1", "pods", "kubeaddons", Labels);
            if (pods.Count == 1 && pods[0]["status"]?["conditions"]?.AsArray().Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") == true)
                return;
            Thread.Sleep(50);
        }
        throw new TimeoutException("the controller pod did not become Ready");
    }

    static string Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"{file} took too long"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
