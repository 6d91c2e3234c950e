#!/bin/sh
# kselftest convention: exit 4 means skip; the reason comes from the output.
if ! command -v netrig-no-such-tool >/dev/null 2>&1; then
    echo "SKIP: netrig-no-such-tool is not installed"
    exit 4
fi
