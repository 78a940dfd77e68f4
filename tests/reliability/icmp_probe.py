# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ICMP probes for the spoofing case, run inside a container namespace as ``python3 - ARGS``.

    send SRC DST TAG     send three echo requests to DST from source address SRC (which must be
                         an address of the namespace), payload TAG
    listen SECONDS TAG   print the source of every echo request with payload TAG that arrives
                         within SECONDS ("ready" first, once the socket is open)
    sniff SECONDS TAG IF as listen, but sees every such packet on interface IF (AF_PACKET), also
                         ones only passing through the host; a packet that crossed IF inside a
                         VXLAN frame (UDP 4789) is printed as ``vxlan:<inner source>``
"""

from __future__ import annotations

import socket
import struct
import sys
import time

VXLAN_PORT = 4789
ETH_P_ALL, ETH_P_IP = 0x0003, 0x0800


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def send(src, dst, tag):
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.bind((src, 0))
    payload = tag.encode()
    for seq in range(1, 4):
        header = struct.pack("!BBHHH", 8, 0, 0, 0x7872, seq)
        sock.sendto(struct.pack("!BBHHH", 8, 0, _checksum(header + payload), 0x7872, seq) + payload, (dst, 0))
        time.sleep(0.05)
    return 0


def listen(seconds, tag, ifname=None):
    if ifname:
        # ETH_P_ALL: a socket bound to one protocol sees only what comes in, not what goes out
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        sock.bind((ifname, ETH_P_ALL))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print("ready", flush=True)
    deadline = time.monotonic() + float(seconds)
    seen = set()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, where = sock.recvfrom(2048)
        except socket.timeout:
            break
        if ifname and where[1] != ETH_P_IP:
            continue
        prefix = ""
        ihl = (data[0] & 0x0F) * 4
        if data[9] == socket.IPPROTO_UDP and struct.unpack_from("!H", data, ihl + 2)[0] == VXLAN_PORT:
            # outer IPv4, UDP 8, VXLAN 8, inner Ethernet 14: the inner IPv4 packet follows
            data, prefix = data[ihl + 8 + 8 + 14:], "vxlan:"
            ihl = (data[0] & 0x0F) * 4 if data else 0
        if len(data) > ihl + 8 and data[9] == socket.IPPROTO_ICMP and data[ihl] == 8 \
                and data[ihl + 8:].endswith(tag.encode()):
            seen.add(prefix + socket.inet_ntoa(data[12:16]))
    for source in sorted(seen):
        print(source, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit({"send": send, "listen": listen, "sniff": listen}[sys.argv[1]](*sys.argv[2:]))
