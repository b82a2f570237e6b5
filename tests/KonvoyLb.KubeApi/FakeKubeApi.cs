using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace KonvoyLb.KubeApi;

/// <summary>
/// An in-memory Kubernetes API server on 127.0.0.1 over real HTTP(S), for tests: KubernetesClient and
/// kubectl talk to it as to a cluster (discovery, get/list/watch/create/update/patch/delete on core v1
/// pods, services, endpoints, configmaps, events, nodes, namespaces; apps/v1 deployments;
/// coordination.k8s.io/v1 leases; discovery.k8s.io/v1 endpointslices), with a Deployment controller
/// and kubelet stand-in, and faults on demand (<see cref="Faults"/>).
/// </summary>
/// <example>
/// <code>
/// await using var kube = await FakeKubeApi.StartAsync();
/// kube.AddDeployment("metallb-controller", "kubeaddons",
///     new Dictionary&lt;string, string&gt; { ["app"] = "metallb", ["component"] = "controller" }, TimeSpan.FromSeconds(1));
/// var config = kube.WriteKubeconfig(Path.Combine(dir, "kubeconfig"));
/// </code>
/// </example>
public sealed class FakeKubeApi : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly Store _store;
    readonly Registry _registry;
    readonly Controllers _controllers;
    readonly ApiHandler _handler;
    readonly Certificates? _trusted, _presented;
    readonly CancellationTokenSource _stopping;
    int _disposed;

    FakeKubeApi(FakeKubeOptions options, WebApplication app, Store store, Registry registry, Controllers controllers,
                ApiHandler handler, KubeFaults faults, Certificates? trusted, Certificates? presented, CancellationTokenSource stopping)
    {
        Options = options;
        _app = app;
        _store = store;
        _registry = registry;
        _controllers = controllers;
        _handler = handler;
        Faults = faults;
        _trusted = trusted;
        _presented = presented;
        _stopping = stopping;
        BaseAddress = null!;
    }

    /// <summary>Starts the server on 127.0.0.1 (a free port unless <see cref="FakeKubeOptions.Port"/> says otherwise).</summary>
    public static async Task<FakeKubeApi> StartAsync(FakeKubeOptions? options = null)
    {
        options ??= new FakeKubeOptions();
        var stopping = new CancellationTokenSource();
        var store = new Store(options.WatchHistoryLimit);
        var faults = new KubeFaults(store);
        var registry = new Registry(store, options, stopping.Token);
        var controllers = new Controllers(store, registry, options, stopping.Token);
        store.Observer = controllers.Observe;
        var handler = new ApiHandler(registry, options, faults, stopping.Token);

        Certificates? trusted = null, presented = null;
        if (options.Https)
        {
            // The extra socket's address is in the certificate too: a client inside the lab checks it as a pod checks the API's.
            IPAddress[] extra = options.ExtraListenSocket?.LocalEndPoint is IPEndPoint { Address: var a } && !a.Equals(IPAddress.Any) ? [a] : [];
            trusted = Certificates.Create("fake-kube-ca", extra);
            presented = options.PresentUntrustedCertificate ? Certificates.Create("some-other-ca", extra) : trusted;
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MinResponseDataRate = null;
            void Configure(ListenOptions listen)
            {
                if (presented is not null)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(presented.Server);
                }
                else listen.Protocols = HttpProtocols.Http1;
            }
            k.Listen(IPAddress.Loopback, options.Port, Configure);
            if (options.ExtraListenSocket is { } extra)
                // Kestrel owns (and closes) the handle it is given: give it a duplicate, so the caller's socket stays the caller's.
                k.ListenHandle((ulong)Dup((int)extra.Handle.ToInt64()), Configure);
        });
        var app = builder.Build();
        app.Run(handler.HandleAsync);
        await app.StartAsync();

        var fake = new FakeKubeApi(options, app, store, registry, controllers, handler, faults, trusted, presented, stopping);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(a => a.Contains("127.0.0.1"));
        var port = new Uri(address).Port;
        fake.BaseAddress = new Uri($"{(options.Https ? "https" : "http")}://127.0.0.1:{port}/");
        controllers.Start();
        if (options.SeedSystemNamespaces)
            foreach (var ns in new[] { "default", "kube-node-lease", "kube-public", "kube-system" })
                fake.AddNamespace(ns);
        return fake;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "dup", SetLastError = true)]
    static extern int Dup(int fd);

    /// <summary>The options the server started with.</summary>
    public FakeKubeOptions Options { get; }

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; }

    /// <summary>Faults to inject from now on: latency, failing requests, 403s, token changes, dropped watches.</summary>
    public KubeFaults Faults { get; }

    /// <summary>The PEM of the CA the kubeconfig trusts (null over plain HTTP).</summary>
    public string? CertificateAuthorityPem => _trusted?.CaPem;

    /// <summary>The latest requests as "METHOD /path?query", oldest first: what a client actually asked.</summary>
    public IReadOnlyList<string> RequestLog => _handler.RequestLog;

    /// <summary>The current (global) resourceVersion.</summary>
    public long ResourceVersion => _store.CurrentRv;

    /// <summary>How many watch requests are streaming right now.</summary>
    public int OpenWatches => _store.OpenWatches;

    /// <summary>
    /// Writes a kubeconfig for this server (server URL, CA data for HTTPS, the token, or
    /// <see cref="AnonymousToken"/> when none is required) and returns its full path.
    /// </summary>
    public string WriteKubeconfig(string path, string contextName = "fake", string? defaultNamespace = null, Uri? server = null)
    {
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var sb = new StringBuilder();
        sb.Append("apiVersion: v1\nkind: Config\nclusters:\n- name: ").Append(Q(contextName)).Append('\n');
        sb.Append("  cluster:\n    server: ").Append(Q((server ?? BaseAddress).ToString().TrimEnd('/'))).Append('\n');
        if (_trusted is not null)
            sb.Append("    certificate-authority-data: ").Append(Convert.ToBase64String(Encoding.ASCII.GetBytes(_trusted.CaPem))).Append('\n');
        sb.Append("users:\n- name: ").Append(Q(contextName + "-user")).Append('\n');
        // KubernetesClient refuses a user without credentials, so without a configured token the
        // kubeconfig carries a placeholder one, which the server (serving anyone) ignores.
        sb.Append("  user:\n    token: ").Append(Q(Options.Token ?? AnonymousToken)).Append('\n');
        sb.Append("contexts:\n- name: ").Append(Q(contextName)).Append('\n');
        sb.Append("  context:\n    cluster: ").Append(Q(contextName)).Append("\n    user: ").Append(Q(contextName + "-user")).Append('\n');
        if (defaultNamespace is not null) sb.Append("    namespace: ").Append(Q(defaultNamespace)).Append('\n');
        sb.Append("current-context: ").Append(Q(contextName)).Append("\npreferences: {}\n");
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, sb.ToString());
        return full;
    }

    /// <summary>The token a kubeconfig carries when the server requires none.</summary>
    public const string AnonymousToken = "fake-kube-anonymous";

    static string NsFor(ResourceType rt, string? ns) =>
        rt.Namespaced ? ns ?? throw new ArgumentException($"{rt.Plural} are namespaced: give a namespace") : "";

    /// <summary>
    /// Creates or replaces an object as given, status included (no API defaults, no namespace check
    /// beyond existence): for seeding. <paramref name="obj"/> is a JsonNode, JSON text, or any object
    /// that serializes to the resource's JSON (anonymous objects are fine; for KubernetesClient models pass
    /// <c>KubernetesJson.Serialize(model)</c>, which knows their quantity and int-or-string formats).
    /// Returns the stored object.
    /// </summary>
    public JsonObject Put(string apiVersion, string resource, string? ns, object obj)
    {
        var rt = Catalog.Resolve(apiVersion, resource);
        var json = Json.From(obj);
        var meta = json.Metadata();
        if (ns is null && meta.Str("namespace") is { } fromObject) ns = fromObject;
        if (rt.Namespaced && ns is not null && !_store.NamespaceExists(ns, out _)) AddNamespace(ns);
        return _store.Put(rt, NsFor(rt, ns), json);
    }

    /// <summary>One object as stored (a copy), or null.</summary>
    public JsonObject? Get(string apiVersion, string resource, string? ns, string name)
    {
        var rt = Catalog.Resolve(apiVersion, resource);
        return _store.Get(rt, NsFor(rt, ns), name);
    }

    /// <summary>Objects of a kind (copies), in one namespace or all, optionally filtered by a label selector.</summary>
    public IReadOnlyList<JsonObject> List(string apiVersion, string resource, string? ns = null, string? labelSelector = null)
    {
        var rt = Catalog.Resolve(apiVersion, resource);
        return _store.List(rt, rt.Namespaced ? ns : null, LabelSelector.Parse(labelSelector), FieldSelector.Everything).Items;
    }

    /// <summary>Deletes an object at once (no grace period, no finalizers); false if it did not exist.</summary>
    public bool Remove(string apiVersion, string resource, string? ns, string name)
    {
        var rt = Catalog.Resolve(apiVersion, resource);
        try
        {
            _store.Remove(rt, NsFor(rt, ns), name);
            return true;
        }
        catch (KubeApiException e) when (e.Code == 404)
        {
            return false;
        }
    }

    /// <summary>Deletes an object through the API's rules (pods terminate gracefully, namespaces empty first), as a DELETE request would.</summary>
    public JsonObject Delete(string apiVersion, string resource, string? ns, string name)
    {
        var rt = Catalog.Resolve(apiVersion, resource);
        return _registry.Delete(rt, NsFor(rt, ns), name, DeleteOptions.Default);
    }

    /// <summary>Creates a namespace (Active) unless it exists; returns it.</summary>
    public JsonObject AddNamespace(string name, IReadOnlyDictionary<string, string>? labels = null)
    {
        if (_store.Get(Catalog.Namespaces, "", name) is { } existing) return existing;
        var ns = new JsonObject { ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = Json.ToObject(labels) } };
        return _registry.Create(Catalog.Namespaces, "", ns);
    }

    /// <summary>Adds a node with a Ready (or NotReady) condition, an InternalIP and kubelet version.</summary>
    public JsonObject AddNode(string name, bool ready = true, IReadOnlyDictionary<string, string>? labels = null)
    {
        var count = _store.List(Catalog.Nodes, null, LabelSelector.Everything, FieldSelector.Everything).Items.Count;
        var nodeLabels = Json.ToObject(labels);
        nodeLabels["kubernetes.io/hostname"] = name;
        nodeLabels["kubernetes.io/os"] = "linux";
        nodeLabels["kubernetes.io/arch"] = "amd64";
        var now = Json.Time(DateTimeOffset.UtcNow);
        var node = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = nodeLabels },
            ["spec"] = new JsonObject { ["podCIDR"] = $"10.244.{count}.0/24" },
            ["status"] = new JsonObject
            {
                ["addresses"] = new JsonArray(
                    new JsonObject { ["type"] = "InternalIP", ["address"] = $"10.0.0.{count + 11}" },
                    new JsonObject { ["type"] = "Hostname", ["address"] = name }),
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Ready",
                    ["status"] = ready ? "True" : "False",
                    ["lastHeartbeatTime"] = now,
                    ["lastTransitionTime"] = now,
                    ["reason"] = ready ? "KubeletReady" : "KubeletNotReady",
                    ["message"] = ready ? "kubelet is posting ready status" : "container runtime network not ready",
                }),
                ["nodeInfo"] = new JsonObject
                {
                    ["kubeletVersion"] = Options.GitVersion,
                    ["kubeProxyVersion"] = Options.GitVersion,
                    ["operatingSystem"] = "linux",
                    ["architecture"] = "amd64",
                    ["containerRuntimeVersion"] = "containerd://1.7.24",
                    ["osImage"] = "Fake Linux",
                },
            },
        };
        return _store.Put(Catalog.Nodes, "", node);
    }

    /// <summary>
    /// Adds an apps/v1 Deployment (creating the namespace if needed) whose pods carry
    /// <paramref name="labels"/>. Its controller keeps <paramref name="replicas"/> pods: a deleted
    /// (terminating) pod is replaced at once by a new one with a new name and UID, Pending first and
    /// then Running and Ready after <paramref name="readyAfter"/>, or failing as <paramref name="failure"/> says.
    /// </summary>
    public JsonObject AddDeployment(string name, string ns, IReadOnlyDictionary<string, string> labels, TimeSpan readyAfter,
                                    PodFailure failure = PodFailure.None, int replicas = 1, string? image = null, string? containerName = null)
    {
        AddNamespace(ns);
        SetDeploymentBehavior(ns, name, readyAfter, failure);
        var deployment = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = Json.ToObject(labels) },
            ["spec"] = new JsonObject
            {
                ["replicas"] = replicas,
                ["selector"] = new JsonObject { ["matchLabels"] = Json.ToObject(labels) },
                ["template"] = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["labels"] = Json.ToObject(labels) },
                    ["spec"] = new JsonObject
                    {
                        ["containers"] = new JsonArray(new JsonObject
                        {
                            ["name"] = containerName ?? name,
                            ["image"] = image ?? $"registry.local/{name}:latest",
                        }),
                    },
                },
            },
        };
        return _registry.Create(Catalog.Deployments, ns, deployment);
    }

    /// <summary>Changes how the next pods of a Deployment behave (pods that exist keep going as they were).</summary>
    public void SetDeploymentBehavior(string ns, string name, TimeSpan readyAfter, PodFailure failure = PodFailure.None, string? unschedulableMessage = null) =>
        _controllers.SetBehavior(ns, name, new Controllers.Behavior(readyAfter, failure, unschedulableMessage));

    /// <summary>Forgets the watch history, like an etcd compaction: watching from any older resourceVersion now gets 410 Expired.</summary>
    public void CompactHistory() => _store.Compact();

    /// <summary>Waits until an object exists and satisfies <paramref name="condition"/>; returns it.</summary>
    public async Task<JsonObject> WaitForAsync(string apiVersion, string resource, string? ns, string name, Func<JsonObject, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Get(apiVersion, resource, ns, name) is { } obj && condition(obj)) return obj;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{resource} {ns}/{name} did not reach the condition within {timeout}");
            await Task.Delay(20);
        }
    }

    /// <summary>Stops the server: open watches end, Kestrel stops, the background controllers stop.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _store.DropWatches(abort: false);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
        {
            try { await _app.StopAsync(timeout.Token); }
            catch (OperationCanceledException) { }
        }
        await _app.DisposeAsync();
        try { await _controllers.Completion.WaitAsync(TimeSpan.FromSeconds(2)); }
        catch (TimeoutException) { }
        _presented?.Dispose();
        if (!ReferenceEquals(_presented, _trusted)) _trusted?.Dispose();
        _stopping.Dispose();
    }
}
