# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's VXLAN overlay: crossnet_encapsulation, VTEPs, MTU, routes and the preflight."""

from __future__ import annotations

import copy
import hashlib

import netaddr
import pytest

from test_plan import assert_one_error, assert_stored_parts_read_back, errors_of, facts  # also makes the collection importable

from ansible_collections.crossnet.routed.plugins.filter.node_addresses import node_addresses  # noqa: E402
from ansible_collections.crossnet.routed.plugins.filter.preflight_input import preflight_input  # noqa: E402
from ansible_collections.crossnet.routed.plugins.module_utils import names  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils import plan as plan_mod  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (  # noqa: E402
    HOST_NETWORK_OPTIONS,
    HOST_VARIABLES,
    VXLAN_DEVICE,
    explicit_preflight,
    host_network_args,
    network_plan,
    plan_network,
    vtep_mac,
)

CIDR = "10.255.0.0/24"


def host(node, containers=(), mode=None, mtu=1500, **variables):
    """A host with facts: node address on eth0 in a /24, containers ``[(name, address), ...]``."""
    result = {"ansible_facts": facts(node, mtu=mtu),
              "crossnet_containers": [{"name": name, "addresses": [address]} for name, address in containers]}
    if mode is not None:
        result["crossnet_encapsulation"] = mode
    result.update(variables)
    return result


def three(mode, **variables):
    """a and b share 192.168.1.0/24; c is alone in 192.168.2.0/24."""
    variables.setdefault("crossnet_vtep_cidr", CIDR)
    return {
        "a": host("192.168.1.2", [("c1", "10.1.0.1")], mode, **variables),
        "b": host("192.168.1.3", [("c1", "10.1.0.2")], mode, **variables),
        "c": host("192.168.2.3", [("c1", "10.2.0.2")], mode, crossnet_container_cidr="10.2.0.0/24", **variables),
    }


def vtep_start(name, cidr):
    network = netaddr.IPNetwork(cidr)
    first, count = (network.first + 1, network.size - 2) if network.prefixlen < 31 else (network.first, network.size)
    return str(netaddr.IPAddress(first + int.from_bytes(hashlib.sha256(name.encode()).digest(), "big") % count))


def vteps(plans):
    return {name: part["vxlan"]["address"] for name, part in plans.items() if part["vxlan"]}


def kinds(part):
    """{peer: "overlay" | "direct"} from the preflight peers."""
    return {peer["host"]: "overlay" if peer["overlay"] else "direct" for peer in part["preflight"]["peers"]}


# ---------------------------------------------------------------- the plan's shape


def test_vxlan_everywhere_full_part():
    plans = network_plan(three("vxlan"))
    a, b, c = (vtep_start(name, CIDR) for name in "abc")
    assert len({a, b, c}) == 3  # (so that no probing happens in this test)
    veth = names.host_ifname("c1", "eth0")
    assert plans["a"] == {
        "namespaces": ["c1"],
        "veth_pairs": [{"netns": "c1", "host_ifname": veth, "peer_ifname": "eth0", "addresses": ["10.1.0.1/32"],
                        "gateway": "169.254.1.1", "gateway6": None, "mtu": 1450}],
        "routes": [
            {"dest": "10.1.0.1/32", "dev": veth, "scope": "link"},
            {"dest": "%s/32" % b, "dev": VXLAN_DEVICE, "scope": "link"},
            {"dest": "10.1.0.2/32", "gateway": b, "dev": VXLAN_DEVICE, "onlink": True},
            {"dest": "%s/32" % c, "dev": VXLAN_DEVICE, "scope": "link"},
            {"dest": "10.2.0.0/24", "gateway": c, "dev": VXLAN_DEVICE, "onlink": True},
        ],
        "proxy_arp_interfaces": [veth],
        "masquerade": {"sources": ["10.1.0.1/32"], "exclude": ["10.1.0.1/32", "10.1.0.2/32", "10.2.0.0/24"]},
        "forwarding": {"container_networks": ["10.1.0.1/32"], "accept_ra_interfaces": [],
                       "source_check_interfaces": []},
        "preflight": {"uplink": "eth0", "node_address": "192.168.1.2", "node_address6": None, "peers": [
            {"host": "b", "address": "192.168.1.3", "overlay": True, "address6": None},
            {"host": "c", "address": "192.168.2.3", "overlay": True, "address6": None}]},
        "routes_keep": [],
        "unresolved_peers": [],
        "unresolved": None,
        "vxlan": {"name": "crossnet-vxlan", "vni": 4096, "port": 4789, "local": "192.168.1.2", "address": a,
                  "mac": vtep_mac(a), "mtu": 1450, "peers": [
                      {"host": "b", "address": b, "mac": vtep_mac(b), "remote": "192.168.1.3"},
                      {"host": "c", "address": c, "mac": vtep_mac(c), "remote": "192.168.2.3"}]},
    }
    assert host_network_args(plans["a"])["vxlan_tunnels"] == [plans["a"]["vxlan"]]
    assert set(host_network_args(plans["a"])) == set(HOST_NETWORK_OPTIONS)


