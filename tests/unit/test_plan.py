# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the controller-side planner (no root, no network)."""

from __future__ import annotations

import copy
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _make_collection_importable():
    """Outside ansible-test, expose the repository as ansible_collections.crossnet.routed."""
    try:
        import ansible_collections.crossnet.routed.plugins  # noqa: F401 pylint: disable=unused-import
        return
    except ImportError:
        pass
    base = os.path.join(ROOT, "tests", "output", "collections")
    os.makedirs(os.path.join(base, "ansible_collections", "crossnet"), exist_ok=True)
    link = os.path.join(base, "ansible_collections", "crossnet", "routed")
    if not os.path.lexists(link):
        os.symlink(ROOT, link)
    sys.path.insert(0, base)
    for name in [n for n in sys.modules if n == "ansible_collections" or n.startswith("ansible_collections.")]:
        del sys.modules[name]


_make_collection_importable()

# pylint: disable=wrong-import-position
from ansible_collections.crossnet.routed.plugins.module_utils import names  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils import plan_store  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (  # noqa: E402
    PlanError,
    host_network_args,
    network_plan,
    plan_network,
)


def facts(address, interface="eth0", mtu=1500, default_route=True, extra=None):
    """ansible_facts as setup gathers them on Linux, trimmed to what the planner reads."""
    result = {
        "default_ipv4": {"interface": interface, "address": address, "mtu": mtu} if default_route else {},
        "interfaces": ["lo", interface],
        interface.replace("-", "_"): {"device": interface, "mtu": mtu, "active": True,
                                      "ipv4": {"address": address, "netmask": "255.255.255.0"}},
        "lo": {"device": "lo", "mtu": 65536, "ipv4": {"address": "127.0.0.1"}},
    }
    result.update(extra or {})
    return result


def seed():
    """The seed topology of docs/inventory-example.yml."""
    return {
        "host1": {"ansible_facts": facts("192.168.9.3"),
                  "crossnet_containers": [{"name": "container0", "addresses": ["11.12.11.121"]}]},
        "host2": {"ansible_facts": facts("192.168.9.4"),
                  "crossnet_containers": [{"name": "container0", "addresses": ["12.11.12.3"]}]},
    }


def errors_of(hosts, **kwargs):
    with pytest.raises(PlanError) as caught:
        network_plan(hosts, **kwargs)
    return caught.value.errors


