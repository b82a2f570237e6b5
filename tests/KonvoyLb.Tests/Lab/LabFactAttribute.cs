namespace KonvoyLb.Tests.Lab;

/// <summary>
/// A test that needs the network-namespace lab (root, iproute2) and the tools named here. Outside
/// CI it is skipped, with the reason, where the lab is unavailable; under CI (CI=true) it always
/// runs, so an unavailable lab fails the test instead of hiding behind a skip.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class LabFactAttribute : FactAttribute
{
    public LabFactAttribute(params string[] tools)
    {
        Tools = tools;
        Skip = NetLab.SkipReason(tools)!;
    }

    public IReadOnlyList<string> Tools { get; }
}

/// <summary>The <see cref="LabFactAttribute"/> rule for theories.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class LabTheoryAttribute : TheoryAttribute
{
    public LabTheoryAttribute(params string[] tools)
    {
        Tools = tools;
        Skip = NetLab.SkipReason(tools)!;
    }

    public IReadOnlyList<string> Tools { get; }
}

/// <summary>
/// A test that runs the image with podman in the namespace lab (and needs <paramref name="tools"/> there). Skipped
/// outside CI, with the reason, where podman or the image is missing; under CI it always runs and fails instead.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute(params string[] tools)
    {
        Skip = NetLab.SkipReason(tools) ?? (NetLab.InCI ? null : Deploy.Podman.Unavailable() is { } why ? $"{why} (skipped outside CI)" : null)!;
    }
}
