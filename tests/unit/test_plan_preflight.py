# -*- coding: utf-8 -*-
# Copyright: crossnet.routed contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""explicit_preflight: the plan's preflight of a host, known before the facts, or None."""

from __future__ import annotations

import copy

from test_plan import facts  # importing test_plan also makes the collection importable

from ansible_collections.crossnet.routed.plugins.filter.node_addresses import node_addresses  # noqa: E402
from ansible_collections.crossnet.routed.plugins.filter.preflight_input import preflight_input  # noqa: E402
from ansible_collections.crossnet.routed.plugins.plugin_utils.plan import (  # noqa: E402
    explicit_preflight,
    network_plan,
)

HOSTS = {
    "host1": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.3",
              "crossnet_containers": [{"name": "c1", "addresses": ["10.1.0.1"]}]},
    "host2": {"crossnet_uplink": "eth1", "crossnet_node_address": "192.168.9.4/32",
              "crossnet_containers": [{"name": "c2", "addresses": ["10.2.0.1"]}]},
    "host3": {"crossnet_uplink": "eth0", "crossnet_node_address": "192.168.9.5", "crossnet_containers": []},
}


def with_facts(hosts):
    out = copy.deepcopy(hosts)
    for variables in out.values():
        uplink = variables["crossnet_uplink"]
        variables["ansible_facts"] = facts(variables["crossnet_node_address"].split("/")[0], interface=uplink)
    return out


def test_equals_what_the_plan_says_for_every_host():
    plan = network_plan(with_facts(HOSTS))
    for name in HOSTS:
        assert explicit_preflight(HOSTS, name) == plan[name]["preflight"], name
    assert explicit_preflight(HOSTS, "host2")["node_address"] == "192.168.9.4"


def test_none_when_the_inventory_does_not_decide_it():
    no_uplink = copy.deepcopy(HOSTS)
    del no_uplink["host1"]["crossnet_uplink"]
    assert explicit_preflight(no_uplink, "host1") is None
    assert explicit_preflight(no_uplink, "host2") is not None  # host2's own uplink is given

    peer_from_facts = copy.deepcopy(HOSTS)
    del peer_from_facts["host3"]["crossnet_node_address"]
    assert all(explicit_preflight(peer_from_facts, name) is None for name in HOSTS)

    bad = copy.deepcopy(HOSTS)
    bad["host2"]["crossnet_node_address"] = "192.168.9.0/24"
    assert explicit_preflight(bad, "host1") is None  # the planner reports it; no early check


class CountingHostvars(dict):
    """hostvars that count whose variables were read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reads = []

    def __getitem__(self, name):
        self.reads.append(name)
        return super().__getitem__(name)


def test_the_node_addresses_read_once_give_every_host_the_same_input():
    hosts = list(HOSTS)
    addresses = node_addresses(HOSTS, hosts)
    assert addresses == {"host1": "192.168.9.3", "host2": "192.168.9.4", "host3": "192.168.9.5"}
    assert list(addresses) == hosts  # the plan's order of peers
    for name in hosts:
        hostvars = CountingHostvars(HOSTS)
        assert preflight_input(hostvars, hosts, name, node_addresses=addresses) == preflight_input(HOSTS, hosts, name)
        assert preflight_input(HOSTS, hosts, name) == dict(explicit_preflight(HOSTS, name), host=name)
        # Linear per run: with the addresses given, a host's input reads only its own variables.
        assert hostvars.reads == [name]


def test_no_node_addresses_means_no_early_preflight():
    peer_from_facts = copy.deepcopy(HOSTS)
    del peer_from_facts["host3"]["crossnet_node_address"]
    assert node_addresses(peer_from_facts, list(HOSTS)) is None
    assert node_addresses(HOSTS, list(HOSTS) + ["host9"]) is None  # a host without hostvars
    assert preflight_input(HOSTS, list(HOSTS), "host1", node_addresses=None) is None
    assert preflight_input(HOSTS, list(HOSTS), "host9", node_addresses={"host1": "192.168.9.3"}) is None
