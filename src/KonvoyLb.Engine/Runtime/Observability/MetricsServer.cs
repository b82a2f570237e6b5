using System.Net;
using System.Text;
using Prometheus;

namespace KonvoyLb.Engine.Runtime.Observability;

/// <summary>What /readyz answers: ready or not, and why in words.</summary>
public readonly record struct Readiness(bool Ready, string Detail);

/// <summary>A long-running part of the runtime (the controller, the speaker) as its endpoint and its cmdlet see it.</summary>
public interface IRuntimeComponent
{
    CollectorRegistry Registry { get; }
    Readiness Readiness { get; }
    /// <summary>False once its loop has ended.</summary>
    bool Alive { get; }
    /// <summary>Runs until cancelled, then stops cleanly.</summary>
    Task RunAsync(CancellationToken stop);
}

/// <summary>
/// The runtime's HTTP endpoint (MetalLB's port 7472): <c>/metrics</c> in Prometheus' text format, written by
/// prometheus-net from the component's registry; <c>/healthz</c> (the process loop is alive) and <c>/readyz</c>
/// (configuration loaded and first sync done) for the kubelet's probes. Served by HttpListener, so no web framework
/// has to be loaded into PowerShell.
/// </summary>
public sealed class MetricsServer : IAsyncDisposable
{
    readonly HttpListener _listener = new();
    readonly CollectorRegistry _registry;
    readonly Func<Readiness> _ready;
    readonly Func<bool> _alive;
    readonly RuntimeLog _log;
    readonly CancellationTokenSource _stop = new();
    Task _loop = Task.CompletedTask;

    public MetricsServer(string? address, int port, CollectorRegistry registry, Func<Readiness> ready, Func<bool> alive, RuntimeLog log)
    {
        _registry = registry; _ready = ready; _alive = alive; _log = log;
        Port = port;
        var host = string.IsNullOrEmpty(address) || address is "0.0.0.0" or "::" or "*" ? "+"
            : IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : address;
        Prefix = $"http://{host}:{port}/";
        _listener.Prefixes.Add(Prefix);
    }

    public static MetricsServer For(IRuntimeComponent component, string? address, int port, RuntimeLog log) =>
        new(address, port, component.Registry, () => component.Readiness, () => component.Alive, log);

    public string Prefix { get; }
    public int Port { get; }

    /// <summary>Binds the port; a port in use or an address not on this host is a <see cref="ErrorId.MetricsServerFailed"/> error.</summary>
    public void Start()
    {
        try { _listener.Start(); }
        catch (Exception e) when (e is HttpListenerException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new LbException(ErrorId.MetricsServerFailed, $"cannot serve metrics on {Prefix}: {e.Message}.", Prefix,
                fix: "Pick a free port with -MetricsPort, or an address of this host with -MetricsAddress.", inner: e);
        }
        _loop = Task.Run(AcceptLoopAsync);
    }

    async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                _log.Once("metrics-accept", LogLevel.Warning, "metricsServerError", $"the metrics endpoint failed to accept a request: {e.Message}");
                continue;
            }
            _ = Task.Run(() => ServeAsync(context));
        }
    }

    async Task ServeAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            switch (context.Request.Url?.AbsolutePath)
            {
                case "/metrics":
                    response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                    using (var buffer = new MemoryStream())
                    {
                        await _registry.CollectAndExportAsTextAsync(buffer, _stop.Token).ConfigureAwait(false);
                        response.ContentLength64 = buffer.Length;
                        buffer.Position = 0;
                        await buffer.CopyToAsync(response.OutputStream, _stop.Token).ConfigureAwait(false);
                    }
                    break;
                case "/healthz":
                    await Text(response, _alive() ? 200 : 503, _alive() ? "ok\n" : "the runtime loop has stopped\n").ConfigureAwait(false);
                    break;
                case "/readyz":
                    var ready = _ready();
                    await Text(response, ready.Ready ? 200 : 503, ready.Detail + "\n").ConfigureAwait(false);
                    break;
                default:
                    await Text(response, 404, "not found: try /metrics, /healthz or /readyz\n").ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Once("metrics-serve", LogLevel.Warning, "metricsServerError", $"a metrics request failed: {e.Message}");
        }
        finally
        {
            try { response.Close(); } catch (Exception) { /* the client went away */ }
        }
    }

    static async Task Text(HttpListenerResponse response, int status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (Exception) { /* already closed */ }
        try { await _loop.ConfigureAwait(false); } catch (Exception) { /* ended */ }
        _stop.Dispose();
    }
}
