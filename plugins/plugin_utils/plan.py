# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side planner: the inventory of all crossnet hosts -> one plan per host.

Pure functions, no Ansible objects: ``network_plan()`` takes plain dicts (each host's
``crossnet_*`` variables and its ``ansible_facts``) and returns ``{host: plan}`` in the shape
docs/design.md describes, or raises ``PlanError`` listing every problem of the whole inventory.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import re

try:
    import netaddr
except ImportError as exc:  # reported by the filter, which needs it on the controller
    NETADDR_IMPORT_ERROR = exc
else:
    NETADDR_IMPORT_ERROR = None

from ansible_collections.crossnet.routed.plugins.module_utils import names

DEFAULT_GATEWAY = "169.254.1.1"
DEFAULT_GATEWAY6 = "fe80::1"
DEFAULT_PEER_IFNAME = "eth0"
CONTAINER_KEYS = frozenset(("name", "addresses", "ifname", "host_ifname", "mtu", "netns_path"))
MIN_MTU = 68
MAX_MTU = 65535

# Encapsulation toward the peers (crossnet_encapsulation), weakest first: a pair of hosts uses
# the stronger of its two hosts' modes.
ENCAPSULATIONS = ("none", "cross_subnet", "vxlan")
VXLAN_DEVICE = "crossnet-vxlan"
DEFAULT_VXLAN_VNI = 4096
DEFAULT_VXLAN_PORT = 4789
MAX_VXLAN_VNI = 16777215
# VXLAN over IPv4: outer IP (20) + UDP (8) + VXLAN (8) + the inner Ethernet header (14).
VXLAN_OVERHEAD = 50
DEFAULT_UPLINK_MTU = 1500  # the overlay's MTU when the facts do not give the uplink's

# Stricter than the kernel: interface names end up in sysctl paths, iptables rules and logs.
_SAFE_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


class PlanError(Exception):
    """The inventory is not valid; ``errors`` lists every problem found."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("the crossnet inventory is not valid (%d problems):\n- %s"
                         % (len(self.errors), "\n- ".join(self.errors)))


IPV6_NOT_SUPPORTED = "is IPv6; IPv6 is not supported yet"


def _ipv4_error(text):
    """Return why ``text`` is not a bare dotted-quad IPv4 address, or None."""
    if not isinstance(text, str):
        return "is not a string"
    if ":" in text and netaddr.valid_ipv6(text.split("/")[0]):
        return IPV6_NOT_SUPPORTED
    if not _DOTTED_QUAD.match(text) or not netaddr.valid_ipv4(text, flags=netaddr.INET_PTON):
        return "is not a valid IPv4 address"
    return None


def _looks_ipv6(text):
    return isinstance(text, str) and ":" in text


def _parse_address6(text):
    """A bare IPv6 address (``/128`` may be written).  Returns (IPAddress, error)."""
    bare, slash, prefix = text.partition("/")
    if not netaddr.valid_ipv6(bare):
        return None, "is not a valid IPv6 address"
    if slash and prefix != "128":
        return None, "must be a single address (bare or /128), not a /%s network" % prefix
    return netaddr.IPAddress(bare, 6), None


def parse_address(text, ipv6=False):
    """A bare IPv4 address (``/32`` may be written), or with ``ipv6`` also a bare IPv6 address
    (``/128`` may be written).  Returns (IPAddress, error)."""
    if ipv6 and _looks_ipv6(text):
        return _parse_address6(text)
    if isinstance(text, str) and "/" in text:
        bare, prefix = text.split("/", 1)
        error = _ipv4_error(bare)
        if error:
            return None, error
        if prefix != "32":
            return None, "must be a single address (bare or /32), not a /%s network" % prefix
        text = bare
    if isinstance(text, str) and _DOTTED_QUAD.match(text):
        try:
            return netaddr.IPAddress(text, 4, flags=netaddr.INET_PTON), None
        except (netaddr.AddrFormatError, ValueError):
            pass
    return None, _ipv4_error(text) or "is not a valid IPv4 address"


def parse_network(text, bare_is_host=False, ipv6=False):
    """An IPv4 CIDR without host bits, or with ``ipv6`` also an IPv6 one.  Returns (IPNetwork, error)."""
    if not isinstance(text, str):
        return None, "is not a string"
    bare, slash, prefix = text.partition("/")
    if ipv6 and ":" in bare:
        error, width, example = None if netaddr.valid_ipv6(bare) else "is not a valid IPv6 address", 128, 64
    else:
        error, width, example = _ipv4_error(bare), 32, 24
    if error:
        return None, error
    if not slash:
        if not bare_is_host:
            return None, "needs a prefix length (for example %s/%d)" % (bare, example)
        prefix = str(width)
    if not prefix.isdigit() or int(prefix) > width:
        return None, "has an invalid prefix length"
    network = netaddr.IPNetwork("%s/%s" % (bare, int(prefix)))
    if network.ip != network.network:
        return None, "has host bits set (the network is %s)" % network.cidr
    return network, None


def _unusable_ranges(*entries):
    """((first, last, why), ...) of the networks (CIDR, why) no container address may be in."""
    return tuple((network.first, network.last, why)
                 for network, why in ((netaddr.IPNetwork(cidr), why) for cidr, why in entries))


if NETADDR_IMPORT_ERROR is None:
    # Compared as integers: netaddr's is_multicast() and the like cost more than the rest of
    # reading an address (a hundred thousand containers).
    _UNUSABLE = {
        4: _unusable_ranges(("0.0.0.0/32", "is the unspecified address"),
                            ("127.0.0.0/8", "is a loopback address"),
                            ("224.0.0.0/4", "is a multicast address")),
        6: _unusable_ranges(("::/128", "is the unspecified address"),
                            ("::1/128", "is a loopback address"),
                            ("::ffff:0:0/96", "is an IPv4-mapped address"),
                            ("fe80::/10", "is a link-local address (fe80::/10)"),
                            ("ff00::/8", "is a multicast address")),
    }


def _unusable_error(address):
    """Why ``address`` can be no container's (nor node's IPv6) address, or None."""
    value = address.value
    for first, last, why in _UNUSABLE[address.version]:
        if first <= value <= last:
            return why
    return None


def _ipv6_elsewhere(error, variable):
    """An IPv4-only variable given an IPv6 address: say where that one goes."""
    return "is IPv6: set it as %s" % variable if error == IPV6_NOT_SUPPORTED else error


def _ifname_error(name):
    error = names.ifname_error(name)
    if error is None and not _SAFE_IFNAME.match(name):
        error = "may only contain letters, digits, '_', '.' and '-' (and start with a letter or digit)"
    return error


def _integer(value, low, high):
    """Return (int, error) for an integer in ``low``..``high`` given as int or digit string."""
    if isinstance(value, bool):
        return None, "is not an integer"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int):
        return None, "is not an integer"
    if not low <= value <= high:
        return None, "is out of range %d-%d" % (low, high)
    return value, None


def _mtu(value):
    """Return (int, error) for an MTU given as int or digit string."""
    return _integer(value, MIN_MTU, MAX_MTU)


def _interface_facts(facts, ifname):
    """The facts Ansible gathered about interface ``ifname`` ({} when there are none)."""
    for key in (ifname, ifname.replace("-", "_"), re.sub(r"[-.:]", "_", ifname)):
        value = facts.get(key)
        if isinstance(value, dict) and value.get("device", ifname) == ifname:
            return value
    for value in facts.values():
        if isinstance(value, dict) and value.get("device") == ifname:
            return value
    return {}


def _uplink_networks(uplink_facts):
    """The IPv4 networks on the uplink according to the facts (primary and secondaries)."""
    networks = []
    entries = [uplink_facts.get("ipv4") or {}] + list(uplink_facts.get("ipv4_secondaries") or [])
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        address, netmask = entry.get("address"), entry.get("netmask")
        if isinstance(address, str) and isinstance(netmask, str):
            try:
                networks.append(netaddr.IPNetwork("%s/%s" % (address, netmask)))
            except (netaddr.AddrFormatError, ValueError, TypeError):
                continue
    return networks


def _global_ipv6(uplink_facts):
    """The first global IPv6 address of the uplink according to the facts (setup's ``ipv6``
    list of {address, prefix, scope}), or None."""
    entries = uplink_facts.get("ipv6")
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and entry.get("scope") == "global" and isinstance(entry.get("address"), str):
            return entry["address"]
    return None


class _Host:
    """One host's validated settings."""

    def __init__(self, name):
        self.name = name
        self.uplink = None
        self.node_address = None
        # Where node_address came from: "crossnet_node_address", "facts" or "ansible_host".  The
        # last is a guess for a host without facts (unreachable when the play started): only a
        # peer whose own uplink network holds it routes through it.
        self.node_source = None
        self.unresolved = None
        self.has_facts = False
        self.node_address6 = None
        self.node6_source = None  # "crossnet_node_address6" or "facts" (even when not valid)
        self.uplink_networks = []
        self.mtu = None
        self.block = None  # the IPv4 crossnet_container_cidr
        self.block6 = None  # the IPv6 one
        self.containers = []
        self.ipv6 = False  # whether a container has an IPv6 address
        self.merged = None  # _merged(): the IPv4 addresses
        self.merged6 = None  # _merged6()
        self.routes_toward = {}  # _routes_toward(): uplink name -> routes to these containers
        self._preflight_entry = None
        # The overlay (see _plan_overlay).  rank: the index of encapsulation in ENCAPSULATIONS.
        self.encapsulation, self.rank = "none", 0
        self.vni, self.port = DEFAULT_VXLAN_VNI, DEFAULT_VXLAN_PORT
        self.vtep = None  # IPAddress: crossnet_vtep_address, or derived from vtep_cidr
        self.vtep_explicit = False
        self.vtep_cidr = None
        self.overlay = False  # whether at least one peer is reached through the overlay
        self.overlay_mtu = None
        self.ranges = None  # the uplink's networks as (first, last) integers, when cross_subnet is used
        self.node_int = None
        self._overlay_entries = None

    @property
    def guessed(self):
        return self.node_source == "ansible_host"

    @property
    def preflight_entry(self):
        """How the other hosts' preflight names this one (made once, shared by their plans)."""
        if self._preflight_entry is None:
            self._preflight_entry = {"host": self.name, "address": str(self.node_address), "overlay": False,
                                     "address6": self.routed_address6}
        return self._preflight_entry

    @property
    def routed_address6(self):
        """The next hop of the routes to this host's IPv6 containers (None: it has none, or the
        address is unknown)."""
        if not self.ipv6 or self.node_address6 is None:
            return None
        return str(self.node_address6)

    @property
    def overlay_entries(self):
        """(preflight entry, tunnel peer, routes) of the hosts that reach this one through the
        overlay: made once, shared by their plans like preflight_entry and routes_toward."""
        if self._overlay_entries is None:
            node, vtep, mac = str(self.node_address), str(self.vtep), vtep_mac(self.vtep)
            routes = [{"dest": "%s/32" % vtep, "dev": VXLAN_DEVICE, "scope": "link"}]
            routes.extend({"dest": dest, "gateway": vtep, "dev": VXLAN_DEVICE, "onlink": True}
                          for dest in _peer_networks(self))
            tunnel_peer = {"host": self.name, "address": vtep, "mac": mac, "remote": node}
            if self.ipv6:
                # IPv6 has no IPv4 next hop: its routes go via the link-local address the peer's
                # device has (from its MAC), which a neighbour entry resolves to that MAC
                tunnel_peer["address6"] = vtep_link_local(mac)
                routes.extend({"dest": dest, "gateway": tunnel_peer["address6"], "dev": VXLAN_DEVICE}
                              for dest in _peer_networks6(self))
            self._overlay_entries = (
                {"host": self.name, "address": node, "overlay": True, "address6": None}, tunnel_peer, routes)
        return self._overlay_entries