def test_mode_none_is_todays_plan_without_a_tunnel():
    plans = network_plan(three(None))
    assert all(part["vxlan"] is None for part in plans.values())
    assert host_network_args(plans["a"])["vxlan_tunnels"] == []
    assert plans["a"]["routes"][1:] == [{"dest": "10.1.0.2/32", "gateway": "192.168.1.3", "dev": "eth0"},
                                        {"dest": "10.2.0.0/24", "gateway": "192.168.2.3", "dev": "eth0"}]
    assert kinds(plans["a"]) == {"b": "direct", "c": "direct"}
    assert plans["a"]["veth_pairs"][0]["mtu"] == 1500
    assert network_plan(three("none")) == plans


def test_the_new_variables_are_read_from_hostvars():
    for name in ("crossnet_encapsulation", "crossnet_vxlan_vni", "crossnet_vxlan_port", "crossnet_vtep_address",
                 "crossnet_vtep_cidr"):
        assert name in HOST_VARIABLES


def test_mac_from_the_vtep_address():
    assert vtep_mac("10.255.0.7") == "02:63:0a:ff:00:07"
    assert vtep_mac(netaddr.IPAddress("192.168.200.255")) == "02:63:c0:a8:c8:ff"


def test_vni_and_port_are_taken_when_equal_everywhere():
    plans = network_plan(three("vxlan", crossnet_vxlan_vni="77", crossnet_vxlan_port=8472))
    assert {(part["vxlan"]["vni"], part["vxlan"]["port"]) for part in plans.values()} == {(77, 8472)}


# ---------------------------------------------------------------- on-link or overlay


def test_cross_subnet_direct_to_on_link_peers_overlay_to_the_others():
    plans = network_plan(three("cross_subnet"))
    assert kinds(plans["a"]) == {"b": "direct", "c": "overlay"}
    assert kinds(plans["c"]) == {"a": "overlay", "b": "overlay"}
    c_vtep = plans["c"]["vxlan"]["address"]
    assert plans["a"]["routes"][1:] == [
        {"dest": "10.1.0.2/32", "gateway": "192.168.1.3", "dev": "eth0"},
        {"dest": "%s/32" % c_vtep, "dev": VXLAN_DEVICE, "scope": "link"},
        {"dest": "10.2.0.0/24", "gateway": c_vtep, "dev": VXLAN_DEVICE, "onlink": True}]
    assert [peer["host"] for peer in plans["a"]["vxlan"]["peers"]] == ["c"]
    assert [peer["host"] for peer in plans["c"]["vxlan"]["peers"]] == ["a", "b"]


def test_cross_subnet_all_on_link_needs_no_overlay_nor_vtep():
    hosts = three("cross_subnet")
    hosts["c"] = host("192.168.1.9", [("c1", "10.2.0.2")], "cross_subnet")  # no VTEP settings at all
    for variables in hosts.values():
        variables.pop("crossnet_vtep_cidr", None)
    plans = network_plan(hosts)
    assert all(part["vxlan"] is None for part in plans.values())
    assert all(kind == "direct" for part in plans.values() for kind in kinds(part).values())
    assert plans["a"]["veth_pairs"][0]["mtu"] == 1500


