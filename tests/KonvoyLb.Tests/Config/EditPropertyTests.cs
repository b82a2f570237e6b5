using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using KonvoyLb.Engine.Config;

namespace KonvoyLb.Tests.Config;

/// <summary>
/// Random valid configurations, written in random layouts (outer indentation 2 or 4 with or without
/// indented sequences, CRLF or LF, flow or block lists, comments and blank lines in the values, other
/// Helm values, documents before and after, "|" or "|-", with or without a final newline), edited by
/// random valid sequences of 1-6 operations through KonvoyFile.FromBytes → Plan. After every step:
/// the file reads back as exactly the model we keep ourselves (the same ConfigChanges on our own
/// copy), it passes validation, the bytes before and after the metallb entry are those of the
/// original file, the line ends are the file's own, planning the unchanged model changes nothing,
/// and an operation that removes nothing loses no comment.
/// </summary>
public class EditPropertyTests
{
    // ---- generated input ---------------------------------------------------------------------------

    /// <summary>How the starting file is written. StyleSeed drives the small choices (quotes, flow lists, key order, comments).</summary>
    public sealed record Layout(
        int OuterIndent, bool OuterIndentedSeq, bool WideItems,
        int ValuesOffset, int ValuesIndent, bool ValuesIndentedSeq,
        bool Crlf, bool Decorate, bool ProvisionerBefore, bool TrailingDocument,
        bool MetallbLast, bool StripChomping, bool FinalNewline, bool BlankAfter, int StyleSeed);

    /// <summary>Seeds for one pool; names and address slots are made distinct when the model is built.</summary>
    public sealed record PoolSeed(int Name, bool Bgp, int[] Slots, int AutoAssign, int AvoidBuggyIps, int Ads, int AdSeed);
    public sealed record PeerSeed(int Address, int Options, int Values);
    public sealed record OpSeed(int Kind, int A, int B, int C);
    public sealed record Scenario(Layout Layout, PoolSeed[] Pools, PeerSeed[] Peers, int[] Communities, OpSeed[] Ops);

    static readonly Gen<Layout> GenLayout =
        from outer in Gen.OneOfConst(2, 4)
        from outerSeq in Gen.Bool
        from wide in Gen.Bool
        from valuesOffset in Gen.OneOfConst(2, 4)
        from valuesIndent in Gen.OneOfConst(2, 4)
        from valuesSeq in Gen.Bool
        from crlf in Gen.Bool
        from decorate in Gen.Bool
        from provisioner in Gen.Bool
        from trailing in Gen.Bool
        from last in Gen.Bool
        from strip in Gen.Bool
        from finalNewline in Gen.Bool
        from blankAfter in Gen.Bool
        from style in Gen.Int[0, 1 << 20]
        select new Layout(outer, outerSeq, wide, valuesOffset, valuesIndent, valuesSeq, crlf, decorate, provisioner, trailing,
            last, strip, finalNewline, blankAfter, style);

    static readonly Gen<PoolSeed> GenPool =
        from name in Gen.Int[0, 63]
        from bgp in Gen.Bool
        from slots in Gen.Int[0, 255].Array[1, 3]
        from auto in Gen.Int[0, 2]
        from avoid in Gen.Int[0, 2]
        from ads in Gen.Int[0, 2]
        from adSeed in Gen.Int[0, 1023]
        select new PoolSeed(name, bgp, slots, auto, avoid, ads, adSeed);

    static readonly Gen<PeerSeed> GenPeer =
        from address in Gen.Int[0, 63]
        from options in Gen.Int[0, 1023]
        from values in Gen.Int[0, 1023]
        select new PeerSeed(address, options, values);

    static readonly Gen<OpSeed> GenOp =
        from kind in Gen.Int[0, 12]
        from a in Gen.Int[0, 1023]
        from b in Gen.Int[0, 1023]
        from c in Gen.Int[0, 1023]
        select new OpSeed(kind, a, b, c);

    static readonly Gen<Scenario> GenScenario =
        from layout in GenLayout
        from pools in GenPool.Array[0, 4]
        from peers in GenPeer.Array[0, 3]
        from communities in Gen.Int[0, 63].Array[0, 3]
        from ops in GenOp.Array[1, 6]
        select new Scenario(layout, pools, peers, communities, ops);

    [Fact]
    public void EditsReadBackAsIntendedAndLeaveTheRestAlone() =>
        GenScenario.Sample(Run, iter: 1000, print: Describe);

