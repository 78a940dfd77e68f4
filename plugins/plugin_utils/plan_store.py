# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One plan per run, kept on the controller for the hosts that apply it.

The role plans the whole inventory once (the network_plan filter, ``run_once``) and writes each
host's part of it here; each host's ``host_network`` action then reads its own part, and
nothing plans the inventory again.  The parts live in a directory of their own inside Ansible's
per-process local temporary directory (``DEFAULT_LOCAL_TMP``): it is made by ansible-playbook
before it forks its workers, shared by all of them, private to the user, and removed when
ansible-playbook exits, so a plan never outlives its run.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible import constants as C

from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import vtep_link_local

PREFIX = "crossnet-plan-"
ROUTED_NETWORKS = "routed_networks.json"
VTEPS = "vteps.json"  # (a part's file name is hex: these two never clash with one)


def write(parts, routed_networks, vteps=None):
    """Write ``{host: part}`` to a new directory; returns the directory.

    A part is ``{args, peers, uplink, unresolved}``: ``args`` the options of host_network and
    ``peers`` the preflight's ``[{host, address, overlay, address6}]``.  The routes toward the
    peers are the bulk of every part (a thousand hosts: a million of them), and the same for every
    host: they are written once, as ``routed_networks`` (``{host: [network, ...]}``, IPv4's and
    IPv6's, each via the peer's node address of that version), and each part keeps only its own
    containers' routes.  Likewise the peers of a VXLAN tunnel: ``vteps`` (``{host:
    {address, mac}}``, the hosts that have a VTEP) is written once and each tunnel keeps no
    peers.  ``read`` puts them back together.
    """
    directory = tempfile.mkdtemp(prefix=PREFIX, dir=C.DEFAULT_LOCAL_TMP)
    _write(os.path.join(directory, ROUTED_NETWORKS), routed_networks)
    if vteps:
        _write(os.path.join(directory, VTEPS), vteps)
    for host, part in parts.items():
        args = part["args"]
        own = sum(len(pair["addresses"]) for pair in args["veth_pairs"])
        args = dict(args, routes=args["routes"][:own])
        if args.get("vxlan_tunnels"):
            args["vxlan_tunnels"] = [dict(tunnel, peers=None) for tunnel in args["vxlan_tunnels"]]
        _write(os.path.join(directory, _filename(host)), dict(part, args=args))
    return directory


def read(directory, host):
    """Host ``host``'s part from ``directory``; raises ValueError when there is none."""
    if not isinstance(directory, str) or not os.path.basename(directory).startswith(PREFIX):
        raise ValueError("plan.store %r is not a directory the network_plan filter wrote" % (directory,))
    try:
        part = _read(os.path.join(directory, _filename(host)))
    except FileNotFoundError:
        raise ValueError("plan.store %s holds no plan for %s: the plan belongs to another run or "
                         "another batch of hosts; plan again" % (directory, host)) from None
    routed = _read(os.path.join(directory, ROUTED_NETWORKS))
    routes = part["args"]["routes"]
    tunnels = part["args"].get("vxlan_tunnels") or []
    if not tunnels:
        for peer in part["peers"]:
            routes.extend(_direct_routes(peer, routed[peer["host"]], part["uplink"]))
        return part
    # A peer reached through the overlay: a route to its VTEP, its containers via the VTEP (over
    # IPv6 via the link-local address of its device), and an entry in the tunnel, in the order of
    # the peers.
    vteps = _read(os.path.join(directory, VTEPS))
    tunnel = tunnels[0]
    device, tunnel["peers"] = tunnel["name"], []
    for peer in part["peers"]:
        if not peer.get("overlay"):
            routes.extend(_direct_routes(peer, routed[peer["host"]], part["uplink"]))
            continue
        vtep = vteps[peer["host"]]
        entry = {"host": peer["host"], "address": vtep["address"], "mac": vtep["mac"], "remote": peer["address"]}
        networks = routed[peer["host"]]
        routes.append({"dest": "%s/32" % vtep["address"], "dev": device, "scope": "link"})
        routes.extend({"dest": dest, "gateway": vtep["address"], "dev": device, "onlink": True}
                      for dest in networks if ":" not in dest)
        networks6 = [dest for dest in networks if ":" in dest]  # (there only when it has IPv6 containers)
        if networks6:
            entry["address6"] = vtep_link_local(vtep["mac"])
            routes.extend({"dest": dest, "gateway": entry["address6"], "dev": device} for dest in networks6)
        tunnel["peers"].append(entry)
    return part


def _direct_routes(peer, networks, uplink):
    """The routes to ``networks`` of a peer reached directly: IPv4 via its node address, IPv6
    via its IPv6 one; none to its IPv6 networks when that is unknown (they are in routes_keep)."""
    address, address6 = peer["address"], peer.get("address6")
    if address6 is None:
        return [{"dest": dest, "gateway": address, "dev": uplink} for dest in networks if ":" not in dest]
    return [{"dest": dest, "gateway": address6 if ":" in dest else address, "dev": uplink} for dest in networks]


def _write(path, document):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, separators=(",", ":")))  # json.dump encodes in Python


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _filename(host):
    # Inventory hostnames may hold '/' or start with '.': the file name must not follow them.
    return "%s.json" % host.encode("utf-8").hex()
