using Prometheus;

namespace KonvoyLb.Engine.Runtime.Controller;

/// <summary>The controller's metrics, with MetalLB's names (dashboards keep working), in a registry of its own.</summary>
public sealed class ControllerMetrics
{
    public CollectorRegistry Registry { get; }
    public Gauge AddressesTotal { get; }
    public Gauge AddressesInUse { get; }
    public Gauge ConfigLoaded { get; }
    public Gauge ConfigStale { get; }
    public Counter Updates { get; }
    public Counter UpdateErrors { get; }
    // KonvoyLb's own, for what MetalLB does not count.
    public Counter StatusWrites { get; }
    public Counter ApiErrors { get; }
    public Gauge Leader { get; }
    public Gauge PendingServices { get; }

    public ControllerMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        AddressesTotal = f.CreateGauge("metallb_allocator_addresses_total", "Number of usable IP addresses, per pool", new GaugeConfiguration { LabelNames = ["pool"] });
        AddressesInUse = f.CreateGauge("metallb_allocator_addresses_in_use_total", "Number of IP addresses in use, per pool", new GaugeConfiguration { LabelNames = ["pool"] });
        (ConfigLoaded, ConfigStale, Updates, UpdateErrors) = KubeClientMetrics(f);
        StatusWrites = f.CreateCounter("konvoylb_controller_status_writes_total", "Service status writes, by result (ok, conflict, error).", new CounterConfiguration { LabelNames = ["result"] });
        ApiErrors = f.CreateCounter("konvoylb_controller_api_errors_total", "Failed list, watch, lease and event calls, by kind of object.", new CounterConfiguration { LabelNames = ["kind"] });
        Leader = f.CreateGauge("konvoylb_controller_leader_bool", "1 while this controller allocates (leader, or leader election off).");
        PendingServices = f.CreateGauge("konvoylb_controller_pending_services", "LoadBalancer services of this controller without an address.");
    }

    /// <summary>Sets the per-pool gauges; series of pools that are gone are removed.</summary>
    public void Pools(PoolSet pools, Allocator? allocator)
    {
        var names = pools.Pools.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var labels in AddressesTotal.GetAllLabelValues().ToList())
            if (!names.Contains(labels[0])) { AddressesTotal.RemoveLabelled(labels); AddressesInUse.RemoveLabelled(labels); }
        foreach (var p in pools.Pools)
        {
            AddressesTotal.WithLabels(p.Name).Set(p.Total);
            AddressesInUse.WithLabels(p.Name).Set(allocator?.InUse(p.Name) ?? 0);
        }
    }

    /// <summary>MetalLB's metallb_k8s_client_* series, which the controller and the speaker both write.</summary>
    public static (Gauge Loaded, Gauge Stale, Counter Updates, Counter Errors) KubeClientMetrics(IMetricFactory f) => (
        f.CreateGauge("metallb_k8s_client_config_loaded_bool", "1 if the MetalLB configuration was successfully loaded at least once."),
        f.CreateGauge("metallb_k8s_client_config_stale_bool", "1 if running on a stale configuration, because the latest config failed to load or would take addresses from running services."),
        f.CreateCounter("metallb_k8s_client_updates_total", "Number of k8s object updates that have been processed."),
        f.CreateCounter("metallb_k8s_client_update_errors_total", "Number of k8s object updates that failed for some reason."));
}
