using System.Net;
using Prometheus;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>
/// The speaker's metrics, with MetalLB's names, in a registry of its own. The per-address series exist only while this
/// node announces the address: they are removed when it moves away (MetalLB 0.12 keeps them forever), and a count that
/// races with the removal is dropped rather than bringing a series back.
/// </summary>
public sealed class SpeakerMetrics : ILayer2Counters
{
    readonly object _gate = new();
    // How many announcements (service, protocol) each address has now: its counters live while that is above zero.
    readonly Dictionary<string, int> _active = new(StringComparer.Ordinal);

    public CollectorRegistry Registry { get; }
    public Gauge Announced { get; }
    public Counter RequestsReceived { get; }
    public Counter ResponsesSent { get; }
    public Counter GratuitousSent { get; }
    public Gauge ConfigLoaded { get; }
    public Gauge ConfigStale { get; }
    public Counter Updates { get; }
    public Counter UpdateErrors { get; }
    // KonvoyLb's own.
    public Counter LeaseWrites { get; }
    public Counter ApiErrors { get; }
    public Gauge SuspectedNodes { get; }
    public Gauge LiveSpeakers { get; }
    public Counter OwnerProbes { get; }
    public Counter InterfaceErrors { get; }
    public BgpMetrics Bgp { get; }

    public SpeakerMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        Announced = f.CreateGauge("metallb_speaker_announced", "Services being announced from this node. This is desired state, it does not guarantee that the routing protocols have converged.",
            new GaugeConfiguration { LabelNames = ["service", "protocol", "node", "ip"] });
        RequestsReceived = f.CreateCounter("metallb_layer2_requests_received", "Number of layer2 requests received for owned IPs", new CounterConfiguration { LabelNames = ["ip"] });
        ResponsesSent = f.CreateCounter("metallb_layer2_responses_sent", "Number of layer2 responses sent for owned IPs", new CounterConfiguration { LabelNames = ["ip"] });
        GratuitousSent = f.CreateCounter("metallb_layer2_gratuitous_sent", "Number of gratuitous layer2 packets sent for owned IPs as a result of failovers", new CounterConfiguration { LabelNames = ["ip"] });
        (ConfigLoaded, ConfigStale, Updates, UpdateErrors) = Controller.ControllerMetrics.KubeClientMetrics(f);
        LeaseWrites = f.CreateCounter("konvoylb_speaker_lease_writes_total", "Writes of this speaker's membership Lease, by result (ok, error).", new CounterConfiguration { LabelNames = ["result"] });
        ApiErrors = f.CreateCounter("konvoylb_speaker_api_errors_total", "Failed list, watch, lease and event calls, by kind of object.", new CounterConfiguration { LabelNames = ["kind"] });
        SuspectedNodes = f.CreateGauge("konvoylb_speaker_suspected_nodes", "Nodes whose speaker did not answer this node's owner check on the segment.");
        LiveSpeakers = f.CreateGauge("konvoylb_speaker_live_speakers", "Speakers this node sees alive (Lease held and not expired, not suspected).");
        OwnerProbes = f.CreateCounter("konvoylb_speaker_owner_probes_total", "Probes sent to check the speakers this node would replace.");
        Bgp = new BgpMetrics(f);
        InterfaceErrors = f.CreateCounter("konvoylb_speaker_interface_errors_total", "Responder failures (an interface that went away, a socket that broke).");
    }

    /// <summary>This node announces <paramref name="ip"/> for <paramref name="service"/>: its series appear.</summary>
    public void Announce(string service, string protocol, string node, IPAddress ip)
    {
        lock (_gate)
        {
            var text = ip.ToString();
            _active[text] = _active.GetValueOrDefault(text) + 1;
            Announced.WithLabels(service, protocol, node, text).Set(1);
        }
    }

    /// <summary>The address moved away (or its Service is gone): every series of it is removed.</summary>
    public void Withdraw(string service, string protocol, string node, IPAddress ip)
    {
        var text = ip.ToString();
        lock (_gate)
        {
            Announced.RemoveLabelled(service, protocol, node, text);
            if (!_active.TryGetValue(text, out int count)) return;
            if (count > 1) { _active[text] = count - 1; return; } // still announced for another service
            _active.Remove(text);
            foreach (var c in new[] { RequestsReceived, ResponsesSent, GratuitousSent }) c.RemoveLabelled(text);
        }
    }

    void Count(Counter counter, IPAddress ip)
    {
        var text = ip.ToString();
        lock (_gate) if (_active.ContainsKey(text)) counter.WithLabels(text).Inc();
    }

    public void Request(IPAddress ip) => Count(RequestsReceived, ip);
    public void Response(IPAddress ip) => Count(ResponsesSent, ip);
    public void Gratuitous(IPAddress ip) => Count(GratuitousSent, ip);
}

/// <summary>The per-address layer2 counters a responder feeds.</summary>
public interface ILayer2Counters
{
    void Request(IPAddress ip);
    void Response(IPAddress ip);
    void Gratuitous(IPAddress ip);
}