    // ---- addresses: 64 disjoint slots in the documentation prefixes ----------------------------------

    static readonly string[] V4Nets = { "192.0.2", "198.51.100", "203.0.113" };
    const int SlotCount = 64;

    /// <summary>Slot 0-47: a /28 of one of the IPv4 documentation /24s; 48-63: a /48 of 2001:db8::/32. Forms: CIDR, range, one address.</summary>
    static string Address(int slot, int form)
    {
        int sub = slot % 16;
        if (slot < 48)
        {
            string net = V4Nets[slot / 16];
            int first = sub * 16;
            return (form % 3) switch
            {
                0 => $"{net}.{first}/28",
                1 => $"{net}.{first + 1}-{net}.{first + 14}",
                _ => $"{net}.{first + 5}/32",
            };
        }
        string v6 = $"2001:db8:{sub + 1:x}";
        return (form % 3) switch
        {
            0 => $"{v6}::/48",
            1 => $"{v6}::10-{v6}::ff",
            _ => $"{v6}::1/128",
        };
    }

    static readonly Dictionary<string, int> SlotOf =
        Enumerable.Range(0, SlotCount).SelectMany(s => Enumerable.Range(0, 3).Select(f => (Text: Address(s, f), Slot: s)))
            .ToDictionary(x => x.Text, x => x.Slot);

    static List<int> FreeSlots(MetalLbConfig c)
    {
        var used = (c.AddressPools ?? new()).SelectMany(p => p.Addresses ?? new()).Select(a => SlotOf[a]).ToHashSet();
        return Enumerable.Range(0, SlotCount).Where(s => !used.Contains(s)).ToList();
    }

    /// <summary>A free slot chosen by the seed (the next free one after seed % 64), or null.</summary>
    static string? TakeAddress(List<int> free, int seed)
    {
        if (free.Count == 0) return null;
        int start = seed % SlotCount;
        int slot = free.Where(s => s >= start).DefaultIfEmpty(free[0]).First();
        free.Remove(slot);
        return Address(slot, seed / SlotCount);
    }

    // ---- names and values -------------------------------------------------------------------------

    // Some need quotes in YAML ("100", "off"): still valid pool names.
    static readonly string[] PoolNames = { "default", "pool-a", "pool_b", "edge.v6", "l2", "bgp-1", "100", "off", "blue", "green" };
    static readonly string[] CommunityNames = { "no-export", "no-advertise", "local", "blackhole", "team-a" };
    static readonly string[] Passwords = { "s3cret", "p@ss word", "123456", "yes", "#hash", "a: b", "quote\"d", "it's", "tab\there" };
    static readonly string[] HoldTimes = { "90s", "3m", "30s", "1m30s" };

    static string PeerAddress(int n) => n % 2 == 0 ? $"192.168.{n / 2 % 8}.{1 + n / 16}" : $"fd00::{n:x}";

    static string FreeName(IEnumerable<string> used, string[] names, int seed)
    {
        var taken = used.ToHashSet();
        for (int i = 0; i < names.Length; i++)
        {
            string n = names[(seed + i) % names.Length];
            if (!taken.Contains(n)) return n;
        }
        return "";
    }

    static string CommunityValue(MetalLbConfig c, int seed)
    {
        var taken = (c.BgpCommunities ?? new()).Select(x => x.Value).ToHashSet();
        for (int i = 0; ; i++)
        {
            string v = $"65535:{100 + (seed + i) % 900}";
            if (!taken.Contains(v)) return v;
        }
    }

    static List<BgpAdvertisement> Advertisements(MetalLbConfig c, int count, int seed)
    {
        var aliases = (c.BgpCommunities ?? new()).Select(x => x.Name).ToList();
        var ads = new List<BgpAdvertisement>();
        for (int i = 0; i < count; i++, seed /= 7)
        {
            var ad = new BgpAdvertisement
            {
                AggregationLength = seed % 2 == 0 ? 32 : null,
                AggregationLengthV6 = seed % 3 == 0 ? 128 : null,
                LocalPref = seed % 5 < 2 ? (uint)(100 + seed % 50) : null,
            };
            var communities = new List<string>();
            if (seed % 4 == 1) communities.Add($"64512:{seed % 1000}");
            if (seed % 3 == 1 && aliases.Count > 0) communities.Add(aliases[seed % aliases.Count]);
            if (communities.Count > 0) ad.Communities = communities;
            ads.Add(ad);
        }
        return ads;
    }

