using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace KonvoyLb.Infrastructure;

/// <summary>
/// Loads the engine and its dependencies (YamlDotNet, KubernetesClient, Tmds.LibC) into a private
/// AssemblyLoadContext, so that another module's copy of the same libraries, in any version, never
/// meets ours. Only KonvoyLb.dll (the cmdlets) lives in the default context; when the runtime asks
/// the default context for KonvoyLb.Engine, we hand it the private one's copy.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    internal const string EngineName = "KonvoyLb.Engine";
    static readonly string DepsDirectory =
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "deps");
    static readonly EngineLoadContext Engine = new(DepsDirectory);
    static int _registered;

    public void OnImport()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            AssemblyLoadContext.Default.Resolving += ResolveEngine;
    }

    static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == EngineName ? Engine.LoadFromAssemblyName(name) : null;
}

/// <summary>Resolves from the module's deps folder only; everything else falls back to the default context.</summary>
sealed class EngineLoadContext : AssemblyLoadContext
{
    readonly string _directory;

    public EngineLoadContext(string directory) : base("KonvoyLb.Engine") => _directory = directory;

    protected override Assembly? Load(AssemblyName name)
    {
        // Only files that exist here: never ask another context from inside a resolver (no recursion).
        string path = Path.Combine(_directory, name.Name + ".dll");
        if (File.Exists(path)) return LoadFromAssemblyPath(path);
        string platform = Path.Combine(_directory, "runtimes", PlatformRid, "lib");
        if (!Directory.Exists(platform)) return null;
        var candidate = Directory.EnumerateFiles(platform, name.Name + ".dll", SearchOption.AllDirectories).FirstOrDefault();
        return candidate is null ? null : LoadFromAssemblyPath(candidate);
    }

    static string PlatformRid => "linux-" + System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string path = Path.Combine(_directory, unmanagedDllName);
        return File.Exists(path) ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
