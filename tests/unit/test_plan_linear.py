# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's cross-host checks are indexed (linear), not pairwise: on random inventories full
of collisions they report exactly what the pairwise checks report, in the same order."""

from __future__ import annotations

import gc
import random

import netaddr
import pytest

from test_plan import facts  # also makes the collection importable

from ansible_collections.crossnet.routed.plugins.plugin_utils import plan as plan_mod  # noqa: E402


def pairwise_errors(hosts, gateway):
    """The cross-host checks as the planner made them before they were indexed: O(hosts^2)."""
    errors, nodes = [], {}
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
    owners = pairwise_address_errors(hosts, "block", gateway, nodes, errors)
    pairwise_block_errors(hosts, "block", gateway, nodes, owners, errors)
    return errors


def pairwise_address_errors(hosts, block, gateway, nodes, errors):
    """Each container address against the others, the node addresses, the gateway and its host's
    block (attribute ``block``: "block" or "block6"); returns {address: (host, container)}."""
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
                    errors.append("%s is already used by host %s container %r" % (where, owner[0], owner[1]))
                    continue
                owners[address] = (host.name, container.name)
                if gateway is not None and address == gateway:
                    errors.append("%s is the containers' gateway (crossnet_gateway)" % where)
                if address in nodes:
                    errors.append("%s is the node address of host %s" % (where, nodes[address]))
                own = getattr(host, block)
                if own is not None and address not in own:
                    errors.append("%s is outside the host's crossnet_container_cidr %s" % (where, own))
    return owners


def pairwise_block_errors(hosts, block, gateway, nodes, owners, errors):
    """Every block (attribute ``block``) against every other, the gateway, the node addresses and
    the other hosts' container addresses."""
    blocks = [host for host in hosts if getattr(host, block) is not None]
    for index, host in enumerate(blocks):
        mine = getattr(host, block)
        for other in blocks[index + 1:]:
            theirs = getattr(other, block)
            if mine in theirs or theirs in mine:
                errors.append("host %s: crossnet_container_cidr %s overlaps crossnet_container_cidr"
                              " %s of host %s" % (host.name, mine, theirs, other.name))
        if gateway is not None and gateway in mine:
            errors.append("host %s: crossnet_container_cidr %s holds the containers' gateway %s"
                          % (host.name, mine, gateway))
        for node, node_host in nodes.items():
            if node in mine:
                errors.append("host %s: crossnet_container_cidr %s holds the node address %s of "
                              "host %s" % (host.name, mine, node, node_host))
        for address, (owner_host, owner_container) in owners.items():
            if owner_host != host.name and address in mine:
                errors.append("host %s: crossnet_container_cidr %s holds address %s of host %s "
                              "container %r" % (host.name, mine, address, owner_host, owner_container))


def random_inventory(rng, size):
    """Hosts whose blocks nest and overlap, and addresses that collide, all inside 10.0.0.0/27."""
    def address():
        return "10.0.0.%d" % rng.randrange(32)

    hosts = {}
    for index in range(size):
        node = address() if rng.random() < 0.3 else "192.168.9.%d" % rng.randrange(1, 9)
        variables = {"crossnet_node_address": node, "crossnet_uplink": "eth0",
                     "ansible_facts": facts(node),
                     "crossnet_containers": [
                         {"name": "c%d" % number, "addresses": [address() for dummy in range(rng.randrange(1, 3))]}
                         for number in range(rng.randrange(4))]}
        if rng.random() < 0.6:
            prefixlen = rng.randrange(27, 33)
            variables["crossnet_container_cidr"] = str(netaddr.IPNetwork("%s/%d" % (address(), prefixlen)).cidr)
        hosts["h%d" % index] = variables
    return hosts


@pytest.mark.parametrize("seed", range(60))
def test_indexed_checks_report_what_pairwise_checks_report(seed):
    rng = random.Random(seed)
    hosts = random_inventory(rng, rng.randrange(2, 12))
    gateway = netaddr.IPAddress("10.0.0.%d" % rng.randrange(32) if seed % 3 == 0 else "169.254.1.1")
    read, ignored = [], []
    for name, variables in hosts.items():
        read.append(plan_mod._read_host(name, variables, ignored))  # pylint: disable=protected-access
    indexed = []
    plan_mod._check_topology(read, gateway, indexed)  # pylint: disable=protected-access
    assert indexed == pairwise_errors(read, gateway)