    static BgpPeer NewPeer(string address, int options, int values) => new()
    {
        PeerAddress = address,
        MyAsn = (uint)(64500 + values % 10),
        PeerAsn = (options & 1) == 0 ? (uint)(64512 + values % 8) : 4200000000u + (uint)values,
        PeerPort = (options & 2) != 0 ? (ushort)1179 : null,
        HoldTime = (options & 4) != 0 ? HoldTimes[values % HoldTimes.Length] : null,
        KeepaliveTime = (options & 8) != 0 ? "10s" : null,
        RouterId = (options & 16) != 0 ? $"10.0.0.{values % 250 + 1}" : null,
        PasswordText = (options & 32) != 0 ? Passwords[values % Passwords.Length] : null,
        EbgpMultihop = (options & 64) != 0 ? values % 2 == 0 : null,
        SourceAddress = (options & 128) != 0 ? $"192.168.100.{values % 250 + 1}" : null,
        NodeSelectors = (options & 256) != 0 ? Selectors(values) : null,
    };

    static List<NodeSelector> Selectors(int seed) => new()
    {
        new NodeSelector
        {
            MatchLabels = new() { new("rack", seed % 2 == 0 ? "r1" : "on") },
            MatchExpressions = seed % 3 == 0 ? null : new() { new MatchExpression("zone", "In", new() { "a", $"z{seed % 10}" }) },
        },
    };

    // ---- the starting model --------------------------------------------------------------------------

    static MetalLbConfig StartModel(Scenario s)
    {
        var c = new MetalLbConfig { AddressPools = new() };
        foreach (var seed in s.Communities)
        {
            string name = FreeName((c.BgpCommunities ?? new()).Select(x => x.Name), CommunityNames, seed);
            if (name.Length == 0) continue;
            (c.BgpCommunities ??= new()).Add(new BgpCommunity(name, CommunityValue(c, seed * 7)));
        }
        foreach (var seed in s.Peers)
        {
            var used = (c.Peers ?? new()).Select(p => p.PeerAddress).ToHashSet();
            int n = seed.Address;
            while (used.Contains(PeerAddress(n))) n++;
            (c.Peers ??= new()).Add(NewPeer(PeerAddress(n), seed.Options, seed.Values));
        }
        foreach (var seed in s.Pools)
        {
            string name = FreeName(c.AddressPools.Select(p => p.Name), PoolNames, seed.Name);
            if (name.Length == 0) continue;
            var free = FreeSlots(c);
            var addresses = seed.Slots.Select(x => TakeAddress(free, x)).OfType<string>().ToList();
            if (addresses.Count == 0) continue;
            c.AddressPools.Add(new AddressPool
            {
                Name = name, Protocol = seed.Bgp ? "bgp" : "layer2", Addresses = addresses,
                AutoAssign = seed.AutoAssign switch { 1 => true, 2 => false, _ => null },
                AvoidBuggyIps = seed.AvoidBuggyIps switch { 1 => true, 2 => false, _ => null },
                BgpAdvertisements = seed.Bgp && seed.Ads > 0 ? Advertisements(c, seed.Ads, seed.AdSeed) : null,
            });
        }
        return c;
    }

    // ---- operations ----------------------------------------------------------------------------------

