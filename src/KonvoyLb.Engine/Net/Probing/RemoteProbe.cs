using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace KonvoyLb.Engine.Net.Probing;

/// <summary>What a host lacked or refused while probing: tools not installed, arping (or ping) that needs root or CAP_NET_RAW.</summary>
public sealed record RemoteNotes(IReadOnlyList<string> MissingTools, bool ArpingNeedsRoot, bool IsRoot, bool PingNeedsRoot = false);

/// <summary>
/// Probing from another host with only that host's own tools, nothing copied there: one POSIX sh script per host
/// (<see cref="Script"/>) runs every address in the background, bounded, and prints one line per address; the
/// lines become evidence (<see cref="Parse"/>) judged by the same rule as the local probe (<see cref="VipJudgement"/>).
/// Per address: <c>ip -j route get</c> (route, interface, source); on-link, an ARP probe from 0.0.0.0 (arping,
/// Habets' or iputils') or an NDP solicitation (ndisc6); <c>ping</c>; where the link-layer tool is missing or needs
/// root, the neighbour table after an answered ping instead; with a port, a TCP connect (nc).
/// </summary>
public static class RemoteProbe
{
    const string Tab = "\t";

    /// <summary>The script for <paramref name="addresses"/> (at most <paramref name="parallel"/> probing at once).</summary>
    public static string Script(IEnumerable<IPAddress> addresses, TimeSpan timeout, int? tcpPort, int parallel = 64)
    {
        int seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        var list = string.Join(" ", addresses.Select(a => a.ToString()));
        var sb = new StringBuilder();
        sb.Append("T=").Append(seconds).Append('\n');
        sb.Append("PORT=").Append(tcpPort?.ToString(CultureInfo.InvariantCulture) ?? "").Append('\n');
        sb.Append("N=").Append(Math.Max(1, parallel)).Append('\n');
        sb.Append("ADDRS='").Append(list).Append("'\n");
        sb.Append("""
            PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"
            set -f
            NL='
            '; TAB=$(printf '\t')
            have() { command -v "$1" >/dev/null 2>&1; }
            missing=""
            for t in ip ping arping ndisc6 nc; do have "$t" || missing="$missing $t"; done
            printf 'KLB-HOST\t%s\t%s\n' "$(id -u)" "$missing"
            AV=habets
            if have arping && arping -V 2>&1 | grep -qi iputils; then AV=iputils; fi
            HAVE_ARPING=; have arping && HAVE_ARPING=1
            HAVE_NDISC=; have ndisc6 && HAVE_NDISC=1
            HAVE_PING=; have ping && HAVE_PING=1
            HAVE_NC=; have nc && HAVE_NC=1
            # Everything below forks only the probes themselves (ip, arping or ndisc6, ping): a host probes hundreds of
            # addresses at once, and every extra process per address is CPU it has to spend.
            probe() {
              a=$1; macs=""; rtt=""; tcp=""; note=""; dev=""; gw=""; typ=""; neigh=""
              r=$(ip -j route get "$a" 2>&1)
              case "$r" in \[*) ;; *) typ=error ;; esac
              case "$r" in *'"dev":"'*) v=${r#*'"dev":"'}; dev=${v%%'"'*} ;; esac
              case "$r" in *'"gateway":"'*) v=${r#*'"gateway":"'}; gw=${v%%'"'*} ;; esac
              case "$r" in *'"type":"'*) v=${r#*'"type":"'}; typ=${v%%'"'*} ;; esac
              if [ -n "$dev" ] && [ -z "$gw" ] && [ -z "$typ" ]; then
                case "$a" in
                  *:*) if [ -n "$HAVE_NDISC" ]; then o=$(ndisc6 -1 -r 1 -w $((T*1000)) "$a" "$dev" 2>&1)
                         case "$o" in *"ink-layer address:"*) m=${o#*ink-layer address: }; macs="${m%%[!0-9A-Fa-f:]*},";; esac
                       else note="no-ndisc6"; neigh=1; fi ;;
                  *) if [ -n "$HAVE_ARPING" ]; then
                       if [ "$AV" = iputils ]; then o=$(arping -D -c 1 -w "$T" -I "$dev" "$a" 2>&1); else o=$(arping -0 -c 1 -w "$T" -i "$dev" "$a" 2>&1); fi
                       case "$o" in
                         *ermission*|*"not permitted"*|*CAP_NET_RAW*|*"must be root"*|*"UID or EUID"*) note="arping-needs-root"; neigh=1 ;;
                         *) for w in $o; do w=${w#[}; w=${w%]}
                              case "$w" in [0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f]:[0-9A-Fa-f][0-9A-Fa-f])
                                case ",$macs" in *",$w,"*) ;; *) macs="$macs$w," ;; esac ;; esac
                            done ;;
                       esac
                     else note="no-arping"; neigh=1; fi ;;
                esac
              fi
              if [ -n "$HAVE_PING" ]; then
                rtt=none
                if o=$(ping -n -c 1 -W "$T" "$a" 2>&1); then case "$o" in *time=*) rtt=${o#*time=}; rtt=${rtt%%[!0-9.]*} ;; esac
                else case "$o" in *"socket:"*|*"ping: Operation not permitted"*|*"ping: Permission denied"*|*[Cc][Aa][Pp]_[Nn][Ee][Tt]_[Rr][Aa][Ww]*|*"are you root"*) rtt=""; note="$note ping-needs-root" ;; esac; fi
              fi
              # Without a link-layer probe, the neighbour entry tells who answered, but only when the ping was answered:
              # an entry the ping did not refresh may be hours old.
              case "$rtt" in [0-9]*) ;; *) neigh="" ;; esac
              if [ -n "$neigh" ] && [ -n "$dev" ] && [ -z "$gw" ] && [ -z "$typ" ]; then
                n=$(ip neigh show "$a" dev "$dev" 2>/dev/null)
                case "$n" in *FAILED*|*INCOMPLETE*) ;; *lladdr*) m=${n#*lladdr }; macs="${m%% *}," ;; esac
              fi
              if [ -n "$PORT" ] && [ -n "$HAVE_NC" ]; then
                if o=$(nc -z -w "$T" "$a" "$PORT" 2>&1); then tcp=open
                else case "$o" in *efused*) tcp=refused ;; *) tcp=timeout ;; esac; fi
              fi
              # One line per address, written at once (shorter than a pipe's atomic write), so the jobs' lines never mix.
              case "$r" in *"$NL"*|*"$TAB"*) r=$(printf '%s' "$r" | tr '\n\t' '  ') ;; esac
              printf 'KLB-ADDR\t%s\t%s\t%s\t%s\t%s\t%s\n' "$a" "$r" "$macs" "$rtt" "$tcp" "$note"
            }
            i=0
            for a in $ADDRS; do
              probe "$a" &
              i=$((i+1)); if [ "$i" -ge "$N" ]; then wait; i=0; fi
            done
            wait
            echo "KLB-END"

            """);
        return sb.ToString();
    }

