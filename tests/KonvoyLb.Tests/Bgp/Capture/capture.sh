#!/usr/bin/env bash
# Captures real BGP traffic between BIRD, FRR and GoBGP in throw-away network namespaces, for the
# byte vectors in tests/KonvoyLb.Tests/Bgp/CapturedVectorTests.cs. Not run by the tests or by CI.
#
#   sudo bash capture.sh OUTDIR      (needs: apt-get install -y bird2 frr gobgpd tcpdump)
#
# Layout: namespace kbc-lan holds bridge br0; kbc-bird (192.0.2.11, .21, .22, .23; 2001:db8::11),
# kbc-gobgp (192.0.2.12; 2001:db8::12) and kbc-frr (192.0.2.13; 2001:db8::13) each have a veth into it.
# Sessions:  BIRD AS 4200000001 <-> GoBGP AS 64500        (4-octet ASNs on both sides)
#            BIRD AS 64510 'enable as4 off' <-> FRR 64501  (2-octet AS_PATH + AS4_PATH on the wire)
#            FRR 64501 <-> GoBGP 64500
#            BIRD .21 expects FRR as AS 64999 -> BIRD sends 2/2; FRR expects .22 as 64998 -> FRR sends 2/2;
#            GoBGP expects .23 as 64997 but it is 4200000009 -> GoBGP sends 2/2.
# Then: routes added and withdrawn, GoBGP frozen (SIGSTOP) past the hold time -> 4/0 from its peers,
# Cease with shutdown communications from each daemon. tcpdump writes OUTDIR/bgp.pcap; extract.py
# turns it into one line per BGP message. Every daemon is killed by PID and every namespace deleted
# on exit, whatever happens.
set -euo pipefail
OUT=$(readlink -f "${1:?usage: capture.sh OUTDIR}")
mkdir -p "$OUT"; chmod 777 "$OUT"
NS=(kbc-lan kbc-bird kbc-gobgp kbc-frr)
PIDS=()

cleanup() {
  set +e
  for f in "$OUT"/frr/bgpd.pid "$OUT"/frr/zebra.pid "$OUT"/bird.pid "$OUT"/gobgpd.pid "$OUT"/tcpdump.pid; do
    [ -f "$f" ] && PIDS+=("$(cat "$f")")
  done
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done
  echo "cleaned up: killed ${PIDS[*]:-nothing}; namespaces left: $(ip netns list | grep -c kbc- || true)"
}
trap cleanup EXIT

for n in "${NS[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n kbc-lan link add br0 type bridge
ip -n kbc-lan link set br0 up
i=0
for h in bird gobgp frr; do
  i=$((i+1))
  ip -n kbc-lan link add "v-$h" type veth peer name eth0 netns "kbc-$h"
  ip -n kbc-lan link set "v-$h" master br0 up
  ip -n "kbc-$h" link set eth0 address "02:00:00:00:00:1$i" up
done
ip -n kbc-bird addr add 192.0.2.11/24 dev eth0
for a in 21 22 23; do ip -n kbc-bird addr add 192.0.2.$a/24 dev eth0; done
ip -n kbc-gobgp addr add 192.0.2.12/24 dev eth0
ip -n kbc-frr addr add 192.0.2.13/24 dev eth0
for h in bird:11 gobgp:12 frr:13; do ip -n "kbc-${h%%:*}" addr add "2001:db8::${h##*:}/64" dev eth0 nodad; done

ip netns exec kbc-lan tcpdump -i br0 -s 0 -U -w "$OUT/bgp.pcap" 'tcp port 179' >"$OUT/tcpdump.log" 2>&1 &
echo $! >"$OUT/tcpdump.pid"
sleep 1

