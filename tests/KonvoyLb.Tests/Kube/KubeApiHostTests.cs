using System.Diagnostics;
using k8s;
using static KonvoyLb.Tests.Kube.KubeTestKit;

namespace KonvoyLb.Tests.Kube;

/// <summary>The console host the Pester tests start: port on stdout, kubeconfig written, scenario seeded, stdin commands, exit on EOF.</summary>
public sealed class KubeApiHostTests
{
    static Process StartHost(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "KonvoyLb.KubeApi.Host.dll");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task Host_serves_the_metallb_scenario_obeys_commands_and_exits_when_stdin_closes()
    {
        var kubeconfig = Path.Combine(TempDir(), "kubeconfig");
        using var host = StartHost(kubeconfig, "--scenario", "metallb", "--ready-after", "300");
        try
        {
            var portLine = await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(15));
            Assert.True(int.TryParse(portLine, out var port) && port > 0, $"first line: {portLine}");
            Assert.Contains($"http://127.0.0.1:{port}", await File.ReadAllTextAsync(kubeconfig));

            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
            var pod = (await Eventually(() => client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: MetalLbSelector),
                l => l.Items.Count == 1 && l.Items[0].Status.Conditions.Any(c => c.Type == "Ready" && c.Status == "True"),
                TimeSpan.FromSeconds(5), "the controller pod to be Ready")).Items[0];
            Assert.Equal("controller", pod.Spec.Containers.Single().Name);
            Assert.Equal(3, (await client.CoreV1.ListNodeAsync()).Items.Count);

            await host.StandardInput.WriteLineAsync("forbid delete pods");
            await host.StandardInput.FlushAsync();
            Assert.Equal("ok", await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));
            var e = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, "kubeaddons"));
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, e.Response.StatusCode);

            await host.StandardInput.WriteLineAsync("no-such-command");
            await host.StandardInput.FlushAsync();
            Assert.StartsWith("error:", await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));

            host.StandardInput.Close();
            await host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, host.ExitCode);
        }
        finally
        {
            if (!host.HasExited) host.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Host_rejects_a_bad_command_line()
    {
        using var host = StartHost("--scenario");
        try
        {
            await host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(2, host.ExitCode);
            Assert.Contains("usage:", await host.StandardError.ReadToEndAsync());
        }
        finally
        {
            if (!host.HasExited) host.Kill(entireProcessTree: true);
        }
    }
}
