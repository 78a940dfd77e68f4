# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 in the lab (lab/topologies/dual_stack.yml): links with ``address6`` (and IPv6-only
links), ``gateway6`` and IPv6 routes are parsed, refused when wrong and applied; the addresses
are usable at once (nodad, never tentative); routers forward IPv6; the whoami server and the
probe work over both families.  The labs of this file are named l6<tag><pid>."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, lab_leftovers, machine_state
from labkit import core, probe, topology

DUAL_STACK = os.path.join(REPO, "lab", "topologies", "dual_stack.yml")
CLI = os.path.join(REPO, "lab", "lab.py")

# Two segments joined by a router, IPv6 only: host1 by its gateway6, host2 by a route.
ROUTED6 = {
    "segments": ["sega", "segb"],
    "vars": {"crossnet_manage_packages": False},
    "hosts": {
        "host1": {"python": "venv", "links": [{"segment": "sega", "ifname": "eth0", "address6": "fd00:6a::5/64"}],
                  "gateway6": "fd00:6a::1"},
        "host2": {"python": "system", "links": [{"segment": "segb", "ifname": "eth0", "address6": "fd00:6b::5/64"}],
                  "routes": [{"dest": "fd00:6a::/64", "via": "fd00:6b::1"}]},
    },
    "routers": {
        "router": {"links": [{"segment": "sega", "ifname": "eth0", "address6": "fd00:6a::1/64"},
                             {"segment": "segb", "ifname": "eth1", "address6": "fd00:6b::1/64"}]},
    },
}


def l6_name(tag):
    """Lab names of this file: l6<tag><pid>, apart from every other test's labs."""
    return "l6%s%d" % (tag, os.getpid() % 100000)