# --- GoBGP ------------------------------------------------------------------------------------------
cat >"$OUT/gobgp.toml" <<'CONF'
[global.config]
  as = 64500
  router-id = "192.0.2.12"
  port = 179
  local-address-list = ["192.0.2.12"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.11"
    peer-as = 4200000001
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.13"
    peer-as = 64501
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.23"
    peer-as = 64997
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
CONF
ip netns exec kbc-gobgp gobgpd -f "$OUT/gobgp.toml" -p --api-hosts=127.0.0.1:50051 --pprof-disable \
  >"$OUT/gobgpd.log" 2>&1 &
echo $! >"$OUT/gobgpd.pid"
GOBGP() { ip netns exec kbc-gobgp gobgp -u 127.0.0.1 -p 50051 "$@"; }

# --- FRR --------------------------------------------------------------------------------------------
mkdir -p "$OUT/frr"; chmod 777 "$OUT/frr"
cat >"$OUT/frr/zebra.conf" <<'CONF'
hostname frr-zebra
CONF
cat >"$OUT/frr/frr.conf" <<'CONF'
frr defaults traditional
hostname frr
route-map OUT permit 10
 set community 64501:300
 set large-community 64501:3:4
 set as-path prepend 4200000005
!
router bgp 64501
 bgp router-id 192.0.2.13
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 timers bgp 3 9
 neighbor 192.0.2.11 remote-as 64510
 neighbor 192.0.2.11 passive
 neighbor 192.0.2.12 remote-as 64500
 neighbor 192.0.2.12 timers connect 2
 neighbor 192.0.2.21 remote-as 64520
 neighbor 192.0.2.21 passive
 neighbor 192.0.2.22 remote-as 64998
 neighbor 192.0.2.22 passive
 address-family ipv4 unicast
  network 203.0.113.64/26
  neighbor 192.0.2.11 activate
  neighbor 192.0.2.11 route-map OUT out
  neighbor 192.0.2.12 activate
  neighbor 192.0.2.12 route-map OUT out
  neighbor 192.0.2.21 activate
  neighbor 192.0.2.22 activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:400::/48
  neighbor 192.0.2.11 activate
  neighbor 192.0.2.11 route-map OUT out
  neighbor 192.0.2.12 activate
  neighbor 192.0.2.12 route-map OUT out
 exit-address-family
!
CONF
chmod 666 "$OUT"/frr/*.conf
FD="$OUT/frr"
ip netns exec kbc-frr /usr/lib/frr/zebra -d -u frr -g frr --vty_socket "$FD" -z "$FD/zserv.api" \
  -i "$FD/zebra.pid" -f "$FD/zebra.conf" --log file:"$FD/zebra.log"
sleep 1
ip netns exec kbc-frr /usr/lib/frr/bgpd -d -S -u frr -g frr --vty_socket "$FD" -z "$FD/zserv.api" \
  -i "$FD/bgpd.pid" -f "$FD/frr.conf" --log file:"$FD/bgpd.log"
VTY() { ip netns exec kbc-frr vtysh --vty_socket "$FD" "$@"; }

# --- BIRD -------------------------------------------------------------------------------------------
cat >"$OUT/bird.conf" <<CONF
log "$OUT/bird.log" all;
router id 192.0.2.11;
protocol device {}
protocol static s4 { ipv4; route 198.51.100.0/24 unreachable; route 203.0.113.128/25 unreachable; }
protocol static s4b { ipv4; route 198.51.100.7/32 unreachable; }
protocol static s6 { ipv6; route 2001:db8:100::/48 unreachable; }
protocol static s6b { ipv6; route 2001:db8:200:1::/64 unreachable; }
filter to_gobgp { bgp_community.add((64500,100)); bgp_large_community.add((4200000001,1,2)); accept; }
filter to_frr { bgp_path.prepend(4200000001); bgp_community.add((64510,7)); accept; }
protocol bgp gobgp {
  local 192.0.2.11 as 4200000001; neighbor 192.0.2.12 as 64500;
  hold time 9; keepalive time 3; connect retry time 2; error wait time 1, 2;
  ipv4 { import all; export filter to_gobgp; };
  ipv6 { import all; export filter to_gobgp; };
}
protocol bgp frr {
  local 192.0.2.11 as 64510; neighbor 192.0.2.13 as 64501; enable as4 off;
  hold time 9; keepalive time 3; connect retry time 2; error wait time 1, 2;
  ipv4 { import all; export filter to_frr; };
  ipv6 { import all; export filter to_frr; };
}
protocol bgp badas_bird {
  local 192.0.2.21 as 64520; neighbor 192.0.2.13 as 64999;
  connect retry time 2; error wait time 1, 2;
  ipv4 { import none; export none; };
}
protocol bgp badas_frr {
  local 192.0.2.22 as 64522; neighbor 192.0.2.13 as 64501;
  connect retry time 2; error wait time 1, 2;
  ipv4 { import none; export none; };
}
protocol bgp badas_gobgp {
  local 192.0.2.23 as 4200000009; neighbor 192.0.2.12 as 64500;
  connect retry time 2; error wait time 1, 2;
  ipv4 { import none; export none; };
}
CONF
ip netns exec kbc-bird bird -c "$OUT/bird.conf" -s "$OUT/bird.ctl" -P "$OUT/bird.pid"
BIRDC() { ip netns exec kbc-bird birdc -s "$OUT/bird.ctl" "$@"; }

mark() { echo "$(date +%s.%N) $*" | tee -a "$OUT/timeline.txt"; }
mark start
sleep 8
BIRDC show protocols >"$OUT/bird-protocols-1.txt" || true
GOBGP neighbor >"$OUT/gobgp-neighbors-1.txt" || true
VTY -c 'show bgp summary' >"$OUT/frr-summary-1.txt" || true

mark "gobgp adds 203.0.113.0/26 and 2001:db8:300::/48"
GOBGP global rib -a ipv4 add 203.0.113.0/26 nexthop 192.0.2.12 community 64500:200 large-community 64500:1:1 med 10
GOBGP global rib -a ipv6 add 2001:db8:300::/48 nexthop 2001:db8::12 community 64500:201
sleep 3
mark "bird withdraws 198.51.100.7/32 and 2001:db8:200:1::/64"
BIRDC disable s4b
BIRDC disable s6b
sleep 3
mark "gobgp withdraws 203.0.113.0/26 and 2001:db8:300::/48"
GOBGP global rib -a ipv4 del 203.0.113.0/26
GOBGP global rib -a ipv6 del 2001:db8:300::/48
sleep 3
mark "gobgp frozen past hold time"
kill -STOP "$(cat "$OUT/gobgpd.pid")"
sleep 12
kill -CONT "$(cat "$OUT/gobgpd.pid")"
mark "gobgp resumed"
wait_up() {  # until BIRD's gobgp and frr sessions and FRR's session to GoBGP are Established
  for _ in $(seq 60); do
    if BIRDC show protocols 2>/dev/null | grep -Eq '^gobgp .*Established' &&
       BIRDC show protocols 2>/dev/null | grep -Eq '^frr .*Established' &&
       VTY -c 'show bgp neighbors 192.0.2.12' 2>/dev/null | grep -q 'BGP state = Established'; then
      sleep 1; return 0
    fi
    sleep 0.5
  done
  echo "sessions did not come back up" >&2
}
wait_up
BIRDC show protocols >"$OUT/bird-protocols-2.txt" || true
mark "route refresh: FRR asks GoBGP, BIRD asks GoBGP, GoBGP asks BIRD, FRR asks BIRD (enhanced)"
VTY -c 'clear bgp 192.0.2.12 soft in'
sleep 1
BIRDC reload in gobgp
sleep 1
GOBGP neighbor 192.0.2.11 softresetin || true
sleep 1
VTY -c 'clear bgp 192.0.2.11 soft in'
sleep 2
mark "frr shuts gobgp session down with a message"
VTY -c 'configure terminal' -c 'router bgp 64501' -c 'neighbor 192.0.2.12 shutdown message frr maintenance'
sleep 2
mark "gobgp disables bird session with a communication"
GOBGP neighbor --reason "gobgp maintenance" 192.0.2.11 disable || true
sleep 2
mark "frr resets bird session"
VTY -c 'clear bgp 192.0.2.11'
sleep 3
VTY -c 'configure terminal' -c 'router bgp 64501' -c 'no neighbor 192.0.2.12 shutdown'
GOBGP neighbor 192.0.2.11 enable || true
wait_up
mark "gobgp resets frr session"
GOBGP neighbor 192.0.2.13 reset || true
sleep 2
wait_up
mark "bird shuts frr session down with a message"
BIRDC disable frr '"bird going away"'
sleep 2
mark end
VTY -c 'show bgp summary' >"$OUT/frr-summary-2.txt" || true
BIRDC show protocols >"$OUT/bird-protocols-3.txt" || true
