# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's workload: 2 hosts on one segment, N containers each, and their plans.

Container addresses come from a distinct range per host: host k's container i is
10.k.(i // 250).(i % 250 + 1), so the planner merges each host's addresses into a few CIDRs
(or one block with ``cidr=True``).

With ``encapsulation="vxlan"`` the two hosts are on two subnets instead, host k at
192.168.(10k).h/24 with a default route via a router (.1 on each subnet) that knows no container
address: containers reach each other only through the overlay (group vars
crossnet_encapsulation and crossnet_vtep_cidr).
"""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEGMENT = "192.168.9."
HOSTS = (("host1", 3), ("host2", 4))
UPLINK = "eth0"
UPLINK_MTU = 1500
ENCAPSULATIONS = ("none", "vxlan")
VTEP_CIDR = "10.211.0.0/24"
ROUTER = "router"


def subnet(index, encapsulation="none"):
    """The first three octets (with the dot) of host ``index``'s uplink subnet."""
    return SEGMENT if encapsulation == "none" else "192.168.%d." % (10 * index)


def node_address(host, encapsulation="none"):
    """The node address of ``host`` (a name in HOSTS)."""
    for index, (name, last_octet) in enumerate(HOSTS, start=1):
        if name == host:
            return subnet(index, encapsulation) + str(last_octet)
    raise KeyError(host)


def group_vars(encapsulation="none"):
    """The crossnet_hosts group's variables (the lab's inventory has them)."""
    variables = {"crossnet_manage_packages": False}
    if encapsulation != "none":
        variables.update(crossnet_encapsulation=encapsulation, crossnet_vtep_cidr=VTEP_CIDR)
    return variables


def containers(host_index, count):
    return [{"name": "xbc%04d" % i,
             "addresses": ["10.%d.%d.%d" % (host_index, i // 250, i % 250 + 1)]}
            for i in range(count)]


def host_vars(counts, cidr=False, encapsulation="none"):
    """``{host: crossnet_* variables}``; ``counts`` is ``{host: number of containers}``."""
    result = {}
    for index, (name, dummy) in enumerate(HOSTS, start=1):
        variables = {
            "crossnet_uplink": UPLINK,
            "crossnet_node_address": node_address(name, encapsulation),
            "crossnet_containers": containers(index, counts[name]),
        }
        if cidr:
            variables["crossnet_container_cidr"] = "10.%d.0.0/16" % index
        result[name] = variables
    return result


def topology(counts, python="venv", cidr=False, encapsulation="none"):
    """A lab topology document (lab/labkit/topology.py) for the workload: one segment ``lan``,
    or with an overlay one segment per host (``rack1``, ``rack2``) joined by ROUTER."""
    variables = host_vars(counts, cidr, encapsulation)
    routed = encapsulation != "none"
    segments = ["rack%d" % index for index in range(1, len(HOSTS) + 1)] if routed else ["lan"]
    hosts = {}
    for index, (name, dummy) in enumerate(HOSTS, start=1):
        hosts[name] = {"python": python,
                       "links": [{"segment": segments[index - 1 if routed else 0], "ifname": UPLINK,
                                  "address": node_address(name, encapsulation) + "/24"}],
                       "vars": variables[name]}
        if routed:
            hosts[name]["gateway"] = subnet(index, encapsulation) + "1"
    doc = {"segments": segments, "vars": group_vars(encapsulation), "hosts": hosts}
    if routed:
        doc["routers"] = {ROUTER: {"links": [
            {"segment": segment, "ifname": "eth%d" % (index - 1), "address": subnet(index, encapsulation) + "1/24"}
            for index, segment in enumerate(segments, start=1)]}}
    return doc


def plans(counts, cidr=False, collections_dir=None, encapsulation="none"):
    """The planner's output for the workload (what the role applies), computed here directly.

    The facts the role would gather are reduced to what the planner reads: the uplink's MTU.
    """
    if collections_dir:
        sys.path.insert(0, collections_dir)
    from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import network_plan

    variables = host_vars(counts, cidr, encapsulation)
    for values in variables.values():
        values.update(group_vars(encapsulation))
        values["ansible_facts"] = {UPLINK: {"device": UPLINK, "mtu": UPLINK_MTU}}
    return network_plan(variables)


def collections_dir(base):
    """A directory holding ansible_collections/crossnet/routed -> this repository."""
    parent = os.path.join(base, "collections", "ansible_collections", "crossnet")
    os.makedirs(parent, exist_ok=True)
    link = os.path.join(parent, "routed")
    if not os.path.islink(link):
        os.symlink(REPO, link)
    return os.path.join(base, "collections")
