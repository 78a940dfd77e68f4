# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner with IPv6 and dual-stack containers: the plan's shape, the IPv6 node address
from the facts, the refusals (each naming the host and the value), the early preflight."""

from __future__ import annotations

import copy

import pytest

from test_plan import assert_one_error, assert_stored_parts_read_back, errors_of, facts  # also makes the collection importable

from ansible_collections.crossnet.routed.plugins.action.host_network import plan_part  # noqa: E402
from ansible_collections.crossnet.routed.plugins.filter.network_diagram import render  # noqa: E402
from ansible_collections.crossnet.routed.plugins.filter.node_addresses import node_addresses  # noqa: E402
from ansible_collections.crossnet.routed.plugins.filter.preflight_input import preflight_input  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (  # noqa: E402
    HOST_NETWORK_OPTIONS,
    HOST_VARIABLES,
    UNRESOLVED6,
    explicit_preflight,
    host_network_args,
    network_plan,
    plan_network,
    summary,
)


def facts6(address, address6=None, interface="eth0"):
    """setup's facts with the uplink's ``ipv6`` list: a link-local entry first, then ``address6``."""
    result = facts(address, interface=interface)
    entries = [{"address": "fe80::%s" % address.split(".")[-1], "prefix": "64", "scope": "link"}]
    if address6 is not None:
        entries.append({"address": address6, "prefix": "64", "scope": "global"})
    result[interface.replace("-", "_")]["ipv6"] = entries
    return result


def containers(*specs):
    return [{"name": name, "addresses": list(addresses), "host_ifname": "v" + name} for name, addresses in specs]


def dual():
    """h1 dual-stack and IPv6-only containers; h2 IPv4 only (with a block of each version);
    h3 IPv6 only with its IPv6 block given as one string."""
    return {
        "h1": {"ansible_facts": facts6("192.168.9.3", "2001:db8:9::3"),
               "crossnet_containers": containers(("web", ["10.1.0.1", "fd00:1::1"]), ("six", ["fd00:1::2/128"]))},
        "h2": {"ansible_facts": facts6("192.168.9.4", "2001:db8:9::4"),
               "crossnet_container_cidr": ["10.2.0.0/24", "fd00:2::/64"],
               "crossnet_containers": containers(("c", ["10.2.0.1"]))},
        "h3": {"ansible_facts": facts6("192.168.9.5", "2001:db8:9::5"),
               "crossnet_container_cidr": "fd00:3::/64",
               "crossnet_containers": containers(("c", ["fd00:3::1"]))},
    }


def peer_routes(part):
    return [route for route in part["routes"] if "gateway" in route]


# ---------------------------------------------------------------- the plan's shape


def test_dual_stack_full_part():
    plans = network_plan(dual())
    assert plans["h1"] == {
        "namespaces": ["web", "six"],
        "veth_pairs": [
            {"netns": "web", "host_ifname": "vweb", "peer_ifname": "eth0",
             "addresses": ["10.1.0.1/32", "fd00:1::1/128"], "gateway": "169.254.1.1", "gateway6": "fe80::1",
             "mtu": 1500},
            {"netns": "six", "host_ifname": "vsix", "peer_ifname": "eth0", "addresses": ["fd00:1::2/128"],
             "gateway": None, "gateway6": "fe80::1", "mtu": 1500},
        ],
        "routes": [
            {"dest": "10.1.0.1/32", "dev": "vweb", "scope": "link"},
            {"dest": "fd00:1::1/128", "dev": "vweb"},
            {"dest": "fd00:1::2/128", "dev": "vsix"},
            {"dest": "10.2.0.0/24", "gateway": "192.168.9.4", "dev": "eth0"},
            {"dest": "fd00:3::/64", "gateway": "2001:db8:9::5", "dev": "eth0"},
        ],
        "proxy_arp_interfaces": ["vweb", "vsix"],
        "masquerade": {"sources": ["10.1.0.1/32", "fd00:1::1/128", "fd00:1::2/128"],
                       "exclude": ["10.1.0.1/32", "10.2.0.0/24",
                                   "fd00:1::1/128", "fd00:1::2/128", "fd00:2::/64", "fd00:3::/64"]},
        "forwarding": {"container_networks": ["10.1.0.1/32", "fd00:1::1/128", "fd00:1::2/128"],
                       "accept_ra_interfaces": ["eth0"], "source_check_interfaces": ["vweb", "vsix"]},
        "preflight": {"uplink": "eth0", "node_address": "192.168.9.3", "node_address6": "2001:db8:9::3", "peers": [
            {"host": "h2", "address": "192.168.9.4", "overlay": False, "address6": None},
            {"host": "h3", "address": "192.168.9.5", "overlay": False, "address6": "2001:db8:9::5"}]},
        "routes_keep": [],
        "unresolved_peers": [],
        "unresolved": None,
        "vxlan": None,
    }


def test_ipv4_only_host_of_a_dual_stack_inventory():
    part = network_plan(dual())["h2"]
    assert part["veth_pairs"][0]["gateway"] == "169.254.1.1" and part["veth_pairs"][0]["gateway6"] is None
    assert part["routes"][0] == {"dest": "10.2.0.1/32", "dev": "vc", "scope": "link"}
    assert peer_routes(part) == [
        {"dest": "10.1.0.1/32", "gateway": "192.168.9.3", "dev": "eth0"},
        {"dest": "fd00:1::1/128", "gateway": "2001:db8:9::3", "dev": "eth0"},
        {"dest": "fd00:1::2/128", "gateway": "2001:db8:9::3", "dev": "eth0"},
        {"dest": "fd00:3::/64", "gateway": "2001:db8:9::5", "dev": "eth0"},
    ]
    assert part["forwarding"] == {"container_networks": ["10.2.0.1/32"], "accept_ra_interfaces": [],
                                  "source_check_interfaces": []}
    # Every host needs its IPv6 node address once IPv6 is in use; none routes IPv6 to this one.
    assert part["preflight"]["node_address6"] == "2001:db8:9::4"
    assert [peer["address6"] for peer in network_plan(dual())["h3"]["preflight"]["peers"]] == ["2001:db8:9::3", None]


def test_ipv6_only_host():
    part = network_plan(dual())["h3"]
    assert part["veth_pairs"][0]["addresses"] == ["fd00:3::1/128"]
    assert part["veth_pairs"][0]["gateway"] is None and part["veth_pairs"][0]["gateway6"] == "fe80::1"
    assert part["routes"][0] == {"dest": "fd00:3::1/128", "dev": "vc"}  # no scope for IPv6
    assert part["masquerade"]["sources"] == ["fd00:3::1/128"]
    assert part["forwarding"]["accept_ra_interfaces"] == ["eth0"]
    assert part["forwarding"]["source_check_interfaces"] == ["vc"]


def test_ipv4_inventory_has_no_ipv6_in_its_plan_even_with_ipv6_facts():
    hosts = dual()
    for variables in hosts.values():
        variables["crossnet_containers"] = [c for c in variables["crossnet_containers"] if c["name"] in ("web", "c")]
        variables["crossnet_containers"][0]["addresses"] = [a for a in variables["crossnet_containers"][0]["addresses"]
                                                            if ":" not in a]
        variables.pop("crossnet_container_cidr", None)
    hosts["h3"]["crossnet_containers"][0]["addresses"] = ["10.3.0.1"]
    for part in network_plan(hosts).values():
        assert part["preflight"]["node_address6"] is None
        assert all(peer["address6"] is None for peer in part["preflight"]["peers"])
        assert part["forwarding"]["accept_ra_interfaces"] == [] and part["forwarding"]["source_check_interfaces"] == []
        assert all(":" not in route["dest"] for route in part["routes"])


def test_routes_toward_a_peer_are_shared_by_the_hosts_that_route_there():
    plans = network_plan(dual())
    to_h3_from_h1 = [route for route in plans["h1"]["routes"] if route["dest"] == "fd00:3::/64"][0]
    to_h3_from_h2 = [route for route in plans["h2"]["routes"] if route["dest"] == "fd00:3::/64"][0]
    assert to_h3_from_h1 is to_h3_from_h2
    assert plans["h1"]["preflight"]["peers"][1] is plans["h2"]["preflight"]["peers"][1]


def test_addresses_are_normalised_and_merged():
    hosts = dual()
    hosts["h1"]["crossnet_containers"] = containers(("a", ["FD00:1:0::0000", "fd00:1::1/128"]),
                                                    ("b", ["fd00:1:0:0::2", "fd00:1::3"]))
    part = network_plan(hosts)["h1"]
    assert part["veth_pairs"][0]["addresses"] == ["fd00:1::/128", "fd00:1::1/128"]
    assert part["masquerade"]["sources"] == ["fd00:1::/126"]
    assert [route["dest"] for route in peer_routes(network_plan(hosts)["h2"])][:2] == ["fd00:1::/126", "fd00:3::/64"]


def test_node_address6_from_the_first_global_address_of_the_uplink():
    hosts = dual()
    hosts["h3"]["ansible_facts"]["eth0"]["ipv6"].append({"address": "2001:db8:9::55", "prefix": "64",
                                                         "scope": "global"})
    part = network_plan(hosts)["h1"]
    assert part["preflight"]["peers"][1]["address6"] == "2001:db8:9::5"
    hosts["h3"]["crossnet_node_address6"] = "2001:DB8:9::0:77"
    assert network_plan(hosts)["h1"]["routes"][-1] == {"dest": "fd00:3::/64", "gateway": "2001:db8:9::77",
                                                       "dev": "eth0"}


def test_node_address6_of_an_explicit_uplink():
    hosts = dual()
    hosts["h1"]["crossnet_uplink"] = "br-lan"
    hosts["h1"]["ansible_facts"]["br_lan"] = {
        "device": "br-lan", "mtu": 1500, "ipv4": {"address": "192.168.9.3"},
        "ipv6": [{"address": "2001:db8:9::33", "prefix": "64", "scope": "global"}]}
    assert network_plan(hosts)["h1"]["preflight"]["node_address6"] == "2001:db8:9::33"


def test_masquerade6_off_and_on_alone():
    hosts = dual()
    assert network_plan(hosts, masquerade6=False)["h1"]["masquerade"]["sources"] == ["10.1.0.1/32"]
    assert network_plan(hosts, masquerade=False)["h1"]["masquerade"]["sources"] == ["fd00:1::1/128", "fd00:1::2/128"]
    assert network_plan(hosts, masquerade=False, masquerade6=False)["h1"]["masquerade"]["sources"] == []


def test_masquerade_exclude_with_ipv6():
    part = network_plan(dual(), masquerade_exclude=["fd00:1::/64", "2001:db8:ff::1", "10.0.0.0/8"])["h1"]
    assert part["masquerade"]["exclude"] == ["10.0.0.0/8", "2001:db8:ff::1/128", "fd00:1::/64", "fd00:2::/64",
                                             "fd00:3::/64"]


def test_custom_gateway6():
    part = network_plan(dual(), gateway6="FE80::0:ff")["h1"]
    assert [pair["gateway6"] for pair in part["veth_pairs"]] == ["fe80::ff", "fe80::ff"]


def test_routed_networks_and_the_host_network_options():
    plan = plan_network(dual())
    assert plan.routed_networks("h1") == ["10.1.0.1/32", "fd00:1::1/128", "fd00:1::2/128"]
    assert plan.routed_networks("h2") == ["10.2.0.0/24"]  # no IPv6 container: its IPv6 block is not routed
    assert plan.routed_networks("h3") == ["fd00:3::/64"]
    args = host_network_args(plan.part("h1"))
    assert set(args) == set(HOST_NETWORK_OPTIONS)
    assert args["accept_ra_interfaces"] == ["eth0"] and args["source_check_interfaces"] == ["vweb", "vsix"]
    assert "crossnet_node_address6" in HOST_VARIABLES


def test_the_summary_keeps_the_ipv6_preflight():
    part = summary(network_plan(dual()))["h1"]
    assert part["preflight"]["node_address6"] == "2001:db8:9::3"


def test_stored_parts_read_back_as_the_plans_options(tmp_path, monkeypatch):
    hosts = dual()
    hosts["h4"] = {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.6",  # no facts
                   "crossnet_containers": containers(("d", ["10.4.0.1", "fd00:4::1"]))}
    assert_stored_parts_read_back(hosts, tmp_path, monkeypatch)


@pytest.mark.parametrize("mode", ["vxlan", "cross_subnet"])
def test_stored_overlay_parts_read_back_as_the_plans_options(tmp_path, monkeypatch, mode):
    hosts = dual()
    for variables in hosts.values():
        variables.update(crossnet_encapsulation=mode, crossnet_vtep_cidr="10.255.0.0/24")
    hosts["h3"]["ansible_facts"] = facts6("192.168.8.5", "2001:db8:8::5")  # another subnet
    parts = assert_stored_parts_read_back(hosts, tmp_path, monkeypatch)
    assert any("address6" in peer for peer in parts["h2"]["vxlan"]["peers"])


def test_the_action_plugin_takes_gateway6_and_masquerade6():
    options = {"hosts": ["h1", "h2", "h3"], "gateway6": "fe80::9", "masquerade6": False}
    args = plan_part(dual(), "h1", options)
    assert [pair["gateway6"] for pair in args["veth_pairs"]] == ["fe80::9", "fe80::9"]
    assert args["masquerade_sources"] == ["10.1.0.1/32"]


def test_the_diagram_draws_ipv6():
    dot = render(plan_network(dual()))
    for text in ("fd00:1::1", "IPv6 node address 2001:db8:9::3", "fd00:3::/64", "via 2001:db8:9::5 dev eth0"):
        assert text in dot, text


# ---------------------------------------------------------------- a peer whose IPv6 next hop is unknown


def without_facts(hosts, name, **variables):
    hosts[name].pop("ansible_facts")
    hosts[name].update(variables)
    return hosts


def test_unresolved_peer_keeps_its_ipv6_networks_too():
    plans = network_plan(without_facts(dual(), "h3"))  # neither its node address nor its uplink
    assert plans["h1"]["routes_keep"] == ["fd00:3::/64"]
    assert [peer["host"] for peer in plans["h1"]["unresolved_peers"]] == ["h3"]
    assert all(route["dest"] != "fd00:3::/64" for route in plans["h1"]["routes"])
    plans = network_plan(without_facts(dual(), "h1"))
    assert plans["h2"]["routes_keep"] == ["10.1.0.1/32", "fd00:1::1/128", "fd00:1::2/128"]


def test_peer_known_over_ipv4_only_keeps_its_ipv6_routes():
    hosts = without_facts(dual(), "h3", crossnet_uplink="eth0", crossnet_node_address="192.168.9.5")
    plans = network_plan(hosts)  # no facts, no crossnet_node_address6: not an error
    part = plans["h1"]
    assert part["preflight"]["peers"][1] == {"host": "h3", "address": "192.168.9.5", "overlay": False, "address6": None}
    assert part["routes_keep"] == ["fd00:3::/64"]
    assert part["unresolved_peers"] == [{"host": "h3", "reason": UNRESOLVED6}]
    assert all(route["dest"] != "fd00:3::/64" for route in part["routes"])
    assert plans["h3"]["unresolved"] is None and plans["h3"]["preflight"]["node_address6"] is None
    assert "fd00:3::/64\\l  (IPv6 node address unknown)" in render(plan_network(hosts))
    hosts["h3"]["crossnet_node_address6"] = "2001:db8:9::5"
    assert network_plan(hosts)["h1"]["routes"][-1] == {"dest": "fd00:3::/64", "gateway": "2001:db8:9::5", "dev": "eth0"}


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("address, message", [
    ("fd00:1::1/64", "must be a single address (bare or /128), not a /64 network"),
    ("fd00:1::g", "is not a valid IPv6 address"),
    ("fd00:1::1%eth0", "is not a valid IPv6 address"),
    ("ff02::1", "is a multicast address"),
    ("fe80::5", "is a link-local address (fe80::/10)"),
    ("febf::5", "is a link-local address (fe80::/10)"),
    ("::1", "is a loopback address"),
    ("::", "is the unspecified address"),
    ("::ffff:10.0.0.1", "is an IPv4-mapped address"),
    ("224.0.0.5", "is a multicast address"),
    ("127.0.0.2", "is a loopback address"),
    ("0.0.0.0", "is the unspecified address"),
])
def test_unusable_container_address(address, message):
    hosts = dual()
    hosts["h1"]["crossnet_containers"][1]["addresses"] = [address]
    assert_one_error(hosts, "host h1: container 'six': address %r %s" % (address, message))


def test_ipv6_address_outside_its_hosts_ipv6_block():
    hosts = dual()
    hosts["h3"]["crossnet_containers"][0]["addresses"].append("fd00:4::1")
    assert_one_error(hosts, "host h3: container 'c': address fd00:4::1 is outside the host's crossnet_container_cidr "
                     "fd00:3::/64")


def test_ipv6_address_used_twice_across_hosts_however_written():
    hosts = dual()
    hosts["h3"]["crossnet_containers"].append({"name": "d", "addresses": ["FD00:3:0::1"]})
    assert_one_error(hosts, "host h3: container 'd': address fd00:3::1 is already used by host h3 container 'c'")
    hosts = dual()
    hosts["h2"]["crossnet_containers"].append({"name": "d", "addresses": ["fd00:1::2"]})
    assert_one_error(hosts, "host h2: container 'd': address fd00:1::2 is already used by host h1 container 'six'")


def test_ipv6_container_address_equal_to_a_node_address():
    hosts = dual()
    hosts["h1"]["crossnet_containers"][1]["addresses"] = ["2001:db8:9::4"]
    assert_one_error(hosts, "host h1: container 'six': address 2001:db8:9::4 is the node address of host h2")


def test_two_blocks_of_one_family():
    hosts = dual()
    hosts["h2"]["crossnet_container_cidr"] = ["10.2.0.0/24", "10.3.0.0/24"]
    assert_one_error(hosts, "host h2: crossnet_container_cidr has two IPv4 blocks, 10.2.0.0/24 and 10.3.0.0/24")
    hosts["h2"]["crossnet_container_cidr"] = ["fd00:2::/64", "10.2.0.0/24", "fd00:22::/64"]
    assert_one_error(hosts, "host h2: crossnet_container_cidr has two IPv6 blocks, fd00:2::/64 and fd00:22::/64")


@pytest.mark.parametrize("block, message", [
    ("fd00:3::1/64", "has host bits set (the network is fd00:3::/64)"),
    ("fd00:3::", "needs a prefix length (for example fd00:3::/64)"),
    ("fd00:3::/129", "has an invalid prefix length"),
    ("fd00:3::x/64", "is not a valid IPv6 address"),
])
def test_malformed_ipv6_block(block, message):
    hosts = dual()
    hosts["h3"]["crossnet_container_cidr"] = ["10.3.0.0/24", block]
    assert_one_error(hosts, "host h3: crossnet_container_cidr %r %s" % (block, message))


def test_ipv6_blocks_overlap_or_hold_what_is_not_theirs():
    hosts = dual()
    hosts["h2"]["crossnet_container_cidr"] = ["10.2.0.0/24", "fd00::/16"]
    errors = errors_of(hosts)
    assert ("host h2: crossnet_container_cidr fd00::/16 overlaps crossnet_container_cidr fd00:3::/64 of host h3"
            in errors)
    assert "host h2: crossnet_container_cidr fd00::/16 holds address fd00:1::1 of host h1 container 'web'" in errors
    hosts["h2"]["crossnet_container_cidr"] = ["10.2.0.0/24", "2001:db8:9::/64"]
    errors = errors_of(hosts)
    assert "host h2: crossnet_container_cidr 2001:db8:9::/64 holds the node address 2001:db8:9::3 of host h1" in errors
    hosts["h2"]["crossnet_container_cidr"] = ["10.2.0.0/24", "fe80::/64"]
    assert "host h2: crossnet_container_cidr fe80::/64 holds the containers' gateway fe80::1" in errors_of(hosts)


def test_node_address6_refused():
    hosts = dual()
    hosts["h2"]["crossnet_node_address6"] = "2001:db8:9::3"
    assert_one_error(hosts, "host h2: crossnet_node_address6 2001:db8:9::3 is also the IPv6 node address of host h1")
    hosts["h2"]["crossnet_node_address6"] = "fe80::4"
    assert_one_error(hosts, "host h2: crossnet_node_address6 'fe80::4' is a link-local address (fe80::/10)")
    hosts["h2"]["crossnet_node_address6"] = "ff05::4"
    assert_one_error(hosts, "host h2: crossnet_node_address6 'ff05::4' is a multicast address")
    hosts["h2"]["crossnet_node_address6"] = "192.168.9.4"
    assert_one_error(hosts, "host h2: crossnet_node_address6 '192.168.9.4' is not an IPv6 address")
    hosts = dual()
    hosts["h2"]["ansible_facts"]["eth0"]["ipv6"][1]["address"] = "2001:db8:9::3"
    assert_one_error(hosts, "host h2: IPv6 node address 2001:db8:9::3 (the facts of uplink eth0) is also the IPv6 "
                     "node address of host h1")


def test_ipv6_node_address_to_the_ipv4_variables_is_refused():
    hosts = dual()
    hosts["h2"]["crossnet_node_address"] = "2001:db8:9::4"
    assert_one_error(hosts, "host h2: crossnet_node_address '2001:db8:9::4' is IPv6: set it as crossnet_node_address6")
    assert_one_error(dual(), "crossnet_gateway 'fe80::1' is IPv6: set it as crossnet_gateway6", gateway="fe80::1")


def test_missing_node_address6_where_it_is_needed():
    hosts = dual()
    del hosts["h1"]["ansible_facts"]["eth0"]["ipv6"][1]
    del hosts["h2"]["ansible_facts"]["eth0"]["ipv6"]
    errors = errors_of(hosts)
    assert errors == [
        "host h1: has IPv6 containers but no IPv6 node address: set crossnet_node_address6 or give uplink eth0 a "
        "global IPv6 address",
        "host h2: peer h1 has IPv6 containers but host h2 has no IPv6 node address: set crossnet_node_address6 or "
        "give uplink eth0 a global IPv6 address",
    ]
    hosts["h1"]["crossnet_node_address6"] = "2001:db8:9::3"
    hosts["h2"]["crossnet_node_address6"] = "2001:db8:9::4"
    network_plan(hosts)


def test_no_node_address6_needed_without_ipv6_containers():
    hosts = dual()
    for variables in hosts.values():
        variables["ansible_facts"]["eth0"].pop("ipv6")
        variables.pop("crossnet_container_cidr", None)
    hosts["h1"]["crossnet_containers"] = containers(("web", ["10.1.0.1"]))
    hosts["h3"]["crossnet_containers"] = containers(("c", ["10.3.0.1"]))
    hosts["h2"]["crossnet_container_cidr"] = ["fd00:2::/64"]  # a block alone needs nothing
    assert network_plan(hosts)["h1"]["preflight"]["node_address6"] is None


@pytest.mark.parametrize("gateway6, message", [
    ("2001:db8::1", "is not link-local (fe80::/10)"),
    ("169.254.1.1", "is not an IPv6 address"),
    ("fe80::1/64", "must be a single address"),
    ("fe80::zz", "is not a valid IPv6 address"),
])
def test_gateway6_refused(gateway6, message):
    assert_one_error(dual(), "crossnet_gateway6 %r %s" % (gateway6, message), gateway6=gateway6)


def test_masquerade_exclude_refuses_bad_ipv6():
    assert_one_error(dual(), "crossnet_masquerade_exclude: 'fd00::1/64' has host bits set",
                     masquerade_exclude=["fd00::1/64"])


def overlay_routes6(part):
    return [route for route in part["routes"] if route.get("dev") == "crossnet-vxlan" and ":" in route["dest"]]


@pytest.mark.parametrize("mode", ["vxlan", "cross_subnet"])
def test_ipv6_containers_cross_the_overlay_via_the_peer_device_link_local_address(mode):
    hosts = dual()
    for variables in hosts.values():
        variables["crossnet_encapsulation"] = mode
        variables["crossnet_vtep_cidr"] = "10.255.0.0/24"
    hosts["h3"]["ansible_facts"] = facts6("192.168.8.5", "2001:db8:8::5")  # another subnet
    plans = network_plan(hosts)
    tunnels = {host: {peer["host"]: peer for peer in part["vxlan"]["peers"]} for host, part in plans.items()}
    h3 = tunnels["h1"]["h3"]
    # the EUI-64 link-local address of h3's device, whose MAC comes from its VTEP address
    b = [int(part, 16) for part in h3["mac"].split(":")]
    assert h3["address6"] == "fe80::%x:%x:%x:%x" % ((b[0] ^ 2) << 8 | b[1], b[2] << 8 | 0xff, 0xfe00 | b[3],
                                                    b[4] << 8 | b[5])
    assert {"dest": "fd00:3::/64", "gateway": h3["address6"], "dev": "crossnet-vxlan"} in overlay_routes6(plans["h1"])
    assert "address6" not in tunnels["h3"]["h2"]  # h2 has no IPv6 containers: no IPv6 route toward it
    if mode == "vxlan":  # every peer through the overlay
        assert [r["dest"] for r in overlay_routes6(plans["h2"])] == ["fd00:1::1/128", "fd00:1::2/128", "fd00:3::/64"]
        assert not [r for r in plans["h2"]["routes"] if r.get("dev") == "eth0"]
    else:  # h1 and h2 are on-link: IPv6 between them goes via the IPv6 node addresses
        assert {"dest": "fd00:1::1/128", "gateway": "2001:db8:9::3", "dev": "eth0"} in plans["h2"]["routes"]
        assert [r["dest"] for r in overlay_routes6(plans["h2"])] == ["fd00:3::/64"]


def test_hosts_that_reach_every_peer_through_the_overlay_need_no_ipv6_node_address():
    hosts = dual()
    for variables in hosts.values():
        variables["ansible_facts"] = facts6(variables["ansible_facts"]["eth0"]["ipv4"]["address"])  # no global IPv6
        variables.update(crossnet_encapsulation="vxlan", crossnet_vtep_cidr="10.255.0.0/24")
    plans = network_plan(hosts)
    assert all(part["preflight"]["node_address6"] is None for part in plans.values())
    hosts["h2"]["crossnet_encapsulation"] = hosts["h1"]["crossnet_encapsulation"] = "cross_subnet"
    del hosts["h3"]  # h1 and h2, on one subnet, then reach each other directly: over IPv6 too
    errors = errors_of(hosts)
    assert any("host h1: has IPv6 containers but no IPv6 node address" in error for error in errors), errors


def test_overlay_between_ipv4_only_hosts_is_fine_in_a_dual_stack_inventory():
    """h2 and h4 (IPv4 only) reach each other through the overlay; h1 (IPv6 containers) is on-link
    with both (its uplink has an address in each subnet, h4's one in h1's)."""
    def secondary(variables, address):
        variables["ansible_facts"]["eth0"]["ipv4_secondaries"] = [{"address": address, "netmask": "255.255.255.0"}]

    hosts = dual()
    del hosts["h3"]
    hosts["h4"] = {"ansible_facts": facts6("192.168.8.6", "2001:db8:9::6"),
                   "crossnet_containers": containers(("d", ["10.4.0.1"]))}
    secondary(hosts["h1"], "192.168.8.3")
    secondary(hosts["h4"], "192.168.9.6")
    for variables in hosts.values():
        variables.update(crossnet_encapsulation="cross_subnet", crossnet_vtep_cidr="10.255.0.0/24")
    plans = network_plan(hosts)
    assert [peer["overlay"] for peer in plans["h2"]["preflight"]["peers"]] == [False, True]
    assert plans["h4"]["preflight"]["peers"] == [
        {"host": "h1", "address": "192.168.9.3", "overlay": False, "address6": "2001:db8:9::3"},
        {"host": "h2", "address": "192.168.9.4", "overlay": True, "address6": None}]
    assert {"dest": "fd00:1::2/128", "gateway": "2001:db8:9::3", "dev": "eth0"} in plans["h4"]["routes"]


# ---------------------------------------------------------------- the early preflight


EXPLICIT = {
    "h1": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.3", "crossnet_node_address6": "2001:db8:9::3",
           "crossnet_containers": containers(("web", ["10.1.0.1", "fd00:1::1"]))},
    "h2": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.4", "crossnet_node_address6": "2001:DB8:9::4",
           "crossnet_containers": containers(("c", ["10.2.0.1"]))},
    "h3": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.5", "crossnet_node_address6": "2001:db8:9::5",
           "crossnet_containers": containers(("c", ["fd00:3::1"]))},
}


def with_facts(hosts):
    out = copy.deepcopy(hosts)
    for variables in out.values():
        variables["ansible_facts"] = facts6(variables["crossnet_node_address"], "2001:db8:9::ff")
    return out


def test_explicit_preflight_is_what_the_plan_says():
    plan = network_plan(with_facts(EXPLICIT))
    for name in EXPLICIT:
        assert explicit_preflight(EXPLICIT, name) == plan[name]["preflight"], name
    assert explicit_preflight(EXPLICIT, "h1")["peers"] == [
        {"host": "h2", "address": "192.168.9.4", "overlay": False, "address6": None},
        {"host": "h3", "address": "192.168.9.5", "overlay": False, "address6": "2001:db8:9::5"}]
    assert explicit_preflight(EXPLICIT, "h2")["node_address6"] == "2001:db8:9::4"


def test_explicit_preflight_from_the_node_addresses_read_once():
    addresses = node_addresses(EXPLICIT, list(EXPLICIT))
    assert addresses["h2"] == {"address": "192.168.9.4", "address6": "2001:db8:9::4", "ipv6": False}
    for name in EXPLICIT:
        assert preflight_input(EXPLICIT, list(EXPLICIT), name, node_addresses=addresses) == \
            dict(explicit_preflight(EXPLICIT, name), host=name)
        assert preflight_input({name: EXPLICIT[name]}, list(EXPLICIT), name, node_addresses=addresses) is not None


@pytest.mark.parametrize("change", [
    lambda hosts: hosts["h2"].pop("crossnet_node_address6"),  # its facts would say
    lambda hosts: hosts["h2"].update(crossnet_node_address6="fe80::4"),
    lambda hosts: hosts["h2"].update(crossnet_node_address6="nope"),
    lambda hosts: hosts["h2"].update(crossnet_encapsulation="vxlan"),  # the plan refuses it
    lambda hosts: hosts["h2"].update(crossnet_containers="not a list"),
])
def test_no_explicit_preflight_when_the_inventory_does_not_decide_it(change):
    hosts = copy.deepcopy(EXPLICIT)
    change(hosts)
    assert all(explicit_preflight(hosts, name) is None for name in hosts)
    assert node_addresses(hosts, list(hosts)) is None


def test_explicit_preflight_of_an_ipv4_inventory_ignores_crossnet_node_address6():
    hosts = copy.deepcopy(EXPLICIT)
    hosts["h1"]["crossnet_containers"] = containers(("web", ["10.1.0.1"]))
    hosts["h3"]["crossnet_containers"] = containers(("c", ["10.3.0.1"]))
    del hosts["h2"]["crossnet_node_address6"]
    plan = network_plan(with_facts(hosts))
    for name in hosts:
        assert explicit_preflight(hosts, name) == plan[name]["preflight"], name
        assert plan[name]["preflight"]["node_address6"] is None
    assert node_addresses(hosts, list(hosts)) == {"h1": "192.168.9.3", "h2": "192.168.9.4", "h3": "192.168.9.5"}
