# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab topology files: segments (L2 bridges), hosts (crossnet_hosts), outside nodes and
routers between segments.

    segments: [lan, wan]
    trunks: [[rack1, rack2]]                       # optional: segments joined into one L2 network
    vars: {crossnet_manage_packages: false}        # group vars of crossnet_hosts
    hosts:
      host1:
        python: venv                               # venv | system | /absolute/path
        links:                                     # address (IPv4) and/or address6 (IPv6)
          - {segment: lan, ifname: eth0, address: 192.168.9.3/24, address6: "fd00:9::3/64"}
        gateway: 192.168.9.1                       # optional: a default route
        gateway6: "fd00:9::1"                      # optional: an IPv6 default route
        routes: [{dest: 10.0.0.0/8, via: 192.168.9.1}]   # optional: more routes (either family)
        vars: {crossnet_uplink: eth0, crossnet_containers: [...]}
    outside:
      outside:
        links:
          - {segment: wan, ifname: eth0, address: 192.168.8.10/24}
        gateway: 192.168.8.1
    routers:                                       # optional: forwarding on, not in the inventory
      router:
        links:                                     # on two segments or more
          - {segment: lan, ifname: eth0, address: 192.168.9.1/24}
          - {segment: wan, ifname: eth1, address: 192.168.8.1/24}
        routes: []                                 # and gateway:, gateway6: as the other nodes

A link needs ``address`` (an IPv4 interface address), ``address6`` (an IPv6 one: global or
unique local, not link-local) or both.  Every ``via``, ``gateway`` and ``gateway6`` must be
on-link: inside the subnet of one of the node's links of its family (``gateway`` IPv4,
``gateway6`` IPv6; a route's ``via`` of its ``dest``'s family).
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
TOP_KEYS = {"segments", "trunks", "vars", "hosts", "outside", "routers"}
LINK_KEYS = {"segment", "ifname", "address", "address6"}
ROUTE_KEYS = {"dest", "via"}
ROUTING_KEYS = {"links", "routes", "gateway", "gateway6"}
# Topology section -> the kind of its nodes and the keys a node of that kind may have.
SECTIONS = (
    ("hosts", "host", ROUTING_KEYS | {"python", "vars"}),
    ("outside", "outside", ROUTING_KEYS),
    ("routers", "router", ROUTING_KEYS),
)
DEFAULT_ROUTE = ipaddress.IPv4Network("0.0.0.0/0")
DEFAULT_ROUTE6 = ipaddress.IPv6Network("::/0")
FAMILIES = (4, 6)
MAX_HOPS = 16  # routers crossed before a path counts as a routing loop


class TopologyError(ValueError):
    pass


@dataclasses.dataclass
class Link:
    segment: str
    ifname: str
    address: ipaddress.IPv4Interface = None  # None on an IPv6-only link
    address6: ipaddress.IPv6Interface = None

    def interfaces(self):
        """The link's interface addresses, IPv4 first."""
        return [a for a in (self.address, self.address6) if a is not None]

    def interface(self, version):
        return self.address if version == 4 else self.address6


@dataclasses.dataclass
class Route:
    dest: ipaddress.IPv4Network  # or IPv6Network
    via: ipaddress.IPv4Address  # of the dest's family


