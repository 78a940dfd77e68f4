# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few network facts the planner needs, in the shape of Ansible's setup facts.

``setup`` describes every interface, and a host with a thousand containers has two thousand:
gathering them costs seconds on every run.  This reads the interface names, the default IPv4 and
IPv6 routes and one interface (the uplink) with a few netlink requests.
"""

from __future__ import annotations

import socket

try:
    import netaddr
except ImportError:  # the module reports it through module_utils.requirements
    pass

from ansible_collections.crossnet.routed.plugins.module_utils.netlink import (
    attr, dump, ipv4_addresses, ipv6_addresses)


def _ipv4_entries(sock, index, ifname):
    entries = []
    for address, prefixlen, label in ipv4_addresses(sock, index):
        network = netaddr.IPNetwork("%s/%d" % (address, prefixlen))
        entries.append({
            "address": str(network.ip),
            "netmask": str(network.netmask),
            "network": str(network.network),
            "prefix": str(network.prefixlen),
            "broadcast": str(network.broadcast) if network.prefixlen < 31 else "",
            "label": label or ifname,
        })
    return entries


def _ipv6_entries(sock, index):
    return [{"address": address, "prefix": str(prefixlen), "scope": scope}
            for address, prefixlen, scope in ipv6_addresses(sock, index)]


def _default_route(sock, family=socket.AF_INET):
    """(interface index, gateway) of the main table's default route with the lowest metric."""
    best = None
    for msg in dump(sock.get_routes, family=family, table=254):
        if msg["dst_len"] != 0 or msg["type"] != 1:  # unicast default routes only
            continue
        metric = attr(msg, "RTA_PRIORITY", 0)
        if best is None or metric < best[0]:
            best = (metric, attr(msg, "RTA_OIF"), attr(msg, "RTA_GATEWAY"))
    return (best[1], best[2]) if best else (None, None)


def gather(sock, uplink=None):
    """ansible_facts: ``interfaces``, ``default_ipv4``, ``default_ipv6`` and the uplink's own
    entry (with ``ipv4``, ``ipv4_secondaries`` and ``ipv6``, as setup gives them)."""
    names = dict(socket.if_nameindex())
    facts = {"interfaces": sorted(names.values()), "default_ipv4": {}, "default_ipv6": {}}
    for key, family in (("default_ipv4", socket.AF_INET), ("default_ipv6", socket.AF_INET6)):
        default_index, gateway = _default_route(sock, family)
        if default_index in names:
            facts[key] = {"interface": names[default_index], "gateway": gateway}
    ifname = uplink or facts["default_ipv4"].get("interface")
    index = next((i for i, name in names.items() if name == ifname), None)
    if index is None:
        return facts
    link = dump(sock.get_links, index)[0]
    entries = _ipv4_entries(sock, index, ifname)
    entry = {"device": ifname, "mtu": attr(link, "IFLA_MTU"), "active": bool(link["flags"] & 1),
             "macaddress": attr(link, "IFLA_ADDRESS")}
    if entries:
        entry["ipv4"] = entries[0]
        entry["ipv4_secondaries"] = entries[1:]
        if facts["default_ipv4"].get("interface") == ifname:
            facts["default_ipv4"].update(entries[0])
    entries6 = _ipv6_entries(sock, index)
    if entries6:
        entry["ipv6"] = entries6
        if facts["default_ipv6"].get("interface") == ifname:
            facts["default_ipv6"].update(next((e for e in entries6 if e["scope"] == "global"), {}))
    facts[ifname.replace("-", "_")] = entry
    return facts
