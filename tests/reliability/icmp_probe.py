# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ICMP probes for the spoofing case, run inside a container namespace as ``python3 - ARGS``.

    send SRC DST TAG     send three echo requests to DST from source address SRC (which must be
                         an address of the namespace), payload TAG
    listen SECONDS TAG   print the source of every echo request with payload TAG that arrives
                         within SECONDS ("ready" first, once the socket is open)
    sniff SECONDS TAG IF as listen, but sees every such packet on interface IF (AF_PACKET), also
                         ones only passing through the host
"""

from __future__ import annotations

import socket
import struct
import sys
import time


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
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))  # IPv4 only
        sock.bind((ifname, 0x0800))
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
            data, dummy = sock.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (data[0] & 0x0F) * 4
        if data[9] == socket.IPPROTO_ICMP and data[ihl] == 8 and data[ihl + 8:].endswith(tag.encode()):
            seen.add(socket.inet_ntoa(data[12:16]))
    for source in sorted(seen):
        print(source, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit({"send": send, "listen": listen, "sniff": listen}[sys.argv[1]](*sys.argv[2:]))