def test_the_random_inventories_do_collide():
    """The comparison above means something only if the inventories hit every kind of check."""
    kinds = set()
    for seed in range(60):
        rng = random.Random(seed)
        hosts = random_inventory(rng, rng.randrange(2, 12))
        gateway = netaddr.IPAddress("10.0.0.%d" % rng.randrange(32) if seed % 3 == 0 else "169.254.1.1")
        read = [plan_mod._read_host(name, variables, []) for name, variables in hosts.items()]  # pylint: disable=protected-access
        for error in pairwise_errors(read, gateway):
            kinds.update(kind for kind in ("overlaps", "holds address", "holds the node address",
                                           "holds the containers' gateway", "already used",
                                           "is the node address of", "outside the host's")
                         if kind in error)
    assert len(kinds) == 7, kinds


def test_the_cycle_collector_is_paused_while_planning_and_restored_after(monkeypatch):
    seen = []
    read_host = plan_mod._read_host
    monkeypatch.setattr(plan_mod, "_read_host", lambda *args: (seen.append(gc.isenabled()), read_host(*args))[1])
    good = {"host1": {"crossnet_uplink": "eth0", "ansible_facts": facts("192.168.9.3"),
                      "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.1"]}]}}
    bad = {"host1": dict(good["host1"], crossnet_containers=[{"name": "c1", "addresses": ["10.1.0"]}])}
    assert gc.isenabled()
    plan_mod.network_plan(good)
    with pytest.raises(plan_mod.PlanError):
        plan_mod.network_plan(bad)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        plan_mod.network_plan(good)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


# ---------------------------------------------------------------- the same over IPv6


def pairwise_errors6(hosts, gateway6):
    """The IPv6 cross-host checks, pairwise, for inventories whose containers are all IPv6."""
    errors, nodes = [], {}
    for host in hosts:
        if host.node_address6 is None:
            continue
        other = nodes.setdefault(host.node_address6, host.name)
        if other != host.name:
            errors.append("host %s: crossnet_node_address6 %s is also the IPv6 node address of host %s"
                          % (host.name, host.node_address6, other))
    owners = pairwise_address_errors(hosts, "block6", None, nodes, errors)
    pairwise_block_errors(hosts, "block6", gateway6, nodes, owners, errors)
    return errors


def random_inventory6(rng, size):
    """As random_inventory, in fd00::/123: IPv6 blocks (next to an IPv4 one), addresses and node addresses."""
    def address():
        return "fd00::%x" % rng.randrange(32)

    hosts = {}
    for index in range(size):
        node6 = address() if rng.random() < 0.3 else "2001:db8::%x" % rng.randrange(1, 9)
        node = "192.168.%d.%d" % divmod(index + 1, 256)
        variables = {"crossnet_node_address": node, "crossnet_node_address6": node6, "crossnet_uplink": "eth0",
                     "ansible_facts": facts(node),
                     "crossnet_containers": [
                         {"name": "c%d" % number, "addresses": [address() for dummy in range(rng.randrange(1, 3))]}
                         for number in range(rng.randrange(4))]}
        if rng.random() < 0.6:
            prefixlen = rng.randrange(123, 129)
            block6 = str(netaddr.IPNetwork("%s/%d" % (address(), prefixlen)).cidr)
            variables["crossnet_container_cidr"] = ["10.%d.0.0/16" % index, block6] if index % 2 else block6
        hosts["h%d" % index] = variables
    return hosts


@pytest.mark.parametrize("seed", range(60))
def test_indexed_ipv6_checks_report_what_pairwise_checks_report(seed):
    rng = random.Random(seed)
    hosts = random_inventory6(rng, rng.randrange(2, 12))
    gateway6 = netaddr.IPAddress("fd00::%x" % rng.randrange(32) if seed % 3 == 0 else "fe80::1")
    read, ignored = [], []
    for name, variables in hosts.items():
        read.append(plan_mod._read_host(name, variables, ignored))  # pylint: disable=protected-access
    assert not ignored
    indexed = []
    plan_mod._check_topology(read, netaddr.IPAddress("169.254.1.1"), indexed, gateway6)  # pylint: disable=protected-access
    assert indexed == pairwise_errors6(read, gateway6)


def test_the_random_ipv6_inventories_do_collide():
    kinds = set()
    for seed in range(60):
        rng = random.Random(seed)
        hosts = random_inventory6(rng, rng.randrange(2, 12))
        gateway6 = netaddr.IPAddress("fd00::%x" % rng.randrange(32) if seed % 3 == 0 else "fe80::1")
        read = [plan_mod._read_host(name, variables, []) for name, variables in hosts.items()]  # pylint: disable=protected-access
        for error in pairwise_errors6(read, gateway6):
            kinds.update(kind for kind in ("overlaps", "holds address", "holds the node address",
                                           "holds the containers' gateway", "already used",
                                           "is the node address of", "outside the host's", "IPv6 node address of")
                         if kind in error)
    assert len(kinds) == 8, kinds
