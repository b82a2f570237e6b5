using System.Text;
using k8s;
using KonvoyLb.Engine;
using KonvoyLb.Engine.Kube;
using KonvoyLb.KubeApi;

namespace KonvoyLb.Tests.Kube;

// KUBECONFIG, HOME and the in-cluster variables are process-wide: these tests set them, so they run
// alone (xunit runs collections without parallelization after all the others).
[CollectionDefinition(nameof(KubeconfigResolutionTests), DisableParallelization = true)]
public sealed class KubeconfigResolutionCollection;

/// <summary>How KubeClientFactory finds and merges kubeconfigs, like kubectl: real files in temp folders, real environment variables.</summary>
[Collection(nameof(KubeconfigResolutionTests))]
public sealed class KubeconfigResolutionTests : IDisposable
{
    static readonly string[] Variables = ["KUBECONFIG", "HOME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"];
    readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
    readonly string _dir = KubeTestKit.TempDir();
    readonly string _home;

    public KubeconfigResolutionTests()
    {
        // A home without ~/.kube/config and no pod: only what a test writes is found.
        _home = Directory.CreateDirectory(Path.Combine(_dir, "home")).FullName;
        Environment.SetEnvironmentVariable("HOME", _home);
        Environment.SetEnvironmentVariable("KUBECONFIG", null);
        Environment.SetEnvironmentVariable("KUBERNETES_SERVICE_HOST", null);
        Environment.SetEnvironmentVariable("KUBERNETES_SERVICE_PORT", null);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
    }

    /// <summary>A kubeconfig whose contexts each use a cluster and a user of the same name.</summary>
    string Write(string name, string? currentContext, params (string Context, string Server)[] contexts)
    {
        var sb = new StringBuilder("apiVersion: v1\nkind: Config\nclusters:\n");
        foreach (var (c, server) in contexts) sb.Append($"- name: {c}\n  cluster:\n    server: {server}\n");
        sb.Append("users:\n");
        foreach (var (c, _) in contexts) sb.Append($"- name: {c}\n  user:\n    token: token-{c}\n");
        sb.Append("contexts:\n");
        foreach (var (c, _) in contexts) sb.Append($"- name: {c}\n  context:\n    cluster: {c}\n    user: {c}\n");
        if (currentContext is not null) sb.Append($"current-context: \"{currentContext}\"\n");
        return WriteText(name, sb.ToString());
    }