def assert_stored_parts_read_back(hosts, tmp_path, monkeypatch):
    """Plan ``hosts``, write every part to the plan store as the network_plan filter does, and
    check each host's part reads back as the plan's host_network options; returns the parts."""
    monkeypatch.setattr(plan_store.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    plan = plan_network(hosts)
    parts = {name: plan.part(name) for name in plan.names}
    directory = plan_store.write(
        {name: {"args": host_network_args(part), "peers": part["preflight"]["peers"], "uplink": "eth0",
                "unresolved": None} for name, part in parts.items()},
        {name: plan.routed_networks(name) for name in plan.names}, plan.vteps())
    for name, part in parts.items():
        assert plan_store.read(directory, name)["args"] == host_network_args(part), name
    return parts


def assert_one_error(hosts, *fragments, **kwargs):
    errors = errors_of(hosts, **kwargs)
    matching = [e for e in errors if all(f in e for f in fragments)]
    assert matching, "no error with %r in %r" % (fragments, errors)
    return errors


# ---------------------------------------------------------------- planning


def test_seed_topology_full_plan():
    plans = network_plan(seed())
    veth1 = names.host_ifname("container0", "eth0")
    assert set(plans) == {"host1", "host2"}
    assert plans["host1"] == {
        "namespaces": ["container0"],
        "veth_pairs": [{"netns": "container0", "host_ifname": veth1, "peer_ifname": "eth0",
                        "addresses": ["11.12.11.121/32"], "mtu": 1500, "gateway": "169.254.1.1",
                        "gateway6": None}],
        "routes": [
            {"dest": "11.12.11.121/32", "dev": veth1, "scope": "link"},
            {"dest": "12.11.12.3/32", "gateway": "192.168.9.4", "dev": "eth0"},
        ],
        "proxy_arp_interfaces": [veth1],
        "masquerade": {"sources": ["11.12.11.121/32"],
                       "exclude": ["11.12.11.121/32", "12.11.12.3/32"]},
        "forwarding": {"container_networks": ["11.12.11.121/32"], "accept_ra_interfaces": [],
                       "source_check_interfaces": []},
        "preflight": {"uplink": "eth0", "node_address": "192.168.9.3", "node_address6": None,
                      "peers": [{"host": "host2", "address": "192.168.9.4", "overlay": False, "address6": None}]},
        "routes_keep": [],
        "unresolved_peers": [],
        "unresolved": None,
        "vxlan": None,
    }
    assert plans["host2"]["routes"][-1] == {"dest": "11.12.11.121/32", "gateway": "192.168.9.3",
                                            "dev": "eth0"}
    assert plans["host2"]["masquerade"]["sources"] == ["12.11.12.3/32"]


def test_planner_does_not_modify_its_input():
    hosts = seed()
    before = copy.deepcopy(hosts)
    network_plan(hosts)
    assert hosts == before


def test_explicit_uplink_takes_node_address_and_mtu_from_that_interface():
    hosts = seed()
    hosts["host1"]["ansible_facts"] = facts("10.9.9.9", interface="eth0", mtu=1500, extra={
        "br_lan": {"device": "br-lan", "mtu": 9000, "ipv4": {"address": "192.168.9.3"}}})
    hosts["host1"]["crossnet_uplink"] = "br-lan"
    plan = network_plan(hosts)["host1"]
    assert plan["preflight"]["uplink"] == "br-lan"
    assert plan["preflight"]["node_address"] == "192.168.9.3"
    assert plan["veth_pairs"][0]["mtu"] == 9000
    assert network_plan(hosts)["host2"]["routes"][-1]["gateway"] == "192.168.9.3"


def test_dotted_uplink_found_by_device_name():
    hosts = seed()
    hosts["host1"]["ansible_facts"] = facts("10.9.9.9", extra={
        "eth0_100": {"device": "eth0.100", "mtu": 1496, "ipv4": {"address": "192.168.9.3"}}})
    hosts["host1"]["crossnet_uplink"] = "eth0.100"
    plan = network_plan(hosts)["host1"]
    assert plan["preflight"]["node_address"] == "192.168.9.3"
    assert plan["veth_pairs"][0]["mtu"] == 1496
    assert plan["routes"][-1]["dev"] == "eth0.100"


def test_host_without_default_route_uses_explicit_variables():
    hosts = seed()
    hosts["host1"]["ansible_facts"] = facts("192.168.9.3", default_route=False)
    hosts["host1"]["crossnet_uplink"] = "eth0"
    plan = network_plan(hosts)["host1"]
    assert plan["preflight"]["node_address"] == "192.168.9.3"
    assert plan["veth_pairs"][0]["mtu"] == 1500


def test_explicit_node_address_wins_over_facts():
    hosts = seed()
    hosts["host2"]["crossnet_node_address"] = "192.168.9.44"
    plans = network_plan(hosts)
    assert plans["host1"]["routes"][-1]["gateway"] == "192.168.9.44"
    assert plans["host2"]["preflight"]["node_address"] == "192.168.9.44"


def test_no_facts_and_explicit_variables_omit_mtu():
    hosts = seed()
    hosts["host1"] = {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.3",
                      "crossnet_containers": [{"name": "c", "addresses": ["10.1.0.1"]}]}
    plan = network_plan(hosts)["host1"]
    assert "mtu" not in plan["veth_pairs"][0]


def test_container_options_ifname_host_ifname_mtu():
    hosts = seed()
    hosts["host1"]["crossnet_containers"] = [
        {"name": "web", "addresses": ["10.1.0.1", "10.1.0.2/32"], "ifname": "net1",
         "host_ifname": "vweb", "mtu": "1400"},
        {"name": "db", "addresses": ["10.1.0.9"], "ifname": "net1"},
    ]
    plan = network_plan(hosts)["host1"]
    web, db = plan["veth_pairs"]
    assert web == {"netns": "web", "host_ifname": "vweb", "peer_ifname": "net1",
                   "addresses": ["10.1.0.1/32", "10.1.0.2/32"], "mtu": 1400,
                   "gateway": "169.254.1.1", "gateway6": None}
    assert db["host_ifname"] == names.host_ifname("db", "net1")
    assert db["host_ifname"] != names.host_ifname("db", "eth0")
    assert plan["namespaces"] == ["web", "db"]
    assert plan["proxy_arp_interfaces"] == ["vweb", db["host_ifname"]]
    assert all("netns" not in route for route in plan["routes"])  # veth_pair routes the containers
    assert {"dest": "10.1.0.2/32", "dev": "vweb", "scope": "link"} in plan["routes"]
    assert plan["forwarding"]["container_networks"] == ["10.1.0.1/32", "10.1.0.2/32", "10.1.0.9/32"]
    assert plan["masquerade"]["sources"] == ["10.1.0.1/32", "10.1.0.2/32", "10.1.0.9/32"]


def test_routes_to_peer_are_exact_merge_never_covering_another_hosts_address():
    hosts = seed()
    hosts["host2"]["crossnet_containers"] = [
        {"name": "a", "addresses": ["10.0.0.0", "10.0.0.1"]},
        {"name": "b", "addresses": ["10.0.0.3"]},
    ]
    hosts["host3"] = {"ansible_facts": facts("192.168.9.5"),
                      "crossnet_containers": [{"name": "c", "addresses": ["10.0.0.2"]}]}
    plans = network_plan(hosts)
    to_host2 = [r["dest"] for r in plans["host1"]["routes"] if r.get("gateway") == "192.168.9.4"]
    assert to_host2 == ["10.0.0.0/31", "10.0.0.3/32"]
    to_host3 = [r["dest"] for r in plans["host1"]["routes"] if r.get("gateway") == "192.168.9.5"]
    assert to_host3 == ["10.0.0.2/32"]
    # the whole container network, merged, is never NATed
    assert plans["host1"]["masquerade"]["exclude"] == ["10.0.0.0/30", "11.12.11.121/32"]
    assert plans["host3"]["masquerade"]["sources"] == ["10.0.0.2/32"]


def test_peer_with_block_gets_one_route_and_excludes_the_block():
    hosts = seed()
    hosts["host2"]["crossnet_container_cidr"] = "12.11.12.0/24"
    hosts["host2"]["crossnet_containers"].append({"name": "c1", "addresses": ["12.11.12.200"]})
    plans = network_plan(hosts)
    peer_routes = [r for r in plans["host1"]["routes"] if "gateway" in r and "netns" not in r]
    assert peer_routes == [{"dest": "12.11.12.0/24", "gateway": "192.168.9.4", "dev": "eth0"}]
    assert plans["host1"]["masquerade"]["exclude"] == ["11.12.11.121/32", "12.11.12.0/24"]
    # the host itself still masquerades / forwards exactly its containers
    assert plans["host2"]["masquerade"]["sources"] == ["12.11.12.3/32", "12.11.12.200/32"]
    assert plans["host2"]["forwarding"]["container_networks"] == ["12.11.12.3/32", "12.11.12.200/32"]


def test_host_without_containers():
    hosts = seed()
    hosts["host3"] = {"ansible_facts": facts("192.168.9.5")}
    hosts["host4"] = {"ansible_facts": facts("192.168.9.6"), "crossnet_containers": None}
    plans = network_plan(hosts)
    plan3 = plans["host3"]
    assert plan3["namespaces"] == [] and plan3["veth_pairs"] == [] and plan3["proxy_arp_interfaces"] == []
    assert [r["gateway"] for r in plan3["routes"]] == ["192.168.9.3", "192.168.9.4"]
    assert plan3["masquerade"]["sources"] == [] and plan3["forwarding"]["container_networks"] == []
    # nobody routes to a host that has no containers, but preflight checks it as a peer
    assert all(r.get("gateway") != "192.168.9.5" for r in plans["host1"]["routes"])
    assert {"host": "host3", "address": "192.168.9.5", "overlay": False,
            "address6": None} in plans["host1"]["preflight"]["peers"]


def test_masquerade_off_and_extra_excludes():
    plans = network_plan(seed(), masquerade=False, masquerade_exclude=["10.0.0.0/8", "172.16.0.1"])
    assert plans["host1"]["masquerade"]["sources"] == []
    assert plans["host1"]["masquerade"]["exclude"] == [
        "10.0.0.0/8", "11.12.11.121/32", "12.11.12.3/32", "172.16.0.1/32"]


def test_custom_gateway():
    plan = network_plan(seed(), gateway="169.254.0.7")["host1"]
    assert plan["veth_pairs"][0]["gateway"] == "169.254.0.7"
    assert "169.254.0.7" not in str(plan["routes"])  # the gateway lives in the containers only


def test_removed_container_is_simply_absent_from_the_plan():
    hosts = seed()
    hosts["host2"]["crossnet_containers"] = []
    plans = network_plan(hosts)
    assert plans["host2"]["namespaces"] == []
    assert [r for r in plans["host1"]["routes"] if "gateway" in r and "netns" not in r] == []
    assert plans["host1"]["masquerade"]["exclude"] == ["11.12.11.121/32"]


def test_removed_host_disappears_from_the_others_plans():
    hosts = seed()
    hosts["host3"] = {"ansible_facts": facts("192.168.9.5"),
                      "crossnet_containers": [{"name": "c3", "addresses": ["10.3.0.1"]}]}
    assert {"dest": "10.3.0.1/32", "gateway": "192.168.9.5", "dev": "eth0"} in network_plan(hosts)["host1"]["routes"]
    del hosts["host3"]
    plan = network_plan(hosts)["host1"]
    assert all(r.get("gateway") != "192.168.9.5" for r in plan["routes"])
    assert "10.3.0.1/32" not in plan["masquerade"]["exclude"]
    assert [p["host"] for p in plan["preflight"]["peers"]] == ["host2"]


# ---------------------------------------------------------------- validation


def with_containers(containers, host="host1"):
    hosts = seed()
    hosts[host]["crossnet_containers"] = containers
    return hosts


@pytest.mark.parametrize("address, message", [
    ("11.12.11.256", "is not a valid IPv4 address"),
    ("11.12.11", "is not a valid IPv4 address"),
    ("011.12.11.1", "is not a valid IPv4 address"),
    ("11.12.11.1 ", "is not a valid IPv4 address"),
    ("eleven", "is not a valid IPv4 address"),
    ("11.12.11.0/24", "not a /24 network"),
    ("2001:db8::1/64", "not a /64 network"),
    ("2001:db8::g", "is not a valid IPv6 address"),
    (1234, "is not a string"),
])
def test_malformed_address(address, message):
    hosts = with_containers([{"name": "c1", "addresses": [address]}])
    assert_one_error(hosts, "host1", "'c1'", repr(address), message)


def test_addresses_must_be_a_non_empty_list():
    for value in ([], "10.0.0.1", None):
        hosts = with_containers([{"name": "c1", "addresses": value}])
        assert_one_error(hosts, "host1", "'c1'", "addresses must be a non-empty list")


def test_address_twice_in_one_container():
    hosts = with_containers([{"name": "c1", "addresses": ["10.0.0.1", "10.0.0.1/32"]}])
    assert_one_error(hosts, "host1", "'c1'", "10.0.0.1", "listed twice")


def test_address_twice_on_one_host():
    hosts = with_containers([{"name": "c1", "addresses": ["10.0.0.1"]},
                             {"name": "c2", "addresses": ["10.0.0.1"]}])
    assert_one_error(hosts, "host1", "'c2'", "10.0.0.1", "already used by host host1 container 'c1'")


def test_address_twice_across_hosts():
    hosts = with_containers([{"name": "other", "addresses": ["11.12.11.121"]}], host="host2")
    assert_one_error(hosts, "host2", "'other'", "11.12.11.121",
                     "already used by host host1 container 'container0'")


def test_address_equal_to_a_node_address():
    hosts = with_containers([{"name": "c1", "addresses": ["192.168.9.4"]}])
    assert_one_error(hosts, "host1", "'c1'", "192.168.9.4", "node address of host host2")


def test_address_equal_to_the_gateway():
    hosts = with_containers([{"name": "c1", "addresses": ["169.254.1.1"]}])
    assert_one_error(hosts, "host1", "'c1'", "169.254.1.1", "gateway")
    hosts = with_containers([{"name": "c1", "addresses": ["10.9.9.9"]}])
    assert_one_error(hosts, "host1", "'c1'", "10.9.9.9", "gateway", gateway="10.9.9.9")


def test_address_outside_its_hosts_block():
    hosts = seed()
    hosts["host1"]["crossnet_container_cidr"] = "11.12.11.0/25"
    hosts["host1"]["crossnet_containers"].append({"name": "c1", "addresses": ["11.12.11.200"]})
    errors = assert_one_error(hosts, "host1", "'c1'", "11.12.11.200", "outside", "11.12.11.0/25")
    assert not any("container0" in e for e in errors)


def test_overlapping_blocks():
    hosts = seed()
    hosts["host1"]["crossnet_container_cidr"] = "11.0.0.0/8"
    hosts["host2"]["crossnet_container_cidr"] = "11.12.0.0/16"
    hosts["host2"]["crossnet_containers"] = [{"name": "c", "addresses": ["11.12.0.1"]}]
    assert_one_error(hosts, "host1", "11.0.0.0/8", "overlaps", "11.12.0.0/16", "host2")


def test_block_holding_another_hosts_address_node_or_gateway():
    hosts = seed()
    hosts["host1"]["crossnet_container_cidr"] = "0.0.0.0/1"
    assert_one_error(hosts, "host1", "0.0.0.0/1", "holds address 12.11.12.3 of host host2 container 'container0'")
    hosts["host1"]["crossnet_container_cidr"] = "128.0.0.0/1"
    hosts["host1"]["crossnet_containers"] = [{"name": "c", "addresses": ["200.0.0.1"]}]
    errors = assert_one_error(hosts, "host1", "128.0.0.0/1", "holds the node address 192.168.9.4 of host host2")
    assert any("128.0.0.0/1 holds the node address 192.168.9.3 of host host1" in e for e in errors)
    assert any("128.0.0.0/1 holds the containers' gateway 169.254.1.1" in e for e in errors)


@pytest.mark.parametrize("block, message", [
    ("11.12.11.1/24", "host bits set (the network is 11.12.11.0/24)"),
    ("11.12.11.0", "needs a prefix length"),
    ("11.12.11.0/33", "invalid prefix length"),
    ("2001:db8::1/64", "host bits set (the network is 2001:db8::/64)"),
])
def test_malformed_block(block, message):
    hosts = seed()
    hosts["host1"]["crossnet_container_cidr"] = block
    assert_one_error(hosts, "host1", "crossnet_container_cidr", repr(block), message)


def test_duplicate_container_names_on_a_host():
    hosts = with_containers([{"name": "c1", "addresses": ["10.0.0.1"]},
                             {"name": "c1", "addresses": ["10.0.0.2"]}])
    assert_one_error(hosts, "host1", "'c1'", "listed twice")


def test_same_container_name_on_two_hosts_is_fine():
    assert network_plan(seed())["host2"]["namespaces"] == ["container0"]


@pytest.mark.parametrize("container, fragments", [
    ({"name": "c1;reboot", "addresses": ["10.0.0.1"]}, ("host1", "'c1;reboot'", "container name")),
    ({"name": "$(id)", "addresses": ["10.0.0.1"]}, ("host1", "'$(id)'", "container name")),
    ({"name": "../etc", "addresses": ["10.0.0.1"]}, ("host1", "'../etc'", "container name")),
    ({"name": "c" * 65, "addresses": ["10.0.0.1"]}, ("host1", "container name")),
    ({"name": "c1", "ifname": "eth0`x`", "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "ifname 'eth0`x`'")),
    ({"name": "c1", "ifname": "a" * 16, "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "16 characters")),
    ({"name": "c1", "ifname": "et h0", "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "'et h0'")),
    ({"name": "c1", "host_ifname": "v|x", "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "host_ifname 'v|x'")),
    ({"name": "c1", "host_ifname": "vethvethvethveth", "addresses": ["10.0.0.1"]},
     ("host1", "'c1'", "host_ifname", "16 characters")),
    ({"name": "c1", "mtu": 20, "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "mtu 20", "out of range")),
    ({"name": "c1", "mtu": "big", "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "mtu 'big'", "not an integer")),
    ({"name": "c1", "mtu": True, "addresses": ["10.0.0.1"]}, ("host1", "'c1'", "mtu True")),
])
def test_unsafe_or_invalid_container_fields(container, fragments):
    assert_one_error(with_containers([container]), *fragments)


def test_unsafe_uplink():
    hosts = seed()
    hosts["host2"]["crossnet_uplink"] = "eth0;ls"
    assert_one_error(hosts, "host2", "crossnet_uplink 'eth0;ls'")


def test_containers_not_a_list():
    hosts = with_containers({"name": "c1", "addresses": ["10.0.0.1"]})
    assert_one_error(hosts, "host1", "crossnet_containers must be a list, got dict")


def test_container_not_a_dict():
    assert_one_error(with_containers(["c1"]), "host1", "crossnet_containers[0]", "must be a dict")


def test_missing_keys_and_unknown_keys():
    errors = errors_of(with_containers([{"addresses": ["10.0.0.1"]}, {"name": "c2"},
                                        {"name": "c3", "adresses": ["10.0.0.3"]}]))
    assert any("crossnet_containers[0]" in e and "missing required key 'name'" in e for e in errors)
    assert any("crossnet_containers[1]" in e and "missing required key 'addresses'" in e for e in errors)
    assert any("crossnet_containers[2]" in e and "unknown key 'adresses'" in e for e in errors)


def test_host_ifname_collision():
    default = names.host_ifname("c1", "eth0")
    hosts = with_containers([{"name": "c1", "addresses": ["10.0.0.1"]},
                             {"name": "c2", "addresses": ["10.0.0.2"], "host_ifname": default}])
    assert_one_error(hosts, "host1", "'c1'", "'c2'", default)


def test_host_ifname_equal_to_uplink():
    hosts = with_containers([{"name": "c1", "addresses": ["10.0.0.1"], "host_ifname": "eth0"}])
    assert_one_error(hosts, "host1", "'c1'", "host_ifname 'eth0' is the uplink")


def test_missing_uplink_and_node_address():
    hosts = seed()
    hosts["host1"]["ansible_facts"] = facts("192.168.9.3", default_route=False)
    assert_one_error(hosts, "host1", "crossnet_uplink is not set")
    hosts["host1"]["crossnet_uplink"] = "eth9"
    assert_one_error(hosts, "host1", "crossnet_node_address is not set", "eth9")


def test_duplicate_and_invalid_node_addresses():
    hosts = seed()
    hosts["host2"]["crossnet_node_address"] = "192.168.9.3"
    assert_one_error(hosts, "host2", "192.168.9.3", "also the node address of host host1")
    hosts["host2"]["crossnet_node_address"] = "fe80::1"
    assert_one_error(hosts, "host2", "crossnet_node_address 'fe80::1'", "is IPv6: set it as crossnet_node_address6")
    hosts["host2"]["crossnet_node_address"] = "169.254.1.1"
    assert_one_error(hosts, "host2", "169.254.1.1", "gateway")


def test_invalid_gateway_and_exclude():
    assert_one_error(seed(), "crossnet_gateway 'nope'", gateway="nope")
    assert_one_error(seed(), "crossnet_masquerade_exclude", "'10.0.0.1/8'", "host bits",
                     masquerade_exclude=["10.0.0.1/8"])
    assert_one_error(seed(), "crossnet_masquerade_exclude must be a list", masquerade_exclude="10.0.0.0/8")


def test_fields_of_a_container_with_a_bad_name_are_still_checked():
    errors = errors_of(with_containers([{"name": "c;x", "addresses": ["1.2.3"], "mtu": "x"}]))
    assert len(errors) == 3
    assert all(e.startswith("host host1: ") for e in errors)
    assert any("'1.2.3' is not a valid IPv4 address" in e for e in errors)
    assert any("mtu 'x'" in e for e in errors)


def test_all_errors_of_the_whole_inventory_are_reported_together():
    hosts = seed()
    hosts["host1"]["crossnet_containers"] = [{"name": "bad name", "addresses": ["10.0.0.1"]}]
    hosts["host2"]["crossnet_containers"] = [{"name": "c2", "addresses": ["1.2.3.999"]}]
    hosts["host3"] = {"ansible_facts": facts("192.168.9.5"), "crossnet_containers": "c3"}
    errors = errors_of(hosts)
    assert len(errors) == 3
    assert [e.split(":")[0] for e in errors] == ["host host1", "host host2", "host host3"]
    assert str(PlanError(errors)) == "the crossnet inventory is not valid (3 problems):\n- " + "\n- ".join(errors)
