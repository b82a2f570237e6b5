namespace KonvoyLb.Tests;

/// <summary>Where the repository's own fixtures live (tests/fixtures), and temporary copies of them.</summary>
public static class TestFiles
{
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KonvoyLb.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("KonvoyLb.sln not found above the test binaries");
    }

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures", "konvoy");
    public static string Fixture(string name) => Path.Combine(Fixtures, name);
    public static IEnumerable<string> ClusterFixtures() => Directory.GetFiles(Fixtures, "*.cluster.yaml").OrderBy(f => f);

    public static string Read(string name) => File.ReadAllText(Fixture(name));

    /// <summary>A private copy of some text in a fresh temporary directory, removed by the OS later.</summary>
    public static string Temp(string content, string name = "cluster.yaml")
    {
        var dir = Directory.CreateTempSubdirectory("konvoylb-test-");
        var path = Path.Combine(dir.FullName, name);
        File.WriteAllText(path, content);
        return path;
    }
}
