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


def _ipv4_error(text):
    """Return why ``text`` is not a bare dotted-quad IPv4 address, or None."""
    if not isinstance(text, str):
        return "is not a string"
    if ":" in text and netaddr.valid_ipv6(text.split("/")[0]):
        return "is IPv6; IPv6 is not supported yet"
    if not _DOTTED_QUAD.match(text) or not netaddr.valid_ipv4(text, flags=netaddr.INET_PTON):
        return "is not a valid IPv4 address"
    return None


def parse_address(text):
    """A container address: bare IPv4 (``/32`` may be written).  Returns (IPAddress, error)."""
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


def parse_network(text, bare_is_host=False):
    """An IPv4 CIDR without host bits.  Returns (IPNetwork, error)."""
    if not isinstance(text, str):
        return None, "is not a string"
    bare, slash, prefix = text.partition("/")
    error = _ipv4_error(bare)
    if error:
        return None, error
    if not slash:
        if not bare_is_host:
            return None, "needs a prefix length (for example %s/24)" % bare
        prefix = "32"
    if not prefix.isdigit() or int(prefix) > 32:
        return None, "has an invalid prefix length"
    network = netaddr.IPNetwork("%s/%s" % (bare, int(prefix)))
    if network.ip != network.network:
        return None, "has host bits set (the network is %s)" % network.cidr
    return network, None


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
        self.uplink_networks = []
        self.mtu = None
        self.block = None
        self.containers = []
        self.merged = None  # _merged()
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
            self._preflight_entry = {"host": self.name, "address": str(self.node_address), "overlay": False}
        return self._preflight_entry

    @property
    def overlay_entries(self):
        """(preflight entry, tunnel peer, routes) of the hosts that reach this one through the
        overlay: made once, shared by their plans like preflight_entry and routes_toward."""
        if self._overlay_entries is None:
            node, vtep = str(self.node_address), str(self.vtep)
            routes = [{"dest": "%s/32" % vtep, "dev": VXLAN_DEVICE, "scope": "link"}]
            routes.extend({"dest": dest, "gateway": vtep, "dev": VXLAN_DEVICE, "onlink": True}
                          for dest in _peer_networks(self))
            self._overlay_entries = (
                {"host": self.name, "address": node, "overlay": True},
                {"host": self.name, "address": vtep, "mac": vtep_mac(self.vtep), "remote": node},
                routes)
        return self._overlay_entries


class _Container:
    def __init__(self, name, ifname, host_ifname, addresses, mtu, explicit_mtu=False, netns_path=None):
        self.name = name
        # a namespace a container runtime made (its file), wired but never created or removed;
        # None: the collection's own namespace /run/netns/<name>
        self.netns_path = netns_path
        self.ifname = ifname
        self.host_ifname = host_ifname
        self.addresses = addresses
        self.mtu = mtu
        self.explicit_mtu = explicit_mtu  # the inventory gives it (else the uplink's or the overlay's)


def _read_host(name, variables, errors):
    """Validate one host's own variables (nothing that needs the other hosts)."""
    host = _Host(name)
    facts = variables.get("ansible_facts") or {}
    # No network facts: the host was unreachable when the play started (or facts were not
    # gathered).  What would come from them is then unknown, not wrong: see _resolve_guesses.
    has_facts = "interfaces" in facts

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
            errors.append("host %s: crossnet_node_address %r %s" % (name, node_address, error))

    if uplink_facts.get("mtu") is not None:
        host.mtu = _mtu(uplink_facts["mtu"])[0]

    block = variables.get("crossnet_container_cidr")
    if block is not None:
        host.block, error = parse_network(block)
        if error:
            errors.append("host %s: crossnet_container_cidr %r %s" % (name, block, error))

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

    addresses = []
    raw = item.get("addresses", [])
    if not isinstance(raw, list) or not raw:
        if "addresses" in item:
            errors.append("%s: addresses must be a non-empty list of IPv4 addresses, got %r"
                          % (where, raw))
        ok = False
    else:
        for text in raw:
            address, error = parse_address(text)
            if error:
                errors.append("%s: address %r %s" % (where, text, error))
                ok = False
            else:
                addresses.append(address)
    if not ok:
        return None
    return _Container(name, ifname, host_ifname, addresses, mtu, explicit_mtu, netns_path)