class _Container:
    def __init__(self, name, ifname, host_ifname, addresses4, addresses6, mtu, explicit_mtu=False,
                 netns_path=None):
        self.name = name
        # a namespace a container runtime made (its file), wired but never created or removed;
        # None: the collection's own namespace /run/netns/<name>
        self.netns_path = netns_path
        self.ifname = ifname
        self.host_ifname = host_ifname
        self.addresses4, self.addresses6 = addresses4, addresses6
        self.addresses = addresses4 + addresses6 if addresses6 else addresses4  # IPv4's first
        self.mtu = mtu
        self.explicit_mtu = explicit_mtu  # the inventory gives it (else the uplink's or the overlay's)


def _read_host(name, variables, errors):
    """Validate one host's own variables (nothing that needs the other hosts)."""
    host = _Host(name)
    facts = variables.get("ansible_facts") or {}
    # No network facts: the host was unreachable when the play started (or facts were not
    # gathered).  What would come from them is then unknown, not wrong: see _resolve_guesses.
    has_facts = host.has_facts = "interfaces" in facts

    uplink = variables.get("crossnet_uplink")
    if uplink is None:
        uplink = (facts.get("default_ipv4") or {}).get("interface")
        if not uplink and has_facts:
            errors.append("host %s: crossnet_uplink is not set and its facts show no default IPv4 "
                          "route to take the uplink from; set crossnet_uplink" % name)
        elif not uplink:
            host.unresolved = "crossnet_uplink is not set and the host has no facts"
    if uplink is not None:
        error = _ifname_error(uplink)
        if error:
            errors.append("host %s: crossnet_uplink %r %s" % (name, uplink, error))
        else:
            host.uplink = uplink
    uplink_facts = _interface_facts(facts, host.uplink) if host.uplink else {}

    host.uplink_networks = _uplink_networks(uplink_facts)

    node_address, host.node_source = variables.get("crossnet_node_address"), "crossnet_node_address"
    if node_address is None:
        node_address, host.node_source = (uplink_facts.get("ipv4") or {}).get("address"), "facts"
        if not node_address and host.uplink and has_facts:
            errors.append("host %s: crossnet_node_address is not set and its facts show no IPv4 "
                          "address on uplink %s; set crossnet_node_address" % (name, host.uplink))
        elif not node_address and not has_facts:
            node_address, host.node_source = _ansible_host_guess(variables.get("ansible_host"))
            host.unresolved = host.unresolved or (
                "crossnet_node_address is not set and the host has no facts")
    if node_address:
        host.node_address, error = parse_address(node_address)
        if error:
            errors.append("host %s: crossnet_node_address %r %s"
                          % (name, node_address, _ipv6_elsewhere(error, "crossnet_node_address6")))
    _read_node_address6(host, variables, uplink_facts, errors)

    if uplink_facts.get("mtu") is not None:
        host.mtu = _mtu(uplink_facts["mtu"])[0]

    blocks = variables.get("crossnet_container_cidr")
    if blocks is not None:
        _read_blocks(host, blocks, errors)

    _read_overlay(host, variables, errors)

    containers = variables.get("crossnet_containers", [])
    if containers is None:
        containers = []
    if not isinstance(containers, list):
        errors.append("host %s: crossnet_containers must be a list, got %s"
                      % (name, type(containers).__name__))
        return host
    seen = {}
    for index, item in enumerate(containers):
        container = _read_container(host, index, item, errors)
        if container is None:
            continue
        if container.name in seen:
            errors.append("host %s: container %r is listed twice (entries %d and %d)"
                          % (name, container.name, seen[container.name], index))
            continue
        seen[container.name] = index
        host.containers.append(container)
        if container.addresses6:
            host.ipv6 = True

    _check_netns_paths(host, errors)
    by_ifname = {}
    for container in host.containers:
        if container.host_ifname == host.uplink:
            errors.append("host %s: container %r: host_ifname %r is the uplink"
                          % (name, container.name, container.host_ifname))
        other = by_ifname.setdefault(container.host_ifname, container.name)
        if other != container.name:
            errors.append("host %s: containers %r and %r both use host_ifname %r"
                          % (name, other, container.name, container.host_ifname))
    return host


