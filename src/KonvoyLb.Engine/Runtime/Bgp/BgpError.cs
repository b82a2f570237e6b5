namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>
/// A malformed message, as the NOTIFICATION to send back (RFC 4271 §6): error code, subcode and data,
/// plus a sentence for people. Decoders return these instead of throwing.
/// </summary>
public sealed record BgpError(byte Code, byte Subcode, byte[] Data, string Description)
{
    public BgpNotification ToNotification() => new(Code, Subcode, Data);

    public override string ToString() => $"{Description} ({Code}/{Subcode})";

    public bool Equals(BgpError? other) =>
        other is not null && Code == other.Code && Subcode == other.Subcode &&
        Seq.Equal(Data, other.Data) && Description == other.Description;

    public override int GetHashCode() => HashCode.Combine(Code, Subcode, Seq.Hash(Data), Description);

    internal static BgpError Of(byte code, byte subcode, string description) => new(code, subcode, [], description);
    internal static BgpError Of(byte code, byte subcode, ReadOnlySpan<byte> data, string description) => new(code, subcode, data.ToArray(), description);

    internal static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];
}

/// <summary>NOTIFICATION error codes and subcodes (RFC 4271 §4.5 and the IANA registry).</summary>
public static class BgpErrorCode
{
    public const byte MessageHeader = 1, Open = 2, Update = 3, HoldTimerExpired = 4, Fsm = 5, Cease = 6, RouteRefresh = 7;

    // 1/x
    public const byte ConnectionNotSynchronized = 1, BadMessageLength = 2, BadMessageType = 3;
    // 2/x
    public const byte Unspecific = 0, UnsupportedVersion = 1, BadPeerAs = 2, BadBgpIdentifier = 3,
        UnsupportedOptionalParameter = 4, UnacceptableHoldTime = 6, UnsupportedCapability = 7;
    // 3/x
    public const byte MalformedAttributeList = 1, UnrecognizedWellKnownAttribute = 2, MissingWellKnownAttribute = 3,
        AttributeFlagsError = 4, AttributeLengthError = 5, InvalidOrigin = 6, InvalidNextHop = 8,
        OptionalAttributeError = 9, InvalidNetworkField = 10, MalformedAsPath = 11;
    // 5/x (RFC 6608)
    public const byte FsmUnexpectedInOpenSent = 1, FsmUnexpectedInOpenConfirm = 2, FsmUnexpectedInEstablished = 3;
    // 6/x (RFC 4486, 8538, 9384)
    public const byte MaximumPrefixes = 1, AdministrativeShutdown = 2, PeerDeconfigured = 3, AdministrativeReset = 4,
        ConnectionRejected = 5, OtherConfigurationChange = 6, ConnectionCollision = 7, OutOfResources = 8,
        HardReset = 9, BfdDown = 10;

    /// <summary>Names of the code and the subcode; the subcode name is null when the registry has none.</summary>
    public static (string Code, string? Subcode) Names(byte code, byte subcode) => code switch
    {
        MessageHeader => ("message header error", subcode switch
        {
            1 => "connection not synchronized",
            2 => "bad message length",
            3 => "bad message type",
            _ => null,
        }),
        Open => ("OPEN message error", subcode switch
        {
            0 => "unspecific",
            1 => "unsupported version number",
            2 => "bad peer AS",
            3 => "bad BGP identifier",
            4 => "unsupported optional parameter",
            6 => "unacceptable hold time",
            7 => "unsupported capability",
            11 => "role mismatch",
            _ => null,
        }),
        Update => ("UPDATE message error", subcode switch
        {
            1 => "malformed attribute list",
            2 => "unrecognized well-known attribute",
            3 => "missing well-known attribute",
            4 => "attribute flags error",
            5 => "attribute length error",
            6 => "invalid ORIGIN attribute",
            8 => "invalid NEXT_HOP attribute",
            9 => "optional attribute error",
            10 => "invalid network field",
            11 => "malformed AS_PATH",
            _ => null,
        }),
        HoldTimerExpired => ("hold timer expired", null),
        Fsm => ("finite state machine error", subcode switch
        {
            0 => "unspecified",
            1 => "unexpected message in OpenSent",
            2 => "unexpected message in OpenConfirm",
            3 => "unexpected message in Established",
            _ => null,
        }),
        Cease => ("Cease", subcode switch
        {
            1 => "maximum number of prefixes reached",
            2 => "administrative shutdown",
            3 => "peer de-configured",
            4 => "administrative reset",
            5 => "connection rejected",
            6 => "other configuration change",
            7 => "connection collision resolution",
            8 => "out of resources",
            9 => "hard reset",
            10 => "BFD down",
            _ => null,
        }),
        RouteRefresh => ("ROUTE-REFRESH message error", subcode == 1 ? "invalid message length" : null),
        _ => ($"error code {code}", null),
    };
}