    /// <summary>
    /// A valid change for the model as it is now, chosen by the seed; every seed gives one. Lossless
    /// changes remove nothing from the text, so every comment must survive them.
    /// </summary>
    static (string What, Action<MetalLbConfig> Apply, bool Lossless) Interpret(OpSeed o, MetalLbConfig m)
    {
        var pools = m.AddressPools ?? new();
        var peers = m.Peers ?? new();
        var communities = m.BgpCommunities ?? new();
        var free = FreeSlots(m);
        AddressPool? pool = pools.Count == 0 ? null : pools[o.A % pools.Count];

        (string, Action<MetalLbConfig>, bool) SetPool(string name, PoolChange change, string what) =>
            ($"SetPool {name} {what}", c => ConfigChanges.SetPool(c, name, change),
             change.Addresses is null && change.RemoveAddresses is null && change.BgpAdvertisements is null);

        (string, Action<MetalLbConfig>, bool) CreatePool()
        {
            string name = FreeName(pools.Select(p => p.Name), PoolNames, o.A);
            var first = TakeAddress(free, o.B);
            if (name.Length == 0 || first is null) return SetCommunity();
            var addresses = new List<string> { first };
            if (o.C % 2 == 1 && TakeAddress(free, o.C) is { } second) addresses.Add(second);
            bool bgp = o.C % 3 == 0;
            var change = new PoolChange
            {
                Protocol = bgp || o.C % 4 == 1 ? (bgp ? "bgp" : "layer2") : null,
                AutoAssign = o.C % 5 == 1 ? false : null,
                AvoidBuggyIps = o.C % 7 == 1 ? true : null,
                BgpAdvertisements = bgp && o.C % 2 == 0 ? Advertisements(m, 1 + o.B % 2, o.C) : null,
            };
            if (o.B % 2 == 0) change.Addresses = addresses; else change.AddAddresses = addresses;
            var (what, apply, _) = SetPool(name, change, $"create {string.Join(",", addresses)} protocol={change.Protocol}");
            return (what, apply, true);
        }

        (string, Action<MetalLbConfig>, bool) SetCommunity()
        {
            if (communities.Count > 0 && o.B % 2 == 0)
            {
                string existing = communities[o.A % communities.Count].Name, value = CommunityValue(m, o.C);
                return ($"SetCommunity {existing}={value}", c => ConfigChanges.SetCommunity(c, existing, value), true);
            }
            string name = FreeName(communities.Select(x => x.Name), CommunityNames, o.A);
            if (name.Length == 0) name = communities[o.A % communities.Count].Name;
            string v = CommunityValue(m, o.C);
            return ($"SetCommunity {name}={v}", c => ConfigChanges.SetCommunity(c, name, v), true);
        }

        switch (o.Kind)
        {
            case 0:
                return CreatePool();
            case 1 when pool is not null && free.Count > 0:
            {
                var add = new List<string> { TakeAddress(free, o.B)! };
                if (o.C % 3 == 0 && TakeAddress(free, o.C) is { } more) add.Add(more);
                return SetPool(pool.Name, new PoolChange { AddAddresses = add }, $"add {string.Join(",", add)}");
            }
            case 2 when pool is not null:
            {
                var addresses = pool.Addresses!;
                string remove = addresses[o.B % addresses.Count];
                if (addresses.Count > 1)
                    return SetPool(pool.Name, new PoolChange { RemoveAddresses = new() { remove } }, $"remove {remove}");
                if (TakeAddress(free, o.C) is not { } instead) return SetCommunity();
                return SetPool(pool.Name, new PoolChange { AddAddresses = new() { instead }, RemoveAddresses = new() { remove } }, $"add {instead} remove {remove}");
            }
            case 3 when pool is not null:
            {
                // The pool's own slots are free again once its list is replaced.
                var mine = free.Concat(pool.Addresses!.Select(a => SlotOf[a])).Order().ToList();
                var addresses = new List<string> { TakeAddress(mine, o.B)! };
                if (o.C % 2 == 0 && TakeAddress(mine, o.C) is { } second) addresses.Add(second);
                return SetPool(pool.Name, new PoolChange { Addresses = addresses }, $"addresses={string.Join(",", addresses)}");
            }
            case 4 when pool is not null:
            {
                bool toBgp = pool.Protocol != "bgp";
                var change = new PoolChange { Protocol = toBgp ? "bgp" : "layer2" };
                if (!toBgp && pool.BgpAdvertisements is { Count: > 0 }) change.BgpAdvertisements = new();
                if (toBgp && o.B % 2 == 0) change.BgpAdvertisements = Advertisements(m, 1, o.C);
                return SetPool(pool.Name, change, $"protocol={change.Protocol} ads={change.BgpAdvertisements?.Count.ToString() ?? "-"}");
            }
            case 5 when pool is not null:
            {
                var change = new PoolChange { AutoAssign = o.B % 3 == 0 ? null : o.B % 3 == 1, AvoidBuggyIps = o.C % 3 == 0 ? null : o.C % 3 == 1 };
                if (change.AutoAssign is null && change.AvoidBuggyIps is null) change.AutoAssign = true;
                return SetPool(pool.Name, change, $"auto-assign={change.AutoAssign} avoid-buggy-ips={change.AvoidBuggyIps}");
            }
            case 6 when pool is not null:
                return ($"RemovePool {pool.Name}", c => ConfigChanges.RemovePool(c, pool.Name), false);
            case 7:
            {
                var used = peers.Select(p => p.PeerAddress).ToHashSet();
                int n = o.A % 64;
                while (used.Contains(PeerAddress(n))) n++;
                string address = PeerAddress(n);
                var peer = NewPeer(address, o.B, o.C);
                var change = new PeerChange
                {
                    MyAsn = peer.MyAsn, PeerAsn = peer.PeerAsn, PeerPort = peer.PeerPort, HoldTime = peer.HoldTime,
                    KeepaliveTime = peer.KeepaliveTime, RouterId = peer.RouterId, Password = peer.PasswordText,
                    EbgpMultihop = peer.EbgpMultihop, SourceAddress = peer.SourceAddress, NodeSelectors = peer.NodeSelectors,
                };
                return ($"SetPeer {address} create options={o.B} values={o.C}", c => ConfigChanges.SetPeer(c, address, change), true);
            }
            case 8 when peers.Count > 0:
            {
                var peer = peers[o.A % peers.Count];
                var change = (o.B % 8) switch
                {
                    0 => new PeerChange { MyAsn = (uint)(64500 + o.C % 10) },
                    1 => new PeerChange { PeerAsn = (uint)(64512 + o.C % 8), HoldTime = HoldTimes[o.C % HoldTimes.Length] },
                    2 => new PeerChange { Password = Passwords[o.C % Passwords.Length] },
                    3 => new PeerChange { ClearPassword = true },
                    4 => new PeerChange { RouterId = $"10.0.1.{o.C % 250 + 1}", KeepaliveTime = "10s" },
                    5 => new PeerChange { EbgpMultihop = o.C % 2 == 0 },
                    6 => new PeerChange { NodeSelectors = o.C % 2 == 0 ? new() : Selectors(o.C) },
                    _ => new PeerChange { SourceAddress = $"192.168.101.{o.C % 250 + 1}", HoldTime = "90s" },
                };
                string address = peer.PeerAddress!;
                return ($"SetPeer {address} change #{o.B % 8} value={o.C}", c => ConfigChanges.SetPeer(c, address, change),
                    change is { ClearPassword: false, NodeSelectors: null });
            }
            case 9 when peers.Count > 0:
            {
                string address = peers[o.A % peers.Count].PeerAddress!;
                return ($"RemovePeer {address}", c => ConfigChanges.RemovePeer(c, address, null), false);
            }
            case 10:
                return SetCommunity();
            case 11 when communities.Count > 0:
            {
                // Only an alias that no advertisement uses can go.
                var referenced = pools.SelectMany(p => p.BgpAdvertisements ?? new()).SelectMany(a => a.Communities ?? new()).ToHashSet();
                var unused = communities.Where(x => !referenced.Contains(x.Name)).ToList();
                if (unused.Count == 0) return SetCommunity();
                string name = unused[o.A % unused.Count].Name;
                return ($"RemoveCommunity {name}", c => ConfigChanges.RemoveCommunity(c, name), false);
            }
            case 12 when pool is not null && pool.Protocol == "bgp":
            {
                var ads = o.B % 4 == 0 ? new List<BgpAdvertisement>() : Advertisements(m, 1 + o.B % 2, o.C);
                return SetPool(pool.Name, new PoolChange { BgpAdvertisements = ads }, $"ads={ads.Count} seed={o.C}");
            }
            default:
                return CreatePool();
        }
    }

