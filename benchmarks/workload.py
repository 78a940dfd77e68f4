# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's workload: 2 hosts on one segment, N containers each, and their plans.

Container addresses come from a distinct range per host: host k's container i is
10.k.(i // 250).(i % 250 + 1), so the planner merges each host's addresses into a few CIDRs
(or one block with ``cidr=True``).
"""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEGMENT = "192.168.9."
HOSTS = (("host1", 3), ("host2", 4))
UPLINK = "eth0"
UPLINK_MTU = 1500


def containers(host_index, count):
    return [{"name": "xbc%04d" % i,
             "addresses": ["10.%d.%d.%d" % (host_index, i // 250, i % 250 + 1)]}
            for i in range(count)]


def host_vars(counts, cidr=False):
    """``{host: crossnet_* variables}``; ``counts`` is ``{host: number of containers}``."""
    result = {}
    for index, (name, last_octet) in enumerate(HOSTS, start=1):
        variables = {
            "crossnet_uplink": UPLINK,
            "crossnet_node_address": SEGMENT + str(last_octet),
            "crossnet_containers": containers(index, counts[name]),
        }
        if cidr:
            variables["crossnet_container_cidr"] = "10.%d.0.0/16" % index
        result[name] = variables
    return result


def topology(counts, python="venv", cidr=False):
    """A lab topology document (lab/labkit/topology.py) for the workload."""
    variables = host_vars(counts, cidr)
    return {
        "segments": ["lan"],
        "vars": {"crossnet_manage_packages": False},
        "hosts": {
            name: {"python": python,
                   "links": [{"segment": "lan", "ifname": UPLINK,
                              "address": "%s%d/24" % (SEGMENT, last_octet)}],
                   "vars": variables[name]}
            for name, last_octet in HOSTS
        },
    }


def plans(counts, cidr=False, collections_dir=None):
    """The planner's output for the workload (what the role applies), computed here directly.

    The facts the role would gather are reduced to what the planner reads: the uplink's MTU.
    """
    if collections_dir:
        sys.path.insert(0, collections_dir)
    from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import network_plan

    variables = host_vars(counts, cidr)
    for values in variables.values():
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
