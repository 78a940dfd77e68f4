# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routers between segments and per-node routes (lab/topologies/two_subnets.yml): hosts in two
subnets reach each other and the outside node through a router that forwards in its own
namespace only; bad routers and routes are refused with a clear message; `down` takes the
router with the rest; the probe runs on a routed lab and names the routers on each path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, lab_leftovers, machine_state
from labkit import core, probe, topology

TWO_SUBNETS = os.path.join(REPO, "lab", "topologies", "two_subnets.yml")
CLI = os.path.join(REPO, "lab", "lab.py")


def rt_name(tag):
    """Lab names of this file: rt<tag><pid>, apart from every other test's labs."""
    return "rt%s%d" % (tag, os.getpid() % 100000)


def two_subnets():
    """two_subnets.yml without its IPv6 side (link address6, gateway6, IPv6 blocks and container
    addresses): these tests are about routers and IPv4; tests/lab/test_ipv6.py has IPv6's."""
    with open(TWO_SUBNETS, encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    for group in ("hosts", "outside", "routers"):
        for node in doc.get(group, {}).values():
            node.pop("gateway6", None)
            for link in node["links"]:
                link.pop("address6", None)
            variables = node.get("vars", {})
            if isinstance(variables.get("crossnet_container_cidr"), list):
                variables["crossnet_container_cidr"] = [c for c in variables["crossnet_container_cidr"] if ":" not in c][0]
            for container in variables.get("crossnet_containers", []):
                container["addresses"] = [a for a in container["addresses"] if ":" not in a]
    return doc


def ping(lab, node, address):
    return lab.run(node, [core.PYTHON, core.WHOAMI, "ping", address, "2"], timeout=15)


def set_forwarding(lab, node, value):
    lab.run(node, ["sysctl", "-qw", "net.ipv4.ip_forward=%d" % value], check=True)


@pytest.fixture(scope="module")
def machine_before():
    return machine_state()


@pytest.fixture(scope="module")
def routed(machine_before):
    """two_subnets.yml up under a name of this module; always taken down."""
    lab = core.Lab(rt_name("m"))
    try:
        lab.up(TWO_SUBNETS)
        yield lab
    finally:
        lab.down()


# -- the topology format (no namespaces) ---------------------------------------------------------

def test_two_subnets_parses_into_hosts_an_outside_node_and_a_router():
    topo = topology.parse(two_subnets())
    assert [n.name for n in topo.hosts] == ["host1", "host2", "host3", "host4"]
    assert [n.name for n in topo.outside] == ["outside"] and [n.name for n in topo.routers] == ["router"]
    assert {n.name: str(n.gateway) for n in topo.nodes} == {
        "host1": "192.168.10.1", "host2": "192.168.10.1", "host3": "192.168.20.1", "host4": "192.168.20.1",
        "outside": "192.168.30.1", "router": "None"}
    assert {n.name: n.vars["crossnet_container_cidr"] for n in topo.hosts} == {
        "host%d" % h: "10.210.%d.0/24" % h for h in range(1, 5)}
    assert "crossnet_encapsulation" not in str(two_subnets())  # the scenarios choose it
    host1 = topo.node("host1")
    assert topo.routers_on_path(host1, "192.168.10.12") == []
    assert topo.routers_on_path(host1, "192.168.20.14") == ["router"]
    assert topo.routers_on_path(host1, "192.168.30.10") == ["router"]
    assert topo.routers_on_path(topo.node("outside"), "192.168.20.13") == ["router"]
    # The router knows no container block: only an overlay carries containers across racks.
    assert topo.routers_on_path(host1, "10.210.3.10") is None


def broken(change):
    doc = two_subnets()
    change(doc)
    return doc


def _set(path, value):
    """A change to two_subnets: set doc[path[0]][path[1]]... to value."""
    def change(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


ROUTER = ("routers", "router")
HOST1 = ("hosts", "host1")


@pytest.mark.parametrize("change,message", [
    (_set(("switches",), {}), r"topology: unknown key switches \(known: hosts, outside, routers, segments"),
    (_set(ROUTER + ("python",), "venv"), r"router node router: unknown key python \(known: gateway, gateway6, links, routes\)"),
    (_set(ROUTER + ("vars",), {}), "router node router: unknown key vars"),
    (_set(HOST1 + ("gw",), "192.168.10.1"), "host node host1: unknown key gw"),
    (_set(ROUTER + ("links",), [{"segment": "rack1", "ifname": "eth0", "address": "192.168.10.1/24"}]),
     "router router: links on two segments or more"),
    (_set(ROUTER + ("links", 0, "mask"), 24), "node router: link .* unknown key mask"),
    (_set(ROUTER + ("links", 1, "address"), "192.168.20.300/24"), "node router: bad link"),
    (_set(ROUTER + ("links", 1, "address"), "192.168.10.11/24"), "address 192.168.10.11 used by host1 and router"),
    (_set(HOST1 + ("gateway",), "192.168.20.1"),
     r"node host1: gateway 192.168.20.1 is not on-link: in none of the subnets of its links \(192.168.10.0/24\)"),
    (_set(HOST1 + ("gateway",), "192.168.10.11"), "node host1: gateway 192.168.10.11 is the node's own address"),
    (_set(HOST1 + ("gateway",), "192.168.10.255"), "gateway 192.168.10.255 is not a host address of 192.168.10.0/24"),
    (_set(HOST1 + ("gateway",), "router"), "node host1: gateway 'router' is no IPv4 address"),
    (_set(HOST1 + ("routes",), [{"dest": "10.0.0.0/8", "via": "192.168.30.1"}]),
     "node host1: route to 10.0.0.0/8: via 192.168.30.1 is not on-link"),
    (_set(HOST1 + ("routes",), [{"dest": "10.0.0.1/8", "via": "192.168.10.1"}]),
     "node host1: route dest '10.0.0.1/8' is no IPv4 network .*host bits set"),
    (_set(HOST1 + ("routes",), [{"dest": "10.0.0.0/8"}]), "node host1: route .* needs dest and via"),
    (_set(HOST1 + ("routes",), [{"dest": "192.168.10.0/24", "via": "192.168.10.1"}]),
     "node host1: route to 192.168.10.0/24: the subnet of its link eth0"),
    (_set(HOST1 + ("routes",), [{"dest": "10.0.0.0/8", "via": "192.168.10.1", "metric": 5}]),
     "node host1: route .* unknown key metric"),
    (_set(HOST1 + ("routes",), {"dest": "10.0.0.0/8", "via": "192.168.10.1"}), "node host1: routes must be a list"),
    (_set(HOST1 + ("routes",), [{"dest": "0.0.0.0/0", "via": "192.168.10.1"}]),
     "node host1: more than one route to 0.0.0.0/0 .*a gateway is the route to 0.0.0.0/0"),
    (_set(("outside", "outside", "routes"), [{"dest": "10.210.0.0/16", "via": "192.168.30.1"}] * 2),
     "node outside: more than one route to 10.210.0.0/16"),
    (_set(("routers",), [{"router": {}}]), "routers: a mapping of node names to nodes"),
    (_set(("routers", "host1"), {"links": [{"segment": "rack1", "address": "192.168.10.2/24"},
                                           {"segment": "wan", "ifname": "eth1", "address": "192.168.30.2/24"}]}),
     "node name 'host1' is reserved or used twice"),
])
def test_bad_routers_and_routes_are_refused_with_a_clear_message(change, message):
    with pytest.raises(topology.TopologyError, match=message):
        topology.parse(broken(change))


def test_the_cli_refuses_a_bad_topology_before_touching_anything(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(broken(_set(HOST1 + ("gateway",), "192.168.20.1"))), encoding="utf-8")
    lab = core.Lab(rt_name("b"))
    proc = subprocess.run([sys.executable, CLI, "up", str(bad), "--name", lab.name],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "gateway 192.168.20.1 is not on-link" in proc.stderr
    assert lab_leftovers(lab) == ([], set(), False)


def test_the_probe_expects_the_hosts_address_toward_the_router_and_names_the_path():
    topo = topology.parse(two_subnets())
    goals = list(probe.targets(topo))
    assert "router" not in [goal["node"] for goal in goals]
    sender = probe.senders(topo)[0]
    rows = {row["to"]: row for row in probe._rows(sender, goals, topo)}  # pylint: disable=protected-access
    assert sender[:2] == (topo.node("host1"), "web")
    assert rows["outside"]["expected_source"] == ["192.168.10.11"]
    assert rows["host3"]["expected_source"] == ["192.168.10.11"]
    assert rows["host3/web"]["expected_source"] == ["10.210.1.10"]
    assert rows["host2/app"]["path"] == [] and rows["host2"]["path"] == []
    assert rows["host3/web"]["path"] == rows["host4"]["path"] == rows["outside"]["path"] == ["router"]


def test_a_node_on_two_segments_expects_the_address_of_the_link_its_route_leaves_by():
    doc = two_subnets()
    doc["hosts"]["host1"]["links"].append({"segment": "wan", "ifname": "eth1", "address": "192.168.30.11/24"})
    doc["hosts"]["host1"]["routes"] = [{"dest": "192.168.20.0/24", "via": "192.168.30.1"}]
    host1 = topology.parse(doc).node("host1")
    assert probe.node_address_toward(host1, "192.168.20.14") == "192.168.30.11"  # by its route
    assert probe.node_address_toward(host1, "172.16.0.1") == "192.168.10.11"  # by its gateway
    assert probe.node_address_toward(host1, "192.168.30.10") == "192.168.30.11"  # on-link


# -- a running lab ---------------------------------------------------------------------------------

def test_hosts_in_two_subnets_reach_each_other_and_the_outside_through_the_router(routed):
    for node, address in (("host1", "192.168.20.13"), ("host4", "192.168.10.12"), ("host2", "192.168.30.10"),
                          ("host3", "192.168.30.10"), ("outside", "192.168.10.11"), ("host1", "192.168.10.12")):
        proc = ping(routed, node, address)
        assert proc.returncode == 0, (node, address, proc.stderr)
    hop = routed.run("host1", ["ip", "-4", "route", "get", "192.168.20.13"], check=True).stdout
    assert "via 192.168.10.1 dev eth0" in hop
    # The path is the router's: with its forwarding off, the other rack is out of reach (the
    # router itself still answers).
    set_forwarding(routed, "router", 0)
    try:
        assert ping(routed, "host1", "192.168.20.13").returncode == 1
        assert ping(routed, "host1", "192.168.20.1").returncode == 0
        assert ping(routed, "host1", "192.168.10.12").returncode == 0
    finally:
        set_forwarding(routed, "router", 1)
    assert ping(routed, "host1", "192.168.20.13").returncode == 0


def test_every_node_has_the_routes_the_topology_gives_it(routed):
    routes = {node: routed.run(node, ["ip", "-4", "route", "show"], check=True).stdout
              for node in ("host1", "host3", "outside", "router")}
    assert "default via 192.168.10.1 dev eth0" in routes["host1"]
    assert "default via 192.168.20.1 dev eth0" in routes["host3"]
    assert "default via 192.168.30.1 dev eth0" in routes["outside"]
    assert "default" not in routes["router"]
    for line in ("192.168.10.0/24 dev eth0", "192.168.20.0/24 dev eth1", "192.168.30.0/24 dev eth2"):
        assert line in routes["router"]
    assert "10.210." not in routes["router"]
    # Over ssh, as Ansible sees the host.
    assert "default via 192.168.10.1 dev eth0" in routed.ssh("host2", ["ip", "-4", "route"], check=True).stdout


def test_only_the_router_forwards_and_the_machine_is_untouched(routed, machine_before):
    forwarding = {node: routed.run(node, ["cat", "/proc/sys/net/ipv4/ip_forward"], check=True).stdout.strip()
                  for node in ("router", "host1", "outside")}
    assert forwarding["router"] == "1"
    assert machine_state() == machine_before
    if machine_before[0] == "0":  # a new namespace starts with the machine's value: the lab leaves it
        assert forwarding["host1"] == forwarding["outside"] == "0"


def test_routers_and_outside_nodes_are_not_in_the_inventory_and_have_no_containers(routed):
    with open(routed.inventory, encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    hosts = inventory["all"]["children"]["crossnet_hosts"]["hosts"]
    assert sorted(hosts) == ["host1", "host2", "host3", "host4"]
    assert "router" not in open(routed.inventory, encoding="utf-8").read()
    assert hosts["host3"]["ansible_host"] == "192.168.20.13"
    assert "gateway" not in hosts["host3"] and "routes" not in hosts["host3"]
    with pytest.raises(core.LabError, match="router node router has no containers"):
        routed.argv("router", ["true"], netns="c0")
    status = routed.status()
    assert status["healthy"] and status["nodes"]["router"]["kind"] == "router"
    assert status["nodes"]["router"]["netns"] and status["nodes"]["router"]["holder"] is None
    name = subprocess.run([sys.executable, CLI, "exec", routed.name, "router", "--", "ip", "-o", "-4", "addr"],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert "192.168.30.1/24" in name


def test_down_removes_the_router_with_the_rest():
    lab = core.Lab(rt_name("d"))
    try:
        assert lab.up(TWO_SUBNETS) is True
        assert lab.netns("router") in core.list_netns()
        sleeper = subprocess.Popen(lab.argv("router", ["sleep", "600"]), env=lab.env())
        pids = lab.processes()
        assert sleeper.pid in pids and len(pids) >= 9  # 4 holders, 4 sshd, the sleeper
        lab.down()
        assert sleeper.wait(timeout=5) != 0
    finally:
        lab.down()
    assert lab_leftovers(lab) == ([], set(), False)
    assert not any(os.path.exists("/proc/%d" % pid) and not core._zombie(pid) for pid in pids)


# -- the probe on a routed lab -----------------------------------------------------------------------

# Stand-in containers (not the collection's): a veth per container, /32 routes on the host,
# 169.254.1.1 as the container's gateway, masquerade toward the uplink.  The router learns the
# container blocks (its own `routes:`), so containers reach each other across racks without an
# overlay.
CONTAINER = """set -e
sysctl -qw net.ipv4.ip_forward=1
ip netns add {name}
ip link add v-{name} type veth peer name eth0 netns {name}
ip addr add 169.254.1.1/32 dev v-{name}
ip link set v-{name} up
ip route add {address}/32 dev v-{name}
ip -n {name} link set lo up
ip -n {name} addr add {address}/32 dev eth0
ip -n {name} link set eth0 up
ip -n {name} route add 169.254.1.1 dev eth0
ip -n {name} route add default via 169.254.1.1 dev eth0
"""
MASQUERADE = ["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-s", "10.210.0.0/16",
              "!", "-d", "10.210.0.0/16", "-j", "MASQUERADE"]


def routed_containers_topology(path):
    doc = two_subnets()
    doc["routers"]["router"]["routes"] = [
        {"dest": "10.210.%d.0/24" % h, "via": "192.168.%d.%d" % (10 if h < 3 else 20, 10 + h)} for h in range(1, 5)]
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(doc, handle)
    return doc


def test_probe_on_a_routed_lab_skips_the_router_and_names_it_on_each_path(tmp_path):
    doc = routed_containers_topology(tmp_path / "routed_containers.yml")
    lab = core.Lab(rt_name("p"))
    try:
        lab.up(str(tmp_path / "routed_containers.yml"))
        for host, spec in doc["hosts"].items():
            lab.run(host, MASQUERADE, check=True)
            for container in spec["vars"]["crossnet_containers"]:
                script = CONTAINER.format(name=container["name"], address=container["addresses"][0])
                lab.run(host, ["sh", "-c", script], check=True)
        report = tmp_path / "probe.json"
        cli = subprocess.run([sys.executable, CLI, "probe", lab.name, "--check", "--json", str(report)],
                             capture_output=True, text=True, timeout=180, check=False)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        # 6 containers, each to 5 other containers, 3 other hosts and the outside node.
        assert "54 of 54 paths as expected" in cli.stdout
        assert "host1 -> host3/web, host3/cache, host4/app, host3, host4, outside: via router" in cli.stdout
        assert "router" not in cli.stdout.splitlines()[0]  # no column for the router
        rows = json.loads(report.read_text(encoding="utf-8"))
        assert {row["to"] for row in rows} >= {"outside", "host4"} and "router" not in {row["to"] for row in rows}
        seen = {(row["from"], row["to"]): (row["seen_source"], row["path"]) for row in rows}
        assert seen[("host1/web", "host3/web")] == ("10.210.1.10", ["router"])
        assert seen[("host4/app", "outside")] == ("192.168.20.14", ["router"])
        assert seen[("host2/app", "host1")] == ("192.168.10.12", [])
    finally:
        lab.down()
    assert lab_leftovers(lab) == ([], set(), False)