    // ---- rendering the starting file (independently of the engine's writer) --------------------------

    abstract record N;
    sealed record S(string Value, bool IsString) : N;
    sealed record M(List<(string Key, N Value)> Entries) : N;
    sealed record L(List<N> Items) : N;

    static N Str(string s) => new S(s, true);
    static N Lit(string s) => new S(s, false);

    static M Map(Random rng, bool shuffle, params (string, N?)[] entries)
    {
        var list = entries.Where(e => e.Item2 is not null).Select(e => (e.Item1, e.Item2!)).ToList();
        if (shuffle && rng.Next(3) == 0) list = list.OrderBy(_ => rng.Next()).ToList();
        return new M(list);
    }

    static N? Strings(List<string>? items) => items is null ? null : new L(items.Select(Str).ToList());

    static M ToNode(MetalLbConfig c, Random rng)
    {
        bool shuffle = rng.Next(2) == 0;
        N? peers = c.Peers is null ? null : new L(c.Peers.Select(p => (N)Map(rng, shuffle,
            ("my-asn", p.MyAsn is { } a ? Lit(a.ToString()) : null),
            ("peer-asn", p.PeerAsn is { } b ? Lit(b.ToString()) : null),
            ("peer-address", p.PeerAddress is { } pa ? Str(pa) : null),
            ("peer-port", p.PeerPort is { } port ? Lit(port.ToString()) : null),
            ("source-address", p.SourceAddress is { } sa ? Str(sa) : null),
            ("hold-time", p.HoldTime is { } h ? Str(h) : null),
            ("keepalive-time", p.KeepaliveTime is { } k ? Str(k) : null),
            ("router-id", p.RouterId is { } r ? Str(r) : null),
            ("password", p.PasswordText is { } pw ? Str(pw) : null),
            ("ebgp-multihop", p.EbgpMultihop is { } e ? Lit(e ? "true" : "false") : null),
            ("node-selectors", p.NodeSelectors is null ? null : new L(p.NodeSelectors.Select(s => (N)Map(rng, shuffle,
                ("match-labels", s.MatchLabels is null ? null : new M(s.MatchLabels.Select(l => (l.Key, Str(l.Value))).ToList())),
                ("match-expressions", s.MatchExpressions is null ? null : new L(s.MatchExpressions.Select(x => (N)Map(rng, shuffle,
                    ("key", Str(x.Key)), ("operator", Str(x.Operator)), ("values", Strings(x.Values)))).ToList())))).ToList())))).ToList());
        N? communities = c.BgpCommunities is null ? null : new M(c.BgpCommunities.Select(x => (x.Name, Str(x.Value))).ToList());
        N? pools = c.AddressPools is null ? null : new L(c.AddressPools.Select(p => (N)Map(rng, shuffle,
            ("name", Str(p.Name)),
            ("protocol", p.Protocol is null ? null : Str(p.Protocol)),
            ("addresses", Strings(p.Addresses)),
            ("auto-assign", p.AutoAssign is { } aa ? Lit(aa ? "true" : "false") : null),
            ("avoid-buggy-ips", p.AvoidBuggyIps is { } ab ? Lit(ab ? "true" : "false") : null),
            ("bgp-advertisements", p.BgpAdvertisements is null ? null : new L(p.BgpAdvertisements.Select(ad => (N)Map(rng, shuffle,
                ("aggregation-length", ad.AggregationLength is { } al ? Lit(al.ToString()) : null),
                ("aggregation-length-v6", ad.AggregationLengthV6 is { } al6 ? Lit(al6.ToString()) : null),
                ("localpref", ad.LocalPref is { } lp ? Lit(lp.ToString()) : null),
                ("communities", Strings(ad.Communities)))).ToList())))).ToList());
        return Map(rng, shuffle, ("peers", peers), ("bgp-communities", communities), ("address-pools", pools));
    }