class _Blocks:
    """Every host's crossnet_container_cidr, indexed for "which blocks hold this address".

    CIDR blocks either nest or are disjoint, so the blocks holding an address are found by
    looking its network up at each prefix length in use: no scan over the hosts.
    """

    def __init__(self, hosts):
        self.hosts = [host for host in hosts if host.block is not None]
        self.order = {id(host): index for index, host in enumerate(self.hosts)}
        self._by_network = {}
        for host in self.hosts:
            self._by_network.setdefault((host.block.prefixlen, host.block.first), []).append(host)
        self._masks = sorted({(prefixlen, (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF)
                              for prefixlen, dummy in self._by_network})
        self.nodes, self.addresses = {}, {}  # filled by _check_topology

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
        ordered = sorted(self.hosts, key=lambda host: (host.block.first, host.block.prefixlen,
                                                       self.order[id(host)]))
        pairs, enclosing = [], []
        for host in ordered:
            while enclosing and enclosing[-1].block.last < host.block.first:
                enclosing.pop()
            # Sorted by first address, widest first: every block still open holds this one.
            for other in enclosing:
                pairs.append(tuple(sorted((host, other), key=lambda item: self.order[id(item)])))
            enclosing.append(host)
        pairs.sort(key=lambda pair: (self.order[id(pair[0])], self.order[id(pair[1])]))
        return pairs


def _check_topology(hosts, gateway, errors):
    """Checks across hosts: unique addresses, blocks, node addresses, the gateway.

    One pass over the containers and an index of the blocks; the problems are reported in the
    order of the inventory, each block's after the per-address ones.
    """
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

    blocks = _Blocks(hosts)
    # What each block holds that it must not, in the order the checks below find it.
    held = {id(host): ([], []) for host in blocks.hosts}  # node addresses, container addresses
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
                if address == gateway:
                    errors.append("%s is the containers' gateway (crossnet_gateway)" % where)
                if address in nodes:
                    errors.append("%s is the node address of host %s" % (where, nodes[address]))
                if host.block is not None and address not in host.block:
                    errors.append("%s is outside the host's crossnet_container_cidr %s"
                                  % (where, host.block))
                for block_host in blocks.holding(address):
                    if block_host.name != host.name:
                        held[id(block_host)][1].append(
                            "host %s: crossnet_container_cidr %s holds address %s of host %s "
                            "container %r" % (block_host.name, block_host.block, address, host.name,
                                              container.name))
    for node, node_host in nodes.items():
        for block_host in blocks.holding(node):
            held[id(block_host)][0].append(
                "host %s: crossnet_container_cidr %s holds the node address %s of host %s"
                % (block_host.name, block_host.block, node, node_host))

    overlaps = {id(host): [] for host in blocks.hosts}
    for host, other in blocks.overlapping_pairs():
        overlaps[id(host)].append(
            "host %s: crossnet_container_cidr %s overlaps crossnet_container_cidr %s of host %s"
            % (host.name, host.block, other.block, other.name))
    for host in blocks.hosts:
        errors.extend(overlaps[id(host)])
        if gateway is not None and gateway in host.block:
            errors.append("host %s: crossnet_container_cidr %s holds the containers' gateway %s"
                          % (host.name, host.block, gateway))
        for found in held[id(host)]:
            errors.extend(found)
    # For the overlay's checks (_plan_overlay): who has which node and container address.
    blocks.nodes, blocks.addresses = nodes, owners
    return blocks


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


def _addresses(host):
    return [address for container in host.containers for address in container.addresses]


def _merged(host):
    """``host``'s container addresses merged into CIDRs (computed once per host)."""
    if host.merged is None:
        host.merged = _cidrs(_addresses(host))
    return host.merged


def _peer_networks(host):
    """What the other hosts route to ``host``: its block, else exactly its addresses merged."""
    if host.block is not None:
        return [str(host.block)]
    return _merged(host)


def _routes_toward(peer, uplink):
    """The routes to ``peer``'s containers via its node address out of ``uplink``.

    Every host with that uplink name routes them alike, so the route dicts are made once and
    shared by those hosts' plans (a thousand hosts' plans hold a million of them): a plan is
    read, never changed in place.
    """
    routes = peer.routes_toward.get(uplink)
    if routes is None:
        address = peer.preflight_entry["address"]
        routes = peer.routes_toward[uplink] = [{"dest": dest, "gateway": address, "dev": uplink}
                                               for dest in _peer_networks(peer)]
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


def _host_plan(host, peer_parts, gateway, masquerade, container_network):
    namespaces, veth_pairs, routes, proxy_arp = [], [], [], []
    gateway = str(gateway)
    for container in host.containers:
        pair = {
            "netns": container.name,
            "host_ifname": container.host_ifname,
            "peer_ifname": container.ifname,
            "addresses": ["%s/32" % address for address in container.addresses],
            "gateway": gateway,
        }
        if container.netns_path is None:
            namespaces.append(container.name)
        else:  # a runtime's: the netns step neither makes nor removes it
            pair["netns_path"] = container.netns_path
        if container.mtu is not None:
            pair["mtu"] = container.mtu
        veth_pairs.append(pair)  # veth_pair also installs the container's routes via the gateway
        proxy_arp.append(container.host_ifname)
    for pair in veth_pairs:
        for dest in pair["addresses"]:
            routes.append({"dest": dest, "dev": pair["host_ifname"], "scope": "link"})
    peers, peer_routes, keep, unresolved, tunnel_peers = peer_parts
    routes.extend(peer_routes)
    vxlan = None
    if host.overlay:
        vxlan = {"name": VXLAN_DEVICE, "vni": host.vni, "port": host.port,
                 "local": None if host.node_address is None else str(host.node_address),
                 "address": str(host.vtep), "mac": vtep_mac(host.vtep), "mtu": host.overlay_mtu,
                 "peers": tunnel_peers}

    own = _merged(host)
    return {
        "namespaces": namespaces,
        "veth_pairs": veth_pairs,
        "routes": routes,
        "proxy_arp_interfaces": proxy_arp,
        "masquerade": {"sources": list(own) if masquerade else [], "exclude": container_network},
        "forwarding": {"container_networks": list(own)},
        "preflight": {
            "uplink": host.uplink,
            "node_address": None if host.node_address is None else str(host.node_address),
            "peers": peers,
        },
        "routes_keep": keep,
        "unresolved_peers": unresolved,
        "unresolved": host.unresolved,
        "vxlan": vxlan,
    }


def _unresolved_reason(host, peer):
    if peer.node_address is None:
        return peer.unresolved
    return ("%s; its ansible_host %s is not in a network of %s's uplink %s according to the facts"
            % (peer.unresolved, peer.node_address, host.name, host.uplink))


# What explicit_preflight reads.
EXPLICIT_VARIABLES = ("crossnet_uplink", "crossnet_node_address", "crossnet_encapsulation")


def explicit_node_addresses(hosts):
    """``{host: node address}`` when every host of ``hosts`` (as for network_plan, in the same
    order) gives a valid ``crossnet_node_address`` and no host has crossnet_encapsulation
    cross_subnet, else None.  (In cross_subnet mode which peers are reached through the overlay,
    and so how the preflight checks them, depends on the facts: the preflight then waits for
    the plan.)"""
    addresses = {}
    for host, variables in hosts.items():
        if isinstance(variables, dict) and variables.get("crossnet_encapsulation") == "cross_subnet":
            return None
        text = variables.get("crossnet_node_address") if isinstance(variables, dict) else None
        address, error = parse_address(text) if isinstance(text, str) else (None, "missing")
        if error:
            return None
        addresses[host] = str(address)
    return addresses


def explicit_preflight(hosts, name, node_addresses=None):
    """The plan's ``preflight`` for host ``name`` when the inventory alone decides it, else None.

    That is when ``name`` has ``crossnet_uplink`` and every host a valid
    ``crossnet_node_address``: the role then checks it while it gathers the facts, one task
    earlier and one task fewer.  ``hosts`` as for network_plan, in the same order;
    ``node_addresses``, what explicit_node_addresses() returned for all of them, saves reading
    every host's variables again (then ``hosts`` needs only ``name``).
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
    return {"uplink": uplink, "node_address": addresses[name],
            "peers": [{"host": host, "address": address, "overlay": overlay}
                      for host, address in addresses.items() if host != name]}


class Plan:
    """The validated inventory, planned host by host on demand.

    Validation and everything that spans hosts happen once, when it is made; ``part(name)``
    then builds one host's plan in time linear in its own containers and the number of hosts,
    so a caller that needs only some hosts' parts (a ``--limit`` run) builds only those.
    """

    def __init__(self, hosts, gateway_address, masquerade, container_network):
        self._hosts = hosts
        self._by_name = {host.name: host for host in hosts}
        self._gateway = gateway_address
        self._masquerade = masquerade
        self.container_network = container_network
        self._every_peer = {}  # uplink name -> _EveryPeer
        self._every_overlay_peer = None
        self._every_node_known = all(host.node_address is not None and not host.guessed
                                     for host in hosts)

    @property
    def names(self):
        return list(self._by_name)

    @property
    def containers(self):
        return sum(len(host.containers) for host in self._hosts)

    def routed_networks(self, name):
        """What the other hosts route to host ``name``'s containers (its block, or its addresses
        merged), via its node address."""
        return _peer_networks(self._by_name[name])

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
        return _host_plan(host, peer_parts, self._gateway, self._masquerade, self.container_network)


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
def plan_network(hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None):
    """Validate the container network of every host and return its ``Plan``.

    ``hosts`` maps each inventory hostname to its variables: ``crossnet_containers``,
    ``crossnet_uplink``, ``crossnet_node_address``, ``crossnet_container_cidr``, the overlay's
    ``crossnet_encapsulation``, ``crossnet_vxlan_vni``, ``crossnet_vxlan_port``,
    ``crossnet_vtep_address``, ``crossnet_vtep_cidr`` (all optional) and ``ansible_facts``.  Raises ``PlanError`` naming every problem when the inventory is not
    valid.  Time: linear in the containers, times the log of their number.
    """
    if NETADDR_IMPORT_ERROR is not None:
        raise NETADDR_IMPORT_ERROR
    errors = []
    gateway_address, error = parse_address(gateway)
    if error:
        errors.append("crossnet_gateway %r %s" % (gateway, error))

    exclude = []
    if masquerade_exclude is None:
        masquerade_exclude = []
    if not isinstance(masquerade_exclude, list):
        errors.append("crossnet_masquerade_exclude must be a list of IPv4 CIDRs, got %s"
                      % type(masquerade_exclude).__name__)
        masquerade_exclude = []
    for text in masquerade_exclude:
        network, error = parse_network(text, bare_is_host=True)
        if error:
            errors.append("crossnet_masquerade_exclude: %r %s" % (text, error))
        else:
            exclude.append(network)

    planned = []
    for name, variables in hosts.items():
        if not isinstance(variables, dict):
            errors.append("host %s: no variables" % name)
            continue
        planned.append(_read_host(name, variables, errors))
    blocks = _check_topology(planned, gateway_address, errors)
    _resolve_guesses(planned, gateway_address, blocks)
    _plan_overlay(planned, gateway_address, blocks, errors)
    if errors:
        raise PlanError(errors)

    # Merged host by host first: each host's merge is needed for its own plan anyway.
    container_network = []
    for host in planned:
        if host.block is not None:
            container_network.append(host.block)
        else:
            container_network.extend(netaddr.IPNetwork(cidr) for cidr in _merged(host))
    container_network = _cidrs(container_network + exclude)
    return Plan(planned, gateway_address, bool(masquerade), container_network)


def network_plan(hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None):
    """Plan every host of the container network: ``{hostname: plan}`` (see ``plan_network``)."""
    with without_cyclic_gc():
        plan = plan_network(hosts, gateway=gateway, masquerade=masquerade,
                            masquerade_exclude=masquerade_exclude)
        return {name: plan.part(name) for name in plan.names}


# What network_plan reads of each host; the rest of its hostvars is never looked at.
HOST_VARIABLES = ("crossnet_containers", "crossnet_uplink", "crossnet_node_address",
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
                        "container_networks", "masquerade_sources", "masquerade_exclude", "vxlan_tunnels")


def host_network_args(part):
    """One host's part of the plan as the options of crossnet.routed.host_network."""
    return {
        "namespaces": part["namespaces"],
        "veth_pairs": part["veth_pairs"],
        "routes": part["routes"],
        "routes_keep": part["routes_keep"],
        "proxy_arp_interfaces": part["proxy_arp_interfaces"],
        "container_networks": part["forwarding"]["container_networks"],
        "masquerade_sources": part["masquerade"]["sources"],
        "masquerade_exclude": part["masquerade"]["exclude"],
        "vxlan_tunnels": [part["vxlan"]] if part["vxlan"] else [],
    }