    string WriteText(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    static void SetKubeconfig(params string[] files) => Environment.SetEnvironmentVariable("KUBECONFIG", string.Join(Path.PathSeparator, files));

    static KubeConnection Connect(string? context = null, string? workingDirectory = null) => KubeClientFactory.Connect(null, context, workingDirectory);

    [Fact]
    public void TheFirstFileOfKubeconfigThatDefinesANameWins()
    {
        var first = Write("first", "a", ("a", "https://first.example:6443"));
        var second = Write("second", "a", ("a", "https://second.example:6443"));
        SetKubeconfig(first, second);
        using (var kube = Connect())
        {
            Assert.Equal("https://first.example:6443", kube.Server);
            Assert.Equal("a", kube.Context);
            Assert.Equal($"KUBECONFIG ({first}, {second} merged)", kube.Source);
        }
        SetKubeconfig(second, first);
        using (var kube = Connect()) Assert.Equal("https://second.example:6443", kube.Server);
    }

    [Fact]
    public void CurrentContextComesFromTheFirstFileThatSetsOne()
    {
        // An empty current-context does not count, as for kubectl.
        var none = Write("none", "", ("a", "https://a.example"));
        var b = Write("b", "b", ("b", "https://b.example"));
        var a = Write("a", "a");
        SetKubeconfig(none, b, a);
        using var kube = Connect();
        Assert.Equal("b", kube.Context);
        Assert.Equal("https://b.example", kube.Server);
    }

    [Fact]
    public void AContextMayUseAClusterAndUserOfAnotherFile()
    {
        var contexts = WriteText("contexts", "apiVersion: v1\nkind: Config\ncontexts:\n- name: prod\n  context:\n    cluster: prod-cluster\n    user: admin\n    namespace: shop\ncurrent-context: prod\n");
        var clusters = Write("clusters", null, ("other", "https://other.example"));
        var rest = WriteText("rest", "apiVersion: v1\nkind: Config\nclusters:\n- name: prod-cluster\n  cluster:\n    server: https://prod.example\nusers:\n- name: admin\n  user:\n    token: t\n");
        SetKubeconfig(contexts, clusters, rest);
        using var kube = Connect();
        Assert.Equal(("https://prod.example", "prod", "shop"), (kube.Server, kube.Context, kube.DefaultNamespace));
    }

    [Fact]
    public void MissingFilesAndEmptyEntriesOfKubeconfigAreSkipped()
    {
        var missing = Path.Combine(_dir, "missing");
        var real = Write("real", "a", ("a", "https://real.example"));
        Environment.SetEnvironmentVariable("KUBECONFIG", $"{Path.PathSeparator}{missing}{Path.PathSeparator}{Path.PathSeparator}{real}{Path.PathSeparator}");
        using var kube = Connect();
        Assert.Equal("https://real.example", kube.Server);
        Assert.Equal($"KUBECONFIG ({real}; not found, skipped: {missing})", kube.Source);
    }

    [Fact]
    public void KubeconfigListingNoExistingFileIsKubeconfigNotFound()
    {
        var one = Path.Combine(_dir, "one");
        var two = Path.Combine(_dir, "two");
        SetKubeconfig(one, two);
        var e = Assert.Throws<LbException>(() => Connect());
        Assert.Equal(ErrorId.KubeconfigNotFound, e.Id);
        Assert.Contains(one, e.Message);
        Assert.Contains(two, e.Message);
    }

    [Fact]
    public void AnUnknownContextListsTheContextsOfTheMergedConfig()
    {
        SetKubeconfig(Write("a", "a", ("a", "https://a.example")), Write("b", null, ("b", "https://b.example")));
        var e = Assert.Throws<LbException>(() => Connect("prod"));
        Assert.Equal(ErrorId.KubeContextNotFound, e.Id);
        Assert.Contains("Known contexts: a, b.", e.Message);
        // -Context picks a context of a later file; names are matched exactly, as by kubectl.
        using (var kube = Connect("b")) Assert.Equal("https://b.example", kube.Server);
        Assert.Equal(ErrorId.KubeContextNotFound, Assert.Throws<LbException>(() => Connect("B")).Id);
    }

    [Fact]
    public void AFileThatDoesNotParseIsKubeconfigInvalidNamingIt()
    {
        var good = Write("good", "a", ("a", "https://a.example"));
        var bad = WriteText("bad", "apiVersion: v1\nclusters: [\n  - name: x\n");
        SetKubeconfig(good, bad);
        var e = Assert.Throws<LbException>(() => Connect());
        Assert.Equal(ErrorId.KubeconfigInvalid, e.Id);
        Assert.Equal(bad, e.Target);
        Assert.Contains($"'{bad}'", e.Message);
        Assert.Equal(bad, e.Location?.File);
    }

    [Fact]
    public void AdminConfBesideClusterYamlIsUsedWhenNothingElseIsGiven()
    {
        Write("home/.kube/config", "home", ("home", "https://home.example"));
        var konvoy = Path.Combine(_dir, "konvoy");
        Write("konvoy/admin.conf", "admin", ("admin", "https://admin.example"));
        WriteText("konvoy/cluster.yaml", "kind: ClusterConfiguration\n");
        using (var kube = Connect(workingDirectory: konvoy))
        {
            Assert.Equal("https://admin.example", kube.Server);
            Assert.Equal($"admin.conf beside cluster.yaml in {konvoy}", kube.Source);
        }
        // KUBECONFIG comes first.
        SetKubeconfig(Path.Combine(_home, ".kube", "config"));
        using (var kube = Connect(workingDirectory: konvoy)) Assert.Equal("https://home.example", kube.Server);
    }

    [Fact]
    public void AdminConfWithoutClusterYamlIsNotUsed()
    {
        var home = Write("home/.kube/config", "home", ("home", "https://home.example"));
        var folder = Path.Combine(_dir, "elsewhere");
        Write("elsewhere/admin.conf", "admin", ("admin", "https://admin.example"));
        using var kube = Connect(workingDirectory: folder);
        Assert.Equal("https://home.example", kube.Server);
        Assert.Equal($"~/.kube/config ({home})", kube.Source);
    }

    [Fact]
    public void WithoutAnyKubeconfigTheErrorSaysWhereItLooked()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var e = Assert.Throws<LbException>(() => Connect(workingDirectory: folder));
        Assert.Equal(ErrorId.KubeconfigNotFound, e.Id);
        Assert.Contains(Path.Combine(folder, "admin.conf"), e.Message);
        Assert.Contains(Path.Combine(_home, ".kube", "config"), e.Message);
    }

    [Fact]
    public void KubeconfigParameterComesBeforeEverything()
    {
        var given = Write("given", "g", ("g", "https://given.example"));
        SetKubeconfig(Write("env", "e", ("e", "https://env.example")));
        using var kube = KubeClientFactory.Connect(given, null, null);
        Assert.Equal("https://given.example", kube.Server);
        Assert.Equal($"-Kubeconfig {given}", kube.Source);
    }

    [Fact]
    public async Task TheMergedConfigReachesTheServerOfTheFirstFile()
    {
        await using var first = await FakeKubeApi.StartAsync(new FakeKubeOptions { Https = true, Token = "first-token" });
        await using var second = await FakeKubeApi.StartAsync(new FakeKubeOptions { Https = true, Token = "second-token" });
        // The first file's CA is a file beside it, named relatively: it must be read from that file's folder, not the second's.
        var firstFile = first.WriteKubeconfig(Path.Combine(_dir, "one", "config"), contextName: "a");
        File.WriteAllText(Path.Combine(_dir, "one", "ca.crt"), first.CertificateAuthorityPem);
        File.WriteAllText(firstFile, string.Join('\n', File.ReadAllLines(firstFile)
            .Select(l => l.TrimStart().StartsWith("certificate-authority-data:", StringComparison.Ordinal) ? "    certificate-authority: ca.crt" : l)));
        var secondFile = second.WriteKubeconfig(Path.Combine(_dir, "two", "config"), contextName: "a");
        SetKubeconfig(Path.Combine(_dir, "absent", "config"), firstFile, secondFile);
        using var kube = Connect();
        var namespaces = await kube.Client.CoreV1.ListNamespaceAsync();
        Assert.NotNull(namespaces);
        Assert.Contains(first.RequestLog, r => r.StartsWith("GET /api/v1/namespaces", StringComparison.Ordinal));
        Assert.DoesNotContain(second.RequestLog, r => r.StartsWith("GET /api/v1/namespaces", StringComparison.Ordinal));
    }
}