    static readonly Regex SafePlain = new(@"^[A-Za-z0-9][A-Za-z0-9._/-]*$");
    static readonly Regex SafePlainWithColons = new(@"^[A-Za-z0-9][A-Za-z0-9._/:-]*[A-Za-z0-9/]$");
    static readonly Regex Sexagesimal = new(@"^[0-9]+(:[0-9]+)+$");
    static readonly HashSet<string> Special = new(StringComparer.OrdinalIgnoreCase) { "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~" };

    static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\t", "\\t") + "\"";

    /// <summary>Plain when YAML 1.1 reads it back as this same string; otherwise quoted (and sometimes quoted anyway).</summary>
    static string Scalar(S s, bool flow, Random rng)
    {
        if (!s.IsString) return s.Value;
        // Plain only when YAML 1.1 reads it back as this same string: no bool/null words, no numbers, no
        // "A:B" digit pairs (base 60), and no ':' at all inside flow lists.
        bool plainOk = (flow ? SafePlain : SafePlainWithColons).IsMatch(s.Value)
            && !Special.Contains(s.Value) && !s.Value.All(char.IsAsciiDigit) && !Sexagesimal.IsMatch(s.Value);
        if (plainOk && rng.Next(5) > 0) return s.Value;
        if (!s.Value.Contains('\'') && !s.Value.Contains('\t') && rng.Next(2) == 0) return "'" + s.Value + "'";
        return Quote(s.Value);
    }

    sealed class Emitter(Random rng, int indent, int seqIndent, bool decorate)
    {
        readonly StringBuilder _sb = new();
        int _notes;
        public override string ToString() => _sb.ToString();

        string Note() => $"# note {++_notes}";
        bool Maybe(int percent) => decorate && rng.Next(100) < percent;

