# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small blocking RTNL socket with the part of pyroute2's ``IPRoute`` API this collection uses.

pyroute2 0.9's ``IPRoute`` is a synchronous wrapper around an asyncio core: every call runs an
event loop until the request completes, which costs milliseconds of CPU per call, and its
message codec decodes every attribute of every reply and encodes a request in ~0.4 ms.  A run
that visits a thousand container namespaces makes ten thousand calls: most of its time went
there.  Here a plain netlink socket sends requests packed with struct (the bytes IPRoute 0.7.2
and 0.9.x send for the same calls, IPv4 and IPv6, except that a "get" asks for an ACK as 0.9 does),
and replies are ``nlreply.Reply`` objects: the header at once, an attribute when asked for, and
pyroute2's decoder for any attribute the collection does not usually read.  Dumps are filtered
as IPRoute filters them (``get_routes(table=)`` in user space, the rest by the kernel).  Errors
are pyroute2's ``NetlinkError``; a dump the kernel marks as interrupted raises
``NetlinkDumpInterrupted`` once read to its end.  The socket belongs to the network namespace of
the thread that creates it.
"""

from __future__ import annotations

import functools
import socket
import struct

from ansible_collections.crossnet.routed.plugins.module_utils import nlreply, pyroute2_codec
from ansible_collections.crossnet.routed.plugins.module_utils.pyroute2_codec import (
    NetlinkDumpInterrupted, NetlinkError, ifaddrmsg, ifinfmsg, ndmsg, rtmsg)

# linux/netlink.h and rtnetlink.h
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP_INTR = 0x1, 0x4, 0x10
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x100, 0x200, 0x400, 0x300
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH = 16, 20, 24, 28


def _decode_whole(cls, raw):
    """The message as pyroute2 decodes it (for what nlreply.Reply does not read itself)."""
    msg = cls(raw)
    msg.decode()
    return msg


if pyroute2_codec.IMPORT_ERROR is None:  # else the modules report it (module_utils.requirements)
    _DECODERS = {kind: (functools.partial(_decode_whole, cls), event, family)
                 for kind, cls, event, family in ((RTM_NEWLINK, ifinfmsg, "RTM_NEWLINK", "link"),
                                                  (RTM_NEWADDR, ifaddrmsg, "RTM_NEWADDR", "addr"),
                                                  (RTM_NEWROUTE, rtmsg, "RTM_NEWROUTE", "route"),
                                                  (RTM_NEWNEIGH, ndmsg, "RTM_NEWNEIGH", "neigh"))}

_FLAGS = {"add": NLM_F_CREATE | NLM_F_EXCL, "replace": NLM_F_CREATE | NLM_F_REPLACE, "set": 0, "del": 0, "get": 0}

AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6
FAMILIES = (AF_INET, AF_INET6)
IFF_UP = 0x1
IFA_FLAGS = 8
RT_TABLE_COMPAT = 252  # the header's table of a route in a table numbered 256 or more
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RTN_UNICAST = 1
RCVBUF = 1 << 20

# RTM_NEW*, RTM_DEL*, RTM_GET* of one object are consecutive.  "set" is IPRoute's for links only
# (a plain RTM_NEWLINK); IPRoute's "set" of routes and neighbours means "replace".
_TYPE = {"add": 0, "replace": 0, "set": 0, "del": 1, "get": 2}
_EMPTY = bytearray()


# -- requests -----------------------------------------------------------------------------------
# Packed here with struct: pyroute2's encoder cost more CPU than the kernel's work in a converge
# at a thousand containers (~0.4 ms a request).  The layouts are the kernel ABI (rtnetlink.h,
# if_link.h, veth.h, neighbour.h); tests/unit/module_utils/test_rtnl.py holds, for every request,
# the bytes pyroute2's IPRoute sends, and these must equal them.
class Request:
    """One request: its netlink header gets the sequence number and port when it is sent."""

    __slots__ = ("kind", "flags", "body")

    def __init__(self, kind, flags, body):
        self.kind, self.flags, self.body = kind, flags, body

    def wire(self, seq, port):
        return struct.pack("=IHHII", 16 + len(self.body), self.kind, self.flags, seq, port) + self.body


def _nla(kind, payload):
    """One attribute (pyroute2 sets no NLA_F_NESTED on nested ones, and neither do we)."""
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def _asciiz(text):
    return text.encode() + b"\0"


def _u32(value):
    return struct.pack("=I", value)


def _mac(text):
    return bytes.fromhex(text.replace(":", ""))


def family_of(address):
    """AF_INET6 for an IPv6 address text, else AF_INET (as IPRoute guesses it)."""
    return AF_INET6 if ":" in address else AF_INET


def _ip(address):
    return socket.inet_pton(family_of(address), address)


IFLA_LINKINFO, IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 18, 1, 2, 1
_LINK_NLAS = {"ifname": (3, _asciiz), "address": (1, _mac), "mtu": (4, _u32), "ifalias": (20, _asciiz),
              "net_ns_fd": (28, _u32)}
# if_link.h IFLA_VXLAN_*; the port is in network byte order
_VXLAN_NLAS = {"id": (1, _u32), "local": (4, socket.inet_aton), "port": (15, lambda port: struct.pack(">H", port)),
               "learning": (7, lambda flag: struct.pack("=B", flag))}


def _request(base, command, header, attrs=b""):
    return Request(base + _TYPE[command], NLM_F_REQUEST | NLM_F_ACK | _FLAGS[command], header + attrs)


def _ifinfomsg(index=0, flags=0, change=0):
    return struct.pack("=BxHiII", 0, 0, index, flags, change)


def _link_nlas(nlas):
    return b"".join(_nla(_LINK_NLAS[name][0], _LINK_NLAS[name][1](value)) for name, value in nlas.items())


def link_request(command, index=0, state=None, kind=None, peer=None, vxlan=None, **nlas):
    """``ifname``, ``address`` (MAC), ``mtu``, ``ifalias``; ``kind``; a veth ``peer`` dict of
    ifname/net_ns_fd/mtu, or a ``vxlan`` dict of id/local/port/learning (in the order given)."""
    flags, change = (IFF_UP if state == "up" else 0, IFF_UP) if state is not None else (0, 0)
    attrs = _link_nlas(nlas)
    if kind is not None:
        info = _nla(IFLA_INFO_KIND, _asciiz(kind))
        if peer is not None:
            # the peer is a whole ifinfomsg with its own attributes
            info += _nla(IFLA_INFO_DATA, _nla(VETH_INFO_PEER, _ifinfomsg() + _link_nlas(peer)))
        if vxlan is not None:
            info += _nla(IFLA_INFO_DATA, b"".join(_nla(_VXLAN_NLAS[name][0], _VXLAN_NLAS[name][1](value))
                                                  for name, value in vxlan.items()))
        attrs += _nla(IFLA_LINKINFO, info)
    return _request(RTM_NEWLINK, command, _ifinfomsg(index, flags, change), attrs)


def addr_request(command, index, address, prefixlen, flags=0):
    """IPv4: IFA_LOCAL is the address, IFA_ADDRESS the peer (the same unless point-to-point);
    IPv6 has IFA_ADDRESS only.  ``flags`` (IFA_F_*, such as nodad) go in IFA_FLAGS."""
    family = family_of(address)
    raw = _ip(address)
    attrs = _nla(1, raw) + (_nla(2, raw) if family == AF_INET else b"")
    if flags:
        attrs += _nla(IFA_FLAGS, _u32(flags))
    return _request(RTM_NEWADDR, command, struct.pack("=BBBBI", family, prefixlen, 0, 0, index), attrs)


def neigh_request(command, dst, lladdr, ifindex, state):
    return _request(RTM_NEWNEIGH, command, struct.pack("=BxxxiHBB", family_of(dst), ifindex, state, 0, 0),
                    _nla(1, _ip(dst)) + _nla(2, _mac(lladdr)))


AF_BRIDGE, NTF_SELF = 7, 0x2


def fdb_request(command, ifindex, lladdr, dst, state):
    """A forwarding entry of the device itself (NTF_SELF: a VXLAN device's MAC -> remote), as
    IPRoute's ``fdb(command, ifindex=, lladdr=, dst=, state=, flags=NTF_SELF)``.  Without
    NTF_SELF the kernel answers EOPNOTSUPP for a device that is not a bridge port."""
    return _request(RTM_NEWNEIGH, command, struct.pack("=BxxxiHBB", AF_BRIDGE, ifindex, state, NTF_SELF, 0),
                    _nla(2, _mac(lladdr)) + _nla(1, socket.inet_aton(dst)))


def route_request(command, dst=None, dst_len=None, table=RT_TABLE_MAIN, proto=None, scope=0,
                  type=None, priority=None, gateway=None, oif=None, flags=0):  # pylint: disable=redefined-builtin
    """IPRoute's defaults: new routes are unicast and protocol static unless told; "get" is a
    host route.  The family is the destination's (or the gateway's)."""
    new = _TYPE[command] == 0
    family = family_of(dst or gateway or "")
    dst_len = ((32 if family == AF_INET else 128) if dst else 0) if dst_len is None else dst_len
    header = struct.pack("=BBBBBBBBI", family, dst_len, 0, 0, table if 0 < table < 255 else RT_TABLE_MAIN,
                         proto or (RTPROT_STATIC if new else 0), scope, type or (RTN_UNICAST if new else 0), flags)
    attrs = _nla(1, _ip(dst)) if dst and dst_len else b""
    if command != "get":
        attrs += _nla(15, _u32(table))
    if priority is not None:
        attrs += _nla(6, _u32(priority))
    if gateway is not None:
        attrs += _nla(5, _ip(gateway))
    if oif is not None:
        attrs += _nla(4, _u32(oif))
    return _request(RTM_NEWROUTE, command, header, attrs)


def _dump_headers():
    headers = {RTM_NEWLINK: _ifinfomsg(),
               (RTM_NEWNEIGH, AF_BRIDGE): struct.pack("=BxxxiHBB", AF_BRIDGE, 0, 0, 0, 0)}
    for family in FAMILIES:
        headers[(RTM_NEWADDR, family)] = struct.pack("=BBBBI", family, 0, 0, 0, 0)
        headers[(RTM_NEWNEIGH, family)] = struct.pack("=BxxxiHBB", family, 0, 0, 0, 0)
        headers[(RTM_NEWROUTE, family)] = struct.pack("=BBBBBBBBI", family, 0, 0, 0, RT_TABLE_MAIN, 0, 0, 0, 0)
    return headers


_DUMP_HEADERS = _dump_headers()


def route_table(msg):
    """The table of a route message: the header holds ids below 256, RTA_TABLE any id."""
    if msg["table"] != RT_TABLE_COMPAT:
        return msg["table"]
    return msg.get_attr("RTA_TABLE") or msg["table"]


def dump_request(base, family=None):
    """Dump every object of the kind (links; addresses, neighbours, routes of ``family``,
    AF_INET unless told; with ``family=AF_BRIDGE``, the forwarding entries)."""
    if family is None and base != RTM_NEWLINK:
        family = AF_INET
    header = _DUMP_HEADERS[base if family is None else (base, family)]
    return Request(base + _TYPE["get"], NLM_F_REQUEST | NLM_F_DUMP, header)


def _ip_family(family):
    if family not in FAMILIES:
        raise ValueError("only AF_INET and AF_INET6 dumps are supported, not family %r" % (family,))
    return family


class RTNL:
    """An RTNL socket in the network namespace of the calling thread."""

    def __init__(self, sock=None):
        """``sock``: a bound netlink socket to use instead of a new one (tests)."""
        if sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
                sock.bind((0, 0))
            except OSError:
                sock.close()
                raise
        self._sock = sock
        self._port = sock.getsockname()[0]
        self._seq = 0
        self._buf = bytearray(65536)

    def close(self):
        self._sock.close()

    # -- the IPRoute calls --------------------------------------------------------------------
    def link(self, command, **kwargs):
        return self.request(link_request(command, **kwargs))

    def addr(self, command, **kwargs):
        return self.request(addr_request(command, **kwargs))

    def neigh(self, command, **kwargs):
        return self.request(neigh_request(command, **kwargs))

    def route(self, command, **kwargs):
        return self.request(route_request(command, **kwargs))

    def fdb(self, command, **kwargs):
        return self.request(fdb_request(command, **kwargs))

    def get_links(self, *indexes):
        if indexes:
            return [msg for index in indexes for msg in self.link("get", index=index)]
        return self.request(dump_request(RTM_NEWLINK))

    def get_addr(self, family=AF_INET):
        return self.request(dump_request(RTM_NEWADDR, _ip_family(family)))

    def get_neighbours(self, family=AF_INET):
        return self.request(dump_request(RTM_NEWNEIGH, _ip_family(family)))

    def get_fdb(self):
        """Every forwarding entry (bridges' and devices' own), as IPRoute's
        ``get_neighbours(family=AF_BRIDGE)``."""
        return self.request(dump_request(RTM_NEWNEIGH, AF_BRIDGE))

    def get_routes(self, family=AF_INET, table=RT_TABLE_MAIN):
        # the kernel ignores the table of a dump request (unless strict checking is on): filter here
        return [msg for msg in self.request(dump_request(RTM_NEWROUTE, _ip_family(family)))
                if route_table(msg) == table]

    # -- the socket ---------------------------------------------------------------------------
    def request(self, req):
        """Send ``req``; return the replies of its sequence number, raise NetlinkError."""
        self._seq = self._seq % 0xFFFFFFFF + 1
        self._sock.send(req.wire(self._seq, self._port))
        return self._replies(self._seq)

    def _recv(self):
        # peek at the size first: a single message (a link with many VFs) can be large
        size = self._sock.recv_into(_EMPTY, 0, socket.MSG_PEEK | socket.MSG_TRUNC)
        if size > len(self._buf):
            self._buf = bytearray(size)
        size = self._sock.recv_into(self._buf)
        return bytes(memoryview(self._buf)[:size])

    def _replies(self, seq):
        replies, interrupted = [], False
        while True:
            data, offset = self._recv(), 0
            while offset + 16 <= len(data):
                length, kind, flags, msg_seq = struct.unpack_from("IHHI", data, offset)
                start, offset = offset, offset + max((length + 3) & ~3, 16)
                if msg_seq != seq:  # left over from a request that raised before its end
                    continue
                # the kernel marks a dump that changed while it was read: finish it, then say so
                interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from("=i", data, start + 16)[0]
                    if code:
                        raise NetlinkError(abs(code))
                    return replies
                if kind == NLMSG_DONE:
                    code = struct.unpack_from("i", data, start + 16)[0] if length >= 20 else 0
                    if code < 0:
                        raise NetlinkError(-code)
                    if interrupted:
                        raise NetlinkDumpInterrupted()
                    return replies
                if kind in _DECODERS:
                    decode_whole, event, family = _DECODERS[kind]
                    msg = nlreply.Reply(family, data, start, decode_whole)
                    msg["event"] = event  # as IPRoute names it
                    replies.append(msg)
