# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only checks a host must pass before the container network is applied to it."""

from __future__ import annotations

import os
import socket

from ansible_collections.crossnet.routed.plugins.module_utils.netlink import (
    NetlinkError,
    attr,
    dump,
    error_code,
    ipv4_addresses,
    ipv6_addresses,
)

IFF_UP = 0x1
RTN_LOCAL = 2
# Route types a packet does not leave by (rtnetlink.h): blackhole, unreachable, prohibit, throw.
RTN_DROPPED = {6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw"}

# The checks' arguments: the preflight module's, and network_facts' ``preflight`` option.
ARGUMENT_SPEC = dict(
    host=dict(type="str"),
    uplink=dict(type="str", required=True),
    node_address=dict(type="str", required=True),
    node_address6=dict(type="str"),
    peers=dict(type="list", elements="dict", default=[], options=dict(
        host=dict(type="str", required=True),
        address=dict(type="str", required=True),
        address6=dict(type="str"),
        overlay=dict(type="bool", default=False),
    )),
)


def _uplink(sock, uplink):
    """The uplink's link message, or None."""
    for link in dump(sock.get_links):
        if attr(link, "IFLA_IFNAME") == uplink:
            return link
    return None


def _route_to(sock, address):
    """What the kernel would do with a packet to ``address``: a dict, or None when unreachable."""
    try:
        answer = dump(sock.route, "get", dst=address)
    except NetlinkError as exc:
        return {"error": "no route (%s)" % (exc.args[-1] if exc.args else error_code(exc))}
    if not answer:
        return {"error": "no route"}
    msg = answer[0]
    return {"oif": attr(msg, "RTA_OIF"), "gateway": attr(msg, "RTA_GATEWAY"),
            "type": msg["type"], "source": attr(msg, "RTA_PREFSRC")}


def _canonical6(address):
    """``address`` as the kernel prints it (compressed), or as given when it is not IPv6."""
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, address))
    except (OSError, ValueError, TypeError):
        return address


def check(sock, host, uplink, node_address, peers, node_address6=None):
    """Check the uplink, the node addresses and every peer; return (facts, errors).

    ``peers`` is a list of ``{"host": name, "address": node address, "address6": IPv6 node
    address or None, "overlay": bool}``: a peer is on-link via the uplink (both families), or
    with ``overlay`` (reached through the VXLAN tunnel) only reachable through the routing
    table, whatever the next hop and the interface.  Nothing is changed: only link, address
    and route lookups (RTM_GETROUTE computes a route, it sends nothing).
    """
    errors = []
    facts = {"uplink": uplink, "node_address": node_address, "peers": []}
    link = _uplink(sock, uplink)
    if link is None:
        errors.append("host %s: uplink %s does not exist" % (host, uplink))
        return facts, errors
    index = link["index"]
    addresses = sorted(address for address, dummy, dummy in ipv4_addresses(sock, index))
    facts.update(uplink_index=index, uplink_mtu=attr(link, "IFLA_MTU"),
                 uplink_up=bool(link["flags"] & IFF_UP), uplink_addresses=addresses)
    if not facts["uplink_up"]:
        errors.append("host %s: uplink %s is down" % (host, uplink))
    if node_address not in addresses:
        errors.append("host %s: node address %s is not on uplink %s (it has %s)"
                      % (host, node_address, uplink, ", ".join(addresses) or "no IPv4 address"))
    if node_address6:
        global6 = sorted(address for address, dummy, scope in ipv6_addresses(sock, index) if scope == "global")
        facts.update(node_address6=node_address6, uplink_addresses6=global6)
        if _canonical6(node_address6) not in global6:
            errors.append("host %s: IPv6 node address %s is not on uplink %s (it has %s)"
                          % (host, node_address6, uplink, ", ".join(global6) or "no global IPv6 address"))

    ifnames = {}  # interface index -> name, dumped once when a message needs it
    for peer in peers:
        _check_peer(sock, host, peer, peer["address"], "node address", index, uplink, ifnames, facts, errors)
        if peer.get("address6"):  # the IPv6 routes go on-link via the uplink, never through the overlay
            _check_peer(sock, host, dict(peer, overlay=False), peer["address6"], "IPv6 node address", index, uplink,
                        ifnames, facts, errors)
    return facts, errors


def _check_peer(sock, host, peer, address, what, index, uplink, ifnames, facts, errors):
    """The checks of one of ``peer``'s node addresses (``what`` names it in messages)."""
    peer_host = peer["host"]
    route = _route_to(sock, address)
    found = dict(route, host=peer_host, address=address)
    facts["peers"].append(found)
    where = "host %s: peer %s %s %s" % (host, peer_host, what, address)
    if "error" in route:
        errors.append("%s is not reachable: %s" % (where, route["error"]))
    elif route["type"] == RTN_LOCAL:
        errors.append("%s is an address of this host" % where)
    elif peer.get("overlay"):
        # The tunnel's packets to it go wherever the routing table sends them.
        found.update(overlay=True, next_hop=route["gateway"] or "on-link",
                     interface=_ifname(sock, route["oif"], ifnames))
        if route["type"] in RTN_DROPPED:
            errors.append("%s is not reachable: the host's route to it is %s"
                          % (where, RTN_DROPPED[route["type"]]))
        elif route["oif"] is None:
            errors.append("%s is not reachable: the route lookup names no interface" % where)
    elif route["oif"] != index:
        errors.append("%s is not on-link via uplink %s: the kernel routes it via %s"
                      % (where, uplink, _ifname(sock, route["oif"], ifnames)))
    elif route["gateway"] is not None:
        errors.append("%s is not on-link via uplink %s: the kernel routes it via gateway %s"
                      % (where, uplink, route["gateway"]))


def _ifname(sock, index, cache):
    """The name of interface ``index``; ``cache`` (a dict) keeps the links of one dump."""
    if index is None:
        return None
    if not cache:
        cache.update((link["index"], attr(link, "IFLA_IFNAME")) for link in dump(sock.get_links))
    return cache.get(index) or "interface #%s" % index


def check_params(sock, params):
    """check() with arguments as ARGUMENT_SPEC gives them; ``host`` defaults to the node name."""
    return check(sock, params["host"] or os.uname().nodename, params["uplink"], params["node_address"],
                 params["peers"], params.get("node_address6"))
