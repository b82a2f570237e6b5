using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;

namespace KonvoyLb.Engine.Kube;

/// <summary>
/// A client and what it points at (server and context, never credentials). <see cref="Source"/> says in
/// words where the configuration came from, e.g. "KUBECONFIG (/a, /b merged)".
/// </summary>
public sealed record KubeConnection(IKubernetes Client, string Server, string? Context, string? DefaultNamespace, string Source) : IDisposable
{
    public void Dispose() => Client.Dispose();
}

/// <summary>
/// The one way KonvoyLb reaches a cluster, like kubectl: -Kubeconfig and -Context; else KUBECONFIG
/// (its files merged); else admin.conf beside cluster.yaml in the working directory; else
/// ~/.kube/config; then the in-cluster service account. Failures become one clear LbException each;
/// no token or key ever appears in a message.
/// </summary>
public static class KubeClientFactory
{
    /// <param name="kubeconfig">-Kubeconfig, as a full path; null when not given.</param>
    /// <param name="context">-Context; null for the kubeconfig's current-context.</param>
    /// <param name="workingDirectory">Where to look for admin.conf beside cluster.yaml and what relative
    /// KUBECONFIG entries are relative to: for cmdlets the PowerShell location, not the process's. Null: no admin.conf lookup.</param>
    public static KubeConnection Connect(string? kubeconfig, string? context, string? workingDirectory)
    {
        var (config, source) = Configuration(kubeconfig, context, workingDirectory);
        return new KubeConnection(new Kubernetes(config), config.Host, config.CurrentContext, config.Namespace, source);
    }

    static (KubernetesClientConfiguration Config, string Source) Configuration(string? kubeconfig, string? context, string? workingDirectory)
    {
        var found = Kubeconfigs.Find(kubeconfig, workingDirectory);
        if (found is null)
        {
            if (context is not null)
                throw new LbException(ErrorId.KubeContextNotFound, $"-Context '{context}' was given, but there is no kubeconfig (running with the in-cluster service account).", context,
                    fix: "Give -Kubeconfig, or drop -Context.");
            try { return (KubernetesClientConfiguration.InClusterConfig(), Kubeconfigs.InClusterSource); }
            catch (KubeConfigException e)
            {
                throw new LbException(ErrorId.KubeconfigInvalid, $"the {Kubeconfigs.InClusterSource} cannot be used: {e.Message}", null,
                    fix: "Give -Kubeconfig, or check the pod's service account token mount.", inner: e);
            }
        }
        var merged = Kubeconfigs.Load(found);
        var names = merged.Contexts.Select(c => c.Name).ToList();
        string known = names.Count == 0 ? "It has no contexts." : $"Known contexts: {string.Join(", ", names)}.";
        object target = found.Files.Count == 1 ? found.Files[0] : found.Source;
        if (context is not null && !names.Contains(context))
            throw new LbException(ErrorId.KubeContextNotFound, $"the kubeconfig from {found.Source} has no context '{context}'.", context, fix: known);
        string name = context ?? merged.CurrentContext
            ?? throw new LbException(ErrorId.KubeconfigInvalid, $"the kubeconfig from {found.Source} sets no current-context.", target,
                fix: $"Give -Context, or set one with: kubectl config use-context <name>. {known}");
        if (!names.Contains(name))
            throw new LbException(ErrorId.KubeconfigInvalid, $"the current-context '{name}' of the kubeconfig from {found.Source} is not one of its contexts.", target,
                fix: $"Give -Context, or set one with: kubectl config use-context <name>. {known}");
        try
        {
            return (KubernetesClientConfiguration.BuildConfigFromConfigObject(Kubeconfigs.Only(merged, name), name), found.Source);
        }
        catch (KubeConfigException e)
        {
            throw new LbException(ErrorId.KubeconfigInvalid, $"the context '{name}' of the kubeconfig from {found.Source} cannot be used: {e.Message}", target,
                fix: "Check it with: kubectl config view --minify" + (context is null ? "" : $" --context '{context}'"), inner: e);
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