def test_overlay_when_either_side_says_not_on_link():
    hosts = three("cross_subnet")
    # a's uplink is a /16 holding c's node address, but c's /24 does not hold a's.
    hosts["a"]["ansible_facts"]["eth0"]["ipv4"]["netmask"] = "255.255.0.0"
    plans = network_plan(hosts)
    assert kinds(plans["a"])["c"] == "overlay" and kinds(plans["c"])["a"] == "overlay"
    # Both /16: on-link both ways.
    hosts["c"]["ansible_facts"]["eth0"]["ipv4"]["netmask"] = "255.255.0.0"
    plans = network_plan(hosts)
    assert kinds(plans["a"])["c"] == "direct" and kinds(plans["c"])["a"] == "direct"


def test_a_secondary_address_makes_a_peer_on_link():
    hosts = three("cross_subnet")
    for name in ("a", "b"):
        secondary = {"address": "192.168.2.%d" % (ord(name) - 90), "netmask": "255.255.255.0"}
        hosts[name]["ansible_facts"]["eth0"]["ipv4_secondaries"] = [secondary]
    hosts["c"]["ansible_facts"]["eth0"]["ipv4_secondaries"] = [{"address": "192.168.1.99", "netmask": "255.255.255.0"}]
    plans = network_plan(hosts)
    assert all(part["vxlan"] is None for part in plans.values())


def test_pair_mode_is_the_stronger_of_the_two():
    hosts = three("cross_subnet")
    hosts["b"]["crossnet_encapsulation"] = "vxlan"  # on-link with a, but b wants the overlay everywhere
    plans = network_plan(hosts)
    assert kinds(plans["a"]) == {"b": "overlay", "c": "overlay"}
    assert kinds(plans["b"]) == {"a": "overlay", "c": "overlay"}


def test_none_and_cross_subnet_on_link_stay_direct():
    hosts = three("cross_subnet")
    hosts["a"]["crossnet_encapsulation"] = "none"
    del hosts["c"]  # c would need the overlay to a
    plans = network_plan(hosts)
    assert plans["a"]["vxlan"] is None and plans["b"]["vxlan"] is None
    assert kinds(plans["a"]) == {"b": "direct"}


def test_none_on_both_sides_off_link_keeps_todays_direct_route():
    """The planner plans the direct route; the preflight refuses it on the host."""
    plans = network_plan(three(None))
    assert plans["a"]["routes"][-1] == {"dest": "10.2.0.0/24", "gateway": "192.168.2.3", "dev": "eth0"}
    assert plans["a"]["preflight"]["peers"][-1] == {"host": "c", "address": "192.168.2.3", "overlay": False,
                                                    "address6": None}


def test_none_against_a_peer_that_needs_the_overlay_is_refused():
    hosts = three("vxlan")
    hosts["a"]["crossnet_encapsulation"] = "none"
    errors = errors_of(hosts)
    assert errors == ["host a: crossnet_encapsulation none, but hosts b (vxlan), c (vxlan) reach it through the "
                      "overlay; set crossnet_encapsulation on all of them"]
    del hosts["c"]
    assert errors_of(hosts) == ["host a: crossnet_encapsulation none, but host b (vxlan) reaches it through the "
                                "overlay; set crossnet_encapsulation on both"]

    hosts = three("cross_subnet")
    del hosts["c"]["crossnet_encapsulation"]  # c: none, off-link from a and b
    assert errors_of(hosts) == [
        "host c: crossnet_encapsulation none, but hosts a (cross_subnet, not on-link), b (cross_subnet, not "
        "on-link) reach it through the overlay; set crossnet_encapsulation on all of them"]


