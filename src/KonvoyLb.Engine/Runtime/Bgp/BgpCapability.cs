namespace KonvoyLb.Engine.Runtime.Bgp;

/// <summary>An OPEN capability (RFC 5492). Codes this speaker uses are typed; every other one is kept as
/// <see cref="Unknown"/> with its bytes, so a decoded OPEN re-encodes to the same capabilities.</summary>
public abstract record BgpCapability
{
    private protected BgpCapability(byte code) => Code = code;

    public byte Code { get; }

    public const byte MultiprotocolCode = 1, RouteRefreshCode = 2, GracefulRestartCode = 64, FourOctetAsCode = 65;

    /// <summary>Multiprotocol extensions (RFC 4760): one address family the sender handles.</summary>
    public sealed record Multiprotocol(ushort Afi, byte Safi) : BgpCapability(MultiprotocolCode)
    {
        public static Multiprotocol IPv4Unicast => new(BgpFamily.AfiIPv4, BgpFamily.SafiUnicast);
        public static Multiprotocol IPv6Unicast => new(BgpFamily.AfiIPv6, BgpFamily.SafiUnicast);
        public override string ToString() => $"multiprotocol {Afi}/{Safi}";
    }

    /// <summary>Route refresh (RFC 2918).</summary>
    public sealed record RouteRefresh() : BgpCapability(RouteRefreshCode)
    {
        public override string ToString() => "route refresh";
    }

    /// <summary>4-octet AS numbers (RFC 6793), carrying the sender's real AS.</summary>
    public sealed record FourOctetAs(uint Asn) : BgpCapability(FourOctetAsCode)
    {
        public override string ToString() => $"4-octet AS {Asn}";
    }

    /// <summary>Graceful restart (RFC 4724). <paramref name="Flags"/> is the 4-bit field (8 = Restart State,
    /// 4 = Notification, RFC 8538), <paramref name="RestartTime"/> the 12-bit time in seconds. Without
    /// families it only says "I send End-of-RIB".</summary>
    public sealed record GracefulRestart(byte Flags, ushort RestartTime, IReadOnlyList<GracefulRestartFamily> Families)
        : BgpCapability(GracefulRestartCode)
    {
        public GracefulRestart(byte flags, ushort restartTime) : this(flags, restartTime, []) { }

        public const byte RestartStateFlag = 8, NotificationFlag = 4;

        public bool Equals(GracefulRestart? other) =>
            other is not null && Flags == other.Flags && RestartTime == other.RestartTime && Seq.Equal(Families, other.Families);

        public override int GetHashCode() => HashCode.Combine(Flags, RestartTime, Seq.Hash(Families));

        public override string ToString() =>
            $"graceful restart flags {Flags:x} time {RestartTime}" + string.Concat(Families.Select(f => $" {f}"));
    }

    /// <summary>Any other capability, kept as its code and value.</summary>
    public sealed record Unknown(byte Code, byte[] Value) : BgpCapability(Code)
    {
        public bool Equals(Unknown? other) => other is not null && Code == other.Code && Seq.Equal(Value, other.Value);
        public override int GetHashCode() => HashCode.Combine(Code, Seq.Hash(Value));
        public override string ToString() => $"capability {Code} {Seq.Hex(Value)}";
    }
}

/// <summary>One address family in the graceful restart capability; flag 0x80 = forwarding state preserved.</summary>
public readonly record struct GracefulRestartFamily(ushort Afi, byte Safi, byte Flags)
{
    public override string ToString() => $"{Afi}/{Safi}:{Flags:x2}";
}
