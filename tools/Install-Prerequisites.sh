#!/usr/bin/env bash
# Installs the Debian packages the integration tests need: the network-namespace lab (iproute2,
# ping, arping, ndisc6, tcpdump), the BGP peers (BIRD 2, FRR, GoBGP) and the container tools of the
# image and its end-to-end tests (podman, runc, debootstrap), OpenSSH (servers inside lab hosts for
# Test-LbVipReachability -FromInventory), and sets podman up for this machine.
#
# Idempotent: a package that dpkg already reports as installed is skipped, and `apt-get update`
# runs only when something is missing. Installing never starts or enables a system service: a
# temporary policy-rc.d refuses every start, the units the new packages enabled are disabled
# again, and any routing daemon or sshd that appeared during the install is stopped by its PID.
#
# Usage: tools/Install-Prerequisites.sh          (as root; prints one line per package)
# Exit:  0 all present or installed, 1 something missing and not root, 2 the install failed.
set -euo pipefail

PACKAGES=(iproute2 iputils-ping arping ndisc6 tcpdump bird2 frr gobgpd podman runc debootstrap openssh-server openssh-client)
# Services the packages above ship; disabled again if this run installed their package.
declare -A SERVICES=([bird2]='bird' [frr]='frr' [gobgpd]='gobgpd' [podman]='podman.socket' [openssh-server]='ssh')
# Daemons that must not be left running by the install.
DAEMONS='bird|bird6|bgpd|zebra|watchfrr|mgmtd|staticd|gobgpd|sshd'

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

daemon_pids() {
    # PIDs (one a line) of the routing daemons, matched on the exact process name.
    ps -e -o pid=,comm= | awk -v re="^(${DAEMONS})\$" '$2 ~ re { print $1 }' | sort -n
}

# podman on these machines: runc, because crun fails on a hybrid
# cgroup hierarchy; ulimits no higher than the hard limits, because root may lack CAP_SYS_RESOURCE and podman's
# default open-files limit is then refused. A drop-in, so Debian's own containers.conf (no NET_RAW by default) holds.
configure_podman() {
    local dir=/etc/containers/containers.conf.d file conf nofile nproc
    file=$dir/50-konvoylb.conf
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    [[ $nofile == unlimited ]] && nofile=1048576
    if [[ $nproc == unlimited ]] || ((nproc > 32768)); then nproc=32768; fi
    conf=$(printf '# Written by KonvoyLb tools/Install-Prerequisites.sh.\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
        "$nofile" "$nofile" "$nproc" "$nproc")
    if [[ -f $file && "$(cat "$file")" == "$conf" ]]; then echo "podman settings: present"; return; fi
    if ((EUID != 0)); then echo "Install-Prerequisites: $file needs writing, as root" >&2; return 1; fi
    mkdir -p "$dir"
    printf '%s\n' "$conf" >"$file.tmp" && mv -f "$file.tmp" "$file"
    echo "podman settings: written ($file)"
}

missing=()
for p in "${PACKAGES[@]}"; do
    if is_installed "$p"; then echo "$p: present"; else missing+=("$p"); fi
done
if ((${#missing[@]} == 0)); then configure_podman; exit; fi

if ((EUID != 0)); then
    echo "Install-Prerequisites: missing packages: ${missing[*]}" >&2
    echo "Install-Prerequisites: installing them needs root; run: sudo $0" >&2
    exit 1
fi

# Refuse every service start for the length of the install, keeping any policy-rc.d already there.
policy=/usr/sbin/policy-rc.d
backup=''
if [[ -e $policy ]]; then
    backup=$(mktemp /usr/sbin/policy-rc.d.konvoylb.XXXXXX)
    cp -p "$policy" "$backup"
fi
before_pids=$(daemon_pids)
restore() {
    if [[ -n $backup ]]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\n# Written by KonvoyLb tools/Install-Prerequisites.sh for the length of an install.\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
status=0
{
    # Wait for another apt/dpkg (an unattended upgrade, a parallel job) rather than fail at once.
    apt-get update -q -o DPkg::Lock::Timeout=300 &&
        apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
            -o Dpkg::Options::=--force-confdef \
            -o Dpkg::Options::=--force-confold "${missing[@]}"
} >&2 || status=$?

# Disable the units the packages enabled at install (only for packages this run installed, so a
# machine where someone enabled them on purpose keeps its choice).
for p in "${missing[@]}"; do
    svc=${SERVICES[$p]:-}
    [[ -n $svc ]] && is_installed "$p" || continue
    if command -v systemctl >/dev/null; then systemctl disable --quiet "$svc" >/dev/null 2>&1 || true; fi
    if [[ -x /etc/init.d/$svc ]] && command -v update-rc.d >/dev/null; then
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
done

# Stop, by PID, any routing daemon that was not running before the install.
new_pids=$(comm -13 <(echo "$before_pids") <(daemon_pids) | sed '/^$/d')
if [[ -n $new_pids ]]; then
    echo "Install-Prerequisites: stopping daemons started by the install: $(echo $new_pids)" >&2
    kill -TERM $new_pids 2>/dev/null || true
    for _ in $(seq 50); do
        alive=$(for pid in $new_pids; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done || true)
        [[ -z $alive ]] && break
        sleep 0.1
    done
    [[ -n ${alive:-} ]] && kill -KILL $alive 2>/dev/null || true
fi

failed=0
for p in "${missing[@]}"; do
    if is_installed "$p"; then echo "$p: installed"; else echo "$p: FAILED"; failed=1; fi
done
if ((status != 0 || failed != 0)); then
    echo "Install-Prerequisites: apt-get failed (exit $status); see the messages above" >&2
    exit 2
fi
configure_podman || exit 2
