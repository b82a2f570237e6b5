namespace KonvoyLb.Engine;

/// <summary>
/// The catalogue of every ErrorId KonvoyLb raises (and of every finding code). The names are
/// stable: scripts and CI match on them. Each one is documented in about_KonvoyLb_Errors.
/// </summary>
public enum ErrorId
{
    // Files
    FileNotFound,
    FileNotUtf8,
    FileChangedOnDisk,
    FileWriteFailed,
    // cluster.yaml structure
    NotYaml,
    NoClusterConfiguration,
    UnsupportedApiVersion,
    AddonsNotFound,
    MetalLbAddonNotFound,
    ValuesNotYaml,
    ValuesNotBlockScalar,
    ValuesNotMapping,
    ConfigInlineNotMapping,
    // MetalLB configuration rules (MetalLB's own)
    UnknownKey,
    WrongType,
    MissingField,
    InvalidAsn,
    InvalidAddress,
    InvalidRange,
    InvalidDuration,
    InvalidHoldTime,
    KeepaliveAboveHoldTime,
    DuplicatePoolName,
    DuplicatePeer,
    DuplicateBfdProfile,
    UnknownProtocol,
    EmptyPool,
    AdvertisementOnLayer2Pool,
    InvalidAggregationLength,
    InvalidCommunity,
    UnknownBfdProfile,
    InvalidBfdProfile,
    EbgpMultihopOnIbgp,
    InvalidPassword,
    InvalidNodeSelector,
    OverlappingAddresses,
    // What MetalLB never checks (Test-LbConfig)
    DefaultSubnetUsed,
    InvalidSubnet,
    SubnetTooSmall,
    SubnetsOverlap,
    SubnetOverlapsNode,
    PoolOverlapsPodSubnet,
    PoolOverlapsServiceSubnet,
    PoolContainsNodeAddress,
    PoolContainsControlPlaneEndpoint,
    PoolOverlapsReserved,
    PoolOutsideNodeSubnet,
    PoolContainsNetworkAddress,
    PoolContainsBroadcastAddress,
    PoolContainsGateway,
    NoPools,
    PoolCapacity,
    TotalCapacity,
    InventoryNotYaml,
    InventoryHostNotAddress,
    NodeSubnetUnknown,
    ConfigFileNotRecognized,
    // CRD conversion
    CannotConvert,
    // Reachability probes
    TooManyAddresses,
    NeedsRawSockets,
    InterfaceDown,
    ProbeFailed,
    // Probes from the inventory's hosts over SSH (one host's fault; the others go on)
    SshUnreachable,
    SshAuthenticationFailed,
    SshHostKeyUnknown,
    SshHostKeyMismatch,
    SshCommandFailed,
    RemoteToolsMissing,
    RemoteArpingNeedsRoot,
    // The Kubernetes API
    KubeconfigNotFound,
    KubeconfigInvalid,
    KubeContextNotFound,
    KubeApiUnreachable,
    KubeTlsFailure,
    KubeUnauthorized,
    KubeForbidden,
    KubeNamespaceNotFound,
    KubeApiError,
    KubeTimeout,
    NoControllerPod,
    ControllerNotReady,
    MetalLbConfigMapNotFound,
    ServiceNotFound,
    // The runtime (Start-LbController, Start-LbSpeaker)
    MetricsServerFailed,
    // BGP
    BgpMd5Unsupported,
    BgpConnectFailed,
    BgpOpenRefused,
    BgpSessionFailed,
    // Editing
    InvalidConfig,
    PoolNotFound,
    PeerNotFound,
    CommunityNotFound,
    InvalidArgument,
    EditVerificationFailed,
    // A bug: an exception the engine did not expect, still reported as an ErrorRecord
    InternalError,
}

public enum Severity { Information, Warning, Error }

/// <summary>A place in a file: 1-based line and column.</summary>
public sealed record SourceLocation(string? File, int Line, int Column)
{
    public override string ToString() => $"{(File is null ? "" : Path.GetFileName(File) + ":")}{Line}:{Column}";
}