@dataclasses.dataclass
class Node:
    name: str
    kind: str  # "host", "outside" or "router"
    links: list
    python: str = PYTHONS["system"]
    vars: dict = dataclasses.field(default_factory=dict)
    routes: list = dataclasses.field(default_factory=list)  # Route; the gateway is the one to 0.0.0.0/0

    @property
    def address(self):
        """The node's first IPv4 address (on an IPv6-only node its first IPv6 address): how
        the inventory and the other nodes name it."""
        return self.address_of(4) or self.address_of(6)

    @property
    def address6(self):
        """The node's first IPv6 address, or None."""
        return self.address_of(6)

    def address_of(self, version):
        """The node's first address of IP version ``version`` (4 or 6) as text, or None."""
        for link in self.links:
            if link.interface(version) is not None:
                return str(link.interface(version).ip)
        return None

    @property
    def gateway(self):
        for route in self.routes:
            if route.dest == DEFAULT_ROUTE:
                return route.via
        return None

    @property
    def gateway6(self):
        for route in self.routes:
            if route.dest == DEFAULT_ROUTE6:
                return route.via
        return None

    def link_to(self, address):
        """The link whose subnet (of the address's family) holds ``address``, or None."""
        address = ipaddress.ip_address(address)
        for link in self.links:
            interface = link.interface(address.version)
            if interface is not None and address in interface.network:
                return link
        return None

    def route_to(self, address):
        """The most specific route toward ``address`` (not on-link), or None."""
        address = ipaddress.ip_address(address)
        matching = [r for r in self.routes if r.dest.version == address.version and address in r.dest]
        return max(matching, key=lambda r: r.dest.prefixlen, default=None)


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

    @property
    def routers(self):
        return [n for n in self.nodes if n.kind == "router"]

    def node(self, name):
        for node in self.nodes:
            if node.name == name:
                return node
        raise TopologyError("no node %r in this lab" % name)

    def owner(self, address):
        """The node that has ``address`` (either family) on one of its links, or None."""
        try:
            address = ipaddress.ip_address(address)
        except ValueError:
            return None
        for node in self.nodes:
            if any(a.ip == address for link in node.links for a in link.interfaces()):
                return node
        return None

    def routers_on_path(self, node, address):
        """Names of the routers a packet from ``node`` to ``address`` crosses, following the
        topology's links and routes ([] on-link); None when some node on the way has no route,
        the next hop is no router, or the path loops."""
        crossed = []
        while node.link_to(address) is None:
            route = node.route_to(address)
            hop = self.owner(route.via) if route else None
            if hop is None or hop.kind != "router" or len(crossed) == MAX_HOPS:
                return None
            crossed.append(hop.name)
            node = hop
        return crossed


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


def _refuse_unknown_keys(what, raw, known):
    if not isinstance(raw, dict):
        raise TopologyError("%s: a mapping, not %r" % (what, raw))
    unknown = sorted(set(raw) - known, key=str)
    if unknown:
        names = ", ".join(map(str, unknown))
        raise TopologyError("%s: unknown key %s (known: %s)" % (what, names, ", ".join(sorted(known))))


