# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-interface IPv4 sysctls for proxy ARP, read and written through /proc/sys.

The paths take the interface name as it is: ``eth0.100`` is the directory ``eth0.100`` (the
``sysctl`` tool would read the dots as separators)."""

from __future__ import annotations

import os

from ansible_collections.crossnet.routed.plugins.module_utils import names as namerules
from ansible_collections.crossnet.routed.plugins.module_utils.failure import StepFailed

PROC_SYS = "/proc/sys"
KEYS = {
    "proxy_arp": "net/ipv4/conf/%s/proxy_arp",
    "proxy_delay": "net/ipv4/neigh/%s/proxy_delay",
    "rp_filter": "net/ipv4/conf/%s/rp_filter",
}
PRESENT = {"proxy_arp": 1, "proxy_delay": 0, "rp_filter": 1}
ABSENT = {"proxy_arp": 0, "proxy_delay": 80, "rp_filter": 0}  # the kernel's defaults


def path(key, ifname, root=PROC_SYS):
    return os.path.join(root, KEYS[key] % ifname)


def read(key, ifname, root=PROC_SYS):
    """Integer value, or None when the interface does not exist."""
    try:
        with open(path(key, ifname, root), encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except FileNotFoundError:
        return None


def write(key, ifname, value, root=PROC_SYS):
    with open(path(key, ifname, root), "w", encoding="ascii") as handle:
        handle.write("%d\n" % value)


def wanted(state, rp_filter):
    keys = ["proxy_arp", "proxy_delay"] + (["rp_filter"] if rp_filter else [])
    table = PRESENT if state == "present" else ABSENT
    return {key: table[key] for key in keys}


def plan(interfaces, current, state, rp_filter, check_mode=False):
    """Pure.  ``current``: ifname -> {key: value or None}.  Returns (writes, errors, report) where
    writes is [(ifname, key, value)] and report lists each interface's before/after."""
    writes, errors, report = [], [], []
    target = wanted(state, rp_filter)
    for ifname in interfaces:
        have = current[ifname]
        if any(value is None for value in have.values()):
            if state == "present" and not check_mode:
                errors.append("interface %s does not exist in the host namespace" % ifname)
            elif state == "present":
                report.append({"name": ifname, "before": None, "after": dict(target)})
                writes.extend((ifname, key, value) for key, value in sorted(target.items()))
            continue
        after = dict(have)
        for key, value in sorted(target.items()):
            if have[key] != value:
                writes.append((ifname, key, value))
                after[key] = value
        report.append({"name": ifname, "before": dict(have), "after": after})
    return writes, errors, report


def observe(interfaces, rp_filter, root=PROC_SYS):
    keys = wanted("present", rp_filter)
    return {ifname: {key: read(key, ifname, root) for key in keys} for ifname in interfaces}


def run(params, check_mode, diff):
    """The proxy_arp module's work: ``params`` as its argument spec gives them; the result dict."""
    interfaces = list(dict.fromkeys(params["interfaces"]))
    bad = ["interface %r %s" % (n, namerules.ifname_error(n)) for n in interfaces if namerules.ifname_error(n)]
    if bad:
        raise StepFailed("; ".join(bad))
    current = observe(interfaces, params["rp_filter"])
    writes, errors, report = plan(interfaces, current, params["state"], params["rp_filter"], check_mode)
    if errors:
        raise StepFailed("; ".join(errors))
    if not check_mode:
        for ifname, key, value in writes:
            try:
                write(key, ifname, value)
            except OSError as exc:
                raise StepFailed("cannot set %s on interface %s: %s" % (key, ifname, exc)) from exc
    result = dict(changed=bool(writes), interfaces=report)
    if diff:
        result["diff"] = dict(before={r["name"]: r["before"] for r in report},
                              after={r["name"]: r["after"] for r in report})
    return result
