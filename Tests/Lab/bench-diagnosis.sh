#!/bin/sh
# Wall time of a whole `portdoctor run crashplan` in lab namespaces (root; iproute2, nftables,
# miniupnpd, runit), median of N runs, for two worlds:
#   healthy  — miniupnpd router, static forward, service up, reflector outside (target ≤ 0.3 s)
#   paired   — healthy, as `run --with` the outside computer (listen --token-file, its own
#              service): both sides' checks and the connect between them (target ≤ 0.5 s)
#   silent   — the router answers neither UPnP nor NAT-PMP, and the peer drops everything from
#              this network (target ≤ 3.5 s)
# Usage: sudo Tests/Lab/bench-diagnosis.sh [BINARY] [RUNS]
# A bench, not a test: it prints numbers and asserts nothing.
set -eu
BIN=${1:-$(cd "$(dirname "$0")/../.." && pwd)/.build/release/portdoctor}
RUNS=${2:-7}
P=pdb$$
L=${P}l R=${P}r W=${P}w
TMP=$(mktemp -d)
cleanup() {
  for ns in $L $R $W; do
    ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

for ns in $L $R $W; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add ${P}a1 type veth peer name ${P}b1
ip link set ${P}a1 netns $L; ip link set ${P}b1 netns $R
ip link add ${P}a2 type veth peer name ${P}b2
ip link set ${P}a2 netns $R; ip link set ${P}b2 netns $W
ip -n $L addr add 10.231.70.2/24 dev ${P}a1; ip -n $L link set ${P}a1 up
ip -n $R addr add 10.231.70.1/24 dev ${P}b1; ip -n $R link set ${P}b1 up
ip -n $R addr add 11.231.71.1/24 dev ${P}a2; ip -n $R link set ${P}a2 up
ip -n $W addr add 11.231.71.2/24 dev ${P}b2; ip -n $W link set ${P}b2 up
ip -n $L route add default via 10.231.70.1
ip -n $L route add 224.0.0.0/4 dev ${P}a1
ip -n $R route add 224.0.0.0/4 dev ${P}b1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
ip netns exec $R nft -f - <<EOF
table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
}
table inet nat {
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    oifname "${P}a2" masquerade
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
EOF
cat >"$TMP/miniupnpd.conf" <<EOF
ext_ifname=${P}a2
listening_ip=${P}b1
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3e5a2f3c-6d5b-4b1b-9c1f-1a2b3c4d5e6f
friendly_name=portdoctor bench gateway
manufacturer_name=OpenWrt
model_name=bench router
upnp_table_name=filter
upnp_nat_table_name=nat
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 10.231.70.2/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
ip netns exec $R /usr/sbin/miniupnpd -f "$TMP/miniupnpd.conf" -P "$TMP/miniupnpd.pid" -d >/dev/null 2>&1 &
mkdir -p "$TMP/svc"
printf '#!/bin/sh\nexec %s bench hold-listener --port 4242 --address 0.0.0.0\n' "$BIN" >"$TMP/svc/run"
chmod 755 "$TMP/svc/run"
ip netns exec $L runsv "$TMP/svc" >/dev/null 2>&1 &
ip netns exec $W "$BIN" listen --per-minute 1000 --port 4250 >/dev/null 2>&1 &
sleep 1.5
# A forward made in the router's admin page (after miniupnpd set up its own chains).
ip netns exec $R nft add rule inet nat prerouting iifname "${P}a2" tcp dport 4242 dnat ip to 10.231.70.2

measure() {
  label=$1
  shift
  times=""
  for _ in $(seq "$RUNS"); do
    start=$(date +%s.%N)
    ip netns exec $L "$BIN" run crashplan --peer 11.231.71.2 --param "service=$TMP/svc" --format json "$@" >"$TMP/out.json" 2>/dev/null || true
    end=$(date +%s.%N)
    times="$times $(echo "$end - $start" | bc)"
    [ -n "${DEBUG:-}" ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r.get("duration_ms"), [(c["id"], round(c["duration_ms"])) for c in r["checks"] if c["duration_ms"] > 50], [c["evidence"].get("hop_probes") for c in r["checks"] if c["id"]=="port-forward"])' "$TMP/out.json"
  done
  median=$(echo $times | tr ' ' '\n' | sort -n | sed -n "$(((RUNS + 1) / 2))p")
  statuses=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(c["id"]+"="+c["status"]+"/"+str(round(c.get("duration_ms",0))) for c in r["checks"])); [print("   ", c["id"], c["summary"]) for c in r["checks"] if c["status"] not in ("pass","skip")]' "$TMP/out.json" 2>&1 || true)
  printf '%-8s median %ss of %s runs (%s)\n  %s\n' "$label" "$median" "$RUNS" "$times" "$statuses"
}

if [ -n "${DEBUG:-}" ]; then
  ip netns exec $L "$BIN" probe nat --port 4242 --reflector 11.231.71.2 || true
  ip netns exec $R nft list ruleset
  ip netns exec $L ss -tln
fi
measure healthy
# Paired (run --with): the outside computer is the source, with its own service and listen --token-file.
mkdir -p "$TMP/svcw"
printf '#!/bin/sh\nexec %s bench hold-listener --port 4242 --address 0.0.0.0\n' "$BIN" >"$TMP/svcw/run"
chmod 755 "$TMP/svcw/run"
ip netns exec $W runsv "$TMP/svcw" >/dev/null 2>&1 &
head -c 20 /dev/urandom | base32 >"$TMP/token"
ip netns exec $W env PORTDOCTOR_PARAM_SERVICE="$TMP/svcw" "$BIN" listen --per-minute 1000 --port 4251 --token-file "$TMP/token" >/dev/null 2>&1 &
sleep 1
measure paired --with 11.231.71.2:4251 --token-file "$TMP/token"
# A silent router (no UPnP, no NAT-PMP) and a peer that drops everything from this computer.
kill "$(cat "$TMP/miniupnpd.pid")" 2>/dev/null || true
ip netns exec $W nft -f - <<EOF
table inet benchdrop {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 11.231.71.1 drop
  }
}
EOF
measure silent
