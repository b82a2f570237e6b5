using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KonvoyLb.Engine.Runtime.Speaker;
using KonvoyLb.Tests.Deploy;
using KonvoyLb.Tests.Speaker;
using static KonvoyLb.Bench.SpeakerBench;

namespace KonvoyLb.Bench;

/// <summary>
/// The runtime from the image (build.ps1 -Task Image), run by podman with its manifests' settings on the namespace
/// cluster of the end-to-end tests: image size; cold start to /readyz against the same cmdlet started from the built
/// module by the host's pwsh; RSS idle and with 1,000 Services against a bare pwsh in the same image; layer2 failover
/// through the containers.
/// </summary>
static class ContainerBench
{
    const int Rounds = 5;
    const string Config = "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.200-192.0.2.239\n" +
                          "- name: bulk\n  protocol: layer2\n  addresses:\n  - 198.18.0.0/22\n";

    public static string Run() => RunAsync().GetAwaiter().GetResult();

    static double ImageMiB(string image) =>
        double.TryParse(Podman.Run("image", "inspect", "--format", "{{.Size}}", image).StdOut.Trim(), CultureInfo.InvariantCulture, out var b) ? b / (1 << 20) : double.NaN;

    static double Seconds(TimeSpan t) => t.TotalSeconds;

    static async Task<string> RunAsync()
    {
        if (Podman.Unavailable() is { } why) throw new InvalidOperationException(why);
        await using var cluster = await ContainerCluster.StartAsync(null, Config, withBird: false);
        var lab = cluster.Lab;
        var node1 = lab.Nodes["node-1"];
        // node-1 is on the bulk pool's subnet too, so it answers for those addresses.
        lab.Lab.Exec(node1, "ip", "addr", "add", "198.18.3.254/22", "dev", "eth0").EnsureSuccess();

        // Cold start to /readyz: a new container each time, against Start-LbSpeaker / Start-LbController from the
        // built module in the host's pwsh (framework-dependent .NET, the same machine).
        var speakerCold = new List<double>();
        var controllerCold = new List<double>();
        var speakerHost = new List<double>();
        for (int i = 0; i < Rounds; i++)
        {
            using (var s = cluster.StartSpeaker("node-1", $"cold{i}")) speakerCold.Add(Seconds(cluster.WaitReady(node1, s)));
            using (var c = cluster.StartController($"cold{i}")) controllerCold.Add(Seconds(cluster.WaitReady(cluster.ControllerHost, c)));
            var clock = Stopwatch.StartNew();
            lab.StartSpeaker("node-1");
            lab.WaitReady("node-1");
            speakerHost.Add(clock.Elapsed.TotalSeconds);
            lab.Speakers["node-1"].Stop(TimeSpan.FromSeconds(5));
        }

        // The cluster: three speakers and the controller in containers. RSS idle, next to a bare pwsh of the image.
        foreach (var node in SpeakerLab.NodeNames) cluster.StartSpeaker(node);
        cluster.StartController();
        foreach (var node in SpeakerLab.NodeNames) cluster.WaitReady(lab.Nodes[node], cluster.Speakers[node]);
        cluster.WaitReady(cluster.ControllerHost, cluster.Controller!);
        Thread.Sleep(3000);
        double speakerIdle = RssMiB(cluster.Speakers["node-1"].Pid), controllerIdle = RssMiB(cluster.Controller!.Pid);
        var bareOptions = cluster.SpeakerPod.PodmanRunOptions($"{node1.Namespace}-bare", node1.Namespace, "node-1", null, "192.0.2.250", lab.ApiPort);
        bareOptions.AddRange(["--entrypoint", "/opt/konvoylb/pwsh/pwsh"]);
        double bare;
        using (var b = PodmanContainer.Start(bareOptions, ["-NoProfile", "-NonInteractive", "-Command", "Start-Sleep 60"]))
        {
            Thread.Sleep(5000);
            bare = RssMiB(b.Pid);
        }

        // Failover through the containers: the owner's container SIGKILLed, as the client's neighbour table sees it;
        // then started again and the address back on it before the next round.
        ContainerCluster.Service(lab, "ha", "default");
        lab.SetEndpoints("ha", SpeakerLab.NodeNames);
        Until(() => ContainerCluster.IngressOf(lab, "ha") is not null);
        var haIp = ContainerCluster.IngressOf(lab, "ha") ?? throw new InvalidOperationException("the controller gave ha no address:\n" + cluster.AllLogs());
        var ranking = Announcer.Ranking(System.Net.IPAddress.Parse(haIp), SpeakerLab.NodeNames);
        var failover = new List<double>();
        for (int round = 0; round < Rounds; round++)
        {
            Until(() => lab.ArpAnswers(lab.Client, haIp, 1).Contains(SpeakerLab.MacOf(ranking[0])));
            Thread.Sleep(1500); // past Linux's locktime (1 s) for the owner's last gratuitous ARP
            lab.Lab.Exec(lab.Client, "ping", "-n", "-c", "1", "-W", "0.3", haIp);
            var clock = Stopwatch.StartNew();
            cluster.Speakers[ranking[0]].Kill();
            var moved = lab.WaitNeighbour(haIp, SpeakerLab.MacOf(ranking[1]), TimeSpan.FromSeconds(20), clock);
            failover.Add(moved?.TotalMilliseconds ?? double.NaN);
            cluster.Speakers[ranking[0]].StartAgain();
            cluster.WaitReady(lab.Nodes[ranking[0]], cluster.Speakers[ranking[0]]);
            Thread.Sleep(6000); // the returning owner's gratuitous rounds done
        }

        // 1,000 Services on node-1 alone (the other speakers stopped cleanly): RSS of the speaker and the controller.
        foreach (var node in new[] { "node-2", "node-3" }) cluster.Speakers[node].Stop(cluster.SpeakerPod.GraceSeconds);
        var allocating = Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++)
        {
            ContainerCluster.Service(lab, $"s{i}", "bulk");
            lab.SetEndpoints($"s{i}", ["node-1"]);
        }
        Until(() => lab.Kube.List("v1", "services", "default").Count(s => s["status"]?["loadBalancer"]?["ingress"] is not null) >= 1001);
        var allocated = allocating.Elapsed;
        Until(() => Regex.Matches(lab.Http("node-1", "/metrics"), "^metallb_speaker_announced\\{", RegexOptions.Multiline).Count >= 1000);
        Thread.Sleep(7000); // past the gratuitous rounds
        double speakerLoaded = RssMiB(cluster.Speakers["node-1"].Pid), controllerLoaded = RssMiB(cluster.Controller!.Pid);

