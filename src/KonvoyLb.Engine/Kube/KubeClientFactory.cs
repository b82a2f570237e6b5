using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;

namespace KonvoyLb.Engine.Kube;

/// <summary>A client and what it points at (server and context, never credentials).</summary>
public sealed record KubeConnection(IKubernetes Client, string Server, string? Context, string? DefaultNamespace) : IDisposable
{
    public void Dispose() => Client.Dispose();
}

/// <summary>
/// The one way KonvoyLb reaches a cluster: -Kubeconfig and -Context like kubectl, else KUBECONFIG,
/// ~/.kube/config, then the in-cluster service account. Failures become one clear LbException each;
/// no token or key ever appears in a message.
/// </summary>
public static class KubeClientFactory
{
    public static KubeConnection Connect(string? kubeconfig, string? context)
    {
        var config = Configuration(kubeconfig, context);
        return new KubeConnection(new Kubernetes(config), config.Host, config.CurrentContext, config.Namespace);
    }

    static KubernetesClientConfiguration Configuration(string? kubeconfig, string? context)
    {
        string? path = kubeconfig;
        string source = "-Kubeconfig";
        if (path is null && Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } env)
        {
            path = env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(File.Exists)
                ?? env.Split(Path.PathSeparator)[0];
            source = "KUBECONFIG";
        }
        if (path is null)
        {
            string home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
            if (File.Exists(home)) { path = home; source = "~/.kube/config"; }
            else if (KubernetesClientConfiguration.IsInCluster())
            {
                if (context is not null)
                    throw new LbException(ErrorId.KubeContextNotFound, $"-Context '{context}' was given, but there is no kubeconfig (running with the in-cluster service account).", context,
                        fix: "Give -Kubeconfig, or drop -Context.");
                return KubernetesClientConfiguration.InClusterConfig();
            }
            else throw new LbException(ErrorId.KubeconfigNotFound, "no kubeconfig: -Kubeconfig was not given, KUBECONFIG is not set, ~/.kube/config does not exist, and this is not a pod.", null,
                fix: "Give -Kubeconfig (konvoy writes admin.conf beside cluster.yaml), or set KUBECONFIG.");
        }
        if (!File.Exists(path))
            throw new LbException(ErrorId.KubeconfigNotFound, $"the kubeconfig '{path}' (from {source}) does not exist.", path,
                fix: "Check the path; konvoy writes admin.conf beside cluster.yaml.");
        try
        {
            var file = KubernetesClientConfiguration.LoadKubeConfig(path);
            if (context is not null && file.Contexts?.All(c => c.Name != context) != false)
                throw new LbException(ErrorId.KubeContextNotFound, $"the kubeconfig '{path}' has no context '{context}'.", context,
                    fix: $"Known contexts: {string.Join(", ", file.Contexts?.Select(c => c.Name) ?? Array.Empty<string>())}.");
            return KubernetesClientConfiguration.BuildConfigFromConfigObject(file, context);
        }
        catch (KubeConfigException e)
        {
            throw new LbException(ErrorId.KubeconfigInvalid, $"the kubeconfig '{path}' cannot be used: {e.Message}", path,
                fix: "Check it with: kubectl --kubeconfig <path> config view", inner: e);
        }
    }

    /// <summary>
    /// Turns a failure of a call into the error a user can act on. <paramref name="verb"/> and
    /// <paramref name="resource"/> say what was attempted, so a 403 names the RBAC rule that is missing.
    /// </summary>
    public static LbException Explain(Exception e, KubeConnection connection, string verb, string resource, string? ns)
    {
        string where = ns is null ? "" : $" in namespace '{ns}'";
        switch (e)
        {
            case LbException lb:
                return lb;
            case HttpOperationException { Response.StatusCode: HttpStatusCode.Unauthorized } h:
                return new(ErrorId.KubeUnauthorized, $"the API server at {connection.Server} refused the credentials (401 Unauthorized).", connection.Server,
                    fix: "The token or client certificate of this kubeconfig context is wrong or expired: get a fresh kubeconfig.", inner: h);
            case HttpOperationException { Response.StatusCode: HttpStatusCode.Forbidden } h:
                return new(ErrorId.KubeForbidden, $"not allowed to {verb} {resource}{where} (403 Forbidden: {StatusMessage(h)}).", resource,
                    fix: $"Grant it with a Role{(ns is null ? "/ClusterRole" : "")} rule: apiGroups: [\"{ApiGroup(resource)}\"], resources: [\"{resource}\"], verbs: [\"{verb}\"].", inner: h);
            case HttpOperationException { Response.StatusCode: HttpStatusCode.NotFound } h when ns is not null && StatusMessage(h).Contains($"namespaces \"{ns}\" not found"):
                return LbErrors.KubeNamespaceNotFound(ns, connection.Server, h);
            case HttpOperationException h:
                return new(ErrorId.KubeApiError, $"the API server at {connection.Server} answered {(int)h.Response.StatusCode} to {verb} {resource}{where}: {StatusMessage(h)}", resource, inner: h);
            case HttpRequestException { InnerException: AuthenticationException } or AuthenticationException:
                return new(ErrorId.KubeTlsFailure, $"the TLS handshake with {connection.Server} failed: {Innermost(e).Message}", connection.Server,
                    fix: "The kubeconfig's certificate-authority does not match the server's certificate: get the kubeconfig of this cluster.", inner: e);
            case HttpRequestException or SocketException:
                return new(ErrorId.KubeApiUnreachable, $"cannot reach the API server at {connection.Server}: {Innermost(e).Message}", connection.Server,
                    fix: "Check that the cluster is up, that this computer can reach that address, and the kubeconfig context.", inner: e);
            case TaskCanceledException or TimeoutException:
                return new(ErrorId.KubeTimeout, $"the API server at {connection.Server} did not answer in time ({verb} {resource}{where}).", connection.Server,
                    fix: "Retry; if it persists check the API server's health.", inner: e);
            default:
                return new(ErrorId.KubeApiError, $"{verb} {resource}{where} failed: {e.Message}", resource, inner: e);
        }
    }

    static string ApiGroup(string resource) => resource switch
    {
        "leases" => "coordination.k8s.io",
        "endpointslices" => "discovery.k8s.io",
        "deployments" or "daemonsets" => "apps",
        _ => "",
    };

    static string StatusMessage(HttpOperationException h)
    {
        try
        {
            using var doc = JsonDocument.Parse(h.Response.Content ?? "");
            return doc.RootElement.TryGetProperty("message", out var m) ? m.GetString() ?? "" : h.Response.ReasonPhrase ?? "";
        }
        catch (JsonException) { return h.Response.ReasonPhrase ?? ""; }
    }

    static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