def test_without_facts_a_host_does_not_vote():
    """A host without facts cannot say a peer is off-link; its peers' facts decide."""
    hosts = three("cross_subnet")
    hosts["b"]["crossnet_uplink"] = "eth0"
    hosts["b"]["crossnet_node_address"] = "192.168.1.3"
    del hosts["b"]["ansible_facts"]
    plans = network_plan(hosts)
    assert kinds(plans["a"])["b"] == "direct" and kinds(plans["c"])["b"] == "overlay"
    assert plans["b"]["vxlan"]["mtu"] == 1450  # 1500 when the facts do not say


# ---------------------------------------------------------------- VTEPs


def test_vteps_are_derived_from_the_host_name():
    plans = network_plan(three("vxlan"))
    assert vteps(plans) == {name: vtep_start(name, CIDR) for name in "abc"}
    assert vteps(network_plan(three("vxlan"))) == vteps(plans)


def test_vteps_skip_taken_addresses_and_never_collide():
    hosts = {"h%d" % index: host("192.168.1.%d" % (index + 2), [("c1", "10.1.0.%d" % (index + 1))], "vxlan",
                                 crossnet_vtep_cidr="10.255.0.0/29") for index in range(6)}
    found = vteps(network_plan(hosts))
    assert len(set(found.values())) == 6
    assert set(found.values()) == {"10.255.0.%d" % last for last in range(1, 7)}  # 6 usable in a /29

    # What a host would start at is taken by another's explicit VTEP, a node address, a container
    # address and the gateway: it moves on to the next free one.
    start = netaddr.IPAddress(vtep_start("a", "10.255.0.0/24"))
    for key in ("explicit", "node", "container"):
        hosts = three("vxlan")
        if key == "explicit":
            hosts["b"]["crossnet_vtep_address"] = str(start)
        elif key == "node":
            hosts["d"] = host(str(start), [], "vxlan", crossnet_vtep_cidr=CIDR)
        else:
            hosts["b"]["crossnet_containers"].append({"name": "c2", "addresses": [str(start)]})
        found = vteps(network_plan(hosts))
        following = int(start) + 1 if int(start) < int(netaddr.IPAddress("10.255.0.254")) else int(netaddr.IPAddress("10.255.0.1"))
        assert found["a"] == str(netaddr.IPAddress(following)), key
        assert len(set(found.values())) == len(found)


def test_the_gateway_is_skipped():
    hosts = three("vxlan", crossnet_vtep_cidr="169.254.1.0/30")  # usable .1 and .2; .1 is the gateway
    del hosts["c"]
    assert errors_of(hosts) == ["host b: crossnet_vtep_cidr 169.254.1.0/30 has no free address left for its VTEP "
                                "(2 usable, all taken by VTEP, node or container addresses or the gateway)"]
    del hosts["b"]
    hosts["z"] = host("192.168.1.9", [], "vxlan", crossnet_vtep_address="10.9.9.9")
    assert vteps(network_plan(hosts))["a"] == "169.254.1.2"


def test_adding_a_host_moves_no_other_vtep():
    hosts = three("vxlan")
    before = vteps(network_plan(hosts))
    hosts["d"] = host("192.168.3.4", [("c1", "10.3.0.1")], "vxlan", crossnet_vtep_cidr=CIDR)
    after = vteps(network_plan(hosts))
    assert {name: after[name] for name in before} == before and len(set(after.values())) == 4


def test_explicit_vtep_wins_and_a_31_or_32_cidr_uses_every_address():
    hosts = three("vxlan")
    hosts["a"]["crossnet_vtep_address"] = "10.254.0.1"
    hosts["b"]["crossnet_vtep_cidr"] = "10.254.1.0/31"
    hosts["c"]["crossnet_vtep_cidr"] = "10.254.2.7/32"
    found = vteps(network_plan(hosts))
    assert found["a"] == "10.254.0.1" and found["b"] in ("10.254.1.0", "10.254.1.1") and found["c"] == "10.254.2.7"


