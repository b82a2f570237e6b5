using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KonvoyLb.Engine.Runtime.Speaker;
using KonvoyLb.KubeApi;
using KonvoyLb.Tests.Lab;

namespace KonvoyLb.Tests.Speaker;

/// <summary>
/// A namespace "cluster" for the speaker: three node namespaces, a client and the API server's namespace on one
/// bridge (192.0.2.0/24, 2001:db8::/64), a second segment (198.51.100.0/24) on node-1 only with a host of its own,
/// the project's fake API server serving inside the LAN, and one Start-LbSpeaker per node started through the built
/// module in a fresh pwsh in its node's namespace. Services and EndpointSlices are written straight into the API
/// server's store, as the controller and kube-controller-manager would.
/// </summary>
public sealed class SpeakerLab : IAsyncDisposable
{
    public static readonly string[] NodeNames = ["node-1", "node-2", "node-3"];
    public static string MacOf(string node) => $"02:00:5e:20:00:0{node[^1]}";
    public const string ClientMac = "02:00:5e:20:00:64", OtherMac = "02:00:5e:20:00:65";
    public const string Pool = "192.0.2.200-192.0.2.239", Pool6 = "2001:db8::200-2001:db8::2ff";

    public NetLab Lab { get; }
    public FakeKubeApi Kube { get; private set; } = null!;
    public Dictionary<string, LabHost> Nodes { get; } = new();
    public Dictionary<string, LabProcess> Speakers { get; } = new();
    public LabHost Client { get; }
    /// <summary>The namespace the API server serves in (192.0.2.250): where a cmdlet run by a test reaches it.</summary>
    public LabHost Api { get; }
    /// <summary>A host on node-1's second segment: it must never get an answer for a VIP of the first.</summary>
    public LabHost Other { get; }
    public string Kubeconfig { get; private set; } = "";
    readonly string _dir = Directory.CreateTempSubdirectory("konvoylb-speaker-").FullName;
    readonly Socket _listen;

