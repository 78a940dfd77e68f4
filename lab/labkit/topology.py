# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab topology files: segments (L2 bridges), hosts (crossnet_hosts) and outside nodes.

    segments: [lan]
    trunks: [[rack1, rack2]]                       # optional: segments joined into one L2 network
    vars: {crossnet_manage_packages: false}        # group vars of crossnet_hosts
    hosts:
      host1:
        python: venv                               # venv | system | /absolute/path
        links:
          - {segment: lan, ifname: eth0, address: 192.168.9.3/24}
        vars: {crossnet_uplink: eth0, crossnet_containers: [...]}
    outside:
      outside:
        links:
          - {segment: lan, ifname: eth0, address: 192.168.9.10/24}
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re

import yaml

# The real path: a host sees the checkout at it even when the controller came through a symlink.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
PYTHONS = {
    "venv": os.path.join(REPO, ".venv", "bin", "python"),
    "system": "/usr/bin/python3",
}
# No dash in lab or node names: "xl-<lab>-" is then a prefix of this lab's namespaces only.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,11}$")
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.]{1,15}$")
RESERVED_NODES = {"switch"}


class TopologyError(ValueError):
    pass


@dataclasses.dataclass
class Link:
    segment: str
    ifname: str
    address: ipaddress.IPv4Interface


@dataclasses.dataclass
class Node:
    name: str
    kind: str  # "host" or "outside"
    links: list
    python: str = PYTHONS["system"]
    vars: dict = dataclasses.field(default_factory=dict)

    @property
    def address(self):
        """The node's first address: how the inventory and the other nodes name it."""
        return str(self.links[0].address.ip)


@dataclasses.dataclass
class Topology:
    segments: list
    nodes: list
    vars: dict
    trunks: list = dataclasses.field(default_factory=list)

    @property
    def hosts(self):
        return [n for n in self.nodes if n.kind == "host"]

    @property
    def outside(self):
        return [n for n in self.nodes if n.kind == "outside"]

    def node(self, name):
        for node in self.nodes:
            if node.name == name:
                return node
        raise TopologyError("no node %r in this lab" % name)


def check_name(what, name):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TopologyError("%s name %r: use 1-12 of a-z 0-9 _, starting with a letter" % (what, name))
    return name


def _python(value):
    if value is None:
        return PYTHONS["system"]
    if value in PYTHONS:
        return PYTHONS[value]
    if isinstance(value, str) and os.path.isabs(value):
        return value
    raise TopologyError("python %r: use venv, system or an absolute path" % (value,))


def _links(node, raw, segments):
    if not isinstance(raw, list) or not raw:
        raise TopologyError("node %s: links must be a non-empty list" % node)
    links, ifnames = [], set()
    for item in raw:
        try:
            link = Link(item["segment"], item.get("ifname", "eth0"), ipaddress.IPv4Interface(item["address"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TopologyError("node %s: bad link %r (%s)" % (node, item, exc)) from None
        if link.segment not in segments:
            raise TopologyError("node %s: unknown segment %r" % (node, link.segment))
        if not IFNAME_RE.match(link.ifname) or link.ifname in ifnames:
            raise TopologyError("node %s: bad or duplicate ifname %r" % (node, link.ifname))
        ifnames.add(link.ifname)
        links.append(link)
    return links


def _trunks(raw, segments):
    """Pairs of segments bridged together.  They must not close a loop: the lab's bridges run
    no spanning tree, and a loop would flood the segments with copies of every broadcast."""
    if not isinstance(raw, list):
        raise TopologyError("trunks must be a list of [segment, segment] pairs")
    root = {s: s for s in segments}

    def find(segment):
        while root[segment] != segment:
            segment = root[segment]
        return segment

    trunks = []
    for pair in raw:
        if not isinstance(pair, list) or len(pair) != 2 or any(s not in segments for s in pair):
            raise TopologyError("trunk %r: a pair of known segments" % (pair,))
        a, b = find(pair[0]), find(pair[1])
        if a == b:
            raise TopologyError("trunk %r closes a loop (the lab's bridges run no spanning tree)" % (pair,))
        root[a] = b
        trunks.append(list(pair))
    return trunks


def parse(doc):
    if not isinstance(doc, dict):
        raise TopologyError("a topology is a mapping")
    segments = [check_name("segment", s) for s in doc.get("segments") or []]
    if not segments:
        raise TopologyError("a topology needs at least one segment")
    nodes = []
    for kind, section in (("host", "hosts"), ("outside", "outside")):
        for name, spec in (doc.get(section) or {}).items():
            check_name("node", name)
            if name in RESERVED_NODES or any(n.name == name for n in nodes):
                raise TopologyError("node name %r is reserved or used twice" % name)
            spec = spec or {}
            nodes.append(Node(name, kind, _links(name, spec.get("links"), segments),
                              _python(spec.get("python")), dict(spec.get("vars") or {})))
    if not any(n.kind == "host" for n in nodes):
        raise TopologyError("a topology needs at least one host")
    seen = {}
    for node in nodes:
        for link in node.links:
            if str(link.address.ip) in seen:
                raise TopologyError("address %s used by %s and %s" % (link.address.ip, seen[str(link.address.ip)], node.name))
            seen[str(link.address.ip)] = node.name
    return Topology(segments, nodes, dict(doc.get("vars") or {}), _trunks(doc.get("trunks") or [], segments))


def load(path):
    with open(path, encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle))
