# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces as files under /run/netns: list, create, remove, enter.  No pyroute2.

A namespace is referred to by its name (a file under /run/netns) or, for one a container
runtime made, by an absolute path to its namespace file (``/proc/<pid>/ns/net``, a bind mount
such as ``/run/netns/<id>`` or ``/var/run/docker/netns/<id>``): ``netns_file(ref)``.  Such a
file is opened and entered with setns(2) like a named one; it need not be a mount point.

Namespaces are created the way ``ip netns add`` does it, without its fork: a worker thread
unshare(2)s a new network namespace for itself and bind-mounts /proc/thread-self/ns/net on
/run/netns/NAME (made a shared mount first, so that the mount shows in other mount namespaces).
pyroute2's ``netns.create`` forks a child per namespace for the same thing.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from contextlib import contextmanager

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 0x2
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3), Linux 4.11: the CLONE_NEW* type of a namespace fd
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


class NamespaceMissing(Exception):
    """A named network namespace does not exist."""


def netns_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def netns_file(ref):
    """The file of namespace ``ref``: an absolute path as it is, a name under /run/netns."""
    return ref if ref.startswith("/") else netns_path(ref)


def _same_file(a, b):
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def netns_file_error(path):
    """Why the namespace file ``path`` (a runtime's) cannot be wired, or None when it can: it
    must exist, be a network namespace, and not be the namespace this thread is in (the host's)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return "cannot be opened (%s)" % exc.strerror
    try:
        try:
            kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
        except OSError:  # ENOTTY: not a namespace file at all
            kind = None
        if kind != CLONE_NEWNET:
            return "is not a network namespace"
        if _same_file(os.fstat(fd), os.stat("/proc/thread-self/ns/net")):
            return "is the host's own network namespace"
        return None
    finally:
        os.close(fd)


def netns_id(path):
    """(device, inode) of a namespace file: the same for every path to the same namespace."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def list_netns():
    """Names under /run/netns (what ``ip netns list`` shows), sorted."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def netns_exists(name):
    return os.path.exists(netns_path(name))


_libc = None


def _libcall(name, *args):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (name, os.strerror(err)))


def _mount(source, target, flags):
    _libcall("mount", source.encode(), target.encode(), b"none", ctypes.c_ulong(flags), None)


def _shared_run_dir():
    """Make /run/netns a shared mount point, as ``ip netns add`` does: a namespace mounted later
    then shows in every mount namespace that has /run/netns (ours may be a private copy)."""
    os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    try:
        _mount("", NETNS_RUN_DIR, MS_SHARED | MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
        _mount(NETNS_RUN_DIR, NETNS_RUN_DIR, MS_BIND | MS_REC)
        _mount("", NETNS_RUN_DIR, MS_SHARED | MS_REC)


def _loopback_up():
    """Bring ``lo`` up in this thread's namespace (SIOCSIFFLAGS: no netlink socket needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _create_in_thread(names, created, failure):
    # A thread that unshare()d never goes back: it ends, and the bind mount keeps the namespace.
    try:
        for name in names:
            path = netns_path(name)
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
            try:
                _libcall("unshare", CLONE_NEWNET)
                _mount("/proc/thread-self/ns/net", path, MS_BIND)
            except BaseException:
                os.unlink(path)
                raise
            created.append(name)
            _loopback_up()
    except BaseException as exc:  # handed to the caller's thread
        failure.append(exc)


def create_netns(names):
    """Create the namespaces ``names`` (with ``lo`` up) and return them; an existing name raises
    FileExistsError.  The ones created before a failure stay (the caller recorded them)."""
    _shared_run_dir()
    created, failure = [], []
    worker = threading.Thread(target=_create_in_thread, args=(list(names), created, failure))
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return created


def remove_netns(name):
    """Unmount and delete /run/netns/NAME (what ``ip netns delete`` does)."""
    path = netns_path(name)
    try:
        _libcall("umount2", path.encode(), MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):  # not mounted (a bare file) / gone
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _setns(fd):
    _libcall("setns", fd, CLONE_NEWNET)


@contextmanager
def entered(ref):
    """Run the body inside namespace ``ref`` (a name, or a path: ``netns_file``), in this thread
    only; never creates it."""
    try:
        target = os.open(netns_file(ref), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NamespaceMissing(ref) from None
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
