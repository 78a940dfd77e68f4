# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner with a host that has no facts (unreachable when the play started): not bad input.

Its node address comes from crossnet_node_address, or else from its ansible_host when that is
an IPv4 address in the other host's uplink network; when neither gives one, the other hosts keep
the routes toward its containers as they are (routes_keep) instead of adding or purging them."""

from __future__ import annotations

import pytest

from test_plan import PlanError, errors_of, facts, network_plan, seed

BLOCK2 = "12.11.12.0/24"


def unreachable(hosts, name="host2", **variables):
    """``name`` lost its facts, as hostvars show a host that was unreachable at gather time."""
    hosts[name].pop("ansible_facts")
    hosts[name]["crossnet_uplink"] = "eth0"
    hosts[name].update(variables)
    return hosts


def routes_to(plan, dest):
    return [route for route in plan["routes"] if route["dest"] == dest]


def test_ansible_host_in_the_uplink_network_is_the_next_hop():
    plans = network_plan(unreachable(seed(), ansible_host="192.168.9.4"))
    assert routes_to(plans["host1"], "12.11.12.3/32") == [
        {"dest": "12.11.12.3/32", "gateway": "192.168.9.4", "dev": "eth0"}]
    assert plans["host1"]["preflight"]["peers"] == [{"host": "host2", "address": "192.168.9.4", "overlay": False,
                                                     "address6": None}]
    assert plans["host1"]["routes_keep"] == [] and plans["host1"]["unresolved_peers"] == []


def test_a_host_without_facts_never_plans_itself_from_a_guess():
    plan = network_plan(unreachable(seed(), ansible_host="192.168.9.4"))["host2"]
    assert "crossnet_node_address is not set" in plan["unresolved"]


def test_unknown_next_hop_keeps_the_routes_toward_the_peer():
    plans = network_plan(unreachable(seed(), ansible_host="host2.example.net"))
    plan = plans["host1"]
    assert routes_to(plan, "12.11.12.3/32") == []
    assert plan["routes_keep"] == ["12.11.12.3/32"]
    assert [peer["host"] for peer in plan["unresolved_peers"]] == ["host2"]
    assert "no facts" in plan["unresolved_peers"][0]["reason"]
    assert plan["preflight"]["peers"] == []
    # Still part of the container network: never NATed toward it.
    assert "12.11.12.3/32" in plan["masquerade"]["exclude"]


def test_a_peer_with_a_block_keeps_the_block():
    hosts = unreachable(seed())
    hosts["host2"]["crossnet_container_cidr"] = BLOCK2
    assert network_plan(hosts)["host1"]["routes_keep"] == [BLOCK2]


def test_ansible_host_outside_the_uplink_network_is_not_trusted():
    plan = network_plan(unreachable(seed(), ansible_host="10.200.0.4"))["host1"]
    assert plan["routes_keep"] == ["12.11.12.3/32"]
    assert "10.200.0.4 is not in a network of host1's uplink eth0" in plan["unresolved_peers"][0]["reason"]


def test_ansible_host_in_a_secondary_uplink_network_is_trusted():
    hosts = unreachable(seed(), ansible_host="10.200.0.4")
    hosts["host1"]["ansible_facts"]["eth0"]["ipv4_secondaries"] = [
        {"address": "10.200.0.3", "netmask": "255.255.255.0"}]
    assert routes_to(network_plan(hosts)["host1"], "12.11.12.3/32")[0]["gateway"] == "10.200.0.4"


@pytest.mark.parametrize("clash, expected", [
    ("192.168.9.3", "also used by host1"),             # another host's node address
    ("11.12.11.121", "container 'container0'"),        # a container address
    ("169.254.1.1", "gateway"),
])
def test_ansible_host_that_collides_is_not_a_next_hop(clash, expected):
    hosts = unreachable(seed(), ansible_host=clash)
    if clash == "169.254.1.1":
        hosts["host1"]["ansible_facts"]["eth0"]["ipv4_secondaries"] = [
            {"address": "169.254.1.9", "netmask": "255.255.0.0"}]
    plan = network_plan(hosts)["host1"]
    assert routes_to(plan, "12.11.12.3/32") == []
    assert expected in plan["unresolved_peers"][0]["reason"]


def test_two_hosts_behind_one_ansible_host_are_both_unresolved():
    hosts = seed()
    hosts["host3"] = {"ansible_facts": facts("192.168.9.5"),
                      "crossnet_containers": [{"name": "c3", "addresses": ["13.0.0.1"]}]}
    unreachable(hosts, "host2", ansible_host="192.168.9.9")
    unreachable(hosts, "host3", ansible_host="192.168.9.9")
    plan = network_plan(hosts)["host1"]
    assert sorted(plan["routes_keep"]) == ["12.11.12.3/32", "13.0.0.1/32"]
    assert all("ansible_host of" in peer["reason"] for peer in plan["unresolved_peers"])


def test_node_address_given_needs_no_facts():
    plans = network_plan(unreachable(seed(), crossnet_node_address="192.168.9.4"))
    assert routes_to(plans["host1"], "12.11.12.3/32")[0]["gateway"] == "192.168.9.4"
    assert plans["host2"]["unresolved"] is None


def test_a_host_without_facts_or_uplink_is_unresolved_but_reachable_through_its_address():
    hosts = unreachable(seed(), crossnet_node_address="192.168.9.4")
    del hosts["host2"]["crossnet_uplink"]
    plans = network_plan(hosts)
    assert "crossnet_uplink is not set" in plans["host2"]["unresolved"]
    assert routes_to(plans["host1"], "12.11.12.3/32")[0]["gateway"] == "192.168.9.4"


def test_bad_input_on_a_host_without_facts_still_stops_everything():
    hosts = unreachable(seed(), ansible_host="192.168.9.4")
    hosts["host2"]["crossnet_containers"] = [{"name": "c2", "addresses": ["11.12.11.121"]}]
    errors = errors_of(hosts)
    assert any("host host2" in e and "11.12.11.121" in e and "host1" in e for e in errors)


def test_facts_without_an_address_on_the_uplink_are_still_an_error():
    hosts = seed()
    hosts["host2"]["ansible_facts"]["eth0"].pop("ipv4")
    hosts["host2"]["ansible_host"] = "192.168.9.4"
    with pytest.raises(PlanError, match="host host2: crossnet_node_address is not set"):
        network_plan(hosts)
