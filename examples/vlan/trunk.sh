#!/bin/sh
# netrig: topology=topology.toml node=sw1 timeout=30s
# A VLAN trunk through VLAN-aware bridges (vlan_filtering, no default VLAN):
# access ports untagged in one VLAN, the sw1-sw2 link a trunk carrying VLANs
# 10 and 20 tagged. h1 and h2 (VLAN 10) reach each other across the trunk;
# h3, in the same IP subnet but VLAN 20, gets nothing of VLAN 10, not even
# its broadcasts. A kernel whose bridge cannot filter VLANs
# (CONFIG_BRIDGE_VLAN_FILTERING unset) makes this a skip, with the reason.
set -e
x() { netrig exec "$NETRIG_LAB" "$@"; }
# A node's received frames (a veth counts them as its peer sends).
rx() { x "$1" -- cat /sys/class/net/eth0/statistics/rx_packets; }

if ! x sw1 -- ip link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0 2>/dev/null; then
    echo "SKIP: this kernel's bridge cannot filter VLANs (CONFIG_BRIDGE_VLAN_FILTERING)"
    exit 4
fi
echo "TAP version 13"
echo "1..3"
x sw2 -- ip link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0
for p in "sw1 eth0" "sw1 eth1" "sw2 eth0" "sw2 eth1" "sw2 eth2"; do
    set -- $p
    x "$1" -- ip link set "$2" master br0
done
x sw1 -- bridge vlan add dev eth1 vid 10 pvid untagged
x sw2 -- bridge vlan add dev eth1 vid 10 pvid untagged
x sw2 -- bridge vlan add dev eth2 vid 20 pvid untagged
for sw in sw1 sw2; do
    x "$sw" -- bridge vlan add dev eth0 vid 10
    x "$sw" -- bridge vlan add dev eth0 vid 20
    x "$sw" -- ip link set br0 up
done

if netrig ping "$NETRIG_LAB" h1 192.0.2.2 -c 3 -W 2 >/dev/null; then
    echo "ok 1 - h1 reaches h2 in VLAN 10 across the trunk"
else
    echo "not ok 1 - h1 reaches h2 in VLAN 10 across the trunk"
fi
if netrig ping "$NETRIG_LAB" h1 192.0.2.3 -c 1 -W 1 >/dev/null 2>&1; then
    echo "not ok 2 - h1 does not reach h3 (VLAN 20, same subnet)"
else
    echo "ok 2 - h1 does not reach h3 (VLAN 20, same subnet)"
fi
h2=$(rx h2)
h3=$(rx h3)
netrig gen "$NETRIG_LAB" h1:eth0 udp da=192.0.2.255,dmac=ff:ff:ff:ff:ff:ff,dp=9,c=5 >/dev/null
h2=$(($(rx h2) - h2))
h3=$(($(rx h3) - h3))
if [ "$h2" -ge 5 ] && [ "$h3" -eq 0 ]; then
    echo "ok 3 - h1's broadcasts flood VLAN 10 only (h2 got $h2 frames, h3 $h3)"
else
    echo "not ok 3 - h1's broadcasts flood VLAN 10 only (h2 got $h2 frames, h3 $h3)"
fi
