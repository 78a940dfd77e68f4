# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pyroute2 layer: one RTNL socket per network namespace, dumps that survive interruption.

Works with pyroute2 0.7.x (Debian 12, thread core) and 0.9.x (PyPI, asyncio core).  Features
are detected, never version strings (Debian's build reports ``__version__ == "unknown"``).

A socket for a named namespace is opened by entering the namespace with setns(2) in this
thread, creating the socket, and going back: a netlink socket stays bound to the namespace it
was created in.  pyroute2's own ``IPRoute(netns=...)`` forks a helper per socket (and creates
a missing namespace unless told otherwise); we want neither.  The sockets are ``rtnl.RTNL``:
pyroute2's messages over a blocking socket, without the event loop 0.9's ``IPRoute`` runs per call.
"""

from __future__ import annotations

import errno
import socket

from ansible_collections.crossnet.routed.plugins.module_utils.nsfs import (  # noqa: F401 pylint: disable=unused-import
    NamespaceMissing, entered, netns_exists, netns_file, netns_path)
from ansible_collections.crossnet.routed.plugins.module_utils.rtnl import RTNL

from ansible_collections.crossnet.routed.plugins.module_utils.pyroute2_codec import (  # noqa: F401 pylint: disable=unused-import
    NetlinkDumpInterrupted, NetlinkError)

DUMP_RETRIES = 10

ENOENT = errno.ENOENT
EEXIST = errno.EEXIST
ESRCH = errno.ESRCH
ENODEV = errno.ENODEV
EADDRNOTAVAIL = errno.EADDRNOTAVAIL


# -- sockets ---------------------------------------------------------------------------------
class Sockets:
    """One RTNL socket (the IPRoute calls we use) per namespace for the duration of a module run.

    ``sockets[None]`` is the namespace the module runs in ("the host"), ``sockets["c1"]`` the
    named namespace c1, ``sockets["/proc/4242/ns/net"]`` the namespace of that file (a runtime's;
    ``nsfs.netns_file``); ``NamespaceMissing`` when it does not exist.
    """

    def __init__(self):
        self._open = {}

    def __getitem__(self, netns):
        if netns not in self._open:
            if netns is None:
                self._open[None] = RTNL()
            else:
                with entered(netns):
                    self._open[netns] = RTNL()
        return self._open[netns]

    def forget(self, netns):
        """Close the socket of a namespace that is about to be removed."""
        sock = self._open.pop(netns, None)
        if sock is not None:
            sock.close()

    def close(self):
        for netns in list(self._open):
            self.forget(netns)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def dump(method, *args, **kwargs):
    """``list(method(*args, **kwargs))``, retried when the kernel says the dump changed under it."""
    for attempt in range(DUMP_RETRIES):
        try:
            return list(method(*args, **kwargs))
        except NetlinkDumpInterrupted:
            if attempt == DUMP_RETRIES - 1:
                raise
    return []


def attr(msg, name, default=None):
    value = msg.get_attr(name)
    return default if value is None else value


def ipv4_addresses(sock, index):
    """(address, prefix length, label) of each IPv4 address of interface ``index``, in the
    kernel's order (the primary address first)."""
    return [(attr(msg, "IFA_LOCAL") or attr(msg, "IFA_ADDRESS"), msg["prefixlen"], attr(msg, "IFA_LABEL"))
            for msg in dump(sock.get_addr, family=socket.AF_INET) if msg["index"] == index]


IPV6_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}  # as setup names them


def ipv6_addresses(sock, index):
    """(address, prefix length, scope name) of each IPv6 address of interface ``index``."""
    return [(attr(msg, "IFA_ADDRESS"), msg["prefixlen"], IPV6_SCOPES.get(msg["scope"], str(msg["scope"])))
            for msg in dump(sock.get_addr, family=socket.AF_INET6) if msg["index"] == index]


def link_info_kind(link):
    info = link.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info is not None else None


def error_code(exc):
    return getattr(exc, "code", None)