def _links(node, raw, segments):
    if not isinstance(raw, list) or not raw:
        raise TopologyError("node %s: links must be a non-empty list" % node)
    links, ifnames = [], set()
    for item in raw:
        _refuse_unknown_keys("node %s: link %r" % (node, item), item, LINK_KEYS)
        if item.get("address") is None and item.get("address6") is None:
            raise TopologyError("node %s: bad link %r (give address, address6 or both)" % (node, item))
        try:
            link = Link(item["segment"], item.get("ifname", "eth0"),
                        None if item.get("address") is None else ipaddress.IPv4Interface(item["address"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TopologyError("node %s: bad link %r (%s)" % (node, item, exc)) from None
        if item.get("address6") is not None:
            link.address6 = _address6(node, item)
        if link.segment not in segments:
            raise TopologyError("node %s: unknown segment %r" % (node, link.segment))
        if not IFNAME_RE.match(link.ifname) or link.ifname in ifnames:
            raise TopologyError("node %s: bad or duplicate ifname %r" % (node, link.ifname))
        ifnames.add(link.ifname)
        links.append(link)
    return links


def _address6(node, item):
    """A link's ``address6``: an IPv6 interface address the node can be reached at (global or
    unique local; not link-local, multicast, loopback, unspecified or IPv4-mapped)."""
    raw = item["address6"]
    try:
        if not isinstance(raw, str):
            raise ValueError("not a string")
        interface = ipaddress.IPv6Interface(raw)
    except ValueError as exc:
        raise TopologyError("node %s: bad link %r (address6 %r is no IPv6 address: %s)"
                            % (node, item, raw, exc)) from None
    ip = interface.ip
    kinds = (("link-local", ip.is_link_local), ("multicast", ip.is_multicast), ("loopback", ip.is_loopback),
             ("unspecified", ip.is_unspecified), ("IPv4-mapped", ip.ipv4_mapped is not None))
    kind = next((name for name, flag in kinds if flag), None)
    if kind is not None:
        raise TopologyError("node %s: bad link %r (address6 %s is %s: give a global or unique local address)"
                            % (node, item, ip, kind))
    return interface


def _next_hop(node, what, raw, links, version=4):
    """``raw`` as a next hop of ``node``: an address of IP version ``version`` inside the
    subnet of one of its links."""
    try:
        via = ipaddress.IPv4Address(raw) if version == 4 else ipaddress.IPv6Address(raw)
    except ValueError as exc:
        raise TopologyError("node %s: %s %r is no IPv%d address (%s)" % (node, what, raw, version, exc)) from None
    nets = [ln.interface(version) for ln in links if ln.interface(version) is not None]
    interface = next((a for a in nets if via in a.network), None)
    if interface is None:
        raise TopologyError("node %s: %s %s is not on-link: in none of the %ssubnets of its links (%s)"
                            % (node, what, via, "" if version == 4 else "IPv6 ",
                               ", ".join(str(a.network) for a in nets) or "none"))
    if via == interface.ip:
        raise TopologyError("node %s: %s %s is the node's own address" % (node, what, via))
    network = interface.network
    # IPv4: the network and broadcast addresses; IPv6: the subnet-router anycast address.
    reserved = (network.network_address, network.broadcast_address) if version == 4 else (network.network_address,)
    if network.prefixlen < network.max_prefixlen - 1 and via in reserved:
        raise TopologyError("node %s: %s %s is not a host address of %s" % (node, what, via, interface.network))
    return via


def _routes(node, spec, links):
    """The node's routes: ``routes`` (dest, via; IPv4 or IPv6), ``gateway`` (a route to
    0.0.0.0/0) and ``gateway6`` (a route to ::/0)."""
    raw = [] if spec.get("routes") is None else spec["routes"]
    if not isinstance(raw, list):
        raise TopologyError("node %s: routes must be a list of {dest, via}" % node)
    routes = []
    for item in raw:
        _refuse_unknown_keys("node %s: route %r" % (node, item), item, ROUTE_KEYS)
        if "dest" not in item or "via" not in item:
            raise TopologyError("node %s: route %r needs dest and via" % (node, item))
        version = 6 if ":" in str(item["dest"]) else 4
        try:
            dest = (ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network)(item["dest"])
        except ValueError as exc:
            raise TopologyError("node %s: route dest %r is no IPv%d network (%s)"
                                % (node, item["dest"], version, exc)) from None
        connected = next((ln for ln in links if any(a.network == dest for a in ln.interfaces())), None)
        if connected is not None:
            raise TopologyError("node %s: route to %s: the subnet of its link %s (the kernel routes it already)"
                                % (node, dest, connected.ifname))
        routes.append(Route(dest, _next_hop(node, "route to %s: via" % dest, item["via"], links, dest.version)))
    if spec.get("gateway") is not None:
        routes.append(Route(DEFAULT_ROUTE, _next_hop(node, "gateway", spec["gateway"], links)))
    if spec.get("gateway6") is not None:
        routes.append(Route(DEFAULT_ROUTE6, _next_hop(node, "gateway6", spec["gateway6"], links, 6)))
    dests = [r.dest for r in routes]
    for dest in dests:
        if dests.count(dest) > 1:
            raise TopologyError("node %s: more than one route to %s (a gateway is the route to 0.0.0.0/0, "
                                "a gateway6 the route to ::/0)" % (node, dest))
    return routes


def _node(name, kind, spec, segments):
    links = _links(name, spec.get("links"), segments)
    if kind == "router" and len({link.segment for link in links}) < 2:
        raise TopologyError("router %s: links on two segments or more (it forwards between them)" % name)
    return Node(name, kind, links, _python(spec.get("python")), dict(spec.get("vars") or {}),
                _routes(name, spec, links))


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
    _refuse_unknown_keys("topology", doc, TOP_KEYS)
    segments = [check_name("segment", s) for s in doc.get("segments") or []]
    if not segments:
        raise TopologyError("a topology needs at least one segment")
    nodes = []
    for section, kind, keys in SECTIONS:
        nodes_of_section = doc.get(section) or {}
        if not isinstance(nodes_of_section, dict):
            raise TopologyError("%s: a mapping of node names to nodes" % section)
        for name, spec in nodes_of_section.items():
            check_name("node", name)
            if name in RESERVED_NODES or any(n.name == name for n in nodes):
                raise TopologyError("node name %r is reserved or used twice" % name)
            spec = spec or {}
            _refuse_unknown_keys("%s node %s" % (kind, name), spec, keys)
            nodes.append(_node(name, kind, spec, segments))
    if not any(n.kind == "host" for n in nodes):
        raise TopologyError("a topology needs at least one host")
    seen = {}
    for node in nodes:
        for link in node.links:
            for interface in link.interfaces():
                if interface.ip in seen:
                    raise TopologyError("address %s used by %s and %s" % (interface.ip, seen[interface.ip], node.name))
                seen[interface.ip] = node.name
    return Topology(segments, nodes, dict(doc.get("vars") or {}), _trunks(doc.get("trunks") or [], segments))


def load(path):
    with open(path, encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle))
