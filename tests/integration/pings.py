# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ICMP echo, as a script for ``python3 -c`` in a namespace (iputils-ping is not installed
everywhere); it exits 0 only on a matching reply and prints its source."""

PING = """
import socket, struct, sys, time
def csum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(1)
body = struct.pack("!HH", 0x4321, 1) + b"crossnet"
for attempt in range(5):
    sock.sendto(struct.pack("!BBH", 8, 0, csum(b"\\x08\\x00\\x00\\x00" + body)) + body, (sys.argv[1], 0))
    try:
        while True:
            packet, (source, _) = sock.recvfrom(1500)
            icmp = packet[(packet[0] & 0x0f) * 4:]
            if source == sys.argv[1] and icmp[0] == 0 and icmp[4:6] == body[:2]:
                print("reply from", source)
                sys.exit(0)
    except socket.timeout:
        continue
sys.exit(1)
"""

# ICMPv6: the kernel fills in the checksum of a raw ICMPv6 socket and strips the IPv6 header
PING6 = """
import socket, struct, sys
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
sock.settimeout(1)
body = struct.pack("!HH", 0x4321, 1) + b"crossnet"
for attempt in range(5):
    sock.sendto(struct.pack("!BBH", 128, 0, 0) + body, (sys.argv[1], 0))
    try:
        while True:
            icmp, address = sock.recvfrom(1500)
            if address[0] == sys.argv[1] and icmp[0] == 129 and icmp[4:6] == body[:2]:
                print("reply from", address[0])
                sys.exit(0)
    except socket.timeout:
        continue
sys.exit(1)
"""
