using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using KonvoyLb.Engine.Net;

namespace KonvoyLb.Engine.Runtime.Speaker;

/// <summary>
/// Where a layer2 address is answered (pure). MetalLB answers on every usable interface, which is how ARP replies
/// leave from the wrong NIC, a bridge port or a bond slave (its issues #165, #316, #465, #597, #894). Here an address
/// is answered only on the usable interfaces whose own subnet contains it, or on the operator's <c>-Interface</c> list.
/// Usable: up, not loopback, not enslaved to a bridge or bond, not NOARP, not matching an excluded name (MetalLB's
/// default list of container and tunnel interfaces, plus <c>-ExcludeInterface</c>); for IPv4 also BROADCAST, for IPv6
/// a link-local address (the source of its advertisements).
/// </summary>
public sealed class InterfaceChoice
{
    /// <summary>The interfaces newer MetalLB leaves out by default: container, CNI and tunnel devices, and lo.</summary>
    public static readonly IReadOnlyList<string> DefaultExcluded =
        ["^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo$", "^cali.*", "^tunl.*", "^flannel.*",
         "^kube-ipvs.*", "^cni.*", "^nodelocaldns.*", "^lxc.*"];

    readonly IReadOnlySet<string>? _only;
    readonly List<Regex> _excluded;

    /// <param name="only">The -Interface list (names); null chooses by subnet.</param>
    /// <param name="excluded">Extra name patterns (-ExcludeInterface), added to <see cref="DefaultExcluded"/>.</param>
    public InterfaceChoice(IEnumerable<string>? only = null, IEnumerable<string>? excluded = null)
    {
        _only = only?.ToHashSet(StringComparer.Ordinal) is { Count: > 0 } set ? set : null;
        _excluded = DefaultExcluded.Concat(excluded ?? []).Select(p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))).ToList();
    }

    /// <summary>An -ExcludeInterface pattern that is not a regular expression is an InvalidArgument error naming it.</summary>
    public static void CheckPattern(string pattern)
    {
        try { _ = new Regex(pattern, RegexOptions.CultureInvariant); }
        catch (ArgumentException e)
        {
            throw new LbException(ErrorId.InvalidArgument, $"-ExcludeInterface '{pattern}' is not a regular expression: {e.Message}", pattern,
                fix: "Give .NET regular expressions such as '^eth1$' or '^bond0\\..*'.");
        }
    }

    /// <summary>Why an interface never answers for this family, or null when it may.</summary>
    public string? WhyNot(NetInterface link, AddressFamily family)
    {
        if (_only is not null && !_only.Contains(link.Name)) return "not in the -Interface list";
        if (link.Loopback) return "loopback";
        if (link.Enslaved) return "a member of a bridge or bond (the master answers)";
        if (link.NoArp) return "NOARP";
        if (!link.Up) return "down";
        if (link.Mac.GetAddressBytes().Length != 6) return "no Ethernet address";
        // An operator who names an interface means it, even when it matches a default pattern.
        if (_only is null && _excluded.FirstOrDefault(r => r.IsMatch(link.Name)) is { } pattern) return $"excluded by the pattern {pattern}";
        if (family == AddressFamily.InterNetwork && !link.Broadcast) return "no broadcast (ARP needs it)";
        if (family == AddressFamily.InterNetworkV6 && !link.Addresses.Any(a => a.Address.IsIPv6LinkLocal)) return "no IPv6 link-local address (NDP needs one)";
        return null;
    }

    /// <summary>The interfaces that answer for <paramref name="ip"/>, in index order (empty when none may).</summary>
    public List<NetInterface> For(IPAddress ip, IEnumerable<NetInterface> links) =>
        links.Where(l => WhyNot(l, ip.AddressFamily) is null && (_only is not null || OnSubnet(l, ip))).OrderBy(l => l.Index).ToList();

    /// <summary>Whether one of the interface's own subnets contains the address (a host route, /32 or /128, does not count).</summary>
    public static bool OnSubnet(NetInterface link, IPAddress ip) =>
        link.Addresses.Any(a => a.Address.AddressFamily == ip.AddressFamily && a.PrefixLength < (ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
            && !a.Address.IsIPv6LinkLocal && IpRange.FromCidr(a.Address, a.PrefixLength).Contains(ip));
}
