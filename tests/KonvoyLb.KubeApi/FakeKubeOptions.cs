namespace KonvoyLb.KubeApi;

/// <summary>How a <see cref="FakeKubeApi"/> starts. Everything has a default that suits tests.</summary>
public sealed class FakeKubeOptions
{
    /// <summary>
    /// A bearer token every request must carry (401 otherwise); null serves anyone. Also written to the kubeconfig.
    /// kubectl (client-go) uses a kubeconfig's credentials only for https servers, so pair it with <see cref="Https"/>
    /// for kubectl; KubernetesClient sends it either way.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>The user name the fake's authorizer reports in 403 messages.</summary>
    public string UserName { get; set; } = "kubernetes-admin";

    /// <summary>Serve HTTPS with a certificate from a CA generated at start; the kubeconfig carries that CA.</summary>
    public bool Https { get; set; }

    /// <summary>With <see cref="Https"/>: present a certificate from another CA than the kubeconfig's, so clients must fail TLS.</summary>
    public bool PresentUntrustedCertificate { get; set; }

    /// <summary>
    /// A bound socket to serve on as well as 127.0.0.1 (HTTPS with <see cref="Https"/>, its address in the certificate), e.g. one made inside a test network namespace so
    /// processes in that namespace's LAN reach the server; <see cref="FakeKubeApi.WriteKubeconfig"/> can point there.
    /// </summary>
    public System.Net.Sockets.Socket? ExtraListenSocket { get; set; }

    /// <summary>The port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>How many changes the watch history keeps; a watch from an older resourceVersion gets 410 Expired.</summary>
    public int WatchHistoryLimit { get; set; } = 10_000;

    /// <summary>How often watches that asked for bookmarks (allowWatchBookmarks=true) get one.</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a deleted pod on a node stays Terminating before it is removed; zero removes it at once after the MODIFIED event.</summary>
    public TimeSpan PodDeletionGrace { get; set; } = TimeSpan.Zero;

    /// <summary>How often a CrashLoopBackOff pod "restarts" (restartCount goes up).</summary>
    public TimeSpan CrashLoopInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Answer kubectl's aggregated discovery (apidiscovery.k8s.io/v2) request; false serves only the legacy documents, to which kubectl falls back.</summary>
    public bool AggregatedDiscovery { get; set; } = true;

    /// <summary>Create default, kube-system, kube-public and kube-node-lease at start, as every cluster has them.</summary>
    public bool SeedSystemNamespaces { get; set; } = true;

    /// <summary>What /version reports. The gcloud kubectl dispatcher picks its kubectl by this minor version.</summary>
    public string GitVersion { get; set; } = "v1.32.4";

    /// <summary>Called with "METHOD /path?query" for every request as it arrives (for tracing; must be quick).</summary>
    public Action<string>? OnRequest { get; set; }

    /// <summary>Called with what each resource request asks, as an RBAC authorizer sees it (for least-privilege tests; must be quick).</summary>
    public Action<ApiAccess>? OnAccess { get; set; }

    /// <summary>How many requests <see cref="FakeKubeApi.RequestLog"/> keeps.</summary>
    public int RequestLogLimit { get; set; } = 2_000;
}

/// <summary>
/// One request as RBAC sees it: verb, API group ("" for core), resource ("services/status" for a subresource), namespace
/// (null: cluster-wide), and who asked: the bearer token presented (null without one), as a service account's token
/// names the account.
/// </summary>
public sealed record ApiAccess(string Verb, string Group, string Resource, string? Namespace, string? Token = null);