def _read_node_address6(host, variables, uplink_facts, errors):
    """crossnet_node_address6, else the uplink's first global IPv6 address (facts).  Whether a
    missing one is a problem depends on the other hosts: see _check_node_addresses6."""
    text, source = variables.get("crossnet_node_address6"), "crossnet_node_address6"
    if text is None:
        text, source = _global_ipv6(uplink_facts), "facts"
        if text is None:
            return
    host.node6_source = source
    address, error = _parse_address6(text) if _looks_ipv6(text) else (None, "is not an IPv6 address")
    if error is None:
        error = _unusable_error(address)
    if error is None:
        host.node_address6 = address
    elif source == "facts":
        errors.append("host %s: the IPv6 address %r of uplink %s (facts) %s; set crossnet_node_address6"
                      % (host.name, text, host.uplink, error))
    else:
        errors.append("host %s: crossnet_node_address6 %r %s" % (host.name, text, error))


def _read_blocks(host, value, errors):
    """crossnet_container_cidr: one CIDR, or a list of at most one per family."""
    for text in value if isinstance(value, list) else [value]:
        network, error = parse_network(text, ipv6=True)
        if error:
            errors.append("host %s: crossnet_container_cidr %r %s" % (host.name, text, error))
            continue
        attribute = "block" if network.version == 4 else "block6"
        other = getattr(host, attribute)
        if other is not None:
            errors.append("host %s: crossnet_container_cidr has two IPv%d blocks, %s and %s; give at most one "
                          "per family" % (host.name, network.version, other, network))
            continue
        setattr(host, attribute, network)


def _check_netns_paths(host, errors):
    """A runtime's namespace is wired for one container of the host, and is none of the
    namespaces the collection makes itself (/run/netns/<container name>): the netns step would
    remove that one once no container without netns_path has the name."""
    if not any(container.netns_path for container in host.containers):
        return  # (the common case: no dictionaries built for nothing at a thousand containers)
    by_path = {}
    own = {}
    for container in host.containers:
        for run_dir in (names.NETNS_RUN_DIR, "/var" + names.NETNS_RUN_DIR):  # /var/run: a link to /run
            own["%s/%s" % (run_dir, container.name)] = container.name
    for container in host.containers:
        path = container.netns_path
        if path is None:
            continue
        other = by_path.setdefault(path, container.name)
        if other != container.name:
            errors.append("host %s: containers %r and %r both use netns_path %r (one namespace, one container)"
                          % (host.name, other, container.name, path))
        if path in own:
            errors.append("host %s: container %r: netns_path %r is where the collection keeps the namespace "
                          "it makes for container %r; a runtime's namespace needs another name there (or "
                          "leave netns_path out to have the collection make it)"
                          % (host.name, container.name, path, own[path]))


def _ansible_host_guess(ansible_host):
    """(address, "ansible_host") when ``ansible_host`` is an IPv4 literal, else (None, None)."""
    if isinstance(ansible_host, str) and _ipv4_error(ansible_host) is None:
        return ansible_host, "ansible_host"
    return None, None


def _read_overlay(host, variables, errors):
    """The host's overlay settings (each checked alone; _plan_overlay checks them together)."""
    name = host.name
    mode = variables.get("crossnet_encapsulation")
    if mode is not None:
        if isinstance(mode, str) and mode in ENCAPSULATIONS:
            host.encapsulation, host.rank = mode, ENCAPSULATIONS.index(mode)
        else:
            errors.append("host %s: crossnet_encapsulation %r is not one of %s"
                          % (name, mode, ", ".join(ENCAPSULATIONS)))
    for key, attribute, high in (("crossnet_vxlan_vni", "vni", MAX_VXLAN_VNI),
                                 ("crossnet_vxlan_port", "port", 65535)):
        value = variables.get(key)
        if value is not None:
            number, error = _integer(value, 1, high)
            if error:
                errors.append("host %s: %s %r %s" % (name, key, value, error))
            else:
                setattr(host, attribute, number)
    vtep = variables.get("crossnet_vtep_address")
    if vtep is not None:
        host.vtep, error = parse_address(vtep)
        if error:
            errors.append("host %s: crossnet_vtep_address %r %s" % (name, vtep, error))
        else:
            host.vtep_explicit = True
    cidr = variables.get("crossnet_vtep_cidr")
    if cidr is not None:
        host.vtep_cidr, error = parse_network(cidr)
        if error:
            errors.append("host %s: crossnet_vtep_cidr %r %s" % (name, cidr, error))


def _read_container(host, index, item, errors):
    where = "host %s: crossnet_containers[%d]" % (host.name, index)
    if not isinstance(item, dict):
        errors.append("%s must be a dict with name and addresses, got %s"
                      % (where, type(item).__name__))
        return None
    ok = True
    for key in sorted(set(item) - CONTAINER_KEYS, key=str):
        errors.append("%s: unknown key %r (known: %s)" % (where, key, ", ".join(sorted(CONTAINER_KEYS))))
        ok = False
    for key in ("name", "addresses"):
        if key not in item:
            errors.append("%s: missing required key %r" % (where, key))
            ok = False
    if "name" not in item:
        return None

    name = item["name"]
    error = names.netns_error(name)
    if error:
        errors.append("%s: container name %r %s" % (where, name, error))
        ok = False  # its other fields are still checked, so that every problem is reported
    where = "host %s: container %r" % (host.name, name)

    ifname = item.get("ifname", DEFAULT_PEER_IFNAME)
    error = _ifname_error(ifname)
    if error:
        errors.append("%s: ifname %r %s" % (where, ifname, error))
        ok = False

    host_ifname = item.get("host_ifname")
    if host_ifname is None:
        if ok:
            host_ifname = names.host_ifname(name, ifname)
    else:
        error = _ifname_error(host_ifname)
        if error:
            errors.append("%s: host_ifname %r %s" % (where, host_ifname, error))
            ok = False

    mtu, explicit_mtu = host.mtu, "mtu" in item
    if explicit_mtu:
        mtu, error = _mtu(item["mtu"])
        if error:
            errors.append("%s: mtu %r %s" % (where, item["mtu"], error))
            ok = False

    netns_path = item.get("netns_path")
    if netns_path is not None:
        error = names.netns_path_error(netns_path)
        if error:
            errors.append("%s: netns_path %r %s" % (where, netns_path, error))
            ok = False

    addresses4, addresses6 = [], []
    raw = item.get("addresses", [])
    if not isinstance(raw, list) or not raw:
        if "addresses" in item:
            errors.append("%s: addresses must be a non-empty list of IPv4 or IPv6 addresses, got %r"
                          % (where, raw))
        ok = False
    else:
        for text in raw:
            if isinstance(text, str) and ":" in text:
                (address, error), addresses = _parse_address6(text), addresses6
            else:
                (address, error), addresses = parse_address(text), addresses4
            if error is None:
                error = _unusable_error(address)
            if error:
                errors.append("%s: address %r %s" % (where, text, error))
                ok = False
            else:
                addresses.append(address)
    if not ok:
        return None
    return _Container(name, ifname, host_ifname, addresses4, addresses6, mtu, explicit_mtu, netns_path)


