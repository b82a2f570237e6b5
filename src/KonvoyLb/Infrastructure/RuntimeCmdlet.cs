using System.Collections.Concurrent;
using System.Management.Automation;
using System.Runtime.InteropServices;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Runtime.Observability;

namespace KonvoyLb.Infrastructure;

/// <summary>
/// The long-running cmdlets (Start-LbController, Start-LbSpeaker): the metrics endpoint, the log, and a run that ends
/// cleanly on Ctrl+C or SIGTERM. Log lines go to standard output as they happen (text for a terminal, JSON lines when
/// the output is redirected, as in a container), written from one thread so lines never mix.
/// </summary>
public abstract class RuntimeCmdlet : KubeCmdlet
{
    /// <summary>The address to serve /metrics, /healthz and /readyz on; every address when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? MetricsAddress { get; set; }

    [Parameter]
    [ValidateRange(1, 65535)]
    public int MetricsPort { get; set; } = 7472;

    /// <summary>text or json; by default text on a terminal and json when the output is redirected.</summary>
    [Parameter]
    [ValidateSet("text", "json")]
    public string? LogFormat { get; set; }

    readonly BlockingCollection<string> _lines = new();

    protected RuntimeLog CreateLog(string component)
    {
        bool json = LogFormat is null ? Console.IsOutputRedirected : LogFormat.Equals("json", StringComparison.OrdinalIgnoreCase);
        return new RuntimeLog(component, json ? Engine.Runtime.Observability.LogFormat.Json : Engine.Runtime.Observability.LogFormat.Text, line => _lines.Add(line));
    }

    /// <summary>Serves the endpoint, runs <paramref name="run"/> until Ctrl+C or SIGTERM, and waits for its clean end.</summary>
    protected void RunUntilStopped(RuntimeLog log, IRuntimeComponent component)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // stop cleanly instead of the runtime's immediate exit
            log.Info("signal", $"{context.Signal} received: stopping");
            stop.Cancel();
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var server = MetricsServer.For(component, MetricsAddress, MetricsPort, log);
        Run(server.Start);
        log.Info("listening", $"metrics on {server.Prefix}metrics, probes on {server.Prefix}healthz and {server.Prefix}readyz");
        var task = Task.Run(() => component.RunAsync(stop.Token));
        var writer = Console.Out;
        while (!task.IsCompleted)
        {
            if (_lines.TryTake(out var line, 100)) Emit(writer, line);
        }
        // A bug that ends the runtime: its whole stack into the log, where the operator looks first.
        if (task.Exception?.InnerException is { } bug and not LbException)
            log.Error("internalError", $"the {component.GetType().Name} ended with a bug: {bug}", ("exception", bug.GetType().Name));
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        while (_lines.TryTake(out var rest)) Emit(writer, rest);
        writer.Flush();
        if (task.IsFaulted) Run(() => task.GetAwaiter().GetResult()); // a bug: reported as InternalError
    }

    static void Emit(TextWriter writer, string line)
    {
        writer.WriteLine(line);
        writer.Flush();
    }
}