    /// <summary>
    /// The script's output as evidence per target, in <paramref name="targets"/>' order, and the host's notes. An
    /// address without a line (the output was cut) is Untested.
    /// </summary>
    public static (List<VipEvidence> Evidence, RemoteNotes Notes) Parse(string output, IReadOnlyList<ProbeTarget> targets, string host, bool tcpAsked)
    {
        var lines = new Dictionary<string, string[]>();
        var missing = new List<string>();
        bool isRoot = false, needsRoot = false, pingNeedsRoot = false;
        foreach (var raw in output.Split('\n'))
        {
            var f = raw.TrimEnd('\r').Split(Tab);
            if (f[0] == "KLB-HOST" && f.Length >= 3)
            {
                isRoot = f[1].Trim() == "0";
                missing.AddRange(f[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
            else if (f[0] == "KLB-ADDR" && f.Length >= 7) lines[f[1]] = f;
        }
        var evidence = new List<VipEvidence>();
        foreach (var t in targets)
        {
            var key = t.Address.ToString();
            if (!lines.TryGetValue(key, out var f))
            {
                evidence.Add(new VipEvidence(t, new RouteInfo(t.Address, RouteKind.NoRoute, 0, null, null, "not probed"), null, [], false, null, null,
                    VipStatus.Untested, $"{host} printed no result for this address (the session ended early)", Source: host));
                continue;
            }
            var route = Route(t.Address, f[2], out var device);
            var macs = f[3].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(m => m.ToLowerInvariant()).Distinct().Order().ToList();
            double? rtt = double.TryParse(f[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) ? ms : null;
            TcpResult? tcp = f[5] switch { "open" => TcpResult.Open, "refused" => TcpResult.Refused, "timeout" => TcpResult.Timeout, _ => null };
            var noted = f[6].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            needsRoot |= noted.Contains("arping-needs-root");
            bool pingRefused = noted.Contains("ping-needs-root");
            pingNeedsRoot |= pingRefused;
            bool pinged = f[4].Length > 0;
            VipStatus? early = null;
            string? advice = null;
            if (route.Kind == RouteKind.NoRoute) (early, advice) = (VipStatus.NoRoute, $"no route from {host} ({route.Reason}): add a route to this network on the host, or announce the pool over BGP");
            else if (route.Kind == RouteKind.Local) (early, advice) = (VipStatus.Owned, $"{host} itself has this address");
            evidence.Add(new VipEvidence(t, route, device, macs, Probed: pinged, rtt, tcpAsked ? tcp : null, early, advice,
                NotProbedReason: pingRefused ? "ping needs root or CAP_NET_RAW on the host" : "ping is missing on the host", Source: host));
        }
        return (evidence, new RemoteNotes(missing, needsRoot, isRoot, pingNeedsRoot));
    }

    /// <summary>A route from <c>ip -j route get</c>'s JSON, or NoRoute with ip's message.</summary>
    public static RouteInfo Route(IPAddress address, string text, out string? device)
    {
        device = null;
        var trimmed = text.Trim();
        if (trimmed.StartsWith('['))
        {
            try
            {
                using var doc = JsonDocument.Parse(trimmed);
                if (doc.RootElement.ValueKind == JsonValueKind.Array && doc.RootElement.GetArrayLength() > 0)
                {
                    var r = doc.RootElement[0];
                    string? S(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    device = S("dev");
                    var gateway = S("gateway") is { } g && IPAddress.TryParse(g, out var gw) ? gw : null;
                    var source = S("prefsrc") is { } p && IPAddress.TryParse(p, out var src) ? src : null;
                    var kind = S("type") switch
                    {
                        "local" => RouteKind.Local,
                        "unreachable" or "blackhole" or "prohibit" => RouteKind.NoRoute,
                        _ => gateway is null ? RouteKind.OnLink : RouteKind.ViaGateway,
                    };
                    return new RouteInfo(address, kind, 0, gateway, source, kind == RouteKind.NoRoute ? S("type") : null);
                }
            }
            catch (JsonException) { }
        }
        var reason = trimmed.Replace("RTNETLINK answers: ", "", StringComparison.Ordinal);
        return new RouteInfo(address, RouteKind.NoRoute, 0, null, null, reason.Length == 0 ? "ip printed nothing" : reason);
    }
}
