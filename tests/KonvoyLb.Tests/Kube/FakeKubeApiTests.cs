using System.Diagnostics;
using System.Net;
using System.Security.Authentication;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using KonvoyLb.KubeApi;
using static KonvoyLb.Tests.Kube.KubeTestKit;

namespace KonvoyLb.Tests.Kube;

/// <summary>KubernetesClient against the fake API server over real HTTP: each test starts its own server.</summary>
public sealed class FakeKubeApiTests
{
    static V1ConfigMap ConfigMap(string name, string value) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "demo" } },
        Data = new Dictionary<string, string> { ["key"] = value },
    };

    static object PodSeed(string name, string phase = "Running", string node = "node-1", IDictionary<string, string>? labels = null) => new
    {
        metadata = new { name, labels = labels ?? new Dictionary<string, string>() },
        spec = new { nodeName = node, containers = new[] { new { name = "c", image = "busybox" } } },
        status = new { phase },
    };

    [Fact]
    public async Task Discovery_answers_version_core_resources_and_groups()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);

        var version = await client.Version.GetCodeAsync();
        Assert.Equal("1", version.Major);
        Assert.Equal("32", version.Minor);

        var core = await client.CoreV1.GetAPIResourcesAsync();
        Assert.Equal("v1", core.GroupVersion);
        var shortNames = core.Resources.Where(r => r.ShortNames is not null).ToDictionary(r => r.Name, r => r.ShortNames.Single());
        Assert.Equal("po", shortNames["pods"]);
        Assert.Equal("svc", shortNames["services"]);
        Assert.Equal("cm", shortNames["configmaps"]);
        Assert.Equal("ev", shortNames["events"]);
        Assert.Equal("no", shortNames["nodes"]);
        Assert.Equal("ep", shortNames["endpoints"]);
        var pods = core.Resources.Single(r => r.Name == "pods");
        Assert.True(pods.Namespaced);
        Assert.Equal("Pod", pods.Kind);
        Assert.Contains("watch", pods.Verbs);
        Assert.Contains(core.Resources, r => r.Name == "pods/status");
        Assert.False(core.Resources.Single(r => r.Name == "nodes").Namespaced);
        Assert.False(core.Resources.Single(r => r.Name == "namespaces").Namespaced);

        var groups = await client.Apis.GetAPIVersionsAsync();
        var versions = groups.Groups.Select(g => g.PreferredVersion.GroupVersion).ToList();
        Assert.Contains("apps/v1", versions);
        Assert.Contains("coordination.k8s.io/v1", versions);
        Assert.Contains("discovery.k8s.io/v1", versions);
        var leases = await client.CoordinationV1.GetAPIResourcesAsync();
        Assert.Contains(leases.Resources, r => r.Name == "leases" && r.Namespaced);
        var slices = await client.DiscoveryV1.GetAPIResourcesAsync();
        Assert.Contains(slices.Resources, r => r.Name == "endpointslices" && r.Kind == "EndpointSlice");
    }

    [Fact]
    public async Task Create_get_list_and_AlreadyExists()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);

        var created = await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("settings", "1"), "default");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        Assert.Equal(1, created.Metadata.Generation);
        Assert.Equal("default", created.Metadata.NamespaceProperty);

        var fetched = await client.CoreV1.ReadNamespacedConfigMapAsync("settings", "default");
        Assert.Equal(created.Metadata.ResourceVersion, fetched.Metadata.ResourceVersion);
        Assert.Equal("1", fetched.Data["key"]);

        var list = await client.CoreV1.ListNamespacedConfigMapAsync("default");
        Assert.Equal("settings", Assert.Single(list.Items).Metadata.Name);
        Assert.True(long.Parse(list.Metadata.ResourceVersion) >= long.Parse(created.Metadata.ResourceVersion));

        var again = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("settings", "2"), "default"));
        Assert.Equal(HttpStatusCode.Conflict, again.Response.StatusCode);
        var status = StatusOf(again);
        Assert.Equal("Status", status.GetProperty("kind").GetString());
        Assert.Equal("AlreadyExists", status.GetProperty("reason").GetString());
        Assert.Equal("configmaps \"settings\" already exists", status.GetProperty("message").GetString());
        Assert.Equal("configmaps", status.GetProperty("details").GetProperty("kind").GetString());

        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedConfigMapAsync("nothing", "default"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Response.StatusCode);
        Assert.Equal("configmaps \"nothing\" not found", StatusOf(missing).GetProperty("message").GetString());
    }

    [Fact]
    public async Task Creating_in_a_missing_namespace_is_NotFound_for_the_namespace()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a", "1"), "nowhere"));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);
        var status = StatusOf(e);
        Assert.Equal("NotFound", status.GetProperty("reason").GetString());
        Assert.Equal("namespaces \"nowhere\" not found", status.GetProperty("message").GetString());
        Assert.Equal("nowhere", status.GetProperty("details").GetProperty("name").GetString());
        Assert.Empty((await client.CoreV1.ListNamespacedPodAsync("nowhere")).Items); // listing an absent namespace is just empty
    }

    [Fact]
    public async Task Update_with_a_stale_resourceVersion_is_a_Conflict()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        var first = await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("cm", "1"), "default");

        var fresh = await client.CoreV1.ReadNamespacedConfigMapAsync("cm", "default");
        fresh.Data["key"] = "2";
        var updated = await client.CoreV1.ReplaceNamespacedConfigMapAsync(fresh, "cm", "default");
        Assert.True(long.Parse(updated.Metadata.ResourceVersion) > long.Parse(first.Metadata.ResourceVersion));

        first.Data["key"] = "3"; // still carries the first resourceVersion
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "cm", "default"));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        var status = StatusOf(e);
        Assert.Equal("Conflict", status.GetProperty("reason").GetString());
        Assert.Equal("Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; please apply your changes to the latest version and try again",
            status.GetProperty("message").GetString());
        Assert.Equal("2", (await client.CoreV1.ReadNamespacedConfigMapAsync("cm", "default")).Data["key"]);

        // An update that changes nothing keeps the resourceVersion, as the real storage does.
        var same = await client.CoreV1.ReplaceNamespacedConfigMapAsync(updated, "cm", "default");
        Assert.Equal(updated.Metadata.ResourceVersion, same.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Patch_merge_strategic_and_json_patch()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("cm", "1"), "default");

        var merged = await client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("{\"metadata\":{\"labels\":{\"tier\":\"web\",\"app\":null}},\"data\":{\"extra\":\"x\"}}", V1Patch.PatchType.MergePatch), "cm", "default");
        Assert.Equal("web", merged.Metadata.Labels["tier"]);
        Assert.False(merged.Metadata.Labels.ContainsKey("app"));
        Assert.Equal("1", merged.Data["key"]);
        Assert.Equal("x", merged.Data["extra"]);

        var strategic = await client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("{\"data\":{\"key\":\"s\"},\"$setElementOrder/x\":[]}", V1Patch.PatchType.StrategicMergePatch), "cm", "default");
        Assert.Equal("s", strategic.Data["key"]);

        var json = await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            "[{\"op\":\"replace\",\"path\":\"/data/key\",\"value\":\"j\"},{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":{\"a/b\":\"c\"}},{\"op\":\"remove\",\"path\":\"/data/extra\"}]",
            V1Patch.PatchType.JsonPatch), "cm", "default");
        Assert.Equal("j", json.Data["key"]);
        Assert.False(json.Data.ContainsKey("extra"));
        Assert.Equal("c", json.Metadata.Annotations["a/b"]);

        var failedTest = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("[{\"op\":\"test\",\"path\":\"/data/key\",\"value\":\"nope\"}]", V1Patch.PatchType.JsonPatch), "cm", "default"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, failedTest.Response.StatusCode);

        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.PatchNamespacedConfigMapAsync(
            new V1Patch("{\"metadata\":{\"resourceVersion\":\"1\"},\"data\":{\"key\":\"z\"}}", V1Patch.PatchType.MergePatch), "cm", "default"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
    }

    [Fact]
    public async Task Status_is_a_subresource_for_services_and_pods()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        var svc = await client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "lb" },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", Selector = new Dictionary<string, string> { ["app"] = "x" }, Ports = [new V1ServicePort { Port = 80 }] },
        }, "default");
        Assert.False(string.IsNullOrEmpty(svc.Spec.ClusterIP));
        Assert.NotNull(svc.Spec.Ports[0].NodePort);

        // The main resource ignores status changes...
        svc.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "192.0.2.10" }] } };
        svc.Spec.Selector["app"] = "y";
        var replaced = await client.CoreV1.ReplaceNamespacedServiceAsync(svc, "lb", "default");
        Assert.Equal("y", replaced.Spec.Selector["app"]);
        Assert.Null(replaced.Status.LoadBalancer?.Ingress);

        // ...and the status subresource changes only status.
        replaced.Status = svc.Status;
        replaced.Spec.Selector["app"] = "z";
        var withStatus = await client.CoreV1.ReplaceNamespacedServiceStatusAsync(replaced, "lb", "default");
        Assert.Equal("192.0.2.10", withStatus.Status.LoadBalancer.Ingress.Single().Ip);
        Assert.Equal("y", withStatus.Spec.Selector["app"]);

        var patched = await client.CoreV1.PatchNamespacedServiceStatusAsync(new V1Patch(
            "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.11\"}]}}}", V1Patch.PatchType.MergePatch), "lb", "default");
        Assert.Equal("192.0.2.11", patched.Status.LoadBalancer.Ingress.Single().Ip);
        var read = await client.CoreV1.ReadNamespacedServiceStatusAsync("lb", "default");
        Assert.Equal("192.0.2.11", read.Status.LoadBalancer.Ingress.Single().Ip);

        kube.Put("v1", "pods", "default", PodSeed("p", phase: "Pending"));
        var podStatus = await client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch("{\"status\":{\"phase\":\"Running\"}}", V1Patch.PatchType.MergePatch), "p", "default");
        Assert.Equal("Running", podStatus.Status.Phase);
        var mainPatch = await client.CoreV1.PatchNamespacedPodAsync(new V1Patch("{\"status\":{\"phase\":\"Failed\"},\"metadata\":{\"labels\":{\"x\":\"1\"}}}", V1Patch.PatchType.MergePatch), "p", "default");
        Assert.Equal("Running", mainPatch.Status.Phase);
        Assert.Equal("1", mainPatch.Metadata.Labels["x"]);
    }

    [Fact]
    public async Task Label_and_field_selectors_filter_lists()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        kube.Put("v1", "pods", "default", PodSeed("a", "Running", "node-1", new Dictionary<string, string> { ["app"] = "web", ["tier"] = "front" }));
        kube.Put("v1", "pods", "default", PodSeed("b", "Pending", "node-2", new Dictionary<string, string> { ["app"] = "web" }));
        kube.Put("v1", "pods", "default", PodSeed("c", "Running", "node-2", new Dictionary<string, string> { ["app"] = "db", ["tier"] = "back" }));
        kube.Put("v1", "pods", "kube-system", PodSeed("d", "Running", "node-1", new Dictionary<string, string> { ["app"] = "web" }));

        async Task<string> Names(string? labels = null, string? fields = null, string? ns = "default")
        {
            var list = ns is null
                ? await client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: labels, fieldSelector: fields)
                : await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: labels, fieldSelector: fields);
            return string.Join(",", list.Items.Select(p => p.Metadata.Name));
        }

        Assert.Equal("a,b", await Names("app=web"));
        Assert.Equal("a,b", await Names("app==web"));
        Assert.Equal("c", await Names("app!=web"));
        Assert.Equal("a,b,c", await Names("app in (web,db)"));
        Assert.Equal("c", await Names("app notin (web)"));
        Assert.Equal("a,c", await Names("tier"));
        Assert.Equal("b", await Names("!tier"));
        Assert.Equal("a", await Names("app=web,tier=front"));
        Assert.Equal("b,d", await Names("app=web,!tier", ns: null));

        Assert.Equal("b", await Names(fields: "metadata.name=b"));
        Assert.Equal("a,c", await Names(fields: "status.phase=Running"));
        Assert.Equal("b,c", await Names(fields: "spec.nodeName=node-2"));
        Assert.Equal("c", await Names(fields: "spec.nodeName=node-2,status.phase!=Pending"));
        Assert.Equal("d", await Names(fields: "metadata.namespace=kube-system", ns: null));
        Assert.Equal("a", await Names("app=web", "status.phase==Running"));

        var unknown = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNamespacedPodAsync("default", fieldSelector: "spec.foo=bar"));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Response.StatusCode);
        Assert.Equal("BadRequest", StatusOf(unknown).GetProperty("reason").GetString());
        Assert.Equal("field label not supported: spec.foo", StatusOf(unknown).GetProperty("message").GetString());

        var badLabels = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app in web"));
        Assert.Equal(HttpStatusCode.BadRequest, badLabels.Response.StatusCode);
    }

    [Fact]
    public async Task Event_field_selectors_match_involvedObject_reason_and_type()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        foreach (var (name, kind, obj, reason, type) in new[]
                 {
                     ("e1", "Pod", "p1", "BackOff", "Warning"), ("e2", "Pod", "p2", "Started", "Normal"), ("e3", "Service", "lb", "IPAllocated", "Normal"),
                 })
            kube.Put("v1", "events", "default", new
            {
                metadata = new { name },
                involvedObject = new { kind, name = obj, @namespace = "default", uid = "uid-" + obj },
                reason, type, message = "m", source = new { component = "kubelet" },
            });

        async Task<string> Names(string fields) =>
            string.Join(",", (await client.CoreV1.ListNamespacedEventAsync("default", fieldSelector: fields)).Items.Select(e => e.Metadata.Name));

        Assert.Equal("e1", await Names("involvedObject.name=p1"));
        Assert.Equal("e1,e2", await Names("involvedObject.kind=Pod"));
        Assert.Equal("e3", await Names("involvedObject.uid=uid-lb,involvedObject.namespace=default"));
        Assert.Equal("e1", await Names("reason=BackOff"));
        Assert.Equal("e2,e3", await Names("type=Normal"));
        Assert.Equal("e1,e2,e3", await Names("source=kubelet"));
    }

    [Fact]
    public async Task Delete_and_deletecollection()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("one", "1"), "default");
        var status = await client.CoreV1.DeleteNamespacedConfigMapAsync("one", "default");
        Assert.Equal("Success", status.Status);
        Assert.Equal("one", status.Details.Name);
        var gone = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.DeleteNamespacedConfigMapAsync("one", "default"));
        Assert.Equal(HttpStatusCode.NotFound, gone.Response.StatusCode);

        var cm = await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("two", "1"), "default");
        var wrongUid = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.DeleteNamespacedConfigMapAsync("two", "default",
            new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = "not-" + cm.Metadata.Uid } }));
        Assert.Equal(HttpStatusCode.Conflict, wrongUid.Response.StatusCode);
        Assert.Contains("Precondition failed: UID in precondition", StatusOf(wrongUid).GetProperty("message").GetString());

        for (var i = 0; i < 3; i++) await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"bulk-{i}", "x"), "default");
        await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "keep", Labels = new Dictionary<string, string> { ["app"] = "other" } } }, "default");
        await client.CoreV1.DeleteCollectionNamespacedConfigMapAsync("default", labelSelector: "app=demo");
        var left = await client.CoreV1.ListNamespacedConfigMapAsync("default");
        Assert.Equal(["keep"], left.Items.Select(c => c.Metadata.Name));
    }

    [Fact]
    public async Task Deleting_a_pod_shows_MODIFIED_with_deletionTimestamp_then_DELETED()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { PodDeletionGrace = TimeSpan.FromMilliseconds(200) });
        using var client = Client(kube);
        kube.Put("v1", "pods", "default", PodSeed("victim"));
        var rv = (await client.CoreV1.ListNamespacedPodAsync("default")).Metadata.ResourceVersion;

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var events = new List<(WatchEventType Type, V1Pod Pod)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, pod) in client.CoreV1.WatchListNamespacedPodAsync("default", resourceVersion: rv, cancellationToken: cts.Token))
            {
                events.Add((type, pod));
                if (type == WatchEventType.Deleted) break;
            }
        });
        await Eventually(() => Task.FromResult(kube.OpenWatches), n => n == 1, TimeSpan.FromSeconds(5), "the watch to open");

        var deleted = await client.CoreV1.DeleteNamespacedPodAsync("victim", "default");
        Assert.NotNull(deleted.Metadata.DeletionTimestamp);
        Assert.Equal(30, deleted.Metadata.DeletionGracePeriodSeconds);
        Assert.NotNull(await client.CoreV1.ReadNamespacedPodAsync("victim", "default")); // still terminating
        await watching.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.NotNull(events[0].Pod.Metadata.DeletionTimestamp);
        Assert.True(long.Parse(events[1].Pod.Metadata.ResourceVersion) > long.Parse(events[0].Pod.Metadata.ResourceVersion));
        await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedPodAsync("victim", "default"));
    }

    [Fact]
    public async Task Watch_resumes_after_a_resourceVersion_and_sends_bookmarks()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { BookmarkInterval = TimeSpan.FromMilliseconds(200) });
        using var client = Client(kube);
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("before", "1"), "default");
        var rv = (await client.CoreV1.ListNamespacedConfigMapAsync("default")).Metadata.ResourceVersion;
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("after", "1"), "default");
        await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("{\"data\":{\"key\":\"2\"}}", V1Patch.PatchType.MergePatch), "after", "default");
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("other-ns", "1"), "kube-system");

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seen = new List<string>();
        string? bookmarkRv = null;
        await foreach (var (type, cm) in client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true, resourceVersion: rv, cancellationToken: cts.Token))
        {
            if (type == WatchEventType.Bookmark)
            {
                bookmarkRv = cm.Metadata.ResourceVersion;
                break;
            }
            seen.Add($"{type} {cm.Metadata.Name} {cm.Data?["key"]}");
        }
        Assert.Equal(["Added after 1", "Modified after 2"], seen);
        Assert.Equal(kube.ResourceVersion.ToString(), bookmarkRv);

        // No resourceVersion: the current state first, as synthetic ADDED events.
        using var cts2 = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var initial = new List<string>();
        await foreach (var (type, cm) in client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true, cancellationToken: cts2.Token))
        {
            if (type == WatchEventType.Bookmark) break;
            initial.Add($"{type} {cm.Metadata.Name}");
        }
        Assert.Equal(["Added after", "Added before"], initial);
    }

    [Fact]
    public async Task Watch_with_selectors_and_timeoutSeconds()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        kube.Put("v1", "pods", "default", PodSeed("a", labels: new Dictionary<string, string> { ["app"] = "web" }));
        var rv = (await client.CoreV1.ListNamespacedPodAsync("default")).Metadata.ResourceVersion;
        kube.Put("v1", "pods", "default", PodSeed("b", labels: new Dictionary<string, string> { ["app"] = "db" }));
        await client.CoreV1.PatchNamespacedPodAsync(new V1Patch("{\"metadata\":{\"labels\":{\"app\":\"db\"}}}", V1Patch.PatchType.MergePatch), "a", "default");
        await client.CoreV1.PatchNamespacedPodAsync(new V1Patch("{\"metadata\":{\"labels\":{\"app\":\"web\"}}}", V1Patch.PatchType.MergePatch), "b", "default");

        var watch = Stopwatch.StartNew();
        var seen = new List<string>();
        await foreach (var (type, pod) in client.CoreV1.WatchListNamespacedPodAsync("default", labelSelector: "app=web", resourceVersion: rv, timeoutSeconds: 1))
            seen.Add($"{type} {pod.Metadata.Name}");
        // "a" left the selection: DELETED; "b" entered it: ADDED. Then the server ends the watch after 1 s.
        Assert.Equal(["Deleted a", "Added b"], seen);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(5));

        var byName = new List<string>();
        await foreach (var (type, pod) in client.CoreV1.WatchListNamespacedPodAsync("default", fieldSelector: "metadata.name=b", timeoutSeconds: 1))
            byName.Add($"{type} {pod.Metadata.Name}");
        Assert.Equal(["Added b"], byName);
    }

    [Fact]
    public async Task Watch_from_an_expired_resourceVersion_gets_410_Expired()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a", "1"), "default");
        var rv = (await client.CoreV1.ListNamespacedConfigMapAsync("default")).Metadata.ResourceVersion;
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b", "1"), "default");
        kube.CompactHistory();

        var errors = new List<Exception>();
        var events = new List<WatchEventType>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // KubernetesClient hands the ERROR event's Status to onError and ends the enumeration.
        await foreach (var (type, _) in client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: rv, onError: errors.Add, cancellationToken: cts.Token))
            events.Add(type);
        Assert.Empty(events);
        var gone = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, gone.Status.Code);
        Assert.Equal("Expired", gone.Status.Reason);
        Assert.StartsWith($"too old resource version: {rv} (", gone.Status.Message);

        // The history is also bounded: a watch from before the retained window expires the same way.
        await using var small = await FakeKubeApi.StartAsync(new FakeKubeOptions { WatchHistoryLimit = 3 });
        using var smallClient = Client(small);
        var start = (await smallClient.CoreV1.ListNamespacedConfigMapAsync("default")).Metadata.ResourceVersion;
        for (var i = 0; i < 4; i++) await smallClient.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap($"n{i}", "1"), "default");
        var smallErrors = new List<Exception>();
        await foreach (var _ in smallClient.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: start, onError: smallErrors.Add)) { }
        Assert.Equal(410, Assert.IsType<KubernetesException>(Assert.Single(smallErrors)).Status.Code); // KubernetesClient reports it through onError
        var replay = new List<string>();
        var within = (long.Parse(start) + 1).ToString(); // n0 is still retained after this one
        await foreach (var (_, cm) in smallClient.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: within, timeoutSeconds: 1))
            replay.Add(cm.Metadata.Name);
        Assert.Equal(["n1", "n2", "n3"], replay);

        // A re-list gives a fresh resourceVersion to watch from.
        var relist = await client.CoreV1.ListNamespacedConfigMapAsync("default");
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c", "1"), "default");
        var fresh = new List<string>();
        await foreach (var (type, cm) in client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: relist.Metadata.ResourceVersion, timeoutSeconds: 1))
            fresh.Add(cm.Metadata.Name);
        Assert.Equal(["c"], fresh);
    }

    [Fact]
    public async Task Wire_format_of_lists_watches_and_watch_errors_is_the_real_servers()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var http = new HttpClient { BaseAddress = kube.BaseAddress };
        kube.Put("v1", "configmaps", "default", new { metadata = new { name = "a" } });
        kube.Put("v1", "configmaps", "default", new { metadata = new { name = "b" } });

        var list = JsonNode.Parse(await http.GetStringAsync("api/v1/namespaces/default/configmaps"))!;
        Assert.Equal("ConfigMapList", (string?)list["kind"]);
        Assert.Equal("v1", (string?)list["apiVersion"]);
        Assert.Equal(kube.ResourceVersion.ToString(), (string?)list["metadata"]!["resourceVersion"]);
        Assert.Null(list["items"]![0]!["kind"]); // list items carry no kind/apiVersion, as from the real server

        // The legacy /watch/ path on one object: newline-delimited {type, object} events.
        var watch = await http.GetStringAsync("api/v1/watch/namespaces/default/configmaps/b?timeoutSeconds=1");
        var line = Assert.Single(watch.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var ev = JsonNode.Parse(line)!;
        Assert.Equal("ADDED", (string?)ev["type"]);
        Assert.Equal("ConfigMap", (string?)ev["object"]!["kind"]);
        Assert.Equal("b", (string?)ev["object"]!["metadata"]!["name"]);

        // An expired resourceVersion: HTTP 200, then one ERROR event carrying a 410 Expired Status, then the end.
        kube.CompactHistory();
        using var response = await http.GetAsync("api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonNode.Parse((await response.Content.ReadAsStringAsync()).Trim())!;
        Assert.Equal("ERROR", (string?)error["type"]);
        Assert.Equal("Status", (string?)error["object"]!["kind"]);
        Assert.Equal("Failure", (string?)error["object"]!["status"]);
        Assert.Equal("Expired", (string?)error["object"]!["reason"]);
        Assert.Equal(410, (int?)error["object"]!["code"]);

        var unknown = await http.GetAsync("api/v1/namespaces/default/widgets");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("the server could not find the requested resource", (string?)JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["message"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_dropped_watch_is_seen_by_the_client(bool abort)
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        kube.Put("v1", "pods", "default", PodSeed("p"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Exception? failure = null;
        var received = 0;
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in client.CoreV1.WatchListNamespacedPodAsync("default", onError: e => failure = e, cancellationToken: cts.Token))
                    received++;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = e;
            }
        });
        await Eventually(() => Task.FromResult(received), n => n == 1, TimeSpan.FromSeconds(5), "the initial ADDED event");
        Assert.Equal(1, kube.OpenWatches);
        if (abort) Assert.Equal(1, kube.Faults.DropWatches(abort: true));
        else kube.Faults.DropWatchesAfter(TimeSpan.FromMilliseconds(100), abort: false);

        await watching.WaitAsync(TimeSpan.FromSeconds(5)); // the stream ended under the client
        Assert.False(cts.IsCancellationRequested);
        Assert.Equal(1, received);
        Assert.Equal(0, kube.OpenWatches);
        if (abort) Assert.NotNull(failure); // a reset connection is an error; a clean end is just the end
    }

    [Fact]
    public async Task A_watch_that_ends_before_its_first_event_fails_the_KubernetesClient_call()
    {
        // KubernetesClient reads the first line before it hands out the watch, so an empty watch
        // (here: timeoutSeconds with nothing to say) is an error to it, as against a real server.
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        var rv = (await client.CoreV1.ListNamespacedPodAsync("default")).Metadata.ResourceVersion;
        var e = await Assert.ThrowsAsync<HttpRequestException>(async () =>
        {
            await foreach (var _ in client.CoreV1.WatchListNamespacedPodAsync("default", resourceVersion: rv, timeoutSeconds: 1)) { }
        });
        Assert.IsType<EndOfStreamException>(e.InnerException);
    }

    [Fact]
    public async Task Forbidden_and_injected_failures_surface_as_HttpOperationException()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { UserName = "system:serviceaccount:kubeaddons:konvoylb" });
        using var client = Client(kube);
        kube.AddNamespace("kubeaddons");
        kube.Put("v1", "pods", "kubeaddons", PodSeed("p"));

        kube.Faults.Forbid("delete", "pods");
        var forbidden = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.DeleteNamespacedPodAsync("p", "kubeaddons"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Response.StatusCode);
        var status = StatusOf(forbidden);
        Assert.Equal("Forbidden", status.GetProperty("reason").GetString());
        Assert.Equal(403, status.GetProperty("code").GetInt32());
        Assert.Equal("pods \"p\" is forbidden: User \"system:serviceaccount:kubeaddons:konvoylb\" cannot delete resource \"pods\" in API group \"\" in the namespace \"kubeaddons\"",
            status.GetProperty("message").GetString());

        kube.Faults.Forbid("list", "nodes");
        var nodes = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNodeAsync());
        Assert.Equal("nodes is forbidden: User \"system:serviceaccount:kubeaddons:konvoylb\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            StatusOf(nodes).GetProperty("message").GetString());
        kube.Faults.Forbid("list", "leases");
        var leases = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoordinationV1.ListNamespacedLeaseAsync("kubeaddons"));
        Assert.Equal("leases.coordination.k8s.io is forbidden: User \"system:serviceaccount:kubeaddons:konvoylb\" cannot list resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"kubeaddons\"",
            StatusOf(leases).GetProperty("message").GetString());
        Assert.NotNull(await client.CoreV1.ReadNamespacedPodAsync("p", "kubeaddons")); // get is still allowed

        kube.Faults.Clear();
        kube.Faults.FailNext(2, 500, verb: "get", resource: "pods");
        for (var i = 0; i < 2; i++)
        {
            var e = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedPodAsync("p", "kubeaddons"));
            Assert.Equal(HttpStatusCode.InternalServerError, e.Response.StatusCode);
            Assert.Equal("InternalError", StatusOf(e).GetProperty("reason").GetString());
        }
        Assert.NotNull(await client.CoreV1.ListNamespacedPodAsync("kubeaddons")); // a list does not match verb "get"
        Assert.NotNull(await client.CoreV1.ReadNamespacedPodAsync("p", "kubeaddons"));

        kube.Faults.FailNext(1, 503, pathContains: "/configmaps");
        var unavailable = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNamespacedConfigMapAsync("kubeaddons"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.Response.StatusCode);

        kube.Faults.Latency = TimeSpan.FromMilliseconds(300);
        var timer = Stopwatch.StartNew();
        await client.CoreV1.ReadNamespacedPodAsync("p", "kubeaddons");
        Assert.True(timer.Elapsed >= TimeSpan.FromMilliseconds(280), $"took {timer.Elapsed}");
    }

    [Fact]
    public async Task An_outage_resets_every_connection_and_cuts_open_watches_until_it_ends()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a", "1"), "default");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var watching = Task.Run(async () =>
        {
            await foreach (var _ in client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: kube.ResourceVersion.ToString(), cancellationToken: cts.Token)) { }
        });
        await Eventually(() => Task.FromResult(kube.OpenWatches), n => n == 1, TimeSpan.FromSeconds(5), "the watch opening");

        kube.Faults.Outage = true;
        var cut = await Assert.ThrowsAnyAsync<Exception>(() => watching);
        Assert.True(cut is IOException or HttpRequestException, cut.ToString());
        var before = kube.RequestLog.Count;
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => client.CoreV1.ListNamespacedConfigMapAsync("default"));
        Assert.True(refused is IOException or HttpRequestException, refused.ToString());
        Assert.Contains(kube.RequestLog.Skip(before), r => r.StartsWith("GET /api/v1/namespaces/default/configmaps", StringComparison.Ordinal));

        kube.Faults.Outage = false;
        Assert.Single((await client.CoreV1.ListNamespacedConfigMapAsync("default")).Items);
    }

    [Fact]
    public async Task A_token_is_required_when_configured()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { Token = "s3cret" });
        using var client = Client(kube);
        Assert.NotEmpty((await client.CoreV1.ListNamespaceAsync()).Items);

        using var http = new HttpClient { BaseAddress = kube.BaseAddress };
        var anonymous = await http.GetAsync("api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        var body = JsonNode.Parse(await anonymous.Content.ReadAsStringAsync())!;
        Assert.Equal("Unauthorized", (string?)body["reason"]);
        Assert.Equal("Unauthorized", (string?)body["message"]);

        kube.Faults.RequireToken("rotated");
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNamespaceAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, e.Response.StatusCode);
        Assert.Equal(401, StatusOf(e).GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Https_with_the_embedded_CA_succeeds()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { Https = true, Token = "t" });
        Assert.Equal("https", kube.BaseAddress.Scheme);
        using var client = Client(kube, out var kubeconfig);
        Assert.Contains("certificate-authority-data:", await File.ReadAllTextAsync(kubeconfig));
        Assert.NotEmpty((await client.CoreV1.ListNamespaceAsync()).Items);
    }

    [Fact]
    public async Task Https_with_an_untrusted_certificate_fails_TLS()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { Https = true, PresentUntrustedCertificate = true });
        using var client = Client(kube);
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.CoreV1.ListNamespaceAsync());
        Assert.IsType<AuthenticationException>(e.InnerException);
    }

    [Fact]
    public async Task Pages_with_limit_and_continue()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        for (var i = 0; i < 5; i++) kube.Put("v1", "configmaps", "default", new { metadata = new { name = $"cm-{i}" } });
        var first = await client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2);
        Assert.Equal(["cm-0", "cm-1"], first.Items.Select(c => c.Metadata.Name));
        Assert.Equal(3, first.Metadata.RemainingItemCount);
        var second = await client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2, continueParameter: first.Metadata.ContinueProperty);
        Assert.Equal(["cm-2", "cm-3"], second.Items.Select(c => c.Metadata.Name));
        var last = await client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2, continueParameter: second.Metadata.ContinueProperty);
        Assert.Equal(["cm-4"], last.Items.Select(c => c.Metadata.Name));
        Assert.Null(last.Metadata.ContinueProperty);
    }

    [Fact]
    public async Task Leases_endpointslices_and_deployments_are_served()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        var lease = await client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "metallb" },
            Spec = new V1LeaseSpec { HolderIdentity = "node-1", LeaseDurationSeconds = 15 },
        }, "kube-system");
        lease.Spec.HolderIdentity = "node-2";
        Assert.Equal("node-2", (await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "metallb", "kube-system")).Spec.HolderIdentity);

        await client.DiscoveryV1.CreateNamespacedEndpointSliceAsync(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "lb-abc", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "lb" } },
            AddressType = "IPv4",
            Endpoints = [new V1Endpoint { Addresses = ["10.244.0.5"] }],
        }, "default");
        var slices = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync("default", labelSelector: "kubernetes.io/service-name=lb");
        Assert.Equal("10.244.0.5", slices.Items.Single().Endpoints.Single().Addresses.Single());

        await client.CoreV1.CreateNamespacedEndpointsAsync(new V1Endpoints { Metadata = new V1ObjectMeta { Name = "lb" } }, "default");
        Assert.Single((await client.CoreV1.ListNamespacedEndpointsAsync("default")).Items);

        kube.AddNode("node-1");
        var deployment = await client.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "web" },
            Spec = new V1DeploymentSpec
            {
                Replicas = 2,
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "web" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "web", Image = "nginx" }] },
                },
            },
        }, "default");
        var ready = await Eventually(() => client.AppsV1.ReadNamespacedDeploymentAsync("web", "default"),
            d => d.Status?.ReadyReplicas == 2, TimeSpan.FromSeconds(5), "the deployment to have 2 ready replicas");
        Assert.Equal(2, ready.Status.AvailableReplicas);
        var pods = await client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=web");
        Assert.Equal(2, pods.Items.Count);
        Assert.All(pods.Items, p => Assert.Equal("node-1", p.Spec.NodeName));
        Assert.All(pods.Items, p => Assert.StartsWith("web-", p.Metadata.Name));

        await client.AppsV1.DeleteNamespacedDeploymentAsync("web", "default");
        await Eventually(() => client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=web"), l => l.Items.Count == 0,
            TimeSpan.FromSeconds(5), "the deployment's pods to go");
    }

    [Fact]
    public async Task A_deleted_deployment_pod_is_replaced_and_the_replacement_becomes_Ready_after_the_delay()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        var readyAfter = TimeSpan.FromMilliseconds(600);
        kube.AddDeployment("metallb-controller", "kubeaddons", MetalLbLabels, readyAfter);

        var original = (await Eventually(() => client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: MetalLbSelector),
            l => l.Items.Count == 1 && IsReady(l.Items[0]), TimeSpan.FromSeconds(5), "the first pod to be Ready")).Items[0];
        Assert.Equal("Running", original.Status.Phase);
        Assert.True(original.Status.ContainerStatuses.Single().Ready);

        var deletedAt = Stopwatch.StartNew();
        await client.CoreV1.DeleteNamespacedPodAsync(original.Metadata.Name, "kubeaddons");
        var replacement = (await Eventually(() => client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: MetalLbSelector),
            l => l.Items.Any(p => p.Metadata.Uid != original.Metadata.Uid), TimeSpan.FromSeconds(2), "a replacement pod")).Items
            .Single(p => p.Metadata.Uid != original.Metadata.Uid);
        Assert.NotEqual(original.Metadata.Name, replacement.Metadata.Name);
        Assert.Equal("Pending", replacement.Status.Phase);
        Assert.False(IsReady(replacement));
        Assert.Equal("ContainerCreating", replacement.Status.ContainerStatuses.Single().State.Waiting.Reason);

        var ready = await Eventually(() => client.CoreV1.ReadNamespacedPodAsync(replacement.Metadata.Name, "kubeaddons"),
            IsReady, TimeSpan.FromSeconds(5), "the replacement to be Ready");
        Assert.True(deletedAt.Elapsed >= readyAfter - TimeSpan.FromMilliseconds(50), $"Ready after {deletedAt.Elapsed}");
        Assert.True(ready.Status.ContainerStatuses.Single().Ready);
        Assert.Equal("Running", ready.Status.Phase);
        await Eventually(() => client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: MetalLbSelector),
            l => l.Items.Count == 1, TimeSpan.FromSeconds(2), "the old pod to be removed");
        var scheduled = await client.CoreV1.ListNamespacedEventAsync("kubeaddons", fieldSelector: $"involvedObject.name={ready.Metadata.Name},reason=Scheduled");
        Assert.Single(scheduled.Items);
    }

    static bool IsReady(V1Pod p) => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    [Fact]
    public async Task CrashLoopBackOff_pods_restart_and_never_get_Ready()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { CrashLoopInterval = TimeSpan.FromMilliseconds(100) });
        using var client = Client(kube);
        kube.AddDeployment("metallb-controller", "kubeaddons", MetalLbLabels, TimeSpan.FromMilliseconds(50), PodFailure.CrashLoopBackOff);
        var pod = (await Eventually(() => client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: MetalLbSelector),
            l => l.Items.Count == 1 && l.Items[0].Status.ContainerStatuses?.Single().RestartCount >= 3, TimeSpan.FromSeconds(5), "three restarts")).Items[0];
        var container = pod.Status.ContainerStatuses.Single();
        Assert.Equal("CrashLoopBackOff", container.State.Waiting.Reason);
        Assert.False(container.Ready);
        Assert.Equal(1, container.LastState.Terminated.ExitCode);
        Assert.False(IsReady(pod));
        Assert.Equal("Running", pod.Status.Phase);
        var backoff = await client.CoreV1.ListNamespacedEventAsync("kubeaddons", fieldSelector: "reason=BackOff,type=Warning");
        Assert.NotEmpty(backoff.Items);
    }

    [Fact]
    public async Task ImagePullBackOff_and_Unschedulable_pods()
    {
        await using var kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { CrashLoopInterval = TimeSpan.FromMilliseconds(100) });
        using var client = Client(kube);
        kube.AddDeployment("pull", "kubeaddons", new Dictionary<string, string> { ["app"] = "pull" }, TimeSpan.Zero, PodFailure.ImagePullBackOff);
        kube.AddDeployment("nowhere", "kubeaddons", new Dictionary<string, string> { ["app"] = "nowhere" }, TimeSpan.Zero, PodFailure.Unschedulable);

        var pull = (await Eventually(() => client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: "app=pull"),
            l => l.Items.Count == 1 && l.Items[0].Status.ContainerStatuses?.Single().State.Waiting?.Reason == "ImagePullBackOff",
            TimeSpan.FromSeconds(5), "ImagePullBackOff")).Items[0];
        Assert.Equal("Pending", pull.Status.Phase);
        Assert.Equal(0, pull.Status.ContainerStatuses.Single().RestartCount);
        Assert.Contains("Back-off pulling image", pull.Status.ContainerStatuses.Single().State.Waiting.Message);

        var nowhere = (await client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: "app=nowhere")).Items.Single();
        Assert.Equal("Pending", nowhere.Status.Phase);
        Assert.Null(nowhere.Spec.NodeName);
        var scheduled = nowhere.Status.Conditions.Single(c => c.Type == "PodScheduled");
        Assert.Equal("False", scheduled.Status);
        Assert.Equal("Unschedulable", scheduled.Reason);
        Assert.Contains("nodes are available", scheduled.Message);

        // An unscheduled pod is deleted at once (no graceful phase), and replaced.
        await client.CoreV1.DeleteNamespacedPodAsync(nowhere.Metadata.Name, "kubeaddons");
        var after = await client.CoreV1.ListNamespacedPodAsync("kubeaddons", labelSelector: "app=nowhere");
        Assert.DoesNotContain(after.Items, p => p.Metadata.Uid == nowhere.Metadata.Uid);
    }

    [Fact]
    public async Task Namespaces_terminate_with_their_content()
    {
        await using var kube = await FakeKubeApi.StartAsync();
        using var client = Client(kube);
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "scratch" } });
        await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c", "1"), "scratch");
        var terminating = await client.CoreV1.DeleteNamespaceAsync("scratch");
        Assert.NotNull(terminating);
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("d", "1"), "scratch"));
        Assert.True(refused.Response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound);
        await Eventually(() => client.CoreV1.ListNamespaceAsync(), l => l.Items.All(n => n.Metadata.Name != "scratch"), TimeSpan.FromSeconds(5), "the namespace to go");
        Assert.Empty((await client.CoreV1.ListNamespacedConfigMapAsync("scratch")).Items);
    }
}
