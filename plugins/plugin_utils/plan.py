# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side planner: the inventory of all crossnet hosts -> one plan per host.

Pure functions, no Ansible objects: ``network_plan()`` takes plain dicts (each host's
``crossnet_*`` variables and its ``ansible_facts``) and returns ``{host: plan}`` in the shape
docs/design.md describes, or raises ``PlanError`` listing every problem of the whole inventory.
"""

from __future__ import annotations

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
CONTAINER_KEYS = frozenset(("name", "addresses", "ifname", "host_ifname", "mtu"))
MIN_MTU = 68
MAX_MTU = 65535

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
    error = _ipv4_error(text)
    if error:
        return None, error
    return netaddr.IPAddress(text), None


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


def _mtu(value):
    """Return (int, error) for an MTU given as int or digit string."""
    if isinstance(value, bool):
        return None, "is not an integer"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int):
        return None, "is not an integer"
    if not MIN_MTU <= value <= MAX_MTU:
        return None, "is out of range %d-%d" % (MIN_MTU, MAX_MTU)
    return value, None


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

    @property
    def guessed(self):
        return self.node_source == "ansible_host"


class _Container:
    def __init__(self, name, ifname, host_ifname, addresses, mtu):
        self.name = name
        self.ifname = ifname
        self.host_ifname = host_ifname
        self.addresses = addresses
        self.mtu = mtu


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


def _ansible_host_guess(ansible_host):
    """(address, "ansible_host") when ``ansible_host`` is an IPv4 literal, else (None, None)."""
    if isinstance(ansible_host, str) and _ipv4_error(ansible_host) is None:
        return ansible_host, "ansible_host"
    return None, None


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

    mtu = host.mtu
    if "mtu" in item:
        mtu, error = _mtu(item["mtu"])
        if error:
            errors.append("%s: mtu %r %s" % (where, item["mtu"], error))
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
    return _Container(name, ifname, host_ifname, addresses, mtu)


def _check_topology(hosts, gateway, errors):
    """Checks across hosts: unique addresses, blocks, node addresses, the gateway."""
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

    blocks = [host for host in hosts if host.block is not None]
    for index, host in enumerate(blocks):
        for other in blocks[index + 1:]:
            if host.block in other.block or other.block in host.block:
                errors.append("host %s: crossnet_container_cidr %s overlaps crossnet_container_cidr"
                              " %s of host %s" % (host.name, host.block, other.block, other.name))
        if gateway is not None and gateway in host.block:
            errors.append("host %s: crossnet_container_cidr %s holds the containers' gateway %s"
                          % (host.name, host.block, gateway))
        for node, node_host in nodes.items():
            if node in host.block:
                errors.append("host %s: crossnet_container_cidr %s holds the node address %s of "
                              "host %s" % (host.name, host.block, node, node_host))
        for address, (owner_host, owner_container) in owners.items():
            if owner_host != host.name and address in host.block:
                errors.append("host %s: crossnet_container_cidr %s holds address %s of host %s "
                              "container %r" % (host.name, host.block, address, owner_host,
                                                owner_container))


def _resolve_guesses(hosts, gateway):
    """Drop a guessed node address that collides with anything the inventory says."""
    taken = {host.node_address: host.name for host in hosts
             if host.node_address is not None and not host.guessed}
    for host in hosts:
        for container in host.containers:
            for address in container.addresses:
                taken.setdefault(address, "host %s container %r" % (host.name, container.name))
    guesses = {}
    for host in hosts:
        if host.guessed:
            guesses.setdefault(host.node_address, []).append(host.name)
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
        elif any(other.block is not None and address in other.block for other in hosts):
            clash = "is inside a crossnet_container_cidr"
        if clash:
            host.unresolved = "%s; its ansible_host %s %s" % (host.unresolved, address, clash)
            host.node_address, host.node_source = None, None


def _peer_address(host, peer):
    """The next hop ``host`` uses for ``peer``'s containers, or None when it is unknown."""
    if peer.node_address is None:
        return None
    if peer.guessed and not any(peer.node_address in net for net in host.uplink_networks):
        return None
    return peer.node_address


def _cidrs(networks):
    return [str(network) for network in netaddr.cidr_merge(networks)]


def _addresses(host):
    return [address for container in host.containers for address in container.addresses]


def _peer_networks(host):
    """What the other hosts route to ``host``: its block, else exactly its addresses merged."""
    if host.block is not None:
        return [str(host.block)]
    return _cidrs(_addresses(host))


