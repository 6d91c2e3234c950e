#!/bin/sh
# An executable test without a lab: it runs in an empty network namespace of
# its own. Its KTAP result lines become subtests in netrig's reports.
echo "KTAP version 1"
echo "1..2"
if ! ip -o link show 2>/dev/null | grep -qv ': lo:'; then
    echo "ok 1 only loopback is visible"
else
    echo "not ok 1 only loopback is visible"; exit 1
fi
echo "ok 2 shell works"
exit 0
