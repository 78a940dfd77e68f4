# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name rules shared by the modules and the controller-side planner."""

from __future__ import annotations

import collections
import hashlib
import posixpath
import re

IFNAMSIZ = 16  # the kernel's buffer, so 15 usable characters
HOST_IFNAME_PREFIX = "cnr"
NETNS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_IFNAME_FORBIDDEN = re.compile(r"[/:\s]")
PATH_MAX = 4096
NETNS_RUN_DIR = "/run/netns"


def ifname_error(name):
    """Return why ``name`` cannot be a Linux interface name, or None when it can."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > IFNAMSIZ - 1:
        return "is %d characters long, the kernel allows at most %d" % (len(name), IFNAMSIZ - 1)
    if name in (".", ".."):
        return "cannot be '.' or '..'"
    if _IFNAME_FORBIDDEN.search(name):
        return "must not contain '/', ':' or whitespace"
    return None


def netns_error(name):
    """Return why ``name`` cannot be a network namespace name, or None when it can."""
    if not isinstance(name, str) or not NETNS_NAME.match(name) or name in (".", ".."):
        return "must match %s" % NETNS_NAME.pattern
    return None


def netns_path_error(path):
    """Return why ``path`` cannot be a container's ``netns_path`` (a namespace file made by a
    container runtime, such as ``/proc/<pid>/ns/net`` or ``/run/netns/<id>``), or None when it can.
    Only the spelling is checked: an absolute, normalised path."""
    if not isinstance(path, str) or not path:
        return "must be a non-empty string"
    if "\0" in path or "\n" in path or "\r" in path:
        return "must not contain a NUL or line break"
    if not path.startswith("/"):
        return "must be an absolute path"
    if ".." in path.split("/"):
        return "must not contain '..'"
    normal = posixpath.normpath(path)
    if path.startswith("//") or normal != path:
        return "is not normalised (write %s)" % posixpath.normpath("/" + path.lstrip("/"))
    if path in ("/", NETNS_RUN_DIR):
        return "is a directory, not a namespace file"
    if path.split("/")[1:3] in (["proc", "self"], ["proc", "thread-self"]):
        return "names the namespace of whichever process opens it (the module's: the host's own)"
    if len(path.encode("utf-8", "surrogatepass")) >= PATH_MAX:
        return "is longer than %d bytes" % (PATH_MAX - 1)
    return None


def host_ifname(netns, peer_ifname="eth0"):
    """Deterministic host-side veth name for a container interface (14 characters)."""
    digest = hashlib.sha1(("%s/%s" % (netns, peer_ifname)).encode("utf-8")).hexdigest()
    return HOST_IFNAME_PREFIX + digest[:11]


def repeated(items, key=None):
    """The items listed more than once, each once, sorted (by ``key``)."""
    counts = collections.Counter(items)
    return sorted((item for item, count in counts.items() if count > 1), key=key)
