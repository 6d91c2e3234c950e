#!/usr/bin/env python3
"""Write mixed.pcap and mixed.pcapng: frames of several layers made with
scapy, the kind of file a user brings to `replay` from elsewhere.

    python3 gen.py [OUT_DIR]    (default: this script's folder)

Deterministic (fixed times, addresses and payloads), so the committed files
are exactly what this script writes with the scapy version .ci/run pins.
Addresses are documentation ones; the MACs are rewritten by the scenario.
"""
import os
import sys

from scapy.all import (ARP, Dot1Q, Ether, ICMPv6EchoRequest, IP, IPv6, Raw,
                       TCP, UDP, wrpcap, wrpcapng)

A = "02:00:00:00:00:0a"
B = "02:00:00:00:00:0b"


def frames():
    out = [
        Ether(src=A, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=A, psrc="192.0.2.1", pdst="192.0.2.2"),
        Ether(src=A, dst=B)
        / IP(src="192.0.2.1", dst="192.0.2.2", ttl=17, id=4242)
        / UDP(sport=1024, dport=9000)
        / Raw(b"netrig replay: udp over ipv4"),
        Ether(src=A, dst=B)
        / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2", hlim=33)
        / TCP(sport=40000, dport=80, flags="SA", seq=1000, ack=2000, window=512)
        / Raw(b"tcp over ipv6"),
        Ether(src=A, dst=B)
        / Dot1Q(vlan=10, prio=3)
        / IP(src="198.51.100.1", dst="198.51.100.2")
        / UDP(sport=5000, dport=5001)
        / Raw(b"tagged"),
        Ether(src=A, dst=B)
        / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2")
        / ICMPv6EchoRequest(id=7, seq=1, data=b"ping"),
        # A full-size frame: 1500 bytes of IP.
        Ether(src=A, dst=B)
        / IP(src="192.0.2.1", dst="192.0.2.2", flags="DF")
        / UDP(sport=1025, dport=9)
        / Raw(bytes(range(256)) * 5 + bytes(1500 - 20 - 8 - 1280)),
    ]
    # 20 ms apart: enough for `timing = "original"` to show, short enough
    # for a test.
    for i, f in enumerate(out):
        f.time = 1_700_000_000 + i * 0.02
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    fs = frames()
    wrpcap(os.path.join(out, "mixed.pcap"), fs)
    wrpcapng(os.path.join(out, "mixed.pcapng"), fs)


if __name__ == "__main__":
    main()
