using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Tests.Deploy;

/// <summary>
/// What examples/deploy's workloads must say for a Konvoy cluster, read as Kubernetes reads them. The end-to-end suite
/// runs them; these say the parts a namespace lab cannot: scheduling, probes, who runs as whom.
/// </summary>
public sealed class ManifestTests
{
    static readonly PodSpec Speaker = PodSpec.Load("speaker.yaml"), Controller = PodSpec.Load("controller.yaml");

    [Fact]
    public void The_speaker_runs_on_every_node_in_the_host_network_with_NET_RAW_alone()
    {
        Assert.True(Speaker.HostNetwork);
        Assert.Contains(("node-role.kubernetes.io/master", "NoSchedule"), Speaker.Tolerations);
        Assert.Contains(("node-role.kubernetes.io/control-plane", "NoSchedule"), Speaker.Tolerations);
        Assert.Equal(["ALL"], Speaker.CapDrop);
        Assert.Equal(["NET_RAW"], Speaker.CapAdd);
        Assert.Equal(0, Speaker.RunAsUser);
        Assert.True(Speaker.ReadOnlyRoot && Speaker.NoNewPrivileges);
        Assert.Contains(("METALLB_NODE_NAME", null, "spec.nodeName"), Speaker.Env);
        Assert.Equal("konvoylb-speaker", Speaker.ServiceAccount);
        Assert.Equal("speaker", Speaker.Args[0]);
    }

    [Fact]
    public void The_controller_runs_as_nobody_without_capabilities_and_with_leader_election()
    {
        Assert.True(Controller.RunAsNonRoot);
        Assert.Equal(65534, Controller.RunAsUser);
        Assert.Equal(["ALL"], Controller.CapDrop);
        Assert.Empty(Controller.CapAdd);
        Assert.True(Controller.ReadOnlyRoot && Controller.NoNewPrivileges);
        Assert.Equal("controller", Controller.Args[0]);
        Assert.Contains("-LeaderElection", Controller.Args);
        Assert.Equal("konvoylb-controller", Controller.ServiceAccount);
    }

    [Theory]
    [InlineData("speaker.yaml")]
    [InlineData("controller.yaml")]
    public void Both_write_only_to_an_emptyDir_at_tmp_and_serve_their_probes_on_the_metrics_port(string file)
    {
        var pod = PodSpec.Load(file);
        Assert.Equal(["/tmp"], pod.TmpfsMounts);
        Assert.Equal("7472", pod.Args[pod.Args.ToList().IndexOf("-MetricsPort") + 1]);
        var text = File.ReadAllText(Path.Combine(PodSpec.DeployDirectory, file));
        Assert.Contains("containerPort: 7472", text);
        Assert.Contains("httpGet: {path: /healthz, port: monitoring}", text);
        Assert.Contains("httpGet: {path: /readyz, port: monitoring}", text);
        Assert.Contains("app: metallb", text);
        Assert.True(pod.MemoryLimitBytes >= pod.MemoryRequestBytes);
        Assert.Contains("kubeaddons", pod.Args);
    }

    [ContainerFact]
    public void A_bad_argument_ends_the_container_with_exit_2_and_says_what_is_known()
    {
        var unknown = Podman.Run("run", "--rm", "--pull=never", "--read-only", "--network", "none", Podman.Image, "speaker", "-NoSuchParameter", "1");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("Start-LbSpeaker has no parameter -NoSuchParameter", unknown.StdErr);
        Assert.Contains("-NodeName", unknown.StdErr);
        var component = Podman.Run("run", "--rm", "--pull=never", "--read-only", "--network", "none", Podman.Image, "agent");
        Assert.Equal(2, component.ExitCode);
        Assert.Contains("must be one of", component.StdErr);
    }
}
