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
public enum ErrorKind { ObjectNotFound, InvalidData, InvalidArgument, WriteError, ResourceUnavailable, NotImplemented, InvalidOperation, PermissionDenied, LimitsExceeded }

/// <summary>
/// A failure the user can act on: what went wrong, where, and how to fix it. The cmdlets turn it into
/// an ErrorRecord with <see cref="Id"/> as ErrorId.
/// </summary>
public sealed class LbException : Exception
{
    public ErrorId Id { get; }
    public ErrorKind Kind { get; }
    public object? Target { get; }
    public SourceLocation? Location { get; }
    public string? Fix { get; }
    public IReadOnlyList<Finding> Findings { get; }

    public LbException(ErrorId id, ErrorKind kind, string message, object? target = null, SourceLocation? location = null,
        string? fix = null, IReadOnlyList<Finding>? findings = null, Exception? inner = null)
        : base(Compose(message, location, fix), inner)
    {
        Id = id; Kind = kind; Target = target; Location = location; Fix = fix; Findings = findings ?? Array.Empty<Finding>();
    }

    static string Compose(string message, SourceLocation? location, string? fix) =>
        (location is null ? "" : $"{location}: ") + message + (fix is null ? "" : " " + fix);
}