    SpeakerLab()
    {
        Lab = NetLab.Create();
        try
        {
            foreach (var (node, i) in NodeNames.Select((n, i) => (n, i)))
                Nodes[node] = Lab.AddHost(node, MacOf(node), $"192.0.2.{11 + i}/24", $"2001:db8::{11 + i}/64");
            Client = Lab.AddHost("client", ClientMac, "192.0.2.100/24", "2001:db8::100/64");
            var api = Api = Lab.AddHost("api", "02:00:5e:20:00:fa", "192.0.2.250/24");
            var second = Lab.AddBridge("seg2");
            Lab.AddInterface(Nodes["node-1"], second, "02:00:5e:20:01:01", "198.51.100.11/24");
            Other = Lab.AddHostOn(second, "other", OtherMac, "198.51.100.50/24");
            Lab.AddRoute(Other, "192.0.2.0/24", "198.51.100.11");
            _listen = Lab.RunIn(api, () =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Bind(new IPEndPoint(IPAddress.Parse("192.0.2.250"), 0));
                s.Listen(512);
                return s;
            });
        }
        catch
        {
            Lab.Dispose();
            throw;
        }
    }

    public int ApiPort => ((IPEndPoint)_listen.LocalEndPoint!).Port;

    /// <summary>The lab, the API server seeded with the Konvoy namespace, the three Nodes and the layer2 pools; speakers started when asked.</summary>
    /// <param name="https">Serve HTTPS (a certificate for 192.0.2.250 from a CA of its own, <see cref="FakeKubeApi.CertificateAuthorityPem"/>), as a real API server does for pods.</param>
    public static async Task<SpeakerLab> StartAsync(bool speakers = true, string extraArguments = "", Action<ApiAccess>? onAccess = null, bool https = false)
    {
        var lab = new SpeakerLab();
        try
        {
            lab.Kube = await FakeKubeApi.StartAsync(new FakeKubeOptions { ExtraListenSocket = lab._listen, OnAccess = onAccess, Https = https });
            lab.Kubeconfig = lab.Kube.WriteKubeconfig(Path.Combine(lab._dir, "kubeconfig"), server: new Uri($"{(https ? "https" : "http")}://192.0.2.250:{lab.ApiPort}"));
            lab.Kube.AddNamespace("kubeaddons");
            foreach (var node in NodeNames) lab.Kube.AddNode(node);
            lab.SetConfig($"address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - {Pool}\n  - {Pool6}\n");
            if (speakers)
            {
                foreach (var node in NodeNames) lab.StartSpeaker(node, extraArguments);
                foreach (var node in NodeNames) lab.WaitReady(node);
            }
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    public void SetConfig(string config) =>
        Kube.Put("v1", "configmaps", "kubeaddons", new { apiVersion = "v1", kind = "ConfigMap", metadata = new { name = "metallb", @namespace = "kubeaddons" }, data = new Dictionary<string, string> { ["config"] = config } });

    public LabProcess StartSpeaker(string node, string extraArguments = "")
    {
        var module = ModuleUnderTest.Path();
        var script = $"Import-Module '{module}'; Start-LbSpeaker -NodeName {node} -Kubeconfig '{Kubeconfig}' -Namespace kubeaddons " +
            $"-MetricsAddress 127.0.0.1 -MetricsPort 7472 -LogFormat json {extraArguments}";
        var p = Lab.Start(Nodes[node].Namespace, "dotnet", ModuleUnderTest.PwshDll(), "-NoProfile", "-NonInteractive", "-Command", script);
        Speakers[node] = p;
        return p;
    }

    /// <summary>Waits for the speaker's /readyz to answer 200.</summary>
    public void WaitReady(string node, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(40)))
        {
            if (Speakers[node].HasExited) throw new InvalidOperationException($"the speaker of {node} exited: {Speakers[node].StdOut}\n{Speakers[node].StdErr}");
            // No request before the endpoint says it listens: .NET's HttpListener on Linux can crash the process when a
            // connection arrives while Start() is still setting up (dotnet/corefx#35191).
            if (Speakers[node].StdOut.Contains("\"event\":\"listening\"", StringComparison.Ordinal) &&
                Http(node, "/readyz").StartsWith("HTTP/1.1 200", StringComparison.Ordinal)) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"the speaker of {node} is not ready: {Http(node, "/readyz")}\n{Speakers[node].StdOut}\n{Speakers[node].StdErr}");
    }

    /// <summary>A GET to the speaker's metrics port inside its node's namespace: the whole response, or "" when nothing listens.</summary>
    public string Http(string node, string path) => Http(Nodes[node], path);

    /// <summary>A GET to port 7472 on 127.0.0.1 inside <paramref name="host"/>'s namespace: the whole response, or "" when nothing listens.</summary>
    public string Http(LabHost host, string path) => Lab.RunIn(host, () =>
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, 7472);
            client.ReceiveTimeout = 3000;
            using var stream = client.GetStream();
            stream.Write(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (Exception) { return ""; }
    });

    /// <summary>A LoadBalancer Service holding <paramref name="ips"/>, and its EndpointSlice with ready endpoints on <paramref name="endpointNodes"/>.</summary>
    public void AddService(string name, string[] ips, string[] endpointNodes, bool local = false)
    {
        Kube.Put("v1", "services", "default", new
        {
            apiVersion = "v1", kind = "Service",
            metadata = new { name, @namespace = "default", uid = Guid.NewGuid().ToString() },
            spec = new
            {
                type = "LoadBalancer", clusterIP = "10.96.0." + (10 + Math.Abs(name.GetHashCode() % 200)),
                externalTrafficPolicy = local ? "Local" : "Cluster",
                ports = new[] { new { port = 80, protocol = "TCP" } },
            },
            status = new { loadBalancer = new { ingress = ips.Select(ip => new { ip }).ToArray() } },
        });
        SetEndpoints(name, endpointNodes);
    }

    public void SetEndpoints(string name, string[] nodes) =>
        Kube.Put("discovery.k8s.io/v1", "endpointslices", "default", new
        {
            apiVersion = "discovery.k8s.io/v1", kind = "EndpointSlice",
            metadata = new { name = name + "-abcde", @namespace = "default", labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = name } },
            addressType = "IPv4",
            endpoints = nodes.Select((n, i) => new { addresses = new[] { $"10.244.{n[^1]}.{10 + i}" }, conditions = new { ready = true }, nodeName = n }).ToArray(),
        });

    /// <summary>The Service's Endpoints object (the API's older form): ready addresses on <paramref name="nodes"/>.</summary>
    public void SetLegacyEndpoints(string name, string[] nodes) =>
        Kube.Put("v1", "endpoints", "default", new
        {
            apiVersion = "v1", kind = "Endpoints",
            metadata = new { name, @namespace = "default" },
            subsets = new[] { new { addresses = nodes.Select((n, i) => new { ip = $"10.244.{n[^1]}.{10 + i}", nodeName = n }).ToArray(), ports = new[] { new { port = 80, protocol = "TCP" } } } },
        });

    /// <summary>The node every speaker must choose for a Service whose first address is <paramref name="firstIp"/>.</summary>
    public static string ExpectedOwner(string firstIp, IEnumerable<string>? nodes = null) =>
        Announcer.Owner(IPAddress.Parse(firstIp), nodes ?? NodeNames)!;

    /// <summary>The MACs that answer arping from the client for <paramref name="ip"/> (empty when nobody does).</summary>
    public List<string> ArpAnswers(LabHost from, string ip, int count = 2)
    {
        var r = Lab.Exec(from, "arping", "-c", count.ToString(), "-w", count == 1 ? "0.5" : "2", "-i", from.Interface, ip);
        return System.Text.RegularExpressions.Regex.Matches(r.StdOut, @"from ([0-9a-f:]{17})").Select(m => m.Groups[1].Value).ToList();
    }

    /// <summary>The MAC in the client's neighbour table for <paramref name="ip"/>, or null.</summary>
    public string? NeighbourMac(string ip)
    {
        var r = Lab.Exec(Client, "ip", "neigh", "show", ip);
        var m = System.Text.RegularExpressions.Regex.Match(r.StdOut, @"lladdr ([0-9a-f:]{17})");
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>Polls the client's neighbour entry for <paramref name="ip"/> until it is <paramref name="mac"/>; the time it took, or null.</summary>
    public TimeSpan? WaitNeighbour(string ip, string mac, TimeSpan timeout, Stopwatch since)
    {
        while (since.Elapsed < timeout)
        {
            if (NeighbourMac(ip) == mac) return since.Elapsed;
            Thread.Sleep(10);
        }
        return null;
    }

    /// <summary>Calls <paramref name="get"/> every 100 ms until <paramref name="done"/> holds or <paramref name="timeout"/> (15 s) passes; the last value.</summary>
    public static T Retry<T>(Func<T> get, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        T value = get();
        while (!done(value) && clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(15)))
        {
            Thread.Sleep(100);
            value = get();
        }
        return value;
    }

    public string Logs(string node) => Speakers.TryGetValue(node, out var p) ? p.StdOut + p.StdErr : "";

    public async ValueTask DisposeAsync()
    {
        foreach (var p in Speakers.Values) p.Stop(TimeSpan.FromSeconds(3));
        if (Kube is not null) await Kube.DisposeAsync();
        _listen.Dispose();
        Lab.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