def test_only_hosts_that_use_the_overlay_need_a_vtep():
    hosts = three("cross_subnet")
    for variables in hosts.values():
        del variables["crossnet_vtep_cidr"]
    assert errors_of(hosts) == [
        "host a needs a VTEP address: set crossnet_vtep_cidr (all hosts) or crossnet_vtep_address",
        "host b needs a VTEP address: set crossnet_vtep_cidr (all hosts) or crossnet_vtep_address",
        "host c needs a VTEP address: set crossnet_vtep_cidr (all hosts) or crossnet_vtep_address"]
    del hosts["c"]  # a and b are on-link: no overlay, no VTEP needed
    assert all(part["vxlan"] is None for part in network_plan(hosts).values())


def test_a_cidr_too_small_is_refused():
    assert errors_of(three("vxlan", crossnet_vtep_cidr="10.255.0.0/31"))[0].endswith(
        "has no free address left for its VTEP (2 usable, all taken by VTEP, node or container addresses or the gateway)")


# ---------------------------------------------------------------- MTU


def test_overlay_mtu_is_the_uplinks_minus_50_and_the_containers_default():
    hosts = three("vxlan")
    hosts["a"]["ansible_facts"] = facts("192.168.1.2", mtu=9000)
    hosts["a"]["crossnet_containers"].append({"name": "c2", "addresses": ["10.1.0.9"], "mtu": 1400})
    plans = network_plan(hosts)
    assert plans["a"]["vxlan"]["mtu"] == 8950
    assert [pair["mtu"] for pair in plans["a"]["veth_pairs"]] == [8950, 1400]
    assert plans["b"]["vxlan"]["mtu"] == 1450 and plans["b"]["veth_pairs"][0]["mtu"] == 1450


def test_only_hosts_with_an_overlay_peer_get_the_overlay_mtu():
    plans = network_plan(three("cross_subnet"))  # a and b reach c through the overlay
    assert [plans[name]["veth_pairs"][0]["mtu"] for name in "abc"] == [1450, 1450, 1450]
    hosts = three("cross_subnet")
    hosts["d"] = host("192.168.1.9", [("c1", "10.4.0.1")], "none")  # on-link with a and b, not with c
    del hosts["c"]
    plans = network_plan(hosts)
    assert [plans[name]["veth_pairs"][0]["mtu"] for name in "abd"] == [1500, 1500, 1500]


