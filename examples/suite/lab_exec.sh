#!/bin/sh
# netrig: topology=../seed.toml node=h1 timeout=30s
# An executable test in its own copy of the seed lab, started in node h1;
# `netrig exec` reaches the other nodes of the same lab.
set -e
echo "TAP version 13"
echo "1..2"
netrig exec "$NETRIG_LAB" h2 -- sh -c 'grep -q eth0 /proc/net/dev'
echo "ok 1 - h2 has eth0 (via netrig exec)"
for n in $NETRIG_NODES; do
    netrig exec "$NETRIG_LAB" "$n" -- true
done
echo "ok 2 - every node ($NETRIG_NODES) can be entered"
