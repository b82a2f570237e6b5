using System.Text.Json;
using System.Text.RegularExpressions;
using KonvoyLb.KubeApi;
using static KonvoyLb.Tests.Kube.KubeTestKit;

namespace KonvoyLb.Tests.Kube;

/// <summary>The real kubectl (a child process, --kubeconfig) against the fake: what the module's users will run.</summary>
public sealed class KubectlTests
{
    static async Task<(FakeKubeApi Kube, string Kubeconfig)> MetalLbCluster(TimeSpan readyAfter, FakeKubeOptions? options = null, PodFailure failure = PodFailure.None)
    {
        var kube = await FakeKubeApi.StartAsync(options);
        kube.AddNode("node-1");
        kube.AddDeployment("metallb-controller", "kubeaddons", MetalLbLabels, readyAfter, failure, image: "metallb/controller:v0.9.3", containerName: "controller");
        var kubeconfig = kube.WriteKubeconfig(Path.Combine(TempDir(), "kubeconfig"));
        return (kube, kubeconfig);
    }

    static async Task<string> ReadyPodName(FakeKubeApi kube)
    {
        while (true)
        {
            var ready = kube.List("v1", "pods", "kubeaddons", MetalLbSelector).FirstOrDefault(p =>
                p["metadata"]?["deletionTimestamp"] is null &&
                p["status"]?["conditions"]?.AsArray().Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True") == true);
            if (ready is not null) return (string)ready["metadata"]!["name"]!;
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Get_pods_prints_the_server_side_table()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.Zero);
        await using var _ = kube;
        var name = await ReadyPodName(kube).WaitAsync(TimeSpan.FromSeconds(5));

        var r = await Kubectl(kubeconfig, "get", "pods", "-n", "kubeaddons");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.TrimEnd().Split('\n');
        Assert.Matches(@"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$", lines[0]);
        Assert.Matches($@"^{Regex.Escape(name)}\s+1/1\s+Running\s+0\s+\d+s$", lines[1]);
        Assert.Equal(2, lines.Length);

        var wide = await Kubectl(kubeconfig, "get", "po", "-n", "kubeaddons", "-o", "wide", "-l", MetalLbSelector);
        Assert.True(wide.ExitCode == 0, wide.Stderr);
        Assert.Matches(@"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES", wide.Stdout);
        Assert.Contains("node-1", wide.Stdout);

        var none = await Kubectl(kubeconfig, "get", "pods", "-n", "empty-ns");
        Assert.Equal(0, none.ExitCode);
        Assert.Equal("No resources found in empty-ns namespace.", none.Stderr.Trim());

        var missing = await Kubectl(kubeconfig, "get", "pod", "nope", "-n", "kubeaddons");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("Error from server (NotFound): pods \"nope\" not found", missing.Stderr.Trim());
    }

    [Fact]
    public async Task Get_services_across_namespaces_as_json()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.Zero);
        await using var _ = kube;
        kube.Put("v1", "services", "kubeaddons", new
        {
            metadata = new { name = "ingress", labels = new Dictionary<string, string> { ["app"] = "traefik" } },
            spec = new { type = "LoadBalancer", clusterIP = "10.96.0.50", ports = new[] { new { port = 443, protocol = "TCP", nodePort = 31443 } } },
            status = new { loadBalancer = new { ingress = new[] { new { ip = "192.0.2.20" } } } },
        });
        kube.Put("v1", "services", "default", new { metadata = new { name = "kubernetes" }, spec = new { type = "ClusterIP", clusterIP = "10.96.0.1", ports = new[] { new { port = 443, protocol = "TCP" } } } });

        var r = await Kubectl(kubeconfig, "get", "svc", "-A", "-o", "json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("List", root.GetProperty("kind").GetString());
        var items = root.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["default/kubernetes", "kubeaddons/ingress"],
            items.Select(i => $"{i.GetProperty("metadata").GetProperty("namespace").GetString()}/{i.GetProperty("metadata").GetProperty("name").GetString()}"));
        var ingress = items[1];
        Assert.Equal("Service", ingress.GetProperty("kind").GetString());
        Assert.Equal("LoadBalancer", ingress.GetProperty("spec").GetProperty("type").GetString());
        Assert.Equal("192.0.2.20", ingress.GetProperty("status").GetProperty("loadBalancer").GetProperty("ingress")[0].GetProperty("ip").GetString());