def test_container_mtu_above_the_overlay_is_refused():
    hosts = three("vxlan")
    hosts["b"]["crossnet_containers"][0]["mtu"] = 1500
    assert errors_of(hosts) == ["host b: container 'c1': mtu 1500 is above the overlay's MTU 1450 (uplink MTU 1500 "
                                "- 50 for VXLAN); lower it or leave it unset"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("variable, value, message", [
    ("crossnet_encapsulation", "gre", "host a: crossnet_encapsulation 'gre' is not one of none, cross_subnet, vxlan"),
    ("crossnet_encapsulation", True, "host a: crossnet_encapsulation True is not one of none, cross_subnet, vxlan"),
    ("crossnet_vxlan_vni", 0, "host a: crossnet_vxlan_vni 0 is out of range 1-16777215"),
    ("crossnet_vxlan_vni", 16777216, "host a: crossnet_vxlan_vni 16777216 is out of range 1-16777215"),
    ("crossnet_vxlan_vni", "x", "host a: crossnet_vxlan_vni 'x' is not an integer"),
    ("crossnet_vxlan_vni", True, "host a: crossnet_vxlan_vni True is not an integer"),
    ("crossnet_vxlan_port", 0, "host a: crossnet_vxlan_port 0 is out of range 1-65535"),
    ("crossnet_vxlan_port", 65536, "host a: crossnet_vxlan_port 65536 is out of range 1-65535"),
    ("crossnet_vtep_address", "10.255.0", "host a: crossnet_vtep_address '10.255.0' is not a valid IPv4 address"),
    ("crossnet_vtep_address", "fd00::1", "host a: crossnet_vtep_address 'fd00::1' is IPv6; IPv6 is not supported yet"),
    ("crossnet_vtep_cidr", "10.255.0.1/24", "host a: crossnet_vtep_cidr '10.255.0.1/24' has host bits set"),
    ("crossnet_vtep_cidr", "10.255.0.0", "host a: crossnet_vtep_cidr '10.255.0.0' needs a prefix length"),
])
def test_malformed_overlay_variables(variable, value, message):
    hosts = three("vxlan")
    hosts["a"][variable] = value
    assert_one_error(hosts, message)


@pytest.mark.parametrize("address, message", [
    ("192.168.1.3", "host a: crossnet_vtep_address 192.168.1.3 is the node address of host b"),
    ("10.1.0.2", "host a: crossnet_vtep_address 10.1.0.2 is the address of host b container 'c1'"),
    ("10.2.0.77", "host a: crossnet_vtep_address 10.2.0.77 is inside crossnet_container_cidr 10.2.0.0/24 of host c"),
    ("169.254.1.1", "host a: crossnet_vtep_address 169.254.1.1 is the containers' gateway (crossnet_gateway)"),
])
def test_vtep_address_collisions(address, message):
    hosts = three("vxlan")
    hosts["a"]["crossnet_vtep_address"] = address
    assert errors_of(hosts) == [message]


def test_two_hosts_with_one_vtep():
    hosts = three("vxlan")
    hosts["a"]["crossnet_vtep_address"] = hosts["c"]["crossnet_vtep_address"] = "10.255.1.1"
    assert errors_of(hosts) == ["host c: crossnet_vtep_address 10.255.1.1 is also the crossnet_vtep_address of host a"]


def test_vtep_cidr_overlapping_a_container_block():
    hosts = three("vxlan", crossnet_vtep_cidr="10.2.0.128/25")
    assert errors_of(hosts) == ["hosts a, b, c: crossnet_vtep_cidr 10.2.0.128/25 overlaps crossnet_container_cidr "
                                "10.2.0.0/24 of host c"]
    hosts["a"]["crossnet_vtep_cidr"] = "10.0.0.0/8"
    assert errors_of(hosts) == [
        "host a: crossnet_vtep_cidr 10.0.0.0/8 overlaps crossnet_container_cidr 10.2.0.0/24 of host c",
        "hosts b, c: crossnet_vtep_cidr 10.2.0.128/25 overlaps crossnet_container_cidr 10.2.0.0/24 of host c"]


@pytest.mark.parametrize("variable, key", [("crossnet_vxlan_vni", "vni"), ("crossnet_vxlan_port", "port")])
def test_vni_and_port_must_be_equal_on_every_overlay_host(variable, key):
    hosts = three("vxlan")
    hosts["c"][variable] = 4000
    default = plan_mod.DEFAULT_VXLAN_VNI if key == "vni" else plan_mod.DEFAULT_VXLAN_PORT
    assert errors_of(hosts) == ["host c: %s 4000 differs from %d of host a; every host that uses the overlay needs "
                                "the same" % (variable, default)]
    # A host that does not use the overlay may say anything.
    hosts = three("cross_subnet")
    del hosts["c"]
    hosts["a"][variable] = 4000
    network_plan(hosts)


def test_bad_overlay_input_is_reported_with_the_rest():
    hosts = three("vxlan")
    hosts["a"]["crossnet_containers"][0]["addresses"] = ["10.1.0"]
    hosts["b"]["crossnet_vtep_address"] = "192.168.1.2"
    errors = errors_of(hosts)
    assert any("'10.1.0'" in error for error in errors)
    assert "host b: crossnet_vtep_address 192.168.1.2 is the node address of host a" in errors


# ---------------------------------------------------------------- sharing, unresolved peers, the store


def test_vxlan_everywhere_shares_the_peers_entries_and_routes():
    plans = network_plan(three("vxlan"))
    routes_a = {route["dest"]: route for route in plans["a"]["routes"]}
    routes_b = {route["dest"]: route for route in plans["b"]["routes"]}
    assert routes_a["10.2.0.0/24"] is routes_b["10.2.0.0/24"]
    assert plans["a"]["vxlan"]["peers"][1] is plans["b"]["vxlan"]["peers"][1]
    assert plans["a"]["preflight"]["peers"][1] is plans["b"]["preflight"]["peers"][1]


@pytest.mark.parametrize("mode", ["vxlan", "cross_subnet"])
def test_the_shared_lists_are_what_a_look_at_each_peer_gives(mode):
    hosts = three(mode)
    hosts["d"] = host("192.168.2.4", [("c1", "10.4.0.1")], mode, crossnet_vtep_cidr=CIDR)
    plan = plan_network(hosts)
    for name in hosts:
        part = plan.part(name)
        looked = plan_mod._peer_parts(plan._by_name[name], plan._hosts)  # pylint: disable=protected-access
        assert part["preflight"]["peers"] == looked[0]
        assert part["routes"][1:] == looked[1]
        assert (part["vxlan"] or {}).get("peers") == looked[4]


def test_an_overlay_peer_without_node_address_keeps_its_routes_and_vtep_route():
    hosts = three("vxlan")
    del hosts["c"]["ansible_facts"]  # unreachable, no crossnet_node_address
    plans = network_plan(hosts)
    c_vtep = vtep_start("c", CIDR)
    assert plans["a"]["routes_keep"] == ["10.2.0.0/24", "%s/32" % c_vtep]
    assert [peer["host"] for peer in plans["a"]["vxlan"]["peers"]] == ["b"]
    assert [peer["host"] for peer in plans["a"]["unresolved_peers"]] == ["c"]


def test_stored_parts_read_back_as_the_plans_options(tmp_path, monkeypatch):
    hosts = three("cross_subnet")
    hosts["d"] = host("192.168.9.9", [], "vxlan", crossnet_vtep_cidr=CIDR)  # no containers: only its VTEP route
    parts = assert_stored_parts_read_back(hosts, tmp_path, monkeypatch)
    assert {"dest": "%s/32" % vtep_start("d", CIDR), "dev": VXLAN_DEVICE, "scope": "link"} in parts["a"]["routes"]


def test_the_summary_leaves_the_tunnel_out():
    assert "vxlan" in plan_mod.CONTAINER_STATE
    summary = plan_mod.summary(network_plan(three("vxlan")))
    assert "vxlan" not in summary["a"] and summary["a"]["preflight"]["peers"][0]["overlay"] is True


# ---------------------------------------------------------------- the early preflight


EXPLICIT = {
    "a": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.1.2"},
    "b": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.2.3"},
}


def test_explicit_preflight_waits_for_the_plan_in_cross_subnet_mode():
    assert explicit_preflight(EXPLICIT, "a")["peers"] == [{"host": "b", "address": "192.168.2.3", "overlay": False,
                                                           "address6": None}]
    hosts = copy.deepcopy(EXPLICIT)
    hosts["b"]["crossnet_encapsulation"] = "cross_subnet"
    assert explicit_preflight(hosts, "a") is None
    assert node_addresses(hosts, list(hosts)) is None
    assert preflight_input(hosts, list(hosts), "a") is None
    hosts = copy.deepcopy(EXPLICIT)
    hosts["b"]["crossnet_encapsulation"] = "none"
    assert explicit_preflight(hosts, "a") == explicit_preflight(EXPLICIT, "a")


def test_explicit_preflight_in_vxlan_mode_is_what_the_plan_says():
    """Every peer of a host in vxlan mode is an overlay peer, whatever the facts: the role then
    checks it with the facts and skips the preflight task."""
    hosts = copy.deepcopy(EXPLICIT)
    for variables in hosts.values():
        variables.update(crossnet_encapsulation="vxlan", crossnet_vtep_cidr="10.255.0.0/24")
    with_facts = copy.deepcopy(hosts)
    for variables in with_facts.values():
        variables["ansible_facts"] = facts(variables["crossnet_node_address"], interface="eth0")
    plan = network_plan(with_facts)
    for name in hosts:
        assert explicit_preflight(hosts, name) == plan[name]["preflight"], name
        assert all(peer["overlay"] for peer in plan[name]["preflight"]["peers"])
        addresses = node_addresses(hosts, list(hosts))
        assert preflight_input(hosts, list(hosts), name, node_addresses=addresses) == dict(plan[name]["preflight"], host=name)
