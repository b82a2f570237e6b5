// Runs a FakeKubeApi as a process, for tests outside .NET (Pester).
//
//   KonvoyLb.KubeApi.Host <kubeconfig-path> [--scenario metallb|empty] [--ready-after <ms>]
//       [--failure None|CrashLoopBackOff|ImagePullBackOff|Unschedulable] [--https] [--untrusted-cert]
//       [--token <token>] [--context <name>] [--namespace <default namespace>] [--port <port>]
//       [--grace <ms>] [--no-stdin] [--parent-pid <pid>] [--trace]
//
// Starts the server on 127.0.0.1, writes the kubeconfig, seeds the scenario, then prints the port
// alone on the first line of stdout. It runs until stdin closes (unless --no-stdin), SIGTERM/SIGINT,
// a "quit" command, or the --parent-pid process exits. --trace writes every request to stderr. Each stdin line is a command, answered on
// stdout with "ok" or "error: <why>":
//   latency <ms> | fail <count> [status] [verb] [resource] | forbid <verb> <resource> | allow <verb> <resource>
//   token <token>|none | drop-watches | compact | clear | behavior <ns> <deployment> <readyAfterMs> [failure] | quit
//
// Scenarios: "empty" (the system namespaces only); "metallb" (also namespace kubeaddons, nodes
// node-1..node-3 and Deployment metallb-controller whose pod, labels app=metallb,component=controller,
// becomes Ready --ready-after ms after it is created, or fails as --failure says).
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Runtime.InteropServices;
using KonvoyLb.KubeApi;

return await HostMain.RunAsync(args);

