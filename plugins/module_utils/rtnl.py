# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small blocking RTNL socket with the part of pyroute2's ``IPRoute`` API this collection uses.

pyroute2 0.9's ``IPRoute`` is a synchronous wrapper around an asyncio core: every call runs an
event loop until the request completes, which costs milliseconds of CPU per call.  A run that
visits a thousand container namespaces makes thousands of calls and spent most of its time in
asyncio.  This module keeps pyroute2's message classes (``ifinfmsg``, ``rtmsg``...) to encode
requests and decode replies, so callers get the very objects ``IPRoute`` returns, and does the
rest with a plain netlink socket: one request, then read until its answer is complete.

Requests are byte for byte what ``IPRoute`` 0.7.2 and 0.9.x send for the same calls (IPv4 only),
except that a "get" asks for an ACK as 0.9 does and 0.7 does not.  Dumps are filtered as IPRoute
filters them (``get_routes(table=)`` in user space, the rest by the kernel).  Errors are pyroute2's
``NetlinkError``; a dump the kernel marks as interrupted raises ``NetlinkDumpInterrupted`` once read
to its end.  The socket belongs to the network namespace of the thread that creates it.
"""

from __future__ import annotations

import socket
import struct

from ansible_collections.crossnet.routed.plugins.module_utils import nlreply

try:
    from pyroute2.netlink import (NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL,
                                  NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, nlmsgerr)
    from pyroute2.netlink.exceptions import NetlinkDumpInterrupted, NetlinkError
    from pyroute2.netlink.rtnl import RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
except ImportError:  # the modules report it (module_utils.requirements); this file must still import
    pass
else:
    _FLAGS = {"add": NLM_F_CREATE | NLM_F_EXCL, "replace": NLM_F_CREATE | NLM_F_REPLACE, "set": 0, "del": 0, "get": 0}
    _DECODERS = {RTM_NEWLINK: (ifinfmsg, "RTM_NEWLINK", "link"), RTM_NEWADDR: (ifaddrmsg, "RTM_NEWADDR", "addr"),
                 RTM_NEWROUTE: (rtmsg, "RTM_NEWROUTE", "route"), RTM_NEWNEIGH: (ndmsg, "RTM_NEWNEIGH", "neigh")}

AF_INET = socket.AF_INET
IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RTN_UNICAST = 1
RCVBUF = 1 << 20

# RTM_NEW*, RTM_DEL*, RTM_GET* of one object are consecutive.  "set" is IPRoute's for links only
# (a plain RTM_NEWLINK); IPRoute's "set" of routes and neighbours means "replace".
_TYPE = {"add": 0, "replace": 0, "set": 0, "del": 1, "get": 2}
_LINK_NLAS = {"ifname": "IFLA_IFNAME", "mtu": "IFLA_MTU", "ifalias": "IFLA_IFALIAS", "net_ns_fd": "IFLA_NET_NS_FD"}
_EMPTY = bytearray()


def _full_decoder(cls):
    def decode(raw):
        msg = cls(raw)
        msg.decode()
        return msg
    return decode


def _message(cls, base, command, fields, attrs):
    msg = cls()
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = base + _TYPE[command]
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | _FLAGS[command]
    return msg


def _link_nlas(nlas):
    return [[_LINK_NLAS[name], value] for name, value in nlas.items()]


def link_request(command, index=0, state=None, kind=None, peer=None, **nlas):
    """``ifname``, ``mtu``, ``ifalias``; ``kind``; a veth ``peer`` dict of ifname/net_ns_fd/mtu."""
    fields = {"index": index}
    if state is not None:
        fields.update(flags=IFF_UP if state == "up" else 0, change=IFF_UP)
    attrs = _link_nlas(nlas)
    if kind is not None:
        info = [["IFLA_INFO_KIND", kind]]
        if peer is not None:
            # pyroute2 picks the IFLA_INFO_DATA layout from the IFLA_INFO_KIND before it
            info.append(["IFLA_INFO_DATA", {"attrs": [["VETH_INFO_PEER", {"attrs": _link_nlas(peer)}]]}])
        attrs.append(["IFLA_LINKINFO", {"attrs": info}])
    return _message(ifinfmsg, RTM_NEWLINK, command, fields, attrs)


def addr_request(command, index, address, prefixlen):
    # IPv4: IFA_LOCAL is the address, IFA_ADDRESS the peer (the same unless point-to-point)
    return _message(ifaddrmsg, RTM_NEWADDR, command, {"family": AF_INET, "prefixlen": prefixlen, "index": index},
                    [["IFA_ADDRESS", address], ["IFA_LOCAL", address]])


def neigh_request(command, dst, lladdr, ifindex, state):
    return _message(ndmsg, RTM_NEWNEIGH, command, {"family": AF_INET, "ifindex": ifindex, "state": state},
                    [["NDA_DST", dst], ["NDA_LLADDR", lladdr]])


def route_request(command, dst=None, dst_len=None, table=RT_TABLE_MAIN, proto=None, scope=0,
                  type=None, priority=None, gateway=None, oif=None, flags=0):  # pylint: disable=redefined-builtin
    """IPRoute's defaults: new routes are unicast and protocol static unless told; "get" is /32."""
    new = _TYPE[command] == 0
    dst_len = (32 if dst else 0) if dst_len is None else dst_len
    fields = {"family": AF_INET, "dst_len": dst_len, "table": table if 0 < table < 255 else RT_TABLE_MAIN,
              "proto": proto or (RTPROT_STATIC if new else 0), "scope": scope,
              "type": type or (RTN_UNICAST if new else 0), "flags": flags}
    attrs = [["RTA_DST", dst]] if dst and dst_len else []
    if command != "get":
        attrs.append(["RTA_TABLE", table])
    attrs += [[name, value] for name, value in (("RTA_PRIORITY", priority), ("RTA_GATEWAY", gateway),
                                                ("RTA_OIF", oif)) if value is not None]
    return _message(rtmsg, RTM_NEWROUTE, command, fields, attrs)


