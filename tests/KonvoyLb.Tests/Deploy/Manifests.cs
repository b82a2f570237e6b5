using System.Globalization;
using KonvoyLb.Tests.Lab;
using YamlDotNet.RepresentationModel;

namespace KonvoyLb.Tests.Deploy;

/// <summary>
/// The pod of a workload in examples/deploy (controller.yaml, speaker.yaml) as podman must run it: the container's
/// arguments, environment, user, capabilities, read-only root, tmpfs volumes, memory limit, grace period and service
/// account. The end-to-end tests start the image with exactly these, so a manifest setting the runtime cannot live
/// with fails them. A field this reader does not know how to give podman fails loudly instead of being dropped.
/// </summary>
public sealed record PodSpec(
    string Workload, string Image, string ServiceAccount, IReadOnlyList<string> Args,
    IReadOnlyList<(string Name, string? Value, string? FieldPath)> Env,
    long? RunAsUser, long? RunAsGroup, bool RunAsNonRoot, bool ReadOnlyRoot, bool NoNewPrivileges,
    IReadOnlyList<string> CapDrop, IReadOnlyList<string> CapAdd, IReadOnlyList<string> TmpfsMounts,
    long MemoryLimitBytes, long MemoryRequestBytes, int GraceSeconds, bool HostNetwork,
    IReadOnlyList<(string Key, string Effect)> Tolerations)
{
    public static string DeployDirectory => Path.Combine(TestFiles.RepoRoot, "examples", "deploy");

    public static PodSpec Load(string file)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(DeployDirectory, file))));
        var root = (YamlMappingNode)stream.Documents.Single().RootNode;
        var pod = Map(Map(Map(root, "spec"), "template"), "spec");
        var container = (YamlMappingNode)Seq(pod, "containers").Single();
        var podSecurity = MapOrEmpty(pod, "securityContext");
        var security = MapOrEmpty(container, "securityContext");
        var caps = MapOrEmpty(security, "capabilities");
        var resources = MapOrEmpty(container, "resources");

        var env = new List<(string, string?, string?)>();
        foreach (YamlMappingNode e in SeqOrEmpty(container, "env"))
        {
            string? fieldPath = e.Children.TryGetValue("valueFrom", out var from)
                ? Str(Map((YamlMappingNode)from, "fieldRef")["fieldPath"])
                : null;
            env.Add((Str(e["name"]), e.Children.TryGetValue("value", out var v) ? Str(v) : null, fieldPath));
        }
        var emptyDirs = SeqOrEmpty(pod, "volumes").Cast<YamlMappingNode>()
            .Select(v => v.Children.ContainsKey("emptyDir") ? Str(v["name"]) : throw new InvalidDataException($"{file}: volume {v["name"]} is not an emptyDir; podman needs a mapping for it"))
            .ToHashSet();
        var tmpfs = SeqOrEmpty(container, "volumeMounts").Cast<YamlMappingNode>()
            .Select(m => emptyDirs.Contains(Str(m["name"])) ? Str(m["mountPath"]) : throw new InvalidDataException($"{file}: mount {m["name"]} has no emptyDir volume"))
            .ToList();
        long? Long(YamlMappingNode a, YamlMappingNode b, string key) =>
            b.Children.TryGetValue(key, out var x) ? long.Parse(Str(x), CultureInfo.InvariantCulture)
            : a.Children.TryGetValue(key, out var y) ? long.Parse(Str(y), CultureInfo.InvariantCulture) : null;
        bool Bool(YamlMappingNode m, string key) => m.Children.TryGetValue(key, out var x) && Str(x) == "true";

        return new PodSpec(
            Workload: Str(Map(root, "metadata")["name"]),
            Image: Str(container["image"]),
            ServiceAccount: Str(pod["serviceAccountName"]),
            Args: SeqOrEmpty(container, "args").Select(Str).ToList(),
            Env: env,
            RunAsUser: Long(podSecurity, security, "runAsUser"),
            RunAsGroup: Long(podSecurity, security, "runAsGroup"),
            RunAsNonRoot: Bool(podSecurity, "runAsNonRoot") || Bool(security, "runAsNonRoot"),
            ReadOnlyRoot: Bool(security, "readOnlyRootFilesystem"),
            NoNewPrivileges: security.Children.TryGetValue("allowPrivilegeEscalation", out var ape) && Str(ape) == "false",
            CapDrop: SeqOrEmpty(caps, "drop").Select(Str).ToList(),
            CapAdd: SeqOrEmpty(caps, "add").Select(Str).ToList(),
            TmpfsMounts: tmpfs,
            MemoryLimitBytes: Quantity(Str(Map(resources, "limits")["memory"])),
            MemoryRequestBytes: Quantity(Str(Map(resources, "requests")["memory"])),
            GraceSeconds: pod.Children.TryGetValue("terminationGracePeriodSeconds", out var g) ? int.Parse(Str(g), CultureInfo.InvariantCulture) : 30,
            HostNetwork: Bool(pod, "hostNetwork"),
            Tolerations: SeqOrEmpty(pod, "tolerations").Cast<YamlMappingNode>().Select(t => (Str(t["key"]), Str(t["effect"]))).ToList());
    }

    /// <summary>A Kubernetes memory quantity (Ki, Mi, Gi or plain bytes) in bytes.</summary>
    public static long Quantity(string q)
    {
        foreach (var (suffix, factor) in new[] { ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30) })
            if (q.EndsWith(suffix, StringComparison.Ordinal)) return long.Parse(q[..^2], CultureInfo.InvariantCulture) * factor;
        return long.Parse(q, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// podman run's options for this pod on <paramref name="nodeName"/>, in the network namespace <paramref name="netns"/>,
    /// with the service account's token, CA and namespace mounted where Kubernetes mounts them and the API server's
    /// address in KUBERNETES_SERVICE_HOST/PORT, as the kubelet gives every pod (no mount without <paramref name="serviceAccountDir"/>).
    /// </summary>
    public List<string> PodmanRunOptions(string name, string netns, string nodeName, string? serviceAccountDir, string apiHost, int apiPort)
    {
        var o = new List<string> { "--name", name, "--label", "konvoylb.lab=" + netns, "--pull=never", "--network", "ns:/run/netns/" + netns };
        // Kubernetes runs the image's entrypoint with the manifest's args: the image under test gets exactly these.
        if (RunAsUser is { } uid) o.AddRange(["--user", RunAsGroup is { } gid ? $"{uid}:{gid}" : uid.ToString(CultureInfo.InvariantCulture)]);
        if (ReadOnlyRoot) o.AddRange(["--read-only", "--read-only-tmpfs=false"]);
        if (NoNewPrivileges) o.AddRange(["--security-opt", "no-new-privileges"]);
        foreach (var c in CapDrop) o.AddRange(["--cap-drop", c]);
        foreach (var c in CapAdd) o.AddRange(["--cap-add", c]);
        foreach (var t in TmpfsMounts) o.AddRange(["--tmpfs", t + ":rw,nosuid,nodev,mode=1777"]);
        o.AddRange(["--memory", MemoryLimitBytes.ToString(CultureInfo.InvariantCulture), "--memory-swap", MemoryLimitBytes.ToString(CultureInfo.InvariantCulture)]);
        o.AddRange(["--stop-timeout", GraceSeconds.ToString(CultureInfo.InvariantCulture)]);
        foreach (var (envName, value, fieldPath) in Env)
        {
            string resolved = fieldPath switch
            {
                null => value ?? "",
                "spec.nodeName" => nodeName,
                _ => throw new InvalidDataException($"{Workload}: env {envName} from {fieldPath} is not known to the test"),
            };
            o.AddRange(["--env", $"{envName}={resolved}"]);
        }
        o.AddRange(["--env", "KUBERNETES_SERVICE_HOST=" + apiHost, "--env", "KUBERNETES_SERVICE_PORT=" + apiPort.ToString(CultureInfo.InvariantCulture)]);
        if (serviceAccountDir is not null) o.AddRange(["--volume", serviceAccountDir + ":/var/run/secrets/kubernetes.io/serviceaccount:ro"]);
        return o;
    }

    static YamlMappingNode Map(YamlMappingNode m, string key) => (YamlMappingNode)m[key];
    static YamlMappingNode MapOrEmpty(YamlMappingNode m, string key) => m.Children.TryGetValue(key, out var v) ? (YamlMappingNode)v : new YamlMappingNode();
    static YamlSequenceNode Seq(YamlMappingNode m, string key) => (YamlSequenceNode)m[key];
    static IEnumerable<YamlNode> SeqOrEmpty(YamlMappingNode m, string key) => m.Children.TryGetValue(key, out var v) ? (YamlSequenceNode)v : [];
    static string Str(YamlNode n) => ((YamlScalarNode)n).Value ?? "";
}
