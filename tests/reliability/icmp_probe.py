# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ICMP probes for the spoofing case, run inside a container namespace as ``python3 - ARGS``.

    send SRC DST TAG     send three echo requests to DST from source address SRC (which must be
                         an address of the namespace), payload TAG; IPv4 or IPv6 (ICMPv6)
    listen SECONDS TAG   print the source of every echo request with payload TAG that arrives
                         within SECONDS ("ready" first, once the socket is open), both families
    sniff SECONDS TAG IF as listen, but sees every such packet on interface IF (AF_PACKET), also
                         ones only passing through the host; a packet that crossed IF inside a
                         VXLAN frame (UDP 4789) is printed as ``vxlan:<inner source>``
    ra IF [LIFETIME]     send one IPv6 router advertisement out of IF from its link-local
                         address (router lifetime LIFETIME seconds, default 1800): a router
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time

VXLAN_PORT = 4789
ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
ICMPV6_ECHO_REQUEST, ICMPV6_ROUTER_ADVERTISEMENT = 128, 134


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def send(src, dst, tag):
    payload = tag.encode()
    if ":" in dst:
        # the kernel computes an ICMPv6 checksum itself (it covers the IPv6 pseudo-header)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        sock.bind((src, 0))
        for seq in range(1, 4):
            sock.sendto(struct.pack("!BBHHH", ICMPV6_ECHO_REQUEST, 0, 0, 0x7872, seq) + payload, (dst, 0))
            time.sleep(0.05)
        return 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.bind((src, 0))
    for seq in range(1, 4):
        header = struct.pack("!BBHHH", 8, 0, 0, 0x7872, seq)
        sock.sendto(struct.pack("!BBHHH", 8, 0, _checksum(header + payload), 0x7872, seq) + payload, (dst, 0))
        time.sleep(0.05)
    return 0


def _echo6_source(data, tag):
    """The source of an IPv6 packet that is an echo request with payload ``tag`` (no extension
    headers), else None."""
    if len(data) > 48 and data[6] == socket.IPPROTO_ICMPV6 and data[40] == ICMPV6_ECHO_REQUEST \
            and data[48:].endswith(tag.encode()):
        return socket.inet_ntop(socket.AF_INET6, data[8:24])
    return None


def listen(seconds, tag, ifname=None):
    if ifname:
        # ETH_P_ALL: a socket bound to one protocol sees only what comes in, not what goes out
        socks = [socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))]
        socks[0].bind((ifname, ETH_P_ALL))
    else:
        socks = [socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                 socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)]
    print("ready", flush=True)
    deadline = time.monotonic() + float(seconds)
    seen = set()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, dummy, dummy = select.select(socks, [], [], left)
        if not ready:
            break
        sock = ready[0]
        data, where = sock.recvfrom(2048)
        if sock.family == socket.AF_INET6:  # a raw ICMPv6 socket gets the message without the IPv6 header
            if len(data) > 8 and data[0] == ICMPV6_ECHO_REQUEST and data[8:].endswith(tag.encode()):
                seen.add(where[0])
            continue
        if ifname and where[1] == ETH_P_IPV6:
            source = _echo6_source(data, tag)
            if source:
                seen.add(source)
            continue
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


def router_advertisement(ifname, lifetime="1800"):
    """One RA to all nodes (ff02::1) from the link-local address of ``ifname``: hop limit 255 as
    the receiver demands, no prefix options, just a default router."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifname))
    # type, code, checksum, cur hop limit, flags, router lifetime, reachable time, retrans timer
    message = struct.pack("!BBHBBHII", ICMPV6_ROUTER_ADVERTISEMENT, 0, 0, 64, 0, int(lifetime), 0, 0)
    sock.sendto(message, ("ff02::1", 0, 0, socket.if_nametoindex(ifname)))
    return 0


if __name__ == "__main__":
    sys.exit({"send": send, "listen": listen, "sniff": listen, "ra": router_advertisement}[sys.argv[1]](*sys.argv[2:]))
