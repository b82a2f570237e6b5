#!/usr/bin/env bash
# Recreates the captures pasted into CapturedFrames.cs. Needs root, iproute2, tcpdump, arping (iputils),
# iputils-ping and ndisc6. Two network namespaces joined by a veth pair, documentation addresses only:
#   klpk-a: va  02:00:00:00:00:01  192.0.2.1/24  2001:db8::1/64
#   klpk-b: vb  02:00:00:00:00:02  192.0.2.2/24  2001:db8::2/64
# Every capture is taken on va (inside klpk-a) and printed as one hex line per frame.
# Not run by the tests or CI: the hex it prints is what the tests hold. ICMP ids, timestamps and the DAD
# nonce change from run to run; the layout does not. The namespaces are deleted on exit.
set -euo pipefail
A=klpk-a B=klpk-b
out=$(mktemp -d)
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

ip netns add "$A"; ip netns add "$B"
ip -n "$A" link add va type veth peer name vb netns "$B"
ip -n "$A" link set va address 02:00:00:00:00:01 addrgenmode none   # no link-local: no DAD, no RS noise
ip -n "$B" link set vb address 02:00:00:00:00:02 addrgenmode none
ip -n "$A" addr add 192.0.2.1/24 dev va; ip -n "$A" addr add 2001:db8::1/64 dev va nodad
ip -n "$B" addr add 192.0.2.2/24 dev vb; ip -n "$B" addr add 2001:db8::2/64 dev vb nodad
ip -n "$A" link set va up; ip -n "$B" link set vb up
ip -n "$A" link set lo up; ip -n "$B" link set lo up
sleep 1

# capture NAME COUNT FILTER -- COMMAND...: COUNT frames matching FILTER on va while COMMAND runs in klpk-a.
capture() {
  local name=$1 count=$2 filter=$3; shift 4
  ip netns exec "$A" timeout 10 tcpdump -i va -U -s 0 -c "$count" -w "$out/$name.pcap" "$filter" 2>"$out/$name.err" &
  local pid=$!
  for _ in $(seq 50); do grep -q listening "$out/$name.err" 2>/dev/null && break; sleep 0.1; done
  # arping -U exits 1 (no reply is expected to an announcement): its output goes to stderr, harmless.
  ip netns exec "$A" "$@" >"$out/$name.out" 2>&1 || cat "$out/$name.out" >&2
  wait "$pid" || true
  echo "== $name: $*"
  tcpdump -r "$out/$name.pcap" -nn -e 2>/dev/null | sed 's/^/# /'
  # one hex line per frame
  tcpdump -r "$out/$name.pcap" -xx 2>/dev/null | awk '
    /^[^\t ]/ { if (hex != "") print hex; hex = ""; next }
    { for (i = 2; i <= NF; i++) hex = hex $i }
    END { if (hex != "") print hex }'
}

# arping here is Debian's "arping" package (Thomas Habets' ARPing 2.23), not iputils-arping.
capture arp-request-reply 2 arp -- arping -c 1 -w 2 -i va 192.0.2.2
capture arp-probe 2 arp -- arping -0 -c 1 -w 2 -i va 192.0.2.2          # sender IP 0.0.0.0
capture arp-unsolicited-request 1 arp -- arping -U -c 1 -w 1 -i va 192.0.2.1
capture arp-unsolicited-reply 1 arp -- arping -U -P -c 1 -w 1 -i va 192.0.2.1
capture ping4 2 icmp -- ping -c 1 -s 24 -p 4b4f4e564f59 192.0.2.2
capture ping6 2 'icmp6 and (ip6[40] == 128 or ip6[40] == 129)' -- ping -6 -c 1 -s 24 -p 4b4f4e564f59 2001:db8::2
ip -n "$A" neigh flush dev va; ip -n "$B" neigh flush dev vb
capture ndisc6 2 'icmp6 and (ip6[40] == 135 or ip6[40] == 136)' -- ndisc6 -1 -r 1 2001:db8::2 va
# Debian's ndisc6 has no ndsend. Instead the kernel's own: an address added WITH duplicate address
# detection sends a DAD probe (NS from ::, no option), and with ndisc_notify an unsolicited NA once DAD is done.
ip netns exec "$A" sysctl -qw net.ipv6.conf.va.ndisc_notify=1
capture dad-and-unsolicited-na 2 'icmp6 and (ip6[40] == 135 or ip6[40] == 136)' -- ip addr add 2001:db8::3/64 dev va
