# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RTNL replies read on demand: what the collection looks at, without decoding the rest.

pyroute2 decodes every attribute of every message it receives.  A link carries dozens, most
nested (per-family device configuration, statistics), and reading a thousand container
namespaces spent most of its time there (measured: 3 of 5 s of a re-run at 1000 containers).
A ``Reply`` unpacks the fixed header at once and an attribute only when asked for; values come
out as pyroute2 gives them (dotted IPv4, compressed IPv6, ``aa:bb:..`` MACs, str, int).  An attribute not in the
small table below is handed to pyroute2's own decoder of the whole message, so any caller
asking for something else still gets pyroute2's answer.
"""

from __future__ import annotations

import socket
import struct

# struct layouts of the kernel's fixed headers (linux/rtnetlink.h, if_link.h, neighbour.h)
HEADERS = {
    "link": ("=BxHiII", ("family", "ifi_type", "index", "flags", "change")),
    "addr": ("=BBBBI", ("family", "prefixlen", "flags", "scope", "index")),
    "route": ("=BBBBBBBBI", ("family", "dst_len", "src_len", "tos", "table", "proto", "scope", "type", "flags")),
    "neigh": ("=BxxxiHBB", ("family", "ifindex", "state", "flags", "ndm_type")),
}
NLMSG_HDRLEN = 16
NLA_HDRLEN = 4
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER


def _str(data):
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


def _u32(data):
    return struct.unpack_from("=I", data)[0]


def _ipv4(data):
    return socket.inet_ntop(socket.AF_INET, data[:4])


def _ip(data):
    """An address of either family: the attribute's length says which."""
    if len(data) >= 16:
        return socket.inet_ntop(socket.AF_INET6, data[:16])
    return _ipv4(data)


def _l2(data):
    return ":".join("%02x" % byte for byte in data)


def _u8(data):
    return data[0]


def _be16(data):
    return struct.unpack_from(">H", data)[0]


# attribute name -> (type number, decoder); "nested" gives a Reply of the nested attributes
ATTRS = {
    "link": {"IFLA_ADDRESS": (1, _l2), "IFLA_IFNAME": (3, _str), "IFLA_MTU": (4, _u32), "IFLA_LINK": (5, _u32),
             "IFLA_LINKINFO": (18, "nested"), "IFLA_IFALIAS": (20, _str)},
    "linkinfo": {"IFLA_INFO_KIND": (1, _str), "IFLA_INFO_DATA": (2, "nested")},
    # IFLA_INFO_DATA read as a VXLAN device's: ask for it only when IFLA_INFO_KIND is "vxlan"
    "vxlan": {"IFLA_VXLAN_ID": (1, _u32), "IFLA_VXLAN_LOCAL": (4, _ipv4), "IFLA_VXLAN_LEARNING": (7, _u8),
              "IFLA_VXLAN_PORT": (15, _be16)},
    "addr": {"IFA_ADDRESS": (1, _ip), "IFA_LOCAL": (2, _ip), "IFA_LABEL": (3, _str), "IFA_FLAGS": (8, _u32)},
    "route": {"RTA_DST": (1, _ip), "RTA_OIF": (4, _u32), "RTA_GATEWAY": (5, _ip), "RTA_PRIORITY": (6, _u32),
              "RTA_PREFSRC": (7, _ip), "RTA_TABLE": (15, _u32)},
    "neigh": {"NDA_DST": (1, _ip), "NDA_LLADDR": (2, _l2)},
}
NESTED = {("link", 18): "linkinfo", ("linkinfo", 2): "vxlan"}


_NLA_HEADER = struct.Struct("=HH")


def _attributes(data, start, end):
    """type number -> value bytes of the attributes in data[start:end] (the first of a type wins)."""
    found = {}
    unpack = _NLA_HEADER.unpack_from
    while start + NLA_HDRLEN <= end:
        length, kind = unpack(data, start)
        if length < NLA_HDRLEN:
            break
        kind &= NLA_TYPE_MASK
        if kind not in found:
            found[kind] = (start + NLA_HDRLEN, start + length)
        start += (length + 3) & ~3
    return found


class Attributes:
    """Nested attributes (e.g. IFLA_LINKINFO), with ``get_attr`` like pyroute2's."""

    def __init__(self, family, data, start, end):
        self._family = family
        self._data = data
        self._bounds = (start, end)
        self._found = None

    def get_attr(self, name, default=None):
        number, decode = ATTRS[self._family][name]
        if self._found is None:  # scanned on first use: most replies of a dump are skipped by their header
            self._found = _attributes(self._data, *self._bounds)
        where = self._found.get(number)
        if where is None:
            return default
        if decode == "nested":
            return Attributes(NESTED[(self._family, number)], self._data, *where)
        return decode(self._data[where[0]:where[1]])


class Reply(Attributes):
    """One RTNL message: header fields by name (``msg["index"]``), attributes by ``get_attr``."""

    def __init__(self, family, data, start, full_decoder):
        length = struct.unpack_from("=I", data, start)[0]
        layout, names = HEADERS[family]
        fields = dict(zip(names, struct.unpack_from(layout, data, start + NLMSG_HDRLEN)))
        super().__init__(family, data, start + NLMSG_HDRLEN + struct.calcsize(layout), start + length)
        self._fields = fields
        self._span = (start, length)
        self._full_decoder = full_decoder
        self._full = None

    def __getitem__(self, key):
        if key in self._fields:
            return self._fields[key]
        return self.full()[key]

    def __setitem__(self, key, value):
        self._fields[key] = value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def get_attr(self, name, default=None):
        if name in ATTRS[self._family]:
            return super().get_attr(name, default)
        return self.full().get_attr(name, default)

    def full(self):
        """The message as pyroute2 decodes it (for anything the table above does not know)."""
        if self._full is None:
            start, length = self._span
            self._full = self._full_decoder(bytes(self._data[start:start + length]))
        return self._full