class _Blocks:
    """Every host's crossnet_container_cidr of one IP version, indexed for "which blocks hold
    this address".

    CIDR blocks either nest or are disjoint, so the blocks holding an address are found by
    looking its network up at each prefix length in use: no scan over the hosts.
    """

    def __init__(self, hosts, version=4):
        self.version = version
        self.hosts = [host for host in hosts if self.block(host) is not None]
        self.order = {id(host): index for index, host in enumerate(self.hosts)}
        self._by_network = {}
        for host in self.hosts:
            block = self.block(host)
            self._by_network.setdefault((block.prefixlen, block.first), []).append(host)
        width = 32 if version == 4 else 128
        full = (1 << width) - 1
        self._masks = sorted({(prefixlen, (full << (width - prefixlen)) & full)
                              for prefixlen, dummy in self._by_network})
        # What each block holds that it must not, found by _check_topology: node addresses,
        # container addresses.
        self.held = {id(host): ([], []) for host in self.hosts}
        self.nodes, self.addresses = {}, {}  # filled by _check_topology

    def block(self, host):
        return host.block if self.version == 4 else host.block6

    def holding(self, address):
        """The hosts whose block holds ``address`` (an IPAddress), in inventory order."""
        value = int(address)
        found = []
        for prefixlen, mask in self._masks:
            found.extend(self._by_network.get((prefixlen, value & mask), ()))
        if len(self._masks) > 1:
            found.sort(key=lambda host: self.order[id(host)])
        return found

    def overlapping_pairs(self):
        """Every (earlier, later) pair of hosts, in inventory order, whose blocks overlap."""
        block = self.block
        ordered = sorted(self.hosts, key=lambda host: (block(host).first, block(host).prefixlen,
                                                       self.order[id(host)]))
        pairs, enclosing = [], []
        for host in ordered:
            while enclosing and block(enclosing[-1]).last < block(host).first:
                enclosing.pop()
            # Sorted by first address, widest first: every block still open holds this one.
            for other in enclosing:
                pairs.append(tuple(sorted((host, other), key=lambda item: self.order[id(item)])))
            enclosing.append(host)
        pairs.sort(key=lambda pair: (self.order[id(pair[0])], self.order[id(pair[1])]))
        return pairs


def _check_topology(hosts, gateway, errors, gateway6=None):
    """Checks across hosts: unique addresses, blocks, node addresses, the gateways.

    One pass over the containers and an index of the blocks of each IP version; the problems are
    reported in the order of the inventory, the blocks' after the per-address ones (IPv4's, then
    IPv6's).
    """
    nodes = _node_owners(hosts, gateway, errors)
    nodes6 = _node6_owners(hosts, errors)
    blocks, blocks6 = _Blocks(hosts), _Blocks(hosts, 6)
    by_version = {4: (blocks, nodes), 6: (blocks6, nodes6)}
    owners = {}
    for host in hosts:
        for container in host.containers:
            for address in container.addresses:
                where = "host %s: container %r: address %s" % (host.name, container.name, address)
                owner = owners.get(address)
                if owner == (host.name, container.name):
                    errors.append("%s is listed twice" % where)
                    continue
                if owner is not None:
                    errors.append("%s is already used by host %s container %r"
                                  % (where, owner[0], owner[1]))
                    continue
                owners[address] = (host.name, container.name)
                index, node_owners = by_version[address.version]
                if address == gateway:
                    errors.append("%s is the containers' gateway (crossnet_gateway)" % where)
                if address in node_owners:
                    errors.append("%s is the node address of host %s" % (where, node_owners[address]))
                block = index.block(host)
                if block is not None and address not in block:
                    errors.append("%s is outside the host's crossnet_container_cidr %s"
                                  % (where, block))
                for block_host in index.holding(address):
                    if block_host.name != host.name:
                        index.held[id(block_host)][1].append(
                            "host %s: crossnet_container_cidr %s holds address %s of host %s "
                            "container %r" % (block_host.name, index.block(block_host), address, host.name,
                                              container.name))
    _check_blocks(blocks, nodes, gateway, errors)
    _check_blocks(blocks6, nodes6, gateway6, errors)
    # For the overlay's checks (_plan_overlay): who has which node and container address.
    blocks.nodes, blocks.addresses = nodes, owners
    return blocks


def _node_owners(hosts, gateway, errors):
    """{IPv4 node address: host name} of the hosts whose node address is known, not guessed."""
    nodes = {}
    for host in hosts:
        if host.node_address is None or host.guessed:
            continue
        if host.node_address == gateway:
            errors.append("host %s: crossnet_node_address %s is the containers' gateway "
                          "(crossnet_gateway)" % (host.name, host.node_address))
        other = nodes.setdefault(host.node_address, host.name)
        if other != host.name:
            errors.append("host %s: crossnet_node_address %s is also the node address of host %s"
                          % (host.name, host.node_address, other))
    return nodes


def _node6_owners(hosts, errors):
    """{IPv6 node address: host name}."""
    nodes6 = {}
    for host in hosts:
        if host.node_address6 is None:
            continue
        other = nodes6.setdefault(host.node_address6, host.name)
        if other != host.name:
            errors.append("host %s: %s is also the IPv6 node address of host %s"
                          % (host.name, _node6_text(host), other))
    return nodes6


def _node6_text(host):
    if host.node6_source == "facts":
        return "IPv6 node address %s (the facts of uplink %s)" % (host.node_address6, host.uplink)
    return "crossnet_node_address6 %s" % host.node_address6


def _check_blocks(blocks, nodes, gateway, errors):
    """The blocks of one IP version: overlaps, and the node addresses and gateway they hold
    (the container addresses they hold are in ``blocks.held`` already)."""
    for node, node_host in nodes.items():
        for block_host in blocks.holding(node):
            blocks.held[id(block_host)][0].append(
                "host %s: crossnet_container_cidr %s holds the node address %s of host %s"
                % (block_host.name, blocks.block(block_host), node, node_host))
    overlaps = {id(host): [] for host in blocks.hosts}
    for host, other in blocks.overlapping_pairs():
        overlaps[id(host)].append(
            "host %s: crossnet_container_cidr %s overlaps crossnet_container_cidr %s of host %s"
            % (host.name, blocks.block(host), blocks.block(other), other.name))
    for host in blocks.hosts:
        block = blocks.block(host)
        errors.extend(overlaps[id(host)])
        if gateway is not None and gateway in block:
            errors.append("host %s: crossnet_container_cidr %s holds the containers' gateway %s"
                          % (host.name, block, gateway))
        for found in blocks.held[id(host)]:
            errors.extend(found)


def _check_node_addresses6(hosts, errors):
    """When any host has IPv6 containers a host needs an IPv6 node address if it reaches a peer
    directly (not through the overlay) and either has IPv6 containers; except a host without
    facts (unreachable: the others keep their routes toward its IPv6 containers).  Runs after
    _plan_overlay, which says which pairs use the overlay."""
    with_ipv6 = [host for host in hosts if host.ipv6]
    if not with_ipv6:
        return
    for host in hosts:
        if host.node6_source is not None or not host.has_facts:
            continue
        first = next((peer for peer in (hosts if host.ipv6 else with_ipv6)
                      if peer is not host and not _overlay_pair(host, peer)), None)
        if first is None:
            continue  # every such peer is reached through the overlay
        if host.ipv6:
            what = "has IPv6 containers but"
        else:
            what = "peer %s has IPv6 containers but host %s has" % (first.name, host.name)
        errors.append("host %s: %s no IPv6 node address: set crossnet_node_address6 or give %s a global "
                      "IPv6 address" % (host.name, what, "uplink %s" % host.uplink if host.uplink else "its uplink"))