def dump_request(cls, base, **fields):
    msg = _message(cls, base, "get", fields, [])
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
    return msg


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

    def get_links(self, *indexes):
        if indexes:
            return [msg for index in indexes for msg in self.link("get", index=index)]
        return self.request(dump_request(ifinfmsg, RTM_NEWLINK))

    def get_addr(self, family=AF_INET):
        return self.request(dump_request(ifaddrmsg, RTM_NEWADDR, family=family))

    def get_neighbours(self, family=AF_INET):
        return self.request(dump_request(ndmsg, RTM_NEWNEIGH, family=family))

    def get_routes(self, family=AF_INET, table=RT_TABLE_MAIN):
        # the kernel ignores the table of a dump request (unless strict checking is on): filter here
        return [msg for msg in self.request(dump_request(rtmsg, RTM_NEWROUTE, family=family, table=table))
                if (msg.get_attr("RTA_TABLE") or msg["table"]) == table]

    # -- the socket ---------------------------------------------------------------------------
    def request(self, msg):
        """Send ``msg``; return the decoded replies of its sequence number, raise NetlinkError."""
        self._seq = self._seq % 0xFFFFFFFF + 1
        msg["header"]["sequence_number"] = self._seq
        msg["header"]["pid"] = self._port
        msg.encode()
        self._sock.send(msg.data)
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
                    error = nlmsgerr(data, offset=start)
                    error.decode()
                    if error["error"]:
                        raise NetlinkError(abs(error["error"]))
                    return replies
                if kind == NLMSG_DONE:
                    code = struct.unpack_from("i", data, start + 16)[0] if length >= 20 else 0
                    if code < 0:
                        raise NetlinkError(-code)
                    if interrupted:
                        raise NetlinkDumpInterrupted()
                    return replies
                if kind in _DECODERS:
                    cls, event, family = _DECODERS[kind]
                    msg = nlreply.Reply(family, data, start, _full_decoder(cls))
                    msg["event"] = event  # as IPRoute names it
                    replies.append(msg)
