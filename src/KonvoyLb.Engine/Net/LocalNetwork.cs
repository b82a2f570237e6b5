using System.Net;
using System.Net.NetworkInformation;

namespace KonvoyLb.Engine.Net;

/// <summary>A subnet the nodes live in, with its gateway when known, and where that knowledge came from.</summary>
public sealed record NodeSubnet(IpRange Subnet, IPAddress? Gateway, string Source);

/// <summary>What this computer's interfaces say about the nodes' network.</summary>
public static class LocalNetwork
{
    /// <summary>
    /// The subnets of local interfaces that hold one of the given node addresses: when this computer is
    /// a node, its interface tells the nodes' subnet and gateway.
    /// </summary>
    public static List<NodeSubnet> SubnetsHolding(IEnumerable<IPAddress> nodeAddresses)
    {
        var wanted = nodeAddresses.ToHashSet();
        var result = new List<NodeSubnet>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            var props = nic.GetIPProperties();
            foreach (var unicast in props.UnicastAddresses)
            {
                if (!wanted.Contains(unicast.Address)) continue;
                var subnet = IpRange.FromCidr(unicast.Address, unicast.PrefixLength);
                var gateway = props.GatewayAddresses.Select(g => g.Address)
                    .FirstOrDefault(g => g.AddressFamily == unicast.Address.AddressFamily && subnet.Contains(g));
                result.Add(new NodeSubnet(subnet, gateway, $"interface {nic.Name} ({unicast.Address}/{unicast.PrefixLength})"));
            }
        }
        return result;
    }
}