def _resolve_guesses(hosts, gateway, blocks):
    """Drop a guessed node address that collides with anything the inventory says."""
    taken = {host.node_address: host.name for host in hosts
             if host.node_address is not None and not host.guessed}
    guesses = {}
    for host in hosts:
        if host.guessed:
            guesses.setdefault(host.node_address, []).append(host.name)
    if not guesses:
        return
    for host in hosts:
        for container in host.containers:
            for address in container.addresses:
                if address in guesses:
                    taken.setdefault(address, "host %s container %r" % (host.name, container.name))
    for host in hosts:
        if not host.guessed:
            continue
        address, clash = host.node_address, None
        if address in taken:
            clash = "is also used by %s" % taken[address]
        elif address == gateway:
            clash = "is the containers' gateway"
        elif len(guesses[address]) > 1:
            clash = "is also the ansible_host of %s" % ", ".join(
                other for other in guesses[address] if other != host.name)
        elif blocks.holding(address):
            clash = "is inside a crossnet_container_cidr"
        if clash:
            host.unresolved = "%s; its ansible_host %s %s" % (host.unresolved, address, clash)
            host.node_address, host.node_source = None, None


def vtep_link_local(mac):
    """The IPv6 link-local address the kernel gives a device with MAC ``mac`` (EUI-64)."""
    return str(netaddr.EUI(mac).ipv6_link_local())


def vtep_mac(address):
    """The VTEP's MAC address: ``02:63:`` and the four octets of its address in hex."""
    return "02:63:%02x:%02x:%02x:%02x" % tuple(netaddr.IPAddress(address).words)


def _hosts_text(names, most=5):
    """"host a", "hosts a, b", "hosts a, b, c, d, e and 7 more"."""
    if len(names) == 1:
        return "host %s" % names[0]
    text = ", ".join(names[:most])
    if len(names) > most:
        text += " and %d more" % (len(names) - most)
    return "hosts %s" % text


def _says_on_link(judge, other):
    """Whether ``judge``'s facts put ``other``'s node address in a network of its uplink.  Without
    the facts (or the address) it cannot say otherwise: the preflight checks the direct route."""
    if judge.ranges is None or other.node_int is None:
        return True
    value = other.node_int
    for first, last in judge.ranges:
        if first <= value <= last:
            return True
    return False


def _overlay_pair(one, two):
    """Whether hosts ``one`` and ``two`` reach each other through the overlay."""
    rank = one.rank if one.rank > two.rank else two.rank
    if rank != 1:
        return rank == 2
    return not (_says_on_link(one, two) and _says_on_link(two, one))


def _plan_overlay(hosts, gateway, blocks, errors):
    """Which hosts need the overlay, their VTEPs, VNI, port and MTU; problems go to ``errors``."""
    _check_vteps(hosts, gateway, blocks, errors)
    users = [host for host in hosts if host.rank]
    if not users:
        return
    if any(host.rank == 1 for host in users):
        for host in hosts:
            host.ranges = [(network.first, network.last) for network in host.uplink_networks] or None
            host.node_int = None if host.node_address is None else int(host.node_address)
    any_vxlan = any(host.rank == 2 for host in users)
    for host in hosts:
        if host.rank == 2:
            host.overlay = len(hosts) > 1
        elif host.rank == 1:
            host.overlay = any_vxlan or any(_overlay_pair(host, peer) for peer in hosts if peer is not host)
        else:
            _refuse_plain_peer(host, [peer for peer in users if _overlay_pair(host, peer)], errors)
    overlay = [host for host in hosts if host.overlay]
    if not overlay:
        return
    for key, attribute in (("crossnet_vxlan_vni", "vni"), ("crossnet_vxlan_port", "port")):
        first = overlay[0]
        for host in overlay[1:]:
            if getattr(host, attribute) != getattr(first, attribute):
                errors.append("host %s: %s %s differs from %s of host %s; every host that uses the "
                              "overlay needs the same" % (host.name, key, getattr(host, attribute),
                                                          getattr(first, attribute), first.name))
    _derive_vteps(hosts, overlay, gateway, blocks, errors)
    for host in overlay:
        uplink_mtu = DEFAULT_UPLINK_MTU if host.mtu is None else host.mtu
        mtu = uplink_mtu - VXLAN_OVERHEAD
        if mtu < MIN_MTU:
            errors.append("host %s: the overlay's MTU %d (uplink MTU %d - %d for VXLAN) is below %d"
                          % (host.name, mtu, uplink_mtu, VXLAN_OVERHEAD, MIN_MTU))
            continue
        host.overlay_mtu = mtu
        for container in host.containers:
            if not container.explicit_mtu:
                container.mtu = mtu
            elif container.mtu > mtu:
                errors.append("host %s: container %r: mtu %d is above the overlay's MTU %d (uplink MTU "
                              "%d - %d for VXLAN); lower it or leave it unset"
                              % (host.name, container.name, container.mtu, mtu, uplink_mtu, VXLAN_OVERHEAD))


def _refuse_plain_peer(host, reached, errors):
    """``host`` has crossnet_encapsulation none, but the hosts ``reached`` need the overlay to it."""
    if not reached:
        return
    described = ["%s (%s%s)" % (peer.name, peer.encapsulation, ", not on-link" if peer.rank == 1 else "")
                 for peer in reached]
    if len(described) == 1:
        errors.append("host %s: crossnet_encapsulation none, but host %s reaches it through the overlay; "
                      "set crossnet_encapsulation on both" % (host.name, described[0]))
    else:
        errors.append("host %s: crossnet_encapsulation none, but %s reach it through the overlay; "
                      "set crossnet_encapsulation on all of them" % (host.name, _hosts_text(described)))


def _check_vteps(hosts, gateway, blocks, errors):
    """Explicit VTEP addresses and the VTEP CIDRs against everything else the inventory holds."""
    seen, cidrs = {}, {}
    for host in hosts:
        if host.vtep_cidr is not None:
            cidrs.setdefault(host.vtep_cidr, []).append(host.name)
        if not host.vtep_explicit:
            continue
        where = "host %s: crossnet_vtep_address %s" % (host.name, host.vtep)
        if gateway is not None and host.vtep == gateway:
            errors.append("%s is the containers' gateway (crossnet_gateway)" % where)
        if host.vtep in blocks.nodes:
            errors.append("%s is the node address of host %s" % (where, blocks.nodes[host.vtep]))
        owner = blocks.addresses.get(host.vtep)
        if owner is not None:
            errors.append("%s is the address of host %s container %r" % (where, owner[0], owner[1]))
        for block_host in blocks.holding(host.vtep):
            errors.append("%s is inside crossnet_container_cidr %s of host %s"
                          % (where, block_host.block, block_host.name))
        other = seen.setdefault(host.vtep, host.name)
        if other != host.name:
            errors.append("%s is also the crossnet_vtep_address of host %s" % (where, other))
    for cidr, names in cidrs.items():
        for block_host in blocks.hosts:
            if block_host.block.first <= cidr.last and cidr.first <= block_host.block.last:
                errors.append("%s: crossnet_vtep_cidr %s overlaps crossnet_container_cidr %s of host %s"
                              % (_hosts_text(names), cidr, block_host.block, block_host.name))