def dual_stack():
    with open(DUAL_STACK, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# -- the topology format (no namespaces) ---------------------------------------------------------

def test_dual_stack_parses_with_both_families_on_every_link():
    topo = topology.parse(dual_stack())
    assert [n.name for n in topo.hosts] == ["host1", "host2"] and [n.name for n in topo.outside] == ["outside"]
    assert {n.name: (n.address, n.address6) for n in topo.nodes} == {
        "host1": ("192.168.60.3", "fd00:60::3"), "host2": ("192.168.60.4", "fd00:60::4"),
        "outside": ("192.168.60.10", "fd00:60::10")}
    assert str(topo.node("host1").links[0].address6) == "fd00:60::3/64"
    assert topo.node("host1").python.endswith(os.path.join(".venv", "bin", "python"))
    assert topo.node("host2").python == "/usr/bin/python3"
    assert {n.name: n.vars["crossnet_container_cidr"] for n in topo.hosts} == {
        "host1": ["10.60.1.0/24", "fd10:1::/64"], "host2": ["10.60.2.0/24", "fd10:2::/64"]}
    containers = {(h.name, name): addresses for h, name, addresses in probe.containers(topo)}
    assert containers == {("host1", "dual"): ["10.60.1.10", "fd10:1::10"], ("host1", "v6only"): ["fd10:1::11"],
                          ("host2", "dual"): ["10.60.2.10", "fd10:2::10"], ("host2", "v4only"): ["10.60.2.11"]}
    assert all(n.vars["crossnet_uplink"] == "eth0" for n in topo.hosts)
    assert topo.vars == {"crossnet_manage_packages": False}
    assert topo.routers_on_path(topo.node("host1"), "fd00:60::10") == []


def test_ipv6_only_links_gateway6_and_ipv6_routes_parse():
    topo = topology.parse(copy.deepcopy(ROUTED6))
    host1, host2, router = topo.node("host1"), topo.node("host2"), topo.node("router")
    assert host1.links[0].address is None and str(host1.links[0].address6) == "fd00:6a::5/64"
    assert host1.address == host1.address6 == "fd00:6a::5"  # an IPv6-only node is named by its IPv6 address
    assert str(host1.gateway6) == "fd00:6a::1" and host1.gateway is None
    assert [(str(r.dest), str(r.via)) for r in host2.routes] == [("fd00:6a::/64", "fd00:6b::1")]
    assert topo.routers_on_path(host1, "fd00:6b::5") == ["router"]
    assert topo.routers_on_path(host2, "fd00:6a::5") == ["router"]
    assert topo.routers_on_path(host2, "fd00:99::1") is None  # no route there
    assert topo.owner("fd00:6b:0::1") is router
    assert probe.node_address_toward(host1, "fd00:6b::5") == "fd00:6a::5"  # by its gateway6
    assert probe.node_address_toward(host1, "192.0.2.1") is None  # no IPv4 at all


def test_a_dual_stack_node_routes_each_family_by_its_own_routes():
    doc = dual_stack()
    doc["segments"].append("wan")
    doc["hosts"]["host1"]["links"].append({"segment": "wan", "ifname": "eth1", "address": "192.168.61.3/24",
                                           "address6": "fd00:61::3/64"})
    doc["hosts"]["host1"]["gateway"] = "192.168.61.1"
    doc["hosts"]["host1"]["gateway6"] = "fd00:60::1"
    doc["hosts"]["host1"]["routes"] = [{"dest": "fd00:99::/48", "via": "fd00:61::1"},
                                       {"dest": "10.99.0.0/16", "via": "192.168.60.1"}]
    host1 = topology.parse(doc).node("host1")
    assert str(host1.gateway) == "192.168.61.1" and str(host1.gateway6) == "fd00:60::1"
    assert probe.node_address_toward(host1, "2001:db8::1") == "fd00:60::3"  # gateway6 leaves by eth0
    assert probe.node_address_toward(host1, "fd00:99:0:1::1") == "fd00:61::3"  # its route by eth1
    assert probe.node_address_toward(host1, "172.16.0.1") == "192.168.61.3"  # gateway by eth1
    assert probe.node_address_toward(host1, "10.99.1.1") == "192.168.60.3"  # its route by eth0
    assert probe.node_address_toward(host1, "fd00:61::9") == "fd00:61::3"  # on-link


def _set(path, value):
    def change(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _both(first, second):
    def change(doc):
        first(doc)
        second(doc)
    return change


HOST1 = ("hosts", "host1")
LINK1 = HOST1 + ("links", 0)


@pytest.mark.parametrize("change,message", [
    (_set(LINK1 + ("address6",), "fd00:60::zz/64"), r"node host1: bad link .*address6 'fd00:60::zz/64' is no IPv6 address"),
    (_set(LINK1 + ("address6",), "192.168.60.30/24"), r"node host1: bad link .*address6 '192.168.60.30/24' is no IPv6"),
    (_set(LINK1 + ("address6",), "fd00:60::3/129"), r"node host1: bad link .*address6 'fd00:60::3/129' is no IPv6"),
    (_set(LINK1 + ("address6",), 64), r"node host1: bad link .*address6 64 is no IPv6 address"),
    (_set(LINK1 + ("address",), "fd00:60::30/64"), r"node host1: bad link .*fd00:60::30/64"),
    (_set(LINK1 + ("address6",), "fe80::3/64"), r"node host1: bad link .*address6 fe80::3 is link-local"),
    (_set(LINK1 + ("address6",), "ff02::3/64"), r"node host1: bad link .*address6 ff02::3 is multicast"),
    (_set(LINK1 + ("address6",), "::1/128"), r"node host1: bad link .*address6 ::1 is loopback"),
    (_set(LINK1 + ("address6",), "::ffff:192.0.2.1/128"), "address6 ::ffff:c000:201 is IPv4-mapped"),
    (_set(LINK1, {"segment": "lan", "ifname": "eth0"}), r"node host1: bad link .*give address, address6 or both"),
    (_set(LINK1 + ("address7",), "fd00:60::3/64"), r"node host1: link .* unknown key address7 \(known: address, "
                                                   r"address6, ifname, segment\)"),
    (_set(HOST1 + ("gw6",), "fd00:60::1"), r"host node host1: unknown key gw6 \(known: gateway, gateway6, links"),
    (_set(("outside", "outside", "links", 0, "address6"), "fd00:60::4/64"), "address fd00:60::4 used by host2 and outside"),
    (_set(("outside", "outside", "links", 0, "address6"), "FD00:60:0::4/64"), "address fd00:60::4 used by host2 and outside"),
    (_set(HOST1 + ("gateway6",), "fd00:61::1"),
     r"node host1: gateway6 fd00:61::1 is not on-link: in none of the IPv6 subnets of its links \(fd00:60::/64\)"),
    (_set(HOST1 + ("gateway6",), "192.168.60.1"), "node host1: gateway6 '192.168.60.1' is no IPv6 address"),
    (_set(HOST1 + ("gateway",), "fd00:60::1"), "node host1: gateway 'fd00:60::1' is no IPv4 address"),
    (_set(HOST1 + ("gateway6",), "fd00:60::3"), "node host1: gateway6 fd00:60::3 is the node's own address"),
    (_set(HOST1 + ("gateway6",), "fd00:60::"), "gateway6 fd00:60:: is not a host address of fd00:60::/64"),
    (_set(HOST1 + ("routes",), [{"dest": "fd00:99::/48", "via": "192.168.60.1"}]),
     "node host1: route to fd00:99::/48: via '192.168.60.1' is no IPv6 address"),
    (_set(HOST1 + ("routes",), [{"dest": "10.99.0.0/16", "via": "fd00:60::1"}]),
     "node host1: route to 10.99.0.0/16: via 'fd00:60::1' is no IPv4 address"),
    (_set(HOST1 + ("routes",), [{"dest": "fd00:99::1/48", "via": "fd00:60::1"}]),
     "node host1: route dest 'fd00:99::1/48' is no IPv6 network .*host bits set"),
    (_set(HOST1 + ("routes",), [{"dest": "fd00:60::/64", "via": "fd00:60::1"}]),
     "node host1: route to fd00:60::/64: the subnet of its link eth0"),
    (_both(_set(HOST1 + ("gateway6",), "fd00:60::1"), _set(HOST1 + ("routes",), [{"dest": "::/0", "via": "fd00:60::2"}])),
     r"node host1: more than one route to ::/0 .*a gateway6 the route to ::/0"),
])
def test_bad_ipv6_links_gateways_and_routes_are_refused_with_a_clear_message(change, message):
    doc = dual_stack()
    change(doc)
    with pytest.raises(topology.TopologyError, match=message):
        topology.parse(doc)


def test_an_ipv6_only_node_needs_its_gateway6_on_an_ipv6_link():
    doc = copy.deepcopy(ROUTED6)
    doc["hosts"]["host1"]["gateway"] = "192.168.1.1"
    with pytest.raises(topology.TopologyError, match=r"gateway 192.168.1.1 is not on-link: .*links \(none\)"):
        topology.parse(doc)


# -- the probe's rows and output (no namespaces) ---------------------------------------------------

def test_the_probe_has_a_row_per_family_both_ends_have():
    topo = topology.parse(dual_stack())
    goals = list(probe.targets(topo))
    rows = [row for sender in probe.senders(topo) for row in probe._rows(sender, goals, topo)]  # pylint: disable=protected-access
    by = {(row["from"], row["to"], row["family"]): row for row in rows}
    assert len(rows) == len(by) == 24
    assert sum(row["family"] == 4 for row in rows) == 12 and sum(row["family"] == 6 for row in rows) == 12
    assert by[("host1/dual", "host2/dual", 6)]["address"] == "fd10:2::10"
    assert by[("host1/dual", "host2/dual", 6)]["expected_source"] == ["fd10:1::10"]
    assert by[("host1/dual", "host2/dual", 4)]["expected_source"] == ["10.60.1.10"]
    assert by[("host1/v6only", "outside", 6)]["expected_source"] == ["fd00:60::3"]
    assert by[("host2/dual", "host1", 6)]["expected_source"] == ["fd00:60::4"]
    assert by[("host2/v4only", "outside", 4)]["expected_source"] == ["192.168.60.4"]
    # No family in common, no row: the IPv6-only and the IPv4-only container never meet.
    assert not [key for key in by if {key[0], key[1]} == {"host1/v6only", "host2/v4only"}]
    assert not [key for key in by if key[0] == "host1/v6only" and key[2] == 4]
    # IPv4 before IPv6 for each target, targets in the order of the IPv4-only probe.
    assert [(row["to"], row["family"]) for row in rows if row["from"] == "host1/dual"] == [
        ("host1/v6only", 6), ("host2/dual", 4), ("host2/dual", 6), ("host2/v4only", 4), ("host2", 4), ("host2", 6),
        ("outside", 4), ("outside", 6)]
    assert all(row["path"] == [] for row in rows)


def answered(rows, seen=None):
    for row in rows:
        row.update(ping=True, ping_ms=0.1, error=None, seconds=0.01,
                   seen_source=(seen or {}).get((row["from"], row["to"], row["family"]), row["expected_source"][0]))
        row["ok"] = row["seen_source"] in row["expected_source"]
    return rows


def test_the_probe_output_keeps_the_ipv4_matrix_and_adds_an_ipv6_one():
    topo = topology.parse(dual_stack())
    goals = list(probe.targets(topo))
    rows = answered([row for sender in probe.senders(topo) for row in probe._rows(sender, goals, topo)],  # pylint: disable=protected-access
                    {("host1/dual", "outside", 6): "fd10:1::10"})  # not masqueraded
    lines = probe.render(rows).splitlines()
    assert lines[0].split() == ["from", "\\", "to", "host1/dual", "host2/dual", "host2/v4only", "host1", "host2", "outside"]
    assert lines[1].split() == ["host1/dual", "10.60.1.10", "10.60.1.10", "192.168.60.3", "192.168.60.3"]
    assert lines[4].split() == ["IPv6:", "from", "\\", "to", "host1/dual", "host1/v6only", "host2/dual", "host1",
                                "host2", "outside"]
    assert lines[5].split() == ["host1/dual", "fd10:1::10", "fd10:1::10", "fd00:60::3", "fd10:1::10!"]
    assert lines[8].startswith("23 of 24 paths as expected (container->container keeps its source")
    assert lines[9] == "by family: IPv4 12 of 12, IPv6 11 of 12"
    assert lines[10].startswith("  FAIL host1/dual -> outside (fd00:60::10): ping=True seen=fd10:1::10 "
                                "expected=fd00:60::3")
    # An IPv4-only lab's output is as it was: one matrix, no family line.
    only4 = answered([row for row in (r for r in rows) if row["family"] == 4])
    text = probe.render(only4)
    assert "IPv6" not in text and "by family" not in text and "12 of 12 paths as expected" in text


def test_routed_lines_name_the_family_only_where_the_paths_differ():
    rows = [{"from": "host1/web", "to": "outside", "family": 4, "path": ["router"], "ok": True},
            {"from": "host1/web", "to": "outside", "family": 6, "path": None, "ok": True},
            {"from": "host1/web", "to": "host3", "family": 4, "path": ["router"], "ok": True},
            {"from": "host1/web", "to": "host3", "family": 6, "path": ["router"], "ok": True},
            {"from": "host1/web", "to": "host2", "family": 6, "path": [], "ok": True}]
    assert probe._routed_lines(rows) == [  # pylint: disable=protected-access
        "host1 -> outside (IPv4), host3: via router", "host1 -> outside (IPv6): no route in the topology"]


# -- running labs ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def machine_before():
    return machine_state()


@pytest.fixture(scope="module")
def dual(machine_before):
    """dual_stack.yml up as l6m<pid>; always taken down."""
    lab = core.Lab(l6_name("m"))
    try:
        lab.up(DUAL_STACK)
        yield lab
    finally:
        lab.down()
    assert lab_leftovers(lab) == ([], set(), False)


def test_dual_stack_hosts_have_their_ipv6_address_at_once_not_tentative(dual):
    for node, address in (("host1", "fd00:60::3/64"), ("host2", "fd00:60::4/64"), ("outside", "fd00:60::10/64")):
        out = subprocess.run(["ip", "netns", "exec", dual.netns(node), "ip", "-6", "-o", "addr", "show", "dev", "eth0"],
                             capture_output=True, text=True, check=True).stdout
        line = next(ln for ln in out.splitlines() if " %s " % address in ln)
        assert "scope global" in line and "tentative" not in line and "dadfailed" not in line, line
        assert "192.168.60." in dual.run(node, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"], check=True).stdout
    # As Ansible's facts will see it, over ssh: the global IPv6 address of the uplink.
    assert "inet6 fd00:60::4/64 scope global" in dual.ssh("host2", ["ip", "-6", "addr", "show", "dev", "eth0"],
                                                          check=True).stdout
    routes = dual.run("host1", ["ip", "-6", "route", "show"], check=True).stdout
    assert "fd00:60::/64 dev eth0" in routes and "default" not in routes


def test_dual_stack_hosts_keep_ipv6_on_and_accept_ra_at_its_default(dual):
    for node in ("host1", "host2", "outside"):
        values = dual.run(node, ["sysctl", "-n", "net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.eth0.disable_ipv6",
                                 "net.ipv6.conf.eth0.accept_ra", "net.ipv6.conf.all.forwarding"],
                          check=True).stdout.split()
        assert values == ["0", "0", "1", "0"], (node, values)


def test_host1_pings_host2_and_the_outside_node_over_ipv6(dual):
    for node, address in (("host1", "fd00:60::4"), ("host1", "fd00:60::10"), ("outside", "fd00:60::3"),
                          ("host2", "192.168.60.3")):
        proc = dual.run(node, [core.PYTHON, core.WHOAMI, "ping", address, "2"], timeout=15)  # ICMPv6 for IPv6
        assert proc.returncode == 0, (node, address, proc.stderr)
    if shutil.which("ping"):  # iputils-ping: not among the lab's packages (scripts/bootstrap.sh)
        proc = subprocess.run(["ip", "netns", "exec", dual.netns("host1"), "ping", "-6", "-c1", "-W2", "fd00:60::4"],
                              capture_output=True, text=True, timeout=15, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    lost = dual.run("host1", [core.PYTHON, core.WHOAMI, "ping", "fd00:60::99", "1"], timeout=15)
    assert lost.returncode == 1 and "no echo reply from fd00:60::99" in lost.stderr


def test_whoami_answers_over_both_families_with_the_peer_it_saw(dual):
    server = subprocess.Popen(dual.argv("outside", [core.PYTHON, core.WHOAMI, "serve", "7106", "3600", "stdin"]),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dual.env())
    try:
        assert server.stdout.readline().strip() == "ready"
        listening = dual.run("outside", ["ss", "-Htln", "sport", "=", ":7106"], check=True).stdout
        assert "0.0.0.0:7106" in listening and "[::]:7106" in listening
        sweep = dual.run("host1", [core.PYTHON, core.WHOAMI, "sweep", "7106", "2", "192.168.60.10", "fd00:60::10",
                                   "FD00:60:0::10"], timeout=30)
        answers = [json.loads(line) for line in sweep.stdout.splitlines()]
        assert [(a["address"], a["seen"], a["error"]) for a in answers] == [
            ("192.168.60.10", "192.168.60.3", None), ("fd00:60::10", "fd00:60::3", None),
            ("FD00:60:0::10", "fd00:60::3", None)]
        assert all(isinstance(a["ping_ms"], float) for a in answers)
        server.stdin.close()
        assert server.wait(timeout=5) == 0
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


def test_dual_stack_leaves_the_machine_alone(dual, machine_before):
    assert machine_state() == machine_before
    with open(dual.inventory, encoding="utf-8") as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["crossnet_hosts"]["hosts"]
    assert {name: h["ansible_host"] for name, h in hosts.items()} == {"host1": "192.168.60.3", "host2": "192.168.60.4"}
    assert hosts["host1"]["crossnet_container_cidr"] == ["10.60.1.0/24", "fd10:1::/64"]


# Stand-in containers (not the collection's), as tests/lab/test_routers.py has for IPv4: a veth
# per container, a route to each of its addresses on the host, 169.254.1.1 and fe80::1 as its
# gateways, the peer's blocks via its node addresses, masquerade toward the uplink.
HOST_NET = """set -e
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip route add 10.60.{peer}.0/24 via 192.168.60.{peer_node}
ip -6 route add fd10:{peer}::/64 via fd00:60::{peer_node}
iptables -w -t nat -A POSTROUTING -o eth0 -s 10.60.0.0/16 ! -d 10.60.0.0/16 -j MASQUERADE
ip6tables -w -t nat -A POSTROUTING -o eth0 -s fd10::/16 ! -d fd10::/16 -j MASQUERADE
"""
CONTAINER = """set -e
ip netns add {name}
ip link add v-{name} type veth peer name eth0 netns {name}
ip link set v-{name} up
ip -n {name} link set lo up
ip -n {name} link set eth0 up
"""
CONTAINER4 = """ip addr add 169.254.1.1/32 dev v-{name}
ip route add {address}/32 dev v-{name}
ip -n {name} addr add {address}/32 dev eth0
ip -n {name} route add 169.254.1.1 dev eth0
ip -n {name} route add default via 169.254.1.1 dev eth0
"""
CONTAINER6 = """ip -6 addr add fe80::1/64 dev v-{name} nodad
ip -6 route add {address}/128 dev v-{name}
ip -n {name} -6 addr add {address}/128 dev eth0 nodad
ip -n {name} -6 route add default via fe80::1 dev eth0
"""


@pytest.mark.skipif(not shutil.which("ip6tables"), reason="no ip6tables")
def test_the_probe_checks_both_families_on_stand_in_containers(dual, tmp_path):
    doc = dual_stack()
    for number, (host, spec) in enumerate(doc["hosts"].items(), start=1):
        dual.run(host, ["sh", "-c", HOST_NET.format(peer=3 - number, peer_node=5 - number)], check=True)
        for container in spec["vars"]["crossnet_containers"]:
            script = CONTAINER.format(name=container["name"])
            for address in container["addresses"]:
                script += (CONTAINER6 if ":" in address else CONTAINER4).format(name=container["name"], address=address)
            dual.run(host, ["sh", "-c", script], check=True)
    report = tmp_path / "probe.json"
    cli = subprocess.run([sys.executable, CLI, "probe", dual.name, "--check", "--json", str(report)],
                         capture_output=True, text=True, timeout=180, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "24 of 24 paths as expected" in cli.stdout
    assert "by family: IPv4 12 of 12, IPv6 12 of 12" in cli.stdout
    assert cli.stdout.splitlines()[4].startswith("IPv6: from \\ to")
    rows = json.loads(report.read_text(encoding="utf-8"))
    seen = {(row["from"], row["to"], row["family"]): row["seen_source"] for row in rows}
    assert seen[("host1/v6only", "host2/dual", 6)] == "fd10:1::11"  # container to container: its own
    assert seen[("host1/v6only", "outside", 6)] == "fd00:60::3"  # outward: the host's IPv6 address
    assert seen[("host2/dual", "host1", 6)] == "fd00:60::4"
    assert seen[("host2/dual", "outside", 4)] == "192.168.60.4"
    assert all(row["ok"] and row["ping_ms"] is not None for row in rows)
    # Without IPv6 masquerade on host1, its containers' IPv6 traffic outward fails or is seen unNATed.
    dual.run("host1", ["ip6tables", "-w", "-t", "nat", "-F", "POSTROUTING"], check=True)
    again = subprocess.run([sys.executable, CLI, "probe", dual.name, "--check"],
                           capture_output=True, text=True, timeout=180, check=False)
    assert again.returncode == 1
    assert "by family: IPv4 12 of 12, IPv6 " in again.stdout and "IPv6 12 of 12" not in again.stdout
    assert "FAIL host1/v6only -> outside (fd00:60::10)" in again.stdout


def test_routers_forward_ipv6_and_nodes_get_their_ipv6_routes(tmp_path, machine_before):
    path = tmp_path / "routed6.yml"
    path.write_text(yaml.safe_dump(ROUTED6), encoding="utf-8")
    lab = core.Lab(l6_name("r"))
    try:
        lab.up(str(path))
        assert "default via fd00:6a::1 dev eth0" in lab.run("host1", ["ip", "-6", "route"], check=True).stdout
        assert "fd00:6a::/64 via fd00:6b::1 dev eth0" in lab.run("host2", ["ip", "-6", "route"], check=True).stdout
        assert lab.run("router", ["sysctl", "-n", "net.ipv6.conf.all.forwarding"], check=True).stdout.strip() == "1"
        assert lab.run("host1", ["sysctl", "-n", "net.ipv6.conf.all.forwarding"], check=True).stdout.strip() == "0"
        proc = lab.run("host1", [core.PYTHON, core.WHOAMI, "ping", "fd00:6b::5", "2"], timeout=15)
        assert proc.returncode == 0, proc.stderr
        # An IPv6-only host is in the inventory by its IPv6 address, and reachable over ssh.
        with open(lab.inventory, encoding="utf-8") as handle:
            hosts = yaml.safe_load(handle)["all"]["children"]["crossnet_hosts"]["hosts"]
        assert hosts["host2"]["ansible_host"] == "fd00:6b::5"
        assert lab.ssh("host2", ["hostname"], check=True).stdout.strip() == "host2"
    finally:
        lab.down()
    assert lab_leftovers(lab) == ([], set(), False)
    assert machine_state() == machine_before


def test_dual_stack_up_and_down_leave_no_namespace(machine_before):
    lab = core.Lab(l6_name("d"))
    try:
        proc = subprocess.run([sys.executable, CLI, "up", DUAL_STACK, "--name", lab.name],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == lab.inventory
        assert sorted(ns for ns in core.list_netns() if ns.startswith(lab.prefix)) == [
            lab.netns(n) for n in ("host1", "host2", "outside", "switch")]
        down = subprocess.run([sys.executable, CLI, "down", lab.name], capture_output=True, text=True, timeout=60,
                              check=False)
        assert down.returncode == 0, down.stderr
        assert lab_leftovers(lab) == ([], set(), False)
    finally:
        lab.down()
    assert machine_state() == machine_before
