using System.Collections.Concurrent;
using KonvoyLb.KubeApi;
using KonvoyLb.Tests.Controller;
using KonvoyLb.Tests.Lab;
using KonvoyLb.Tests.Speaker;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace KonvoyLb.Tests.Deploy;

/// <summary>
/// examples/deploy/rbac.yaml is least privilege: the controller and the speakers run against the project's API server,
/// which records every (verb, group, resource, namespace) they ask for; each must be granted by the component's rules,
/// and each rule must have been used.
/// </summary>
[Collection("speaker lab")]
public sealed class RbacTests(ITestOutputHelper output)
{
    const string Ns = "kubeaddons";

    /// <summary>The (verb, group, resource, namespace-or-null) a role grants; a namespaced Role grants only in its namespace.</summary>
    public static HashSet<(string Verb, string Group, string Resource, string? Ns)> Grants(string component)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(TestFiles.RepoRoot, "examples", "deploy", "rbac.yaml"))));
        var grants = new HashSet<(string, string, string, string?)>();
        foreach (var doc in stream.Documents)
        {
            var root = (YamlMappingNode)doc.RootNode;
            var kind = root["kind"].ToString();
            if (kind is not ("ClusterRole" or "Role")) continue;
            var meta = (YamlMappingNode)root["metadata"];
            if (meta["name"].ToString() != $"konvoylb:{component}") continue;
            string? ns = kind == "Role" ? meta["namespace"].ToString() : null;
            foreach (YamlMappingNode rule in (YamlSequenceNode)root["rules"])
                foreach (var group in (YamlSequenceNode)rule["apiGroups"])
                    foreach (var resource in (YamlSequenceNode)rule["resources"])
                        foreach (var verb in (YamlSequenceNode)rule["verbs"])
                            grants.Add((verb.ToString(), group.ToString(), resource.ToString(), ns));
        }
        return grants;
    }

    void Check(string component, IEnumerable<ApiAccess> used) => Check(component, used, output);

    /// <summary>Fails when a call in <paramref name="used"/> is not granted to <paramref name="component"/> by rbac.yaml, or a rule granted it was never used.</summary>
    public static void Check(string component, IEnumerable<ApiAccess> used, ITestOutputHelper output)
    {
        var grants = Grants(component);
        var calls = used.Select(c => c with { Token = null }).Distinct().ToList();
        foreach (var c in calls.OrderBy(c => c.ToString())) output.WriteLine($"{component}: {c.Verb} {c.Group}/{c.Resource} in {c.Namespace ?? "(all)"}");
        // A ClusterRole grants in every namespace and cluster-wide; a Role only in its own.
        bool Granted(ApiAccess c) => grants.Contains((c.Verb, c.Group, c.Resource, null)) || (c.Namespace is not null && grants.Contains((c.Verb, c.Group, c.Resource, c.Namespace)));
        var missing = calls.Where(c => !Granted(c)).ToList();
        Assert.True(missing.Count == 0, $"{component} calls what examples/deploy/rbac.yaml does not grant: {string.Join("; ", missing)}");
        var unused = grants.Where(g => !calls.Any(c => c.Verb == g.Verb && c.Group == g.Group && c.Resource == g.Resource && (g.Ns is null || c.Namespace == g.Ns))).ToList();
        Assert.True(unused.Count == 0, $"examples/deploy/rbac.yaml grants {component} what it never used: {string.Join("; ", unused)}");
    }

    [LabFact("arping")]
    public async Task The_speakers_use_exactly_what_their_roles_grant()
    {
        var used = new ConcurrentBag<ApiAccess>();
        await using var lab = await SpeakerLab.StartAsync(speakers: false, onAccess: used.Add);
        // One speaker meets an API without EndpointSlices (404), as on Kubernetes before 1.21: it reads Endpoints.
        lab.Kube.Faults.FailNext(1, 404, verb: "list", resource: "endpointslices");
        foreach (var node in SpeakerLab.NodeNames) lab.StartSpeaker(node);
        foreach (var node in SpeakerLab.NodeNames) lab.WaitReady(node);
        const string ip = "192.0.2.215";
        lab.AddService("moving", [ip], ["node-1"], local: true);
        lab.SetLegacyEndpoints("moving", ["node-1"]);
        // Away and back: the same nodeAssigned Event again is a patch.
        foreach (var node in new[] { "node-2", "node-1", "node-2" })
        {
            lab.SetEndpoints("moving", [node]);
            lab.SetLegacyEndpoints("moving", [node]);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline && !lab.ArpAnswers(lab.Client, ip, 1).Contains(SpeakerLab.MacOf(node))) Thread.Sleep(100);
        }
        Thread.Sleep(1000);
        foreach (var p in lab.Speakers.Values) p.Stop(TimeSpan.FromSeconds(5));
        Check("speaker", used);
    }

    [Fact]
    public async Task The_controller_uses_exactly_what_its_roles_grant()
    {
        var used = new ConcurrentBag<ApiAccess>();
        await using var h = await ControllerHarness.StartAsync("address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.200-192.0.2.210\n",
            new FakeKubeOptions { OnAccess = used.Add });
        // A status write that meets a conflict is read again: get on services.
        h.Kube.Faults.FailNext(1, 409, verb: "update", resource: "services");
        var running = h.Start(ControllerHarness.Options(o => o.LeaderElection = true));
        for (int i = 0; i < 3; i++)
            h.Kube.Put("v1", "services", "default", new
            {
                apiVersion = "v1", kind = "Service", metadata = new { name = $"web-{i}", @namespace = "default", uid = Guid.NewGuid().ToString() },
                spec = new { type = "LoadBalancer", clusterIP = $"10.96.0.{10 + i}", ports = new[] { new { port = 80, protocol = "TCP" } } },
                status = new { loadBalancer = new { } },
            });
        await ControllerHarness.Until(() => h.Kube.List("v1", "services", "default").All(s => s["status"]?["loadBalancer"]?["ingress"] is not null)
                                            && h.Kube.List("v1", "events", "default").Count >= 3, "every Service holds an address and has its Event", TimeSpan.FromSeconds(20));
        await running.StopAsync();
        Check("controller", used);
    }
}