static class HostMain
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? kubeconfig = null, scenario = "metallb", contextName = "fake", defaultNs = null;
        var options = new FakeKubeOptions();
        var readyAfter = TimeSpan.FromSeconds(1);
        var failure = PodFailure.None;
        var useStdin = true;
        int? parentPid = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--scenario": scenario = Value(); break;
                    case "--ready-after": readyAfter = TimeSpan.FromMilliseconds(int.Parse(Value())); break;
                    case "--failure": failure = Enum.Parse<PodFailure>(Value(), ignoreCase: true); break;
                    case "--https": options.Https = true; break;
                    case "--untrusted-cert": options.Https = true; options.PresentUntrustedCertificate = true; break;
                    case "--token": options.Token = Value(); break;
                    case "--context": contextName = Value(); break;
                    case "--namespace": defaultNs = Value(); break;
                    case "--port": options.Port = int.Parse(Value()); break;
                    case "--grace": options.PodDeletionGrace = TimeSpan.FromMilliseconds(int.Parse(Value())); break;
                    case "--no-stdin": useStdin = false; break;
                    case "--trace": options.OnRequest = r => Console.Error.WriteLine(r); break;
                    case "--parent-pid": parentPid = int.Parse(Value()); break;
                    case "-h" or "--help": Console.Error.WriteLine(Usage); return 0;
                    default:
                        if (args[i].StartsWith('-') || kubeconfig is not null) throw new ArgumentException($"unexpected argument {args[i]}");
                        kubeconfig = args[i];
                        break;
                }
            }
            if (kubeconfig is null) throw new ArgumentException("the kubeconfig path is required");
            if (scenario is not ("metallb" or "empty")) throw new ArgumentException($"unknown scenario {scenario}");
            if (options.Token is not null && !options.Https)
                Console.Error.WriteLine("warning: kubectl sends kubeconfig credentials only to https servers; add --https for kubectl to pass --token");
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        await using var kube = await FakeKubeApi.StartAsync(options);
        kube.WriteKubeconfig(kubeconfig, contextName!, defaultNs);
        if (scenario == "metallb") SeedMetalLb(kube, readyAfter, failure);

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });

        Console.Out.WriteLine(kube.BaseAddress.Port);
        Console.Out.Flush();
        Console.Error.WriteLine($"fake kube-apiserver on {kube.BaseAddress} (scenario {scenario}), kubeconfig {Path.GetFullPath(kubeconfig)}");

        if (useStdin) _ = Task.Run(() => ReadCommands(kube, stop));
        if (parentPid is { } pid) _ = Task.Run(() => WatchParent(pid, stop));
        try { await Task.Delay(Timeout.Infinite, stop.Token); }
        catch (OperationCanceledException) { }
        return 0;
    }

    const string Usage =
        "usage: KonvoyLb.KubeApi.Host <kubeconfig-path> [--scenario metallb|empty] [--ready-after <ms>] " +
        "[--failure None|CrashLoopBackOff|ImagePullBackOff|Unschedulable] [--https] [--untrusted-cert] [--token <token>] " +
        "[--context <name>] [--namespace <ns>] [--port <port>] [--grace <ms>] [--no-stdin] [--parent-pid <pid>] [--trace]";

    static void SeedMetalLb(FakeKubeApi kube, TimeSpan readyAfter, PodFailure failure)
    {
        kube.AddNode("node-1", labels: new Dictionary<string, string> { ["node-role.kubernetes.io/control-plane"] = "" });
        kube.AddNode("node-2");
        kube.AddNode("node-3");
        kube.AddNamespace("kubeaddons");
        kube.AddDeployment("metallb-controller", "kubeaddons",
            new Dictionary<string, string> { ["app"] = "metallb", ["component"] = "controller" },
            readyAfter, failure, image: "metallb/controller:v0.9.3", containerName: "controller");
        // The live configuration the chart renders (the pools of examples/cluster.yaml), and services using it.
        kube.Put("v1", "configmaps", "kubeaddons", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "metallb-config", ["labels"] = new JsonObject { ["app"] = "metallb" } },
            ["data"] = new JsonObject
            {
                ["config"] = "address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.168.25.89-192.168.25.90]\n" +
                             "- name: routed\n  protocol: bgp\n  addresses:\n  - 198.51.100.0/26\n",
            },
        });
        kube.AddNamespace("shop");
        Service(kube, "web", "192.168.25.89", null);
        Service(kube, "api", "198.51.100.7", null);
        Service(kube, "db", null, "203.0.113.9");
        Event(kube, "db.1", "db", "AllocationFailed", "Failed to allocate IP for \"shop/db\": \"203.0.113.9\" is not allowed in config");
        Event(kube, "web.1", "web", "nodeAssigned", "announcing from node \"node-2\"");
    }

    static void Service(FakeKubeApi kube, string name, string? ip, string? requested) => kube.Put("v1", "services", "shop", new JsonObject
    {
        ["metadata"] = new JsonObject { ["name"] = name },
        ["spec"] = new JsonObject
        {
            ["type"] = "LoadBalancer", ["loadBalancerIP"] = requested,
            ["ports"] = new JsonArray(new JsonObject { ["port"] = 80, ["protocol"] = "TCP" }),
        },
        ["status"] = new JsonObject
        {
            ["loadBalancer"] = ip is null ? new JsonObject() : new JsonObject { ["ingress"] = new JsonArray(new JsonObject { ["ip"] = ip }) },
        },
    });

    static void Event(FakeKubeApi kube, string name, string service, string reason, string message) => kube.Put("v1", "events", "shop", new JsonObject
    {
        ["metadata"] = new JsonObject { ["name"] = name },
        ["involvedObject"] = new JsonObject { ["kind"] = "Service", ["name"] = service, ["namespace"] = "shop" },
        ["reason"] = reason, ["message"] = message, ["type"] = reason == "AllocationFailed" ? "Warning" : "Normal",
        ["lastTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    });

    static async Task ReadCommands(FakeKubeApi kube, CancellationTokenSource stop)
    {
        var stdin = Console.In;
        while (true)
        {
            string? line;
            try { line = await stdin.ReadLineAsync(); }
            catch (IOException) { line = null; }
            if (line is null) break;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (Execute(kube, line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries))) break;
                Console.Out.WriteLine("ok");
            }
            catch (Exception e)
            {
                Console.Out.WriteLine($"error: {e.Message}");
            }
            Console.Out.Flush();
        }
        stop.Cancel();
    }

    /// <summary>Runs one stdin command; true for quit.</summary>
    static bool Execute(FakeKubeApi kube, string[] w)
    {
        string Arg(int i) => i < w.Length ? w[i] : throw new ArgumentException($"{w[0]} needs more arguments");
        string? Opt(int i) => i < w.Length ? w[i] : null;
        switch (w[0])
        {
            case "quit": return true;
            case "latency": kube.Faults.Latency = TimeSpan.FromMilliseconds(int.Parse(Arg(1))); break;
            case "fail": kube.Faults.FailNext(int.Parse(Arg(1)), int.Parse(Opt(2) ?? "500"), Opt(3), Opt(4)); break;
            case "forbid": kube.Faults.Forbid(Arg(1), Arg(2)); break;
            case "allow": kube.Faults.Allow(Arg(1), Arg(2)); break;
            case "token": kube.Faults.RequireToken(Arg(1) == "none" ? null : Arg(1)); break;
            case "drop-watches": kube.Faults.DropWatches(); break;
            case "compact": kube.CompactHistory(); break;
            case "clear": kube.Faults.Clear(); break;
            case "behavior":
                kube.SetDeploymentBehavior(Arg(1), Arg(2), TimeSpan.FromMilliseconds(int.Parse(Arg(3))),
                    Enum.Parse<PodFailure>(Opt(4) ?? "None", ignoreCase: true));
                break;
            default: throw new ArgumentException($"unknown command {w[0]}");
        }
        return false;
    }

    static async Task WatchParent(int pid, CancellationTokenSource stop)
    {
        try
        {
            using var parent = Process.GetProcessById(pid);
            await parent.WaitForExitAsync(stop.Token);
        }
        catch (ArgumentException) { }
        catch (OperationCanceledException) { return; }
        stop.Cancel();
    }
}