def _derive_vteps(hosts, overlay, gateway, blocks, errors):
    """A VTEP address for each host of ``overlay`` without crossnet_vtep_address, from its
    crossnet_vtep_cidr: in host-name order, each from sha256(name) on to the first free address,
    so that adding or removing a host rarely moves another's."""
    taken = {int(host.vtep) for host in hosts if host.vtep_explicit}
    taken.update(int(host.node_address) for host in hosts if host.node_address is not None)
    if gateway is not None:
        taken.add(int(gateway))
    for host in sorted((host for host in overlay if not host.vtep_explicit), key=lambda item: item.name):
        cidr = host.vtep_cidr
        if cidr is None:
            errors.append("host %s needs a VTEP address: set crossnet_vtep_cidr (all hosts) or "
                          "crossnet_vtep_address" % host.name)
            continue
        first, count = (cidr.first + 1, cidr.size - 2) if cidr.prefixlen < 31 else (cidr.first, cidr.size)
        start = int.from_bytes(hashlib.sha256(host.name.encode("utf-8")).digest(), "big") % count
        for step in range(count):
            value = first + (start + step) % count
            if value not in taken and netaddr.IPAddress(value, 4) not in blocks.addresses:
                taken.add(value)
                host.vtep = netaddr.IPAddress(value, 4)
                break
        else:
            errors.append("host %s: crossnet_vtep_cidr %s has no free address left for its VTEP (%d usable, "
                          "all taken by VTEP, node or container addresses or the gateway)" % (host.name, cidr, count))


def _peer_address(host, peer):
    """The next hop ``host`` uses for ``peer``'s containers, or None when it is unknown."""
    if peer.node_address is None:
        return None
    if peer.node_source == "ansible_host" and not any(peer.node_address in net for net in host.uplink_networks):
        return None
    return peer.node_address


def _cidrs(networks):
    return [str(network) for network in netaddr.cidr_merge(networks)]


def _merged(host):
    """``host``'s IPv4 container addresses merged into CIDRs (computed once per host)."""
    if host.merged is None:
        host.merged = _cidrs([address for container in host.containers for address in container.addresses4])
    return host.merged


def _merged6(host):
    """``host``'s IPv6 container addresses merged into CIDRs (computed once per host)."""
    if host.merged6 is None:
        host.merged6 = _cidrs([address for container in host.containers for address in container.addresses6]
                              if host.ipv6 else [])
    return host.merged6


def _peer_networks(host):
    """What the other hosts route to ``host`` over IPv4: its block, else exactly its addresses merged."""
    if host.block is not None:
        return [str(host.block)]
    return _merged(host)


def _peer_networks6(host):
    """The same over IPv6 (only routed when ``host`` has IPv6 containers)."""
    if host.block6 is not None:
        return [str(host.block6)]
    return _merged6(host)


def _routes_toward(peer, uplink):
    """The routes to ``peer``'s containers via its node address out of ``uplink``.

    Every host with that uplink name routes them alike, so the route dicts are made once and
    shared by those hosts' plans (a thousand hosts' plans hold a million of them): a plan is
    read, never changed in place.
    """
    routes = peer.routes_toward.get(uplink)
    if routes is None:
        address, address6 = peer.preflight_entry["address"], peer.preflight_entry["address6"]
        routes = peer.routes_toward[uplink] = [{"dest": dest, "gateway": address, "dev": uplink}
                                               for dest in _peer_networks(peer)]
        if address6 is not None:
            routes.extend({"dest": dest, "gateway": address6, "dev": uplink} for dest in _peer_networks6(peer))
    return routes


def _peer_parts(host, hosts):
    """(preflight peers, routes toward them, routes_keep, unresolved peers, tunnel peers) of
    ``host``; the tunnel peers are None when ``host`` reaches no peer through the overlay."""
    peers, routes, keep, unresolved = [], [], [], []
    overlay = host.overlay
    tunnel = [] if overlay else None
    for peer in hosts:
        if peer is host:
            continue
        via_overlay = overlay and _overlay_pair(host, peer)
        if _peer_address(host, peer) is None:
            # Its next hop is unknown: the routes toward its containers stay as they are.
            unresolved.append({"host": peer.name, "reason": _unresolved_reason(host, peer)})
            if peer.containers:
                keep.extend(_peer_networks(peer))
            if peer.ipv6:
                keep.extend(_peer_networks6(peer))
            if via_overlay and peer.vtep is not None:
                keep.append("%s/32" % peer.vtep)
            continue
        if via_overlay:
            entry, tunnel_peer, toward = peer.overlay_entries
            peers.append(entry)
            tunnel.append(tunnel_peer)
            routes.extend(toward)
            continue
        peers.append(peer.preflight_entry)
        if peer.containers:
            routes.extend(_routes_toward(peer, host.uplink))
        if peer.ipv6 and peer.node_address6 is None:
            # Known over IPv4 but not over IPv6 (no facts, no crossnet_node_address6).
            unresolved.append({"host": peer.name, "reason": UNRESOLVED6})
            keep.extend(_peer_networks6(peer))
    return peers, routes, keep, unresolved, tunnel


class _EveryPeer:
    """Every host's preflight entry and routes, in inventory order, for one uplink name.

    When every node address is known from the inventory or the facts, a host's peers are all
    hosts but itself: its lists are these with its own slice cut out, no loop over the hosts.
    """

    def __init__(self, hosts, uplink):
        self.peers, self.routes, self.slices = [], [], {}
        for index, host in enumerate(hosts):
            start = len(self.routes)
            self.peers.append(host.preflight_entry)
            if host.containers:
                self.routes.extend(_routes_toward(host, uplink))
            self.slices[id(host)] = (index, start, len(self.routes))

    def without(self, host):
        index, start, end = self.slices[id(host)]
        return (self.peers[:index] + self.peers[index + 1:],
                self.routes[:start] + self.routes[end:], [], [], None)


class _EveryOverlayPeer:
    """As _EveryPeer, through the overlay: for a host that reaches every peer through it
    (crossnet_encapsulation vxlan), whatever its uplink; also the tunnel's peers."""

    def __init__(self, hosts):
        self.peers, self.tunnel, self.routes, self.slices = [], [], [], {}
        for index, host in enumerate(hosts):
            start = len(self.routes)
            entry, tunnel_peer, toward = host.overlay_entries
            self.peers.append(entry)
            self.tunnel.append(tunnel_peer)
            self.routes.extend(toward)
            self.slices[id(host)] = (index, start, len(self.routes))

    def without(self, host):
        index, start, end = self.slices[id(host)]
        return (self.peers[:index] + self.peers[index + 1:],
                self.routes[:start] + self.routes[end:], [], [],
                self.tunnel[:index] + self.tunnel[index + 1:])


def _host_plan(host, peer_parts, plan):
    namespaces, veth_pairs, routes, proxy_arp, source_check = [], [], [], [], []
    for container in host.containers:
        host_ifname = container.host_ifname
        addresses = ["%s/32" % address for address in container.addresses4]
        for dest in addresses:
            routes.append({"dest": dest, "dev": host_ifname, "scope": "link"})
        if container.addresses6:
            addresses6 = ["%s/128" % address for address in container.addresses6]
            for dest in addresses6:
                routes.append({"dest": dest, "dev": host_ifname})  # (IPv6 routes have no scope)
            addresses += addresses6
            source_check.append(host_ifname)
        pair = {
            "netns": container.name,
            "host_ifname": host_ifname,
            "peer_ifname": container.ifname,
            "addresses": addresses,
            "gateway": plan.gateway if container.addresses4 else None,
            "gateway6": plan.gateway6 if container.addresses6 else None,
        }
        if container.netns_path is None:
            namespaces.append(container.name)
        else:  # a runtime's: the netns step neither makes nor removes it
            pair["netns_path"] = container.netns_path
        if container.mtu is not None:
            pair["mtu"] = container.mtu
        veth_pairs.append(pair)  # veth_pair also installs the container's routes via the gateway
        proxy_arp.append(host_ifname)
    peers, peer_routes, keep, unresolved, tunnel_peers = peer_parts
    routes.extend(peer_routes)
    vxlan = None
    if host.overlay:
        vxlan = {"name": VXLAN_DEVICE, "vni": host.vni, "port": host.port,
                 "local": None if host.node_address is None else str(host.node_address),
                 "address": str(host.vtep), "mac": vtep_mac(host.vtep), "mtu": host.overlay_mtu,
                 "peers": tunnel_peers}

    own, own6 = _merged(host), _merged6(host)
    sources = (own if plan.masquerade else []) + (own6 if plan.masquerade6 else [])
    return {
        "namespaces": namespaces,
        "veth_pairs": veth_pairs,
        "routes": routes,
        "proxy_arp_interfaces": proxy_arp,
        "masquerade": {"sources": sources, "exclude": plan.container_network},
        "forwarding": {
            "container_networks": own + own6,
            # IPv6 forwarding makes the kernel ignore router advertisements where accept_ra is 1.
            "accept_ra_interfaces": [host.uplink] if host.ipv6 and host.uplink else [],
            "source_check_interfaces": source_check,
        },
        "preflight": {
            "uplink": host.uplink,
            "node_address": None if host.node_address is None else str(host.node_address),
            "node_address6": str(host.node_address6) if plan.ipv6 and host.node_address6 is not None else None,
            "peers": peers,
        },
        "routes_keep": keep,
        "unresolved_peers": unresolved,
        "unresolved": host.unresolved,
        "vxlan": vxlan,
    }