        var table = await Kubectl(kubeconfig, "get", "svc", "-A");
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Matches(@"(?m)^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$", table.Stdout);
        Assert.Matches(@"(?m)^kubeaddons\s+ingress\s+LoadBalancer\s+10\.96\.0\.50\s+192\.0\.2\.20\s+443:31443/TCP\s+\d+s$", table.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // HTTPS with a token: HTTP/2 and its streams for the watches
    public async Task Delete_the_controller_pod_then_wait_until_the_replacement_is_Ready(bool https)
    {
        var readyAfter = TimeSpan.FromMilliseconds(1500);
        var (kube, kubeconfig) = await MetalLbCluster(readyAfter, https ? new FakeKubeOptions { Https = true, Token = "k" } : null);
        await using var _ = kube;
        var old = await ReadyPodName(kube).WaitAsync(TimeSpan.FromSeconds(30));

        var delete = await Kubectl(kubeconfig, "delete", "pod", "-n", "kubeaddons", "-l", MetalLbSelector);
        Assert.True(delete.ExitCode == 0, delete.Stderr);
        Assert.Equal($"pod \"{old}\" deleted", delete.Stdout.Trim());
        Assert.Null(kube.Get("v1", "pods", "kubeaddons", old)); // kubectl waited for the deletion to finish

        var wait = await Kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod", "-l", MetalLbSelector, "-n", "kubeaddons", "--timeout=20s");
        Assert.True(wait.ExitCode == 0, wait.Stderr);
        var replacement = Assert.Single(kube.List("v1", "pods", "kubeaddons", MetalLbSelector));
        var newName = (string)replacement["metadata"]!["name"]!;
        Assert.NotEqual(old, newName);
        Assert.Equal($"pod/{newName} condition met", wait.Stdout.Trim());
        Assert.True(delete.Elapsed + wait.Elapsed >= readyAfter - TimeSpan.FromMilliseconds(300),
            $"delete {delete.Elapsed} + wait {wait.Elapsed} should take about {readyAfter}");

        // kubectl went through the watch API for both steps.
        Assert.Contains(kube.RequestLog, l => l.StartsWith("GET /api/v1/namespaces/kubeaddons/pods?", StringComparison.Ordinal) && l.Contains("watch=true"));
    }

    [Fact]
    public async Task Get_watch_prints_table_rows_for_each_change()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.FromMilliseconds(300));
        await using var _ = kube;
        var old = await ReadyPodName(kube).WaitAsync(TimeSpan.FromSeconds(5));
        var watching = Kubectl(kubeconfig, "get", "pods", "-n", "kubeaddons", "-w", "--request-timeout=3s");
        await KubeTestKit.Eventually(() => Task.FromResult(kube.OpenWatches), n => n == 1, TimeSpan.FromSeconds(5), "kubectl's watch");
        kube.Delete("v1", "pods", "kubeaddons", old);
        var r = await watching;
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.TrimEnd().Split('\n');
        Assert.Matches(@"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$", lines[0]);
        Assert.All(lines.Skip(1), l => Assert.Matches(@"^metallb-controller-\S+\s+\d/1\s+\S+\s+\d+\s+\d+s$", l));
        Assert.Contains(lines, l => l.StartsWith(old, StringComparison.Ordinal) && l.Contains(" Terminating "));
        Assert.Contains(lines, l => !l.StartsWith(old, StringComparison.Ordinal) && l.Contains(" ContainerCreating "));
        Assert.Contains(lines, l => !l.StartsWith(old, StringComparison.Ordinal) && l.Contains("1/1") && l.Contains(" Running "));
    }

    [Fact]
    public async Task Wait_times_out_on_a_crash_looping_controller()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.Zero, new FakeKubeOptions { CrashLoopInterval = TimeSpan.FromMilliseconds(200) }, PodFailure.CrashLoopBackOff);
        await using var _ = kube;
        var wait = await Kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod", "-l", MetalLbSelector, "-n", "kubeaddons", "--timeout=1s");
        Assert.Equal(1, wait.ExitCode);
        Assert.Matches(@"timed out waiting for the condition on pods/metallb-controller-", wait.Stderr);

        var get = await Kubectl(kubeconfig, "get", "pods", "-n", "kubeaddons");
        Assert.Matches(@"(?m)^metallb-controller-\S+\s+0/1\s+CrashLoopBackOff\s+\d+ \(\d+s ago\)\s+\d+s$", get.Stdout);
    }

    [Fact]
    public async Task Apply_patch_scale_and_rollout_restart()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.FromMilliseconds(300));
        await using var _ = kube;
        var dir = Path.GetDirectoryName(kubeconfig)!;
        var manifest = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(manifest,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: kubeaddons\ndata:\n  config: |\n    address-pools: []\n");

        // Client-side apply validates through the server (the fake's OpenAPI v3 says it supports fieldValidation).
        var created = await Kubectl(kubeconfig, "apply", "-f", manifest);
        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Equal("configmap/config created", created.Stdout.Trim());
        await File.WriteAllTextAsync(manifest, (await File.ReadAllTextAsync(manifest)).Replace("[]", "[{name: default}]"));
        var configured = await Kubectl(kubeconfig, "apply", "-f", manifest);
        Assert.True(configured.ExitCode == 0, configured.Stderr);
        Assert.Equal("configmap/config configured", configured.Stdout.Trim());
        Assert.Contains("name: default", (string?)kube.Get("v1", "configmaps", "kubeaddons", "config")!["data"]!["config"]);
        var serverSide = await Kubectl(kubeconfig, "apply", "--server-side", "-f", manifest);
        Assert.True(serverSide.ExitCode == 0, serverSide.Stderr);

        var patched = await Kubectl(kubeconfig, "patch", "configmap", "config", "-n", "kubeaddons", "--type=merge", "-p", "{\"metadata\":{\"labels\":{\"owner\":\"konvoylb\"}}}");
        Assert.True(patched.ExitCode == 0, patched.Stderr);
        var label = await Kubectl(kubeconfig, "get", "cm", "-n", "kubeaddons", "-l", "owner=konvoylb", "-o", "name");
        Assert.Equal("configmap/config", label.Stdout.Trim());

        var scaled = await Kubectl(kubeconfig, "scale", "deployment", "metallb-controller", "-n", "kubeaddons", "--replicas=2");
        Assert.True(scaled.ExitCode == 0, scaled.Stderr);
        var rolledOut = await Kubectl(kubeconfig, "rollout", "status", "deployment/metallb-controller", "-n", "kubeaddons", "--timeout=15s");
        Assert.True(rolledOut.ExitCode == 0, rolledOut.Stderr);
        Assert.Equal(2, kube.List("v1", "pods", "kubeaddons", MetalLbSelector).Count);

        var before = kube.List("v1", "pods", "kubeaddons", MetalLbSelector).Select(p => (string)p["metadata"]!["name"]!).ToHashSet();
        var restart = await Kubectl(kubeconfig, "rollout", "restart", "deployment/metallb-controller", "-n", "kubeaddons");
        Assert.True(restart.ExitCode == 0, restart.Stderr);
        var status = await Kubectl(kubeconfig, "rollout", "status", "deployment/metallb-controller", "-n", "kubeaddons", "--timeout=15s");
        Assert.True(status.ExitCode == 0, status.Stderr);
        Assert.EndsWith("deployment \"metallb-controller\" successfully rolled out", status.Stdout.Trim());
        var after = await KubeTestKit.Eventually(() => Task.FromResult(kube.List("v1", "pods", "kubeaddons", MetalLbSelector)),
            pods => pods.Count == 2, TimeSpan.FromSeconds(5), "the old pods to go");
        Assert.DoesNotContain(after, p => before.Contains((string)p["metadata"]!["name"]!));
    }

    [Fact]
    public async Task Kubectl_falls_back_to_legacy_discovery()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.Zero, new FakeKubeOptions { AggregatedDiscovery = false });
        await using var _ = kube;
        var r = await Kubectl(kubeconfig, "get", "deploy,leases,endpointslices", "-n", "kubeaddons");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$", r.Stdout);
        Assert.Matches(@"(?m)^deployment\.apps/metallb-controller\s+\d/1\s+", r.Stdout);
        // It asked for the aggregated document, got the legacy one, and fetched each group version.
        Assert.Contains("GET /api/v1?timeout=32s", kube.RequestLog);
        Assert.Contains("GET /apis/apps/v1?timeout=32s", kube.RequestLog);
        Assert.Contains("GET /apis/coordination.k8s.io/v1?timeout=32s", kube.RequestLog);
    }

    [Fact]
    public async Task Forbidden_and_Unauthorized_read_as_kubectl_prints_them()
    {
        // HTTPS: kubectl (client-go) reads a kubeconfig's credentials only for TLS clusters, never sends a token over http.
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.Zero, new FakeKubeOptions { Token = "t0k3n", Https = true });
        await using var _ = kube;
        var name = await ReadyPodName(kube).WaitAsync(TimeSpan.FromSeconds(5));

        kube.Faults.Forbid("delete", "pods");
        var forbidden = await Kubectl(kubeconfig, "delete", "pod", name, "-n", "kubeaddons");
        Assert.Equal(1, forbidden.ExitCode);
        Assert.Equal($"Error from server (Forbidden): pods \"{name}\" is forbidden: User \"kubernetes-admin\" cannot delete resource \"pods\" in API group \"\" in the namespace \"kubeaddons\"",
            forbidden.Stderr.Trim());

        kube.Faults.RequireToken("another");
        var unauthorized = await Kubectl(kubeconfig, "get", "pods", "-n", "kubeaddons");
        Assert.Equal(1, unauthorized.ExitCode);
        Assert.Contains("error: You must be logged in to the server (Unauthorized)", unauthorized.Stderr);
    }

    [Fact]
    public async Task Https_with_the_embedded_CA_and_with_an_untrusted_certificate()
    {
        var (kube, kubeconfig) = await MetalLbCluster(TimeSpan.Zero, new FakeKubeOptions { Https = true, Token = "t" });
        await using (kube)
        {
            var ok = await Kubectl(kubeconfig, "get", "namespaces");
            Assert.True(ok.ExitCode == 0, ok.Stderr);
            Assert.Matches(@"(?m)^kubeaddons\s+Active\s+\d+s$", ok.Stdout);
        }

        var (untrusted, badConfig) = await MetalLbCluster(TimeSpan.Zero, new FakeKubeOptions { Https = true, PresentUntrustedCertificate = true });
        await using (untrusted)
        {
            var bad = await Kubectl(badConfig, "get", "namespaces", "--request-timeout=5s");
            Assert.Equal(1, bad.ExitCode);
            Assert.Contains("x509: certificate signed by unknown authority", bad.Stderr);
        }
    }
}
