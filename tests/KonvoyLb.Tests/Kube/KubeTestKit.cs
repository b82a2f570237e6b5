using System.Diagnostics;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using KonvoyLb.KubeApi;

namespace KonvoyLb.Tests.Kube;

/// <summary>Helpers for tests against a <see cref="FakeKubeApi"/>: a client from its kubeconfig, the real kubectl, and the API's error bodies.</summary>
internal static class KubeTestKit
{
    public static readonly IReadOnlyDictionary<string, string> MetalLbLabels =
        new Dictionary<string, string> { ["app"] = "metallb", ["component"] = "controller" };

    public const string MetalLbSelector = "app=metallb,component=controller";

    /// <summary>A fresh directory for one test's kubeconfig and kubectl cache.</summary>
    public static string TempDir() => Directory.CreateTempSubdirectory("konvoylb-kube-").FullName;

    /// <summary>Writes the fake's kubeconfig and builds a client from it exactly as a program would.</summary>
    public static Kubernetes Client(FakeKubeApi kube, out string kubeconfig, string? defaultNamespace = null)
    {
        kubeconfig = kube.WriteKubeconfig(Path.Combine(TempDir(), "kubeconfig"), defaultNamespace: defaultNamespace);
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
        return new Kubernetes(config);
    }

    public static Kubernetes Client(FakeKubeApi kube) => Client(kube, out _);

    /// <summary>The Status body of a failed call.</summary>
    public static JsonElement StatusOf(HttpOperationException e) => JsonDocument.Parse(e.Response.Content).RootElement;

    public sealed record KubectlResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

    public static string KubectlPath => File.Exists("/usr/bin/kubectl") ? "/usr/bin/kubectl" : "kubectl";

    /// <summary>Runs the real kubectl against a kubeconfig (with a private discovery cache), and waits for it to end.</summary>
    public static async Task<KubectlResult> Kubectl(string kubeconfig, params string[] args)
    {
        var psi = new ProcessStartInfo(KubectlPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(kubeconfig);
        psi.ArgumentList.Add("--cache-dir");
        psi.ArgumentList.Add(Path.Combine(Path.GetDirectoryName(kubeconfig)!, "kubectl-cache"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not end within 30 s");
        }
        return new KubectlResult(process.ExitCode, await stdout, await stderr, watch.Elapsed);
    }

    /// <summary>Polls until <paramref name="condition"/> holds, or fails the test after <paramref name="timeout"/>.</summary>
    public static async Task<T> Eventually<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        T last;
        while (true)
        {
            last = await probe();
            if (condition(last)) return last;
            if (deadline.Elapsed > timeout) throw new TimeoutException($"{what} did not happen within {timeout}");
            await Task.Delay(25);
        }
    }
}
