# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name rules shared by the modules and the controller-side planner."""

from __future__ import annotations

import collections
import hashlib
import re

IFNAMSIZ = 16  # the kernel's buffer, so 15 usable characters
HOST_IFNAME_PREFIX = "cnr"
NETNS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_IFNAME_FORBIDDEN = re.compile(r"[/:\s]")


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


def host_ifname(netns, peer_ifname="eth0"):
    """Deterministic host-side veth name for a container interface (14 characters)."""
    digest = hashlib.sha1(("%s/%s" % (netns, peer_ifname)).encode("utf-8")).hexdigest()
    return HOST_IFNAME_PREFIX + digest[:11]


def repeated(items, key=None):
    """The items listed more than once, each once, sorted (by ``key``)."""
    counts = collections.Counter(items)
    return sorted((item for item, count in counts.items() if count > 1), key=key)
