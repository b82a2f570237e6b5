using k8s;
using k8s.KubeConfigModels;
using YamlDotNet.Core;

namespace KonvoyLb.Engine.Kube;

/// <summary>The kubeconfig files to read, in order, and where they came from in words.</summary>
internal sealed record KubeconfigFiles(IReadOnlyList<string> Files, string Source);

/// <summary>
/// Finding and merging kubeconfig files the way kubectl does. KubernetesClient's own merge is not used:
/// its several-file loader is internal, it resolves relative certificate paths against the first file
/// only, keeps an empty current-context, fails on a file without clusters or users, and looks names up
/// ignoring case.
/// </summary>
internal static class Kubeconfigs
{
    public const string InClusterSource = "in-cluster service account";

    /// <summary>
    /// The files to use: -Kubeconfig; else every existing file of KUBECONFIG; else admin.conf in
    /// <paramref name="workingDirectory"/> when a cluster.yaml is beside it (where konvoy up writes it);
    /// else ~/.kube/config. Null when there is none but this runs in a pod (the service account).
    /// </summary>
    public static KubeconfigFiles? Find(string? kubeconfig, string? workingDirectory)
    {
        if (kubeconfig is not null)
        {
            if (!File.Exists(kubeconfig))
                throw new LbException(ErrorId.KubeconfigNotFound, $"the kubeconfig '{kubeconfig}' (from -Kubeconfig) does not exist.", kubeconfig,
                    fix: "Check the path; konvoy writes admin.conf beside cluster.yaml.");
            return new([kubeconfig], $"-Kubeconfig {kubeconfig}");
        }
        if (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } env)
            return FromEnvironment(env, workingDirectory);
        var looked = new List<string>();
        if (workingDirectory is not null)
        {
            string admin = Path.Combine(workingDirectory, "admin.conf");
            if (File.Exists(admin) && File.Exists(Path.Combine(workingDirectory, "cluster.yaml")))
                return new([admin], $"admin.conf beside cluster.yaml in {workingDirectory}");
            looked.Add($"{admin} beside a cluster.yaml");
        }
        string home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
        if (File.Exists(home)) return new([home], $"~/.kube/config ({home})");
        looked.Add(home);
        if (KubernetesClientConfiguration.IsInCluster()) return null;
        throw new LbException(ErrorId.KubeconfigNotFound,
            $"no kubeconfig: -Kubeconfig was not given, KUBECONFIG is not set, there is no {string.Join(" and no ", looked)}, and this is not a pod.", null,
            fix: "Give -Kubeconfig (konvoy writes admin.conf beside cluster.yaml), or set KUBECONFIG.");
    }

    /// <summary>KUBECONFIG's files in order: empty entries and repeats ignored, relative ones taken from the working directory, missing ones skipped.</summary>
    static KubeconfigFiles FromEnvironment(string env, string? workingDirectory)
    {
        var listed = env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(p => workingDirectory is null ? Path.GetFullPath(p) : Path.GetFullPath(p, workingDirectory))
            .Distinct(StringComparer.Ordinal).ToList();
        var existing = listed.Where(File.Exists).ToList();
        if (existing.Count == 0)
            throw new LbException(ErrorId.KubeconfigNotFound,
                listed.Count == 0 ? $"KUBECONFIG ('{env}') names no file." : $"none of the files KUBECONFIG lists exists: {string.Join(", ", listed)}.", env,
                fix: $"Correct KUBECONFIG (files separated by '{Path.PathSeparator}'), or give -Kubeconfig.");
        var missing = listed.Except(existing).ToList();
        return new(existing, $"KUBECONFIG ({string.Join(", ", existing)}{(existing.Count > 1 ? " merged" : "")}"
            + (missing.Count == 0 ? ")" : $"; not found, skipped: {string.Join(", ", missing)})"));
    }

    /// <summary>
    /// Reads the files and merges them as kubectl does: for clusters, users, contexts and extensions the
    /// first file that defines a name wins; current-context and preferences come from the first file that sets them.
    /// </summary>
    public static K8SConfiguration Load(KubeconfigFiles found)
    {
        var files = found.Files.Select(Read).ToList();
        return new K8SConfiguration
        {
            ApiVersion = files.Select(f => f.ApiVersion).FirstOrDefault(v => !string.IsNullOrEmpty(v)) ?? "v1",
            Kind = files.Select(f => f.Kind).FirstOrDefault(v => !string.IsNullOrEmpty(v)) ?? "Config",
            CurrentContext = files.Select(f => f.CurrentContext).FirstOrDefault(v => !string.IsNullOrEmpty(v)),
            Preferences = files.Select(f => f.Preferences).FirstOrDefault(p => p is { Count: > 0 }),
            Clusters = FirstByName(files.SelectMany(f => f.Clusters ?? []), c => c.Name),
            Users = FirstByName(files.SelectMany(f => f.Users ?? []), u => u.Name),
            Contexts = FirstByName(files.SelectMany(f => f.Contexts ?? []), c => c.Name),
            Extensions = FirstByName(files.SelectMany(f => f.Extensions ?? []), e => e.Name),
            FileName = files[0].FileName,
        };
    }

    /// <summary>Only <paramref name="context"/> with its cluster and user, so KubernetesClient (which ignores case) cannot pick another of the same letters.</summary>
    public static K8SConfiguration Only(K8SConfiguration merged, string context)
    {
        var chosen = merged.Contexts.First(c => c.Name == context);
        return new K8SConfiguration
        {
            ApiVersion = merged.ApiVersion, Kind = merged.Kind, Preferences = merged.Preferences, Extensions = merged.Extensions,
            FileName = merged.FileName, CurrentContext = context, Contexts = [chosen],
            Clusters = merged.Clusters.Where(c => c.Name == chosen.ContextDetails?.Cluster).ToList(),
            Users = merged.Users.Where(u => u.Name == chosen.ContextDetails?.User).ToList(),
        };
    }

    static List<T> FirstByName<T>(IEnumerable<T> items, Func<T, string> name)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return items.Where(i => seen.Add(name(i))).ToList();
    }

    /// <summary>One file, with its relative certificate, key and exec paths made absolute against its own folder (as kubectl does).</summary>
    static K8SConfiguration Read(string file)
    {
        string path = Path.GetFullPath(file);
        K8SConfiguration? config;
        try
        {
            // An empty file is an empty kubeconfig, as for kubectl.
            config = KubernetesYaml.Deserialize<K8SConfiguration>(File.ReadAllText(path)) ?? new K8SConfiguration();
        }
        catch (YamlException e)
        {
            throw Invalid(path, $"it is not a kubeconfig: {e.Message}", e, new SourceLocation(path, (int)e.Start.Line, (int)e.Start.Column));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(path, $"it cannot be read: {e.Message}", e);
        }
        config.FileName = path;
        Unique(path, "cluster", config.Clusters, c => c.Name);
        Unique(path, "user", config.Users, u => u.Name);
        Unique(path, "context", config.Contexts, c => c.Name);
        string dir = Path.GetDirectoryName(path)!;
        foreach (var endpoint in (config.Clusters ?? []).Select(c => c.ClusterEndpoint).OfType<ClusterEndpoint>())
            endpoint.CertificateAuthority = Absolute(endpoint.CertificateAuthority, dir);
        foreach (var credentials in (config.Users ?? []).Select(u => u.UserCredentials).OfType<UserCredentials>())
        {
            credentials.ClientCertificate = Absolute(credentials.ClientCertificate, dir);
            credentials.ClientKey = Absolute(credentials.ClientKey, dir);
            // A bare command name is looked up on PATH; one with a folder in it is relative to the file.
            if (credentials.ExternalExecution is { Command: { } command } exec && command.Contains(Path.DirectorySeparatorChar))
                exec.Command = Absolute(command, dir);
        }
        return config;
    }

    static void Unique<T>(string file, string what, IEnumerable<T>? items, Func<T, string?> name)
    {
        var names = (items ?? []).Select(name).ToList();
        if (names.Any(string.IsNullOrEmpty))
            throw Invalid(file, $"a {what} has no name.");
        if (names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw Invalid(file, $"it defines the {what} '{twice.Key}' twice.");
    }

    static string? Absolute(string? path, string dir) =>
        string.IsNullOrEmpty(path) || Path.IsPathRooted(path) ? path : Path.GetFullPath(path, dir);

    static LbException Invalid(string file, string why, Exception? inner = null, SourceLocation? at = null) =>
        new(ErrorId.KubeconfigInvalid, $"the kubeconfig '{file}' cannot be used: {why}", file, at,
            fix: $"Check it with: kubectl --kubeconfig '{file}' config view", inner: inner);
}