UNRESOLVED6 = ("its IPv6 node address is unknown (crossnet_node_address6 is not set and the host has no facts): "
               "only the routes toward its IPv6 containers are kept")


def _unresolved_reason(host, peer):
    if peer.node_address is None:
        return peer.unresolved
    return ("%s; its ansible_host %s is not in a network of %s's uplink %s according to the facts"
            % (peer.unresolved, peer.node_address, host.name, host.uplink))


# What explicit_node_addresses reads of every host.
EXPLICIT_VARIABLES = ("crossnet_uplink", "crossnet_node_address", "crossnet_node_address6", "crossnet_encapsulation",
                      "crossnet_containers")
# What explicit_preflight reads of its own host when it is given the node addresses.
PREFLIGHT_VARIABLES = ("crossnet_uplink", "crossnet_encapsulation")


def _lists_ipv6(containers):
    """Whether crossnet_containers gives a container an IPv6 address (by its spelling: the plan
    validates it), or None when it is malformed."""
    if containers is None:
        return False
    if not isinstance(containers, list):
        return None
    for item in containers:
        addresses = item.get("addresses") if isinstance(item, dict) else None
        if not isinstance(addresses, list):
            return None
        if any(_looks_ipv6(text) for text in addresses):
            return True
    return False


def explicit_node_addresses(hosts):
    """``{host: node address}`` when every host of ``hosts`` (as for network_plan, in the same
    order) gives a valid ``crossnet_node_address`` and no host has crossnet_encapsulation
    cross_subnet, else None.  (In cross_subnet mode which peers are reached through the overlay,
    and so how the preflight checks them, depends on the facts: the preflight then waits for
    the plan.)

    When a container has an IPv6 address every host needs an IPv6 node address: then each value
    is ``{address, address6, ipv6}`` (``crossnet_node_address6``, and whether the host has IPv6
    containers), and every host must give a valid crossnet_node_address6 and reach its peers
    directly (the plan refuses IPv6 across the overlay), else the result is None.
    """
    addresses, with_ipv6 = {}, set()
    for host, variables in hosts.items():
        if not isinstance(variables, dict) or variables.get("crossnet_encapsulation") == "cross_subnet":
            return None
        text = variables.get("crossnet_node_address")
        address, error = parse_address(text) if isinstance(text, str) else (None, "missing")
        ipv6 = _lists_ipv6(variables.get("crossnet_containers"))
        if error or ipv6 is None:
            return None
        addresses[host] = str(address)
        if ipv6:
            with_ipv6.add(host)
    if not with_ipv6:
        return addresses
    both = {}
    for host, address in addresses.items():
        variables = hosts[host]
        text = variables.get("crossnet_node_address6")
        if not _looks_ipv6(text) or variables.get("crossnet_encapsulation") not in (None, "none"):
            return None
        address6, error = _parse_address6(text)
        if error or _unusable_error(address6):
            return None
        both[host] = {"address": address, "address6": str(address6), "ipv6": host in with_ipv6}
    return both


def _explicit_entry(value):
    """(address, address6, ipv6) of a value of explicit_node_addresses()."""
    if isinstance(value, str):
        return value, None, False
    return value["address"], value["address6"], value["ipv6"]


def explicit_preflight(hosts, name, node_addresses=None):
    """The plan's ``preflight`` for host ``name`` when the inventory alone decides it, else None.

    That is when ``name`` has ``crossnet_uplink`` and every host a valid
    ``crossnet_node_address`` (and, when a container has an IPv6 address, a valid
    ``crossnet_node_address6``): the role then checks it while it gathers the facts, one task
    earlier and one task fewer.  ``hosts`` as for network_plan, in the same order;
    ``node_addresses``, what explicit_node_addresses() returned for all of them, saves reading
    every host's variables again (then ``hosts`` needs only ``name``'s PREFLIGHT_VARIABLES).
    """
    uplink = (hosts.get(name) or {}).get("crossnet_uplink")
    if not isinstance(uplink, str) or not uplink:
        return None
    addresses = explicit_node_addresses(hosts) if node_addresses is None else node_addresses
    if not addresses or name not in addresses:
        return None
    # A host in vxlan mode reaches every peer through the overlay; one in mode none, every peer
    # directly (a peer in vxlan mode would need the overlay to it: the plan refuses that).
    overlay = hosts[name].get("crossnet_encapsulation") == "vxlan"
    node_address, node_address6, dummy = _explicit_entry(addresses[name])
    peers = []
    for host, value in addresses.items():
        if host != name:
            address, address6, ipv6 = _explicit_entry(value)
            peers.append({"host": host, "address": address, "overlay": overlay,
                          "address6": address6 if ipv6 else None})
    return {"uplink": uplink, "node_address": node_address, "node_address6": node_address6, "peers": peers}


class Plan:
    """The validated inventory, planned host by host on demand.

    Validation and everything that spans hosts happen once, when it is made; ``part(name)``
    then builds one host's plan in time linear in its own containers and the number of hosts,
    so a caller that needs only some hosts' parts (a ``--limit`` run) builds only those.
    """

    def __init__(self, hosts, gateway_address, masquerade, container_network, gateway6_address=None,
                 masquerade6=True):
        self._hosts = hosts
        self._by_name = {host.name: host for host in hosts}
        self.gateway = str(gateway_address)
        self.gateway6 = str(gateway6_address or DEFAULT_GATEWAY6)
        self.masquerade, self.masquerade6 = masquerade, masquerade6
        self.container_network = container_network
        self.ipv6 = any(host.ipv6 for host in hosts)  # every host then needs an IPv6 node address
        self._every_peer = {}  # uplink name -> _EveryPeer
        self._every_overlay_peer = None
        self._every_node_known = all(host.node_address is not None and not host.guessed
                                     and (host.node_address6 is not None or not host.ipv6) for host in hosts)

    @property
    def names(self):
        return list(self._by_name)

    @property
    def containers(self):
        return sum(len(host.containers) for host in self._hosts)

    def routed_networks(self, name):
        """What the other hosts route to host ``name``'s containers (its block, or its addresses
        merged), via its node address: IPv4's, then IPv6's when it has IPv6 containers."""
        host = self._by_name[name]
        if host.ipv6:
            return _peer_networks(host) + _peer_networks6(host)
        return _peer_networks(host)

    def vteps(self):
        """``{host: {address, mac}}`` of the hosts that reach a peer through the overlay."""
        return {host.name: {"address": str(host.vtep), "mac": vtep_mac(host.vtep)}
                for host in self._hosts if host.overlay and host.vtep is not None}

    def __contains__(self, name):
        return name in self._by_name

    def part(self, name):
        """Host ``name``'s plan (the shape docs/design.md describes); KeyError if not planned."""
        host = self._by_name[name]
        # A host reaches its peers all directly, all through the overlay (vxlan), or some each
        # way (cross_subnet): only the last needs a look at each peer.
        if self._every_node_known and host.overlay and host.rank == 2:
            if self._every_overlay_peer is None:
                self._every_overlay_peer = _EveryOverlayPeer(self._hosts)
            peer_parts = self._every_overlay_peer.without(host)
        elif self._every_node_known and not host.overlay:
            every = self._every_peer.get(host.uplink)
            if every is None:
                every = self._every_peer[host.uplink] = _EveryPeer(self._hosts, host.uplink)
            peer_parts = every.without(host)
        else:
            peer_parts = _peer_parts(host, self._hosts)
        return _host_plan(host, peer_parts, self)