/// <summary>
/// One problem found in a configuration, with where it is and what it concerns. For overlaps, Range and
/// OtherRange are the two ranges and Overlap the addresses they share.
/// </summary>
public sealed record Finding(Severity Severity, ErrorId Code, string Message, string? Subject, SourceLocation? Location)
{
    public string? Range { get; init; }
    public string? OtherRange { get; init; }
    public string? Overlap { get; init; }

    public override string ToString() =>
        $"{Location?.ToString() ?? "-"} {Severity} {Code}: {(Subject is null ? "" : Subject + ": ")}{Message}";
}

/// <summary>Which PowerShell ErrorCategory an error belongs to (kept free of PowerShell types).</summary>
public enum ErrorKind { ObjectNotFound, InvalidData, InvalidArgument, WriteError, ResourceUnavailable, NotImplemented, InvalidOperation, PermissionDenied, LimitsExceeded, ConnectionError, SecurityError, NotInstalled }

/// <summary>
/// The catalogue's second half: each ErrorId has one category, whoever raises it, and the ids raised
/// from several places have one factory each, so they read the same everywhere.
/// </summary>
public static class LbErrors
{
    public static ErrorKind KindOf(ErrorId id) => id switch
    {
        ErrorId.FileNotFound or ErrorId.AddonsNotFound or ErrorId.MetalLbAddonNotFound or ErrorId.KubeconfigNotFound
            or ErrorId.KubeContextNotFound or ErrorId.KubeNamespaceNotFound or ErrorId.NoControllerPod
            or ErrorId.MetalLbConfigMapNotFound or ErrorId.ServiceNotFound or ErrorId.PoolNotFound or ErrorId.PeerNotFound
            or ErrorId.CommunityNotFound => ErrorKind.ObjectNotFound,
        ErrorId.InvalidArgument or ErrorId.InvalidAddress or ErrorId.InvalidRange => ErrorKind.InvalidArgument,
        ErrorId.FileWriteFailed => ErrorKind.WriteError,
        ErrorId.FileChangedOnDisk or ErrorId.EditVerificationFailed or ErrorId.ProbeFailed or ErrorId.KubeApiError
            or ErrorId.InternalError => ErrorKind.InvalidOperation,
        ErrorId.UnsupportedApiVersion or ErrorId.BgpMd5Unsupported => ErrorKind.NotImplemented,
        ErrorId.TooManyAddresses => ErrorKind.LimitsExceeded,
        ErrorId.NeedsRawSockets or ErrorId.KubeUnauthorized or ErrorId.KubeForbidden or ErrorId.KubeTlsFailure
            or ErrorId.SshAuthenticationFailed or ErrorId.RemoteArpingNeedsRoot => ErrorKind.PermissionDenied,
        ErrorId.SshHostKeyUnknown or ErrorId.SshHostKeyMismatch => ErrorKind.SecurityError,
        ErrorId.SshUnreachable => ErrorKind.ConnectionError,
        ErrorId.SshCommandFailed => ErrorKind.InvalidOperation,
        ErrorId.RemoteToolsMissing => ErrorKind.NotInstalled,
        ErrorId.InterfaceDown or ErrorId.MetricsServerFailed or ErrorId.KubeApiUnreachable or ErrorId.KubeTimeout or ErrorId.ControllerNotReady => ErrorKind.ResourceUnavailable,
        ErrorId.BgpConnectFailed or ErrorId.BgpOpenRefused or ErrorId.BgpSessionFailed => ErrorKind.ConnectionError,
        // Everything else is a problem of a file or configuration: the finding codes and the read errors.
        _ => ErrorKind.InvalidData,
    };

    public static LbException PoolNotFound(string name, string? file, IEnumerable<string>? existing) =>
        NotFound(ErrorId.PoolNotFound, "address pool", name, file, existing);

