# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generated fleet topologies: H hosts with C containers each, on one segment or on several
segments ("racks") joined into one L2 network by trunks.

Host h (1-based) is ``host<h>`` at 172.20.<h // 250>.<h % 250 + 1>/16 on its rack's segment;
its containers are 10.<h // 256>.<h % 256>.1 .. and its block (``cidr=True``) the /24 around
them, so up to 1000 hosts and 250 containers per host fit.  One outside node (``outside``,
172.20.255.254) sits on the first rack.
"""

from __future__ import annotations

import ipaddress

MAX_HOSTS = 1000
MAX_CONTAINERS = 250
NETWORK = ipaddress.IPv4Network("172.20.0.0/16")
UPLINK = "eth0"


class FleetError(ValueError):
    pass


def node_address(host):
    return "172.20.%d.%d" % (host // 250, host % 250 + 1)


def container_address(host, index):
    return "10.%d.%d.%d" % (host // 256, host % 256, index + 1)


def host_vars(host, containers, cidr=False):
    variables = {
        "crossnet_uplink": UPLINK,
        "crossnet_node_address": node_address(host),
        "crossnet_containers": [{"name": "c%d" % i, "addresses": [container_address(host, i)]}
                                for i in range(containers)],
    }
    if cidr:
        variables["crossnet_container_cidr"] = "10.%d.%d.0/24" % (host // 256, host % 256)
    return variables


def topology(hosts, containers, racks=1, python="alternate", cidr=False, outside=True):
    """A topology document (lab/labkit/topology.py).  ``python``: venv, system, an absolute
    path, or ``alternate`` (odd hosts the venv's Python, even hosts Debian's)."""
    if not 1 <= hosts <= MAX_HOSTS:
        raise FleetError("hosts: 1 to %d" % MAX_HOSTS)
    if not 0 <= containers <= MAX_CONTAINERS:
        raise FleetError("containers per host: 0 to %d" % MAX_CONTAINERS)
    if not 1 <= racks <= hosts:
        raise FleetError("racks: 1 to the number of hosts")
    segments = ["lan"] if racks == 1 else ["rack%d" % r for r in range(1, racks + 1)]
    doc = {"segments": segments, "vars": {"crossnet_manage_packages": False}, "hosts": {}}
    if racks > 1:
        # A chain of trunks: one L2 network, one bridge per rack.
        doc["trunks"] = [[segments[r], segments[r + 1]] for r in range(racks - 1)]
    prefix = NETWORK.prefixlen
    for host in range(1, hosts + 1):
        if python == "alternate":
            interpreter = "venv" if host % 2 else "system"
        else:
            interpreter = python
        doc["hosts"]["host%d" % host] = {
            "python": interpreter,
            # Hosts fill the racks in turn: host1 on rack1, host2 on rack2, ...
            "links": [{"segment": segments[(host - 1) % racks], "ifname": UPLINK,
                       "address": "%s/%d" % (node_address(host), prefix)}],
            "vars": host_vars(host, containers, cidr),
        }
    if outside:
        doc["outside"] = {"outside": {"links": [{"segment": segments[0], "ifname": UPLINK,
                                                 "address": "172.20.255.254/%d" % prefix}]}}
    return doc