@contextlib.contextmanager
def without_cyclic_gc():
    """Pause Python's cycle collector while a plan is built.

    A plan is millions of small dicts and lists without a reference cycle (1000 hosts x 100
    containers); the collector would walk them all again every few thousand allocations, which
    made the planner grow faster than its input (1000x100 took 15x 100x100; 11.6x without).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@without_cyclic_gc()
def plan_network(hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None,
                 gateway6=DEFAULT_GATEWAY6, masquerade6=True):
    """Validate the container network of every host and return its ``Plan``.

    ``hosts`` maps each inventory hostname to its variables: ``crossnet_containers``,
    ``crossnet_uplink``, ``crossnet_node_address``, ``crossnet_node_address6``,
    ``crossnet_container_cidr``, the overlay's ``crossnet_encapsulation``, ``crossnet_vxlan_vni``,
    ``crossnet_vxlan_port``, ``crossnet_vtep_address``, ``crossnet_vtep_cidr`` (all optional) and
    ``ansible_facts``.  Raises ``PlanError`` naming every problem when the inventory is not
    valid.  Time: linear in the containers, times the log of their number.
    """
    if NETADDR_IMPORT_ERROR is not None:
        raise NETADDR_IMPORT_ERROR
    errors = []
    gateway_address, error = parse_address(gateway)
    if error:
        errors.append("crossnet_gateway %r %s" % (gateway, _ipv6_elsewhere(error, "crossnet_gateway6")))
    gateway6_address, error = _gateway6(gateway6)
    if error:
        errors.append("crossnet_gateway6 %r %s" % (gateway6, error))
    exclude = _masquerade_exclude(masquerade_exclude, errors)

    planned = []
    for name, variables in hosts.items():
        if not isinstance(variables, dict):
            errors.append("host %s: no variables" % name)
            continue
        planned.append(_read_host(name, variables, errors))
    blocks = _check_topology(planned, gateway_address, errors, gateway6_address)
    _resolve_guesses(planned, gateway_address, blocks)
    _plan_overlay(planned, gateway_address, blocks, errors)
    _check_node_addresses6(planned, errors)
    if errors:
        raise PlanError(errors)

    # Merged host by host first: each host's merge is needed for its own plan anyway.
    container_network, container_network6 = [], []
    for host in planned:
        if host.block is not None:
            container_network.append(host.block)
        else:
            container_network.extend(netaddr.IPNetwork(cidr) for cidr in _merged(host))
        if host.block6 is not None:
            container_network6.append(host.block6)
        elif host.ipv6:
            container_network6.extend(netaddr.IPNetwork(cidr) for cidr in _merged6(host))
    exclude6 = [network for network in exclude if network.version == 6]
    exclude = [network for network in exclude if network.version == 4]
    container_network = _cidrs(container_network + exclude) + _cidrs(container_network6 + exclude6)
    return Plan(planned, gateway_address, bool(masquerade), container_network, gateway6_address,
                bool(masquerade6))


def _gateway6(text):
    """crossnet_gateway6: a link-local IPv6 address.  Returns (IPAddress, error)."""
    if not _looks_ipv6(text):
        return None, "is not an IPv6 address"
    address, error = _parse_address6(text)
    if error is None and not address.is_link_local():
        error = "is not link-local (fe80::/10): the containers' IPv6 gateway must be"
    return address, error


def _masquerade_exclude(masquerade_exclude, errors):
    """crossnet_masquerade_exclude: IPv4 and IPv6 CIDRs or addresses, as IPNetworks."""
    exclude = []
    if masquerade_exclude is None:
        masquerade_exclude = []
    if not isinstance(masquerade_exclude, list):
        errors.append("crossnet_masquerade_exclude must be a list of IPv4 or IPv6 CIDRs, got %s"
                      % type(masquerade_exclude).__name__)
        masquerade_exclude = []
    for text in masquerade_exclude:
        network, error = parse_network(text, bare_is_host=True, ipv6=True)
        if error:
            errors.append("crossnet_masquerade_exclude: %r %s" % (text, error))
        else:
            exclude.append(network)
    return exclude


def network_plan(hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None,
                 gateway6=DEFAULT_GATEWAY6, masquerade6=True):
    """Plan every host of the container network: ``{hostname: plan}`` (see ``plan_network``)."""
    with without_cyclic_gc():
        plan = plan_network(hosts, gateway=gateway, masquerade=masquerade,
                            masquerade_exclude=masquerade_exclude, gateway6=gateway6, masquerade6=masquerade6)
        return {name: plan.part(name) for name in plan.names}


# What network_plan reads of each host; the rest of its hostvars is never looked at.
HOST_VARIABLES = ("crossnet_containers", "crossnet_uplink", "crossnet_node_address", "crossnet_node_address6",
                  "crossnet_container_cidr", "crossnet_encapsulation", "crossnet_vxlan_vni",
                  "crossnet_vxlan_port", "crossnet_vtep_address", "crossnet_vtep_cidr",
                  "ansible_facts", "ansible_host")
# The keys of a host's plan that list its containers' state (and the tunnel toward the peers'):
# only host_network needs them.
CONTAINER_STATE = ("namespaces", "veth_pairs", "routes", "proxy_arp_interfaces", "masquerade", "forwarding",
                   "vxlan")


def summary(plan):
    """The plan without its per-container lists: what the role's own checks read."""
    return {host: {key: value for key, value in part.items() if key not in CONTAINER_STATE}
            for host, part in plan.items()}


# The options of crossnet.routed.host_network that a host's part of the plan fills.
HOST_NETWORK_OPTIONS = ("namespaces", "veth_pairs", "routes", "routes_keep", "proxy_arp_interfaces",
                        "container_networks", "accept_ra_interfaces", "source_check_interfaces",
                        "masquerade_sources", "masquerade_exclude", "vxlan_tunnels")


def host_network_args(part):
    """One host's part of the plan as the options of crossnet.routed.host_network."""
    return {
        "namespaces": part["namespaces"],
        "veth_pairs": part["veth_pairs"],
        "routes": part["routes"],
        "routes_keep": part["routes_keep"],
        "proxy_arp_interfaces": part["proxy_arp_interfaces"],
        "container_networks": part["forwarding"]["container_networks"],
        "accept_ra_interfaces": part["forwarding"]["accept_ra_interfaces"],
        "source_check_interfaces": part["forwarding"]["source_check_interfaces"],
        "masquerade_sources": part["masquerade"]["sources"],
        "masquerade_exclude": part["masquerade"]["exclude"],
        "vxlan_tunnels": [part["vxlan"]] if part["vxlan"] else [],
    }
