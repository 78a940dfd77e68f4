# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_network's action plugin with ``plan``: this host's module options, planned from hostvars
on the controller, are exactly its part of the whole plan; bad input fails before the module."""

from __future__ import annotations

import pytest

from test_plan import facts, network_plan, seed  # also makes the collection importable

from ansible_collections.crossnet.routed.plugins.action.host_network import plan_part  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import HOST_NETWORK_OPTIONS  # noqa: E402


def hostvars():
    hosts = seed()
    hosts["host1"]["crossnet_containers"].append({"name": "web", "addresses": ["11.12.11.7", "11.12.11.8"]})
    hosts["host3"] = {"ansible_facts": facts("192.168.9.5"), "crossnet_containers": [],
                      "unrelated": "never read"}
    return hosts


@pytest.mark.parametrize("host", ["host1", "host2", "host3"])
def test_the_options_are_this_hosts_part_of_the_plan(host):
    options = {"hosts": ["host1", "host2", "host3"], "gateway": "169.254.1.1", "masquerade": True,
               "masquerade_exclude": ["10.99.0.0/16"]}
    part = network_plan(hostvars(), masquerade_exclude=["10.99.0.0/16"])[host]
    args = plan_part(hostvars(), host, options)
    assert set(args) == set(HOST_NETWORK_OPTIONS)
    assert args["namespaces"] == part["namespaces"]
    assert args["veth_pairs"] == part["veth_pairs"]
    assert args["routes"] == part["routes"]
    assert args["routes_keep"] == part["routes_keep"]
    assert args["proxy_arp_interfaces"] == part["proxy_arp_interfaces"]
    assert args["container_networks"] == part["forwarding"]["container_networks"]
    assert args["masquerade_sources"] == part["masquerade"]["sources"]
    assert args["masquerade_exclude"] == part["masquerade"]["exclude"]
    assert "10.99.0.0/16" in args["masquerade_exclude"]


def test_without_masquerade_no_sources():
    args = plan_part(hostvars(), "host1", {"hosts": ["host1", "host2"], "masquerade": False})
    assert args["masquerade_sources"] == []
    assert args["namespaces"] == ["container0", "web"]


@pytest.mark.parametrize("options, message", [
    ({"hosts": ["host1", "host2"], "gatway": "169.254.1.1"}, "plan: unknown keys gatway"),
    ({"hosts": "host1"}, "plan.hosts must be a list of inventory hostnames"),
    ({"hosts": ["host2"]}, "host1 is not in plan.hosts"),
    ({"hosts": ["host1", "nohost"]}, "plan.hosts: host nohost is not in the inventory"),
    ({"hosts": ["host1", "host2"], "gateway": "169.254.1"}, "the crossnet inventory is not valid (1 problems)"),
])
def test_bad_options_fail_before_the_module(options, message):
    with pytest.raises(ValueError) as caught:
        plan_part(hostvars(), "host1", options)
    assert message in str(caught.value)


def test_a_problem_on_another_host_fails_this_one_too():
    variables = hostvars()
    variables["host2"]["crossnet_containers"].append({"name": "dup", "addresses": ["11.12.11.7"]})
    with pytest.raises(ValueError, match="(?s)not valid .*address 11.12.11.7 is already used"):
        plan_part(variables, "host1", {"hosts": ["host1", "host2"]})


def test_a_host_without_a_node_address_is_not_applied():
    variables = hostvars()
    del variables["host1"]["ansible_facts"]
    with pytest.raises(ValueError, match="host1: crossnet_uplink is not set and the host has no facts"):
        plan_part(variables, "host1", {"hosts": ["host1", "host2"]})


# ------------------------------------------------- the part stored by the network_plan filter
def stored_plan(tmp_path, monkeypatch, store_hosts):
    from ansible import constants as C
    from ansible_collections.crossnet.routed.plugins.filter.network_plan import network_plan as plan_filter
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    return plan_filter(hostvars(), ["host1", "host2", "host3"], store=store_hosts)


def test_a_stored_part_is_the_same_as_one_planned_here(tmp_path, monkeypatch):
    result = stored_plan(tmp_path, monkeypatch, ["host1", "host3"])
    assert sorted(result["summary"]) == ["host1", "host3"]
    assert result["stats"]["hosts"] == 3 and result["stats"]["containers"] == 3
    for host in ("host1", "host3"):
        assert plan_part(None, host, {"store": result["store"]}) == plan_part(
            hostvars(), host, {"hosts": ["host1", "host2", "host3"]})


@pytest.mark.parametrize("plan, message", [
    ({"store": "STORE", "hosts": ["host1"]}, "plan.store and plan.hosts are mutually exclusive"),
    ({"store": "/tmp"}, "is not a directory the network_plan filter wrote"),
])
def test_a_bad_store_fails_before_the_module(tmp_path, monkeypatch, plan, message):
    result = stored_plan(tmp_path, monkeypatch, ["host1"])
    plan = {key: result["store"] if value == "STORE" else value for key, value in plan.items()}
    with pytest.raises(ValueError, match=message):
        plan_part(None, "host1", plan)


def test_a_host_whose_part_was_not_stored_is_told_to_plan_again(tmp_path, monkeypatch):
    result = stored_plan(tmp_path, monkeypatch, ["host1"])
    with pytest.raises(ValueError, match="holds no plan for host2: the plan belongs to another run"):
        plan_part(None, "host2", {"store": result["store"]})