def _host_plan(host, hosts, gateway, masquerade, container_network):
    namespaces, veth_pairs, routes, proxy_arp = [], [], [], []
    for container in host.containers:
        namespaces.append(container.name)
        pair = {
            "netns": container.name,
            "host_ifname": container.host_ifname,
            "peer_ifname": container.ifname,
            "addresses": ["%s/32" % address for address in container.addresses],
            "gateway": str(gateway),
        }
        if container.mtu is not None:
            pair["mtu"] = container.mtu
        veth_pairs.append(pair)  # veth_pair also installs the container's routes via the gateway
        proxy_arp.append(container.host_ifname)
    for container in host.containers:
        for address in container.addresses:
            routes.append({"dest": "%s/32" % address, "dev": container.host_ifname,
                           "scope": "link"})
    peers, unresolved, keep = [], [], []
    for peer in hosts:
        if peer is host:
            continue
        address = _peer_address(host, peer)
        if address is None:
            # Its next hop is unknown: the routes toward its containers stay as they are.
            unresolved.append({"host": peer.name, "reason": _unresolved_reason(host, peer)})
            if peer.containers:
                keep.extend(_peer_networks(peer))
            continue
        peers.append({"host": peer.name, "address": str(address)})
        if peer.containers:
            for dest in _peer_networks(peer):
                routes.append({"dest": dest, "gateway": str(address), "dev": host.uplink})

    own = _cidrs(_addresses(host))
    return {
        "namespaces": namespaces,
        "veth_pairs": veth_pairs,
        "routes": routes,
        "proxy_arp_interfaces": proxy_arp,
        "masquerade": {"sources": own if masquerade else [], "exclude": container_network},
        "forwarding": {"container_networks": own},
        "preflight": {
            "uplink": host.uplink,
            "node_address": None if host.node_address is None else str(host.node_address),
            "peers": peers,
        },
        "routes_keep": keep,
        "unresolved_peers": unresolved,
        "unresolved": host.unresolved,
    }


def _unresolved_reason(host, peer):
    if peer.node_address is None:
        return peer.unresolved
    return ("%s; its ansible_host %s is not in a network of %s's uplink %s according to the facts"
            % (peer.unresolved, peer.node_address, host.name, host.uplink))


def explicit_preflight(hosts, name):
    """The plan's ``preflight`` for host ``name`` when the inventory alone decides it, else None.

    That is when ``name`` has ``crossnet_uplink`` and every host a valid
    ``crossnet_node_address``: the role then checks it while it gathers the facts, one task
    earlier and one task fewer.  ``hosts`` as for network_plan, in the same order.
    """
    uplink = (hosts.get(name) or {}).get("crossnet_uplink")
    if not isinstance(uplink, str) or not uplink:
        return None
    addresses = {}
    for host, variables in hosts.items():
        text = variables.get("crossnet_node_address") if isinstance(variables, dict) else None
        address, error = parse_address(text) if isinstance(text, str) else (None, "missing")
        if error:
            return None
        addresses[host] = str(address)
    return {"uplink": uplink, "node_address": addresses[name],
            "peers": [{"host": host, "address": address} for host, address in addresses.items() if host != name]}


def network_plan(hosts, gateway=DEFAULT_GATEWAY, masquerade=True, masquerade_exclude=None):
    """Plan every host of the container network.

    ``hosts`` maps each inventory hostname to its variables: ``crossnet_containers``,
    ``crossnet_uplink``, ``crossnet_node_address``, ``crossnet_container_cidr`` (all optional)
    and ``ansible_facts``.  Returns ``{hostname: plan}``; raises ``PlanError`` naming every
    problem when the inventory is not valid.
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
    _check_topology(planned, gateway_address, errors)
    if errors:
        raise PlanError(errors)
    _resolve_guesses(planned, gateway_address)

    container_network = []
    for host in planned:
        if host.block is not None:
            container_network.append(host.block)
        else:
            container_network.extend(_addresses(host))
    container_network = _cidrs(container_network + exclude)

    return {host.name: _host_plan(host, planned, gateway_address, bool(masquerade),
                                  container_network)
            for host in planned}


# What network_plan reads of each host; the rest of its hostvars is never looked at.
HOST_VARIABLES = ("crossnet_containers", "crossnet_uplink", "crossnet_node_address",
                  "crossnet_container_cidr", "ansible_facts", "ansible_host")
# The keys of a host's plan that list its containers' state: only host_network needs them.
CONTAINER_STATE = ("namespaces", "veth_pairs", "routes", "proxy_arp_interfaces", "masquerade", "forwarding")


def summary(plan):
    """The plan without its per-container lists: what the role's own checks read."""
    return {host: {key: value for key, value in part.items() if key not in CONTAINER_STATE}
            for host, part in plan.items()}


# The options of crossnet.routed.host_network that a host's part of the plan fills.
HOST_NETWORK_OPTIONS = ("namespaces", "veth_pairs", "routes", "routes_keep", "proxy_arp_interfaces",
                        "container_networks", "masquerade_sources", "masquerade_exclude")


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
    }
