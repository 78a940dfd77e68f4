# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pyroute2 layer: one RTNL socket per network namespace, dumps that survive interruption.

Works with pyroute2 0.7.x (Debian 12, thread core) and 0.9.x (PyPI, asyncio core).  Features
are detected, never version strings (Debian's build reports ``__version__ == "unknown"``).

A socket for a named namespace is opened by entering the namespace with setns(2) in this
thread, creating the socket, and going back: a netlink socket stays bound to the namespace it
was created in.  pyroute2's own ``IPRoute(netns=...)`` forks a helper per socket (and creates
a missing namespace unless told otherwise); we want neither.
"""

from __future__ import annotations

import ctypes
import errno
import os
import traceback
from contextlib import contextmanager

try:
    from pyroute2 import IPRoute
    from pyroute2 import netns as _pyroute2_netns
    from pyroute2.netlink.exceptions import NetlinkDumpInterrupted, NetlinkError  # pylint: disable=unused-import
except ImportError:
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):  # so that ``except NetlinkError`` still parses
        code = 0

    class NetlinkDumpInterrupted(Exception):
        pass
else:
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
DUMP_RETRIES = 10

ENOENT = errno.ENOENT
EEXIST = errno.EEXIST
ESRCH = errno.ESRCH
ENODEV = errno.ENODEV
EADDRNOTAVAIL = errno.EADDRNOTAVAIL


class NamespaceMissing(Exception):
    """A named network namespace does not exist."""


# -- namespaces ------------------------------------------------------------------------------
def netns_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def list_netns():
    """Names under /run/netns (what ``ip netns list`` shows), sorted."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def netns_exists(name):
    return os.path.exists(netns_path(name))


def create_netns(name):
    """Create namespace ``name`` (pyroute2 mounts it under /run/netns like ``ip netns add``)."""
    _pyroute2_netns.create(name)


def remove_netns(name):
    _pyroute2_netns.remove(name)


_libc = None


def _setns(fd):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def entered(name):
    """Run the body inside namespace ``name`` (this thread only); never creates it."""
    try:
        target = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NamespaceMissing(name) from None
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


# -- sockets ---------------------------------------------------------------------------------
def _open_iproute():
    try:
        # 0.9.x subscribes to multicast groups by default; we only ask and answer.
        return IPRoute(groups=0)
    except TypeError:
        return IPRoute()


class Sockets:
    """One IPRoute per namespace for the duration of a module run.

    ``sockets[None]`` is the namespace the module runs in ("the host"), ``sockets["c1"]`` the
    named namespace c1 (``NamespaceMissing`` when it does not exist).
    """

    def __init__(self):
        self._open = {}

    def __getitem__(self, netns):
        if netns not in self._open:
            if netns is None:
                self._open[None] = _open_iproute()
            else:
                with entered(netns):
                    self._open[netns] = _open_iproute()
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


def link_info_kind(link):
    info = link.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info is not None else None


def error_code(exc):
    return getattr(exc, "code", None)