        void Comment(int col)
        {
            if (Maybe(25)) _sb.Append(' ', col).Append(Note()).Append('\n');
            if (Maybe(5)) _sb.Append('\n');
        }

        void EndLine()
        {
            if (Maybe(20)) _sb.Append(" ").Append(Note());
            _sb.Append('\n');
        }

        /// <summary>A map's entries at column col; the first line's indentation is already written when inline.</summary>
        public void MapBody(M m, int col, bool inline)
        {
            for (int i = 0; i < m.Entries.Count; i++)
            {
                if (i > 0 || !inline)
                {
                    Comment(col);
                    _sb.Append(' ', col);
                }
                var (key, value) = m.Entries[i];
                _sb.Append(key).Append(':');
                Value(value, col);
            }
        }

        void Value(N value, int keyCol)
        {
            switch (value)
            {
                case S s:
                    _sb.Append(' ').Append(Scalar(s, false, rng));
                    EndLine();
                    break;
                case L { Items.Count: 0 }:
                    _sb.Append(" []");
                    EndLine();
                    break;
                case M { Entries.Count: 0 }:
                    _sb.Append(" {}");
                    EndLine();
                    break;
                case L l when l.Items.All(x => x is S) && rng.Next(2) == 0:
                    _sb.Append(" [").Append(string.Join(", ", l.Items.Select(x => Scalar((S)x, true, rng)))).Append(']');
                    EndLine();
                    break;
                case L l:
                    _sb.Append('\n');
                    Items(l, keyCol + seqIndent);
                    break;
                case M m:
                    _sb.Append('\n');
                    MapBody(m, keyCol + indent, inline: false);
                    break;
            }
        }

        void Items(L l, int col)
        {
            foreach (var item in l.Items)
            {
                Comment(col);
                _sb.Append(' ', col).Append("- ");
                if (item is S s) { _sb.Append(Scalar(s, false, rng)); EndLine(); }
                else if (item is M { Entries.Count: > 0 } m) MapBody(m, col + 2, inline: true);
                else { _sb.Append("{}"); EndLine(); }
            }
        }
    }

    sealed record Rendered(string Text, string Prefix, string Suffix);

    static Rendered Render(Layout l, MetalLbConfig config)
    {
        var rng = new Random(l.StyleSeed);
        int I = l.OuterIndent, S = l.OuterIndentedSeq ? I : 0, O = l.WideItems ? I : 2;
        string Pad(int n) => new(' ', n);
        string Dash(int col) => Pad(col) + "-" + Pad(O - 1);

        // The values: configInline and, sometimes, other Helm values around it.
        var inner = new Emitter(rng, l.ValuesIndent, l.ValuesIndentedSeq ? l.ValuesIndent : 0, l.Decorate);
        var values = new List<(string, N)>();
        if (rng.Next(3) == 0) values.Add(("controller", new M(new() { ("image", new M(new() { ("tag", Str("v0.9.3")) })) })));
        values.Add(("configInline", ToNode(config, rng)));
        if (rng.Next(3) == 0) values.Add(("speaker", new M(new() { ("logLevel", Str("info")) })));
        inner.MapBody(new M(values), 0, inline: false);
        string innerText = (l.Decorate ? "# Helm values for metallb\n" : "") + inner + (l.Decorate && rng.Next(2) == 0 ? "# end of values\n" : "");

        var before = new StringBuilder();
        if (l.ProvisionerBefore)
            before.Append($"kind: ClusterProvisioner\napiVersion: konvoy.mesosphere.io/v1beta2\nmetadata:\n{Pad(I)}name: prop\nspec:\n{Pad(I)}provider: none\n---\n");
        int d = I + S, e = d + O + S;
        before.Append($"kind: ClusterConfiguration\napiVersion: konvoy.mesosphere.io/v1beta2\nmetadata:\n{Pad(I)}name: prop\nspec:\n")
            .Append($"{Pad(I)}kubernetes:\n{Pad(2 * I)}version: 1.20.13\n{Pad(I)}version: v1.6.0\n{Pad(I)}addons:\n")
            .Append($"{Dash(d)}configRepository: https://github.com/mesosphere/kubernetes-base-addons\n")
            .Append($"{Pad(d + O)}configVersion: stable-1.20-4.3.0\n{Pad(d + O)}addonsList:\n")
            .Append($"{Dash(e)}name: dex\n{Pad(e + O)}enabled: true\n");

        var entry = new StringBuilder($"{Dash(e)}name: metallb\n{Pad(e + O)}enabled: true\n{Pad(e + O)}values: {(l.StripChomping ? "|-" : "|")}\n");
        foreach (var line in innerText.TrimEnd('\n').Split('\n'))
            entry.Append(line.Length == 0 ? "" : Pad(e + O + l.ValuesOffset) + line).Append('\n');

        var after = new StringBuilder();
        if (l.BlankAfter) after.Append('\n');
        if (!l.MetallbLast)
            after.Append($"{Dash(e)}name: nvidia\n{Pad(e + O)}enabled: false\n")
                .Append($"{Dash(d)}configRepository: https://github.com/mesosphere/kubeaddons-kommander\n{Pad(d + O)}addonsList:\n")
                .Append($"{Dash(d + O + S)}name: kommander\n{Pad(d + O + S + O)}enabled: true\n");
        if (l.TrailingDocument)
            after.Append($"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n{Pad(I)}name: extra\ndata:\n{Pad(I)}note: keep me\n");

        string prefix = before.ToString(), body = entry.ToString(), suffix = after.ToString();
        if (!l.FinalNewline)
        {
            if (suffix.Length > 0) suffix = suffix[..^1];
            else body = body[..^1];
        }
        string Eol(string s) => l.Crlf ? s.Replace("\n", "\r\n") : s;
        return new Rendered(Eol(prefix + body + suffix), Eol(prefix), Eol(suffix));
    }