    public static LbException PeerNotFound(string address, string? file, IEnumerable<string>? existing) =>
        NotFound(ErrorId.PeerNotFound, "BGP peer", address, file, existing);

    public static LbException CommunityNotFound(string name, string? file, IEnumerable<string>? existing) =>
        NotFound(ErrorId.CommunityNotFound, "BGP community alias", name, file, existing);

    static LbException NotFound(ErrorId id, string what, string name, string? file, IEnumerable<string>? existing)
    {
        var names = existing?.ToList() ?? new();
        return new LbException(id, $"there is no {what} '{name}' in {(file is null ? "the metallb configuration" : $"'{file}'")}.", name,
            fix: names.Count == 0 ? $"The configuration has no {what}." : $"Existing: {string.Join(", ", names)}.");
    }

    public static LbException MetalLbAddonNotFound(string file, SourceLocation? at = null) =>
        new(ErrorId.MetalLbAddonNotFound, $"'{file}' has no metallb addon entry.", file, at, $"Add it with: Enable-LbAddon -LiteralPath '{file}'");

    public static LbException KubeNamespaceNotFound(string ns, string server, Exception? inner = null) =>
        new(ErrorId.KubeNamespaceNotFound, $"namespace '{ns}' does not exist on {server}.", ns,
            fix: "Konvoy runs MetalLB in kubeaddons; plain MetalLB installs use metallb-system: pass -Namespace.", inner: inner);

    public static LbException ServiceNotFound(string name, string? ns) =>
        new(ErrorId.ServiceNotFound, $"there is no LoadBalancer service '{name}'{(ns is null ? "" : $" in namespace '{ns}'")}.", name,
            fix: "List them with Get-LbService; a Service of another type is not shown.");

    /// <summary>A probe run that cannot be trusted: no results at all rather than wrong ones.</summary>
    public static LbException ProbeFailed(string what, object? target, Exception inner, string? fix = null) =>
        new(ErrorId.ProbeFailed, $"{what} failed ({inner.Message}); the results would be wrong, so none are reported.", target, fix: fix, inner: inner);

    /// <summary>An edit that would not mean what was asked: a bug, reported instead of written.</summary>
    public static LbException EditVerificationFailed(string what, string? file, Exception? inner = null) =>
        new(ErrorId.EditVerificationFailed, $"{what}; nothing was written.", file, fix: "Please report this with the file.", inner: inner);

    public static LbException Internal(Exception e) =>
        new(ErrorId.InternalError, $"KonvoyLb failed unexpectedly: {e.GetType().Name}: {e.Message}", null,
            fix: "Please report this with the command and its input; the error's Exception property holds the stack.", inner: e);

    /// <summary>A finding of a check, as an error to raise.</summary>
    public static LbException From(Finding f) => new(f.Code, f.Message, f, f.Location);
}

/// <summary>
/// A failure the user can act on: what went wrong, where, and how to fix it. The cmdlets turn it into
/// an ErrorRecord with <see cref="Id"/> as ErrorId and the id's one category (<see cref="LbErrors.KindOf"/>).
/// </summary>
public sealed class LbException : Exception
{
    public ErrorId Id { get; }
    public ErrorKind Kind => LbErrors.KindOf(Id);
    public object? Target { get; }
    public SourceLocation? Location { get; }
    public string? Fix { get; }
    /// <summary>What is wrong and where, without the fix (the message is both).</summary>
    public string Problem { get; }
    public IReadOnlyList<Finding> Findings { get; }

    public LbException(ErrorId id, string message, object? target = null, SourceLocation? location = null,
        string? fix = null, IReadOnlyList<Finding>? findings = null, Exception? inner = null)
        : base(Compose(message, location, fix), inner)
    {
        Id = id; Target = target; Location = location; Fix = fix; Findings = findings ?? Array.Empty<Finding>();
        Problem = Compose(message, location, null);
    }

    static string Compose(string message, SourceLocation? location, string? fix) =>
        (location is null ? "" : $"{location}: ") + message + (fix is null ? "" : " " + fix);
}
