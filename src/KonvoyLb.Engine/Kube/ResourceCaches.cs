using k8s;
using k8s.Models;

namespace KonvoyLb.Engine.Kube;

/// <summary>
/// <see cref="ResourceCache{T}"/>s for the kinds the runtime watches, over KubernetesClient's typed List…/WatchList… calls.
/// A null namespace watches every namespace (…ForAllNamespaces); selectors are the API's label and field selector syntax.
/// Each factory only binds the kind's generated calls; the list/watch logic is the cache's.
/// </summary>
public static class ResourceCaches
{
    public static ResourceCache<V1Pod> Pods(IKubernetes client, string? ns, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(ns is null
                ? async ct => Page(await client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false))
                : async ct => Page(await client.CoreV1.ListNamespacedPodAsync(ns, fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            ns is null
                ? (rv, timeout, onError, ct) => client.CoreV1.WatchListPodForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct)
                : (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespacedPodAsync(ns, allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    public static ResourceCache<V1Service> Services(IKubernetes client, string? ns, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(ns is null
                ? async ct => Page(await client.CoreV1.ListServiceForAllNamespacesAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false))
                : async ct => Page(await client.CoreV1.ListNamespacedServiceAsync(ns, fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            ns is null
                ? (rv, timeout, onError, ct) => client.CoreV1.WatchListServiceForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct)
                : (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespacedServiceAsync(ns, allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    public static ResourceCache<V1ConfigMap> ConfigMaps(IKubernetes client, string? ns, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(ns is null
                ? async ct => Page(await client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false))
                : async ct => Page(await client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            ns is null
                ? (rv, timeout, onError, ct) => client.CoreV1.WatchListConfigMapForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct)
                : (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespacedConfigMapAsync(ns, allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    public static ResourceCache<V1Endpoints> Endpoints(IKubernetes client, string? ns, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(ns is null
                ? async ct => Page(await client.CoreV1.ListEndpointsForAllNamespacesAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false))
                : async ct => Page(await client.CoreV1.ListNamespacedEndpointsAsync(ns, fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            ns is null
                ? (rv, timeout, onError, ct) => client.CoreV1.WatchListEndpointsForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct)
                : (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespacedEndpointsAsync(ns, allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    public static ResourceCache<V1EndpointSlice> EndpointSlices(IKubernetes client, string? ns, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(ns is null
                ? async ct => Page(await client.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false))
                : async ct => Page(await client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            ns is null
                ? (rv, timeout, onError, ct) => client.DiscoveryV1.WatchListEndpointSliceForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct)
                : (rv, timeout, onError, ct) => client.DiscoveryV1.WatchListNamespacedEndpointSliceAsync(ns, allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    public static ResourceCache<V1Lease> Leases(IKubernetes client, string? ns, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(ns is null
                ? async ct => Page(await client.CoordinationV1.ListLeaseForAllNamespacesAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false))
                : async ct => Page(await client.CoordinationV1.ListNamespacedLeaseAsync(ns, fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            ns is null
                ? (rv, timeout, onError, ct) => client.CoordinationV1.WatchListLeaseForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct)
                : (rv, timeout, onError, ct) => client.CoordinationV1.WatchListNamespacedLeaseAsync(ns, allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    /// <summary>Nodes are cluster-scoped: no namespace.</summary>
    public static ResourceCache<V1Node> Nodes(IKubernetes client, string? labelSelector = null, string? fieldSelector = null, ResourceCacheOptions? options = null) =>
        new(async ct => Page(await client.CoreV1.ListNodeAsync(fieldSelector: fieldSelector, labelSelector: labelSelector, cancellationToken: ct).ConfigureAwait(false)),
            (rv, timeout, onError, ct) => client.CoreV1.WatchListNodeAsync(allowWatchBookmarks: true, fieldSelector: fieldSelector, labelSelector: labelSelector, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            options);

    static CacheList<T> Page<T>(IItems<T> list) where T : class =>
        new(list.Items?.ToList() ?? [], (list as IMetadata<V1ListMeta>)?.Metadata?.ResourceVersion);
}