    // ---- the property --------------------------------------------------------------------------------

    static string Flow(MetalLbConfig c) => ConfigWriter.ToTree(c).ToFlow();

    static KonvoyFile Read(string text) => KonvoyFile.FromBytes("cluster.yaml", Encoding.UTF8.GetBytes(text));

    static void Run(Scenario s)
    {
        var model = StartModel(s);
        var start = Render(s.Layout, model);
        var log = new StringBuilder();
        string text = start.Text;
        try
        {
            CheckStep(text, model, start, s.Layout.Crlf);
            foreach (var op in s.Ops)
            {
                var (what, apply, lossless) = Interpret(op, model);
                log.Append("\n  ").Append(what);
                var file = Read(text);
                var config = file.Addon!.Config.Clone();
                apply(config);
                apply(model);
                string next = file.Plan(config);
                CheckStep(next, model, start, s.Layout.Crlf);
                if (lossless)
                    Assert.True(Notes(next).IsSupersetOf(Notes(text)), $"comments lost: {string.Join(", ", Notes(text).Except(Notes(next)))}");
                text = next;
            }
        }
        catch (Exception e)
        {
            throw new Exception($"{e.Message}\nsteps:{log}\n--- start ---\n{Show(start.Text)}\n--- last text ---\n{Show(text)}", e);
        }
    }

    static void CheckStep(string text, MetalLbConfig model, Rendered start, bool crlf)
    {
        var file = Read(text);
        Assert.NotNull(file.Addon);
        Assert.True(file.Addon!.Enabled);
        Assert.Empty(file.Validate());
        Assert.Equal(Flow(model), Flow(file.Addon.Config));
        Assert.True(text.Length >= start.Prefix.Length + start.Suffix.Length && text.StartsWith(start.Prefix, StringComparison.Ordinal),
            "the bytes before the metallb entry changed");
        Assert.True(text.EndsWith(start.Suffix, StringComparison.Ordinal), "the bytes after the metallb entry changed");
        if (crlf) Assert.DoesNotMatch("(?<!\r)\n", text);
        else Assert.DoesNotContain("\r", text);
        // Planning what the file already says changes nothing.
        Assert.Equal(text, file.Plan(file.Addon.Config.Clone()));
    }

    static HashSet<string> Notes(string text) => Regex.Matches(text, "# note [0-9]+").Select(x => x.Value).ToHashSet();

    static string Show(string text) => text.Replace("\r", "␍");

    static string Describe(Scenario s)
    {
        var model = StartModel(s);
        var sb = new StringBuilder($"{s.Layout}\nstart model: {Flow(model)}\nops:");
        foreach (var op in s.Ops)
        {
            var (what, apply, _) = Interpret(op, model);
            sb.Append("\n  ").Append(what);
            try { apply(model); } catch (Exception e) { sb.Append($" (fails: {e.Message})"); }
        }
        return sb.Append("\n--- start ---\n").Append(Show(Render(s.Layout, StartModel(s)).Text)).ToString();
    }
}