        var md = new StringBuilder();
        md.AppendLine("| the image (`build.ps1 -Task Image`, podman) | MiB |");
        md.AppendLine("|---|---:|");
        md.AppendLine($"| localhost/konvoylb (base + pwsh self-contained + module) | **{ImageMiB(Podman.Image):0}** |");
        md.AppendLine($"| of which the debootstrap base (localhost/konvoylb-base:bookworm-1) | {ImageMiB("localhost/konvoylb-base:bookworm-1"):0} |");
        md.AppendLine();
        md.AppendLine($"| cold start to 200 on /readyz, against the in-process API server over HTTPS (median of {Rounds}) | s | runs |");
        md.AppendLine("|---|---:|---|");
        md.AppendLine($"| speaker container (`podman run` with speaker.yaml's settings) | **{Median(speakerCold):0.00}** | {Runs2(speakerCold)} |");
        md.AppendLine($"| controller container (controller.yaml's settings, leader election) | **{Median(controllerCold):0.00}** | {Runs2(controllerCold)} |");
        md.AppendLine($"| Start-LbSpeaker from the built module in the host's pwsh, for comparison | {Median(speakerHost):0.00} | {Runs2(speakerHost)} |");
        md.AppendLine();
        md.AppendLine("| RSS inside the container | MiB |");
        md.AppendLine("|---|---:|");
        md.AppendLine($"| a bare pwsh of the same image (`Start-Sleep`), for comparison | {bare:0} |");
        md.AppendLine($"| speaker, ready, nothing announced | {speakerIdle:0} |");
        md.AppendLine($"| speaker announcing 1,000 addresses | **{speakerLoaded:0}** |");
        md.AppendLine($"| controller, ready, leading, no Service | {controllerIdle:0} |");
        md.AppendLine($"| controller holding 1,000 Services' addresses | **{controllerLoaded:0}** |");
        md.AppendLine();
        md.AppendLine($"Layer2 failover through the containers (owner's speaker container SIGKILLed, 3 speakers, median of {Rounds}): " +
                      $"**{Median(failover):0} ms** (runs {Runs(failover)}). 1,000 Services created through the API had their addresses in {allocated.TotalSeconds:0.0} s.");
        return md.ToString();
    }

    static string Runs2(List<double> v) => string.Join(", ", v.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture)));
}
