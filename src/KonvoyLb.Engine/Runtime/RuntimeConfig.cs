using k8s;
using k8s.Models;
using KonvoyLb.Engine.Config;
using KonvoyLb.Engine.Kube;
using KonvoyLb.Engine.Runtime.Observability;

namespace KonvoyLb.Engine.Runtime;

/// <summary>How the controller and the speaker read the MetalLB configuration from their ConfigMap cache, and say why one is refused.</summary>
public static class RuntimeConfig
{
    /// <summary>The named ConfigMap's configuration, or without a name the first one (by name) holding a MetalLB configuration.</summary>
    public static (V1ConfigMap Map, ConfigDocument Doc, string Text)? Find(IEnumerable<V1ConfigMap> maps, string? name, string? ns, RuntimeLog log)
    {
        foreach (var map in maps.OrderBy(m => m.Metadata.Name, StringComparer.Ordinal))
        {
            if (name is not null && map.Metadata.Name != name) continue;
            var doc = LbServices.ReadConfigMap(map, out var notYaml);
            if (doc is not null) return (map, doc, map.Data["config"]);
            if (notYaml is not null && name is not null)
                log.Once($"notYaml:{map.Metadata.ResourceVersion}", LogLevel.Error, "configInvalid", $"ConfigMap {ns}/{map.Metadata.Name}: {notYaml}");
        }
        return null;
    }

    /// <summary>Where a configuration comes from, as log lines and Events name it.</summary>
    public static string Source(V1ConfigMap map) =>
        $"ConfigMap {map.Metadata.NamespaceProperty}/{map.Metadata.Name} (resourceVersion {map.Metadata.ResourceVersion})";

    /// <summary>The validator's errors of <paramref name="doc"/> (empty when it may be applied).</summary>
    public static List<Finding> Errors(ConfigDocument doc) => doc.Validate().Where(f => f.Severity == Severity.Error).ToList();

    /// <summary>One line for the refusal, then one per problem with its place.</summary>
    public static void LogRefused(RuntimeLog log, string source, IReadOnlyList<Finding> errors, string? inForceSource)
    {
        log.Error("configInvalid", $"{source} is refused: {errors.Count} problem(s); {(inForceSource is null ? "no configuration is in force yet" : $"the last good configuration ({inForceSource}) stays in force")}",
            ("problems", errors.Select(f => f.ToString()).ToList()));
        foreach (var f in errors) log.Error("configProblem", f.ToString(), ("errorId", f.Code.ToString()));
    }

    /// <summary>
    /// The namespace to work in: given, the pod's own (in a pod), or the first candidate holding a MetalLB ConfigMap
    /// (Konvoy: kubeaddons; upstream: metallb-system), else the first candidate. API failures are retried with back-off.
    /// Null only when stopped.
    /// </summary>
    public static async Task<string?> ResolveNamespaceAsync(KubeConnection kube, string? given, string? configMapName, IReadOnlyList<string> candidates,
        RuntimeLog log, Action<Exception> failed, TimeProvider time, TimeSpan retryMax, CancellationToken stop)
    {
        if (given is not null) return given;
        if (kube.Context is null && kube.DefaultNamespace is { Length: > 0 } own) return own;
        var delay = TimeSpan.FromMilliseconds(500);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                foreach (var candidate in candidates)
                {
                    var maps = await kube.Client.CoreV1.ListNamespacedConfigMapAsync(candidate, cancellationToken: stop).ConfigureAwait(false);
                    if (maps.Items.Any(m => (configMapName is null || m.Metadata.Name == configMapName) && LbServices.ReadConfigMap(m, out _) is not null))
                        return candidate;
                }
                log.Info("namespace", $"no MetalLB ConfigMap in {string.Join(" or ", candidates)} yet; using {candidates[0]} and waiting for one (pass -Namespace to choose)");
                return candidates[0];
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return null; }
            catch (Exception e)
            {
                failed(e);
                try { await Task.Delay(delay, time, stop).ConfigureAwait(false); }
                catch (OperationCanceledException) { return null; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, retryMax.Ticks));
            }
        }
        return null;
    }
}
